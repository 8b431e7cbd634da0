//! Tests of the Chow–Choo key agreement: agreement, the textbook forms of
//! docs/protocol.md §7.3, epochs, every tampered field, and keys that do not fit.

use proptest::prelude::*;

use super::*;
use crate::identity::{Hid, Identity};
use crate::keys::{DeploymentId, P2pClientKey, P2pDeployment, P2pServerKey};
use crate::pairing::{
    DecodeError, G1, G1Domain, G2, G2Domain, Scalar, ScalarDomain, SeededEntropy, pairing, sha256,
};

const EPOCH: u32 = 20_000;

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

fn h1(ident: &Identity, epoch: u32) -> G1 {
    G1::hash(G1Domain::P2pIdentity, &[ident.p2p_hid(epoch).as_bytes()])
}

fn h2(ident: &Identity, epoch: u32) -> G2 {
    G2::hash(G2Domain::P2pIdentity, &[ident.p2p_hid(epoch).as_bytes()])
}

/// A deployment whose master secret is held as three D-TA shares.
struct Master {
    dep: P2pDeployment,
    shares: Vec<Scalar>,
}

impl Master {
    fn new(seed: &[u8], id_byte: u8) -> Self {
        let rng = SeededEntropy::new(seed);
        Self {
            dep: P2pDeployment {
                id: DeploymentId([id_byte; 16]),
                dta_count: 3,
                epoch_seconds: 3_600,
            },
            shares: (0..3).map(|_| Scalar::random(&rng).unwrap()).collect(),
        }
    }

    fn s(&self) -> Scalar {
        self.shares.iter().fold(Scalar::zero(), |acc, s| &acc + s)
    }

    /// `D_A` as a holder assembles it: the sum of the first `n` D-TAs' shares
    /// `s_i·H1(ID_A)`.
    fn server_key_from(&self, ident: &Identity, epoch: u32, n: usize) -> P2pServerKey {
        let h = h1(ident, epoch);
        let point = self.shares[..n]
            .iter()
            .fold(G1::identity(), |acc, s| &acc + &(&h * s));
        P2pServerKey {
            deployment: self.dep,
            point,
            identity: ident.clone(),
            epoch,
        }
    }

    fn server_key(&self, ident: &Identity, epoch: u32) -> P2pServerKey {
        self.server_key_from(ident, epoch, 3)
    }

    fn client_key_from(&self, ident: &Identity, epoch: u32, n: usize) -> P2pClientKey {
        let h = h2(ident, epoch);
        let point = self.shares[..n]
            .iter()
            .fold(G2::identity(), |acc, s| &acc + &(&h * s));
        P2pClientKey {
            deployment: self.dep,
            point,
            identity: ident.clone(),
            epoch,
        }
    }

    fn client_key(&self, ident: &Identity, epoch: u32) -> P2pClientKey {
        self.client_key_from(ident, epoch, 3)
    }
}

fn master() -> Master {
    Master::new(b"p2p tests master", 1)
}

fn alice() -> Identity {
    id("alice.example")
}

fn bob() -> Identity {
    id("bob@example.com")
}

fn server_at(m: &Master, epoch: u32) -> P2pServer {
    P2pServer::new(
        m.server_key(&alice(), epoch),
        Some(m.server_key(&alice(), epoch - 1)),
    )
    .unwrap()
}

fn client_at(m: &Master, epoch: u32) -> P2pClient {
    P2pClient::new(m.client_key(&bob(), epoch), alice(), Some(m.dep.id)).unwrap()
}

/// A full exchange with a possibly tampered client share and server share.
/// Returns (client secret, server response).
fn exchange(
    client: &P2pClient,
    server: &P2pServer,
    seed: &[u8],
    tamper_client: impl FnOnce(&mut [u8; CLIENT_SHARE_BYTES]),
    tamper_server: impl FnOnce(&mut [u8; SERVER_SHARE_BYTES]),
) -> Result<(P2pSharedSecret, P2pServerResponse), P2pError> {
    let rng = SeededEntropy::new(seed);
    let hs = client.start(&rng)?;
    let mut share = *hs.share();
    tamper_client(&mut share);
    let resp = server.accept(&share, &rng)?;
    let mut pa = *resp.share();
    tamper_server(&mut pa);
    let secret = hs.finish(client, &pa)?;
    Ok((secret, resp))
}

fn honest(
    client: &P2pClient,
    server: &P2pServer,
    seed: &[u8],
) -> Result<(P2pSharedSecret, P2pServerResponse), P2pError> {
    exchange(client, server, seed, |_| {}, |_| {})
}

#[test]
fn good_exchange_agrees_and_share_has_the_layout() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let rng = SeededEntropy::new(b"good");
    let hs = client.start(&rng).unwrap();
    let share = *hs.share();
    assert_eq!(share.len(), 180);
    assert_eq!(&share[..4], &EPOCH.to_be_bytes());
    assert_eq!(&share[4..36], bob().p2p_hid(EPOCH).as_bytes());
    assert_eq!(&share[36..84], &(&h1(&alice(), EPOCH) * &hs.w).to_bytes());
    assert_eq!(&share[84..], &(&h2(&bob(), EPOCH) * &hs.y).to_bytes());

    let decoded = server.decode_client_share(&share).unwrap();
    assert_eq!(decoded.epoch(), EPOCH);
    assert_eq!(decoded.hid_b(), bob().p2p_hid(EPOCH));
    let resp = server.respond(&decoded, &rng).unwrap();
    assert_eq!(resp.hid_b(), bob().p2p_hid(EPOCH));
    assert_eq!(resp.epoch(), EPOCH);
    let secret = hs.finish(&client, resp.share()).unwrap();
    assert_eq!(&secret, resp.secret());
    assert_ne!(secret.as_bytes(), &[0u8; 32]);
    let copy = *secret.as_bytes();
    assert_eq!(*secret.into_bytes(), copy);
}

/// The fast forms used by both sides, the textbook forms of docs/protocol.md §7.3 and the
/// closed form `e(H1, H2)^{s(x+pia)(y+pib)}` give one K; both Z equal
/// `xw·H1(ID_A)`; the secret is the documented hash.
#[test]
fn fast_and_textbook_forms_agree() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let pre = client.precompute_with_fresh(&[1; 32]);
    let hs = client.start_with_fresh(pre, &[2; 32]).unwrap();
    let share = server.decode_client_share(hs.share()).unwrap();
    let ek = server.key_for(EPOCH).unwrap();
    let x = server_nonce(ek, &share, &[3; 32]);
    let sv = server_values(ek, &share, &x);
    let pa = G1::from_bytes(&sv.pa).unwrap();
    let (k_client, z_client) = hs.client_values(&client, &sv.pa, &pa);

    let (hid_a, hid_b) = (alice().p2p_hid(EPOCH), bob().p2p_hid(EPOCH));
    let (ha, hb) = (h1(&alice(), EPOCH), h2(&bob(), EPOCH));
    let (pg, pb) = (&ha * &hs.w, &hb * &hs.y);
    let pia = Scalar::hash(
        ScalarDomain::P2pA,
        &[
            &sv.pa,
            &pb.to_bytes(),
            &pg.to_bytes(),
            hid_a.as_bytes(),
            hid_b.as_bytes(),
        ],
    );
    let pib = Scalar::hash(
        ScalarDomain::P2pB,
        &[
            &pb.to_bytes(),
            &sv.pa,
            &pg.to_bytes(),
            hid_a.as_bytes(),
            hid_b.as_bytes(),
        ],
    );
    let d_a = m.server_key(&alice(), EPOCH).point;
    let d_b = m.client_key(&bob(), EPOCH).point;
    let k_server_text = pairing(&(&d_a * &(&x + &pia)), &(&(&hb * &pib) + &pb));
    let k_client_text = pairing(&(&(&ha * &pia) + &pa), &(&d_b * &(&hs.y + &pib)));
    let exponent = &(&m.s() * &(&x + &pia)) * &(&hs.y + &pib);
    let k_closed = pairing(&ha, &hb).pow(&exponent);

    assert_eq!(sv.k, k_server_text);
    assert_eq!(k_client, k_client_text);
    assert_eq!(sv.k, k_closed);
    assert_eq!(k_client, k_closed);
    let z = &ha * &(&x * &hs.w);
    assert_eq!(sv.z, z);
    assert_eq!(z_client, z);

    let expected = sha256(&[
        b"MILAGRO-TLS13-V1 P2P",
        hid_a.as_bytes(),
        hid_b.as_bytes(),
        &k_closed.to_bytes(),
        &z.to_bytes(),
        hs.share(),
        &sv.pa,
    ]);
    let resp = server.respond_with_fresh(&share, &[3; 32]).unwrap();
    assert_eq!(resp.share(), &sv.pa);
    assert_eq!(resp.secret().as_bytes(), &expected);
    let pa_bytes = sv.pa;
    assert_eq!(hs.finish(&client, &pa_bytes).unwrap().as_bytes(), &expected);
}

#[test]
fn nonces_are_deterministic_in_fresh_bytes_and_hedged_over_inputs() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let run = |fy: u8, fw: u8, fx: u8| {
        let pre = client.precompute_with_fresh(&[fy; 32]);
        let hs = client.start_with_fresh(pre, &[fw; 32]).unwrap();
        let share = server.decode_client_share(hs.share()).unwrap();
        let resp = server.respond_with_fresh(&share, &[fx; 32]).unwrap();
        (*hs.share(), *resp.share())
    };
    let a = run(1, 2, 3);
    assert_eq!(a, run(1, 2, 3));
    let b = run(9, 2, 3);
    assert_ne!(a.0[84..], b.0[84..], "Pb follows the fresh bytes of y");
    assert_ne!(a.0[36..84], b.0[36..84], "w is hedged over Pb");
    assert_ne!(a.1, b.1, "x is hedged over the client share");
    let c = run(1, 9, 3);
    assert_eq!(a.0[84..], c.0[84..]);
    assert_ne!(a.0[36..84], c.0[36..84]);
    // Same fresh bytes, another client key: a stuck RNG still gives new nonces.
    let other =
        P2pClient::new(m.client_key(&id("carol@example.com"), EPOCH), alice(), None).unwrap();
    let pre = other.precompute_with_fresh(&[1; 32]);
    let hs = other.start_with_fresh(pre, &[2; 32]).unwrap();
    assert_ne!(a.0[84..], hs.share()[84..]);
}

#[test]
fn precomputed_pb_is_usable_later_and_bound_to_its_key() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let rng = SeededEntropy::new(b"precompute");
    let pre = client.precompute(&rng).unwrap();
    let pb = pre.pb;
    let hs = client.start_with(pre, &rng).unwrap();
    assert_eq!(&hs.share()[84..], &pb);
    let resp = server.accept(hs.share(), &rng).unwrap();
    assert_eq!(&hs.finish(&client, resp.share()).unwrap(), resp.secret());

    let other_epoch = client_at(&m, EPOCH - 1);
    let pre = other_epoch.precompute(&rng).unwrap();
    assert_eq!(
        client.start_with(pre, &rng).unwrap_err(),
        P2pError::StateMismatch
    );
    let carol =
        P2pClient::new(m.client_key(&id("carol@example.com"), EPOCH), alice(), None).unwrap();
    let pre = carol.precompute(&rng).unwrap();
    assert_eq!(
        client.start_with(pre, &rng).unwrap_err(),
        P2pError::StateMismatch
    );
    let hs = carol.start(&rng).unwrap();
    let resp = server.accept(hs.share(), &rng).unwrap();
    assert_eq!(
        hs.finish(&client, resp.share()).unwrap_err(),
        P2pError::StateMismatch
    );
}

#[test]
fn current_and_previous_epochs_accepted_others_refused() {
    let m = master();
    let server = server_at(&m, EPOCH);
    assert_eq!(server.current_epoch(), EPOCH);
    assert_eq!(server.previous_epoch(), Some(EPOCH - 1));
    for epoch in [EPOCH, EPOCH - 1] {
        let client = client_at(&m, epoch);
        let (secret, resp) = honest(&client, &server, b"epochs").unwrap();
        assert_eq!(&secret, resp.secret());
        assert_eq!(resp.epoch(), epoch);
        assert_eq!(resp.hid_b(), bob().p2p_hid(epoch));
    }
    for epoch in [EPOCH - 2, EPOCH + 1] {
        let client = client_at(&m, epoch);
        let err = honest(&client, &server, b"epochs").unwrap_err();
        assert_eq!(
            err,
            P2pError::EpochNotAccepted {
                got: epoch,
                current: EPOCH,
                previous: Some(EPOCH - 1),
            }
        );
        assert!(
            err.to_string()
                .contains("accepts epochs 20000 (current) and 19999 (previous)")
        );
    }
    let only_current = P2pServer::new(m.server_key(&alice(), EPOCH), None).unwrap();
    let client = client_at(&m, EPOCH - 1);
    let err = honest(&client, &only_current, b"epochs").unwrap_err();
    assert_eq!(
        err,
        P2pError::EpochNotAccepted {
            got: EPOCH - 1,
            current: EPOCH,
            previous: None,
        }
    );
    assert!(err.to_string().contains("only epoch 20000"));
}

#[test]
fn epoch_is_checked_before_any_point_is_decoded() {
    let m = master();
    let server = server_at(&m, EPOCH);
    let mut share = [0u8; CLIENT_SHARE_BYTES];
    share[..4].copy_from_slice(&(EPOCH + 5).to_be_bytes());
    let expected = P2pError::EpochNotAccepted {
        got: EPOCH + 5,
        current: EPOCH,
        previous: Some(EPOCH - 1),
    };
    assert_eq!(server.check_client_share(&share).unwrap_err(), expected);
    assert_eq!(server.decode_client_share(&share).unwrap_err(), expected);
    share[..4].copy_from_slice(&EPOCH.to_be_bytes());
    share[4..36].copy_from_slice(&[7; 32]);
    assert_eq!(
        server.check_client_share(&share).unwrap(),
        P2pShareHeader {
            epoch: EPOCH,
            hid_b: Hid([7; 32])
        }
    );
    // All-zero points are not valid encodings (no compression flag).
    assert!(matches!(
        server.decode_client_share(&share),
        Err(P2pError::InvalidPoint {
            field: ShareField::Pg,
            source: DecodeError::InvalidPoint(_)
        })
    ));
}

#[test]
fn server_key_sets_must_be_consistent() {
    let m = master();
    let other = Master::new(b"other deployment", 2);
    let err = P2pServer::new(
        m.server_key(&alice(), EPOCH),
        Some(m.server_key(&alice(), EPOCH - 2)),
    )
    .unwrap_err();
    assert_eq!(
        err,
        P2pError::PreviousEpochNotAdjacent {
            current: EPOCH,
            previous: EPOCH - 2
        }
    );
    let err = P2pServer::new(
        m.server_key(&alice(), EPOCH),
        Some(other.server_key(&alice(), EPOCH - 1)),
    )
    .unwrap_err();
    assert_eq!(
        err,
        P2pError::DeploymentMismatch {
            expected: m.dep.id,
            got: other.dep.id
        }
    );
    let mut changed = m.server_key(&alice(), EPOCH - 1);
    changed.deployment.epoch_seconds = 7_200;
    assert_eq!(
        P2pServer::new(m.server_key(&alice(), EPOCH), Some(changed)).unwrap_err(),
        P2pError::DeploymentParametersDiffer(m.dep.id)
    );
    let err = P2pServer::new(
        m.server_key(&alice(), EPOCH),
        Some(m.server_key(&id("carol.example"), EPOCH - 1)),
    )
    .unwrap_err();
    assert_eq!(
        err,
        P2pError::ServerIdentityMismatch {
            current: alice(),
            previous: id("carol.example")
        }
    );
    // Epoch 0 has no previous epoch.
    let err = P2pServer::new(
        m.server_key(&alice(), 0),
        Some(m.server_key(&alice(), u32::MAX)),
    )
    .unwrap_err();
    assert!(matches!(err, P2pError::PreviousEpochNotAdjacent { .. }));
}

#[test]
fn client_key_checks() {
    let m = master();
    let other = Master::new(b"other deployment", 2);
    let err = P2pClient::new(m.client_key(&bob(), EPOCH), alice(), Some(other.dep.id)).unwrap_err();
    assert_eq!(
        err,
        P2pError::DeploymentMismatch {
            expected: other.dep.id,
            got: m.dep.id
        }
    );
    let client = client_at(&m, EPOCH);
    assert_eq!(client.check_epoch(EPOCH), Ok(()));
    assert_eq!(client.check_epoch(EPOCH + 1), Ok(()));
    for now in [EPOCH + 2, EPOCH - 1, 0] {
        assert_eq!(
            client.check_epoch(now),
            Err(P2pError::ClientKeyEpoch {
                key_epoch: EPOCH,
                now_epoch: now
            })
        );
    }
    let last = P2pClient::new(m.client_key(&bob(), u32::MAX), alice(), None).unwrap();
    assert_eq!(
        last.check_epoch(0),
        Err(P2pError::ClientKeyEpoch {
            key_epoch: u32::MAX,
            now_epoch: 0
        })
    );
}

fn assert_disagree(r: Result<(P2pSharedSecret, P2pServerResponse), P2pError>) {
    let (secret, resp) = r.unwrap();
    assert_ne!(&secret, resp.secret());
}

#[test]
fn tampered_points_give_different_secrets() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let add_g1 = |b: &mut [u8]| {
        let p = G1::from_bytes(b).unwrap();
        b.copy_from_slice(&(&p + &G1::generator()).to_bytes());
    };
    assert_disagree(exchange(
        &client,
        &server,
        b"t",
        |s| add_g1(&mut s[36..84]),
        |_| {},
    ));
    assert_disagree(exchange(
        &client,
        &server,
        b"t",
        |s| {
            let p = G2::from_bytes(&s[84..]).unwrap();
            s[84..].copy_from_slice(&(&p + &G2::generator()).to_bytes());
        },
        |_| {},
    ));
    assert_disagree(exchange(&client, &server, b"t", |_| {}, |pa| add_g1(pa)));
    // The untampered run with the same seed agrees (the seed is not the cause).
    let (secret, resp) = honest(&client, &server, b"t").unwrap();
    assert_eq!(&secret, resp.secret());
}

#[test]
fn tampered_epoch_or_hid_b_gives_different_secrets() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    // Epoch moved to the previous one: the server uses its other key and HIDs.
    let r = exchange(
        &client,
        &server,
        b"e",
        |s| s[..4].copy_from_slice(&(EPOCH - 1).to_be_bytes()),
        |_| {},
    );
    assert_eq!(r.as_ref().unwrap().1.epoch(), EPOCH - 1);
    assert_disagree(r);
    // Epoch moved to one the server does not hold: refused.
    let r = exchange(
        &client,
        &server,
        b"e",
        |s| s[..4].copy_from_slice(&(EPOCH + 1).to_be_bytes()),
        |_| {},
    );
    assert!(matches!(r, Err(P2pError::EpochNotAccepted { got, .. }) if got == EPOCH + 1));
    // HID_B replaced by another identity's: the server learns that HID (the
    // TLS layer then refuses bob's blob) and the secrets differ anyway.
    let carol = id("carol@example.com").p2p_hid(EPOCH);
    let r = exchange(
        &client,
        &server,
        b"h",
        |s| s[4..36].copy_from_slice(carol.as_bytes()),
        |_| {},
    );
    assert_eq!(r.as_ref().unwrap().1.hid_b(), carol);
    assert_disagree(r);
    let r = exchange(&client, &server, b"h", |s| s[35] ^= 1, |_| {});
    assert_disagree(r);
}

const G1_NON_SUBGROUP: &str = "800000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004";

/// On-curve G1 point outside the subgroup: x = 4, y² = 68 is a square mod p
/// (checked independently), and the cofactor is large.
fn g1_non_subgroup() -> [u8; 48] {
    hex::decode(G1_NON_SUBGROUP).unwrap().try_into().unwrap()
}

/// On-curve G2 point outside the subgroup: x = 2 (c1 = 0, c0 = 2),
/// x³ + 4(u+1) = 12 + 4u has norm 160, a square mod p, so it is a square in
/// Fp2 and the point is on the curve.
fn g2_non_subgroup() -> [u8; 96] {
    let mut b = [0u8; 96];
    b[0] = 0x80;
    b[95] = 2;
    b
}

#[test]
fn identity_and_non_subgroup_points_are_refused() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    type Tamper<'a> = &'a dyn Fn(&mut [u8; 180]);
    let cases: [(Tamper, ShareField, DecodeError); 4] = [
        (
            &|s| s[36..84].copy_from_slice(&G1::identity().to_bytes()),
            ShareField::Pg,
            DecodeError::IdentityPoint("G1 point"),
        ),
        (
            &|s| s[36..84].copy_from_slice(&g1_non_subgroup()),
            ShareField::Pg,
            DecodeError::InvalidPoint("G1 point"),
        ),
        (
            &|s| s[84..].copy_from_slice(&G2::identity().to_bytes()),
            ShareField::Pb,
            DecodeError::IdentityPoint("G2 point"),
        ),
        (
            &|s| s[84..].copy_from_slice(&g2_non_subgroup()),
            ShareField::Pb,
            DecodeError::InvalidPoint("G2 point"),
        ),
    ];
    for (tamper, field, source) in cases {
        let r = exchange(&client, &server, b"p", tamper, |_| {});
        assert_eq!(r.unwrap_err(), P2pError::InvalidPoint { field, source });
    }
    let r = exchange(
        &client,
        &server,
        b"p",
        |_| {},
        |pa| pa.copy_from_slice(&G1::identity().to_bytes()),
    );
    assert_eq!(
        r.unwrap_err(),
        P2pError::InvalidPoint {
            field: ShareField::Pa,
            source: DecodeError::IdentityPoint("G1 point")
        }
    );
    let r = exchange(
        &client,
        &server,
        b"p",
        |_| {},
        |pa| pa.copy_from_slice(&g1_non_subgroup()),
    );
    assert_eq!(
        r.unwrap_err(),
        P2pError::InvalidPoint {
            field: ShareField::Pa,
            source: DecodeError::InvalidPoint("G1 point")
        }
    );
}

#[test]
fn wrong_lengths_are_refused() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let rng = SeededEntropy::new(b"len");
    let hs = client.start(&rng).unwrap();
    let share = hs.share().to_vec();
    for bad in [
        Vec::new(),
        share[..179].to_vec(),
        [&share[..], &[0]].concat(),
    ] {
        let expected = P2pError::ClientShareLength { got: bad.len() };
        assert_eq!(server.check_client_share(&bad).unwrap_err(), expected);
        assert_eq!(server.decode_client_share(&bad).unwrap_err(), expected);
        assert_eq!(server.accept(&bad, &rng).unwrap_err(), expected);
    }
    let resp = server.accept(&share, &rng).unwrap();
    let pa = resp.share().to_vec();
    for bad in [Vec::new(), pa[..47].to_vec(), [&pa[..], &[0]].concat()] {
        let rng = SeededEntropy::new(b"len");
        let hs = client.start(&rng).unwrap();
        assert_eq!(
            hs.finish(&client, &bad).unwrap_err(),
            P2pError::ServerShareLength { got: bad.len() }
        );
    }
}

#[test]
fn server_with_another_identitys_key_disagrees() {
    let m = master();
    let client = client_at(&m, EPOCH);
    let carol = id("carol.example");
    let server = P2pServer::new(m.server_key(&carol, EPOCH), None).unwrap();
    assert_disagree(honest(&client, &server, b"id"));
    // Server key for alice but issued for another epoch, relabelled as EPOCH.
    let mut stale = m.server_key(&alice(), EPOCH - 1);
    stale.epoch = EPOCH;
    let server = P2pServer::new(stale, None).unwrap();
    assert_disagree(honest(&client, &server, b"id"));
}

#[test]
fn keys_from_another_deployment_disagree() {
    let m = master();
    let other = Master::new(b"other deployment", 2);
    let server = server_at(&m, EPOCH);
    // Without a configured server deployment the client cannot tell: K differs.
    let client = P2pClient::new(other.client_key(&bob(), EPOCH), alice(), None).unwrap();
    assert_disagree(honest(&client, &server, b"dep"));
    let client = client_at(&m, EPOCH);
    let server = P2pServer::new(other.server_key(&alice(), EPOCH), None).unwrap();
    assert_disagree(honest(&client, &server, b"dep"));
}

#[test]
fn keys_missing_a_dta_share_disagree() {
    let m = master();
    // The share sum is the key for the summed master secret.
    assert_eq!(
        m.server_key(&alice(), EPOCH).point,
        &h1(&alice(), EPOCH) * &m.s()
    );
    assert_eq!(
        m.client_key(&bob(), EPOCH).point,
        &h2(&bob(), EPOCH) * &m.s()
    );
    let full_server = server_at(&m, EPOCH);
    let full_client = client_at(&m, EPOCH);
    let partial_server = P2pServer::new(m.server_key_from(&alice(), EPOCH, 2), None).unwrap();
    let partial_client =
        P2pClient::new(m.client_key_from(&bob(), EPOCH, 2), alice(), None).unwrap();
    assert_disagree(honest(&full_client, &partial_server, b"dta"));
    assert_disagree(honest(&partial_client, &full_server, b"dta"));
    let (secret, resp) = honest(&full_client, &full_server, b"dta").unwrap();
    assert_eq!(&secret, resp.secret());
}

#[test]
fn debug_output_redacts_secrets() {
    let m = master();
    let (client, server) = (client_at(&m, EPOCH), server_at(&m, EPOCH));
    let (secret, resp) = honest(&client, &server, b"dbg").unwrap();
    let d_a = hex::encode(m.server_key(&alice(), EPOCH).point.to_bytes());
    let d_b = hex::encode(m.client_key(&bob(), EPOCH).point.to_bytes());
    let s = hex::encode(secret.as_bytes());
    let pre = client.precompute(&SeededEntropy::new(b"dbg")).unwrap();
    let hs = client.start(&SeededEntropy::new(b"dbg2")).unwrap();
    let y = hex::encode(hs.y.to_be_bytes());
    let shown = format!("{server:?} {client:?} {secret:?} {resp:?} {pre:?} {hs:?}");
    for secret_hex in [d_a, d_b, s, y] {
        assert!(!shown.contains(&secret_hex));
    }
    assert!(shown.contains("<redacted>"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Random identities and epochs agree; each perturbation disagrees.
    #[test]
    fn random_identities_agree_and_perturbations_disagree(
        a in "[a-z]{1,10}\\.example",
        b in "[a-z]{1,10}@example\\.org",
        epoch in 1u32..u32::MAX,
        seed in any::<[u8; 8]>(),
        perturbation in 0u8..3,
        byte in 0usize..32,
        flip in 1u8..=255,
    ) {
        let m = Master::new(&seed, 3);
        let (ia, ib) = (id(&a), id(&b));
        let server = P2pServer::new(
            m.server_key(&ia, epoch),
            Some(m.server_key(&ia, epoch - 1)),
        ).unwrap();
        let client = P2pClient::new(m.client_key(&ib, epoch), ia.clone(), Some(m.dep.id)).unwrap();
        let (secret, resp) = honest(&client, &server, &seed).unwrap();
        prop_assert_eq!(&secret, resp.secret());
        prop_assert_eq!(resp.hid_b(), ib.p2p_hid(epoch));

        let r = match perturbation {
            0 => {
                let wrong = P2pClient::new(
                    m.client_key(&ib, epoch),
                    id(&format!("x{a}")),
                    None,
                ).unwrap();
                honest(&wrong, &server, &seed)
            }
            1 => exchange(&client, &server, &seed, |s| s[4 + byte] ^= flip, |_| {}),
            _ => exchange(&client, &server, &seed, |_| {}, |pa| {
                let p = G1::from_bytes(pa).unwrap();
                pa.copy_from_slice(&(&p + &G1::generator()).to_bytes());
            }),
        };
        let (s2, r2) = r.unwrap();
        prop_assert_ne!(&s2, r2.secret());
    }
}
