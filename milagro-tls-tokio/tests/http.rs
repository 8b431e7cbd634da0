//! The hyper / tower adapters (feature `hyper`) over real loopback sockets:
//! hyper-util's legacy `Client` on [`MilagroHttpsConnector`] against
//! [`serve_connection`], CS and P2P; typed errors through the client's
//! error; the pool reuses one Milagro connection; standard clients on the
//! same listener get no identity.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use milagro_tls::MilagroError;
use milagro_tls::dta::Combine;
use milagro_tls::guard::Guard;
use milagro_tls::keys::{
    Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey, epoch_of,
};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use milagro_tls::suite::Suite;
use milagro_tls_tokio::http::{
    ALPN_H2, ALPN_HTTP11, HttpsConnectError, MilagroHttpsConnector, PeerAddr, ServerPeer,
};
use milagro_tls_tokio::{AuthenticatedIdentity, ConnectError, MilagroConnector, TlsAcceptor};
use tokio::net::TcpListener;
use tokio::time::timeout;

mod common;
use common::{LIMIT, PIN, cs_alpn, id, open_policy, start};

const EPOCH_SECS: u32 = 3600;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A CS deployment of one D-TA: the server acceptor and alice's connector
/// (with `pin`).
fn cs(pin: &str) -> (TlsAcceptor, MilagroConnector) {
    cs_alpn(pin, &[], &[])
}

/// A P2P deployment of one D-TA: the server `localhost` (its identity is
/// the URI's host) and bob's connector for any server identity.
fn p2p() -> (TlsAcceptor, MilagroConnector) {
    let dep = P2pDeployment::new(1, EPOCH_SECS, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap();
    let server_key = |e| {
        P2pServerKey::combine(&[dta.issue_p2p_server_key(&id("localhost"), e).unwrap()]).unwrap()
    };
    let e = epoch_of(now(), EPOCH_SECS);
    let server = p2p_tls::server(
        server_key(e),
        p2p_tls::ServerOptions::new()
            .previous_key(server_key(e - 1))
            .guard(Guard::in_memory(open_policy())),
    )
    .unwrap();
    let ce = epoch_of(now() - 30, EPOCH_SECS);
    let client: P2pClientKey = P2pClientKey::combine(&[dta
        .issue_p2p_client_key(&id("bob@example.com"), ce)
        .unwrap()])
    .unwrap();
    (TlsAcceptor::new(server), MilagroConnector::p2p(client))
}

/// Answers `hello <identity>, <suite> from <ip>` when the request carries
/// the identity, `401` when it does not.
#[derive(Clone)]
struct Hello;

impl tower_service::Service<Request<Incoming>> for Hello {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let ip = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        let response = match req.extensions().get::<AuthenticatedIdentity>() {
            Some(who) => Response::new(Full::from(format!(
                "hello {}, {} from {}",
                who.identity(),
                who.suite(),
                ip.map(|i| i.to_string()).unwrap_or_default()
            ))),
            None => {
                let mut r = Response::new(Full::from("no identity"));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                r
            }
        };
        ready(Ok(response))
    }
}

type MilagroClient = Client<MilagroHttpsConnector, Empty<Bytes>>;

fn client(connector: MilagroConnector) -> MilagroClient {
    Client::builder(TokioExecutor::new()).build(MilagroHttpsConnector::new(connector))
}

async fn get(client: &MilagroClient, uri: &str) -> (StatusCode, Option<ServerPeer>, String) {
    let resp = timeout(LIMIT, client.get(uri.parse::<Uri>().unwrap()))
        .await
        .expect("in time")
        .expect("response");
    let status = resp.status();
    let peer = resp.extensions().get::<ServerPeer>().cloned();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, peer, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_get_through_hyper_util_client_reuses_one_connection() {
    let (acceptor, connector) = cs(PIN);
    let (addr, handshakes) = start(acceptor, Hello).await;
    let client = client(connector);
    let uri = format!("https://localhost:{}/", addr.port());
    for _ in 0..3 {
        let (status, peer, body) = get(&client, &uri).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "hello alice@example.com, CS from 127.0.0.1");
        let peer = peer.expect("the server peer in the response's extensions");
        assert_eq!(peer.suite(), Suite::Cs);
    }
    // The pool kept the first Milagro connection for the next requests.
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_chooses_http2_or_http11_and_the_identity_is_there_in_both() {
    let both: &[&[u8]] = &[ALPN_H2, ALPN_HTTP11];
    for (server, version) in [
        (both, hyper::Version::HTTP_2),
        (&[ALPN_HTTP11][..], hyper::Version::HTTP_11),
    ] {
        let (acceptor, connector) = cs_alpn(PIN, server, both);
        let (addr, handshakes) = start(acceptor, Hello).await;
        let client = client(connector);
        let uri: Uri = format!("https://localhost:{}/", addr.port())
            .parse()
            .unwrap();
        for _ in 0..2 {
            let resp = timeout(LIMIT, client.get(uri.clone()))
                .await
                .expect("in time")
                .expect("response");
            assert_eq!(resp.version(), version);
            assert_eq!(resp.status(), StatusCode::OK);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"hello alice@example.com, CS from 127.0.0.1");
        }
        assert_eq!(handshakes.load(Ordering::SeqCst), 1, "{version:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_get_through_hyper_util_client_authenticates_both_sides() {
    let (acceptor, connector) = p2p();
    let (addr, handshakes) = start(acceptor, Hello).await;
    let client = client(connector);
    let (status, peer, body) = get(&client, &format!("https://localhost:{}/", addr.port())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "hello bob@example.com, P2P from 127.0.0.1");
    let peer = peer.unwrap();
    assert_eq!(peer.identity(), &id("localhost"));
    assert_eq!(peer.suite(), Suite::P2p);
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
}

/// The typed error under hyper-util's error, found by walking `source()`.
fn connect_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a HttpsConnectError> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<HttpsConnectError>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_is_credential_refused_through_the_client_error() {
    let (acceptor, connector) = cs("9999");
    let (addr, handshakes) = start(acceptor, Hello).await;
    let client = client(connector);
    let uri: Uri = format!("https://localhost:{}/", addr.port())
        .parse()
        .unwrap();
    let err = timeout(LIMIT, client.get(uri))
        .await
        .unwrap()
        .expect_err("refused");
    assert!(err.is_connect());
    match connect_error(&err) {
        Some(HttpsConnectError::Handshake(ConnectError::Milagro(
            MilagroError::CredentialRefused,
        ))) => {}
        other => panic!("expected CredentialRefused, got {other:?} from {err:?}"),
    }
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_before_connecting() {
    let (_acceptor, connector) = cs(PIN);
    let client = client(connector);
    // Nothing listens on this port: a TCP attempt would fail differently.
    let err = timeout(LIMIT, client.get(Uri::from_static("http://127.0.0.1:9/")))
        .await
        .unwrap()
        .expect_err("refused");
    assert!(matches!(
        connect_error(&err),
        Some(HttpsConnectError::NotHttps)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_client_on_the_same_listener_gets_no_identity() {
    let (acceptor, _connector) = cs(PIN);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let standard = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    let acceptor = acceptor.with_standard(Arc::new(standard)).unwrap();
    let (addr, handshakes) = start(acceptor, Hello).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let std_client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(std_client))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    // A header claiming an identity changes nothing: identities come only
    // from the handshake.
    let req = Request::get("/")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = timeout(LIMIT, sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"no identity");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
}

/// tokio-rustls's shapes: `?` turns the connector's and acceptor's errors
/// into `io::Error`, with the typed error still inside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_convert_to_io_errors_keeping_the_typed_error() {
    use milagro_tls_tokio::TlsAcceptError;

    let (acceptor, connector) = cs("9999");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        async fn accept(a: &TlsAcceptor, tcp: tokio::net::TcpStream) -> std::io::Result<()> {
            a.accept_io(tcp).await?;
            Ok(())
        }
        accept(&acceptor, tcp).await
    });
    async fn connect(c: &MilagroConnector, addr: SocketAddr) -> std::io::Result<()> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        c.connect("localhost", tcp).await?;
        Ok(())
    }
    let client_err = timeout(LIMIT, connect(&connector, addr))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        client_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<ConnectError>()),
        Some(ConnectError::Milagro(MilagroError::CredentialRefused))
    ));
    let server_err = timeout(LIMIT, server).await.unwrap().unwrap().unwrap_err();
    assert_eq!(server_err.kind(), std::io::ErrorKind::InvalidData);
    assert!(matches!(
        server_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<TlsAcceptError>()),
        Some(TlsAcceptError::Accept(_))
    ));
}
