//! Interop checks of milagro-tls against implementations this project did not
//! write: RFC 9380's own test vectors and an independent re-implementation of
//! the protocol math on arkworks (`ark-bls12-381`), a codebase unrelated to the
//! zkcrypto `bls12_381` family that milagro-tls's engine derives from.
//!
//! This library holds only the independent building blocks; the comparisons
//! live in `tests/`. Everything here is written from the specifications
//! (RFC 9380, the zcash point-encoding convention, `docs/protocol.md`), never
//! by calling milagro-tls's protocol code:
//!
//! * [`expand_message_xmd`]: RFC 9380 §5.3.1 over SHA-256 (checked against
//!   RFC 9380 Appendix K.1 in `tests/rfc9380.rs`);
//! * [`hash_to_scalar`]: RFC 9380 `hash_to_field` over Fr with L = 48
//!   (docs/protocol.md §3.2), built on [`expand_message_xmd`] — **not**
//!   arkworks' `DefaultFieldHasher`, whose expander pads with a 48-byte
//!   `Z_pad` for Fr instead of SHA-256's 64-byte block;
//! * [`hash_to_g1`] / [`hash_to_g2`]: arkworks' `MapToCurveBasedHasher` with
//!   `WBMap` and `DefaultFieldHasher<Sha256, 128>` (for Fq the field hasher's
//!   `L = 64` happens to equal SHA-256's block size, so it is RFC 9380);
//! * encoders from arkworks values to the project's byte formats:
//!   [`enc_g1`] (48 B), [`enc_g2`] (96 B), [`enc_gt`] (576 B, §2.3),
//!   [`enc_fr`] (32 B big-endian).
//!
//! All functions are test helpers: they are not constant time and hold
//! secrets in plain memory.
//!
//! For the tests against outside TLS implementations (`tests/openssl_curl.rs`):
//! [`echo`] is a loopback echo server on milagro-tls's synchronous accept
//! path (standard and Milagro clients on one listener), and [`external`]
//! runs the `openssl` and `curl` tools as bounded child processes.

pub mod echo;
pub mod external;

use ark_bls12_381::{Bls12_381, Fq, Fq2, Fq12, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::AffineRepr;
use ark_ec::CurveGroup;
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::pairing::Pairing;
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_ff::{BigInteger, PrimeField};
use sha2::{Digest, Sha256};

/// SHA-256's output size `b_in_bytes`.
const B_IN_BYTES: usize = 32;
/// SHA-256's input block size `s_in_bytes` (the length of `Z_pad`).
const S_IN_BYTES: usize = 64;

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-256.
///
/// Returns `None` where the RFC aborts: `len_in_bytes` of 0 or above 255
/// blocks (8160 bytes) or above 65535, or a DST longer than 255 bytes (the
/// RFC's oversize-DST rule of §5.3.3 is not needed by this project and is
/// refused rather than implemented).
pub fn expand_message_xmd(msg: &[u8], dst: &[u8], len_in_bytes: usize) -> Option<Vec<u8>> {
    let ell = len_in_bytes.div_ceil(B_IN_BYTES);
    if len_in_bytes == 0 || ell > 255 || len_in_bytes > 65535 || dst.len() > 255 {
        return None;
    }
    let len_u16 = u16::try_from(len_in_bytes).ok()?;
    let dst_len = u8::try_from(dst.len()).ok()?;
    // DST_prime = DST || I2OSP(len(DST), 1)
    let mut dst_prime = dst.to_vec();
    dst_prime.push(dst_len);
    // msg_prime = Z_pad || msg || l_i_b_str || I2OSP(0, 1) || DST_prime
    let mut h = Sha256::new();
    h.update([0u8; S_IN_BYTES]);
    h.update(msg);
    h.update(len_u16.to_be_bytes());
    h.update([0u8]);
    h.update(&dst_prime);
    let b0 = h.finalize();
    // b_1 = H(b_0 || I2OSP(1, 1) || DST_prime)
    let mut h = Sha256::new();
    h.update(b0);
    h.update([1u8]);
    h.update(&dst_prime);
    let mut bi = h.finalize();
    let mut out = bi.to_vec();
    for i in 2..=ell {
        // b_i = H(strxor(b_0, b_(i-1)) || I2OSP(i, 1) || DST_prime)
        let mut xored = [0u8; B_IN_BYTES];
        for (k, byte) in xored.iter_mut().enumerate() {
            *byte = b0[k] ^ bi[k];
        }
        let mut h = Sha256::new();
        h.update(xored);
        h.update([u8::try_from(i).ok()?]);
        h.update(&dst_prime);
        bi = h.finalize();
        out.extend_from_slice(&bi);
    }
    out.truncate(len_in_bytes);
    Some(out)
}

/// docs/protocol.md §3.2 `Hq`: `OS2IP(expand_message_xmd(msg, DST, 48)) mod r`
/// (RFC 9380 `hash_to_field` over Fr, count 1, L = 48). `msg` is the
/// concatenation of `parts`.
pub fn hash_to_scalar(dst: &[u8], parts: &[&[u8]]) -> Fr {
    let bytes = expand_message_xmd(&parts.concat(), dst, 48)
        .expect("48 bytes with a protocol DST (< 256 bytes) is always valid");
    Fr::from_be_bytes_mod_order(&bytes)
}

/// RFC 9380 `BLS12381G1_XMD:SHA-256_SSWU_RO_` with arkworks' hasher.
pub fn hash_to_g1(dst: &[u8], msg: &[u8]) -> G1Affine {
    MapToCurveBasedHasher::<
        G1Projective,
        DefaultFieldHasher<Sha256, 128>,
        WBMap<ark_bls12_381::g1::Config>,
    >::new(dst)
    .and_then(|h| h.hash(msg))
    .expect("arkworks hash to G1 does not fail for the WB map")
}

/// RFC 9380 `BLS12381G2_XMD:SHA-256_SSWU_RO_` with arkworks' hasher.
pub fn hash_to_g2(dst: &[u8], msg: &[u8]) -> G2Affine {
    MapToCurveBasedHasher::<
        G2Projective,
        DefaultFieldHasher<Sha256, 128>,
        WBMap<ark_bls12_381::g2::Config>,
    >::new(dst)
    .and_then(|h| h.hash(msg))
    .expect("arkworks hash to G2 does not fail for the WB map")
}

/// An Fq element as its canonical integer, 48 bytes big-endian.
pub fn enc_fq(v: &Fq) -> [u8; 48] {
    let be = v.into_bigint().to_bytes_be();
    let mut out = [0u8; 48];
    out.copy_from_slice(&be);
    out
}

/// An Fr element as 32 bytes big-endian (docs/protocol.md §1.2).
pub fn enc_fr(v: &Fr) -> [u8; 32] {
    let be = v.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    out.copy_from_slice(&be);
    out
}

/// Reads 32 big-endian bytes as a scalar, refusing values ≥ r.
pub fn dec_fr(bytes: &[u8; 32]) -> Option<Fr> {
    let v = Fr::from_be_bytes_mod_order(bytes);
    (enc_fr(&v) == *bytes).then_some(v)
}

/// `y > p − y` as integers: the zcash/RFC 9380 "lexicographically largest".
fn fq_largest(y: &Fq) -> bool {
    y.into_bigint() > (-*y).into_bigint()
}

/// For Fp2 the zcash rule: decided by `c1` unless it is zero, then by `c0`.
fn fq2_largest(y: &Fq2) -> bool {
    if y.c1 == Fq::from(0u64) {
        fq_largest(&y.c0)
    } else {
        fq_largest(&y.c1)
    }
}

const FLAG_COMPRESSED: u8 = 0x80;
const FLAG_INFINITY: u8 = 0x40;
const FLAG_SIGN: u8 = 0x20;

/// The zcash compressed encoding of a G1 point: x big-endian in 48 bytes,
/// `0x80` set, `0x40` for the identity (all else zero), `0x20` when y is the
/// lexicographically largest of ±y.
pub fn enc_g1(p: &G1Affine) -> [u8; 48] {
    let mut out = [0u8; 48];
    match p.xy() {
        None => out[0] = FLAG_COMPRESSED | FLAG_INFINITY,
        Some((x, y)) => {
            out = enc_fq(&x);
            out[0] |= FLAG_COMPRESSED;
            if fq_largest(&y) {
                out[0] |= FLAG_SIGN;
            }
        }
    }
    out
}

/// The zcash compressed encoding of a G2 point: `x.c1 ‖ x.c0` big-endian in
/// 96 bytes, flags in the first byte as for G1 (sign by the Fp2 rule).
pub fn enc_g2(p: &G2Affine) -> [u8; 96] {
    let mut out = [0u8; 96];
    match p.xy() {
        None => out[0] = FLAG_COMPRESSED | FLAG_INFINITY,
        Some((x, y)) => {
            out[..48].copy_from_slice(&enc_fq(&x.c1));
            out[48..].copy_from_slice(&enc_fq(&x.c0));
            out[0] |= FLAG_COMPRESSED;
            if fq2_largest(&y) {
                out[0] |= FLAG_SIGN;
            }
        }
    }
    out
}

/// docs/protocol.md §2.3: the 12 Fp coefficients, 48 bytes big-endian each,
/// in the order c0.c0.c0, c0.c0.c1, c0.c1.c0, …, c1.c2.c1.
pub fn enc_gt(f: &Fq12) -> [u8; 576] {
    let mut out = [0u8; 576];
    let coeffs = [
        f.c0.c0.c0, f.c0.c0.c1, f.c0.c1.c0, f.c0.c1.c1, f.c0.c2.c0, f.c0.c2.c1, f.c1.c0.c0,
        f.c1.c0.c1, f.c1.c1.c0, f.c1.c1.c1, f.c1.c2.c0, f.c1.c2.c1,
    ];
    for (chunk, c) in out.chunks_exact_mut(48).zip(coeffs.iter()) {
        chunk.copy_from_slice(&enc_fq(c));
    }
    out
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// arkworks' pairing `e(p, q)` as an Fq12 value (the normative pairing,
/// docs/protocol.md §2.1; encode it with [`enc_gt`]).
pub fn ark_pairing(p: &G1Projective, q: &G2Projective) -> Fq12 {
    Bls12_381::pairing(p.into_affine(), q.into_affine()).0
}

/// The compressed encoding of a projective G1 point.
pub fn g1_bytes(p: &G1Projective) -> [u8; 48] {
    enc_g1(&p.into_affine())
}

/// The compressed encoding of a projective G2 point.
pub fn g2_bytes(p: &G2Projective) -> [u8; 96] {
    enc_g2(&p.into_affine())
}

/// The standard G1 generator.
pub fn g1_generator() -> G1Projective {
    G1Affine::generator().into()
}

/// The standard G2 generator (the protocol's Q).
pub fn g2_generator() -> G2Projective {
    G2Affine::generator().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::Field;

    /// Checked against the zcash encoding rules: the identity encodes as
    /// `0xc0 ‖ 0…0`, and P and −P differ only in the sign flag.
    #[test]
    fn identity_and_sign_flags_follow_the_zcash_rules() {
        let mut id = [0u8; 48];
        id[0] = 0xc0;
        assert_eq!(enc_g1(&G1Affine::zero()), id);
        let g = G1Affine::generator();
        let (a, b) = (enc_g1(&g), enc_g1(&(-g)));
        assert_eq!(a[0] ^ b[0], FLAG_SIGN);
        assert_eq!(a[1..], b[1..]);
        let q = G2Affine::generator();
        let (a, b) = (enc_g2(&q), enc_g2(&(-q)));
        assert_eq!(a[0] ^ b[0], FLAG_SIGN);
        assert_eq!(a[1..], b[1..]);
    }

    /// Scalars ≥ r are refused, r − 1 round-trips.
    #[test]
    fn scalar_decoding_refuses_r() {
        let r = Fr::MODULUS.to_bytes_be();
        let r: [u8; 32] = r.try_into().expect("32 bytes");
        assert_eq!(dec_fr(&r), None);
        let m1 = -Fr::ONE;
        assert_eq!(dec_fr(&enc_fr(&m1)), Some(m1));
    }

    /// RFC 9380's aborts are refused.
    #[test]
    fn expand_message_xmd_refuses_out_of_range_lengths() {
        assert_eq!(expand_message_xmd(b"", b"d", 0), None);
        assert_eq!(expand_message_xmd(b"", b"d", 255 * 32 + 1), None);
        assert_eq!(expand_message_xmd(b"", &[0u8; 256], 32), None);
        assert_eq!(
            expand_message_xmd(b"", b"d", 255 * 32).map(|v| v.len()),
            Some(8160)
        );
    }
}
