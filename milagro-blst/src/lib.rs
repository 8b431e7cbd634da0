//! A small safe interface to the `blst` BLS12-381 library, holding the only
//! `unsafe` code of the Milagro TLS workspace in one audited module (`ffi`).
//!
//! It offers exactly what `milagro-tls`'s `pairing` module needs, in `blst`'s
//! own representations: scalars ([`Fr`]), points of G1 and G2 ([`P1`],
//! [`P2`]), elements of Fp12 ([`Fp12`]), prepared G2 points ([`G2Lines`]),
//! RFC 9380 hashing, pairings and multi-Miller loops. It has no opinion on
//! encodings of its own beyond `blst`'s: the protocol's encodings are built
//! by the caller (for Fp12, from [`Fp12::to_be_coefficients`]).
//!
//! # Constant time
//!
//! Every operation on secret values runs in time independent of those values:
//!
//! * scalar multiplication ([`P1::mul`], [`P2::mul`]) is `blst_p1_mult` /
//!   `blst_p2_mult` with 255 bits, which for every reduced scalar takes the
//!   GLV (G1) / GLS (G2) path: fixed 5-bit Booth windows, table entries
//!   fetched by a full constant-time scan (`gather_booth_w*`), complete
//!   additions selected with masks;
//! * point addition is `blst_p*_add_or_double` (computes both the sum and the
//!   double and selects with a mask), equality `blst_p*_is_equal`;
//! * scalar arithmetic is Montgomery arithmetic on fixed limbs, inversion
//!   `blst_fr_eucl_inverse` (`ct_inverse_mod_256`, a constant-time
//!   Bernstein–Yang-style inversion), reduction of wide integers
//!   `blst_scalar_from_be_bytes` (fixed work per 32-byte digit);
//! * pairings (`blst_miller_loop`, `blst_miller_loop_lines`,
//!   `blst_final_exp`) have no data-dependent branches;
//! * [`Fp12::pow`] is a fixed 4-bit window over `blst_fp12_mul` /
//!   `blst_fp12_cyclotomic_sqr` whose table is read by a full scan.
//!
//! Not constant time, and so never given secrets: nothing in this crate.
//! (`blst`'s fixed-base `blst_p*s_mult_wbits` indexes its table by the
//! scalar's digits, and its Pippenger multi-scalar multiplication is
//! variable-time; neither is used.) Branches on whether a point is the
//! identity exist only in decoding, where the value is public.
//!
//! Every type zeroizes its memory on drop. No type prints its value in
//! `Debug` output.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod ffi;

use core::fmt;

use blst::{blst_fp6, blst_fp12, blst_fr, blst_p1, blst_p2};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a compressed G1 point.
pub const G1_COMPRESSED: usize = 48;
/// Length of a compressed G2 point.
pub const G2_COMPRESSED: usize = 96;

/// An element of Fr, the scalar field of order r (Montgomery form inside).
#[derive(Clone)]
pub struct Fr(blst_fr);

impl Fr {
    /// Zero.
    pub fn zero() -> Self {
        Self(blst_fr::default())
    }

    /// One.
    pub fn one() -> Self {
        Self::from_u64(1)
    }

    /// The integer `v`.
    pub fn from_u64(v: u64) -> Self {
        Self(ffi::fr_from_u64(v))
    }

    /// Decodes a canonical 32-byte big-endian integer; `None` if it is not
    /// below r.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Option<Self> {
        ffi::fr_from_be32(bytes).map(Self)
    }

    /// The big-endian integer `bytes` (any length) reduced modulo r.
    pub fn from_be_bytes_reduced(bytes: &[u8]) -> Self {
        Self(ffi::fr_from_be_bytes_reduced(bytes))
    }

    /// The canonical 32-byte big-endian encoding.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        ffi::fr_to_be32(&self.0)
    }

    /// RFC 9380 `hash_to_field` over Fr with `count = 1`, L = 48 and
    /// `expand_message_xmd` SHA-256: the 48 expanded bytes reduced modulo r.
    pub fn hash_to_field(msg: &[u8], dst: &[u8]) -> Self {
        let mut wide = zeroize::Zeroizing::new([0u8; 48]);
        ffi::expand_message_xmd(&mut wide[..], msg, dst);
        Self::from_be_bytes_reduced(&wide[..])
    }

    /// `self + other`.
    pub fn add(&self, other: &Self) -> Self {
        Self(ffi::fr_add(&self.0, &other.0))
    }

    /// `self - other`.
    pub fn sub(&self, other: &Self) -> Self {
        Self(ffi::fr_sub(&self.0, &other.0))
    }

    /// `self · other`.
    pub fn mul(&self, other: &Self) -> Self {
        Self(ffi::fr_mul(&self.0, &other.0))
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        Self(ffi::fr_neg(&self.0))
    }

    /// `self^-1`, or `None` for zero (the check is constant time; only its
    /// outcome is branched on).
    pub fn invert(&self) -> Option<Self> {
        let inv = Self(ffi::fr_inverse(&self.0));
        if bool::from(self.is_zero()) {
            None
        } else {
            Some(inv)
        }
    }

    /// Whether this is zero (constant time).
    pub fn is_zero(&self) -> Choice {
        self.ct_eq(&Self::zero())
    }
}

impl ConstantTimeEq for Fr {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Montgomery form is canonical (fully reduced), so limbs compare.
        self.0.l.ct_eq(&other.0.l)
    }
}

impl Zeroize for Fr {
    fn zeroize(&mut self) {
        self.0.l.zeroize();
    }
}
impl Drop for Fr {
    fn drop(&mut self) {
        self.zeroize();
    }
}
impl ZeroizeOnDrop for Fr {}

impl fmt::Debug for Fr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fr(<redacted>)")
    }
}

macro_rules! point {
    ($name:ident, $raw:ty, $len:expr, $doc:expr,
     $generator:ident, $add:ident, $neg:ident, $mul:ident, $is_inf:ident, $eq:ident,
     $compress:ident, $uncompress:ident, $hash:ident, $serialize:ident) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $name(pub(crate) $raw);

        impl $name {
            /// The group's standard generator.
            pub fn generator() -> Self {
                Self(ffi::$generator())
            }

            /// The identity (point at infinity).
            pub fn identity() -> Self {
                Self(<$raw>::default())
            }

            /// Whether this is the identity.
            pub fn is_identity(&self) -> Choice {
                Choice::from(u8::from(ffi::$is_inf(&self.0)))
            }

            /// `self + other` (complete: any inputs, constant time).
            pub fn add(&self, other: &Self) -> Self {
                Self(ffi::$add(&self.0, &other.0))
            }

            /// `-self`.
            pub fn neg(&self) -> Self {
                Self(ffi::$neg(&self.0))
            }

            /// `k·self`, constant time in `k` (see the crate docs).
            pub fn mul(&self, k: &Fr) -> Self {
                let s = ffi::fr_to_scalar(&k.0);
                Self(ffi::$mul(&self.0, &s))
            }

            /// The zcash-format compressed encoding.
            pub fn to_compressed(&self) -> [u8; $len] {
                ffi::$compress(&self.0)
            }

            /// The zcash-format uncompressed encoding.
            pub fn to_uncompressed(&self) -> [u8; 2 * $len] {
                ffi::$serialize(&self.0)
            }

            /// Decodes a compressed point: a valid encoding of a point of the
            /// prime-order subgroup (the identity included), else `None`.
            pub fn from_compressed(bytes: &[u8; $len]) -> Option<Self> {
                ffi::$uncompress(bytes).map(Self)
            }

            /// RFC 9380 `hash_to_curve` with `expand_message_xmd` SHA-256 and
            /// the simplified SWU map (`*_XMD:SHA-256_SSWU_RO_`).
            pub fn hash_to_curve(msg: &[u8], dst: &[u8]) -> Self {
                Self(ffi::$hash(msg, dst))
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> Choice {
                Choice::from(u8::from(ffi::$eq(&self.0, &other.0)))
            }
        }

        impl Zeroize for $name {
            fn zeroize(&mut self) {
                self.0.x.zeroize_fp();
                self.0.y.zeroize_fp();
                self.0.z.zeroize_fp();
            }
        }
        impl Drop for $name {
            fn drop(&mut self) {
                self.zeroize();
            }
        }
        impl ZeroizeOnDrop for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

/// Volatile zeroing of the limbs of field elements of every tower level.
trait ZeroizeFp {
    fn zeroize_fp(&mut self);
}
impl ZeroizeFp for blst::blst_fp {
    fn zeroize_fp(&mut self) {
        self.l.zeroize();
    }
}
impl ZeroizeFp for blst::blst_fp2 {
    fn zeroize_fp(&mut self) {
        self.fp.iter_mut().for_each(ZeroizeFp::zeroize_fp);
    }
}
impl ZeroizeFp for blst_fp6 {
    fn zeroize_fp(&mut self) {
        self.fp2.iter_mut().for_each(ZeroizeFp::zeroize_fp);
    }
}
impl ZeroizeFp for blst_fp12 {
    fn zeroize_fp(&mut self) {
        self.fp6.iter_mut().for_each(ZeroizeFp::zeroize_fp);
    }
}

point!(
    P1,
    blst_p1,
    48,
    "A point of G1 (projective; blst's `blst_p1`).",
    p1_generator,
    p1_add,
    p1_neg,
    p1_mul,
    p1_is_inf,
    p1_eq,
    p1_compress,
    p1_uncompress,
    p1_hash,
    p1_serialize
);
point!(
    P2,
    blst_p2,
    96,
    "A point of G2 (projective; blst's `blst_p2`).",
    p2_generator,
    p2_add,
    p2_neg,
    p2_mul,
    p2_is_inf,
    p2_eq,
    p2_compress,
    p2_uncompress,
    p2_hash,
    p2_serialize
);

impl P2 {
    /// Precomputes the Miller-loop lines of this point (for a pairing
    /// argument used many times).
    pub fn prepare(&self) -> G2Lines {
        let infinity = ffi::p2_is_inf(&self.0);
        let lines = if infinity {
            // blst's line computation assumes a finite point; the identity
            // pairs to one, which `multi_miller_loop` returns for it.
            Box::new([blst_fp6::default(); ffi::LINES])
        } else {
            ffi::precompute_lines(&ffi::p2_to_affine(&self.0))
        };
        G2Lines { lines, infinity }
    }
}

/// A G2 point's precomputed Miller-loop lines (68 Fp6 values, 19.6 KiB).
/// Zeroized on drop, since for a secret point the lines reveal it.
#[derive(Clone)]
pub struct G2Lines {
    lines: Box<[blst_fp6; ffi::LINES]>,
    infinity: bool,
}

impl Zeroize for G2Lines {
    fn zeroize(&mut self) {
        self.lines.iter_mut().for_each(ZeroizeFp::zeroize_fp);
    }
}
impl Drop for G2Lines {
    fn drop(&mut self) {
        self.zeroize();
    }
}
impl ZeroizeOnDrop for G2Lines {}

impl fmt::Debug for G2Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("G2Lines(..)")
    }
}

/// An element of Fp12 = Fp6[w]/(w² − v), Fp6 = Fp2[v]/(v³ − (u + 1)),
/// Fp2 = Fp[u]/(u² + 1): blst's tower, which is also zkcrypto's.
#[derive(Clone)]
pub struct Fp12(blst_fp12);

impl Fp12 {
    /// One.
    pub fn one() -> Self {
        Self(ffi::fp12_one())
    }

    /// `self · other`.
    pub fn mul(&self, other: &Self) -> Self {
        Self(ffi::fp12_mul(&self.0, &other.0))
    }

    /// `self²`.
    pub fn square(&self) -> Self {
        Self(ffi::fp12_sqr(&self.0))
    }

    /// The conjugate (the inverse for elements of Gt).
    pub fn conjugate(&self) -> Self {
        Self(ffi::fp12_conjugate(&self.0))
    }

    /// Whether this is one (constant time).
    pub fn is_one(&self) -> Choice {
        self.ct_eq(&Self::one())
    }

    /// `self^e` for the 256-bit big-endian exponent `e`, for `self` in the
    /// cyclotomic subgroup (every element of Gt): a fixed 4-bit window (64
    /// windows of 4 cyclotomic squarings and one multiplication) with the
    /// 16-entry table read by a full constant-time scan.
    pub fn pow(&self, e: &[u8; 32]) -> Self {
        let mut table: [Fp12; 16] = core::array::from_fn(|_| Fp12::one());
        for i in 1..16 {
            table[i] = table[i - 1].mul(self);
        }
        let mut acc = Fp12::one();
        for (k, byte) in e.iter().enumerate() {
            for (half, nibble) in [(0, byte >> 4), (1, byte & 0x0f)] {
                if k != 0 || half != 0 {
                    // Public: the window position, not the exponent.
                    for _ in 0..4 {
                        acc = Self(ffi::fp12_cyclotomic_sqr(&acc.0));
                    }
                }
                let mut entry = Fp12::one();
                for (j, t) in (0u8..).zip(table.iter()) {
                    entry.conditional_assign(t, j.ct_eq(&nibble));
                }
                acc = acc.mul(&entry);
            }
        }
        acc
    }

    /// The 12 Fp coefficients as 48-byte big-endian integers, in the order
    /// c0.c0.c0, c0.c0.c1, c0.c1.c0, …, c1.c2.c1 (Fp12 = c0 + c1·w,
    /// Fp6 = c0 + c1·v + c2·v², Fp2 = c0 + c1·u).
    pub fn to_be_coefficients(&self) -> [[u8; 48]; 12] {
        let mut out = [[0u8; 48]; 12];
        let coeffs = self
            .0
            .fp6
            .iter()
            .flat_map(|f6| f6.fp2.iter())
            .flat_map(|f2| f2.fp.iter());
        for (dst, fp) in out.iter_mut().zip(coeffs) {
            *dst = ffi::fp_to_be48(fp);
        }
        out
    }

    /// `blst_fp12` limbs, flattened, for constant-time selection.
    fn limbs_mut(&mut self) -> impl Iterator<Item = &mut u64> {
        self.0
            .fp6
            .iter_mut()
            .flat_map(|f6| f6.fp2.iter_mut())
            .flat_map(|f2| f2.fp.iter_mut())
            .flat_map(|fp| fp.l.iter_mut())
    }

    fn limbs(&self) -> impl Iterator<Item = &u64> {
        self.0
            .fp6
            .iter()
            .flat_map(|f6| f6.fp2.iter())
            .flat_map(|f2| f2.fp.iter())
            .flat_map(|fp| fp.l.iter())
    }

    /// `*self = other` if `choice`, in constant time.
    pub fn conditional_assign(&mut self, other: &Self, choice: Choice) {
        for (a, b) in self.limbs_mut().zip(other.limbs()) {
            a.conditional_assign(b, choice);
        }
    }
}

impl ConstantTimeEq for Fp12 {
    fn ct_eq(&self, other: &Self) -> Choice {
        Choice::from(u8::from(ffi::fp12_eq(&self.0, &other.0)))
    }
}

impl Zeroize for Fp12 {
    fn zeroize(&mut self) {
        self.0.zeroize_fp();
    }
}
impl Drop for Fp12 {
    fn drop(&mut self) {
        self.zeroize();
    }
}
impl ZeroizeOnDrop for Fp12 {}

impl fmt::Debug for Fp12 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fp12(<redacted>)")
    }
}

/// The optimal ate pairing `e(p, q)` (one Miller loop and the final
/// exponentiation); one if either argument is the identity.
pub fn pairing(p: &P1, q: &P2) -> Fp12 {
    let trivial = p.is_identity() | q.is_identity();
    let mut f = if bool::from(trivial) {
        Fp12::one()
    } else {
        Fp12(ffi::miller_loop(
            &ffi::p2_to_affine(&q.0),
            &ffi::p1_to_affine(&p.0),
        ))
    };
    f = Fp12(ffi::final_exp(&f.0));
    f
}

/// `∏ ML(p_i, q_i)`: the product of the Miller loops against prepared G2
/// points, before the final exponentiation. Pairs with an identity
/// contribute one.
pub fn multi_miller_loop(terms: &[(&P1, &G2Lines)]) -> Fp12 {
    let mut acc = Fp12::one();
    for (p, q) in terms {
        if q.infinity || bool::from(p.is_identity()) {
            continue;
        }
        let f = Fp12(ffi::miller_loop_lines(&q.lines, &ffi::p1_to_affine(&p.0)));
        acc = acc.mul(&f);
    }
    acc
}

/// The final exponentiation, mapping a Miller-loop output into Gt.
pub fn final_exponentiation(f: &Fp12) -> Fp12 {
    Fp12(ffi::final_exp(&f.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fr_round_trips_and_range_checks() {
        let a = Fr::from_u64(0x0102);
        let b = a.to_be_bytes();
        assert_eq!(&b[30..], &[1, 2]);
        assert!(bool::from(Fr::from_be_bytes(&b).unwrap().ct_eq(&a)));
        let r = [
            0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1,
            0xd8, 0x05, 0x53, 0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff,
            0x00, 0x00, 0x00, 0x01,
        ];
        assert!(Fr::from_be_bytes(&r).is_none());
        // r reduces to zero; r - 1 + 2 = 1.
        assert!(bool::from(Fr::from_be_bytes_reduced(&r).is_zero()));
        assert!(Fr::zero().invert().is_none());
        let inv = Fr::from_u64(7).invert().unwrap();
        assert_eq!(
            inv.mul(&Fr::from_u64(7)).to_be_bytes(),
            Fr::one().to_be_bytes()
        );
    }

    #[test]
    fn points_and_pairing_are_bilinear() {
        let a = Fr::from_u64(6);
        let b = Fr::from_u64(35);
        let p = P1::generator().mul(&a);
        let q = P2::generator().mul(&b);
        let e = pairing(&p, &q);
        let g = pairing(&P1::generator(), &P2::generator());
        assert!(bool::from(e.ct_eq(&g.pow(&a.mul(&b).to_be_bytes()))));
        let lines = q.prepare();
        let ml = multi_miller_loop(&[(&p, &lines), (&p.neg(), &lines)]);
        assert!(bool::from(final_exponentiation(&ml).is_one()));
        assert!(bool::from(pairing(&P1::identity(), &q).is_one()));
        assert!(bool::from(
            final_exponentiation(&multi_miller_loop(&[(&p, &P2::identity().prepare())])).is_one()
        ));
    }

    #[test]
    fn decoding_checks_the_subgroup() {
        let mut found = false;
        for x in 1u8..=50 {
            let mut enc = [0u8; 48];
            enc[0] = 0x80;
            enc[47] = x;
            if ffi::p1_uncompress_unchecked(&enc).is_some() {
                assert!(P1::from_compressed(&enc).is_none());
                found = true;
            }
        }
        assert!(found);
        found = false;
        for x in 1u8..=50 {
            let mut enc = [0u8; 96];
            enc[0] = 0x80;
            enc[95] = x;
            if ffi::p2_uncompress_unchecked(&enc).is_some() {
                assert!(P2::from_compressed(&enc).is_none());
                found = true;
            }
        }
        assert!(found);
        let g = P2::generator().to_compressed();
        assert!(bool::from(
            P2::from_compressed(&g).unwrap().ct_eq(&P2::generator())
        ));
    }

    #[test]
    fn zeroize_clears_points_and_lines() {
        let mut p = P1::generator();
        p.zeroize();
        assert!(bool::from(p.is_identity()));
        let mut l = P2::generator().prepare();
        l.zeroize();
        assert!(
            l.lines
                .iter()
                .all(|f| f.fp2.iter().all(|f2| f2.fp.iter().all(|fp| fp.l == [0; 6])))
        );
    }
}
