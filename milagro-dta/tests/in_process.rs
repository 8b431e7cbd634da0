//! The D-TA service and client in one process, on loopback sockets: the
//! refusal codes and limits, and the background renewer swapping a P2P
//! connector at an epoch boundary (a manual clock shared by the D-TAs and
//! the renewer) without dropping an established connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use milagro_dta::api::{CreateEnrolment, ErrorCode, RenewRequest};
use milagro_dta::client::tls_config;
use milagro_dta::enrol::enrol_all;
use milagro_dta::renewer::{Renewer, Swap};
use milagro_dta::server::{Limits, serve};
use milagro_dta::service::{Dta, OperatorTokens, owner};
use milagro_dta::store::{Store, token_hash};
use milagro_dta::{Client, Clock, Renewed, Trust};
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsDeployment, Deployment, MasterShare, P2pDeployment, P2pServerKey, PermitPolicy, epoch_of,
};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use milagro_tls_tokio::{AcceptedStream, MilagroConnector, TlsAcceptor};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const OPERATOR: &str = "operator-token-for-tests";

struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Tls {
    _dir: tempfile::TempDir,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn tls() -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let client = tls_config(&Trust::CaFile(dir.path().join("ca.pem"))).unwrap();
    Tls {
        _dir: dir,
        server: Arc::new(server),
        client,
    }
}

async fn start(master: MasterShare, clock: Arc<dyn Clock>, limits: Limits, tls: &Tls) -> Client {
    let store = Store::in_memory(&owner(&master)).unwrap();
    let dta = Arc::new(Dta::new(
        master,
        store,
        clock,
        OperatorTokens::Hashes(vec![token_hash(OPERATOR)]),
        3_600,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, tls.server.clone(), dta, limits));
    Client::new(&format!("https://{addr}"), tls.client.clone()).unwrap()
}

fn code<T>(r: Result<T, milagro_dta::ClientError>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<u32>) -> u32 {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the renewer installs a key within 30 s")
        .expect("the renewer is running")
}

fn roomy() -> Limits {
    let mut limits = Limits::default();
    limits.rate_per_sec = 1_000.0;
    limits.rate_burst = 1_000.0;
    limits
}

#[tokio::test]
async fn refusals_have_codes_and_limits_hold() {
    let tls = tls();
    let dep = Deployment::Cs(CsDeployment::new(1, PermitPolicy::Required, &OsEntropy).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(milagro_dta::SystemClock);
    let dta = start(
        MasterShare::generate(dep, &OsEntropy).unwrap(),
        clock.clone(),
        roomy(),
        &tls,
    )
    .await;

    let req = |id: &str| CreateEnrolment {
        identity: id.to_owned(),
        role: None,
        ttl_seconds: None,
    };
    assert_eq!(
        code(dta.create_enrolment("wrong", &req("a@example.com")).await),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        code(dta.list_enrolments("").await),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        code(dta.create_enrolment(OPERATOR, &req("a b")).await),
        Some(ErrorCode::IdentityInvalid)
    );
    let huge = "x".repeat(20 * 1024) + "@example.com";
    assert_eq!(
        code(dta.create_enrolment(OPERATOR, &req(&huge)).await),
        Some(ErrorCode::BodyTooLarge)
    );
    let p2p_role = CreateEnrolment {
        role: Some(milagro_dta::api::Role::P2pServer),
        ..req("a@example.com")
    };
    assert_eq!(
        code(dta.create_enrolment(OPERATOR, &p2p_role).await),
        Some(ErrorCode::WrongKind)
    );
    assert_eq!(
        code(dta.enrol(&"00".repeat(32)).await),
        Some(ErrorCode::TicketUnknown)
    );
    assert_eq!(
        code(dta.renew(&"00".repeat(32), &RenewRequest::default()).await),
        Some(ErrorCode::CredentialUnknown)
    );
    // A genuine enrolment, then a renewal two days ahead is refused.
    let t = dta
        .create_enrolment(OPERATOR, &req("a@example.com"))
        .await
        .unwrap();
    let e = dta.enrol(&t.ticket).await.unwrap();
    assert!(e.permit.is_some());
    assert_eq!(
        code(dta.enrol(&t.ticket).await),
        Some(ErrorCode::TicketUsed)
    );
    let short = CreateEnrolment {
        ttl_seconds: Some(1),
        ..req("b@example.com")
    };
    let t2 = dta.create_enrolment(OPERATOR, &short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        code(dta.enrol(&t2.ticket).await),
        Some(ErrorCode::TicketExpired)
    );
    let today = (clock.now() / 86_400) as u32;
    let far = RenewRequest {
        day: Some(today + 2),
        epoch: None,
    };
    assert_eq!(
        code(dta.renew(&e.renewal_credential, &far).await),
        Some(ErrorCode::DayOutOfRange)
    );
    let tomorrow = RenewRequest {
        day: Some(today + 1),
        epoch: None,
    };
    assert!(dta.renew(&e.renewal_credential, &tomorrow).await.is_ok());
    // A revoked identity gets no permit and cannot be enrolled again.
    dta.revoke(
        OPERATOR,
        &milagro_dta::api::RevokeRequest {
            identity: "a@example.com".into(),
            reason: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        code(dta.renew(&e.renewal_credential, &tomorrow).await),
        Some(ErrorCode::Revoked)
    );
    assert_eq!(
        code(dta.create_enrolment(OPERATOR, &req("a@example.com")).await),
        Some(ErrorCode::Revoked)
    );
    // Nothing secret in the audit log.
    let audit = dta.audit(OPERATOR, 0).await.unwrap();
    let text = serde_json::to_string(&audit).unwrap();
    assert!(
        !text.contains(&t.ticket)
            && !text.contains(&e.renewal_credential)
            && !text.contains(OPERATOR)
    );

    // Per-source rate limit: a burst of 3, (almost) no refill.
    let mut limited = Limits::default();
    limited.rate_per_sec = 0.001;
    limited.rate_burst = 3.0;
    let dep2 = Deployment::Cs(CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap());
    let slow = start(
        MasterShare::generate(dep2, &OsEntropy).unwrap(),
        clock,
        limited,
        &tls,
    )
    .await;
    for _ in 0..3 {
        slow.info().await.unwrap();
    }
    assert_eq!(code(slow.info().await), Some(ErrorCode::RateLimited));
}

/// Echoes lines on every connection accepted by `acceptor`.
async fn echo_server(acceptor: TlsAcceptor) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(AcceptedStream::Milagro(_, tls)) = acceptor.accept_tcp(tcp).await {
                    let (r, mut w) = tokio::io::split(tls);
                    let mut lines = BufReader::new(r).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if w.write_all(format!("{line}\n").as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewer_swaps_the_epoch_key_without_dropping_connections() {
    let tls = tls();
    let now = unix_now();
    // An epoch length that puts the real clock mid-epoch.
    let l = (3_600..4_000u32)
        .find(|l| {
            (now % u64::from(*l)) > u64::from(*l) / 4
                && (now % u64::from(*l)) < u64::from(*l) * 3 / 4
        })
        .unwrap();
    let dep = Deployment::P2p(P2pDeployment::new(2, l, &OsEntropy).unwrap());
    let masters: Vec<MasterShare> = (0..2)
        .map(|_| MasterShare::generate(dep, &OsEntropy).unwrap())
        .collect();
    let epoch = epoch_of(now, l);
    // The server's key for the real epoch, combined here from both D-TAs.
    let server_id = Identity::new("echo.example").unwrap();
    let shares: Vec<_> = masters
        .iter()
        .map(|m| m.issue_p2p_server_key(&server_id, epoch).unwrap())
        .collect();
    let server_key = P2pServerKey::combine(&shares).unwrap();
    let addr = echo_server(TlsAcceptor::new(
        p2p_tls::server(server_key, p2p_tls::ServerOptions::new()).unwrap(),
    ))
    .await;

    let clock = Arc::new(ManualClock(AtomicU64::new(now)));
    let mut clients = Vec::new();
    for m in masters {
        clients.push(start(m, clock.clone(), roomy(), &tls).await);
    }
    let mut pairs = Vec::new();
    for c in &clients {
        let req = CreateEnrolment {
            identity: "bob@example.com".into(),
            role: None,
            ttl_seconds: None,
        };
        pairs.push((
            c.clone(),
            c.create_enrolment(OPERATOR, &req).await.unwrap().ticket,
        ));
    }
    let enrolled = enrol_all(&pairs).await.unwrap();
    let milagro_dta::EnrolledKey::P2pClient(first) = enrolled.key else {
        panic!("a P2P client enrolment")
    };
    let swap = Swap::new(MilagroConnector::p2p(first));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let slot = swap.clone();
    let renewer = Renewer::new(enrolled.credentials, clients)
        .with_clock(clock.clone())
        .with_lead(60)
        .with_retry(Duration::from_millis(200));
    let task = tokio::spawn(renewer.run(move |renewed| {
        if let Renewed::P2pClient(k) = renewed {
            let _ = tx.send(k.epoch());
            slot.set(MilagroConnector::p2p(k));
        }
    }));
    assert_eq!(
        next(&mut rx).await,
        epoch,
        "the current epoch's key is installed at start"
    );

    // A connection made with the current key.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls_stream = swap.get().connect("echo.example", tcp).await.unwrap();
    let (r, mut w) = tokio::io::split(tls_stream);
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"before\n").await.unwrap();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("before"));

    // The D-TAs' and the renewer's clock reach the next epoch's boundary:
    // the renewer fetches ahead, then installs at the boundary.
    let boundary = u64::from(epoch + 1) * u64::from(l);
    clock.0.store(boundary - 30, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing is installed before the boundary"
    );
    clock.0.store(boundary + 1, Ordering::SeqCst);
    assert_eq!(next(&mut rx).await, epoch + 1);

    // The established connection is untouched.
    w.write_all(b"after\n").await.unwrap();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("after"));
    // New connections use the new key: for the real clock it is an epoch
    // ahead, so the client refuses to use it.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(swap.get().connect("echo.example", tcp).await.is_err());
    task.abort();
}
