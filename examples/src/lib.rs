//! Shared code of the example binaries, kept in a library so the tests can
//! call it and the binaries stay thin:
//!
//! * [`keytool`]: the `milagro` key tool (D-TA set-up, issuing, combining,
//!   PIN extraction, inspection).
//! * [`demo`]: the `demo` program (in-process D-TAs, CS and P2P handshakes over loopback sockets).
//! * [`echo`]: the `echo-server` and `echo-client` programs (either suite,
//!   tokio, real sockets, keys from the key tool's files).
//! * [`https`]: the `https-server` / `https-client` programs (hyper over
//!   the Milagro tokio adapter).
//! * [`standard`]: the servers' `--cert` / `--key` for standard X.509
//!   clients on the Milagro listener.
//! * [`time`]: days and dates without a calendar dependency.

pub mod demo;
pub mod echo;
pub mod guard_store;
pub mod https;
pub mod keytool;
pub mod standard;
pub mod time;

/// A short, public fingerprint of a secret: the first 4 bytes of its SHA-256
/// as 8 hex digits. Shows that two secrets match without showing either.
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = milagro_tls::pairing::sha256(&[secret]);
    hex::encode(&digest[..4])
}

/// The profile name of the CS suite.
pub const CS_SUITE_NAME: &str = milagro_tls::suite::Suite::Cs.profile_name();
/// The profile name of the P2P suite.
pub const P2P_SUITE_NAME: &str = milagro_tls::suite::Suite::P2p.profile_name();
