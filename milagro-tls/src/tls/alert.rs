//! The plaintext alert the accept path writes when it refuses a ClientHello
//! itself.

/// A complete TLS record carrying a fatal `handshake_failure` alert, in
/// plaintext: content type 21 (alert), record version 0x0303, length 2, level
/// 2 (fatal), description 40 (handshake_failure).
///
/// Why it exists: when the accept path refuses a ClientHello on its own (a
/// malformed or over-long ClientHello, a Milagro offer that breaks the rules of
/// [`classify`](super::client_hello::classify), or a cheap check of the
/// design's §5 step 1), rustls has not seen the connection yet, so there is no
/// rustls alert to send. The accept path writes these 7 bytes and closes.
/// No keys exist before the ServerHello, so the alert is necessarily
/// plaintext. `handshake_failure` is deliberately distinct from the
/// `illegal_parameter` rustls sends when a Milagro key exchange fails, so a
/// client (and a packet capture) can tell an accept-path refusal from a
/// refused credential.
pub const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
