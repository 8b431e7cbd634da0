//! RFC 9380 hashing to G1 and G2 through zkcrypto `bls12_381` (feature
//! `experimental`), about 3× faster than `bls12_381_plus`'s own hashing.
//!
//! Both implement the same suites (`BLS12381G1_XMD:SHA-256_SSWU_RO_`,
//! `BLS12381G2_XMD:SHA-256_SSWU_RO_`), so they return the same points; the
//! tests below check that on the RFC 9380 Appendix J vectors and on random
//! messages and DSTs.
//!
//! The point crosses between the engines as its 96/192-byte **uncompressed**
//! zcash encoding (the compressed one would make the receiving side compute a
//! square root). The receiving decode skips the subgroup check, which is sound
//! because `hash_to_curve` ends with RFC 9380's `clear_cofactor` (multiplication
//! by h_eff), so its output is in the prime-order subgroup by construction
//! (the tests also check `is_torsion_free` on random outputs). The on-curve
//! check is kept (it is cheap); if it ever failed, the slow engine's own hash
//! is returned instead, so a disagreement can never produce a bad point.

use bls12_381 as fast;
use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381_plus as engine;

type FastXmd = ExpandMsgXmd<sha2::Sha256>;
type EngineXmd = bls12_381_plus::elliptic_curve_013::hash2curve::ExpandMsgXmd<sha2::Sha256>;

/// Hash to G1 of the concatenation of `parts` under `dst`.
pub(super) fn hash_to_g1(parts: &[&[u8]], dst: &[u8]) -> engine::G1Projective {
    let p = <fast::G1Projective as HashToCurve<FastXmd>>::hash_to_curve(parts, dst);
    let bytes = fast::G1Affine::from(p).to_uncompressed();
    let decoded: Option<engine::G1Affine> =
        engine::G1Affine::from_uncompressed_unchecked(&bytes).into();
    match decoded {
        Some(a) if bool::from(a.is_on_curve()) => engine::G1Projective::from(a),
        _ => engine_hash_to_g1(&parts.concat(), dst),
    }
}

/// Hash to G2 of the concatenation of `parts` under `dst`.
pub(super) fn hash_to_g2(parts: &[&[u8]], dst: &[u8]) -> engine::G2Projective {
    let p = <fast::G2Projective as HashToCurve<FastXmd>>::hash_to_curve(parts, dst);
    let bytes = fast::G2Affine::from(p).to_uncompressed();
    let decoded: Option<engine::G2Affine> =
        engine::G2Affine::from_uncompressed_unchecked(&bytes).into();
    match decoded {
        Some(a) if bool::from(a.is_on_curve()) => engine::G2Projective::from(a),
        _ => engine_hash_to_g2(&parts.concat(), dst),
    }
}

/// The pairing engine's own (slower) hash to G1: the reference for the tests
/// and the fallback above.
pub(super) fn engine_hash_to_g1(msg: &[u8], dst: &[u8]) -> engine::G1Projective {
    engine::G1Projective::hash::<EngineXmd>(msg, dst)
}

/// The pairing engine's own (slower) hash to G2.
pub(super) fn engine_hash_to_g2(msg: &[u8], dst: &[u8]) -> engine::G2Projective {
    engine::G2Projective::hash::<EngineXmd>(msg, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parses the `key = value` records of an interop RFC 9380 data file:
    /// returns the DST and, per message, the concatenated big-endian
    /// coordinate hex in file order.
    fn records(text: &str) -> (String, Vec<(String, String)>) {
        let mut dst = String::new();
        let mut out: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (k, v) = line.split_once(" = ").unwrap_or_else(|| {
                let k = line.trim_end().trim_end_matches('=').trim_end();
                (k, "")
            });
            match k {
                "dst" => dst = v.to_string(),
                "msg" => out.push((v.to_string(), String::new())),
                "suite" => {}
                _ => out.last_mut().expect("record before msg").1.push_str(v),
            }
        }
        (dst, out)
    }

    const G1_VECTORS: &str = include_str!(
        "../../../../interop/tests/data/rfc9380_j9_1_bls12381g1_xmd_sha256_sswu_ro.txt"
    );
    const G2_VECTORS: &str = include_str!(
        "../../../../interop/tests/data/rfc9380_j10_1_bls12381g2_xmd_sha256_sswu_ro.txt"
    );

    #[test]
    fn g1_rfc_vectors_both_engines() {
        let (dst, recs) = records(G1_VECTORS);
        assert_eq!(dst, "QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_");
        assert_eq!(recs.len(), 5);
        for (msg, xy) in recs {
            // The file gives x ‖ y: exactly the uncompressed encoding.
            let fast = hash_to_g1(&[msg.as_bytes()], dst.as_bytes());
            let slow = engine_hash_to_g1(msg.as_bytes(), dst.as_bytes());
            assert_eq!(fast, slow, "msg {msg:?}");
            let enc = engine::G1Affine::from(fast).to_uncompressed();
            assert_eq!(hex::encode(enc), xy, "msg {msg:?}");
        }
    }

    #[test]
    fn g2_rfc_vectors_both_engines() {
        let (dst, recs) = records(G2_VECTORS);
        assert_eq!(dst, "QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_");
        assert_eq!(recs.len(), 5);
        for (msg, coords) in recs {
            // The file gives x.c0, x.c1, y.c0, y.c1; the zcash encoding puts
            // c1 before c0.
            assert_eq!(coords.len(), 4 * 96);
            let (xc0, rest) = coords.split_at(96);
            let (xc1, rest) = rest.split_at(96);
            let (yc0, yc1) = rest.split_at(96);
            let expect = format!("{xc1}{xc0}{yc1}{yc0}");
            let fast = hash_to_g2(&[msg.as_bytes()], dst.as_bytes());
            let slow = engine_hash_to_g2(msg.as_bytes(), dst.as_bytes());
            assert_eq!(fast, slow, "msg {msg:?}");
            let enc = engine::G2Affine::from(fast).to_uncompressed();
            assert_eq!(hex::encode(enc), expect, "msg {msg:?}");
        }
    }

    /// Splitting the message into parts hashes their concatenation.
    #[test]
    fn parts_are_concatenated() {
        let dst = super::super::G1Domain::CsTimePermit.dst();
        assert_eq!(
            hash_to_g1(&[b"ab", b"", b"cd"], dst),
            engine_hash_to_g1(b"abcd", dst)
        );
        let dst = super::super::G2Domain::P2pIdentity.dst();
        assert_eq!(
            hash_to_g2(&[b"a", b"bcd"], dst),
            engine_hash_to_g2(b"abcd", dst)
        );
    }

    /// A DST longer than 255 bytes is first hashed (RFC 9380 §5.3.3); both
    /// engines must do that identically.
    #[test]
    fn oversize_dst_agrees() {
        let dst = [b'D'; 300];
        assert_eq!(hash_to_g1(&[b"m"], &dst), engine_hash_to_g1(b"m", &dst));
        assert_eq!(hash_to_g2(&[b"m"], &dst), engine_hash_to_g2(b"m", &dst));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn g1_engines_agree(
            msg in proptest::collection::vec(any::<u8>(), 0..200),
            dst in proptest::collection::vec(any::<u8>(), 1..300),
        ) {
            let fast = hash_to_g1(&[&msg], &dst);
            prop_assert_eq!(fast, engine_hash_to_g1(&msg, &dst));
            prop_assert!(bool::from(engine::G1Affine::from(fast).is_torsion_free()));
        }

        #[test]
        fn g2_engines_agree(
            msg in proptest::collection::vec(any::<u8>(), 0..200),
            dst in proptest::collection::vec(any::<u8>(), 1..300),
        ) {
            let fast = hash_to_g2(&[&msg], &dst);
            prop_assert_eq!(fast, engine_hash_to_g2(&msg, &dst));
            prop_assert!(bool::from(engine::G2Affine::from(fast).is_torsion_free()));
        }

        #[test]
        fn protocol_domains_agree(msg in proptest::collection::vec(any::<u8>(), 0..64)) {
            for d in [
                super::super::G1Domain::CsIdentity,
                super::super::G1Domain::CsTimePermit,
                super::super::G1Domain::P2pIdentity,
            ] {
                prop_assert_eq!(hash_to_g1(&[&msg], d.dst()), engine_hash_to_g1(&msg, d.dst()));
            }
            let d = super::super::G2Domain::P2pIdentity.dst();
            prop_assert_eq!(hash_to_g2(&[&msg], d), engine_hash_to_g2(&msg, d));
        }
    }
}
