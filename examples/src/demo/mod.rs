//! The `demo` program: three in-process D-TAs per suite issue key shares, the
//! holders combine them, and both key agreements run end to end, then a
//! wrong-PIN attempt is refused and classified.
//!
//! [`run`] checks every step and fails with a [`DemoError`] naming the step;
//! it returns a [`DemoReport`] with what it observed (fingerprints only, never
//! a secret). The key shares travel through a [`Transport`]; [`InMemory`]
//! is the one used today (see [`exchange`]).

pub mod exchange;

use std::io::Write;
use std::time::Duration;

use milagro_tls::dta::{Combine, DtaError};
use milagro_tls::guard::Outcome;
use milagro_tls::identity::{Identity, IdentityError};
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, day_of, epoch_of,
};
use milagro_tls::mpin::{CsError, Pin, PinDigits, PinError, extract_pin};
use milagro_tls::p2p::{P2pClient, P2pError, P2pServer};
use milagro_tls::pairing::OsEntropy;

pub use exchange::{CsClient, CsRefusal, CsServer, InMemory, Transport};

use crate::time::{format_day, unix_now};
use crate::{CS_SUITE_NAME, P2P_SUITE_NAME, fingerprint};

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
/// The PIN of the wrong-PIN attempt: δ = 1243 − 1234 = +9.
pub const WRONG_PIN: &str = "1243";
/// The δ the server must find for [`WRONG_PIN`].
pub const EXPECTED_DELTA: i64 = 9;

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
    /// Standard output failed.
    #[error("cannot write the demo's output: {0}")]
    Output(#[from] std::io::Error),
}

/// What the demo observed (public values only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// SHA-256 fingerprint of the CS secret, as computed by both sides.
    pub cs_fingerprint: String,
    /// SHA-256 fingerprint of the P2P secret, as computed by both sides.
    pub p2p_fingerprint: String,
    /// The δ the server classified for the wrong PIN.
    pub wrong_pin_delta: i64,
    /// Time of the CS exchange.
    pub cs_time: Duration,
    /// Time of the P2P exchange.
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

fn check_secrets(
    step: &'static str,
    client: &[u8; 32],
    server: &[u8; 32],
) -> Result<(String, String), DemoError> {
    // No early exit on the first differing byte.
    let diff = client
        .iter()
        .zip(server)
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    if diff == 0 {
        Ok((fingerprint(client), fingerprint(server)))
    } else {
        Err(DemoError::SecretsDiffer(step))
    }
}

/// Runs the whole demo over `transport`, writing its report to `out`.
pub fn run_with(out: &mut dyn Write, transport: &dyn Transport) -> Result<DemoReport, DemoError> {
    let now = unix_now().ok_or(DemoError::Clock)?;
    let today = day_of(now);
    let epoch = epoch_of(now, EPOCH_SECONDS);
    let digits = PinDigits::new(PIN_DIGITS)?;
    let alice = Identity::new(CS_CLIENT)?;
    let server_id = Identity::new(P2P_SERVER)?;
    let client_id = Identity::new(P2P_CLIENT)?;

    writeln!(
        out,
        "milagro-tls demo: {DTAS} in-process D-TAs per suite issue key shares; both key agreements run in memory"
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
    let token = extract_pin(&client_secret, &Pin::parse(PIN, digits)?);
    drop(client_secret);
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

    // --- CS ---------------------------------------------------------------
    let cs_server = CsServer::new(&server_secret, digits)?;
    let good = CsClient {
        token: token.clone(),
        pin: Pin::parse(PIN, digits)?,
        permit: Some(permit.clone()),
    };
    writeln!(out)?;
    writeln!(out, "[CS] {CS_SUITE_NAME}")?;
    writeln!(
        out,
        "  client {alice} (token + PIN + today's permit) -> server holding the CS server secret of deployment {}",
        cs_dep.id
    )?;
    let run = transport.cs(&good, &cs_server, now)?;
    let server = run.server.map_err(|r| DemoError::Unexpected {
        step: "CS exchange with the right PIN",
        expected: "the server accepts the key share".into(),
        got: format!("refused: {r}"),
    })?;
    let client = run.client.ok_or_else(|| DemoError::Unexpected {
        step: "CS exchange with the right PIN",
        expected: "the client completes".into(),
        got: "no server share".into(),
    })?;
    let (cs_fingerprint, server_fingerprint) = check_secrets("CS exchange", &client, &server)?;
    let log = cs_server.take_log();
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
    writeln!(
        out,
        "  shared secret: client {cs_fingerprint} = server {server_fingerprint} (first 4 bytes of its SHA-256)"
    )?;
    writeln!(out, "  time: {}", ms(run.elapsed))?;
    let cs_time = run.elapsed;

    // --- P2P --------------------------------------------------------------
    writeln!(out)?;
    writeln!(out, "[P2P] {P2P_SUITE_NAME}")?;
    writeln!(out, "  client {client_id} -> server {server_id}")?;
    let p2p_server = P2pServer::new(p2p_server_key, None).map_err(|source| DemoError::P2p {
        step: "P2P server set-up",
        source,
    })?;
    let p2p_client =
        P2pClient::new(p2p_client_key, server_id.clone(), Some(p2p_dep.id)).map_err(|source| {
            DemoError::P2p {
                step: "P2P client set-up",
                source,
            }
        })?;
    let run = transport.p2p(&p2p_client, &p2p_server, now)?;
    let (p2p_fingerprint, server_fingerprint) =
        check_secrets("P2P exchange", &run.client, &run.server)?;
    writeln!(
        out,
        "  shared secret: client {p2p_fingerprint} = server {server_fingerprint} (first 4 bytes of its SHA-256)"
    )?;
    writeln!(out, "  time: {}", ms(run.elapsed))?;
    let p2p_time = run.elapsed;

    // --- wrong PIN ----------------------------------------------------------
    writeln!(out)?;
    writeln!(
        out,
        "[CS, wrong PIN] {alice} enters {WRONG_PIN}; the registered PIN is {PIN}"
    )?;
    let bad = CsClient {
        token,
        pin: Pin::parse(WRONG_PIN, digits)?,
        permit: Some(permit),
    };
    let wrong = transport.cs(&bad, &cs_server, now)?;
    let delta = match (&wrong.server, &wrong.client) {
        (Err(CsRefusal::WrongPin { delta }), None) => *delta,
        (server, client) => {
            return Err(DemoError::Unexpected {
                step: "CS exchange with a wrong PIN",
                expected: "the server refuses and classifies a wrong PIN".into(),
                got: match server {
                    Ok(_) => "the server accepted".into(),
                    Err(r) if client.is_none() => format!("refused: {r}"),
                    Err(r) => format!("refused ({r}) but the client got a server share"),
                },
            });
        }
    };
    if delta != EXPECTED_DELTA {
        return Err(DemoError::Unexpected {
            step: "wrong-PIN classification",
            expected: format!("δ = {EXPECTED_DELTA:+}"),
            got: format!("δ = {delta:+}"),
        });
    }
    writeln!(
        out,
        "  client: handshake refused (one generic alert; the client learns nothing about the PIN)"
    )?;
    let log = cs_server.take_log();
    let logged = log.iter().find_map(|o| match o {
        Outcome::WrongPin {
            hid,
            source,
            delta,
            confirmed,
            cumulative,
        } if *hid == alice.cs_hid() => Some((*source, *delta, *confirmed, *cumulative)),
        _ => None,
    });
    let Some((source, logged_delta, confirmed, cumulative)) = logged else {
        return Err(DemoError::Unexpected {
            step: "CS server log after the wrong PIN",
            expected: "a WrongPin outcome".into(),
            got: format!("{log:?}"),
        });
    };
    if logged_delta != EXPECTED_DELTA || confirmed != 1 || cumulative != 1 {
        return Err(DemoError::Unexpected {
            step: "CS server log after the wrong PIN",
            expected: format!("δ = {EXPECTED_DELTA:+}, confirmed 1, cumulative 1"),
            got: format!("δ = {logged_delta:+}, confirmed {confirmed}, cumulative {cumulative}"),
        });
    }
    writeln!(
        out,
        "  server-side observer log (never sent to the client): wrong PIN for HID {}… from {source}: δ = {logged_delta:+}, confirmed {confirmed}, cumulative {cumulative}",
        &hex::encode(alice.cs_hid().0)[..16]
    )?;
    writeln!(
        out,
        "  time (including classification): {}",
        ms(wrong.elapsed)
    )?;

    writeln!(out)?;
    writeln!(out, "all checks passed")?;
    Ok(DemoReport {
        cs_fingerprint,
        p2p_fingerprint,
        wrong_pin_delta: delta,
        cs_time,
        p2p_time,
    })
}

/// Runs the demo in memory ([`InMemory`]).
pub fn run(out: &mut dyn Write) -> Result<DemoReport, DemoError> {
    run_with(out, &InMemory)
}
