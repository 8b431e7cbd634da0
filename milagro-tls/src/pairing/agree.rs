//! The two engines agree byte for byte: every encoding, hash, product and
//! pairing the protocol uses is computed by both and compared, on fixed edge
//! cases and on random inputs. Compiled only when both engines are (the
//! crate's own dev-dependency enables `engine-pure` next to the default).

use proptest::prelude::*;

use super::{G1Domain, G2Domain, ScalarDomain, blst as b, pure as p};

fn scalars(wide: &[u8; 64]) -> (b::Scalar, p::Scalar) {
    let sb = b::Scalar::from_wide_be(wide);
    let sp = p::Scalar::from_wide_be(wide);
    assert_eq!(sb.to_be_bytes(), sp.to_be_bytes());
    (sb, sp)
}

fn wide(a: [u8; 32], c: [u8; 32]) -> [u8; 64] {
    let mut w = [0u8; 64];
    w[..32].copy_from_slice(&a);
    w[32..].copy_from_slice(&c);
    w
}

const SCALAR_DOMAINS: [ScalarDomain; 7] = [
    ScalarDomain::CsH,
    ScalarDomain::CsY,
    ScalarDomain::CsDleq,
    ScalarDomain::CsNonce,
    ScalarDomain::P2pA,
    ScalarDomain::P2pB,
    ScalarDomain::P2pNonce,
];

#[test]
fn wide_reduction_edge_cases() {
    for w in [[0u8; 64], [0xff; 64], {
        let mut w = [0u8; 64];
        w[63] = 1;
        w
    }] {
        scalars(&w);
    }
    // r - 1 and r in the low half.
    let r =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001").unwrap();
    let mut w = [0u8; 64];
    w[32..].copy_from_slice(&r);
    scalars(&w);
    w[63] = 0;
    scalars(&w);
}

#[test]
fn scalar_decoding_agrees_at_the_range_limit() {
    let r =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001").unwrap();
    let mut below = r.clone();
    below[31] = 0;
    for bytes in [r, below, vec![0u8; 32], vec![0xff; 32], vec![1u8; 31]] {
        let x = b::Scalar::from_be_bytes(&bytes).map(|s| s.to_be_bytes());
        let y = p::Scalar::from_be_bytes(&bytes).map(|s| s.to_be_bytes());
        assert_eq!(x, y);
        let x = b::Scalar::from_be_bytes_nonzero(&bytes).map(|s| s.to_be_bytes());
        let y = p::Scalar::from_be_bytes_nonzero(&bytes).map(|s| s.to_be_bytes());
        assert_eq!(x, y);
    }
    assert!(b::Scalar::zero().invert().is_none());
    assert!(p::Scalar::zero().invert().is_none());
}

#[test]
fn generators_and_gt_encoding_agree() {
    assert_eq!(b::G1::generator().to_bytes(), p::G1::generator().to_bytes());
    assert_eq!(b::G2::generator().to_bytes(), p::G2::generator().to_bytes());
    assert_eq!(b::G1::identity().to_bytes(), p::G1::identity().to_bytes());
    assert_eq!(b::G2::identity().to_bytes(), p::G2::identity().to_bytes());
    assert_eq!(b::Gt::generator().to_bytes(), p::Gt::generator().to_bytes());
    assert_eq!(b::Gt::one().to_bytes(), p::Gt::one().to_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn scalar_arithmetic_agrees(a in any::<[u8; 32]>(), c in any::<[u8; 32]>(),
                                d in any::<[u8; 32]>(), e in any::<[u8; 32]>()) {
        let (xb, xp) = scalars(&wide(a, c));
        let (yb, yp) = scalars(&wide(d, e));
        prop_assert_eq!((&xb + &yb).to_be_bytes(), (&xp + &yp).to_be_bytes());
        prop_assert_eq!((&xb - &yb).to_be_bytes(), (&xp - &yp).to_be_bytes());
        prop_assert_eq!((&xb * &yb).to_be_bytes(), (&xp * &yp).to_be_bytes());
        prop_assert_eq!((-&xb).to_be_bytes(), (-&xp).to_be_bytes());
        prop_assert_eq!(
            xb.invert().map(|s| s.to_be_bytes()),
            xp.invert().map(|s| s.to_be_bytes())
        );
        // A canonical 32-byte input decodes the same (or is refused by both).
        prop_assert_eq!(
            b::Scalar::from_be_bytes(&a).map(|s| s.to_be_bytes()),
            p::Scalar::from_be_bytes(&a).map(|s| s.to_be_bytes())
        );
    }

    #[test]
    fn hashing_agrees(msg in proptest::collection::vec(any::<u8>(), 0..100),
                      dst in proptest::collection::vec(any::<u8>(), 1..300)) {
        for d in SCALAR_DOMAINS {
            prop_assert_eq!(
                b::Scalar::hash(d, &[&msg, b"|"]).to_be_bytes(),
                p::Scalar::hash(d, &[&msg, b"|"]).to_be_bytes()
            );
        }
        for d in [G1Domain::CsIdentity, G1Domain::CsTimePermit, G1Domain::P2pIdentity] {
            prop_assert_eq!(
                b::G1::hash(d, &[&msg, b"x"]).to_bytes(),
                p::G1::hash(d, &[&msg, b"x"]).to_bytes()
            );
        }
        prop_assert_eq!(
            b::G2::hash(G2Domain::P2pIdentity, &[&msg]).to_bytes(),
            p::G2::hash(G2Domain::P2pIdentity, &[&msg]).to_bytes()
        );
        // Arbitrary DSTs, including ones over 255 bytes (RFC 9380 §5.3.3).
        prop_assert_eq!(
            b::G1::hash_with_dst(&dst, &msg).to_bytes(),
            p::G1::hash_with_dst(&dst, &msg).to_bytes()
        );
        prop_assert_eq!(
            b::G2::hash_with_dst(&dst, &msg).to_bytes(),
            p::G2::hash_with_dst(&dst, &msg).to_bytes()
        );
    }

    #[test]
    fn group_operations_agree(a in any::<[u8; 32]>(), c in any::<[u8; 32]>(),
                              d in any::<[u8; 32]>(), msg in any::<[u8; 8]>()) {
        let (sb, sp) = scalars(&wide(a, c));
        let (tb, tp) = scalars(&wide(d, c));
        let pb = b::G1::hash(G1Domain::CsIdentity, &[&msg]);
        let pp = p::G1::hash(G1Domain::CsIdentity, &[&msg]);
        let qb = b::G2::hash(G2Domain::P2pIdentity, &[&msg]);
        let qp = p::G2::hash(G2Domain::P2pIdentity, &[&msg]);
        let xb = &pb * &sb;
        let xp = &pp * &sp;
        prop_assert_eq!(xb.to_bytes(), xp.to_bytes());
        let yb = &qb * &sb;
        let yp = &qp * &sp;
        prop_assert_eq!(yb.to_bytes(), yp.to_bytes());
        prop_assert_eq!((&xb + &pb).to_bytes(), (&xp + &pp).to_bytes());
        prop_assert_eq!((&xb - &pb).to_bytes(), (&xp - &pp).to_bytes());
        prop_assert_eq!((&yb - &qb).to_bytes(), (&yp - &qp).to_bytes());
        prop_assert_eq!(
            pb.mul_add(&sb, &xb, &tb).to_bytes(),
            pp.mul_add(&sp, &xp, &tp).to_bytes()
        );
        // Decoding one engine's encoding with the other gives the same point.
        prop_assert_eq!(b::G1::from_bytes(&xp.to_bytes()).unwrap(), xb.clone());
        prop_assert_eq!(b::G2::from_bytes(&yp.to_bytes()).unwrap(), yb.clone());
        // Pairings, prepared multi-pairings and Gt arithmetic.
        let eb = b::pairing(&xb, &qb);
        let ep = p::pairing(&xp, &qp);
        prop_assert_eq!(eb.to_bytes(), ep.to_bytes());
        let mb = b::multi_pairing(&[(&xb, &qb.prepare()), (&pb, &yb.prepare())]);
        let mp = p::multi_pairing(&[(&xp, &qp.prepare()), (&pp, &yp.prepare())]);
        prop_assert_eq!(mb.to_bytes(), mp.to_bytes());
        prop_assert_eq!(eb.pow(&tb).to_bytes(), ep.pow(&tp).to_bytes());
        prop_assert_eq!(eb.mul(&mb).inverse().to_bytes(), ep.mul(&mp).inverse().to_bytes());
    }

    /// Arbitrary bytes decode to the same point, or are refused with the same
    /// error, by both engines (flags, off-curve x, non-subgroup points, the
    /// identity, lengths).
    #[test]
    fn decoding_agrees(bytes in proptest::collection::vec(any::<u8>(), 47..98),
                       flags in 0u8..8, k in 1u64..1000) {
        let mut bytes = bytes;
        bytes[0] = (bytes[0] & 0x1f) | (flags << 5);
        prop_assert_eq!(
            b::G1::from_bytes(&bytes).map(|p| p.to_bytes()),
            p::G1::from_bytes(&bytes).map(|p| p.to_bytes())
        );
        prop_assert_eq!(
            b::G2::from_bytes(&bytes).map(|p| p.to_bytes()),
            p::G2::from_bytes(&bytes).map(|p| p.to_bytes())
        );
        // A valid point with one bit flipped (usually off-curve or invalid).
        let mut enc = (&b::G1::generator() * &b::Scalar::from_u64(k)).to_bytes();
        let i = (k as usize) % enc.len();
        enc[i] ^= 1 << (k % 8);
        prop_assert_eq!(
            b::G1::from_bytes(&enc).map(|p| p.to_bytes()),
            p::G1::from_bytes(&enc).map(|p| p.to_bytes())
        );
    }
}
