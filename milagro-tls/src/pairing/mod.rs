//! The pairing engine wrapper: the only module that names a BLS12-381 engine.
//!
//! Everything the protocol needs from BLS12-381 lives here, behind the
//! project's own types, so the engine can be swapped without touching the
//! protocol code:
//!
//! * [`G1`], [`G2`], [`Gt`] and [`Scalar`] with the encodings of docs/protocol.md §1.2, §2.3
//!   (G1 48 B and G2 96 B compressed in the zcash format, scalars 32 B
//!   big-endian, Gt 576 B as specified in `docs/protocol.md` §2.3);
//! * decoders that check exact lengths, the subgroup, and **reject the
//!   identity point** ([`DecodeError`]);
//! * RFC 9380 hashing to G1, G2 and Fr under the protocol's domain-separation
//!   tags ([`G1Domain`], [`G2Domain`], [`ScalarDomain`]);
//! * pairings, prepared G2 arguments and multi-Miller loops;
//! * random scalars from a caller-supplied [`EntropySource`].
//!
//! # Engines
//!
//! Two engines implement the same API and produce the same bytes (wire
//! encodings, hashes, Gt values, hence secrets); the `agree` tests check it
//! whenever both are compiled:
//!
//! * **`engine-blst`** (default): the `blst` C/assembly library through the
//!   workspace crate `milagro-blst`, which holds all `unsafe` code in one
//!   audited module (`milagro-tls` itself forbids `unsafe`). Constant time
//!   for secrets: scalar multiplication is `blst_p1_mult`/`blst_p2_mult`
//!   (GLV/GLS, fixed Booth windows, constant-time table scans), addition
//!   `blst_p*_add_or_double`, scalar inversion `blst_fr_eucl_inverse`
//!   (`ct_inverse_mod_256`), wide reduction `blst_scalar_from_be_bytes`,
//!   pairings `blst_miller_loop[_lines]` + `blst_final_exp`, and Gt
//!   exponentiation a fixed 4-bit window over `blst_fp12_mul` and
//!   `blst_fp12_cyclotomic_sqr` with a full-scan table read.
//! * **`engine-pure`**: pure Rust (`bls12_381_plus` arithmetic and pairings,
//!   zkcrypto `bls12_381` hashing, a constant-time fixed 4-bit window for
//!   scalar multiplication), for targets without a C compiler. Select it with
//!   `default-features = false, features = ["engine-pure", "ring"]`.
//!
//! When both features are enabled, `blst` is the engine and the pure one is
//! compiled only to be compared against (the tests do this).
//!
//! Every value type here zeroizes its memory on drop. [`Scalar`] and [`Gt`]
//! never print their value in `Debug` output; points print their public
//! compressed encoding (secret points are wrapped by their owners, which
//! redact them).

#[cfg(feature = "engine-blst")]
mod blst;
#[cfg(feature = "engine-pure")]
#[cfg_attr(
    feature = "engine-blst",
    allow(dead_code, unused_imports, unreachable_pub)
)]
mod pure;

#[cfg(all(test, feature = "engine-blst", feature = "engine-pure"))]
mod agree;

#[cfg(feature = "engine-blst")]
pub use self::blst::{G1, G2, G2Prepared, Gt, Scalar, multi_pairing, pairing};
#[cfg(all(feature = "engine-pure", not(feature = "engine-blst")))]
pub use self::pure::{G1, G2, G2Prepared, Gt, Scalar, multi_pairing, pairing};

#[cfg(not(any(feature = "engine-blst", feature = "engine-pure")))]
compile_error!(
    "milagro-tls needs a pairing engine: enable `engine-blst` (default) or `engine-pure`"
);

/// Length of a compressed G1 point.
pub const G1_BYTES: usize = 48;
/// Length of a compressed G2 point.
pub const G2_BYTES: usize = 96;
/// Length of an encoded scalar (big-endian).
pub const SCALAR_BYTES: usize = 32;
/// Length of an encoded Gt element (12 Fp coefficients, 48 B big-endian each).
pub const GT_BYTES: usize = 576;

/// Why a group element or scalar could not be decoded.
///
/// Every variant means the bytes are refused; none of them is ever "fixed up".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input did not have the exact length of the encoding.
    #[error("{what}: expected exactly {expected} bytes, got {got}")]
    Length {
        /// Which kind of value was being decoded.
        what: &'static str,
        /// The encoding's fixed length.
        expected: usize,
        /// The length that was supplied.
        got: usize,
    },
    /// The bytes are not a valid compressed point in the prime-order subgroup
    /// (bad flags, x not on the curve, or a point outside the subgroup).
    #[error("{0}: not a valid point of the prime-order subgroup")]
    InvalidPoint(&'static str),
    /// The bytes encode the identity (point at infinity), which the protocol
    /// never accepts from a peer or a key file.
    #[error("{0}: the identity point is not allowed")]
    IdentityPoint(&'static str),
    /// The scalar is not below the group order r.
    #[error("scalar is not below the group order")]
    ScalarOutOfRange,
    /// The scalar is zero where a non-zero value is required.
    #[error("scalar is zero")]
    ZeroScalar,
}

/// The entropy source could not supply random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the secure random number generator failed")]
pub struct RandomError;

/// A cryptographically secure source of random bytes.
///
/// Implemented for [`OsEntropy`]; the rustls adapter implements it over the
/// provider's `SecureRandom`. It takes `&self` so a single source can be shared
/// between threads.
pub trait EntropySource: Send + Sync {
    /// Fills `dest` with random bytes, or fails without partially trusting them.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's random number generator (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl EntropySource for OsEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        getrandom::getrandom(dest).map_err(|_| RandomError)
    }
}

/// A deterministic byte stream (SHA-256 in counter mode over a seed), for
/// known-answer vectors, tests and fuzzing. **Never use it for real keys.**
#[cfg(feature = "test-util")]
pub struct SeededEntropy {
    seed: [u8; 32],
    counter: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "test-util")]
impl SeededEntropy {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: &[u8]) -> Self {
        Self {
            seed: sha256(&[b"MILAGRO-TLS13-V1 test seed", seed]),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

#[cfg(feature = "test-util")]
impl EntropySource for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        for chunk in dest.chunks_mut(32) {
            let n = self
                .counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let block = sha256(&[&self.seed, &n.to_be_bytes()]);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

// ---------------------------------------------------------------------------
// Domain-separation tags (docs/protocol.md §3.3)
// ---------------------------------------------------------------------------

/// The hash-to-G1 domains of the protocol (RFC 9380
/// `BLS12381G1_XMD:SHA-256_SSWU_RO_` with the project's DSTs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum G1Domain {
    /// CS identity point `A = H(HID)`.
    CsIdentity,
    /// CS time-permit point `T = H(be32(d) ‖ HID)`.
    CsTimePermit,
    /// P2P server identity point `H1(HID_A)`.
    P2pIdentity,
}

impl G1Domain {
    /// The exact domain-separation tag.
    pub const fn dst(self) -> &'static [u8] {
        match self {
            Self::CsIdentity => b"MILAGRO-TLS13-V1-CS-ID_BLS12381G1_XMD:SHA-256_SSWU_RO_",
            Self::CsTimePermit => b"MILAGRO-TLS13-V1-CS-TP_BLS12381G1_XMD:SHA-256_SSWU_RO_",
            Self::P2pIdentity => b"MILAGRO-TLS13-V1-P2P-ID-G1_BLS12381G1_XMD:SHA-256_SSWU_RO_",
        }
    }
}

/// The hash-to-G2 domains of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum G2Domain {
    /// P2P client identity point `H2(HID_B)`.
    P2pIdentity,
}

impl G2Domain {
    /// The exact domain-separation tag.
    pub const fn dst(self) -> &'static [u8] {
        match self {
            Self::P2pIdentity => b"MILAGRO-TLS13-V1-P2P-ID-G2_BLS12381G2_XMD:SHA-256_SSWU_RO_",
        }
    }
}

/// The hash-to-scalar domains (RFC 9380 `hash_to_field` over Fr, L = 48,
/// expand_message_xmd with SHA-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScalarDomain {
    /// CS key-agreement challenge `h`.
    CsH,
    /// CS proof challenge `y`.
    CsY,
    /// CS Chaum–Pedersen challenge `c`.
    CsDleq,
    /// CS hedged nonces.
    CsNonce,
    /// P2P `pia`.
    P2pA,
    /// P2P `pib`.
    P2pB,
    /// P2P hedged nonces.
    P2pNonce,
}

impl ScalarDomain {
    /// The exact domain-separation tag.
    pub const fn dst(self) -> &'static [u8] {
        match self {
            Self::CsH => b"MILAGRO-TLS13-V1-CS-H",
            Self::CsY => b"MILAGRO-TLS13-V1-CS-Y",
            Self::CsDleq => b"MILAGRO-TLS13-V1-CS-DLEQ",
            Self::CsNonce => b"MILAGRO-TLS13-V1-CS-NONCE",
            Self::P2pA => b"MILAGRO-TLS13-V1-P2P-A",
            Self::P2pB => b"MILAGRO-TLS13-V1-P2P-B",
            Self::P2pNonce => b"MILAGRO-TLS13-V1-P2P-NONCE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normative vector of docs/protocol.md §2.4: the first and last 48
    /// bytes of e(G1 generator, G2 generator). The whole value is there and
    /// checked by the vector tests.
    #[test]
    fn generator_pairing_matches_normative_prefix_and_suffix() {
        let bytes = Gt::generator().to_bytes();
        assert_eq!(
            hex::encode(&bytes[..48]),
            "1250ebd871fc0a92a7b2d83168d0d727272d441befa15c503dd8e90ce98db3e7b6d194f60839c508a84305aaca1789b6"
        );
        assert_eq!(
            hex::encode(&bytes[GT_BYTES - 48..]),
            "0f41e58663bf08cf068672cbd01a7ec73baca4d72ca93544deff686bfd6df543d48eaa24afe47e1efde449383b676631"
        );
    }

    #[test]
    fn points_round_trip_and_reject_identity() {
        let s = Scalar::from_u64(123456789);
        let p = &G1::generator() * &s;
        assert_eq!(G1::from_bytes(&p.to_bytes()).unwrap(), p);
        let q = &G2::generator() * &s;
        assert_eq!(G2::from_bytes(&q.to_bytes()).unwrap(), q);
        assert_eq!(
            G1::from_bytes(&G1::identity().to_bytes()),
            Err(DecodeError::IdentityPoint("G1 point"))
        );
        assert_eq!(
            G2::from_bytes(&G2::identity().to_bytes()),
            Err(DecodeError::IdentityPoint("G2 point"))
        );
    }

    #[test]
    fn decoders_check_lengths() {
        let p = G1::generator().to_bytes();
        assert!(matches!(
            G1::from_bytes(&p[..47]),
            Err(DecodeError::Length {
                expected: 48,
                got: 47,
                ..
            })
        ));
        let mut long = p.to_vec();
        long.push(0);
        assert!(matches!(
            G1::from_bytes(&long),
            Err(DecodeError::Length {
                expected: 48,
                got: 49,
                ..
            })
        ));
        assert!(matches!(
            Scalar::from_be_bytes(&[0u8; 31]),
            Err(DecodeError::Length { .. })
        ));
    }

    #[test]
    fn scalars_are_big_endian_and_range_checked() {
        let s = Scalar::from_u64(0x0102);
        let b = s.to_be_bytes();
        assert_eq!(&b[30..], &[1, 2]);
        assert_eq!(Scalar::from_be_bytes(&b).unwrap(), s);
        // r itself is out of range.
        let r = hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
            .unwrap();
        assert_eq!(
            Scalar::from_be_bytes(&r),
            Err(DecodeError::ScalarOutOfRange)
        );
        assert_eq!(
            Scalar::from_be_bytes_nonzero(&[0u8; 32]),
            Err(DecodeError::ZeroScalar)
        );
    }

    #[test]
    fn bilinearity_and_multi_pairing() {
        let a = Scalar::from_u64(7);
        let b = Scalar::from_u64(11);
        let p = &G1::generator() * &a;
        let q = &G2::generator() * &b;
        let ab = &a * &b;
        assert_eq!(pairing(&p, &q), Gt::generator().pow(&ab));
        // e(aP, Q) · e(-aP, Q) = 1 through the multi-Miller loop.
        let qp = q.prepare();
        let prod = multi_pairing(&[(&p, &qp), (&-&p, &qp)]);
        assert!(bool::from(prod.is_one()));
        assert_eq!(Gt::generator().mul(&Gt::generator().inverse()), Gt::one());
    }

    #[test]
    fn wide_reduction_is_big_endian() {
        let mut wide = [0u8; 64];
        wide[63] = 5;
        assert_eq!(Scalar::from_wide_be(&wide), Scalar::from_u64(5));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = Scalar::from_u64(42);
        assert_eq!(format!("{s:?}"), "Scalar(<redacted>)");
        assert_eq!(format!("{:?}", Gt::generator()), "Gt(<redacted>)");
    }

    #[test]
    fn hash_domains_are_separated() {
        let a = G1::hash(G1Domain::CsIdentity, &[b"x"]);
        let b = G1::hash(G1Domain::CsTimePermit, &[b"x"]);
        assert_ne!(a, b);
        assert_ne!(
            Scalar::hash(ScalarDomain::CsH, &[b"x"]),
            Scalar::hash(ScalarDomain::CsY, &[b"x"])
        );
    }
}
