//! The pure-Rust engine (feature `engine-pure`): `bls12_381_plus` for
//! arithmetic and pairings, zkcrypto `bls12_381` for RFC 9380 hashing
//! (`hash`), and a constant-time fixed 4-bit window for scalar
//! multiplication (`window`). For targets without a C compiler; it produces
//! the same bytes as the default `blst` engine (the agreement tests in
//! `pairing::agree` check it).
//!
//! Scalar multiplication in G1 and G2 uses the fixed window on the engine's
//! public API (faster than the engine's plain double-and-add); field
//! inversion is the engine's, also constant time; nothing here branches on
//! secret values or indexes by them. Gt exponentiation is the engine's
//! double-and-add over Fp12, which selects each addition with
//! `conditional_select` (constant time).

mod hash;
mod window;

use core::fmt;
use core::ops::{Add, Mul, Neg, Sub};

use bls12_381_plus as engine;
use bls12_381_plus::elliptic_curve_013::hash2curve::ExpandMsgXmd;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{
    DecodeError, EntropySource, G1_BYTES, G1Domain, G2_BYTES, G2Domain, GT_BYTES, RandomError,
    SCALAR_BYTES, ScalarDomain,
};

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

impl G2Prepared {
    /// The lines of the standard G2 generator `Q`, computed once per process
    /// (pairings against `Q` then skip the line computation).
    pub fn generator() -> &'static G2Prepared {
        static GENERATOR: std::sync::OnceLock<G2Prepared> = std::sync::OnceLock::new();
        GENERATOR.get_or_init(|| G2::generator().prepare())
    }
}

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

    /// A point on the curve but outside the prime-order subgroup must be refused.
    /// Scan small x for a curve point and check it is refused (the cofactor is
    /// large, so a random curve point is almost never in the subgroup).
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
}
