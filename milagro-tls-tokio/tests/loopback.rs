//! The async acceptor and connector over real loopback sockets (127.0.0.0/8),
//! bounded in count and time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use milagro_tls::Classifier;
use milagro_tls::KxError;
use milagro_tls::MilagroClient;
use milagro_tls::MilagroError;
use milagro_tls::cs_tls;
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy, Refusal};
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, P2pClientKey,
    P2pDeployment, P2pServerKey, PermitPolicy, epoch_of,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use milagro_tls::suite::Suite;
use milagro_tls::tls::{ClientHelloRecorder, Progress};
use milagro_tls::{AcceptError, AdmissionRefusal};
use milagro_tls_tokio::{
    AcceptedStream, AcceptorLimits, ConnectError, MilagroConnector, TlsAcceptError, TlsAcceptor,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

const PIN: &str = "1234";

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

fn digits() -> PinDigits {
    PinDigits::new(4).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Cs {
    dta: MasterShare,
}

impl Cs {
    fn new() -> Self {
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        Self {
            dta: MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap(),
        }
    }
    fn client(&self, who: &str, pin: &str) -> MilagroClient {
        let cs =
            CsClientSecret::combine(&[self.dta.issue_cs_client_secret(&id(who)).unwrap()]).unwrap();
        let token = extract_pin(&cs, &Pin::parse(PIN, digits()).unwrap()).unwrap();
        cs_tls::client(token, Pin::parse(pin, digits()).unwrap(), None).unwrap()
    }
    fn server(&self, policy: GuardPolicy) -> milagro_tls::MilagroAcceptor {
        let ss = CsServerSecret::combine(&[self.dta.issue_cs_server_secret().unwrap()]).unwrap();
        cs_tls::server(
            ss,
            cs_tls::ServerOptions::new(Guard::in_memory(policy), Classifier::new(1).unwrap())
                .pin_digits(digits()),
        )
        .unwrap()
    }
}

fn open_policy() -> GuardPolicy {
    let mut p = GuardPolicy::default();
    p.throttle.burst = 10_000;
    p.throttle.refill_per_sec = 10_000;
    p
}

const EPOCH_SECS: u32 = 3600;

struct P2p {
    dta: MasterShare,
}

impl P2p {
    fn new() -> Self {
        let dep = P2pDeployment::new(1, EPOCH_SECS, &OsEntropy).unwrap();
        Self {
            dta: MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap(),
        }
    }
    fn server_key(&self, who: &str, epoch: u32) -> P2pServerKey {
        P2pServerKey::combine(&[self.dta.issue_p2p_server_key(&id(who), epoch).unwrap()]).unwrap()
    }
    fn client_key(&self, who: &str) -> P2pClientKey {
        let e = epoch_of(now() - 30, EPOCH_SECS);
        P2pClientKey::combine(&[self.dta.issue_p2p_client_key(&id(who), e).unwrap()]).unwrap()
    }
    fn server(&self, who: &str) -> milagro_tls::MilagroAcceptor {
        let e = epoch_of(now(), EPOCH_SECS);
        p2p_tls::server(
            self.server_key(who, e),
            p2p_tls::ServerOptions::new()
                .previous_key(self.server_key(who, e - 1))
                .guard(Guard::in_memory(open_policy())),
        )
        .unwrap()
    }
}

type Outcome = Result<AcceptedStream<TcpStream>, TlsAcceptError>;

/// A listener on 127.0.0.1 accepting every connection in its own task: a
/// Milagro connection echoes what it reads; every outcome (the identity, or
/// the error) is reported on the channel.
async fn serve(
    acceptor: TlsAcceptor,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Result<String, TlsAcceptError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let out: Outcome = acceptor.accept_tcp(tcp).await;
                match out {
                    Ok(AcceptedStream::Milagro(who, tls)) => {
                        let _ = tx.send(Ok(who.identity().as_str().to_owned()));
                        echo(tls).await;
                    }
                    Ok(AcceptedStream::Standard(tls)) => {
                        let _ = tx.send(Ok("<standard>".to_owned()));
                        echo(tls).await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        }
    });
    (addr, rx)
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).await.unwrap();
    back
}

async fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
    sock.connect(addr).await.unwrap()
}

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_with_both_suites() {
    let cs = Cs::new();
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server(open_policy()))).await;
    let client = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = timeout(LIMIT, client.connect("service.example", tcp))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(round_trip(&mut tls, b"cs echo").await, b"cs echo");
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");

    let p2p = P2p::new();
    let (addr, mut rx) = serve(TlsAcceptor::new(p2p.server("server.example"))).await;
    let client = MilagroConnector::p2p(p2p.client_key("bob@example.com"));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = timeout(LIMIT, client.connect("Server.Example", tcp))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tls.server_identity(), &id("server.example"));
    assert_eq!(round_trip(&mut tls, b"p2p echo").await, b"p2p echo");
    assert_eq!(rx.recv().await.unwrap().unwrap(), "bob@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_cs_clients_all_succeed() {
    let cs = Cs::new();
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server(open_policy()))).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = MilagroConnector::new(cs.client(&format!("user{i}@example.com"), PIN));
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut tls = client.connect("service.example", tcp).await.unwrap();
            let msg = format!("hello {i}");
            assert_eq!(round_trip(&mut tls, msg.as_bytes()).await, msg.as_bytes());
        }));
    }
    timeout(Duration::from_secs(60), async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await
    .unwrap();
    let mut who = Vec::new();
    for _ in 0..50 {
        who.push(rx.recv().await.unwrap().unwrap());
    }
    who.sort();
    let mut expected: Vec<_> = (0..50).map(|i| format!("user{i}@example.com")).collect();
    expected.sort();
    assert_eq!(who, expected);
}

/// The ClientHello bytes a sync client would send, and where its key share
/// sits in them.
fn hello_bytes(client: &MilagroClient) -> (Vec<u8>, usize) {
    let mut conn = client.connect("service.example").unwrap();
    let mut bytes = Vec::new();
    conn.write_tls(&mut bytes).unwrap();
    let mut rec = ClientHelloRecorder::new();
    let Ok(Progress::Complete(hello)) = rec.feed(&bytes) else {
        panic!("incomplete hello")
    };
    let share = hello.key_shares()[0].key_exchange().to_vec();
    assert_eq!(share.len(), 300);
    let at = bytes.windows(300).position(|w| w == &share[..]).unwrap();
    (bytes, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bogus_hellos_neither_starves_sessions_nor_stops_a_client() {
    let cs = Cs::new();
    let stranger = Cs::new();
    let mut limits = AcceptorLimits::default();
    limits.max_concurrent_handshakes = 64;
    limits.handshake_timeout = Duration::from_secs(10);
    limits.blocking_threads = 2;
    let acceptor = TlsAcceptor::new(cs.server(GuardPolicy::default())).with_limits(limits);
    let (addr, mut rx) = serve(acceptor.clone()).await;
    // An established session before the flood.
    let alice = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let mut session = alice
        .connect("service.example", TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
    // Bogus hellos for Mallory's HID: a stranger deployment's (valid DLEQ,
    // failed proof) and one with a garbage U (decode / DLEQ failure).
    let (stranger_hello, _) = hello_bytes(&stranger.client("mallory@example.com", PIN));
    let (mut garbage_hello, at) = hello_bytes(&cs.client("mallory@example.com", PIN));
    // U and X (equal, as permits are off) replaced by bytes that are no point.
    for b in &mut garbage_hello[at + 44..at + 140] {
        *b = 0x5a;
    }
    let hellos = Arc::new([stranger_hello, garbage_hello]);
    let mut flood = Vec::new();
    for task in 0..50u8 {
        let hellos = hellos.clone();
        flood.push(tokio::spawn(async move {
            let mut refused = 0;
            for k in 0..4usize {
                let mut tcp = connect_from(Ipv4Addr::new(127, 0, 1, task + 1), addr).await;
                tcp.write_all(&hellos[k % 2]).await.unwrap();
                let mut reply = Vec::new();
                let _ = timeout(Duration::from_secs(15), tcp.read_to_end(&mut reply)).await;
                // An alert record (21) and never a ServerHello (22).
                if reply.first() == Some(&21) {
                    refused += 1;
                }
            }
            refused
        }));
    }
    // Meanwhile: the session keeps echoing and Bob logs in.
    for i in 0..5 {
        let msg = format!("during flood {i}");
        let back = timeout(
            Duration::from_secs(2),
            round_trip(&mut session, msg.as_bytes()),
        )
        .await
        .expect("an established session starved by the flood");
        assert_eq!(back, msg.as_bytes());
    }
    let bob = MilagroConnector::new(cs.client("bob@example.com", PIN));
    let tls = timeout(
        Duration::from_secs(10),
        bob.connect("service.example", TcpStream::connect(addr).await.unwrap()),
    )
    .await
    .expect("legitimate client timed out during the flood");
    assert!(tls.is_ok(), "{:?}", tls.err());
    let mut refused = 0;
    for t in flood {
        refused += timeout(LIMIT, t).await.unwrap().unwrap();
    }
    assert_eq!(refused, 200);
    let (mut ok, mut err, mut kx) = (Vec::new(), 0, 0);
    for _ in 0..201 {
        match timeout(LIMIT, rx.recv()).await.unwrap().unwrap() {
            Ok(who) => ok.push(who),
            Err(e) => {
                err += 1;
                if matches!(
                    e,
                    TlsAcceptError::Accept(
                        AcceptError::KeyExchange(_) | AcceptError::SilentlyRefused(_)
                    )
                ) {
                    kx += 1;
                }
            }
        }
    }
    assert_eq!(ok, vec!["bob@example.com".to_owned()]);
    assert_eq!(err, 200);
    // Every source's first attempt reached the key exchange (decoding or
    // pairing work on the blocking pool, or the silent per-identity refusal's
    // forced failure); the throttle refused the rest cheaply.
    assert!(kx >= 50, "{kx}");
    // Finished handshakes hold no slot (the sessions live on).
    assert_eq!(acceptor.available_handshake_slots(), 64);
    assert_eq!(acceptor.available_blocking_slots(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_time_out_and_free_their_slot() {
    let cs = Cs::new();
    let mut limits = AcceptorLimits::default();
    limits.max_concurrent_handshakes = 1;
    limits.handshake_timeout = Duration::from_millis(400);
    limits.blocking_threads = 1;
    let acceptor = TlsAcceptor::new(cs.server(open_policy())).with_limits(limits);
    let (hello, _) = hello_bytes(&cs.client("alice@example.com", PIN));
    for sent in [0usize, hello.len() / 2] {
        let (addr, mut rx) = serve(acceptor.clone()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&hello[..sent]).await.unwrap();
        let started = std::time::Instant::now();
        let out = timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(out, Err(TlsAcceptError::Timeout)), "{out:?}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(acceptor.available_handshake_slots(), 1);
        // The one slot is free again: a real client gets it.
        let client = MilagroConnector::new(cs.client("alice@example.com", PIN));
        let tls = client
            .connect("service.example", TcpStream::connect(addr).await.unwrap())
            .await;
        assert!(tls.is_ok(), "{:?}", tls.err());
        drop(tcp);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_and_milagro_clients_share_a_listener() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        cert.signing_key.serialize_der(),
    ));
    let standard = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let cs = Cs::new();
    let acceptor = TlsAcceptor::new(cs.server(open_policy()))
        .with_standard(Arc::new(standard))
        .unwrap();
    let (addr, mut rx) = serve(acceptor).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let std_client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(std_client));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    assert_eq!(round_trip(&mut tls, b"standard").await, b"standard");
    assert_eq!(rx.recv().await.unwrap().unwrap(), "<standard>");

    let client = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let mut tls = client
        .connect("localhost", TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    assert_eq!(round_trip(&mut tls, b"milagro").await, b"milagro");
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_p2p_identities_on_one_listener_chosen_by_sni() {
    let p2p = P2p::new();
    let acceptor = TlsAcceptor::p2p([p2p.server("a.example"), p2p.server("b.example")]).unwrap();
    let (addr, mut rx) = serve(acceptor).await;
    let bob = MilagroConnector::p2p(p2p.client_key("bob@example.com"));
    for name in ["a.example", "b.example", "A.EXAMPLE."] {
        let mut tls = bob
            .connect(name, TcpStream::connect(addr).await.unwrap())
            .await
            .unwrap();
        assert_eq!(tls.server_identity(), &id(name));
        assert_eq!(round_trip(&mut tls, name.as_bytes()).await, name.as_bytes());
        assert_eq!(rx.recv().await.unwrap().unwrap(), "bob@example.com");
    }
    assert_eq!(bob.cached_configs(), 2);
    // An identity this listener does not hold: refused in plaintext.
    let err = bob
        .connect("c.example", TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::Milagro(MilagroError::GroupNotSupported { suite: Suite::P2p })
        ),
        "{err:?}"
    );
    assert!(matches!(
        rx.recv().await.unwrap(),
        Err(TlsAcceptError::UnknownServerName)
    ));
    // A name that is no identity fails before anything is sent.
    let err = bob
        .connect(
            "not an identity\u{0}",
            TcpStream::connect(addr).await.unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::Milagro(MilagroError::InvalidServerName(_))
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_over_the_socket_is_credential_refused() {
    let cs = Cs::new();
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server(open_policy()))).await;
    let client = MilagroConnector::new(cs.client("alice@example.com", "1299"));
    let err = client
        .connect("service.example", TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectError::Milagro(MilagroError::CredentialRefused)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Milagro credential refused (PIN, permit, lockout or clock)"
    );
    assert!(matches!(
        rx.recv().await.unwrap(),
        Err(TlsAcceptError::Accept(AcceptError::KeyExchange(
            KxError::ProofFailed
        )))
    ));
    // A throttled source is refused in plaintext, before any key exchange.
    let mut strict = GuardPolicy::default();
    strict.throttle.burst = 1;
    strict.throttle.refill_per_sec = 1;
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server(strict))).await;
    let client = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let mut refused = None;
    for _ in 0..3 {
        let r = client
            .connect("service.example", TcpStream::connect(addr).await.unwrap())
            .await;
        let server = rx.recv().await.unwrap();
        if let Err(e) = r {
            assert!(
                matches!(
                    server,
                    Err(TlsAcceptError::Accept(AcceptError::Admission(
                        AdmissionRefusal::Guard(Refusal::Throttled)
                    )))
                ),
                "{server:?}"
            );
            refused = Some(e);
            break;
        }
    }
    assert!(
        matches!(
            refused,
            // Throttling is per source: "try again later", not a refused
            // credential and not an unsupported group (issue 9 item 11).
            Some(ConnectError::Milagro(MilagroError::ServerBusy))
        ),
        "{refused:?}"
    );
}
