//! TLS configurations for the CS suite (M-Pin, `TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256`).
//!
//! * [`client`]: a [`MilagroClient`] from a token, a PIN and (permits
//!   required) today's time permit. The checks the client can make itself
//!   (no permit for today, a permit of another identity or deployment) fail
//!   here and again at each connection, before anything is sent.
//! * [`server`]: a [`MilagroAcceptor`] from the server secret, a
//!   [`Guard`] (lockout, replay, throttle) and a [`Classifier`]. It runs the
//!   whole server side of docs/protocol.md §6.4 in
//!   [`MilagroAcceptor::accept`].
//!
//! A refused credential (wrong PIN, missing or stale permit, lockout, a clock
//! outside the window, another deployment's key) reaches the client as
//! `illegal_parameter`; map it with [`map_client_error`] to
//! [`MilagroError::CredentialRefused`] ("Milagro credential refused (PIN,
//! permit, lockout or clock)").
//!
//! ```
//! use milagro_tls::cs_tls;
//! use milagro_tls::dta::Combine;
//! use milagro_tls::guard::{Guard, GuardPolicy};
//! use milagro_tls::identity::Identity;
//! use milagro_tls::keys::{CsDeployment, CsClientSecret, CsServerSecret, Deployment, MasterShare, PermitPolicy};
//! use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
//! use milagro_tls::pairing::OsEntropy;
//! use milagro_tls::Classifier;
//!
//! // Two D-TAs set up a deployment without time permits.
//! let dep = CsDeployment::new(2, PermitPolicy::Off, &OsEntropy)?;
//! let dtas = [
//!     MasterShare::generate(Deployment::Cs(dep), &OsEntropy)?,
//!     MasterShare::generate(Deployment::Cs(dep), &OsEntropy)?,
//! ];
//! let alice = Identity::new("alice@example.com")?;
//! let ss = CsServerSecret::combine(&[dtas[0].issue_cs_server_secret()?, dtas[1].issue_cs_server_secret()?])?;
//! let cs = CsClientSecret::combine(&[
//!     dtas[0].issue_cs_client_secret(&alice)?,
//!     dtas[1].issue_cs_client_secret(&alice)?,
//! ])?;
//! let digits = PinDigits::new(4)?;
//! let token = extract_pin(&cs, &Pin::parse("1234", digits)?)?;
//!
//! let client = cs_tls::client(token, Pin::parse("1234", digits)?, None)?;
//! let acceptor = cs_tls::server(
//!     ss,
//!     cs_tls::ServerOptions::new(Guard::in_memory(GuardPolicy::default()), Classifier::new(1)?)
//!         .pin_digits(digits),
//! )?;
//! // `client.connect("service.example")` gives a rustls ClientConnection;
//! // `acceptor.accept(source_ip, &mut socket, &mut socket)` the server side.
//! let _conn = client.connect("service.example")?;
//! # let _ = acceptor;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::guard::Classifier;
use crate::guard::{Guard, ReplayPolicy};
use crate::identity::Identity;
use crate::keys::{CsServerSecret, CsTimePermit, CsToken};
use crate::mpin::{Pin, PinDigits, PreparedServerSecret, ShareChecks};
use crate::rustls_glue::accept::MilagroAcceptor;
use crate::rustls_glue::admission::Admission;
use crate::rustls_glue::config::{MilagroClient, MilagroServer};
use crate::rustls_glue::engine::{CsClientKx, CsServerKx, unix_now};
pub use crate::rustls_glue::error::{MilagroError, map_client_error};

/// A CS client configuration for `token` and `pin`, with today's `permit`
/// when the deployment requires permits (`None` when it does not).
///
/// Fails before anything is sent with [`MilagroError::KeyUnusable`] when the
/// permit does not fit (none for today, another identity or deployment, or a
/// permit in a deployment without permits); a wrong PIN is only found by the
/// server. Each connection repeats the check at its own time.
pub fn client(
    token: CsToken,
    pin: Pin,
    permit: Option<CsTimePermit>,
) -> Result<MilagroClient, MilagroError> {
    client_at(token, pin, permit, unix_now)
}

/// [`client`] with the clock `now` (unix seconds) instead of the system
/// clock: the client's day and share time `t` come from it, per connection.
/// For an application with its own time source, and for tests of what a
/// client whose clock is off sees (the server refuses its share at step 1 of
/// docs/protocol.md §6.4, and the client reports
/// [`MilagroError::CredentialRefused`]). Fails as [`client`] does.
pub fn client_at(
    token: CsToken,
    pin: Pin,
    permit: Option<CsTimePermit>,
    now: fn() -> u64,
) -> Result<MilagroClient, MilagroError> {
    let identity = token.identity().clone();
    let kx = CsClientKx::new(token, pin, permit, now).map_err(MilagroError::KeyUnusable)?;
    let day = kx.check().map_err(MilagroError::KeyUnusable)?;
    MilagroClient::new(Arc::new(kx), identity, day, None)
}

/// The server's tunables besides its secret: the guard (required: lockout,
/// replay cache, throttle), the classifier, the PIN length, the time window
/// and the informational service name of the server's identity blob.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    guard: Guard,
    classifier: Classifier,
    digits: PinDigits,
    window_secs: Option<u64>,
    service: Option<Identity>,
}

impl ServerOptions {
    /// Options with `guard` and `classifier`, 6-digit PINs, the default 30 s
    /// window and service name `milagro-cs`.
    pub fn new(guard: Guard, classifier: Classifier) -> Self {
        Self {
            guard,
            classifier,
            digits: PinDigits::DEFAULT,
            window_secs: None,
            service: None,
        }
    }

    /// The deployment's PIN length (bounds the classifier's δ search).
    pub fn pin_digits(self, digits: PinDigits) -> Self {
        Self { digits, ..self }
    }

    /// The allowed `|t − now|` in seconds (default
    /// [`crate::mpin::DEFAULT_TIME_WINDOW_SECS`]). The guard's replay window
    /// must cover it (`≥ 2 × secs + 2 s`, e.g. a guard built from
    /// `GuardPolicy::default().with_clock_window(Duration::from_secs(secs))`),
    /// else [`server`] fails with [`MilagroError::ReplayWindowTooShort`].
    pub fn time_window(self, secs: u64) -> Self {
        Self {
            window_secs: Some(secs),
            ..self
        }
    }

    /// The service name in the server's identity blob (informational: CS
    /// server authentication is per deployment).
    pub fn service_name(self, service: Identity) -> Self {
        Self {
            service: Some(service),
            ..self
        }
    }
}

/// A CS acceptor for `server_secret`. Add standard (non-Milagro) clients on
/// the same listener with [`MilagroAcceptor::with_standard`].
///
/// Fails with [`MilagroError::ReplayWindowTooShort`] when the guard's replay
/// window does not cover the time window (a replay gap, docs/protocol.md
/// §6.4 step 2.4), [`MilagroError::Provider`] when too many Milagro keys are
/// alive in the process, or [`MilagroError::KeyUnusable`] if the RNG fails.
pub fn server(
    server_secret: CsServerSecret,
    options: ServerOptions,
) -> Result<MilagroAcceptor, MilagroError> {
    server_at(server_secret, options, unix_now)
}

pub(crate) fn server_at(
    server_secret: CsServerSecret,
    options: ServerOptions,
    now: fn() -> u64,
) -> Result<MilagroAcceptor, MilagroError> {
    let window_secs = options
        .window_secs
        .unwrap_or(crate::mpin::DEFAULT_TIME_WINDOW_SECS);
    let window = Duration::from_secs(window_secs);
    if !options.guard.covers_clock_window(window) {
        return Err(MilagroError::ReplayWindowTooShort {
            window_secs,
            replay_window: options.guard.replay_window(),
            needed: ReplayPolicy::min_window(window),
        });
    }
    let prepared = Arc::new(PreparedServerSecret::new(&server_secret));
    drop(server_secret);
    let mut checks = ShareChecks::new(prepared.deployment().permits);
    if let Some(w) = options.window_secs {
        checks = checks.with_window(w);
    }
    let kx = CsServerKx::new(prepared.clone(), checks, now).map_err(MilagroError::KeyUnusable)?;
    let service = match options.service {
        Some(s) => s,
        None => Identity::new("milagro-cs").map_err(|_| MilagroError::SuiteMismatch)?,
    };
    let admission = Admission::Cs {
        server: prepared,
        checks,
        guard: options.guard,
        classifier: options.classifier,
        digits: options.digits,
        now,
    };
    let server = MilagroServer::with_admission(Arc::new(kx), service, 0, admission)?;
    MilagroAcceptor::new(Arc::new(server), None).ok_or(MilagroError::SuiteMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dta::Combine;
    use crate::guard::GuardPolicy;
    use crate::keys::{CsDeployment, Deployment, MasterShare, PermitPolicy};
    use crate::pairing::OsEntropy;

    fn secret() -> CsServerSecret {
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
        CsServerSecret::combine(&[dta.issue_cs_server_secret().unwrap()]).unwrap()
    }

    fn build(policy: GuardPolicy, window: Option<u64>) -> Result<MilagroAcceptor, MilagroError> {
        let mut options = ServerOptions::new(Guard::in_memory(policy), Classifier::new(1).unwrap());
        if let Some(w) = window {
            options = options.time_window(w);
        }
        server(secret(), options)
    }

    #[test]
    fn a_time_window_the_replay_cache_does_not_cover_is_refused() {
        // The default guard remembers (HID, U) for 62 s: a 120 s window
        // would leave a share replayable for up to ~180 s after its entry
        // expired.
        let err = build(GuardPolicy::default(), Some(120)).err().unwrap();
        assert!(
            matches!(
                err,
                MilagroError::ReplayWindowTooShort {
                    window_secs: 120,
                    replay_window,
                    needed,
                } if replay_window == Duration::from_secs(62) && needed == Duration::from_secs(242)
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the guard's replay window (62s) is shorter than the 242s a 120 s time window needs \
             (2 × window + 2 s); build the guard with GuardPolicy::with_clock_window"
        );
        // One second past what the default covers is refused too.
        assert!(build(GuardPolicy::default(), Some(31)).is_err());
        // The default window, an explicit 30 s, and a guard built for the
        // window are fine.
        assert!(build(GuardPolicy::default(), None).is_ok());
        assert!(build(GuardPolicy::default(), Some(30)).is_ok());
        let p = GuardPolicy::default().with_clock_window(Duration::from_secs(120));
        assert!(build(p, Some(120)).is_ok());
    }
}
