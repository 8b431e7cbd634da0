//! The thin rustls adapter (docs/protocol.md §8): the two Milagro kx groups,
//! the `milagro_implicit` scheme, identity blobs, the configuration builders
//! and the accept path that binds the client's identity to its key share.
//! Every rule it keeps is one of docs/protocol.md §8.4.
//!
//! The suites' cryptography plugs in through the internal traits of
//! [`engine`] (the CS and P2P engines live there too); nothing else here
//! names the pairing engine. Users build configurations through
//! [`crate::cs_tls`] and [`crate::p2p_tls`]; the engine-generic constructors
//! stay crate-internal.

pub(crate) mod accept;
pub(crate) mod admission;
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod error;
mod finish;
pub mod identity_blob;
pub(crate) mod kx;
pub(crate) mod overlap_gate;
pub(crate) mod precompute;
mod provider;
mod sign;
mod verify;

#[cfg(test)]
mod p2p_tests;
#[cfg(test)]
mod real_tests;
#[cfg(test)]
mod tests;

pub use provider::{MAX_LIVE_KEYS, ProviderError};
