//! Criterion benches for the hot paths of the cryptographic core: the pairing
//! engine's primitives and each side of the key agreements.
//!
//! `cs/server_refuse_*` and `cs/classify_*` show the refusal and the
//! classification take the same time for small and large PIN errors.
//!
//! `pairing/*` measures the engine the build selects (blst by default; the
//! pure-Rust one with `--no-default-features --features engine-pure`).
//! `engine/*` runs the pure engine's crates' own paths (plain double-and-add
//! multiplication, `bls12_381_plus` and zkcrypto `bls12_381` hashing, point
//! conversion) in the same run, so the pure engine's windowed multiplication
//! and hashing switch can be compared under the same machine load.
//!
//! Run with `cargo bench -p milagro-tls --bench core` (and again with the pure
//! engine); `docs/performance.md` quotes the medians of both.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, day_of,
};
use milagro_tls::mpin::{
    self, ClientState, CsError, Pin, PinDigits, PreparedServerSecret, ServerNonceKey,
};
use milagro_tls::p2p::{P2pClient, P2pServer};
use milagro_tls::pairing::{
    G1, G1Domain, G2, G2Domain, Gt, OsEntropy, Scalar, multi_pairing, pairing,
};

fn primitives(c: &mut Criterion) {
    let rng = OsEntropy;
    let s = Scalar::random(&rng).unwrap();
    let p = G1::hash(G1Domain::CsIdentity, &[b"bench"]);
    let q = G2::hash(G2Domain::P2pIdentity, &[b"bench"]);
    let qp = q.prepare();
    let gp = G2::generator().prepare();
    let p_bytes = p.to_bytes();
    let q_bytes = q.to_bytes();

    let mut g = c.benchmark_group("pairing");
    g.bench_function("hash_to_g1", |b| {
        b.iter(|| G1::hash(G1Domain::CsIdentity, &[black_box(b"alice@example.com")]))
    });
    g.bench_function("hash_to_g2", |b| {
        b.iter(|| G2::hash(G2Domain::P2pIdentity, &[black_box(b"alice@example.com")]))
    });
    g.bench_function("g1_mul", |b| b.iter(|| black_box(&p) * &s));
    g.bench_function("g2_mul", |b| b.iter(|| black_box(&q) * &s));
    let t = Scalar::random(&rng).unwrap();
    let p2 = G1::hash(G1Domain::CsTimePermit, &[b"bench"]);
    g.bench_function("g1_mul_add", |b| {
        b.iter(|| black_box(&p).mul_add(&s, &p2, &t))
    });
    g.bench_function("g1_decode_checked", |b| {
        b.iter(|| G1::from_bytes(black_box(&p_bytes)))
    });
    g.bench_function("g2_decode_checked", |b| {
        b.iter(|| G2::from_bytes(black_box(&q_bytes)))
    });
    g.bench_function("pairing", |b| b.iter(|| pairing(black_box(&p), &q)));
    g.bench_function("pairing_prepared_1", |b| {
        b.iter(|| multi_pairing(&[(black_box(&p), &qp)]))
    });
    g.bench_function("pairing_prepared_2", |b| {
        b.iter(|| multi_pairing(&[(black_box(&p), &qp), (&p, &gp)]))
    });
    let gt = Gt::generator();
    g.bench_function("gt_mul", |b| b.iter(|| black_box(&gt).mul(&gt)));
    g.bench_function("gt_pow", |b| b.iter(|| black_box(&gt).pow(&s)));
    g.finish();
}

fn p2p_keys() -> (P2pServer, P2pClient) {
    let rng = OsEntropy;
    let dep = P2pDeployment::new(3, 3600, &rng).unwrap();
    let shares: Vec<MasterShare> = (0..3)
        .map(|_| MasterShare::generate(Deployment::P2p(dep), &rng).unwrap())
        .collect();
    let server_id = Identity::new("server.example").unwrap();
    let client_id = Identity::new("client.example").unwrap();
    let epoch = 1000;
    let server_key = P2pServerKey::combine(
        &shares
            .iter()
            .map(|m| m.issue_p2p_server_key(&server_id, epoch).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let client_key = P2pClientKey::combine(
        &shares
            .iter()
            .map(|m| m.issue_p2p_client_key(&client_id, epoch).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    (
        P2pServer::new(server_key, None).unwrap(),
        P2pClient::new(client_key, server_id, Some(dep.id)).unwrap(),
    )
}

fn p2p(c: &mut Criterion) {
    let rng = OsEntropy;
    let (server, client) = p2p_keys();
    let mut g = c.benchmark_group("p2p");
    g.bench_function("client_start", |b| b.iter(|| client.start(&rng).unwrap()));
    let hs = client.start(&rng).unwrap();
    let share = *hs.share();
    g.bench_function("server_accept", |b| {
        b.iter(|| server.accept(&share, &rng).unwrap())
    });
    let resp = server.accept(&share, &rng).unwrap();
    let server_share = *resp.share();
    g.bench_function("client_finish", |b| {
        b.iter_batched(
            || client.start(&rng).unwrap(),
            |hs| hs.finish(&client, &server_share),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Unix time used by the CS benches (any fixed day works).
const NOW: u64 = 1_764_000_000;

struct CsFixture {
    server: PreparedServerSecret,
    nonce_key: ServerNonceKey,
    token: milagro_tls::keys::CsToken,
    permit: CsTimePermit,
}

fn cs_fixture() -> CsFixture {
    let rng = OsEntropy;
    let dep = CsDeployment::new(3, PermitPolicy::Required, &rng).unwrap();
    let shares: Vec<MasterShare> = (0..3)
        .map(|_| MasterShare::generate(Deployment::Cs(dep), &rng).unwrap())
        .collect();
    let alice = Identity::new("alice@example.com").unwrap();
    let ss = CsServerSecret::combine(
        &shares
            .iter()
            .map(|m| m.issue_cs_server_secret().unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let cs = CsClientSecret::combine(
        &shares
            .iter()
            .map(|m| m.issue_cs_client_secret(&alice).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let permit = CsTimePermit::combine(
        &shares
            .iter()
            .map(|m| m.issue_cs_time_permit(&alice, day_of(NOW)).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let pin = Pin::parse("1234", PinDigits::default()).unwrap();
    CsFixture {
        server: PreparedServerSecret::new(&ss),
        nonce_key: ServerNonceKey::generate(&rng).unwrap(),
        token: mpin::extract_pin(&cs, &pin).unwrap(),
        permit,
    }
}

fn cs(c: &mut Criterion) {
    let rng = OsEntropy;
    let f = cs_fixture();
    let pin = Pin::parse("1234", PinDigits::default()).unwrap();
    let checks = f.server.checks();
    let mut g = c.benchmark_group("cs");
    g.bench_function("client_prove", |b| {
        b.iter(|| ClientState::new(&f.token, &pin, Some(&f.permit), NOW, &rng).unwrap())
    });
    let client = ClientState::new(&f.token, &pin, Some(&f.permit), NOW, &rng).unwrap();
    g.bench_function("server_precheck", |b| {
        b.iter(|| mpin::precheck(black_box(client.share()), &checks, NOW).unwrap())
    });
    let pre = mpin::precheck(client.share(), &checks, NOW).unwrap();
    g.bench_function("server_verify", |b| {
        b.iter(|| mpin::verify(black_box(&pre), &f.server).unwrap())
    });
    let verified = mpin::verify(&pre, &f.server).unwrap();
    g.bench_function("server_respond", |b| {
        b.iter(|| mpin::respond(&verified, &f.server, &f.nonce_key, &rng).unwrap())
    });
    let resp = mpin::respond(&verified, &f.server, &f.nonce_key, &rng).unwrap();
    g.bench_function("client_finish", |b| {
        b.iter(|| client.finish(&resp.share).unwrap())
    });

    // A wrong PIN: refusal cost (on the handshake path) and classification
    // (off the path) for small and large δ, and for garbage (a token of
    // another deployment: a valid DLEQ on a credential that is no PIN away) —
    // fixed work whatever the failure.
    let stranger = cs_fixture();
    for (name, token, permit, entered) in [
        ("delta_1", &f.token, &f.permit, "1235"),
        ("delta_large", &f.token, &f.permit, "999999"),
        ("garbage", &stranger.token, &stranger.permit, "1234"),
    ] {
        let bad = Pin::parse(entered, PinDigits::default()).unwrap();
        let client = ClientState::new(token, &bad, Some(permit), NOW, &rng).unwrap();
        let pre = mpin::precheck(client.share(), &checks, NOW).unwrap();
        g.bench_function(format!("server_refuse_{name}"), |b| {
            b.iter(|| mpin::verify(black_box(&pre), &f.server).unwrap_err())
        });
        let Err(CsError::ProofFailed(failed)) = mpin::verify(&pre, &f.server) else {
            panic!("a wrong PIN or garbage must fail the proof");
        };
        for digits in [4u8, 6] {
            let d = PinDigits::new(digits).unwrap();
            g.bench_function(format!("classify_{digits}digits_{name}"), |b| {
                b.iter(|| mpin::classify(&failed, &f.server, d))
            });
        }
    }
    g.finish();
}

/// The engines' own paths next to the ones `pairing` uses, measured in the
/// same run so machine load affects both alike: plain double-and-add
/// multiplication vs `pairing/g1_mul`, both engines' RFC 9380 hashing, and the
/// cost of moving a hashed point between them (uncompressed unchecked decode
/// plus the on-curve check, vs a compressed decode that needs a square root).
/// Only this group names the engines outside `pairing`.
fn engine(c: &mut Criterion) {
    use bls12_381::hash_to_curve::{ExpandMsgXmd as ZkXmd, HashToCurve};
    use bls12_381_plus::elliptic_curve_013::hash2curve::ExpandMsgXmd as PlusXmd;
    type Zk = ZkXmd<sha2::Sha256>;
    type Plus = PlusXmd<sha2::Sha256>;
    let dst1 = G1Domain::CsIdentity.dst();
    let dst2 = G2Domain::P2pIdentity.dst();
    let msg = b"alice@example.com";
    let s =
        bls12_381_plus::Scalar::from_be_bytes(&Scalar::random(&OsEntropy).unwrap().to_be_bytes())
            .unwrap();
    let p = bls12_381_plus::G1Projective::hash::<Plus>(msg, dst1);
    let q = bls12_381_plus::G2Projective::hash::<Plus>(msg, dst2);
    let p_aff = bls12_381_plus::G1Affine::from(p);
    let q_aff = bls12_381_plus::G2Affine::from(q);
    let (p_unc, p_cmp) = (p_aff.to_uncompressed(), p_aff.to_compressed());
    let (q_unc, q_cmp) = (q_aff.to_uncompressed(), q_aff.to_compressed());

    let mut g = c.benchmark_group("engine");
    g.bench_function("plus_g1_mul", |b| b.iter(|| black_box(p) * s));
    g.bench_function("plus_g2_mul", |b| b.iter(|| black_box(q) * s));
    g.bench_function("plus_hash_to_g1", |b| {
        b.iter(|| bls12_381_plus::G1Projective::hash::<Plus>(black_box(msg), dst1))
    });
    g.bench_function("zk_hash_to_g1", |b| {
        b.iter(|| {
            <bls12_381::G1Projective as HashToCurve<Zk>>::hash_to_curve([black_box(msg)], dst1)
        })
    });
    g.bench_function("plus_hash_to_g2", |b| {
        b.iter(|| bls12_381_plus::G2Projective::hash::<Plus>(black_box(msg), dst2))
    });
    g.bench_function("zk_hash_to_g2", |b| {
        b.iter(|| {
            <bls12_381::G2Projective as HashToCurve<Zk>>::hash_to_curve([black_box(msg)], dst2)
        })
    });
    g.bench_function("g1_from_uncompressed_unchecked", |b| {
        b.iter(|| {
            let a =
                bls12_381_plus::G1Affine::from_uncompressed_unchecked(black_box(&p_unc)).unwrap();
            (
                bool::from(a.is_on_curve()),
                bls12_381_plus::G1Projective::from(a),
            )
        })
    });
    g.bench_function("g1_from_compressed_unchecked", |b| {
        b.iter(|| bls12_381_plus::G1Affine::from_compressed_unchecked(black_box(&p_cmp)).unwrap())
    });
    g.bench_function("g2_from_uncompressed_unchecked", |b| {
        b.iter(|| {
            let a =
                bls12_381_plus::G2Affine::from_uncompressed_unchecked(black_box(&q_unc)).unwrap();
            (
                bool::from(a.is_on_curve()),
                bls12_381_plus::G2Projective::from(a),
            )
        })
    });
    g.bench_function("g2_from_compressed_unchecked", |b| {
        b.iter(|| bls12_381_plus::G2Affine::from_compressed_unchecked(black_box(&q_cmp)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = primitives, engine, p2p, cs
}
criterion_main!(benches);
