//! `https-server` / `https-client` in-process over loopback (127.0.0.1):
//! keys issued by 1–3 D-TAs, the server on port 0 in a task, every request
//! bounded in time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::{StatusCode, Uri};
use hyper_util::rt::TokioIo;
use milagro_examples::https::cli::{CliError, ClientArgs, ServerArgs, build_server, run_client};
use milagro_examples::https::{
    HttpsError, HttpsServer, MilagroHttpsClient, UNAUTHENTICATED_BODY, serve_connection,
};
use milagro_tls::MilagroError;
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, P2pClientKey,
    P2pDeployment, P2pServerKey, PermitPolicy, epoch_of,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use milagro_tls_tokio::{ConnectError, TlsAcceptor};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::time::timeout;
use zeroize::Zeroizing;

/// No terminal: a client without `--pin` must not wait for one.
struct NoTerminal;

impl milagro_examples::keytool::PinPrompt for NoTerminal {
    fn is_interactive(&self) -> bool {
        false
    }
    fn prompt(
        &self,
        _message: &str,
    ) -> Result<Zeroizing<String>, milagro_examples::keytool::KeyToolError> {
        Err(milagro_examples::keytool::KeyToolError::NoTerminal)
    }
}

const LIMIT: Duration = Duration::from_secs(30);
const PIN: &str = "1234";
const EPOCH_SECS: u32 = 3600;

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn write(dir: &Path, name: &str, key: &impl KeyFile) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.to_pem().unwrap().as_bytes()).unwrap();
    path
}

/// A CS deployment of two D-TAs (no permits): the combined server secret
/// and alice's token (PIN 1234, 4 digits) written to `dir`.
fn cs_files(dir: &Path) -> (PathBuf, PathBuf) {
    let dep = CsDeployment::new(2, PermitPolicy::Off, &OsEntropy).unwrap();
    let dtas: Vec<MasterShare> = (0..2)
        .map(|_| MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap())
        .collect();
    let ss = CsServerSecret::combine(
        &dtas
            .iter()
            .map(|d| d.issue_cs_server_secret().unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let alice = id("alice@example.com");
    let cs = CsClientSecret::combine(
        &dtas
            .iter()
            .map(|d| d.issue_cs_client_secret(&alice).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let token = extract_pin(&cs, &Pin::parse(PIN, PinDigits::new(4).unwrap()).unwrap()).unwrap();
    (
        write(dir, "server.pem", &ss),
        write(dir, "alice.token", &token),
    )
}

/// A P2P deployment of three D-TAs.
struct P2p {
    dtas: Vec<MasterShare>,
}

impl P2p {
    fn new() -> Self {
        let dep = P2pDeployment::new(3, EPOCH_SECS, &OsEntropy).unwrap();
        Self {
            dtas: (0..3)
                .map(|_| MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap())
                .collect(),
        }
    }
    fn server_key(&self, who: &str, epoch: u32) -> P2pServerKey {
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_p2p_server_key(&id(who), epoch).unwrap())
            .collect();
        P2pServerKey::combine(&shares).unwrap()
    }
    fn client_key(&self, who: &str) -> P2pClientKey {
        // The epoch the client uses: in an epoch's first seconds a key for
        // epoch_of(now) is refused by it.
        let e = p2p_tls::client_epoch(now(), EPOCH_SECS);
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_p2p_client_key(&id(who), e).unwrap())
            .collect();
        P2pClientKey::combine(&shares).unwrap()
    }
    fn server(&self, who: &str) -> HttpsServer {
        let e = epoch_of(now(), EPOCH_SECS);
        let sync = p2p_tls::server(
            self.server_key(who, e),
            p2p_tls::ServerOptions::new().previous_key(self.server_key(who, e - 1)),
        )
        .unwrap();
        HttpsServer::new(TlsAcceptor::new(sync))
    }
}

/// Runs `server` on 127.0.0.1:0 in a task; returns its address.
async fn start(server: HttpsServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { server.serve(listener).await });
    addr
}

fn uri(s: &str) -> Uri {
    s.parse().unwrap()
}

fn client_args(addr: SocketAddr, token: &Path, pin: &str) -> ClientArgs {
    ClientArgs::parse_from([
        "https-client",
        "--url",
        "https://service.example/",
        "--connect",
        &addr.to_string(),
        "--token",
        token.to_str().unwrap(),
        "--pin",
        pin,
        "--pin-digits",
        "4",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_request_reaches_the_handler_with_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (ss, token) = cs_files(dir.path());
    let server = build_server(&ServerArgs::parse_from([
        "https-server",
        "--listen",
        "127.0.0.1:0",
        "--cs-server-secret",
        ss.to_str().unwrap(),
        "--pin-digits",
        "4",
    ]))
    .unwrap();
    let addr = start(server).await;

    let (status, body) = timeout(
        LIMIT,
        run_client(&client_args(addr, &token, PIN), &NoTerminal),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "hello alice@example.com, CS");

    // A wrong PIN: the server refuses the key share; the client says so.
    let err = timeout(
        LIMIT,
        run_client(&client_args(addr, &token, "1243"), &NoTerminal),
    )
    .await
    .unwrap()
    .unwrap_err();
    match &err {
        CliError::Https(e) => {
            assert!(e.is_credential_refused(), "{e:?}");
            assert!(
                matches!(
                    e,
                    HttpsError::Tls(ConnectError::Milagro(MilagroError::CredentialRefused))
                ),
                "{e:?}"
            );
        }
        other => panic!("expected a refused credential, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_request_reaches_the_handler_with_the_client_identity() {
    let p2p = P2p::new();
    let addr = start(p2p.server("server.example")).await;
    let client = MilagroHttpsClient::p2p(p2p.client_key("bob@example.com")).connect_to(addr);
    for path in [
        "https://server.example/",
        "https://Server.Example:8443/any/path?q=1",
    ] {
        let (status, body) = timeout(LIMIT, client.get(&uri(path)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, "hello bob@example.com, P2P", "{path}");
    }

    // Pinned to the same identity: same answer.
    let pinned =
        MilagroHttpsClient::p2p_pinned(p2p.client_key("bob@example.com"), id("server.example"))
            .unwrap()
            .connect_to(addr);
    let (status, body) = timeout(LIMIT, pinned.get(&uri("https://server.example/")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "hello bob@example.com, P2P")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_host_other_than_the_pinned_identity_sends_nothing() {
    let p2p = P2p::new();
    // A bare TCP listener recording every byte a client sends.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        tcp.read_to_end(&mut got).await.unwrap();
        got
    });
    let client =
        MilagroHttpsClient::p2p_pinned(p2p.client_key("bob@example.com"), id("server.example"))
            .unwrap()
            .connect_to(addr);
    let err = timeout(LIMIT, client.get(&uri("https://other.example/")))
        .await
        .unwrap()
        .unwrap_err();
    match &err {
        HttpsError::Tls(ConnectError::Milagro(MilagroError::ServerNameMismatch {
            expected,
            got,
        })) => {
            assert_eq!(expected.as_str(), "server.example");
            assert_eq!(got, "other.example");
        }
        other => panic!("expected ServerNameMismatch, got {other:?}"),
    }
    let bytes = timeout(LIMIT, received).await.unwrap().unwrap();
    assert!(bytes.is_empty(), "the client sent {} bytes", bytes.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_unpinned_host_is_the_identity_so_another_server_refuses() {
    // The unpinned client takes the URI host as ID_A: asking server.example's
    // listener for other.example cannot complete a handshake.
    let p2p = P2p::new();
    let addr = start(p2p.server("server.example")).await;
    let client = MilagroHttpsClient::p2p(p2p.client_key("bob@example.com")).connect_to(addr);
    let err = timeout(LIMIT, client.get(&uri("https://other.example/")))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, HttpsError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn a_non_https_url_is_refused_before_connecting() {
    let p2p = P2p::new();
    let client = MilagroHttpsClient::p2p(p2p.client_key("bob@example.com"));
    for bad in ["http://server.example/", "/relative"] {
        let err = client.get(&uri(bad)).await.unwrap_err();
        assert!(
            matches!(err, HttpsError::InvalidUri { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_standard_connection_gets_401_and_no_greeting() {
    let (server_io, client_io) = tokio::io::duplex(4096);
    let served = tokio::spawn(serve_connection(server_io, None));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::get("/")
        .header("host", "server.example")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = timeout(LIMIT, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], UNAUTHENTICATED_BODY.as_bytes());
    drop(sender);
    timeout(LIMIT, served).await.unwrap().unwrap().unwrap();
}

/// hyper-util's pooled `Client` over `MilagroHttpsConnector` against the
/// axum `https-server`: CS (from the key files) and P2P, the server's
/// identity in the response's extensions, the pool reusing the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_util_client_gets_from_the_server_over_cs_and_p2p() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use milagro_tls::keys::CsToken;
    use milagro_tls::suite::Suite;
    use milagro_tls_tokio::MilagroConnector;
    use milagro_tls_tokio::http::{MilagroHttpsConnector, ServerPeer};

    async fn get_twice(connector: MilagroConnector, url: &str) -> (Vec<String>, ServerPeer) {
        let client = Client::builder(TokioExecutor::new())
            .build::<_, Empty<Bytes>>(MilagroHttpsConnector::new(connector));
        let mut bodies = Vec::new();
        let mut peer = None;
        for _ in 0..2 {
            let resp = timeout(LIMIT, client.get(uri(url))).await.unwrap().unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            peer = resp.extensions().get::<ServerPeer>().cloned();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            bodies.push(String::from_utf8(body.to_vec()).unwrap());
        }
        (
            bodies,
            peer.expect("the server in the response's extensions"),
        )
    }

    let dir = tempfile::tempdir().unwrap();
    let (ss, token) = cs_files(dir.path());
    let server = build_server(&ServerArgs::parse_from([
        "https-server",
        "--listen",
        "127.0.0.1:0",
        "--cs-server-secret",
        ss.to_str().unwrap(),
        "--pin-digits",
        "4",
    ]))
    .unwrap();
    let addr = start(server).await;
    let token = CsToken::from_pem(&std::fs::read_to_string(&token).unwrap()).unwrap();
    let pin = Pin::parse(PIN, PinDigits::new(4).unwrap()).unwrap();
    let cs = MilagroConnector::new(milagro_tls::cs_tls::client(token, pin, None).unwrap());
    let (bodies, peer) = get_twice(cs, &format!("https://localhost:{}/", addr.port())).await;
    assert_eq!(bodies, ["hello alice@example.com, CS"; 2]);
    assert_eq!(peer.suite(), Suite::Cs);

    let p2p = P2p::new();
    let addr = start(p2p.server("localhost")).await;
    let connector = MilagroConnector::p2p(p2p.client_key("bob@example.com"));
    let (bodies, peer) =
        get_twice(connector, &format!("https://localhost:{}/x", addr.port())).await;
    assert_eq!(bodies, ["hello bob@example.com, P2P"; 2]);
    assert_eq!(
        (peer.identity(), peer.suite()),
        (&id("localhost"), Suite::P2p)
    );
}
