//! The default engine (feature `engine-blst`): `blst` through the workspace
//! crate `milagro-blst`, whose single `ffi` module holds every `unsafe` call.
//!
//! The types here only adapt encodings and the project's API; which `blst`
//! function gives each constant-time guarantee is listed in the `pairing`
//! module docs and in `milagro-blst`'s crate docs.

use core::fmt;
use core::ops::{Add, Mul, Neg, Sub};

use milagro_blst as engine;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{
    DecodeError, EntropySource, G1_BYTES, G1Domain, G2_BYTES, G2Domain, GT_BYTES, RandomError,
    SCALAR_BYTES, ScalarDomain,
};

// ---------------------------------------------------------------------------
// Scalar
// ---------------------------------------------------------------------------

/// An element of Fr, the scalar field of order r. Zeroized on drop; `Debug`
/// never shows the value.
#[derive(Clone)]
pub struct Scalar(engine::Fr);

impl Scalar {
    /// Zero.
    pub fn zero() -> Self {
        Self(engine::Fr::zero())
    }

    /// One.
    pub fn one() -> Self {
        Self(engine::Fr::one())
    }

    /// The scalar with integer value `v`.
    pub fn from_u64(v: u64) -> Self {
        Self(engine::Fr::from_u64(v))
    }

    /// Decodes 32 big-endian bytes; refuses any other length and values ≥ r.
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let arr: &[u8; SCALAR_BYTES] = bytes.try_into().map_err(|_| DecodeError::Length {
            what: "scalar",
            expected: SCALAR_BYTES,
            got: bytes.len(),
        })?;
        engine::Fr::from_be_bytes(arr)
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
        Self(engine::Fr::from_be_bytes_reduced(bytes))
    }

    /// A uniformly random non-zero scalar from 64 bytes of `rng`.
    pub fn random(rng: &dyn EntropySource) -> Result<Self, RandomError> {
        let mut wide = zeroize::Zeroizing::new([0u8; 64]);
        loop {
            rng.fill(&mut wide[..])?;
            let s = Self::from_wide_be(&wide);
            // Zero has probability ~2^-255; retrying leaks nothing useful.
            if !bool::from(s.is_zero()) {
                return Ok(s);
            }
        }
    }

    /// RFC 9380 `hash_to_field` over Fr (expand_message_xmd SHA-256, L = 48)
    /// of the concatenation of `parts`, under the protocol domain `domain`.
    pub fn hash(domain: ScalarDomain, parts: &[&[u8]]) -> Self {
        let msg = zeroize::Zeroizing::new(parts.concat());
        Self(engine::Fr::hash_to_field(&msg, domain.dst()))
    }

    /// Whether this is zero (constant time).
    pub fn is_zero(&self) -> Choice {
        self.0.is_zero()
    }

    /// The multiplicative inverse, or `None` for zero.
    pub fn invert(&self) -> Option<Self> {
        self.0.invert().map(Self)
    }
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scalar(<redacted>)")
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}
impl Eq for Scalar {}

impl ConstantTimeEq for Scalar {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl Zeroize for Scalar {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}
// The inner `Fr` zeroizes itself on drop.
impl ZeroizeOnDrop for Scalar {}

impl Add<&Scalar> for &Scalar {
    type Output = Scalar;
    fn add(self, rhs: &Scalar) -> Scalar {
        Scalar(self.0.add(&rhs.0))
    }
}
impl Sub<&Scalar> for &Scalar {
    type Output = Scalar;
    fn sub(self, rhs: &Scalar) -> Scalar {
        Scalar(self.0.sub(&rhs.0))
    }
}
impl Mul<&Scalar> for &Scalar {
    type Output = Scalar;
    fn mul(self, rhs: &Scalar) -> Scalar {
        Scalar(self.0.mul(&rhs.0))
    }
}
impl Neg for &Scalar {
    type Output = Scalar;
    fn neg(self) -> Scalar {
        Scalar(self.0.neg())
    }
}

// ---------------------------------------------------------------------------
// Points
// ---------------------------------------------------------------------------

macro_rules! point_type {
    ($name:ident, $inner:ty, $len:expr, $what:expr) => {
        impl $name {
            /// The group's standard generator.
            pub fn generator() -> Self {
                Self(<$inner>::generator())
            }

            /// The identity element (never valid on the wire or in a key file).
            pub fn identity() -> Self {
                Self(<$inner>::identity())
            }

            /// Whether this is the identity (constant time).
            pub fn is_identity(&self) -> Choice {
                self.0.is_identity()
            }

            /// The compressed (zcash-format) encoding.
            pub fn to_bytes(&self) -> [u8; $len] {
                self.0.to_compressed()
            }

            /// Decodes a compressed point: exact length, a valid encoding of a
            /// point of the prime-order subgroup, and not the identity.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                let arr: &[u8; $len] = bytes.try_into().map_err(|_| DecodeError::Length {
                    what: $what,
                    expected: $len,
                    got: bytes.len(),
                })?;
                let p = <$inner>::from_compressed(arr).ok_or(DecodeError::InvalidPoint($what))?;
                if bool::from(p.is_identity()) {
                    return Err(DecodeError::IdentityPoint($what));
                }
                Ok(Self(p))
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
        // The inner point zeroizes itself on drop.
        impl ZeroizeOnDrop for $name {}

        impl Add<&$name> for &$name {
            type Output = $name;
            fn add(self, rhs: &$name) -> $name {
                $name(self.0.add(&rhs.0))
            }
        }
        impl Sub<&$name> for &$name {
            type Output = $name;
            fn sub(self, rhs: &$name) -> $name {
                $name(self.0.add(&rhs.0.neg()))
            }
        }
        impl Neg for &$name {
            type Output = $name;
            fn neg(self) -> $name {
                $name(self.0.neg())
            }
        }
        /// Scalar multiplication: constant time in the scalar (blst's
        /// GLV/GLS multiplication, see the module docs).
        impl Mul<&Scalar> for &$name {
            type Output = $name;
            fn mul(self, rhs: &Scalar) -> $name {
                $name(self.0.mul(&rhs.0))
            }
        }
    };
}

/// A point of the prime-order subgroup of G1 (48 B compressed).
#[derive(Clone)]
pub struct G1(engine::P1);
point_type!(G1, engine::P1, G1_BYTES, "G1 point");

impl G1 {
    /// RFC 9380 `BLS12381G1_XMD:SHA-256_SSWU_RO_` of the concatenation of
    /// `parts` under the protocol domain `domain`.
    pub fn hash(domain: G1Domain, parts: &[&[u8]]) -> Self {
        let msg = zeroize::Zeroizing::new(parts.concat());
        Self(engine::P1::hash_to_curve(&msg, domain.dst()))
    }

    /// RFC 9380 hash to G1 with an arbitrary DST (for the RFC's own test vectors).
    /// The DST must not be empty (RFC 9380 §3.1); DSTs over 255 bytes are
    /// hashed first as §5.3.3 specifies.
    pub fn hash_with_dst(dst: &[u8], msg: &[u8]) -> Self {
        Self(engine::P1::hash_to_curve(msg, dst))
    }

    /// `a·self + b·other`, constant time in both scalars (two blst
    /// multiplications and one addition).
    pub fn mul_add(&self, a: &Scalar, other: &G1, b: &Scalar) -> G1 {
        G1(self.0.mul(&a.0).add(&other.0.mul(&b.0)))
    }
}

/// A point of the prime-order subgroup of G2 (96 B compressed).
#[derive(Clone)]
pub struct G2(engine::P2);
point_type!(G2, engine::P2, G2_BYTES, "G2 point");

impl G2 {
    /// RFC 9380 `BLS12381G2_XMD:SHA-256_SSWU_RO_` of the concatenation of
    /// `parts` under the protocol domain `domain`.
    pub fn hash(domain: G2Domain, parts: &[&[u8]]) -> Self {
        let msg = zeroize::Zeroizing::new(parts.concat());
        Self(engine::P2::hash_to_curve(&msg, domain.dst()))
    }

    /// RFC 9380 hash to G2 with an arbitrary DST (for the RFC's own test vectors).
    /// The DST must not be empty (RFC 9380 §3.1); DSTs over 255 bytes are
    /// hashed first as §5.3.3 specifies.
    pub fn hash_with_dst(dst: &[u8], msg: &[u8]) -> Self {
        Self(engine::P2::hash_to_curve(msg, dst))
    }

    /// Precomputes the Miller-loop lines for a fixed G2 argument.
    pub fn prepare(&self) -> G2Prepared {
        G2Prepared(self.0.prepare())
    }
}

/// A G2 point with its Miller-loop line coefficients precomputed (prepare
/// once per config for fixed arguments such as Q and the server secret).
/// Zeroized on drop (the lines of a secret point reveal it).
#[derive(Clone)]
pub struct G2Prepared(engine::G2Lines);

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
pub struct Gt(engine::Fp12);

impl Gt {
    /// The identity (1 in Fp12).
    pub fn one() -> Self {
        Self(engine::Fp12::one())
    }

    /// `e(G1 generator, G2 generator)`.
    pub fn generator() -> Self {
        pairing(&G1::generator(), &G2::generator())
    }

    /// The normative 576-byte encoding: the 12 Fp coefficients in the order
    /// c0.c0.c0, c0.c0.c1, c0.c1.c0, …, c1.c2.c1, each 48 B big-endian.
    /// blst's Fp12 tower (w² = v, v³ = u + 1, u² = −1) is the one §2.3
    /// specifies, so its coefficients map one to one.
    pub fn to_bytes(&self) -> [u8; GT_BYTES] {
        let mut out = [0u8; GT_BYTES];
        let mut coeffs = self.0.to_be_coefficients();
        for (dst, c) in out.chunks_exact_mut(48).zip(coeffs.iter()) {
            dst.copy_from_slice(c);
        }
        coeffs.zeroize();
        out
    }

    /// `self · other`.
    pub fn mul(&self, other: &Gt) -> Gt {
        Gt(self.0.mul(&other.0))
    }

    /// `self^e`, constant time in `e` (fixed 4-bit window; ≈0.5 ms: move
    /// exponents into G1 where possible).
    pub fn pow(&self, e: &Scalar) -> Gt {
        let be = zeroize::Zeroizing::new(e.to_be_bytes());
        Gt(self.0.pow(&be))
    }

    /// `self^-1` (cheap: conjugation in the cyclotomic subgroup).
    pub fn inverse(&self) -> Gt {
        Gt(self.0.conjugate())
    }

    /// Whether this is the identity (constant time).
    pub fn is_one(&self) -> Choice {
        self.0.is_one()
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
// The inner `Fp12` zeroizes itself on drop.
impl ZeroizeOnDrop for Gt {}

/// The optimal ate pairing `e(p, q)` as defined in `docs/protocol.md` §2.3.
pub fn pairing(p: &G1, q: &G2) -> Gt {
    Gt(engine::pairing(&p.0, &q.0))
}

/// `∏ e(p_i, q_i)` in one multi-Miller loop and one final exponentiation.
pub fn multi_pairing(terms: &[(&G1, &G2Prepared)]) -> Gt {
    let pairs: Vec<(&engine::P1, &engine::G2Lines)> =
        terms.iter().map(|(p, q)| (&p.0, &q.0)).collect();
    Gt(engine::final_exponentiation(&engine::multi_miller_loop(
        &pairs,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compressed encodings of small x are refused: each is off the curve or
    /// (`milagro-blst`'s `decoding_checks_the_subgroup` shows some are on it)
    /// outside the prime-order subgroup.
    #[test]
    fn small_x_encodings_are_refused() {
        for x in 1u8..=50 {
            let mut enc = [0u8; G1_BYTES];
            enc[0] = 0x80;
            enc[G1_BYTES - 1] = x;
            assert_eq!(
                G1::from_bytes(&enc),
                Err(DecodeError::InvalidPoint("G1 point")),
                "x = {x}"
            );
        }
    }

    #[test]
    fn pow_matches_repeated_multiplication() {
        let g = Gt::generator();
        let mut expect = Gt::one();
        for k in 0u64..20 {
            assert_eq!(g.pow(&Scalar::from_u64(k)), expect);
            expect = expect.mul(&g);
        }
        // g^(r-1) = g^-1.
        assert_eq!(g.pow(&-&Scalar::one()), g.inverse());
    }
}
