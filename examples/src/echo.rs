//! The `echo-server` and `echo-client` programs: a line echo over Milagro TLS
//! (either suite) on real TCP sockets, with keys read from files made by the
//! `milagro` key tool.
//!
//! * Server: `echo-server --listen HOST:PORT (--cs-server-secret FILE
//!   [--pin-digits N] | --p2p-key FILE [--p2p-previous-key FILE]
//!   [--allow-stale-keys]) [--cert FILE --key FILE]` prints
//!   `listening on ADDR` (the bound address, so port 0 shows the real port),
//!   then one `accepted IDENTITY via SUITE_NAME from SOURCE` line per
//!   authenticated connection, and echoes each line it reads. With `--cert`
//!   and `--key`, standard TLS clients on the same port are echoed too
//!   (`accepted a standard TLS client from SOURCE`). The guard's
//!   decisions are printed as `server-side observer: …` lines: how each
//!   attempt was classified (wrong PIN, invalid credential, …), never the
//!   PIN error δ, and never sent to the client.
//! * Client: `echo-client --connect HOST:PORT --server-name NAME (--token
//!   FILE [--pin PIN | --pin-file FILE] [--permit FILE] | --p2p-key FILE)
//!   --message TEXT` sends one line, prints `echo: TEXT` and `server
//!   identity: NAME`, and succeeds only when the echo is exactly the
//!   message. Without `--pin` or `--pin-file` it asks for the PIN on the
//!   terminal.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::guard_store::GuardSpec;
use clap::{Args, Parser};
use milagro_tls::Classifier;
use milagro_tls::MilagroAcceptor;
use milagro_tls::MilagroError;
use milagro_tls::cs_tls;
use milagro_tls::guard::{Guard, GuardObserver, GuardPolicy, MemoryGuard, MonotonicClock, Outcome};
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::{AnyKey, KeyFileError, from_pem_any};
use milagro_tls::keys::PermitPolicy;
use milagro_tls::mpin::{Pin, PinDigits, PinError};
use milagro_tls::p2p_tls;
use milagro_tls::suite::Suite;
use milagro_tls_tokio::{AcceptedStream, ConnectError, MilagroConnector, TlsAcceptor};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use zeroize::Zeroizing;

use crate::keytool::{KeyToolError, PinPrompt, pin_text};
use crate::standard::{StandardArgs, StandardError};
use crate::{CS_SUITE_NAME, P2P_SUITE_NAME};

/// How long a client may take for TCP connect + handshake + echo.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an accepted connection may stay idle between lines.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest line the server echoes (longer lines end the connection).
pub const MAX_LINE: usize = 16 * 1024;

/// The profile name of a suite.
pub fn suite_name(suite: Suite) -> &'static str {
    match suite {
        Suite::Cs => CS_SUITE_NAME,
        Suite::P2p => P2P_SUITE_NAME,
    }
}

/// Why an echo program failed.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// `--guard` could not be used.
    #[error(transparent)]
    Guard(#[from] crate::guard_store::GuardSpecError),
    /// A key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file did not decode.
    #[error("{path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        source: KeyFileError,
    },
    /// A key file holds another kind of key than the option wants.
    #[error("{path}: expected a {expected} file, found a {found} file")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The label the option needs.
        expected: &'static str,
        /// The file's label.
        found: &'static str,
    },
    /// The PIN (or PIN length) was refused.
    #[error("PIN: {0}")]
    Pin(#[from] PinError),
    /// No `--pin`, no `--pin-file` and nobody to ask.
    #[error(
        "no PIN: standard input is not a terminal to ask on; pass --pin-file FILE (or --pin PIN)"
    )]
    NoPin,
    /// The `--pin-file` could not be read.
    #[error("{0}")]
    PinFile(KeyToolError),
    /// The token's deployment requires time permits and no `--permit` was given.
    #[error("{}: this deployment requires a daily time permit; pass --permit FILE (today's)", token.display())]
    MissingPermit {
        /// The token file.
        token: PathBuf,
    },
    /// The terminal could not be read.
    #[error("cannot read the PIN from the terminal: {0}")]
    PinPrompt(String),
    /// An identity (server name) was refused.
    #[error("server name: {0}")]
    Identity(#[from] milagro_tls::identity::IdentityError),
    /// The keys could not be used to build a configuration.
    #[error("{0}")]
    Config(#[from] MilagroError),
    /// The acceptor could not be built.
    #[error("{0}")]
    Build(#[from] milagro_tls_tokio::BuildError),
    /// `--cert` / `--key` could not be used.
    #[error(transparent)]
    Standard(#[from] StandardError),
    /// The classifier could not be built.
    #[error("classifier: {0}")]
    Classifier(milagro_tls::guard::ClassifierError),
    /// Binding or connecting to an address failed.
    #[error("{what} {addr}: {source}")]
    Address {
        /// What was being done.
        what: &'static str,
        /// The address as given.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The handshake failed (a refused credential says so).
    #[error("{0}")]
    Connect(#[from] ConnectError),
    /// The server's reply was not the message.
    #[error("wrong echo: sent {sent:?}, got {got:?}")]
    WrongEcho {
        /// The message.
        sent: String,
        /// The reply.
        got: String,
    },
    /// The exchange did not finish in time.
    #[error("no echo within {0:?}")]
    Timeout(Duration),
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> EchoError {
    move |source| EchoError::Io { what, source }
}

/// Reads and decodes a key file of any kind.
pub fn load_key(path: &Path) -> Result<AnyKey, EchoError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| EchoError::Read {
            path: path.to_owned(),
            source,
        })?,
    );
    from_pem_any(&text).map_err(|source| EchoError::KeyFile {
        path: path.to_owned(),
        source,
    })
}

macro_rules! load_as {
    ($path:expr, $variant:ident, $label:ident) => {{
        let path: &Path = $path;
        match load_key(path)? {
            AnyKey::$variant(k) => k,
            other => {
                return Err(EchoError::WrongKind {
                    path: path.to_owned(),
                    expected: milagro_tls::keyfile::$label,
                    found: other.label(),
                });
            }
        }
    }};
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// `echo-server` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "echo-server",
    about = "Milagro TLS line echo server (CS or P2P)"
)]
pub struct ServerCli {
    /// The address to listen on, HOST:PORT (port 0: any free port, printed).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,
    /// Which suite and keys.
    #[command(flatten)]
    pub keys: ServerKeys,
    /// Standard TLS clients on the same listener.
    #[command(flatten)]
    pub standard: StandardArgs,
    /// Where the guard keeps lockout counts, the replay cache and the
    /// throttles: `memory` (this process) or `redis://host:port/db`
    /// (shared by every server using that Redis; Milagro handshakes are
    /// refused while it does not answer).
    #[arg(long, value_name = "STORE", default_value = "memory")]
    pub guard: String,
}

/// The server's keys: exactly one suite.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct ServerKeys {
    /// CS: the combined server secret file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["p2p_key", "p2p_previous_key"])]
    pub cs_server_secret: Option<PathBuf>,
    /// CS: the deployment's PIN length (bounds the server-side search that
    /// tells a wrong PIN from an invalid credential).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 6,
        requires = "cs_server_secret"
    )]
    pub pin_digits: u8,
    /// P2P: the combined server key file of the current epoch.
    #[arg(long, value_name = "FILE")]
    pub p2p_key: Option<PathBuf>,
    /// P2P: the server key file of the previous epoch.
    #[arg(long, value_name = "FILE", requires = "p2p_key")]
    pub p2p_previous_key: Option<PathBuf>,
    /// P2P: start (with a warning) even when neither key is for the current
    /// or the previous epoch; such a server refuses every client until its
    /// keys' epoch begins.
    #[arg(long, requires = "p2p_key")]
    pub allow_stale_keys: bool,
}

/// Prints the guard's decisions as `server-side observer: …` lines: the
/// classification of each attempt, never the PIN error δ (the guard does not
/// have it), and nothing of it is sent to the client.
#[derive(Debug, Default)]
pub struct PrintingObserver;

/// One observer line for `outcome` (without the prefix).
pub fn describe(outcome: &Outcome) -> String {
    let short = |h: &milagro_tls::identity::Hid| hex::encode(&h.0[..8]);
    match outcome {
        Outcome::WrongPin {
            hid,
            source,
            confirmed,
            cumulative,
        } => format!(
            "wrong PIN for HID {}… from {source}: confirmed {confirmed}, cumulative {cumulative}",
            short(hid)
        ),
        Outcome::InvalidCredential { hid, source } => format!(
            "invalid credential (not a wrong PIN; not counted) for HID {}… from {source}",
            short(hid)
        ),
        Outcome::Completed { hid, .. } => {
            format!("handshake completed for HID {}…", short(hid))
        }
        other => format!("{other:?}"),
    }
}

impl GuardObserver for PrintingObserver {
    fn outcome(&self, outcome: &Outcome) {
        println!("server-side observer: {}", describe(outcome));
    }
}

/// A guard with the default policy reporting to `observer`.
pub fn guard_with(observer: Arc<dyn GuardObserver>) -> Guard {
    Guard::new(
        Arc::new(MemoryGuard::new(GuardPolicy::default())),
        Arc::new(MonotonicClock::new()),
        observer,
    )
}

/// A CS server configuration for `secret` with `guard`; the returned
/// classifier tells wrong PINs from invalid credentials off the handshake
/// path.
pub fn cs_server(
    secret: milagro_tls::keys::CsServerSecret,
    digits: PinDigits,
    guard: Guard,
) -> Result<(MilagroAcceptor, Classifier), EchoError> {
    let classifier = Classifier::new(1).map_err(EchoError::Classifier)?;
    let acceptor = cs_tls::server(
        secret,
        cs_tls::ServerOptions::new(guard, classifier.clone()).pin_digits(digits),
    )?;
    Ok((acceptor, classifier))
}

/// Builds the server's acceptor from its key files, with an in-memory guard.
pub fn server_acceptor(keys: &ServerKeys) -> Result<TlsAcceptor, EchoError> {
    server_acceptor_with(keys, guard_with(Arc::new(PrintingObserver)))
}

/// Builds the server's acceptor from its key files with `guard`.
pub fn server_acceptor_with(keys: &ServerKeys, guard: Guard) -> Result<TlsAcceptor, EchoError> {
    let sync = match (&keys.cs_server_secret, &keys.p2p_key) {
        (Some(path), None) => {
            let secret = load_as!(path, CsServerSecret, LABEL_CS_SERVER_SECRET);
            let digits = PinDigits::new(keys.pin_digits)?;
            cs_server(secret, digits, guard.clone())?.0
        }
        (None, Some(path)) => {
            let current = load_as!(path, P2pServerKey, LABEL_P2P_SERVER_KEY);
            let previous = match &keys.p2p_previous_key {
                Some(p) => Some(load_as!(p, P2pServerKey, LABEL_P2P_SERVER_KEY)),
                None => None,
            };
            if keys.allow_stale_keys {
                if let Err(stale) = p2p_tls::check_server_keys(&current, previous.as_ref()) {
                    eprintln!("warning: {stale}");
                }
            }
            let options = p2p_tls::ServerOptions::new()
                .guard(guard.clone())
                .allow_stale_keys(keys.allow_stale_keys);
            p2p_tls::server(current, options.previous_key(previous))?
        }
        // clap enforces exactly one; refuse anyway rather than guess.
        _ => return Err(MilagroError::SuiteMismatch.into()),
    };
    Ok(TlsAcceptor::new(sync))
}

/// Echoes lines on `io` until EOF, an idle timeout or an over-long line.
pub async fn echo_lines<IO: AsyncRead + AsyncWrite + Unpin>(io: IO) -> std::io::Result<()> {
    let mut io = BufReader::new(io);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = tokio::time::timeout(
            IDLE_TIMEOUT,
            (&mut io).take(MAX_LINE as u64).read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if read == 0 {
            break;
        }
        io.get_mut().write_all(&line).await?;
        io.get_mut().flush().await?;
        if line.last() != Some(&b'\n') {
            break;
        }
    }
    io.get_mut().shutdown().await
}

use tokio::io::AsyncReadExt as _;

/// The label of the keying material both sides export (RFC 8446 §7.5) to
/// show, by fingerprint, that they share the same connection secrets.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-milagro-examples";

/// The fingerprint ([`crate::fingerprint`]) of 32 bytes of keying material
/// exported under [`EXPORTER_LABEL`]; `None` if the connection cannot export.
pub fn exporter_fingerprint<D>(conn: &rustls::ConnectionCommon<D>) -> Option<String> {
    let out = conn
        .export_keying_material(Zeroizing::new([0u8; 32]), EXPORTER_LABEL, None)
        .ok()?;
    Some(crate::fingerprint(&*out))
}

/// What the server saw of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A finished, authenticated Milagro handshake.
    Accepted {
        /// The client's authenticated identity.
        identity: String,
        /// Its suite.
        suite: Suite,
        /// The client's address.
        source: IpAddr,
        /// [`exporter_fingerprint`] of the server's side.
        exporter: Option<String>,
    },
    /// The handshake was refused or failed (the server's own reason).
    Refused {
        /// The client's address.
        source: IpAddr,
        /// Why.
        reason: String,
    },
    /// A standard TLS client (served only with `--cert` / `--key`: echoed
    /// like a Milagro one, without an identity).
    Standard {
        /// The client's address.
        source: IpAddr,
    },
    /// An accepted connection ended with an error.
    Ended {
        /// The client's address.
        source: IpAddr,
        /// The error.
        reason: String,
    },
}

impl std::fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Accepted {
                identity,
                suite,
                source,
                ..
            } => write!(
                f,
                "accepted {identity} via {} from {source}",
                suite_name(*suite)
            ),
            Self::Refused { source, reason } => write!(f, "refused from {source}: {reason}"),
            Self::Standard { source } => write!(f, "accepted a standard TLS client from {source}"),
            Self::Ended { source, reason } => {
                write!(f, "connection from {source} ended: {reason}")
            }
        }
    }
}

/// Serves `listener` until accepting fails: every connection in its own
/// task; each authenticated one is reported to `report`
/// ([`ServerEvent::Accepted`]) and echoed; refusals are reported too.
pub async fn serve(
    acceptor: TlsAcceptor,
    listener: TcpListener,
    report: Arc<dyn Fn(ServerEvent) + Send + Sync>,
) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let source = peer.ip();
        let (acceptor, report) = (acceptor.clone(), report.clone());
        tokio::spawn(async move {
            match acceptor.accept_tcp(tcp).await {
                Ok(AcceptedStream::Milagro(who, tls)) => {
                    report(ServerEvent::Accepted {
                        identity: who.identity().as_str().to_owned(),
                        suite: who.suite(),
                        source,
                        exporter: exporter_fingerprint(tls.get_ref().1),
                    });
                    if let Err(e) = echo_lines(tls).await {
                        report(ServerEvent::Ended {
                            source,
                            reason: e.to_string(),
                        });
                    }
                }
                Ok(AcceptedStream::Standard(tls)) => {
                    report(ServerEvent::Standard { source });
                    if let Err(e) = echo_lines(tls).await {
                        report(ServerEvent::Ended {
                            source,
                            reason: e.to_string(),
                        });
                    }
                }
                Err(e) => report(ServerEvent::Refused {
                    source,
                    reason: e.to_string(),
                }),
            }
        });
    }
}

/// The whole `echo-server`: builds the acceptor (with the standard
/// configuration of `--cert` / `--key`, if given), binds, prints `listening
/// on ADDR` and serves until killed.
pub async fn run_server(cli: &ServerCli) -> Result<(), EchoError> {
    let spec = GuardSpec::parse(Some(&cli.guard))?;
    let guard = spec
        .open(GuardPolicy::default(), Arc::new(PrintingObserver))
        .await?;
    let mut acceptor = server_acceptor_with(&cli.keys, guard)?;
    if let Some(standard) = cli.standard.server_config()? {
        acceptor = acceptor.with_standard(standard)?;
    }
    let listen_err = |source| EchoError::Address {
        what: "cannot listen on",
        addr: cli.listen.clone(),
        source,
    };
    let listener = TcpListener::bind(cli.listen.as_str())
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    // Only once serving is certain, so a refusal to start stays one line.
    eprintln!("guard state: {}", spec.describe());
    println!("listening on {addr}");
    serve(acceptor, listener, Arc::new(|event| println!("{event}")))
        .await
        .map_err(io("accept"))
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// `echo-client` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "echo-client",
    about = "Milagro TLS line echo client (CS or P2P)"
)]
pub struct ClientCli {
    /// The server's address, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: String,
    /// The server name: for P2P the server's identity (checked), for CS the
    /// service name sent as SNI.
    #[arg(long, value_name = "NAME")]
    pub server_name: String,
    /// CS: the token file.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "p2p_key",
        required_unless_present = "p2p_key"
    )]
    pub token: Option<PathBuf>,
    /// CS: the PIN. For scripts and tests only (visible to other users);
    /// omit it to be asked on the terminal.
    #[arg(
        long,
        value_name = "PIN",
        requires = "token",
        conflicts_with = "pin_file"
    )]
    pub pin: Option<String>,
    /// CS: read the PIN from the first line of FILE (for scripts: unlike
    /// --pin, not visible in the process list).
    #[arg(long, value_name = "FILE", requires = "token")]
    pub pin_file: Option<PathBuf>,
    /// CS: today's time permit file (when the deployment requires permits).
    #[arg(long, value_name = "FILE", requires = "token")]
    pub permit: Option<PathBuf>,
    /// P2P: the client key file.
    #[arg(long, value_name = "FILE")]
    pub p2p_key: Option<PathBuf>,
    /// The line to send.
    #[arg(long, value_name = "TEXT")]
    pub message: String,
}

/// The connector the client's key files describe.
pub fn client_connector(
    cli: &ClientCli,
    pins: &dyn PinPrompt,
) -> Result<MilagroConnector, EchoError> {
    if let Some(path) = &cli.p2p_key {
        let key = load_as!(path, P2pClientKey, LABEL_P2P_CLIENT_KEY);
        // Check the server name now so a typo is reported as such.
        Identity::new(&cli.server_name)?;
        return Ok(MilagroConnector::p2p(key));
    }
    let Some(path) = &cli.token else {
        return Err(MilagroError::SuiteMismatch.into());
    };
    let token = load_as!(path, CsToken, LABEL_CS_TOKEN);
    let permit = match &cli.permit {
        Some(p) => Some(load_as!(p, CsTimePermit, LABEL_CS_TIME_PERMIT)),
        None if token.deployment().permits == PermitPolicy::Required => {
            return Err(EchoError::MissingPermit {
                token: path.clone(),
            });
        }
        None => None,
    };
    let pin = pin_text(cli.pin.as_deref(), cli.pin_file.as_deref(), pins, "PIN: ").map_err(
        |e| match e {
            KeyToolError::NoTerminal => EchoError::NoPin,
            KeyToolError::PinRead(e) => EchoError::PinPrompt(e.to_string()),
            other => EchoError::PinFile(other),
        },
    )?;
    // Any PIN length up to the maximum: the value, not the length, matters.
    let pin = Pin::parse(pin.trim(), PinDigits::new(6)?)?;
    Ok(MilagroConnector::new(cs_tls::client(token, pin, permit)?))
}

/// What one echo exchange showed the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoReply {
    /// The line the server sent back (without the newline).
    pub echo: String,
    /// The server's identity as authenticated by the handshake.
    pub server_identity: String,
    /// Time from TCP connect to the finished handshake.
    pub handshake: Duration,
    /// [`exporter_fingerprint`] of the client's side.
    pub exporter: Option<String>,
}

/// Connects to `addr` (each address it resolves to in turn, until one
/// accepts), handshakes as `connector` with `server_name`, sends
/// `message` as one line and reads one line back; fails with
/// [`EchoError::WrongEcho`] when the reply differs.
pub async fn exchange(
    connector: &MilagroConnector,
    addr: impl tokio::net::ToSocketAddrs,
    server_name: &str,
    message: &str,
) -> Result<EchoReply, EchoError> {
    tokio::time::timeout(CLIENT_TIMEOUT, async {
        let start = Instant::now();
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(io("cannot connect"))?;
        let mut tls = connector.connect(server_name, tcp).await?;
        let handshake = start.elapsed();
        let server_identity = tls.server_identity().as_str().to_owned();
        let exporter = exporter_fingerprint(tls.connection());
        tls.write_all(format!("{message}\n").as_bytes())
            .await
            .map_err(refused_or("send"))?;
        tls.flush().await.map_err(refused_or("send"))?;
        let mut reader = BufReader::new(tls);
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(refused_or("receive"))?;
        // Close cleanly (close_notify); the echo is already in hand.
        let _ = reader.into_inner().shutdown().await;
        let got = String::from_utf8_lossy(&line);
        let got = got.strip_suffix('\n').unwrap_or(&got).to_owned();
        if got != message {
            return Err(EchoError::WrongEcho {
                sent: message.to_owned(),
                got,
            });
        }
        Ok(EchoReply {
            echo: got,
            server_identity,
            handshake,
            exporter,
        })
    })
    .await
    .map_err(|_| EchoError::Timeout(CLIENT_TIMEOUT))?
}

/// A refusal of the client's identity arrives at the first read as an
/// `access_denied` alert: report it as the refused credential.
fn refused_or(what: &'static str) -> impl FnOnce(std::io::Error) -> EchoError {
    move |e| {
        let refused = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|r| {
                matches!(
                    r,
                    rustls::Error::AlertReceived(rustls::AlertDescription::AccessDenied)
                )
            });
        if refused {
            EchoError::Config(MilagroError::CredentialRefused)
        } else {
            EchoError::Io { what, source: e }
        }
    }
}

/// The whole `echo-client`: prints `echo: TEXT` and `server identity: NAME`.
pub async fn run_client(
    cli: &ClientCli,
    pins: &dyn PinPrompt,
    out: &mut dyn Write,
) -> Result<EchoReply, EchoError> {
    let connector = client_connector(cli, pins)?;
    let reply = exchange(
        &connector,
        cli.connect.as_str(),
        &cli.server_name,
        &cli.message,
    )
    .await?;
    writeln!(out, "echo: {}", reply.echo).map_err(io("output"))?;
    writeln!(out, "server identity: {}", reply.server_identity).map_err(io("output"))?;
    writeln!(
        out,
        "handshake: {:.1} ms",
        reply.handshake.as_secs_f64() * 1_000.0
    )
    .map_err(io("output"))?;
    Ok(reply)
}
