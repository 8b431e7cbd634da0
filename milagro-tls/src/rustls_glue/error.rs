//! Errors of the rustls glue, and the client-side mapping of rustls errors to
//! ones a user can act on (design §2a.5).

use rustls::{AlertDescription, ClientConnection, Error};

use super::kx::named_group;
use super::provider::ProviderError;
use crate::keys::Suite;

/// What went wrong building, connecting or handshaking a Milagro connection.
#[derive(Debug, thiserror::Error)]
pub enum MilagroError {
    /// The server refused the key share (rustls sends `illegal_parameter` for
    /// any kx failure): wrong PIN, missing or stale permit, lockout, a clock
    /// outside the window, or a key from another deployment.
    #[error("Milagro credential refused (PIN, permit, lockout or clock)")]
    CredentialRefused,
    /// The server answered the ClientHello with `handshake_failure` before
    /// choosing a cipher suite. From a standard TLS server (OpenSSL, a plain
    /// rustls server …) this means it does not speak the Milagro group the
    /// client offers — the only group a Milagro client may offer (design
    /// §2a.1). A Milagro server sends the same alert when it refuses an
    /// attempt before the key exchange (throttle, replay, clock, a malformed
    /// offer), so the message names both.
    #[error(
        "the server refused the handshake before any key exchange (handshake_failure): it does not support the Milagro group {} (0x{:04X}) this client offers, or a Milagro server refused the attempt before the key exchange (throttle, replay or clock)",
        group_label(*suite),
        u16::from(named_group(*suite))
    )]
    GroupNotSupported {
        /// The suite whose group the client offered.
        suite: Suite,
    },
    /// A P2P client was asked to connect to a name other than its configured
    /// server identity; nothing was sent.
    #[error("server name {got:?} is not the configured Milagro server identity {expected:?}")]
    ServerNameMismatch {
        /// The configured, canonical server identity.
        expected: String,
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
    KeyMismatch(String),
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
    #[error("TLS error: {0}")]
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

/// Maps a client-side rustls error to a [`MilagroError`]: an
/// `illegal_parameter` alert received before any ServerHello (no cipher suite
/// negotiated yet) is the server refusing the key share, reported as
/// [`MilagroError::CredentialRefused`]; anything else stays a TLS error.
/// [`map_client_error_for`] also names the missing group when the server
/// answers with `handshake_failure`.
pub fn map_client_error(conn: &ClientConnection, err: Error) -> MilagroError {
    match err {
        Error::AlertReceived(AlertDescription::IllegalParameter)
            if conn.negotiated_cipher_suite().is_none() =>
        {
            MilagroError::CredentialRefused
        }
        other => MilagroError::Tls(other),
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
    match err {
        Error::AlertReceived(AlertDescription::HandshakeFailure)
            if conn.negotiated_cipher_suite().is_none() =>
        {
            MilagroError::GroupNotSupported { suite }
        }
        other => map_client_error(conn, other),
    }
}

/// The registered-style name of a suite's group (docs/protocol.md).
fn group_label(suite: Suite) -> &'static str {
    match suite {
        Suite::Cs => "milagro_cs_bls12381",
        Suite::P2p => "milagro_p2p_bls12381",
    }
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
        let token = extract_pin(&cs, &Pin::parse("1234", digits).unwrap());
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
             it does not support the Milagro group milagro_cs_bls12381 (0xFE4D) this client \
             offers, or a Milagro server refused the attempt before the key exchange \
             (throttle, replay or clock)"
        );
        let p2p = MilagroError::GroupNotSupported { suite: Suite::P2p }.to_string();
        assert!(p2p.contains("milagro_p2p_bls12381 (0xFE50)"), "{p2p}");
    }

    #[test]
    fn key_exchange_reason_is_exposed_typed() {
        let refused = MilagroError::KeyUnusable(KxError::MalformedShare("W"));
        assert_eq!(
            refused.key_exchange_reason(),
            Some(KxError::MalformedShare("W"))
        );
        // A refused server share reaches the client inside rustls's error.
        let wrapped = MilagroError::Tls(kx_error(KxError::MalformedShare("W")));
        assert_eq!(
            wrapped.key_exchange_reason(),
            Some(KxError::MalformedShare("W"))
        );
        let plain = MilagroError::Tls(Error::AlertReceived(AlertDescription::DecryptError));
        assert_eq!(plain.key_exchange_reason(), None);
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
}
