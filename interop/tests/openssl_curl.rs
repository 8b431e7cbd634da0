//! milagro-tls against TLS implementations this project did not write: the
//! OpenSSL command-line tool (`openssl s_client`, `openssl s_server`) and
//! curl, as Debian ships them (`.ci/run` installs them if missing).
//!
//! Everything runs on loopback (127.0.0.1, ephemeral ports). The listener is
//! [`milagro_interop::echo::EchoServer`]: milagro-tls's synchronous accept
//! path serving standard and Milagro clients on one socket (docs/protocol.md §8.4.3).
//! Standard clients trust a CA made here with rcgen (`-CAfile` /
//! `--cacert`); every child process is bounded by a timeout and killed when
//! its test ends. Without the tools the tests are skipped with a message,
//! except in CI (`CI=true`), where that is a failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use milagro_interop::echo::{EchoServer, Report, ServeError, Session};
use milagro_interop::external::{Running, Tool, require_tool};
use milagro_tls::Classifier;
use milagro_tls::MilagroClient;
use milagro_tls::MilagroError;
use milagro_tls::adapter::map_client_error_for;
use milagro_tls::cs_tls::{self, ServerOptions};
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::pairing::OsEntropy;
use milagro_tls::suite::Suite;
use milagro_tls::{AcceptError, AcceptRefusal, MilagroAcceptor};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{AlertDescription, ProtocolVersion, ServerConfig};

const ALICE: &str = "alice@example.com";
/// Every outside process gets at most this long.
const PROCESS_LIMIT: Duration = Duration::from_secs(30);
/// How long a test waits for the server's report of one connection.
const REPORT_LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- fixtures

/// A CA and a leaf for `localhost` / 127.0.0.1 signed by it, written as PEM
/// files into a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    leaf_der: CertificateDer<'static>,
    leaf_key_der: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "milagro-tls interop test CA");
        let ca_cert = CertifiedIssuer::self_signed(ca, ca_key).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert).unwrap();

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("leaf.pem"), leaf_cert.pem()).unwrap();
        std::fs::write(dir.path().join("leaf.key"), leaf_key.serialize_pem()).unwrap();
        Self {
            dir,
            leaf_der: leaf_cert.der().clone(),
            leaf_key_der: leaf_key.serialize_der(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// A standard rustls TLS 1.3 server configuration (ring's default
    /// groups, none of them Milagro) with the leaf certificate.
    fn standard_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.leaf_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key_der.clone())),
            )
            .unwrap();
        Arc::new(config)
    }
}

/// A one-D-TA CS deployment without time permits, 4-digit PINs.
struct Cs {
    dta: MasterShare,
}

impl Cs {
    fn new() -> Self {
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
        Self { dta }
    }

    fn digits() -> PinDigits {
        PinDigits::new(4).unwrap()
    }

    fn server_secret(&self) -> CsServerSecret {
        CsServerSecret::combine(&[self.dta.issue_cs_server_secret().unwrap()]).unwrap()
    }

    /// A Milagro-only acceptor (default guard policy).
    fn acceptor(&self) -> MilagroAcceptor {
        let options = ServerOptions::new(
            Guard::in_memory(GuardPolicy::default()),
            Classifier::new(1).unwrap(),
        )
        .pin_digits(Self::digits());
        cs_tls::server(self.server_secret(), options).unwrap()
    }

    fn client(&self, who: &str) -> MilagroClient {
        let id = Identity::new(who).unwrap();
        let secret =
            CsClientSecret::combine(&[self.dta.issue_cs_client_secret(&id).unwrap()]).unwrap();
        let token = extract_pin(&secret, &Pin::parse("2468", Self::digits()).unwrap()).unwrap();
        cs_tls::client(token, Pin::parse("2468", Self::digits()).unwrap(), None).unwrap()
    }
}

/// A value unlikely to appear by accident in any output.
fn nonce(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{tag}-{}-{nanos:x}", std::process::id())
}

fn openssl(test: &str) -> Option<Tool> {
    require_tool("openssl", &["version"], test)
}

fn curl(test: &str) -> Option<Tool> {
    require_tool("curl", &["--version"], test)
}

fn report(server: &EchoServer) -> Report {
    server
        .next_report(REPORT_LIMIT)
        .expect("the echo server reported no connection in time")
}

/// A Milagro client over TCP to `addr`: full handshake, `finish`, one line
/// sent, the whole answer read up to the server's close_notify.
fn milagro_exchange(client: &MilagroClient, addr: SocketAddr, line: &str) -> (Identity, Vec<u8>) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut conn = client.connect("localhost").unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    let server_identity = client.finish(&conn).unwrap();
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    stream.write_all(line.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    (server_identity, answer)
}

/// Checks that the listener still serves a Milagro CS client after whatever
/// came before, and that the server established the client's identity.
fn assert_milagro_client_served(cs: &Cs, server: &EchoServer) {
    let line = format!("{}\n", nonce("milagro"));
    let (server_identity, answer) = milagro_exchange(&cs.client(ALICE), server.addr(), &line);
    assert_eq!(server_identity, Identity::new("milagro-cs").unwrap());
    assert_eq!(answer, format!("echo:{line}").into_bytes());
    match report(server).outcome {
        Ok(Session::Milagro { identity, request }) => {
            assert_eq!(identity, Identity::new(ALICE).unwrap());
            assert_eq!(request, line.into_bytes());
        }
        other => panic!("expected a served Milagro session, got {other:?}"),
    }
}

/// `openssl s_client` arguments for a TLS 1.3 connection to `addr` that
/// verifies the server against the test CA.
fn s_client(tool: &Tool, pki: &Pki, addr: SocketAddr, extra: &[&str]) -> std::process::Command {
    let mut cmd = tool.command();
    cmd.args(["s_client", "-tls1_3", "-connect"])
        .arg(addr.to_string())
        .args(["-servername", "localhost", "-verify_hostname", "localhost"])
        .args(["-verify_return_error", "-CAfile"])
        .arg(pki.path("ca.pem"))
        .args(extra);
    cmd
}

// ------------------------------------------------------------------- tests

/// OpenSSL (`openssl s_client -tls1_3`) against the mixed listener: a
/// standard TLS 1.3 handshake that verifies the rcgen certificate, one line
/// echoed back; then a Milagro CS client is served on the same listener.
#[test]
fn openssl_s_client_standard_handshake_and_echo_on_the_mixed_listener() {
    let test = "openssl_s_client_standard_handshake_and_echo_on_the_mixed_listener";
    let Some(openssl) = openssl(test) else { return };
    let pki = Pki::new();
    let cs = Cs::new();
    let acceptor = cs.acceptor().with_standard(pki.standard_config()).unwrap();
    let server = EchoServer::spawn(acceptor).unwrap();

    let line = format!("{}\n", nonce("openssl"));
    // -ign_eof: after sending stdin, wait for the server's answer and close.
    let cmd = s_client(&openssl, &pki, server.addr(), &["-ign_eof"]);
    let out = Running::spawn(cmd, Some(line.as_bytes()))
        .unwrap()
        .finish(PROCESS_LIMIT);
    eprintln!("{}", out.all_output());
    assert!(out.success(), "s_client failed: {}", out.all_output());
    assert!(out.stdout.contains(&format!("echo:{line}")), "no echo");
    assert!(out.stdout.contains("Protocol  : TLSv1.3"), "not TLS 1.3");
    assert!(
        out.stdout.contains("Verify return code: 0 (ok)"),
        "not verified"
    );

    match report(&server).outcome {
        Ok(Session::Standard { version, request }) => {
            assert_eq!(version, Some(ProtocolVersion::TLSv1_3));
            assert_eq!(request, line.into_bytes());
        }
        other => panic!("expected a served standard session, got {other:?}"),
    }
    assert_milagro_client_served(&cs, &server);
}

/// curl (`curl --tlsv1.3`) against the mixed listener: a standard TLS 1.3
/// handshake verifying the rcgen CA, an HTTP/1.1 request whose path comes
/// back in the response body; then a Milagro CS client on the same listener.
#[test]
fn curl_standard_handshake_and_http_exchange_on_the_mixed_listener() {
    let test = "curl_standard_handshake_and_http_exchange_on_the_mixed_listener";
    let Some(curl) = curl(test) else { return };
    let pki = Pki::new();
    let cs = Cs::new();
    let acceptor = cs.acceptor().with_standard(pki.standard_config()).unwrap();
    let server = EchoServer::spawn(acceptor).unwrap();
    let port = server.addr().port();

    let path = format!("/{}", nonce("curl"));
    let mut cmd = curl.command();
    cmd.args([
        "--tlsv1.3",
        "--http1.1",
        "--silent",
        "--show-error",
        "--verbose",
    ])
    .args(["--max-time", "20", "--cacert"])
    .arg(pki.path("ca.pem"))
    .arg("--resolve")
    .arg(format!("localhost:{port}:127.0.0.1"))
    .arg(format!("https://localhost:{port}{path}"));
    let out = Running::spawn(cmd, None).unwrap().finish(PROCESS_LIMIT);
    eprintln!("{}", out.all_output());
    assert!(out.success(), "curl failed: {}", out.all_output());
    assert_eq!(out.stdout, format!("echo:GET {path} HTTP/1.1\n"));
    assert!(
        out.stderr.contains("SSL connection using TLSv1.3"),
        "not TLS 1.3"
    );

    match report(&server).outcome {
        Ok(Session::Standard { version, request }) => {
            assert_eq!(version, Some(ProtocolVersion::TLSv1_3));
            let request = String::from_utf8(request).unwrap();
            assert!(
                request.starts_with(&format!("GET {path} HTTP/1.1\r\n")),
                "{request}"
            );
        }
        other => panic!("expected a served standard session, got {other:?}"),
    }
    assert_milagro_client_served(&cs, &server);
}

/// OpenSSL (`openssl s_client -tls1_3`, standard groups only) against a
/// Milagro-only listener: refused with a `handshake_failure` alert, and the
/// listener then serves the next Milagro CS client.
#[test]
fn openssl_s_client_is_refused_by_a_milagro_only_listener_that_keeps_serving() {
    let test = "openssl_s_client_is_refused_by_a_milagro_only_listener_that_keeps_serving";
    let Some(openssl) = openssl(test) else { return };
    let pki = Pki::new();
    let cs = Cs::new();
    let server = EchoServer::spawn(cs.acceptor()).unwrap();

    // X25519 only, then OpenSSL's default group list.
    for extra in [&["-groups", "X25519"][..], &[][..]] {
        let cmd = s_client(&openssl, &pki, server.addr(), extra);
        let out = Running::spawn(cmd, Some(b"never sent\n"))
            .unwrap()
            .finish(PROCESS_LIMIT);
        eprintln!("{}", out.all_output());
        assert!(!out.timed_out, "s_client hung");
        assert!(
            !out.status.is_some_and(|s| s.success()),
            "s_client exited 0"
        );
        assert!(
            out.stderr.contains("alert handshake failure")
                && out.stderr.contains("alert number 40"),
            "no handshake_failure alert reported: {}",
            out.all_output()
        );
        // What OpenSSL read is exactly the accept path's 7-byte plaintext alert.
        assert!(
            out.stdout.contains("SSL handshake has read 7 bytes"),
            "{}",
            out.all_output()
        );
        assert!(!out.stdout.contains("echo:"), "data crossed");
        match report(&server).outcome {
            Err(ServeError::Accept(AcceptError::Refused(AcceptRefusal::NoStandardConfig))) => {}
            other => panic!("expected NoStandardConfig, got {other:?}"),
        }
    }
    assert_milagro_client_served(&cs, &server);
}

/// OpenSSL (`openssl s_server -tls1_3` with an rcgen certificate) against a
/// rustls Milagro CS client: the handshake fails and the client's mapped
/// error names the Milagro group OpenSSL lacks.
#[test]
fn rustls_milagro_client_against_openssl_s_server_names_the_missing_group() {
    let test = "rustls_milagro_client_against_openssl_s_server_names_the_missing_group";
    let Some(openssl) = openssl(test) else { return };
    let pki = Pki::new();
    let cs = Cs::new();
    let mut cmd = openssl.command();
    cmd.args([
        "s_server",
        "-tls1_3",
        "-accept",
        "127.0.0.1:0",
        "-naccept",
        "1",
    ])
    .arg("-cert")
    .arg(pki.path("leaf.pem"))
    .arg("-key")
    .arg(pki.path("leaf.key"));
    let mut s_server = Running::spawn(cmd, None).unwrap();
    let accept_line = s_server
        .wait_for_stdout_line("ACCEPT ", Duration::from_secs(10))
        .expect("s_server did not start listening");
    let addr: SocketAddr = accept_line
        .trim_start_matches("ACCEPT ")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{accept_line:?}: {e}"));
    assert!(addr.ip().is_loopback(), "{addr}");

    let client = cs.client(ALICE);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut conn = client.connect("localhost").unwrap();
    let err = loop {
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        assert!(conn.is_handshaking(), "the handshake must not complete");
        let n = conn.read_tls(&mut tcp).unwrap();
        assert_ne!(n, 0, "s_server closed without an alert");
        if let Err(e) = conn.process_new_packets() {
            break e;
        }
    };
    drop(tcp);
    let out = s_server.finish(PROCESS_LIMIT);
    eprintln!("{}", out.all_output());

    assert_eq!(
        err,
        rustls::Error::AlertReceived(AlertDescription::HandshakeFailure)
    );
    let mapped = map_client_error_for(client.suite(), &conn, err);
    assert!(
        matches!(mapped, MilagroError::GroupNotSupported { suite: Suite::Cs }),
        "{mapped:?}"
    );
    let message = mapped.to_string();
    eprintln!("client error: {message}");
    assert!(
        message.contains("Milagro group milagro_cs_bls12381 (0xFE4D)"),
        "{message}"
    );
    // OpenSSL's side of the story: it found nothing in common.
    assert!(
        out.all_output().contains("no shared") || out.all_output().contains("no suitable"),
        "{}",
        out.all_output()
    );
}
