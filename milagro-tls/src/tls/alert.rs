//! The plaintext alerts the accept path writes when it refuses a ClientHello
//! itself, before rustls has seen the connection (docs/protocol.md §6.4 step
//! 1, §8.4.4). No keys exist before the ServerHello, so these alerts are
//! necessarily plaintext: content type 21 (alert), record version 0x0303,
//! length 2, level 2 (fatal), then the description.
//!
//! Which alert a refusal gets is chosen so that a Milagro client can tell the
//! user something true and nothing per identity (docs/protocol.md §8.4.5):
//!
//! * [`HANDSHAKE_FAILURE_ALERT`]: the ClientHello itself is refused (malformed,
//!   an offer that breaks the rules of
//!   [`classify`](super::client_hello::classify), a standard client on a
//!   Milagro-only listener). A genuine Milagro client never sends such a
//!   ClientHello; from its point of view the server does not serve its group.
//! * [`ILLEGAL_PARAMETER_ALERT`]: step 1 refused the key share for its own
//!   bytes (length, permit day, X ≠ U, clock window, replay). The same alert
//!   rustls sends for a refused key exchange, so the client reports "credential
//!   refused (PIN, permit, lockout or clock)".
//! * [`INTERNAL_ERROR_ALERT`]: step 1 refused for the source or the server
//!   (source throttled, source table full, classifier busy, replay cache
//!   full): the client reports "try again later". These depend on the
//!   source's bucket and global counters only, never on an identity.

/// A fatal `handshake_failure` (40) alert record.
pub const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

/// A fatal `illegal_parameter` (47) alert record: a refused key share.
pub const ILLEGAL_PARAMETER_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x2f];

/// A fatal `internal_error` (80) alert record: refused for the source or the
/// server's load, not for anything about the credential.
pub const INTERNAL_ERROR_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50];
