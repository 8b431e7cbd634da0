//! The synchronous accept path (design §2a.3, §2a.4): one listener for
//! standard and Milagro clients, with the client's identity bound to its key
//! share.
//!
//! 1. Bytes from the reader are fed to rustls's `Acceptor` **and recorded**.
//! 2. Once rustls has the ClientHello, the recorded bytes are parsed
//!    (`find_milagro_share`): no Milagro group → the standard config (if any);
//!    exactly one Milagro group with its share → a `ServerConfig` built for
//!    this connection whose client verifier holds the share's [`Binding`];
//!    anything else → refused with a 7-byte plaintext `handshake_failure`.
//! 3. `into_connection` runs the server's key exchange; its failure is sent
//!    as rustls's own alert (`illegal_parameter` for kx errors) and the typed
//!    reason ([`KxError`]) is returned.
//! 4. After the handshake, [`finish`] checks it was a full handshake on the
//!    Milagro group and returns the bound identity. Raw `peer_certificates()`
//!    are unbound: use only what `finish` returns.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::server::Acceptor;
use rustls::{Error, HandshakeKind, ServerConfig, ServerConnection};

use super::client_hello::{MAX_CLIENT_HELLO, Refusal, find_milagro_share};
use super::config::MilagroServer;
use super::engine::{Binding, KxError};
use super::kx::{named_group, suite_of_group};
use crate::identity::Identity;

pub use super::client_hello::Refusal as AcceptRefusal;

/// The plaintext fatal `handshake_failure` alert the accept path sends when it
/// refuses a ClientHello itself (TLS 1.2 record version, as before any
/// negotiation): `15 03 03 00 02 02 28`.
pub const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

/// A connection accepted by [`MilagroAcceptor::accept`]. An application that
/// needs an authenticated identity must match `Milagro` and call [`finish`].
#[derive(Debug)]
pub enum Accepted {
    /// A standard TLS client, served with the standard configuration. No
    /// Milagro identity exists on this path.
    Standard(ServerConnection),
    /// A Milagro client whose key share carries `binding`; the handshake is
    /// still running on `conn`.
    Milagro {
        /// The HID and period of this connection's key share.
        binding: Binding,
        /// The server connection (handshake in progress).
        conn: ServerConnection,
    },
}

/// Why a connection was not accepted. Every variant except `Io`/`Eof` has
/// already sent an alert to the client.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Reading or writing failed.
    #[error("I/O error during accept: {0}")]
    Io(#[from] io::Error),
    /// The client closed before sending a whole ClientHello.
    #[error("connection closed before a complete ClientHello")]
    Eof,
    /// The accept path refused the ClientHello (plaintext handshake_failure sent).
    #[error("ClientHello refused: {0}")]
    Refused(#[from] Refusal),
    /// The Milagro key share was refused (the typed reason; the client got
    /// rustls's `illegal_parameter`, or handshake_failure for a share the
    /// accept path could not even bind).
    #[error("Milagro key share refused: {0}")]
    KeyExchange(KxError),
    /// rustls refused the ClientHello or the configuration (its alert sent).
    #[error("TLS error during accept: {0}")]
    Tls(Error),
}

/// Why [`finish`] refused a completed connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinishError {
    /// The handshake is not complete.
    #[error("the handshake is not complete")]
    StillHandshaking,
    /// The handshake was not a full handshake (resumption is never allowed).
    #[error("the handshake was not a full handshake")]
    NotFull,
    /// The negotiated group is not the binding's Milagro group.
    #[error("the negotiated key exchange group is not the Milagro group")]
    WrongGroup,
    /// The client certificate is missing or does not match the binding.
    #[error("the client identity does not match the key share")]
    IdentityMismatch,
}

/// Chooses, per connection, between a Milagro config and a standard one.
#[derive(Debug, Clone)]
pub struct MilagroAcceptor {
    milagro: Arc<MilagroServer>,
    standard: Option<Arc<ServerConfig>>,
}

impl MilagroAcceptor {
    /// An acceptor for `milagro` clients and, if given, standard clients.
    /// Returns `None` if `standard` offers a Milagro group (a standard
    /// configuration must never speak a Milagro group).
    pub fn new(milagro: Arc<MilagroServer>, standard: Option<Arc<ServerConfig>>) -> Option<Self> {
        if let Some(std) = &standard {
            if std
                .crypto_provider()
                .kx_groups
                .iter()
                .any(|g| suite_of_group(u16::from(g.name())).is_some())
            {
                return None;
            }
        }
        Some(Self { milagro, standard })
    }

    /// Reads one ClientHello from `rd` and returns the connection, writing any
    /// alert to `wr`. The server's key exchange runs inside this call (in
    /// async code, call it on a blocking pool).
    pub fn accept(&self, rd: &mut dyn Read, wr: &mut dyn Write) -> Result<Accepted, AcceptError> {
        let mut acceptor = Acceptor::default();
        let mut recorded = Vec::new();
        let accepted = loop {
            let n = acceptor.read_tls(&mut Recording {
                inner: rd,
                log: &mut recorded,
            })?;
            match acceptor.accept() {
                Ok(Some(accepted)) => break accepted,
                Ok(None) if n == 0 => return Err(AcceptError::Eof),
                Ok(None) if recorded.len() > MAX_CLIENT_HELLO => {
                    return Err(refuse(wr, Refusal::TooLarge));
                }
                Ok(None) => continue,
                Err((err, mut alert)) => {
                    alert.write_all(wr)?;
                    return Err(AcceptError::Tls(err));
                }
            }
        };
        let (config, binding) = match find_milagro_share(&recorded) {
            Err(refusal) => return Err(refuse(wr, refusal)),
            Ok(None) => match &self.standard {
                Some(std) => (std.clone(), None),
                None => return Err(refuse(wr, Refusal::NoStandardConfig)),
            },
            Ok(Some((group, share))) => {
                if suite_of_group(group) != Some(self.milagro.suite()) {
                    return Err(refuse(wr, Refusal::WrongSuite));
                }
                let binding = match self.milagro.binding(&share) {
                    Ok(b) => b,
                    Err(e) => {
                        wr.write_all(&HANDSHAKE_FAILURE_ALERT)?;
                        return Err(AcceptError::KeyExchange(e));
                    }
                };
                let config = self.milagro.config_for(binding).map_err(|e| {
                    let _ = wr.write_all(&HANDSHAKE_FAILURE_ALERT);
                    AcceptError::Tls(Error::General(e.to_string()))
                })?;
                (config, Some(binding))
            }
        };
        match accepted.into_connection(config) {
            Ok(conn) => Ok(match binding {
                Some(binding) => Accepted::Milagro { binding, conn },
                None => Accepted::Standard(conn),
            }),
            Err((err, mut alert)) => {
                alert.write_all(wr)?;
                Err(match kx_reason(&err) {
                    Some(kx) => AcceptError::KeyExchange(kx),
                    None => AcceptError::Tls(err),
                })
            }
        }
    }
}

/// After the handshake of an [`Accepted::Milagro`] connection: requires a
/// full handshake on the binding's Milagro group and a client blob bound to
/// `binding`, and returns the client's identity.
pub fn finish(binding: &Binding, conn: &ServerConnection) -> Result<Identity, FinishError> {
    if conn.is_handshaking() {
        return Err(FinishError::StillHandshaking);
    }
    if conn.handshake_kind() != Some(HandshakeKind::Full) {
        return Err(FinishError::NotFull);
    }
    match conn.negotiated_key_exchange_group() {
        Some(g) if g.name() == named_group(binding.suite()) => {}
        _ => return Err(FinishError::WrongGroup),
    }
    match conn.peer_certificates() {
        Some([cert]) => super::verify::check_client_blob(binding, cert, &[])
            .map_err(|_| FinishError::IdentityMismatch),
        _ => Err(FinishError::IdentityMismatch),
    }
}

fn refuse(wr: &mut dyn Write, refusal: Refusal) -> AcceptError {
    match wr.write_all(&HANDSHAKE_FAILURE_ALERT) {
        Ok(()) => AcceptError::Refused(refusal),
        Err(e) => AcceptError::Io(e),
    }
}

/// The typed kx reason inside a rustls error, if any.
pub(crate) fn kx_reason(err: &Error) -> Option<KxError> {
    match err {
        Error::Other(other) => other.0.downcast_ref::<KxError>().cloned(),
        _ => None,
    }
}

struct Recording<'a> {
    inner: &'a mut dyn Read,
    log: &'a mut Vec<u8>,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.log.extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}
