//! TLS-level pieces that do not depend on rustls types: recording and parsing
//! the first ClientHello of a connection, classifying its Milagro offer, and
//! the plaintext alert the accept path sends when it refuses one itself
//! (docs/protocol.md §8.4.3, §8.4.4).
//!
//! The rustls accept path ([`MilagroAcceptor`](crate::MilagroAcceptor)) reads the client's first bytes
//! through a [`ClientHelloRecorder`], decides from the parsed ClientHello
//! which `ServerConfig` to use, then hands *all* recorded bytes to rustls.
//! Nothing here names a rustls type, so this parser can be reviewed and fuzzed
//! on its own.

pub mod alert;
pub mod client_hello;

pub use alert::{HANDSHAKE_FAILURE_ALERT, ILLEGAL_PARAMETER_ALERT, INTERNAL_ERROR_ALERT};
pub use client_hello::{
    ClientHelloError, ClientHelloRecorder, KeyShare, MAX_CLIENT_HELLO_BYTES, Offer, OfferRefusal,
    ParsedClientHello, Progress, classify,
};

#[cfg(test)]
mod tests;
