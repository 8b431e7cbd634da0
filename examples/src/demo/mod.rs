//! The `demo` program: three in-process D-TAs per suite issue key shares, the
//! holders combine them, a CS and a P2P tokio server listen on 127.0.0.1:0,
//! and a CS client (token + PIN + permit) and a P2P client each run a full
//! TLS 1.3 handshake through `MilagroConnector` over real sockets and echo a
//! line; then a wrong-PIN attempt and a forged credential (a key from
//! another deployment) are refused with the same credential-refused message,
//! and the server's observer shows it told them apart: "wrong PIN" (counted)
//! versus "invalid credential" (not counted). How far the PIN was off (δ) is
//! never printed: the server does not keep it.
//!
//! [`run`] checks every step and fails with a [`DemoError`] naming the step;
//! it returns a [`DemoReport`] with what it observed (fingerprints only, never
//! a secret). [`exchange`] keeps the in-memory key agreement ([`InMemory`]),
//! used by the key tool's tests to check its files without sockets.

pub mod exchange;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use milagro_tls::MilagroError;
use milagro_tls::dta::{Combine, DtaError};
use milagro_tls::guard::{Outcome, RecordingObserver};
use milagro_tls::identity::{Identity, IdentityError};
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, day_of,
};
use milagro_tls::mpin::{CsError, Pin, PinDigits, PinError, extract_pin};
use milagro_tls::p2p::P2pError;
use milagro_tls::pairing::OsEntropy;
use milagro_tls::suite::Suite;
use milagro_tls::{cs_tls, p2p_tls};
use milagro_tls_tokio::{ConnectError, MilagroConnector, TlsAcceptor};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use exchange::{CsClient, CsRefusal, CsServer, InMemory, Transport};

use crate::echo::{self, EchoError, EchoReply, ServerEvent};
use crate::time::{format_day, unix_now};
use crate::{CS_SUITE_NAME, P2P_SUITE_NAME};

/// How many D-TAs each demo deployment has.
pub const DTAS: u8 = 3;
/// The demo's CS client.
pub const CS_CLIENT: &str = "alice@example.com";
/// The demo's P2P server identity.
pub const P2P_SERVER: &str = "server.example";
/// The demo's P2P client identity.
pub const P2P_CLIENT: &str = "client.example";
/// The P2P epoch length of the demo deployment.
pub const EPOCH_SECONDS: u32 = 3_600;
/// The demo's PIN length.
pub const PIN_DIGITS: u8 = 4;
/// alice's registered PIN (a demo: shown on purpose).
pub const PIN: &str = "1234";
/// The PIN of the wrong-PIN attempt. Its PIN error δ = 7153 − 1234 = 5919
/// ([`WRONG_PIN_DELTA`]) must appear nowhere in the output: a log line with δ
/// gives its reader PIN = PIN′ − δ.
pub const WRONG_PIN: &str = "7153";
/// `WRONG_PIN − PIN`, which the demo must never print (tests look for it).
pub const WRONG_PIN_DELTA: i64 = 5919;

/// Why the demo failed: the step and the problem.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A D-TA operation failed.
    #[error("{step}: {source}")]
    Dta {
        /// The step.
        step: &'static str,
        /// The D-TA error.
        source: DtaError,
    },
    /// A CS step failed.
    #[error("{step}: {source}")]
    Cs {
        /// The step.
        step: &'static str,
        /// The CS error.
        source: CsError,
    },
    /// A P2P step failed.
    #[error("{step}: {source}")]
    P2p {
        /// The step.
        step: &'static str,
        /// The P2P error.
        source: P2pError,
    },
    /// An identity was refused.
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    /// A PIN was refused.
    #[error("PIN: {0}")]
    Pin(#[from] PinError),
    /// A step gave another outcome than the demo expects.
    #[error("{step}: expected {expected}, got {got}")]
    Unexpected {
        /// The step.
        step: &'static str,
        /// What should have happened.
        expected: String,
        /// What happened.
        got: String,
    },
    /// The two sides' secrets differ.
    #[error("{0}: the client's and the server's secrets differ")]
    SecretsDiffer(&'static str),
    /// The system clock is before 1970.
    #[error("the system clock is set before 1970")]
    Clock,
    /// The random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A socket step (server set-up, handshake, echo) failed.
    #[error("{step}: {source}")]
    Echo {
        /// The step.
        step: &'static str,
        /// The error (boxed: it is much larger than every other variant,
        /// and every `Result` of the demo would carry its size).
        source: Box<EchoError>,
    },
    /// Standard output, the runtime or a socket failed.
    #[error("I/O: {0}")]
    Output(#[from] std::io::Error),
}

/// What the demo observed (public values only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// Fingerprint of the keying material both sides of the CS connection
    /// exported ([`crate::echo::exporter_fingerprint`]); checked equal.
    pub cs_fingerprint: String,
    /// The same for the P2P connection.
    pub p2p_fingerprint: String,
    /// The identity's (confirmed, cumulative) wrong-PIN counts the server's
    /// observer reported after the wrong PIN: (1, 1).
    pub wrong_pin_counts: (u32, u32),
    /// The server's observer classified the forged credential as invalid
    /// (not a wrong PIN, not counted).
    pub forged_classified_invalid: bool,
    /// Client-side time from TCP connect to the finished CS handshake.
    pub cs_time: Duration,
    /// The same for the P2P handshake.
    pub p2p_time: Duration,
}

fn dta(step: &'static str) -> impl Fn(DtaError) -> DemoError {
    move |source| DemoError::Dta { step, source }
}

/// `n` D-TAs of one deployment.
fn dtas(deployment: Deployment) -> Result<Vec<MasterShare>, DemoError> {
    (0..deployment.dta_count())
        .map(|_| MasterShare::generate(deployment, &OsEntropy).map_err(dta("D-TA set-up")))
        .collect()
}

/// Issues one share from every D-TA and combines them.
fn issue_and_combine<K: Combine>(
    masters: &[MasterShare],
    step: &'static str,
    issue: impl Fn(&MasterShare) -> Result<milagro_tls::keys::Share<K>, DtaError>,
) -> Result<K, DemoError> {
    let shares = masters
        .iter()
        .map(&issue)
        .collect::<Result<Vec<_>, _>>()
        .map_err(dta(step))?;
    K::combine(&shares).map_err(dta(step))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1_000.0)
}

/// Runs the whole demo, writing its report to `out`: keys from in-process
/// D-TAs, then CS and P2P handshakes and echoes over real loopback sockets.
pub fn run(out: &mut dyn Write) -> Result<DemoReport, DemoError> {
    let now = unix_now().ok_or(DemoError::Clock)?;
    let today = day_of(now);
    // The epoch a client uses now (less its clock-skew allowance): a key for
    // epoch_of(now) is refused by the client in an epoch's first seconds.
    let epoch = p2p_tls::client_epoch(now, EPOCH_SECONDS);
    let digits = PinDigits::new(PIN_DIGITS)?;
    let alice = Identity::new(CS_CLIENT)?;
    let server_id = Identity::new(P2P_SERVER)?;
    let client_id = Identity::new(P2P_CLIENT)?;

    writeln!(
        out,
        "milagro-tls demo: {DTAS} in-process D-TAs per suite issue key shares; CS and P2P TLS servers on 127.0.0.1 (tokio, real sockets)"
    )?;

    // --- D-TAs and keys -------------------------------------------------
    let cs_dep = CsDeployment::new(DTAS, PermitPolicy::Required, &OsEntropy)
        .map_err(dta("CS deployment"))?;
    let p2p_dep =
        P2pDeployment::new(DTAS, EPOCH_SECONDS, &OsEntropy).map_err(dta("P2P deployment"))?;
    let cs_dtas = dtas(Deployment::Cs(cs_dep))?;
    let p2p_dtas = dtas(Deployment::P2p(p2p_dep))?;
    writeln!(
        out,
        "CS deployment {}: {DTAS} D-TAs, time permits required",
        cs_dep.id
    )?;
    writeln!(
        out,
        "P2P deployment {}: {DTAS} D-TAs, epoch length {EPOCH_SECONDS} s (current epoch {epoch})",
        p2p_dep.id
    )?;

    let server_secret: CsServerSecret =
        issue_and_combine(&cs_dtas, "CS server secret", |m| m.issue_cs_server_secret())?;
    let client_secret: CsClientSecret = issue_and_combine(&cs_dtas, "CS client secret", |m| {
        m.issue_cs_client_secret(&alice)
    })?;
    let permit: CsTimePermit = issue_and_combine(&cs_dtas, "CS time permit", |m| {
        m.issue_cs_time_permit(&alice, today)
    })?;
    let token = extract_pin(&client_secret, &Pin::parse(PIN, digits)?)?;
    drop(client_secret);
    let runtime = tokio::runtime::Runtime::new()?;
    let p2p_server_key: P2pServerKey = issue_and_combine(&p2p_dtas, "P2P server key", |m| {
        m.issue_p2p_server_key(&server_id, epoch)
    })?;
    let p2p_client_key: P2pClientKey = issue_and_combine(&p2p_dtas, "P2P client key", |m| {
        m.issue_p2p_client_key(&client_id, epoch)
    })?;
    writeln!(
        out,
        "issued by {DTAS} D-TAs and combined: CS server secret; client secret for {alice} \
         -> token + {PIN_DIGITS}-digit PIN; time permit for day {today} ({})",
        format_day(today)
    )?;
    writeln!(
        out,
        "issued by {DTAS} D-TAs and combined: P2P server key for {server_id}, P2P client key for {client_id} (epoch {epoch})"
    )?;

    // --- servers on real sockets -------------------------------------------
    let observer = Arc::new(RecordingObserver::new());
    let (cs_sync, classifier) =
        echo::cs_server(server_secret, digits, echo::guard_with(observer.clone()))
            .map_err(echo_err("CS server set-up"))?;
    // The P2P server throttles sources too (its own guard: P2P has no
    // per-identity state, only the per-source buckets).
    let p2p_sync = p2p_tls::server(
        p2p_server_key,
        p2p_tls::ServerOptions::new().guard(milagro_tls::guard::Guard::in_memory(
            milagro_tls::guard::GuardPolicy::default(),
        )),
    )
    .map_err(|e| echo_err("P2P server set-up")(e.into()))?;
    let cs_server = runtime.block_on(Server::start(TlsAcceptor::new(cs_sync)))?;
    let p2p_server = runtime.block_on(Server::start(TlsAcceptor::new(p2p_sync)))?;
    writeln!(
        out,
        "servers: CS on {}, P2P on {} (milagro-tls-tokio acceptors)",
        cs_server.addr, p2p_server.addr
    )?;

    // --- CS ---------------------------------------------------------------
    writeln!(out)?;
    writeln!(out, "[CS] {CS_SUITE_NAME}")?;
    writeln!(
        out,
        "  client {alice} (token + PIN + today's permit) -> CS server {} holding the CS server secret of deployment {}",
        cs_server.addr, cs_dep.id
    )?;
    let good = MilagroConnector::new(
        cs_tls::client(
            token.clone(),
            Pin::parse(PIN, digits)?,
            Some(permit.clone()),
        )
        .map_err(|e| echo_err("CS client set-up")(e.into()))?,
    );
    let (reply, seen) = runtime.block_on(round_trip(&good, &cs_server, CS_SERVICE, CS_MESSAGE))?;
    let cs_fingerprint = report_success(
        out,
        "CS exchange",
        &reply,
        &seen,
        CS_CLIENT,
        Suite::Cs,
        CS_SERVICE_IDENTITY,
    )?;
    let log = observer.take();
    if !log
        .iter()
        .any(|o| matches!(o, Outcome::Completed { hid, .. } if *hid == alice.cs_hid()))
    {
        return Err(DemoError::Unexpected {
            step: "CS server log",
            expected: format!("a completed handshake for {alice}"),
            got: format!("{log:?}"),
        });
    }
    let cs_time = reply.handshake;

    // --- P2P --------------------------------------------------------------
    writeln!(out)?;
    writeln!(out, "[P2P] {P2P_SUITE_NAME}")?;
    writeln!(
        out,
        "  client {client_id} -> server {server_id} on {} (deployment {})",
        p2p_server.addr, p2p_dep.id
    )?;
    let p2p_client = MilagroConnector::p2p(p2p_client_key);
    let (reply, seen) = runtime.block_on(round_trip(
        &p2p_client,
        &p2p_server,
        P2P_SERVER,
        P2P_MESSAGE,
    ))?;
    let p2p_fingerprint = report_success(
        out,
        "P2P exchange",
        &reply,
        &seen,
        P2P_CLIENT,
        Suite::P2p,
        P2P_SERVER,
    )?;
    let p2p_time = reply.handshake;

    // --- wrong PIN ----------------------------------------------------------
    writeln!(out)?;
    writeln!(
        out,
        "[CS, wrong PIN] {alice} enters {WRONG_PIN}; the registered PIN is {PIN}"
    )?;
    let bad = MilagroConnector::new(
        cs_tls::client(token, Pin::parse(WRONG_PIN, digits)?, Some(permit))
            .map_err(|e| echo_err("CS client set-up")(e.into()))?,
    );
    let start = Instant::now();
    let (result, seen) = runtime.block_on(async {
        let result = echo::exchange(&bad, cs_server.addr, CS_SERVICE, CS_MESSAGE).await;
        (result, cs_server.next_event().await)
    });
    let refused_in = start.elapsed();
    match result {
        Err(e) if is_credential_refused(&e) => {
            writeln!(
                out,
                "  client: {e} (one generic alert; the client learns nothing about the PIN)"
            )?;
        }
        Err(e) => {
            return Err(DemoError::Unexpected {
                step: "CS exchange with a wrong PIN",
                expected: "the client sees its credential refused".into(),
                got: e.to_string(),
            });
        }
        Ok(reply) => {
            return Err(DemoError::Unexpected {
                step: "CS exchange with a wrong PIN",
                expected: "the handshake is refused".into(),
                got: format!("echo {:?}", reply.echo),
            });
        }
    }
    match seen? {
        ServerEvent::Refused { source, reason } => writeln!(
            out,
            "  server-side: handshake from {source} refused: {reason}"
        )?,
        other => {
            return Err(DemoError::Unexpected {
                step: "CS server after a wrong PIN",
                expected: "a refused handshake".into(),
                got: other.to_string(),
            });
        }
    }
    // The classification is made off the handshake path (the classifier's
    // worker); wait for it. The observer hears the class, never δ.
    classifier.drain();
    let log = observer.take();
    let logged = log.iter().find_map(|o| match o {
        Outcome::WrongPin {
            hid,
            source,
            confirmed,
            cumulative,
        } if *hid == alice.cs_hid() => Some((*source, *confirmed, *cumulative)),
        _ => None,
    });
    let Some((source, confirmed, cumulative)) = logged else {
        return Err(DemoError::Unexpected {
            step: "CS server log after the wrong PIN",
            expected: "a WrongPin outcome".into(),
            got: format!("{log:?}"),
        });
    };
    if confirmed != 1 || cumulative != 1 {
        return Err(DemoError::Unexpected {
            step: "CS server log after the wrong PIN",
            expected: "confirmed 1, cumulative 1".into(),
            got: format!("confirmed {confirmed}, cumulative {cumulative}"),
        });
    }
    writeln!(
        out,
        "  server-side observer log (never sent to the client): wrong PIN for HID {}… from {source}: confirmed {confirmed}, cumulative {cumulative} (how far the PIN was off is not kept)",
        &hex::encode(alice.cs_hid().0)[..16]
    )?;
    writeln!(out, "  time to refusal (client side): {}", ms(refused_in))?;

    // --- forged credential -------------------------------------------------
    writeln!(out)?;
    writeln!(
        out,
        "[CS, forged credential] a token and permit for {alice} issued by another deployment's D-TA, with the right PIN {PIN}"
    )?;
    let forged = MilagroConnector::new(
        forged_client(&alice, today, digits)?
            .map_err(|e| echo_err("CS forged client set-up")(e.into()))?,
    );
    let (result, seen) = runtime.block_on(async {
        let result = echo::exchange(&forged, cs_server.addr, CS_SERVICE, CS_MESSAGE).await;
        (result, cs_server.next_event().await)
    });
    match result {
        Err(e) if is_credential_refused(&e) => {
            writeln!(out, "  client: {e} (the same alert as for the wrong PIN)")?
        }
        Err(e) => {
            return Err(DemoError::Unexpected {
                step: "CS exchange with a forged credential",
                expected: "the client sees its credential refused".into(),
                got: e.to_string(),
            });
        }
        Ok(reply) => {
            return Err(DemoError::Unexpected {
                step: "CS exchange with a forged credential",
                expected: "the handshake is refused".into(),
                got: format!("echo {:?}", reply.echo),
            });
        }
    }
    if let ServerEvent::Refused { source, reason } = seen? {
        writeln!(
            out,
            "  server-side: handshake from {source} refused: {reason}"
        )?;
    }
    classifier.drain();
    let log = observer.take();
    let invalid = log
        .iter()
        .any(|o| matches!(o, Outcome::InvalidCredential { hid, .. } if *hid == alice.cs_hid()));
    let counted = log
        .iter()
        .any(|o| matches!(o, Outcome::WrongPin { hid, .. } if *hid == alice.cs_hid()));
    if !invalid || counted {
        return Err(DemoError::Unexpected {
            step: "CS server log after the forged credential",
            expected: "an InvalidCredential outcome and no wrong PIN".into(),
            got: format!("{log:?}"),
        });
    }
    writeln!(
        out,
        "  server-side observer log (never sent to the client): invalid credential for HID {}…: not a wrong PIN, not counted against {alice}",
        &hex::encode(alice.cs_hid().0)[..16]
    )?;

    writeln!(out)?;
    writeln!(out, "all checks passed")?;
    drop(runtime);
    Ok(DemoReport {
        cs_fingerprint,
        p2p_fingerprint,
        wrong_pin_counts: (confirmed, cumulative),
        forged_classified_invalid: invalid,
        cs_time,
        p2p_time,
    })
}

/// The SNI the demo's CS client sends (CS servers are authenticated per
/// deployment; the name is informational).
pub const CS_SERVICE: &str = "service.example";
/// The identity in the CS server's blob (the library's default service name).
pub const CS_SERVICE_IDENTITY: &str = "milagro-cs";
/// The line the CS client sends.
pub const CS_MESSAGE: &str = "hello from alice over CS";
/// The line the P2P client sends.
pub const P2P_MESSAGE: &str = "hello from client.example over P2P";
/// How long the demo waits for a server-side event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A CS client for `identity` whose token and permit (for `today`) come from
/// a one-D-TA deployment other than the server's: a well-formed key share
/// with a valid proof of knowledge that no PIN error explains (an "invalid
/// credential" for the server's classifier). The outer error is the demo's,
/// the inner one building the client configuration.
fn forged_client(
    identity: &Identity,
    today: u32,
    digits: PinDigits,
) -> Result<Result<milagro_tls::MilagroClient, MilagroError>, DemoError> {
    let other = CsDeployment::new(1, PermitPolicy::Required, &OsEntropy)
        .map_err(dta("forged deployment"))?;
    let dtas = dtas(Deployment::Cs(other))?;
    let secret: CsClientSecret = issue_and_combine(&dtas, "forged client secret", |m| {
        m.issue_cs_client_secret(identity)
    })?;
    let permit: CsTimePermit = issue_and_combine(&dtas, "forged time permit", |m| {
        m.issue_cs_time_permit(identity, today)
    })?;
    let token = extract_pin(&secret, &Pin::parse(PIN, digits)?)?;
    Ok(cs_tls::client(
        token,
        Pin::parse(PIN, digits)?,
        Some(permit),
    ))
}

fn echo_err(step: &'static str) -> impl Fn(EchoError) -> DemoError {
    move |source| DemoError::Echo {
        step,
        source: Box::new(source),
    }
}

fn is_credential_refused(e: &EchoError) -> bool {
    matches!(
        e,
        EchoError::Config(MilagroError::CredentialRefused)
            | EchoError::Connect(ConnectError::Milagro(MilagroError::CredentialRefused))
    )
}

/// A tokio server task on 127.0.0.1:0 and the events it reports.
struct Server {
    addr: SocketAddr,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<ServerEvent>>,
}

impl Server {
    async fn start(acceptor: TlsAcceptor) -> Result<Self, DemoError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(echo::serve(
            acceptor,
            listener,
            Arc::new(move |event| {
                let _ = tx.send(event);
            }),
        ));
        Ok(Self {
            addr,
            events: tokio::sync::Mutex::new(rx),
        })
    }

    /// The next handshake outcome (accepted, refused or standard); the end
    /// of an earlier connection's echo is not one and is skipped.
    async fn next_event(&self) -> Result<ServerEvent, DemoError> {
        let mut rx = self.events.lock().await;
        let next = async {
            loop {
                match rx.recv().await {
                    Some(ServerEvent::Ended { .. }) => continue,
                    other => return other,
                }
            }
        };
        match tokio::time::timeout(EVENT_TIMEOUT, next).await {
            Ok(Some(event)) => Ok(event),
            _ => Err(DemoError::Unexpected {
                step: "server-side event",
                expected: "the server reports the connection".into(),
                got: "nothing".into(),
            }),
        }
    }
}

/// One echo exchange and what the server saw of it.
async fn round_trip(
    connector: &MilagroConnector,
    server: &Server,
    server_name: &str,
    message: &str,
) -> Result<(EchoReply, ServerEvent), DemoError> {
    let reply = echo::exchange(connector, server.addr, server_name, message)
        .await
        .map_err(echo_err("echo exchange"))?;
    Ok((reply, server.next_event().await?))
}

/// Checks and prints a successful exchange: both sides' identities, the echo,
/// the same exported keying material on both sides, the handshake time.
fn report_success(
    out: &mut dyn Write,
    step: &'static str,
    reply: &EchoReply,
    seen: &ServerEvent,
    client: &str,
    suite: Suite,
    server_identity: &str,
) -> Result<String, DemoError> {
    let ServerEvent::Accepted {
        identity,
        suite: got_suite,
        source,
        exporter,
    } = seen
    else {
        return Err(DemoError::Unexpected {
            step,
            expected: format!("the server authenticates {client}"),
            got: seen.to_string(),
        });
    };
    if identity != client || *got_suite != suite {
        return Err(DemoError::Unexpected {
            step,
            expected: format!("{client} via {}", echo::suite_name(suite)),
            got: seen.to_string(),
        });
    }
    if reply.server_identity != server_identity {
        return Err(DemoError::Unexpected {
            step,
            expected: format!("server identity {server_identity}"),
            got: reply.server_identity.clone(),
        });
    }
    writeln!(
        out,
        "  server-side: authenticated client {identity} via {} from {source}",
        echo::suite_name(*got_suite)
    )?;
    writeln!(
        out,
        "  client-side: authenticated server {}; echo {:?} came back unchanged",
        reply.server_identity, reply.echo
    )?;
    let (Some(c), Some(s)) = (&reply.exporter, exporter) else {
        return Err(DemoError::Unexpected {
            step,
            expected: "exported keying material on both sides".into(),
            got: "none".into(),
        });
    };
    if c != s {
        return Err(DemoError::SecretsDiffer(step));
    }
    writeln!(
        out,
        "  shared secret: client {c} = server {s} (first 4 bytes of the SHA-256 of TLS keying material each side exported)"
    )?;
    writeln!(
        out,
        "  handshake time: {} (TCP connect to finished handshake, client side)",
        ms(reply.handshake)
    )?;
    Ok(c.clone())
}
