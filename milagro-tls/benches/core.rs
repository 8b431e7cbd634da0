//! Criterion benches for the hot paths of the cryptographic core: the pairing
//! engine's primitives and each side of the key agreements.
//!
//! Run with `cargo bench -p milagro-tls --bench core`; the README's performance
//! table quotes the medians.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keys::{Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey};
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = primitives, p2p
}
criterion_main!(benches);
