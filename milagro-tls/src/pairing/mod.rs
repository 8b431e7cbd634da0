//! The pairing engine wrapper: the only module that names `bls12_381_plus`.
//!
//! Everything the protocol needs from BLS12-381 lives here, behind the
//! project's own types, so the engine can be swapped without touching the
//! protocol code:
//!
//! * [`G1`], [`G2`], [`Gt`] and [`Scalar`] with the design's encodings
//!   (G1 48 B and G2 96 B compressed in the zcash format, scalars 32 B
//!   big-endian, Gt 576 B as specified in `docs/protocol.md` §3);
//! * decoders that check exact lengths, the subgroup, and **reject the
//!   identity point** ([`DecodeError`]);
//! * RFC 9380 hashing to G1, G2 and Fr under the protocol's domain-separation
//!   tags ([`G1Domain`], [`G2Domain`], [`ScalarDomain`]);
//! * pairings, prepared G2 arguments and multi-Miller loops;
//! * random scalars from a caller-supplied [`EntropySource`].
//!
//! Every value type here zeroizes its memory on drop. [`Scalar`] and [`Gt`]
//! never print their value in `Debug` output; points print their public
//! compressed encoding (secret points are wrapped by their owners, which
//! redact them).
//!
//! Scalar multiplication in G1 and G2 uses a constant-time fixed 4-bit window
//! on the engine's public API (`window`, faster than the engine's plain
//! double-and-add); field inversion is the engine's, also constant time;
//! nothing in this module branches on secret values or indexes by them.
//!
//! Hashing to G1 and G2 goes through zkcrypto `bls12_381` (`hash`), which
//! computes the same RFC 9380 points as `bls12_381_plus` about 3× faster. The
//! two engines are named only in this module and its submodules.

mod hash;
mod window;

use core::fmt;
use core::ops::{Add, Mul, Neg, Sub};

use bls12_381_plus as engine;
use bls12_381_plus::elliptic_curve_013::hash2curve::ExpandMsgXmd;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

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
// Domain-separation tags (design §3; normative in docs/protocol.md)
// ---------------------------------------------------------------------------

/// The hash-to-G1 domains of the protocol (RFC 9380
/// `BLS12381G1_XMD:SHA-256_SSWU_RO_` with the project's DSTs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

type Xmd = ExpandMsgXmd<sha2::Sha256>;

// ---------------------------------------------------------------------------
// Scalar
// ---------------------------------------------------------------------------

/// An element of Fr, the scalar field of order r. Zeroized on drop; `Debug`
/// never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Scalar(engine::Scalar);

impl Scalar {
    /// Zero.
    pub fn zero() -> Self {
        Self(engine::Scalar::ZERO)
    }

    /// One.
    pub fn one() -> Self {
        Self(engine::Scalar::ONE)
    }

    /// The scalar with integer value `v`.
    pub fn from_u64(v: u64) -> Self {
        Self(engine::Scalar::from(v))
    }

    /// Decodes 32 big-endian bytes; refuses any other length and values ≥ r.
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let arr: &[u8; SCALAR_BYTES] = bytes.try_into().map_err(|_| DecodeError::Length {
            what: "scalar",
            expected: SCALAR_BYTES,
            got: bytes.len(),
        })?;
        Option::from(engine::Scalar::from_be_bytes(arr))
            .map(Self)
            .ok_or(DecodeError::ScalarOutOfRange)
    }

    /// Like [`Scalar::from_be_bytes`] but also refuses zero (for secret keys).
    pub fn from_be_bytes_nonzero(bytes: &[u8]) -> Result<Self, DecodeError> {
        let s = Self::from_be_bytes(bytes)?;
        if bool::from(s.is_zero()) {
            return Err(DecodeError::ZeroScalar);
        }
        Ok(s)
    }

    /// The 32-byte big-endian encoding.
    pub fn to_be_bytes(&self) -> [u8; SCALAR_BYTES] {
        self.0.to_be_bytes()
    }

    /// Reduces 64 uniformly random bytes modulo r (bias below 2^-128).
    /// The bytes are read as a 512-bit big-endian integer.
    pub fn from_wide_be(bytes: &[u8; 64]) -> Self {
        let mut le = *bytes;
        le.reverse();
        let s = Self(engine::Scalar::from_bytes_wide(&le));
        le.zeroize();
        s
    }

    /// A uniformly random non-zero scalar from 64 bytes of `rng`.
    pub fn random(rng: &dyn EntropySource) -> Result<Self, RandomError> {
        let mut wide = [0u8; 64];
        loop {
            rng.fill(&mut wide)?;
            let s = Self::from_wide_be(&wide);
            // Zero has probability ~2^-255; retrying leaks nothing useful.
            if !bool::from(s.is_zero()) {
                wide.zeroize();
                return Ok(s);
            }
        }
    }

    /// RFC 9380 `hash_to_field` over Fr (expand_message_xmd SHA-256, L = 48)
    /// of the concatenation of `parts`, under the protocol domain `domain`.
    pub fn hash(domain: ScalarDomain, parts: &[&[u8]]) -> Self {
        let msg = zeroize::Zeroizing::new(parts.concat());
        Self(engine::Scalar::hash::<Xmd>(&msg, domain.dst()))
    }

    /// Whether this is zero (constant time).
    pub fn is_zero(&self) -> Choice {
        self.0.ct_eq(&engine::Scalar::ZERO)
    }

    /// The multiplicative inverse, or `None` for zero.
    pub fn invert(&self) -> Option<Self> {
        Option::from(self.0.invert()).map(Self)
    }
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scalar(<redacted>)")
    }
}

impl ConstantTimeEq for Scalar {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl Zeroize for Scalar {
    fn zeroize(&mut self) {
        self.0 = engine::Scalar::ZERO;
        // Make the write observable so it is not optimised away.
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}
impl Drop for Scalar {
    fn drop(&mut self) {
        self.zeroize();
    }
}
impl ZeroizeOnDrop for Scalar {}

macro_rules! scalar_binop {
    ($tr:ident, $m:ident) => {
        impl $tr<&Scalar> for &Scalar {
            type Output = Scalar;
            fn $m(self, rhs: &Scalar) -> Scalar {
                Scalar($tr::$m(&self.0, &rhs.0))
            }
        }
    };
}
scalar_binop!(Add, add);
scalar_binop!(Sub, sub);
scalar_binop!(Mul, mul);

impl Neg for &Scalar {
    type Output = Scalar;
    fn neg(self) -> Scalar {
        Scalar(-self.0)
    }
}

// ---------------------------------------------------------------------------
// Points
// ---------------------------------------------------------------------------

macro_rules! point_type {
    ($name:ident, $proj:ty, $affine:ty, $len:expr, $what:expr) => {
        impl $name {
            /// The group's standard generator.
            pub fn generator() -> Self {
                Self(<$proj>::GENERATOR)
            }

            /// The identity element (never valid on the wire or in a key file).
            pub fn identity() -> Self {
                Self(<$proj>::IDENTITY)
            }

            /// Whether this is the identity (constant time).
            pub fn is_identity(&self) -> Choice {
                self.0.is_identity()
            }

            /// The compressed (zcash-format) encoding.
            pub fn to_bytes(&self) -> [u8; $len] {
                <$affine>::from(self.0).to_compressed()
            }

            /// Decodes a compressed point: exact length, a valid encoding of a
            /// point of the prime-order subgroup, and not the identity.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                let arr: &[u8; $len] = bytes.try_into().map_err(|_| DecodeError::Length {
                    what: $what,
                    expected: $len,
                    got: bytes.len(),
                })?;
                let affine: $affine = Option::from(<$affine>::from_compressed(arr))
                    .ok_or(DecodeError::InvalidPoint($what))?;
                if bool::from(affine.is_identity()) {
                    return Err(DecodeError::IdentityPoint($what));
                }
                Ok(Self(<$proj>::from(affine)))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "({})"),
                    hex::encode(self.to_bytes())
                )
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                bool::from(self.0.ct_eq(&other.0))
            }
        }
        impl Eq for $name {}

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl Zeroize for $name {
            fn zeroize(&mut self) {
                self.0.zeroize();
            }
        }
        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }
        impl ZeroizeOnDrop for $name {}

        impl Add<&$name> for &$name {
            type Output = $name;
            fn add(self, rhs: &$name) -> $name {
                $name(self.0 + rhs.0)
            }
        }
        impl Sub<&$name> for &$name {
            type Output = $name;
            fn sub(self, rhs: &$name) -> $name {
                $name(self.0 - rhs.0)
            }
        }
        impl Neg for &$name {
            type Output = $name;
            fn neg(self) -> $name {
                $name(-self.0)
            }
        }
        /// Scalar multiplication: constant time in the scalar (fixed 4-bit
        /// window, see the module docs); equals the engine's own product.
        impl Mul<&Scalar> for &$name {
            type Output = $name;
            fn mul(self, rhs: &Scalar) -> $name {
                let be = zeroize::Zeroizing::new(rhs.0.to_be_bytes());
                $name(window::mul(&self.0, &be))
            }
        }
    };
}

/// A point of the prime-order subgroup of G1 (48 B compressed).
#[derive(Clone)]
pub struct G1(engine::G1Projective);
point_type!(
    G1,
    engine::G1Projective,
    engine::G1Affine,
    G1_BYTES,
    "G1 point"
);

impl G1 {
    /// RFC 9380 `BLS12381G1_XMD:SHA-256_SSWU_RO_` of the concatenation of
    /// `parts` under the protocol domain `domain`.
    pub fn hash(domain: G1Domain, parts: &[&[u8]]) -> Self {
        Self(hash::hash_to_g1(parts, domain.dst()))
    }

    /// RFC 9380 hash to G1 with an arbitrary DST (for the RFC's own test vectors).
    /// The DST must not be empty (RFC 9380 §3.1); DSTs over 255 bytes are
    /// hashed first as §5.3.3 specifies.
    pub fn hash_with_dst(dst: &[u8], msg: &[u8]) -> Self {
        Self(hash::hash_to_g1(&[msg], dst))
    }

    /// `a·self + b·other` in one constant-time pass with shared doublings
    /// (about the cost of one multiplication plus 64 additions).
    pub fn mul_add(&self, a: &Scalar, other: &G1, b: &Scalar) -> G1 {
        let a_be = zeroize::Zeroizing::new(a.0.to_be_bytes());
        let b_be = zeroize::Zeroizing::new(b.0.to_be_bytes());
        G1(window::mul2(&self.0, &a_be, &other.0, &b_be))
    }
}

/// A point of the prime-order subgroup of G2 (96 B compressed).
#[derive(Clone)]
pub struct G2(engine::G2Projective);
point_type!(
    G2,
    engine::G2Projective,
    engine::G2Affine,
    G2_BYTES,
    "G2 point"
);

impl G2 {
    /// RFC 9380 `BLS12381G2_XMD:SHA-256_SSWU_RO_` of the concatenation of
    /// `parts` under the protocol domain `domain`.
    pub fn hash(domain: G2Domain, parts: &[&[u8]]) -> Self {
        Self(hash::hash_to_g2(parts, domain.dst()))
    }

    /// RFC 9380 hash to G2 with an arbitrary DST (for the RFC's own test vectors).
    /// The DST must not be empty (RFC 9380 §3.1); DSTs over 255 bytes are
    /// hashed first as §5.3.3 specifies.
    pub fn hash_with_dst(dst: &[u8], msg: &[u8]) -> Self {
        Self(hash::hash_to_g2(&[msg], dst))
    }

    /// Precomputes the Miller-loop lines for a fixed G2 argument.
    pub fn prepare(&self) -> G2Prepared {
        G2Prepared(engine::G2Prepared::from(engine::G2Affine::from(self.0)))
    }
}

/// A G2 point with its Miller-loop line coefficients precomputed (prepare
/// once per config for fixed arguments such as Q and the server secret).
///
/// The engine's prepared form cannot be zeroized; owners of secret prepared
/// points keep them for the lifetime of their configuration only.
#[derive(Clone)]
pub struct G2Prepared(engine::G2Prepared);

impl fmt::Debug for G2Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("G2Prepared(..)")
    }
}

// ---------------------------------------------------------------------------
// Gt
// ---------------------------------------------------------------------------

/// An element of the target group Gt ⊂ Fp12*, written multiplicatively.
/// Zeroized on drop; `Debug` never shows the value.
#[derive(Clone)]
pub struct Gt(engine::Gt);

impl Gt {
    /// The identity (1 in Fp12).
    pub fn one() -> Self {
        Self(engine::Gt::IDENTITY)
    }

    /// `e(G1 generator, G2 generator)`.
    pub fn generator() -> Self {
        pairing(&G1::generator(), &G2::generator())
    }

    /// The normative 576-byte encoding: the 12 Fp coefficients in the order
    /// c0.c0.c0, c0.c0.c1, c0.c1.c0, …, c1.c2.c1, each 48 B big-endian.
    pub fn to_bytes(&self) -> [u8; GT_BYTES] {
        self.0.to_bytes()
    }

    /// `self · other` (the engine writes Gt additively).
    pub fn mul(&self, other: &Gt) -> Gt {
        Gt(self.0 + other.0)
    }

    /// `self^e` (slow: ≈1.7 ms; move exponents into G1 where possible).
    pub fn pow(&self, e: &Scalar) -> Gt {
        Gt(self.0 * e.0)
    }

    /// `self^-1` (cheap: conjugation in the cyclotomic subgroup).
    pub fn inverse(&self) -> Gt {
        Gt(-self.0)
    }

    /// Whether this is the identity (constant time).
    pub fn is_one(&self) -> Choice {
        self.0.ct_eq(&engine::Gt::IDENTITY)
    }
}

impl fmt::Debug for Gt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gt(<redacted>)")
    }
}

impl PartialEq for Gt {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}
impl Eq for Gt {}

impl ConstantTimeEq for Gt {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl Zeroize for Gt {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}
impl Drop for Gt {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
impl ZeroizeOnDrop for Gt {}

/// The optimal ate pairing `e(p, q)` as defined in `docs/protocol.md` §3.
pub fn pairing(p: &G1, q: &G2) -> Gt {
    Gt(engine::pairing(
        &engine::G1Affine::from(p.0),
        &engine::G2Affine::from(q.0),
    ))
}

/// `∏ e(p_i, q_i)` in one multi-Miller loop and one final exponentiation.
pub fn multi_pairing(terms: &[(&G1, &G2Prepared)]) -> Gt {
    let affine: Vec<engine::G1Affine> = terms
        .iter()
        .map(|(p, _)| engine::G1Affine::from(p.0))
        .collect();
    let pairs: Vec<(&engine::G1Affine, &engine::G2Prepared)> = affine
        .iter()
        .zip(terms.iter())
        .map(|(p, (_, q))| (p, &q.0))
        .collect();
    Gt(engine::multi_miller_loop(&pairs).final_exponentiation())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Design §3's normative vector: the first and last 48 bytes of
    /// e(G1 generator, G2 generator). The whole value is in docs/protocol.md
    /// and checked by the vector tests.
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

    /// A point on the curve but outside the prime-order subgroup must be refused.
    /// x = 4 gives y² = 4³ + 4 = 68; scan small x for a curve point and check
    /// it is refused unless it happens to lie in the subgroup (it does not:
    /// the cofactor is large, so a random curve point is almost never in it).
    #[test]
    fn non_subgroup_point_is_refused() {
        let mut found = false;
        for x in 1u8..=50 {
            let mut enc = [0u8; G1_BYTES];
            enc[0] = 0x80; // compressed flag
            enc[G1_BYTES - 1] = x;
            let unchecked: Option<engine::G1Affine> =
                engine::G1Affine::from_compressed_unchecked(&enc).into();
            if let Some(pt) = unchecked {
                assert!(!bool::from(pt.is_torsion_free()));
                assert_eq!(
                    G1::from_bytes(&enc),
                    Err(DecodeError::InvalidPoint("G1 point"))
                );
                found = true;
            }
        }
        assert!(found, "no on-curve test point found");
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
