//! The thin rustls adapter (design §2a, §7): the two Milagro kx groups, the
//! `milagro_implicit` scheme, identity blobs, the configuration builders and
//! the accept path that binds the client's identity to its key share.
//!
//! The suites' cryptography plugs in through the internal traits of
//! [`engine`]; nothing here names the pairing engine.
//!
//! The real engines live in `engines` (CS over [`crate::mpin`], P2P over
//! [`crate::p2p`]); users build configurations through [`crate::cs_tls`] and
//! [`crate::p2p_tls`]. The engine-generic constructors (also used with the
//! toy engine of the mechanism tests) stay crate-internal; some are used by
//! the tests only, hence the `dead_code` allowance outside tests.
#![cfg_attr(not(test), allow(dead_code))]

pub mod accept;
pub mod classifier;
pub mod config;
pub mod engine;
pub(crate) mod engines;
pub mod error;
pub mod identity_blob;
pub mod kx;
mod provider;
mod sign;
mod verify;

#[cfg(test)]
mod p2p_tests;
#[cfg(test)]
mod real_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod toy;

pub use provider::{MAX_LIVE_KEYS, ProviderError};
