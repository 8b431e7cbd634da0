//! The echo programs' logic (`milagro_examples::echo`) in process, over real
//! loopback sockets: the PIN from the terminal, and each error a user can
//! meet (wrong kind of key file, missing file, no PIN and no terminal, a
//! server that answers something else, a P2P client naming another server).

use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use milagro_examples::echo::{
    self, ClientCli, EchoError, ServerCli, ServerEvent, run_client, server_acceptor,
};
use milagro_examples::keytool::{KeyToolError, PinPrompt};
use milagro_tls::MilagroError;
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::{KeyFile, LABEL_CS_SERVER_SECRET, LABEL_CS_TOKEN};
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, P2pClientKey,
    P2pDeployment, P2pServerKey, PermitPolicy, epoch_of,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::pairing::OsEntropy;
use milagro_tls::suite::Suite;
use milagro_tls_tokio::ConnectError;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

const ALICE: &str = "alice@example.com";

/// A prompt that answers `answer`, or a non-terminal when `None`.
struct FakeTerminal(Option<&'static str>);

impl PinPrompt for FakeTerminal {
    fn is_interactive(&self) -> bool {
        self.0.is_some()
    }
    fn prompt(&self, _message: &str) -> Result<Zeroizing<String>, KeyToolError> {
        Ok(Zeroizing::new(self.0.unwrap_or_default().to_owned()))
    }
}

fn write(dir: &Path, name: &str, key: &impl KeyFile) {
    std::fs::write(dir.join(name), key.to_pem().unwrap().as_bytes()).unwrap();
}

/// CS files (one D-TA, no permits): `server.secret`, `alice.token` (PIN 1234).
fn cs_files(dir: &Path) {
    let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
    let ss = CsServerSecret::combine(&[dta.issue_cs_server_secret().unwrap()]).unwrap();
    let alice = Identity::new(ALICE).unwrap();
    let cs = CsClientSecret::combine(&[dta.issue_cs_client_secret(&alice).unwrap()]).unwrap();
    let token = extract_pin(
        &cs,
        &Pin::parse("1234", PinDigits::new(4).unwrap()).unwrap(),
    )
    .unwrap();
    write(dir, "server.secret", &ss);
    write(dir, "alice.token", &token);
}

/// P2P files (one D-TA): `server.key` for server.example, `client.key`.
fn p2p_files(dir: &Path) {
    let dep = P2pDeployment::new(1, 3600, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The client judges its key by `now − skew` (docs/protocol.md §7.4), so a
    // key for the epoch that began less than the skew ago is not yet usable:
    // issue for the epoch of a moment older than the skew.
    let e = epoch_of(
        now.saturating_sub(2 * milagro_tls::p2p_tls::DEFAULT_SKEW_SECS),
        3600,
    );
    let sk = P2pServerKey::combine(&[dta
        .issue_p2p_server_key(&Identity::new("server.example").unwrap(), e)
        .unwrap()])
    .unwrap();
    let ck = P2pClientKey::combine(&[dta
        .issue_p2p_client_key(&Identity::new("client.example").unwrap(), e)
        .unwrap()])
    .unwrap();
    write(dir, "server.key", &sk);
    write(dir, "client.key", &ck);
}

/// Starts the echo server of `args` on 127.0.0.1:0; returns its address and
/// a receiver of its events.
async fn start_server(
    dir: &Path,
    args: &[&str],
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<ServerEvent>,
) {
    let mut argv = vec!["echo-server", "--listen", "127.0.0.1:0"];
    argv.extend_from_slice(args);
    let mut cli = ServerCli::try_parse_from(argv).unwrap();
    for p in [&mut cli.keys.cs_server_secret, &mut cli.keys.p2p_key]
        .into_iter()
        .flatten()
    {
        *p = dir.join(&*p);
    }
    let acceptor = server_acceptor(&cli.keys).unwrap();
    let listener = TcpListener::bind(cli.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(echo::serve(
        acceptor,
        listener,
        Arc::new(move |e| {
            let _ = tx.send(e);
        }),
    ));
    (addr, rx)
}

fn client_cli(dir: &Path, addr: std::net::SocketAddr, args: &[&str]) -> ClientCli {
    let addr = addr.to_string();
    let mut argv = vec!["echo-client", "--connect", addr.as_str()];
    argv.extend_from_slice(args);
    let mut cli = ClientCli::try_parse_from(argv).unwrap();
    for p in [&mut cli.token, &mut cli.p2p_key, &mut cli.permit]
        .into_iter()
        .flatten()
    {
        *p = dir.join(&*p);
    }
    cli
}

#[tokio::test(flavor = "multi_thread")]
async fn cs_pin_from_the_terminal_echoes_and_names_both_sides() {
    let tmp = tempfile::tempdir().unwrap();
    cs_files(tmp.path());
    let (addr, mut events) = start_server(
        tmp.path(),
        &["--cs-server-secret", "server.secret", "--pin-digits", "4"],
    )
    .await;
    let cli = client_cli(
        tmp.path(),
        addr,
        &[
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--message",
            "typed PIN",
        ],
    );
    let mut out = Vec::new();
    let reply = run_client(&cli, &FakeTerminal(Some("1234")), &mut out)
        .await
        .unwrap();
    assert_eq!(reply.echo, "typed PIN");
    assert_eq!(reply.server_identity, "milagro-cs");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("echo: typed PIN\nserver identity: milagro-cs\nhandshake: "),
        "{text}"
    );
    match events.recv().await.unwrap() {
        ServerEvent::Accepted {
            identity, exporter, ..
        } => {
            assert_eq!(identity, ALICE);
            assert_eq!(exporter, reply.exporter);
            assert!(exporter.is_some());
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cs_wrong_pin_is_the_credential_refused_error() {
    let tmp = tempfile::tempdir().unwrap();
    cs_files(tmp.path());
    let (addr, mut events) = start_server(
        tmp.path(),
        &["--cs-server-secret", "server.secret", "--pin-digits", "4"],
    )
    .await;
    let cli = client_cli(
        tmp.path(),
        addr,
        &[
            "--server-name",
            "service.example",
            "--token",
            "alice.token",
            "--pin",
            "1235",
            "--message",
            "x",
        ],
    );
    let mut out = Vec::new();
    let err = run_client(&cli, &FakeTerminal(None), &mut out)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EchoError::Connect(ConnectError::Milagro(MilagroError::CredentialRefused))
                | EchoError::Config(MilagroError::CredentialRefused)
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Milagro credential refused (PIN, permit, lockout or clock)"
    );
    assert!(out.is_empty());
    assert!(matches!(
        events.recv().await.unwrap(),
        ServerEvent::Refused { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_pin_and_no_terminal_is_refused_before_connecting() {
    let tmp = tempfile::tempdir().unwrap();
    cs_files(tmp.path());
    // Nothing listens here: the error must come before any connection.
    let cli = client_cli(
        tmp.path(),
        "127.0.0.1:9".parse().unwrap(),
        &[
            "--server-name",
            "s",
            "--token",
            "alice.token",
            "--message",
            "x",
        ],
    );
    let err = run_client(&cli, &FakeTerminal(None), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, EchoError::NoPin), "{err:?}");
}

#[test]
fn a_file_of_another_kind_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    cs_files(tmp.path());
    let cli = ServerCli::try_parse_from([
        "echo-server",
        "--listen",
        "127.0.0.1:0",
        "--cs-server-secret",
        tmp.path().join("alice.token").to_str().unwrap(),
    ])
    .unwrap();
    match server_acceptor(&cli.keys).unwrap_err() {
        EchoError::WrongKind {
            expected, found, ..
        } => {
            assert_eq!(expected, LABEL_CS_SERVER_SECRET);
            assert_eq!(found, LABEL_CS_TOKEN);
        }
        other => panic!("{other:?}"),
    }
    let cli = ServerCli::try_parse_from([
        "echo-server",
        "--listen",
        "127.0.0.1:0",
        "--cs-server-secret",
        tmp.path().join("missing").to_str().unwrap(),
    ])
    .unwrap();
    assert!(matches!(
        server_acceptor(&cli.keys).unwrap_err(),
        EchoError::Read { .. }
    ));
}

#[test]
fn the_command_line_wants_exactly_one_suite() {
    let both = ServerCli::try_parse_from([
        "echo-server",
        "--listen",
        "127.0.0.1:0",
        "--cs-server-secret",
        "a",
        "--p2p-key",
        "b",
    ]);
    assert_eq!(
        both.unwrap_err().kind(),
        clap::error::ErrorKind::ArgumentConflict
    );
    let none = ServerCli::try_parse_from(["echo-server", "--listen", "127.0.0.1:0"]);
    assert_eq!(
        none.unwrap_err().kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
    let client = ClientCli::try_parse_from([
        "echo-client",
        "--connect",
        "127.0.0.1:1",
        "--server-name",
        "s",
        "--message",
        "m",
    ]);
    assert_eq!(
        client.unwrap_err().kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn p2p_client_naming_another_server_is_refused_by_it() {
    let tmp = tempfile::tempdir().unwrap();
    p2p_files(tmp.path());
    let (addr, _events) = start_server(tmp.path(), &["--p2p-key", "server.key"]).await;
    let cli = client_cli(
        tmp.path(),
        addr,
        &[
            "--server-name",
            "other.example",
            "--p2p-key",
            "client.key",
            "--message",
            "x",
        ],
    );
    let err = run_client(&cli, &FakeTerminal(None), &mut Vec::new())
        .await
        .unwrap_err();
    // The server holds only server.example's key: it refuses a ClientHello
    // naming another identity before any key exchange.
    assert!(
        matches!(
            err,
            EchoError::Connect(ConnectError::Milagro(MilagroError::GroupNotSupported {
                suite: Suite::P2p
            }))
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_answering_something_else_is_a_wrong_echo() {
    let tmp = tempfile::tempdir().unwrap();
    p2p_files(tmp.path());
    let cli = ServerCli::try_parse_from([
        "echo-server",
        "--listen",
        "127.0.0.1:0",
        "--p2p-key",
        tmp.path().join("server.key").to_str().unwrap(),
    ])
    .unwrap();
    let acceptor = server_acceptor(&cli.keys).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        if let Ok(milagro_tls_tokio::AcceptedStream::Milagro(_, tls)) =
            acceptor.accept_tcp(tcp).await
        {
            let mut tls = BufReader::new(tls);
            let mut line = String::new();
            let _ = tls.read_line(&mut line).await;
            let _ = tls.get_mut().write_all(b"something else\n").await;
            let _ = tls.get_mut().shutdown().await;
        }
    });
    let cli = client_cli(
        tmp.path(),
        addr,
        &[
            "--server-name",
            "server.example",
            "--p2p-key",
            "client.key",
            "--message",
            "hello",
        ],
    );
    match run_client(&cli, &FakeTerminal(None), &mut Vec::new())
        .await
        .unwrap_err()
    {
        EchoError::WrongEcho { sent, got } => {
            assert_eq!(sent, "hello");
            assert_eq!(got, "something else");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Issue 9 item 11: what the client sees for each refusal before the key
// exchange. Before, step 1 answered with a plaintext handshake_failure, so a
// client whose clock was 5 minutes off, or who was throttled, printed
// "received fatal alert: HandshakeFailure".
// ---------------------------------------------------------------------------

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A client clock 5 minutes slow.
fn five_minutes_slow() -> u64 {
    unix_now() - 300
}

/// A client clock two days fast.
fn two_days_fast() -> u64 {
    unix_now() + 2 * 86_400
}

/// Serves `acceptor` on 127.0.0.1:0 with the echo server's logic.
async fn serve_acceptor(
    acceptor: milagro_tls::MilagroAcceptor,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<ServerEvent>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(echo::serve(
        milagro_tls_tokio::TlsAcceptor::new(acceptor),
        listener,
        Arc::new(move |e| {
            let _ = tx.send(e);
        }),
    ));
    (addr, rx)
}

fn refused_reason(event: ServerEvent) -> String {
    match event {
        ServerEvent::Refused { reason, .. } => reason,
        other => panic!("expected a refusal, got {other}"),
    }
}

fn load_token(dir: &Path) -> milagro_tls::keys::CsToken {
    match echo::load_key(&dir.join("alice.token")).unwrap() {
        milagro_tls::keyfile::AnyKey::CsToken(t) => t,
        other => panic!("{}", other.label()),
    }
}

fn credential_refused(err: &EchoError) -> bool {
    matches!(
        err,
        EchoError::Connect(ConnectError::Milagro(MilagroError::CredentialRefused))
    ) && err.to_string() == "Milagro credential refused (PIN, permit, lockout or clock)"
}

#[tokio::test(flavor = "multi_thread")]
async fn cs_client_clock_five_minutes_off_sees_credential_refused() {
    let tmp = tempfile::tempdir().unwrap();
    cs_files(tmp.path());
    let (addr, mut events) = start_server(
        tmp.path(),
        &["--cs-server-secret", "server.secret", "--pin-digits", "4"],
    )
    .await;
    let pin = Pin::parse("1234", PinDigits::new(4).unwrap()).unwrap();
    let client =
        milagro_tls::cs_tls::client_at(load_token(tmp.path()), pin, None, five_minutes_slow)
            .unwrap();
    let err = echo::exchange(
        &milagro_tls_tokio::MilagroConnector::new(client),
        addr,
        "service.example",
        "x",
    )
    .await
    .unwrap_err();
    assert!(credential_refused(&err), "{err:?}");
    let reason = refused_reason(events.recv().await.unwrap());
    assert!(reason.contains("more than 30 s away from now"), "{reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cs_permit_day_out_of_range_sees_credential_refused() {
    // Permits required; the client's clock is two days fast and it holds a
    // permit for that day: the server refuses the day (±1) at step 1.
    let dep = CsDeployment::new(1, PermitPolicy::Required, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
    let ss = CsServerSecret::combine(&[dta.issue_cs_server_secret().unwrap()]).unwrap();
    let alice = Identity::new(ALICE).unwrap();
    let cs = CsClientSecret::combine(&[dta.issue_cs_client_secret(&alice).unwrap()]).unwrap();
    let digits = PinDigits::new(4).unwrap();
    let token = extract_pin(&cs, &Pin::parse("1234", digits).unwrap()).unwrap();
    let day = milagro_tls::keys::day_of(two_days_fast());
    let permit =
        milagro_tls::keys::CsTimePermit::combine(&[dta.issue_cs_time_permit(&alice, day).unwrap()])
            .unwrap();
    let guard = echo::guard_with(Arc::new(milagro_tls::guard::NoopObserver));
    let (server, _classifier) = echo::cs_server(ss, digits, guard).unwrap();
    let (addr, mut events) = serve_acceptor(server).await;
    let pin = Pin::parse("1234", digits).unwrap();
    let client = milagro_tls::cs_tls::client_at(token, pin, Some(permit), two_days_fast).unwrap();
    let err = echo::exchange(
        &milagro_tls_tokio::MilagroConnector::new(client),
        addr,
        "service.example",
        "x",
    )
    .await
    .unwrap_err();
    assert!(credential_refused(&err), "{err:?}");
    let reason = refused_reason(events.recv().await.unwrap());
    assert!(
        reason.contains("is not within one day of today"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_source_sees_try_again_later() {
    use milagro_tls::guard::{Guard, GuardPolicy, MemoryGuard, MonotonicClock, NoopObserver};
    let tmp = tempfile::tempdir().unwrap();
    cs_files(tmp.path());
    let ss = match echo::load_key(&tmp.path().join("server.secret")).unwrap() {
        milagro_tls::keyfile::AnyKey::CsServerSecret(s) => s,
        other => panic!("{}", other.label()),
    };
    // Two ClientHellos per source, never refilled.
    let mut policy = GuardPolicy::default();
    policy.throttle.burst = 2;
    policy.throttle.refill_per_sec = 0;
    let guard = Guard::new(
        Arc::new(MemoryGuard::new(policy)),
        Arc::new(MonotonicClock::new()),
        Arc::new(NoopObserver),
    );
    let digits = PinDigits::new(4).unwrap();
    let (server, _classifier) = echo::cs_server(ss, digits, guard).unwrap();
    let (addr, mut events) = serve_acceptor(server).await;
    let pin = Pin::parse("1234", digits).unwrap();
    let good = milagro_tls_tokio::MilagroConnector::new(
        milagro_tls::cs_tls::client(load_token(tmp.path()), pin, None).unwrap(),
    );
    for _ in 0..2 {
        echo::exchange(&good, addr, "service.example", "x")
            .await
            .unwrap();
        assert!(matches!(
            events.recv().await.unwrap(),
            ServerEvent::Accepted { .. }
        ));
    }
    let err = echo::exchange(&good, addr, "service.example", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EchoError::Connect(ConnectError::Milagro(MilagroError::ServerBusy))
        ),
        "{err:?}"
    );
    assert!(err.to_string().ends_with("try again later"), "{err}");
    let reason = refused_reason(events.recv().await.unwrap());
    assert!(reason.contains("source throttled"), "{reason}");
}
