//! The only module of this crate with `unsafe`: one safe function per `blst`
//! entry point the engine uses.
//!
//! Audit rules, each checked at every call below:
//!
//! * every pointer passed is derived from a Rust reference (`&T` for inputs,
//!   `&mut T` for outputs) to a `#[repr(C)]` type of the `blst` bindings whose
//!   layout matches the C declaration (the bindings' own layout tests check
//!   that), so it is non-null, aligned and valid for the whole call;
//! * slices are passed with their exact length; a zero-length slice's dangling
//!   pointer is never read by `blst` (it reads `len` bytes);
//! * output buffers are fully written by `blst` before they are read, and the
//!   ones here start initialised (`Default`), so no uninitialised memory is
//!   ever exposed;
//! * `blst` keeps no pointer after returning and has no global mutable state,
//!   so the functions are safe to call from any thread.
#![allow(unsafe_code)]

use blst::{
    BLST_ERROR, blst_fp, blst_fp6, blst_fp12, blst_fr, blst_p1, blst_p1_affine, blst_p2,
    blst_p2_affine, blst_scalar,
};

// ----- scalars -------------------------------------------------------------

/// `a mod r` from a big-endian integer of any length (constant time in the
/// value: a fixed sequence of Montgomery multiplications per 32-byte digit).
pub(crate) fn fr_from_be_bytes_reduced(bytes: &[u8]) -> blst_fr {
    let mut s = blst_scalar::default();
    let mut out = blst_fr::default();
    // SAFETY: see the module rules; `bytes.len()` bytes are readable.
    unsafe {
        blst::blst_scalar_from_be_bytes(&mut s, bytes.as_ptr(), bytes.len());
        blst::blst_fr_from_scalar(&mut out, &s);
    }
    out
}

/// The canonical 32-byte big-endian integer as a field element, or `None` if
/// it is not below r.
pub(crate) fn fr_from_be32(bytes: &[u8; 32]) -> Option<blst_fr> {
    let mut s = blst_scalar::default();
    let mut out = blst_fr::default();
    // SAFETY: see the module rules; `bytes` has the 32 bytes blst reads.
    let ok = unsafe {
        blst::blst_scalar_from_bendian(&mut s, bytes.as_ptr());
        let ok = blst::blst_scalar_fr_check(&s);
        blst::blst_fr_from_scalar(&mut out, &s);
        ok
    };
    ok.then_some(out)
}

/// The canonical 32-byte big-endian encoding.
pub(crate) fn fr_to_be32(a: &blst_fr) -> [u8; 32] {
    let s = fr_to_scalar(a);
    let mut out = [0u8; 32];
    // SAFETY: see the module rules; `out` has the 32 bytes blst writes.
    unsafe { blst::blst_bendian_from_scalar(out.as_mut_ptr(), &s) };
    out
}

/// The canonical little-endian integer (the form `blst_p*_mult` reads).
/// `blst_scalar` zeroizes itself on drop.
pub(crate) fn fr_to_scalar(a: &blst_fr) -> blst_scalar {
    let mut s = blst_scalar::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_scalar_from_fr(&mut s, a) };
    s
}

/// The integer `v` as a field element.
pub(crate) fn fr_from_u64(v: u64) -> blst_fr {
    let limbs = [v, 0, 0, 0];
    let mut out = blst_fr::default();
    // SAFETY: see the module rules; blst reads four 64-bit limbs.
    unsafe { blst::blst_fr_from_uint64(&mut out, limbs.as_ptr()) };
    out
}

pub(crate) fn fr_add(a: &blst_fr, b: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fr_add(&mut out, a, b) };
    out
}

pub(crate) fn fr_sub(a: &blst_fr, b: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fr_sub(&mut out, a, b) };
    out
}

pub(crate) fn fr_mul(a: &blst_fr, b: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fr_mul(&mut out, a, b) };
    out
}

pub(crate) fn fr_neg(a: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fr_cneg(&mut out, a, true) };
    out
}

/// `a^-1` by blst's constant-time inversion (`ct_inverse_mod_256`); zero maps
/// to zero.
pub(crate) fn fr_inverse(a: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fr_eucl_inverse(&mut out, a) };
    out
}

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-256 (DSTs over 255 bytes are
/// hashed first as §5.3.3 says).
pub(crate) fn expand_message_xmd(out: &mut [u8], msg: &[u8], dst: &[u8]) {
    // SAFETY: see the module rules; blst writes exactly `out.len()` bytes.
    unsafe {
        blst::blst_expand_message_xmd(
            out.as_mut_ptr(),
            out.len(),
            msg.as_ptr(),
            msg.len(),
            dst.as_ptr(),
            dst.len(),
        )
    };
}

// ----- G1 and G2 -----------------------------------------------------------

macro_rules! point_ffi {
    ($p:ty, $aff:ty, $len:expr,
     $generator:ident, $add:ident, $cneg:ident, $mult:ident, $is_inf:ident, $is_equal:ident,
     $compress:ident, $uncompress:ident, $in_group:ident, $from_aff:ident, $to_aff:ident,
     $hash:ident, $on_curve:ident, $serialize:ident,
     $f_generator:ident, $f_add:ident, $f_neg:ident, $f_mul:ident, $f_is_inf:ident,
     $f_eq:ident, $f_compress:ident, $f_uncompress:ident, $f_to_aff:ident, $f_hash:ident,
     $f_unchecked:ident, $f_serialize:ident) => {
        /// The group's standard generator.
        pub(crate) fn $f_generator() -> $p {
            // SAFETY: blst returns a pointer to its static generator, valid
            // for the program's life; it is copied out.
            unsafe { *blst::$generator() }
        }

        /// `a + b` by blst's complete addition (handles the identity and
        /// `a == b` without a branch on the values).
        pub(crate) fn $f_add(a: &$p, b: &$p) -> $p {
            let mut out = <$p>::default();
            // SAFETY: see the module rules.
            unsafe { blst::$add(&mut out, a, b) };
            out
        }

        pub(crate) fn $f_neg(a: &$p) -> $p {
            let mut out = *a;
            // SAFETY: see the module rules.
            unsafe { blst::$cneg(&mut out, true) };
            out
        }

        /// `k·a` for the canonical little-endian 255-bit scalar `k`: blst's
        /// constant-time GLS/GLV multiplication (fixed window, Booth-encoded
        /// digits, table read by a full constant-time scan).
        pub(crate) fn $f_mul(a: &$p, k: &blst_scalar) -> $p {
            let mut out = <$p>::default();
            // SAFETY: see the module rules; blst reads ceil(255/8) = 32 bytes.
            unsafe { blst::$mult(&mut out, a, k.b.as_ptr(), 255) };
            out
        }

        pub(crate) fn $f_is_inf(a: &$p) -> bool {
            // SAFETY: see the module rules.
            unsafe { blst::$is_inf(a) }
        }

        /// Projective equality (constant time; identities compare equal).
        pub(crate) fn $f_eq(a: &$p, b: &$p) -> bool {
            // SAFETY: see the module rules.
            unsafe { blst::$is_equal(a, b) }
        }

        /// The zcash-format compressed encoding (the identity is `0xc0 0…`).
        pub(crate) fn $f_compress(a: &$p) -> [u8; $len] {
            let mut out = [0u8; $len];
            // SAFETY: see the module rules; `out` has the bytes blst writes.
            unsafe { blst::$compress(out.as_mut_ptr(), a) };
            out
        }

        /// Decodes a compressed point and checks it lies in the prime-order
        /// subgroup; the identity encoding is accepted here (callers refuse it).
        pub(crate) fn $f_uncompress(bytes: &[u8; $len]) -> Option<$p> {
            let mut aff = <$aff>::default();
            let mut out = <$p>::default();
            // SAFETY: see the module rules; `bytes` has the bytes blst reads.
            unsafe {
                if blst::$uncompress(&mut aff, bytes.as_ptr()) != BLST_ERROR::BLST_SUCCESS {
                    return None;
                }
                blst::$from_aff(&mut out, &aff);
                if !blst::$in_group(&out) {
                    return None;
                }
            }
            Some(out)
        }

        /// Decodes a compressed point without the subgroup check (tests only:
        /// to build an on-curve point outside the subgroup).
        #[cfg(test)]
        pub(crate) fn $f_unchecked(bytes: &[u8; $len]) -> Option<$p> {
            let mut aff = <$aff>::default();
            let mut out = <$p>::default();
            // SAFETY: see the module rules.
            unsafe {
                if blst::$uncompress(&mut aff, bytes.as_ptr()) != BLST_ERROR::BLST_SUCCESS {
                    return None;
                }
                blst::$from_aff(&mut out, &aff);
                if !blst::$on_curve(&out) {
                    return None;
                }
            }
            Some(out)
        }

        /// The zcash-format uncompressed encoding.
        pub(crate) fn $f_serialize(a: &$p) -> [u8; 2 * $len] {
            let mut out = [0u8; 2 * $len];
            // SAFETY: see the module rules; `out` has the bytes blst writes.
            unsafe { blst::$serialize(out.as_mut_ptr(), a) };
            out
        }

        pub(crate) fn $f_to_aff(a: &$p) -> $aff {
            let mut out = <$aff>::default();
            // SAFETY: see the module rules.
            unsafe { blst::$to_aff(&mut out, a) };
            out
        }

        /// RFC 9380 `hash_to_curve` (`*_XMD:SHA-256_SSWU_RO_`) of `msg` under `dst`.
        pub(crate) fn $f_hash(msg: &[u8], dst: &[u8]) -> $p {
            let mut out = <$p>::default();
            // SAFETY: see the module rules; a null `aug` with length 0 is
            // blst's documented "no augmentation".
            unsafe {
                blst::$hash(
                    &mut out,
                    msg.as_ptr(),
                    msg.len(),
                    dst.as_ptr(),
                    dst.len(),
                    core::ptr::null(),
                    0,
                )
            };
            out
        }
    };
}

point_ffi!(
    blst_p1,
    blst_p1_affine,
    48,
    blst_p1_generator,
    blst_p1_add_or_double,
    blst_p1_cneg,
    blst_p1_mult,
    blst_p1_is_inf,
    blst_p1_is_equal,
    blst_p1_compress,
    blst_p1_uncompress,
    blst_p1_in_g1,
    blst_p1_from_affine,
    blst_p1_to_affine,
    blst_hash_to_g1,
    blst_p1_on_curve,
    blst_p1_serialize,
    p1_generator,
    p1_add,
    p1_neg,
    p1_mul,
    p1_is_inf,
    p1_eq,
    p1_compress,
    p1_uncompress,
    p1_to_affine,
    p1_hash,
    p1_uncompress_unchecked,
    p1_serialize
);
point_ffi!(
    blst_p2,
    blst_p2_affine,
    96,
    blst_p2_generator,
    blst_p2_add_or_double,
    blst_p2_cneg,
    blst_p2_mult,
    blst_p2_is_inf,
    blst_p2_is_equal,
    blst_p2_compress,
    blst_p2_uncompress,
    blst_p2_in_g2,
    blst_p2_from_affine,
    blst_p2_to_affine,
    blst_hash_to_g2,
    blst_p2_on_curve,
    blst_p2_serialize,
    p2_generator,
    p2_add,
    p2_neg,
    p2_mul,
    p2_is_inf,
    p2_eq,
    p2_compress,
    p2_uncompress,
    p2_to_affine,
    p2_hash,
    p2_uncompress_unchecked,
    p2_serialize
);

// ----- pairings and Fp12 ---------------------------------------------------

/// Number of line coefficients in a prepared G2 point (blst's `Qlines[68]`).
pub(crate) const LINES: usize = 68;

/// The Miller-loop lines of `q` (affine, not the identity).
pub(crate) fn precompute_lines(q: &blst_p2_affine) -> Box<[blst_fp6; LINES]> {
    let mut lines = Box::new([blst_fp6::default(); LINES]);
    // SAFETY: see the module rules; blst writes exactly 68 `blst_fp6`.
    unsafe { blst::blst_precompute_lines(lines.as_mut_ptr(), q) };
    lines
}

/// The Miller loop of `p` (affine, not the identity) against precomputed lines.
pub(crate) fn miller_loop_lines(lines: &[blst_fp6; LINES], p: &blst_p1_affine) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: see the module rules; blst reads exactly 68 `blst_fp6`.
    unsafe { blst::blst_miller_loop_lines(&mut out, lines.as_ptr(), p) };
    out
}

/// The Miller loop of one pair (both affine, neither the identity).
pub(crate) fn miller_loop(q: &blst_p2_affine, p: &blst_p1_affine) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_miller_loop(&mut out, q, p) };
    out
}

pub(crate) fn final_exp(f: &blst_fp12) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_final_exp(&mut out, f) };
    out
}

pub(crate) fn fp12_one() -> blst_fp12 {
    // SAFETY: blst returns a pointer to its static one, valid for the
    // program's life; it is copied out.
    unsafe { *blst::blst_fp12_one() }
}

pub(crate) fn fp12_mul(a: &blst_fp12, b: &blst_fp12) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fp12_mul(&mut out, a, b) };
    out
}

pub(crate) fn fp12_sqr(a: &blst_fp12) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fp12_sqr(&mut out, a) };
    out
}

/// Squaring valid only in the cyclotomic subgroup (every Gt element).
pub(crate) fn fp12_cyclotomic_sqr(a: &blst_fp12) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: see the module rules.
    unsafe { blst::blst_fp12_cyclotomic_sqr(&mut out, a) };
    out
}

/// The conjugate, which is the inverse in the cyclotomic subgroup.
pub(crate) fn fp12_conjugate(a: &blst_fp12) -> blst_fp12 {
    let mut out = *a;
    // SAFETY: see the module rules.
    unsafe { blst::blst_fp12_conjugate(&mut out) };
    out
}

/// Equality (constant time).
pub(crate) fn fp12_eq(a: &blst_fp12, b: &blst_fp12) -> bool {
    // SAFETY: see the module rules.
    unsafe { blst::blst_fp12_is_equal(a, b) }
}

/// The canonical 48-byte big-endian integer of an Fp element (blst stores
/// Montgomery form; this converts out of it).
pub(crate) fn fp_to_be48(a: &blst_fp) -> [u8; 48] {
    let mut out = [0u8; 48];
    // SAFETY: see the module rules; `out` has the 48 bytes blst writes.
    unsafe { blst::blst_bendian_from_fp(out.as_mut_ptr(), a) };
    out
}
