//! The identity blob: what a Milagro peer sends as its only TLS "certificate".
//!
//! The blob carries the plain, canonical identity (encrypted by TLS 1.3) and
//! has no cryptographic weight of its own: all authentication lives in the key
//! exchange (docs/protocol.md §8.2). Layout, byte for byte (total `12 + len` bytes):
//!
//! | offset | size | field                                                        |
//! |-------:|-----:|--------------------------------------------------------------|
//! | 0      | 4    | magic `"MLGR"` = `4d 4c 47 52`                               |
//! | 4      | 1    | version, `01`                                                |
//! | 5      | 1    | suite tag: `01` CS, `02` P2P ([`Suite::tag`])                 |
//! | 6      | 1    | role: `01` server, `02` client                               |
//! | 7      | 4    | period, big-endian u32: CS client = day `d` (0 with permits off), CS server = 0 (anything else is refused), P2P = epoch |
//! | 11     | 1    | `len` = identity length, 1..=255                             |
//! | 12     | len  | canonical identity bytes (UTF-8, see [`crate::identity`])     |
//!
//! Decoding refuses every other value, short input and trailing bytes, and
//! identity bytes that are not already canonical.

use crate::identity::{Identity, IdentityError};
use crate::suite::Suite;

/// The blob's magic bytes.
pub const BLOB_MAGIC: [u8; 4] = *b"MLGR";
/// The only blob version this code writes or reads.
pub const BLOB_VERSION: u8 = 1;
/// Length of the fixed header before the identity bytes.
pub const BLOB_HEADER_LEN: usize = 12;

/// Which side of the handshake a blob names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The TLS server (byte `1`).
    Server,
    /// The TLS client (byte `2`).
    Client,
}

impl Role {
    /// The role's byte in the blob.
    pub const fn tag(self) -> u8 {
        match self {
            Self::Server => 1,
            Self::Client => 2,
        }
    }

    /// The role for a byte; `None` for unknown values.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Server),
            2 => Some(Self::Client),
            _ => None,
        }
    }
}

/// Why bytes are not a valid identity blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// Fewer bytes than the fixed header.
    #[error("identity blob is {0} bytes long; the header alone is 12")]
    TooShort(usize),
    /// The first four bytes are not `"MLGR"`.
    #[error("identity blob does not start with the magic \"MLGR\"")]
    BadMagic,
    /// A version this code does not know.
    #[error("identity blob version {0} is not supported (only 1)")]
    UnsupportedVersion(u8),
    /// A suite tag other than 1 (CS) or 2 (P2P).
    #[error("identity blob names unknown suite tag {0}")]
    UnknownSuite(u8),
    /// A role byte other than 1 (server) or 2 (client).
    #[error("identity blob names unknown role {0}")]
    UnknownRole(u8),
    /// A CS server blob must carry period 0.
    #[error("a CS server identity blob must carry period 0, not {0}")]
    CsServerPeriodNotZero(u32),
    /// The declared identity length does not match the bytes that follow
    /// (short input or trailing bytes).
    #[error("identity blob declares {declared} identity bytes but {actual} follow")]
    LengthMismatch {
        /// The length byte.
        declared: usize,
        /// The bytes actually present after the header.
        actual: usize,
    },
    /// The identity bytes are not a canonical identity.
    #[error("identity blob carries an invalid identity")]
    Identity(#[from] IdentityError),
}

/// A decoded identity blob. Holding one proves nothing by itself: only the
/// binding checks of the verifiers give it meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityBlob {
    /// The suite the blob belongs to.
    pub suite: Suite,
    /// Which side sent it.
    pub role: Role,
    /// Day (CS client), 0 (CS server) or epoch (P2P).
    pub period: u32,
    /// The canonical identity.
    pub identity: Identity,
}

impl IdentityBlob {
    /// The blob's bytes (layout in the module documentation). Never fails: an
    /// [`Identity`] is at most 255 bytes and non-empty.
    ///
    /// A CS server blob is always written with period 0 whatever `period` says,
    /// so that what is written can be read back.
    pub fn encode(&self) -> Vec<u8> {
        let id = self.identity.as_bytes();
        let period = if self.suite == Suite::Cs && self.role == Role::Server {
            0
        } else {
            self.period
        };
        let mut out = Vec::with_capacity(BLOB_HEADER_LEN + id.len());
        out.extend_from_slice(&BLOB_MAGIC);
        out.push(BLOB_VERSION);
        out.push(self.suite.tag());
        out.push(self.role.tag());
        out.extend_from_slice(&period.to_be_bytes());
        // Identity guarantees 1..=255 bytes; saturate rather than wrap anyway.
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(id);
        out
    }

    /// Parses a blob; every deviation from the layout is a typed error.
    pub fn decode(bytes: &[u8]) -> Result<Self, BlobError> {
        let Some((header, rest)) = bytes.split_first_chunk::<BLOB_HEADER_LEN>() else {
            return Err(BlobError::TooShort(bytes.len()));
        };
        let [m0, m1, m2, m3, version, suite, role, p0, p1, p2, p3, len] = *header;
        if [m0, m1, m2, m3] != BLOB_MAGIC {
            return Err(BlobError::BadMagic);
        }
        if version != BLOB_VERSION {
            return Err(BlobError::UnsupportedVersion(version));
        }
        let suite = Suite::from_tag(suite).ok_or(BlobError::UnknownSuite(suite))?;
        let role = Role::from_tag(role).ok_or(BlobError::UnknownRole(role))?;
        let period = u32::from_be_bytes([p0, p1, p2, p3]);
        if suite == Suite::Cs && role == Role::Server && period != 0 {
            return Err(BlobError::CsServerPeriodNotZero(period));
        }
        if rest.len() != usize::from(len) {
            return Err(BlobError::LengthMismatch {
                declared: usize::from(len),
                actual: rest.len(),
            });
        }
        let identity = Identity::from_canonical_bytes(rest)?;
        Ok(Self {
            suite,
            role,
            period,
            identity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(suite: Suite, role: Role, period: u32, id: &str) -> IdentityBlob {
        IdentityBlob {
            suite,
            role,
            period,
            identity: Identity::new(id).unwrap(),
        }
    }

    #[test]
    fn layout_is_exact() {
        let b = blob(Suite::P2p, Role::Client, 0x0102_0304, "bob@example.com");
        let mut expected = b"MLGR".to_vec();
        expected.extend_from_slice(&[1, 2, 2, 1, 2, 3, 4, 15]);
        expected.extend_from_slice(b"bob@example.com");
        assert_eq!(b.encode(), expected);
        assert_eq!(IdentityBlob::decode(&expected).unwrap(), b);
    }

    #[test]
    fn round_trips_every_suite_and_role() {
        for (suite, role, period) in [
            (Suite::Cs, Role::Server, 0),
            (Suite::Cs, Role::Client, 20_000),
            (Suite::P2p, Role::Server, 7),
            (Suite::P2p, Role::Client, u32::MAX),
        ] {
            let b = blob(suite, role, period, "Alice@Example.COM");
            assert_eq!(IdentityBlob::decode(&b.encode()).unwrap(), b);
        }
        let long = "a".repeat(255);
        let b = blob(Suite::Cs, Role::Client, 1, &long);
        assert_eq!(b.encode().len(), 12 + 255);
        assert_eq!(IdentityBlob::decode(&b.encode()).unwrap(), b);
    }

    #[test]
    fn cs_server_period_is_written_as_zero() {
        let b = blob(Suite::Cs, Role::Server, 99, "service.example");
        let bytes = b.encode();
        assert_eq!(&bytes[7..11], &[0, 0, 0, 0]);
        assert_eq!(IdentityBlob::decode(&bytes).unwrap().period, 0);
    }

    #[test]
    fn malformed_blobs_are_typed_errors() {
        let good = blob(Suite::Cs, Role::Client, 5, "alice@example.com").encode();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            IdentityBlob::decode(&b)
        };
        assert_eq!(IdentityBlob::decode(&[]), Err(BlobError::TooShort(0)));
        assert_eq!(
            IdentityBlob::decode(&good[..11]),
            Err(BlobError::TooShort(11))
        );
        assert_eq!(with(0, b'X'), Err(BlobError::BadMagic));
        assert_eq!(with(4, 2), Err(BlobError::UnsupportedVersion(2)));
        assert_eq!(with(5, 0), Err(BlobError::UnknownSuite(0)));
        assert_eq!(with(5, 3), Err(BlobError::UnknownSuite(3)));
        assert_eq!(with(6, 0), Err(BlobError::UnknownRole(0)));
        assert_eq!(with(6, 3), Err(BlobError::UnknownRole(3)));
        assert_eq!(
            with(11, 18),
            Err(BlobError::LengthMismatch {
                declared: 18,
                actual: 17
            })
        );
        let mut trailing = good.clone();
        trailing.push(b'x');
        assert_eq!(
            IdentityBlob::decode(&trailing),
            Err(BlobError::LengthMismatch {
                declared: 17,
                actual: 18
            })
        );
        assert_eq!(
            IdentityBlob::decode(&good[..good.len() - 1]),
            Err(BlobError::LengthMismatch {
                declared: 17,
                actual: 16
            })
        );
        // Zero-length identity.
        let mut empty = good[..12].to_vec();
        empty[11] = 0;
        assert_eq!(
            IdentityBlob::decode(&empty),
            Err(BlobError::Identity(IdentityError::Empty))
        );
        // Non-canonical and non-UTF-8 identities.
        // (The local part keeps its case: "aLice@example.com" is canonical.)
        assert_eq!(
            with(13, b'L').map(|b| b.identity),
            Ok(Identity::new("aLice@example.com").unwrap())
        );
        assert_eq!(
            with(18, b'E'),
            Err(BlobError::Identity(IdentityError::NotCanonical(
                "alice@Example.com".into()
            )))
        );
        assert_eq!(
            with(12, 0xff),
            Err(BlobError::Identity(IdentityError::NotUtf8))
        );
        // CS server with a non-zero period.
        let mut srv = blob(Suite::Cs, Role::Server, 0, "service.example").encode();
        srv[10] = 1;
        assert_eq!(
            IdentityBlob::decode(&srv),
            Err(BlobError::CsServerPeriodNotZero(1))
        );
    }
}
