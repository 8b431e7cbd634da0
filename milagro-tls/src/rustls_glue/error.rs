//! Errors of the rustls glue, and the client-side mapping of rustls errors to
//! ones a user can act on (design §2a.5).

use rustls::{AlertDescription, ClientConnection, Error};

use super::provider::ProviderError;

/// What went wrong building, connecting or handshaking a Milagro connection.
#[derive(Debug, thiserror::Error)]
pub enum MilagroError {
    /// The server refused the key share (rustls sends `illegal_parameter` for
    /// any kx failure): wrong PIN, missing or stale permit, lockout, a clock
    /// outside the window, or a key from another deployment.
    #[error("Milagro credential refused (PIN, permit, lockout or clock)")]
    CredentialRefused,
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
    /// The process-wide bound on live Milagro keys was hit.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Any other TLS error.
    #[error("TLS error: {0}")]
    Tls(#[from] Error),
}

/// Maps a client-side rustls error to a [`MilagroError`]: an
/// `illegal_parameter` alert received before any ServerHello (no cipher suite
/// negotiated yet) is the server refusing the key share, reported as
/// [`MilagroError::CredentialRefused`]; anything else stays a TLS error.
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
