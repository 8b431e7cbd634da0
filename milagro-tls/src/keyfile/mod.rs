//! PEM key files for every kind of key (RFC 7468 "strict" grammar, LF line
//! endings, 64-column base64, **no headers**, nothing before the BEGIN line).
//!
//! Each kind has its own label, and its binary body a fixed, versioned layout
//! that carries everything that decides where the key may be used: suite,
//! deployment, permit policy or epoch length, D-TA, identity, day or epoch.
//! Loading checks every field and fails with a [`KeyFileError`] naming the
//! problem; nothing is ever "fixed up". Bodies are held in
//! [`Zeroizing`] buffers and encoded files are returned as `Zeroizing<String>`.
//!
//! # Labels and kind bytes
//!
//! | kind | label | kind byte | suite | secret |
//! |---|---|---|---|---|
//! | D-TA master share `s_i` | `MILAGRO DTA MASTER SHARE` | `0x01` | CS or P2P | scalar |
//! | CS server secret `s·Q` | `MILAGRO CS SERVER SECRET` | `0x02` | CS | G2 |
//! | CS client secret `s·A` | `MILAGRO CS CLIENT SECRET` | `0x03` | CS | G1 |
//! | CS token `s·A − PIN·A` | `MILAGRO CS TOKEN` | `0x04` | CS | G1 |
//! | CS time permit `s·T` | `MILAGRO CS TIME PERMIT` | `0x05` | CS | G1 |
//! | P2P server key `s·H1` | `MILAGRO P2P SERVER KEY` | `0x06` | P2P | G1 |
//! | P2P client key `s·H2` | `MILAGRO P2P CLIENT KEY` | `0x07` | P2P | G2 |
//! | one D-TA's share of kind `k` (k = 0x02, 0x03, 0x05, 0x06, 0x07) | the kind's label + ` SHARE` (e.g. `MILAGRO CS SERVER SECRET SHARE`) | `0x80 \| k` | as the kind | as the kind |
//!
//! The kind byte repeats the label inside the body, so a file relabelled by
//! hand (a client secret renamed "token", a share renamed as a combined key)
//! is refused with [`KeyFileError::KindMismatch`].
//!
//! # Body layout (format version 1)
//!
//! All integers are big-endian. Every body starts with the header:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | format version, `0x01` |
//! | 1 | 1 | kind byte (table above) |
//! | 2 | 1 | suite tag: `0x01` CS, `0x02` P2P |
//! | 3 | 16 | deployment id |
//! | 19 | 1 | `dta_count`, ≥ 1 |
//! | 20 | 1 | CS only: permit policy, `0x01` required, `0x00` off |
//! | 20 | 4 | P2P only: `epoch_seconds` (u32), ≥ 60 |
//!
//! so the header is 21 bytes (CS) or 24 bytes (P2P). Then, in this order, the
//! fields the kind has:
//!
//! | field | size | present in |
//! |---|---|---|
//! | D-TA id | 8 | master share and every share |
//! | identity: length `n` (u8, 1–255) ‖ `n` bytes of the canonical identity | 1 + n | client secret, token, time permit, P2P keys (and their shares) |
//! | day `d` (u32; ≠ 0, and the policy must be "required") | 4 | time permit (and share) |
//! | epoch (u32) | 4 | P2P keys (and shares) |
//! | secret | 32 / 48 / 96 | all: scalar 32 B big-endian in `1..r` (master share); compressed G1 48 B (client secret, token, permit, P2P server key); compressed G2 96 B (server secret, P2P client key) |
//!
//! The body ends exactly after the secret. For example a CS client secret for
//! `alice@example.com` (17 bytes) is `21 + 1 + 17 + 48 = 87` bytes, its share
//! `21 + 8 + 1 + 17 + 48 = 95` bytes, and a P2P master share `24 + 8 + 32 = 64`.
//!
//! Points must decode as compressed points of the prime-order subgroup other
//! than the identity; identities must already be canonical
//! ([`Identity::from_canonical_bytes`](crate::identity::Identity::from_canonical_bytes)).
//!
//! The modules, each with one job: `pem` frames a body as a PEM document,
//! `body` reads and writes the common header and fields, `kinds` holds each
//! kind's layout, `any` loads a file of any kind, `error` says why a file was
//! refused.

use zeroize::Zeroizing;

mod any;
mod body;
mod error;
mod kinds;
mod load;
mod pem;

#[cfg(test)]
mod tests;

pub use any::{AnyKey, from_pem_any};
pub use error::KeyFileError;
pub use load::{LoadError, MAX_KEY_FILE_BYTES, from_pem_any_file};

/// The body format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Label of a D-TA master share file.
pub const LABEL_MASTER_SHARE: &str = "MILAGRO DTA MASTER SHARE";
/// Label of a CS server secret file.
pub const LABEL_CS_SERVER_SECRET: &str = "MILAGRO CS SERVER SECRET";
/// Label of a file holding one D-TA's share of a CS server secret.
pub const LABEL_CS_SERVER_SECRET_SHARE: &str = "MILAGRO CS SERVER SECRET SHARE";
/// Label of a CS client secret file.
pub const LABEL_CS_CLIENT_SECRET: &str = "MILAGRO CS CLIENT SECRET";
/// Label of a file holding one D-TA's share of a CS client secret.
pub const LABEL_CS_CLIENT_SECRET_SHARE: &str = "MILAGRO CS CLIENT SECRET SHARE";
/// Label of a CS token file.
pub const LABEL_CS_TOKEN: &str = "MILAGRO CS TOKEN";
/// Label of a CS time permit file.
pub const LABEL_CS_TIME_PERMIT: &str = "MILAGRO CS TIME PERMIT";
/// Label of a file holding one D-TA's share of a CS time permit.
pub const LABEL_CS_TIME_PERMIT_SHARE: &str = "MILAGRO CS TIME PERMIT SHARE";
/// Label of a P2P server key file.
pub const LABEL_P2P_SERVER_KEY: &str = "MILAGRO P2P SERVER KEY";
/// Label of a file holding one D-TA's share of a P2P server key.
pub const LABEL_P2P_SERVER_KEY_SHARE: &str = "MILAGRO P2P SERVER KEY SHARE";
/// Label of a P2P client key file.
pub const LABEL_P2P_CLIENT_KEY: &str = "MILAGRO P2P CLIENT KEY";
/// Label of a file holding one D-TA's share of a P2P client key.
pub const LABEL_P2P_CLIENT_KEY_SHARE: &str = "MILAGRO P2P CLIENT KEY SHARE";

/// A key type with a PEM file format.
pub trait KeyFile: Sized {
    /// The PEM label of this kind.
    const LABEL: &'static str;

    /// Encodes the key as a PEM document (LF line endings, trailing newline).
    /// Fails only for a key that no valid file can hold (which the typed
    /// constructors never produce).
    fn to_pem(&self) -> Result<Zeroizing<String>, KeyFileError>;

    /// Decodes and checks a PEM document of this kind (see the module docs
    /// for every check and the error each failure gives).
    fn from_pem(pem: &str) -> Result<Self, KeyFileError>;

    /// Reads and decodes the key file at `path` as [`from_pem`](Self::from_pem)
    /// does, in memory wiped afterwards. Fails with a [`LoadError`] that names
    /// the file: unreadable, too large or not text, or invalid contents (the
    /// [`KeyFileError`] as its source).
    fn from_pem_file(path: impl AsRef<std::path::Path>) -> Result<Self, LoadError> {
        load::load(path.as_ref())
    }
}
