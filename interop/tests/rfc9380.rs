//! RFC 9380 test vectors (Appendix J.9.1, J.10.1, K.1) through milagro-tls's
//! `pairing` module, through arkworks, and through this crate's own
//! `expand_message_xmd`.

mod common;

use ark_bls12_381::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ff::PrimeField;
use ark_ff::field_hashers::{DefaultFieldHasher, HashToField};
use common::{hex48, read_vectors};
use milagro_interop::{
    enc_fr, enc_g1, enc_g2, expand_message_xmd, hash_to_g1, hash_to_g2, hash_to_scalar,
};
use milagro_tls::pairing::{G1, G2, Scalar, ScalarDomain};
use sha2::Sha256;

const G1_FILE: &str = "rfc9380_j9_1_bls12381g1_xmd_sha256_sswu_ro.txt";
const G2_FILE: &str = "rfc9380_j10_1_bls12381g2_xmd_sha256_sswu_ro.txt";
const K1_FILE: &str = "rfc9380_k1_expand_message_xmd_sha256.txt";

fn fq(s: &str) -> Fq {
    let b = hex48(s);
    let v = Fq::from_be_bytes_mod_order(&b);
    assert_eq!(milagro_interop::enc_fq(&v), b, "non-canonical vector value");
    v
}

/// The vector's point, checked to be on the curve and in the subgroup.
fn g1_point(r: &std::collections::BTreeMap<String, String>) -> G1Affine {
    let p = G1Affine::new_unchecked(fq(&r["P.x"]), fq(&r["P.y"]));
    assert!(p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve());
    p
}

fn g2_point(r: &std::collections::BTreeMap<String, String>) -> G2Affine {
    let x = Fq2::new(fq(&r["P.x.c0"]), fq(&r["P.x.c1"]));
    let y = Fq2::new(fq(&r["P.y.c0"]), fq(&r["P.y.c1"]));
    let p = G2Affine::new_unchecked(x, y);
    assert!(p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve());
    p
}

/// This crate's `expand_message_xmd`, checked against RFC 9380 Appendix K.1
/// (all 10 vectors: 32 and 128 output bytes, five messages each).
#[test]
fn own_expand_message_xmd_checked_against_rfc9380_appendix_k1() {
    let v = read_vectors(K1_FILE);
    let dst = v.header["dst"].as_bytes();
    assert_eq!(dst, b"QUUX-V01-CS02-with-expander-SHA256-128");
    assert_eq!(v.records.len(), 10);
    for r in &v.records {
        let len = usize::from_str_radix(r["len_in_bytes"].trim_start_matches("0x"), 16).unwrap();
        let got = expand_message_xmd(r["msg"].as_bytes(), dst, len).unwrap();
        assert_eq!(hex::encode(got), r["uniform_bytes"], "msg {:?}", r["msg"]);
    }
}

/// milagro-tls `G1::hash_with_dst`, checked against RFC 9380 Appendix J.9.1
/// (`BLS12381G1_XMD:SHA-256_SSWU_RO_`, all 5 messages).
#[test]
fn milagro_hash_to_g1_checked_against_rfc9380_appendix_j9_1() {
    let v = read_vectors(G1_FILE);
    let dst = v.header["dst"].as_bytes();
    assert_eq!(dst, b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_");
    assert_eq!(v.records.len(), 5);
    for r in &v.records {
        let expected = enc_g1(&g1_point(r));
        let got = G1::hash_with_dst(dst, r["msg"].as_bytes()).to_bytes();
        assert_eq!(got, expected, "msg {:?}", r["msg"]);
    }
}

/// arkworks' hash to G1 (WBMap + DefaultFieldHasher<Sha256, 128>), checked
/// against RFC 9380 Appendix J.9.1 — so that the protocol checks below rest
/// on an arkworks hasher that is itself RFC-conformant.
#[test]
fn arkworks_hash_to_g1_checked_against_rfc9380_appendix_j9_1() {
    let v = read_vectors(G1_FILE);
    let dst = v.header["dst"].as_bytes();
    for r in &v.records {
        assert_eq!(
            hash_to_g1(dst, r["msg"].as_bytes()),
            g1_point(r),
            "msg {:?}",
            r["msg"]
        );
    }
}

/// milagro-tls `G2::hash_with_dst`, checked against RFC 9380 Appendix J.10.1
/// (`BLS12381G2_XMD:SHA-256_SSWU_RO_`, all 5 messages).
#[test]
fn milagro_hash_to_g2_checked_against_rfc9380_appendix_j10_1() {
    let v = read_vectors(G2_FILE);
    let dst = v.header["dst"].as_bytes();
    assert_eq!(dst, b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_");
    assert_eq!(v.records.len(), 5);
    for r in &v.records {
        let expected = enc_g2(&g2_point(r));
        let got = G2::hash_with_dst(dst, r["msg"].as_bytes()).to_bytes();
        assert_eq!(got, expected, "msg {:?}", r["msg"]);
    }
}

/// arkworks' hash to G2, checked against RFC 9380 Appendix J.10.1.
#[test]
fn arkworks_hash_to_g2_checked_against_rfc9380_appendix_j10_1() {
    let v = read_vectors(G2_FILE);
    let dst = v.header["dst"].as_bytes();
    for r in &v.records {
        assert_eq!(
            hash_to_g2(dst, r["msg"].as_bytes()),
            g2_point(r),
            "msg {:?}",
            r["msg"]
        );
    }
}

const ALL_SCALAR_DOMAINS: [ScalarDomain; 7] = [
    ScalarDomain::CsH,
    ScalarDomain::CsY,
    ScalarDomain::CsDleq,
    ScalarDomain::CsNonce,
    ScalarDomain::P2pA,
    ScalarDomain::P2pB,
    ScalarDomain::P2pNonce,
];

/// milagro-tls `Scalar::hash` (every protocol DST of docs/protocol.md §3.3),
/// checked against RFC 9380 `hash_to_field` over Fr with L = 48 built on this
/// crate's `expand_message_xmd` (itself checked against RFC 9380 Appendix K.1).
/// Messages include the K.1 ones and a 300-byte one (a CS share's length).
#[test]
fn milagro_hash_to_scalar_checked_against_rfc9380_hash_to_field_l48() {
    let long = vec![0xa5u8; 300];
    let msgs: [&[u8]; 5] = [b"", b"abc", b"abcdef0123456789", &long, &[0xff; 48]];
    for d in ALL_SCALAR_DOMAINS {
        for m in msgs {
            let expected = enc_fr(&hash_to_scalar(d.dst(), &[m]));
            assert_eq!(Scalar::hash(d, &[m]).to_be_bytes(), expected, "{d:?}");
        }
    }
}

/// The protocol DST table (docs/protocol.md §3.3), checked byte for byte
/// against the strings milagro-tls uses.
#[test]
fn protocol_dsts_match_docs_section_3_3() {
    let expected: [&[u8]; 7] = [
        b"MILAGRO-TLS13-V1-CS-H",
        b"MILAGRO-TLS13-V1-CS-Y",
        b"MILAGRO-TLS13-V1-CS-DLEQ",
        b"MILAGRO-TLS13-V1-CS-NONCE",
        b"MILAGRO-TLS13-V1-P2P-A",
        b"MILAGRO-TLS13-V1-P2P-B",
        b"MILAGRO-TLS13-V1-P2P-NONCE",
    ];
    for (d, e) in ALL_SCALAR_DOMAINS.iter().zip(expected) {
        assert_eq!(d.dst(), e);
    }
}

/// Finding, checked against arkworks: `DefaultFieldHasher<Sha256>` over Fr is
/// NOT RFC 9380 hash_to_field (its expander's Z_pad is L = 48 bytes, not
/// SHA-256's 64-byte block), so it yields other scalars than docs §3.2 /
/// milagro-tls. An arkworks port must not use it for `Hq`.
#[test]
fn arkworks_default_field_hasher_over_fr_differs_from_rfc9380() {
    for m in [&b""[..], b"abc"] {
        let dst = ScalarDomain::CsH.dst();
        let ark: [Fr; 1] =
            <DefaultFieldHasher<Sha256, 128> as HashToField<Fr>>::new(dst).hash_to_field::<1>(m);
        let rfc = hash_to_scalar(dst, &[m]);
        assert_ne!(ark[0], rfc);
        assert_eq!(
            Scalar::hash(ScalarDomain::CsH, &[m]).to_be_bytes(),
            enc_fr(&rfc)
        );
    }
}
