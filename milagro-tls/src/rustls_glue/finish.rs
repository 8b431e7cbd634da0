//! The post-handshake checks both sides make before trusting a Milagro
//! connection: the backstop of docs/protocol.md §8.4.1 (only the Milagro
//! group) and §8.4.2 (no resumption).

use rustls::pki_types::CertificateDer;
use rustls::{CommonState, HandshakeKind};

use super::error::FinishError;
use super::kx::named_group;
use crate::suite::Suite;

/// Requires a finished, full TLS 1.3 handshake on `suite`'s Milagro group and
/// exactly one peer certificate, and returns that certificate (the peer's
/// identity blob, not yet checked against anything).
pub(crate) fn peer_blob(
    conn: &CommonState,
    suite: Suite,
) -> Result<&CertificateDer<'static>, FinishError> {
    if conn.is_handshaking() {
        return Err(FinishError::StillHandshaking);
    }
    if conn.handshake_kind() != Some(HandshakeKind::Full) {
        return Err(FinishError::NotFull);
    }
    match conn.negotiated_key_exchange_group() {
        Some(g) if g.name() == named_group(suite) => {}
        _ => return Err(FinishError::WrongGroup),
    }
    match conn.peer_certificates() {
        Some([cert]) => Ok(cert),
        _ => Err(FinishError::IdentityMismatch),
    }
}
