//! Why a key file was refused.

#[cfg(doc)]
use super::FORMAT_VERSION;
use crate::identity::IdentityError;
#[cfg(doc)]
use crate::keys::MIN_EPOCH_SECONDS;
use crate::pairing::DecodeError;
use crate::suite::Suite;

/// Why a key file could not be loaded (or, for a key that cannot exist, written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The text does not start with a `-----BEGIN ` line (empty input, other
    /// text, or explanatory text before the PEM block, which is not allowed).
    #[error("not a Milagro key file: it must start with a \"-----BEGIN \" line")]
    NotPem,
    /// The file has a carriage return: key files use LF line endings only, so
    /// that each key has exactly one file encoding (found by fuzzing: CR and
    /// CRLF files were accepted and re-encoded differently).
    #[error("key file has CR (Windows) line endings; convert it to LF line endings")]
    CarriageReturn,
    /// The PEM framing or base64 is invalid, or headers are present.
    #[error("invalid PEM (RFC 7468 strict, no headers): {0}")]
    Pem(pem_rfc7468::Error),
    /// The file is another kind of key.
    #[error("wrong key file: its label is {found:?} but {expected:?} is needed")]
    WrongLabel {
        /// The label in the file.
        found: String,
        /// The label the caller asked for.
        expected: &'static str,
    },
    /// The label is none of this crate's labels.
    #[error("unknown key file label {0:?}")]
    UnknownLabel(String),
    /// The body's format version is not [`FORMAT_VERSION`].
    #[error("unsupported key file format version {0} (this build reads version 1)")]
    BadVersion(u8),
    /// The body's kind byte disagrees with the PEM label.
    #[error("the key file body is of kind {found:#04x}, which does not match its label {label:?}")]
    KindMismatch {
        /// The label of the file.
        label: &'static str,
        /// The kind byte found in the body.
        found: u8,
    },
    /// The suite tag is neither CS (1) nor P2P (2).
    #[error("unknown suite tag {0}")]
    UnknownSuite(u8),
    /// The key belongs to the other suite.
    #[error("the key file is for the {found} suite; a {expected} key is needed")]
    WrongSuite {
        /// The suite this kind of key belongs to.
        expected: Suite,
        /// The suite tag in the file.
        found: Suite,
    },
    /// The permit-policy tag is neither 0 (off) nor 1 (required).
    #[error("unknown permit policy tag {0}")]
    BadPolicy(u8),
    /// The deployment's `dta_count` is 0.
    #[error("the deployment's D-TA count is 0")]
    NoDtas,
    /// The P2P epoch length is below [`MIN_EPOCH_SECONDS`].
    #[error("the P2P epoch length is {0} s; at least 60 s is required")]
    EpochTooShort(u32),
    /// The body ends before a field.
    #[error("key file body too short: {field} needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Its size.
        needed: usize,
        /// The bytes that were left.
        remaining: usize,
    },
    /// Bytes follow the secret.
    #[error("{0} unexpected bytes after the key")]
    TrailingBytes(usize),
    /// The identity is empty, not UTF-8, not canonical, or too long.
    #[error("bad identity in key file: {0}")]
    Identity(IdentityError),
    /// A time permit for day 0 (which means "no permit").
    #[error("a time permit cannot be for day 0")]
    DayZero,
    /// A time permit in a deployment whose permit policy is off.
    #[error("a time permit in a deployment whose permit policy is off")]
    PermitsOff,
    /// The point is not a valid compressed point of the prime-order subgroup,
    /// or is the identity.
    #[error("bad point in key file: {0}")]
    BadPoint(DecodeError),
    /// The scalar is not below the group order, or is zero.
    #[error("bad scalar in key file: {0}")]
    BadScalar(DecodeError),
}
