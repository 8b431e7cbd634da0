//! Errors of the rustls glue: why a server did not accept a connection and
//! the alert it sent ([`refusal_alert`]), why a completed connection failed
//! its post-handshake checks, and the client-side mapping of rustls errors to
//! ones a user can act on (docs/protocol.md §8.4.5).

use std::io;

use rustls::{AlertDescription, ClientConnection, Error};

use super::admission::AdmissionRefusal;
use super::engine::KxError;
use super::provider::ProviderError;
use crate::guard::Refusal;
use crate::suite::Suite;
use crate::tls::{
    ClientHelloError, HANDSHAKE_FAILURE_ALERT, ILLEGAL_PARAMETER_ALERT, INTERNAL_ERROR_ALERT,
    OfferRefusal,
};

/// What went wrong building, connecting or handshaking a Milagro connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MilagroError {
    /// The server refused the key share with `illegal_parameter` before any
    /// ServerHello: a wrong PIN, a lockout (silent: the same alert), a
    /// missing or stale permit, a clock outside the window (step 1 of
    /// docs/protocol.md §6.4), a replayed share, or a key from another
    /// deployment. The client is deliberately not told which (§8.4.5).
    #[error("Milagro credential refused (PIN, permit, lockout or clock)")]
    CredentialRefused,
    /// A Milagro server refused the attempt with `internal_error` before any
    /// ServerHello, for its load or this client's address rather than the
    /// credential: the source is throttled, or the server is busy
    /// (docs/protocol.md §6.4 step 1 check 5, §8.4.5). Nothing was counted
    /// against the identity; retrying later works.
    #[error(
        "the Milagro server is busy or is throttling this address (nothing was counted against the credential): try again later"
    )]
    ServerBusy,
    /// The server answered the ClientHello with `handshake_failure` before
    /// choosing a cipher suite. From a standard TLS server (OpenSSL, a plain
    /// rustls server …) this means it does not speak the Milagro group the
    /// client offers — the only group a Milagro client may offer
    /// (docs/protocol.md §8.4.1). A Milagro server sends this alert only for a ClientHello whose
    /// form it refuses (never for a genuine client's credential, clock or
    /// load: those are [`CredentialRefused`](Self::CredentialRefused) and
    /// [`ServerBusy`](Self::ServerBusy)).
    #[error(
        "the server refused the handshake before any key exchange (handshake_failure): it does not serve the Milagro group {} (0x{:04X}) this client offers (or, P2P, the server name asked for)",
        suite.group_name(),
        suite.group()
    )]
    GroupNotSupported {
        /// The suite whose group the client offered.
        suite: Suite,
    },
    /// A P2P client was asked to connect to a name other than its configured
    /// server identity; nothing was sent.
    #[error("server name {got:?} is not the configured Milagro server identity \"{expected}\"")]
    ServerNameMismatch {
        /// The configured, canonical server identity.
        expected: crate::identity::Identity,
        /// The name asked for.
        got: String,
    },
    /// The name is not a valid TLS server name (DNS name or IP address).
    #[error("{0:?} is not a valid TLS server name")]
    InvalidServerName(String),
    /// A P2P client configuration needs the server identity ID_A.
    #[error("a P2P client configuration needs the server's identity")]
    MissingServerIdentity,
    /// The key given to a builder belongs to another suite than expected.
    #[error("the key's suite does not match the configuration")]
    SuiteMismatch,
    /// The client's own key cannot be used now (no permit for today, an
    /// expired epoch, a key of another deployment …); nothing was sent.
    #[error("the Milagro key cannot be used: {0}")]
    KeyUnusable(super::engine::KxError),
    /// Keys given to a builder do not belong together (another identity,
    /// deployment or a non-adjacent epoch).
    #[error("the Milagro keys do not fit together: {0}")]
    KeyMismatch(crate::p2p::P2pError),
    /// A P2P server's keys are for neither the current epoch (by its clock)
    /// nor the one before, so it could accept no client
    /// ([`crate::p2p::P2pError::ServerKeysNotCurrent`]); refused unless the
    /// caller explicitly allows stale keys.
    #[error("{0} (refusing to start; allow_stale_keys overrides)")]
    ServerKeysNotCurrent(crate::p2p::P2pError),
    /// A CS server's client-time window is not covered by its guard's
    /// replay window (`replay window ≥ 2 × window + 2 s`, docs/protocol.md
    /// §6.4 step 2.4): a captured ClientHello could be replayed after its
    /// replay-cache entry expired. Build the guard with
    /// `GuardPolicy::with_clock_window` for this window.
    #[error(
        "the guard's replay window ({replay_window:?}) is shorter than the {needed:?} a {window_secs} s time window needs (2 × window + 2 s); build the guard with GuardPolicy::with_clock_window"
    )]
    ReplayWindowTooShort {
        /// The server's client-time window, in seconds.
        window_secs: u64,
        /// The guard's replay window.
        replay_window: std::time::Duration,
        /// The shortest replay window that covers `window_secs`.
        needed: std::time::Duration,
    },
    /// The process-wide bound on live Milagro keys was hit.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Any other TLS error.
    #[error(transparent)]
    Tls(#[from] Error),
}

impl MilagroError {
    /// The typed reason a Milagro key exchange gave, if this error came from
    /// one: a key that could not be used ([`MilagroError::KeyUnusable`]) or a
    /// server share the client refused (e.g. `MalformedShare("W")` for an
    /// identity point or a point outside the subgroup), which rustls carries
    /// inside [`MilagroError::Tls`]. `None` for every other error.
    pub fn key_exchange_reason(&self) -> Option<super::engine::KxError> {
        match self {
            Self::KeyUnusable(reason) => Some(reason.clone()),
            Self::Tls(err) => super::kx::kx_reason(err),
            _ => None,
        }
    }
}

/// Maps a client-side rustls error to a [`MilagroError`]. Before any
/// ServerHello (no cipher suite negotiated yet), an `illegal_parameter` alert
/// is the server refusing the key share ([`MilagroError::CredentialRefused`])
/// and an `internal_error` alert a Milagro server refusing for its load or
/// this address ([`MilagroError::ServerBusy`]); anything else stays a TLS
/// error. [`map_client_error_for`] also names the missing group when the
/// server answers with `handshake_failure`.
pub fn map_client_error(conn: &ClientConnection, err: Error) -> MilagroError {
    map_refusal(None, err, conn.negotiated_cipher_suite().is_none())
}

/// The mapping of [`map_client_error_for`] (or, with `suite = None`, of
/// [`map_client_error`]) for a client that knows by other means whether the
/// server's answer came before any ServerHello (`before_server_hello`), e.g.
/// an async adapter watching the transport. Every alert a Milagro server
/// sends before its ServerHello maps to the typed error docs/protocol.md
/// §8.4.5 names: `illegal_parameter` → [`MilagroError::CredentialRefused`],
/// `internal_error` → [`MilagroError::ServerBusy`], `handshake_failure` →
/// [`MilagroError::GroupNotSupported`] (when `suite` is known). Anything
/// else, and any alert after the ServerHello, stays [`MilagroError::Tls`].
pub fn map_refusal(suite: Option<Suite>, err: Error, before_server_hello: bool) -> MilagroError {
    if !before_server_hello {
        return MilagroError::Tls(err);
    }
    match (err, suite) {
        (Error::AlertReceived(AlertDescription::IllegalParameter), _) => {
            MilagroError::CredentialRefused
        }
        (Error::AlertReceived(AlertDescription::InternalError), _) => MilagroError::ServerBusy,
        (Error::AlertReceived(AlertDescription::HandshakeFailure), Some(suite)) => {
            MilagroError::GroupNotSupported { suite }
        }
        (other, _) => MilagroError::Tls(other),
    }
}

/// The plaintext alert the accept path writes for `err`, a refusal before
/// any key exchange (docs/protocol.md §6.4 step 1, §8.4.4):
///
/// * step 1 refused the key share for its own bytes (length, day, X ≠ U,
///   clock window, replay; a share that cannot be bound) →
///   [`ILLEGAL_PARAMETER_ALERT`], the alert of a refused credential;
/// * step 1 refused for the source or the server (throttled, source table
///   full, classifier busy, replay cache full, reservation expired) →
///   [`INTERNAL_ERROR_ALERT`] ("try again later": per source or global,
///   never per identity);
/// * everything else (a malformed ClientHello, a refused offer, a standard
///   client on a Milagro-only listener) → [`HANDSHAKE_FAILURE_ALERT`].
///
/// Per-identity guard refusals never come here: they are silent (a forced
/// key-exchange failure, rustls's `illegal_parameter`).
pub fn refusal_alert(err: &AcceptError) -> &'static [u8; 7] {
    match err {
        AcceptError::Admission(AdmissionRefusal::Cs(_) | AdmissionRefusal::P2p(_)) => {
            &ILLEGAL_PARAMETER_ALERT
        }
        AcceptError::Admission(AdmissionRefusal::Guard(r)) => guard_refusal_alert(*r),
        AcceptError::KeyExchange(_) => &ILLEGAL_PARAMETER_ALERT,
        _ => &HANDSHAKE_FAILURE_ALERT,
    }
}

/// A guard refusal sent in plaintext: `Replay` is about the share's own
/// bytes; a per-identity refusal (which the accept path sends silently
/// instead) would look like a refused credential; every other refusal is
/// per source or global.
fn guard_refusal_alert(r: Refusal) -> &'static [u8; 7] {
    match r {
        Refusal::Replay => &ILLEGAL_PARAMETER_ALERT,
        r if r.is_per_identity() => &ILLEGAL_PARAMETER_ALERT,
        _ => &INTERNAL_ERROR_ALERT,
    }
}

/// Maps the error of creating a client connection (rustls's
/// `ClientConnection::new`, which starts the key exchange and builds the
/// ClientHello, so nothing was sent yet): a refusal by the Milagro key
/// exchange to start (an unusable key, an expired permit or epoch …) is
/// [`MilagroError::KeyUnusable`]; anything else stays a TLS error.
pub fn map_connect_error(err: Error) -> MilagroError {
    match super::kx::kx_reason(&err) {
        Some(reason) => MilagroError::KeyUnusable(reason),
        None => MilagroError::Tls(err),
    }
}

/// [`map_client_error`] for a client of `suite` (its
/// [`MilagroClient::suite`](super::config::MilagroClient::suite)), which
/// additionally maps a `handshake_failure` alert received before any cipher
/// suite was negotiated to [`MilagroError::GroupNotSupported`], naming the
/// group (e.g. a standard TLS server that lacks it).
pub fn map_client_error_for(suite: Suite, conn: &ClientConnection, err: Error) -> MilagroError {
    map_refusal(Some(suite), err, conn.negotiated_cipher_suite().is_none())
}

/// Why the accept path refused a ClientHello before any key exchange (it
/// sent the plaintext `handshake_failure` alert).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptRefusal {
    /// The client's first bytes are not a well-formed ClientHello.
    #[error("malformed ClientHello")]
    ClientHello(#[from] ClientHelloError),
    /// A ClientHello naming a Milagro group breaks the offer rules.
    #[error("Milagro offer refused")]
    Offer(#[from] OfferRefusal),
    /// The client offers the other suite's Milagro group.
    #[error("ClientHello offers a Milagro group this server does not serve")]
    WrongSuite,
    /// A standard (non-Milagro) client, and this listener has no standard config.
    #[error("standard TLS client on a Milagro-only listener")]
    NoStandardConfig,
}

/// Why a connection was not accepted. Every variant except `Io`/`Eof` has
/// already sent an alert to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The client closed before sending a whole ClientHello.
    #[error("connection closed before a complete ClientHello")]
    Eof,
    /// The accept path refused the ClientHello (plaintext handshake_failure sent).
    #[error("ClientHello refused")]
    Refused(#[from] AcceptRefusal),
    /// Step 1 refused the key share (plaintext `illegal_parameter` or, for
    /// load, `internal_error` sent: [`refusal_alert`]).
    #[error("key share refused at accept: {0}")]
    Admission(AdmissionRefusal),
    /// A per-identity guard refusal, sent as a failed key exchange
    /// (`illegal_parameter`, indistinguishable from a wrong PIN).
    #[error("refused silently by the guard: {0}")]
    SilentlyRefused(Refusal),
    /// The Milagro key share was refused (the typed reason; the client got
    /// rustls's `illegal_parameter`, or handshake_failure for a share the
    /// accept path could not even bind).
    #[error("Milagro key share refused: {0}")]
    KeyExchange(KxError),
    /// rustls refused the ClientHello or the configuration (its alert sent).
    #[error("TLS error during accept: {0}")]
    Tls(Error),
}

/// Why a completed connection failed the post-handshake checks of
/// [`MilagroConnection::finish`](super::accept::MilagroConnection::finish)
/// (server) or [`MilagroClient::finish`](super::config::MilagroClient::finish)
/// (client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FinishError {
    /// The handshake is not complete.
    #[error("the handshake is not complete")]
    StillHandshaking,
    /// The handshake was not a full handshake (resumption is never allowed).
    #[error("the handshake was not a full handshake")]
    NotFull,
    /// The negotiated group is not the configuration's Milagro group.
    #[error("the negotiated key exchange group is not the Milagro group")]
    WrongGroup,
    /// The peer's identity blob is missing or does not match (server: the
    /// binding of the client's key share; client: a server blob of the suite).
    #[error("the client identity does not match the key share")]
    IdentityMismatch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cs_tls;
    use crate::dta::Combine;
    use crate::identity::Identity;
    use crate::keys::{CsClientSecret, CsDeployment, Deployment, MasterShare, PermitPolicy};
    use crate::mpin::{Pin, PinDigits, extract_pin};
    use crate::pairing::OsEntropy;
    use crate::rustls_glue::engine::KxError;
    use crate::rustls_glue::kx::kx_error;

    /// A CS client connection that has sent nothing and negotiated nothing.
    fn fresh_cs_connection() -> ClientConnection {
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
        let alice = Identity::new("alice@example.com").unwrap();
        let cs = CsClientSecret::combine(&[dta.issue_cs_client_secret(&alice).unwrap()]).unwrap();
        let digits = PinDigits::new(4).unwrap();
        let token = extract_pin(&cs, &Pin::parse("1234", digits).unwrap()).unwrap();
        let client = cs_tls::client(token, Pin::parse("1234", digits).unwrap(), None).unwrap();
        assert_eq!(client.suite(), Suite::Cs);
        client.connect("server.example").unwrap()
    }

    #[test]
    fn handshake_failure_before_server_hello_names_the_missing_group() {
        let conn = fresh_cs_connection();
        assert!(conn.negotiated_cipher_suite().is_none());
        let mapped = map_client_error_for(
            Suite::Cs,
            &conn,
            Error::AlertReceived(AlertDescription::HandshakeFailure),
        );
        assert!(matches!(
            mapped,
            MilagroError::GroupNotSupported { suite: Suite::Cs }
        ));
        assert_eq!(
            mapped.to_string(),
            "the server refused the handshake before any key exchange (handshake_failure): \
             it does not serve the Milagro group milagro_cs_bls12381 (0xFE4D) this client \
             offers (or, P2P, the server name asked for)"
        );
        let p2p = MilagroError::GroupNotSupported { suite: Suite::P2p }.to_string();
        assert!(p2p.contains("milagro_p2p_bls12381 (0xFE50)"), "{p2p}");
    }

    #[test]
    fn key_exchange_reason_is_exposed_typed() {
        let refused = MilagroError::KeyUnusable(KxError::MalformedShare("W"));
        assert!(matches!(
            refused.key_exchange_reason(),
            Some(KxError::MalformedShare("W"))
        ));
        // A refused server share reaches the client inside rustls's error.
        let wrapped = MilagroError::Tls(kx_error(KxError::MalformedShare("W")));
        assert!(matches!(
            wrapped.key_exchange_reason(),
            Some(KxError::MalformedShare("W"))
        ));
        let plain = MilagroError::Tls(Error::AlertReceived(AlertDescription::DecryptError));
        assert!(plain.key_exchange_reason().is_none());
    }

    #[test]
    fn other_errors_keep_their_mapping() {
        let conn = fresh_cs_connection();
        let refused = map_client_error_for(
            Suite::Cs,
            &conn,
            Error::AlertReceived(AlertDescription::IllegalParameter),
        );
        assert!(matches!(refused, MilagroError::CredentialRefused));
        let other = map_client_error_for(
            Suite::Cs,
            &conn,
            Error::AlertReceived(AlertDescription::ProtocolVersion),
        );
        assert!(matches!(
            other,
            MilagroError::Tls(Error::AlertReceived(AlertDescription::ProtocolVersion))
        ));
        // The suite-unaware mapping does not guess a group.
        let plain = map_client_error(
            &conn,
            Error::AlertReceived(AlertDescription::HandshakeFailure),
        );
        assert!(matches!(
            plain,
            MilagroError::Tls(Error::AlertReceived(AlertDescription::HandshakeFailure))
        ));
    }

    /// Issue 9 item 11: every alert a Milagro server sends before its
    /// ServerHello has its typed error; after the ServerHello nothing is
    /// reinterpreted.
    #[test]
    fn every_refusal_alert_has_its_typed_error() {
        let alert = |d| Error::AlertReceived(d);
        let conn = fresh_cs_connection();
        assert!(matches!(
            map_client_error(&conn, alert(AlertDescription::InternalError)),
            MilagroError::ServerBusy
        ));
        assert!(matches!(
            map_refusal(
                Some(Suite::P2p),
                alert(AlertDescription::InternalError),
                true
            ),
            MilagroError::ServerBusy
        ));
        assert!(matches!(
            map_refusal(None, alert(AlertDescription::IllegalParameter), true),
            MilagroError::CredentialRefused
        ));
        assert!(matches!(
            map_refusal(
                Some(Suite::Cs),
                alert(AlertDescription::HandshakeFailure),
                true
            ),
            MilagroError::GroupNotSupported { suite: Suite::Cs }
        ));
        for d in [
            AlertDescription::InternalError,
            AlertDescription::IllegalParameter,
            AlertDescription::HandshakeFailure,
        ] {
            assert!(matches!(
                map_refusal(Some(Suite::Cs), alert(d), false),
                MilagroError::Tls(Error::AlertReceived(got)) if got == d
            ));
        }
        assert_eq!(
            MilagroError::ServerBusy.to_string(),
            "the Milagro server is busy or is throttling this address (nothing was counted \
             against the credential): try again later"
        );
    }

    /// The server side of the same rule: which plaintext alert each refusal
    /// before the key exchange gets.
    #[test]
    fn refusal_alerts_follow_the_rule() {
        use crate::mpin::CsError;
        use crate::p2p::P2pError;
        let admission = |a| AcceptError::Admission(a);
        for share in [
            admission(AdmissionRefusal::Cs(CsError::ShareLength(299))),
            admission(AdmissionRefusal::Cs(CsError::PermitMissing)),
            admission(AdmissionRefusal::Cs(CsError::DayOutOfRange {
                day: 3,
                today: 1,
            })),
            admission(AdmissionRefusal::Cs(CsError::PermitsOffXNotU)),
            admission(AdmissionRefusal::Cs(CsError::StaleTime {
                time: 0,
                now: 300,
                window: 30,
            })),
            admission(AdmissionRefusal::P2p(P2pError::ClientShareLength {
                got: 179,
            })),
            admission(AdmissionRefusal::Guard(Refusal::Replay)),
            AcceptError::KeyExchange(KxError::MalformedShare("HID")),
        ] {
            assert_eq!(refusal_alert(&share), &ILLEGAL_PARAMETER_ALERT, "{share}");
        }
        for load in [
            Refusal::Throttled,
            Refusal::SourceTableFull,
            Refusal::ClassifierBusy,
            Refusal::ReplayCacheFull,
            Refusal::ReservationExpired,
        ] {
            let e = admission(AdmissionRefusal::Guard(load));
            assert_eq!(refusal_alert(&e), &INTERNAL_ERROR_ALERT, "{e}");
        }
        let offer = AcceptError::Refused(AcceptRefusal::NoStandardConfig);
        assert_eq!(refusal_alert(&offer), &HANDSHAKE_FAILURE_ALERT);
    }
}
