//! The protocol math of docs/protocol.md recomputed on arkworks from the
//! FORMULAS (never by calling milagro-tls's protocol code), compared byte for
//! byte with milagro-tls's public API on the same inputs.

use ark_bls12_381::{Fq12, Fr, G1Projective as P1, G2Projective as P2};
use ark_ff::{Field, Zero};
use milagro_interop::{
    ark_pairing as e, dec_fr, enc_fr, enc_g1, enc_g2, enc_gt, g1_bytes as g1, g2_bytes as g2,
    g2_generator as q, hash_to_g1, hash_to_g2, hash_to_scalar, sha256,
};
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{
    CsDeployment, Deployment, MasterShare, P2pDeployment, PermitPolicy, Share, day_of,
};
use milagro_tls::mpin::{
    self, Classification, CsError, Pin, PinDigits, PreparedServerSecret, ServerNonceKey,
};
use milagro_tls::p2p::{P2pClient, P2pServer};
use milagro_tls::pairing::SeededEntropy;
use milagro_tls::points;

const DST_CS_ID: &[u8] = b"MILAGRO-TLS13-V1-CS-ID_BLS12381G1_XMD:SHA-256_SSWU_RO_";
const DST_CS_TP: &[u8] = b"MILAGRO-TLS13-V1-CS-TP_BLS12381G1_XMD:SHA-256_SSWU_RO_";
const DST_P2P_G1: &[u8] = b"MILAGRO-TLS13-V1-P2P-ID-G1_BLS12381G1_XMD:SHA-256_SSWU_RO_";
const DST_P2P_G2: &[u8] = b"MILAGRO-TLS13-V1-P2P-ID-G2_BLS12381G2_XMD:SHA-256_SSWU_RO_";
const HQ_CS_H: &[u8] = b"MILAGRO-TLS13-V1-CS-H";
const HQ_CS_Y: &[u8] = b"MILAGRO-TLS13-V1-CS-Y";
const HQ_CS_DLEQ: &[u8] = b"MILAGRO-TLS13-V1-CS-DLEQ";
const HQ_CS_NONCE: &[u8] = b"MILAGRO-TLS13-V1-CS-NONCE";
const HQ_P2P_A: &[u8] = b"MILAGRO-TLS13-V1-P2P-A";
const HQ_P2P_B: &[u8] = b"MILAGRO-TLS13-V1-P2P-B";
const HQ_P2P_NONCE: &[u8] = b"MILAGRO-TLS13-V1-P2P-NONCE";

const IDENTITIES: [&str; 4] = [
    "alice@example.com",
    "Bob@example.org",
    "server.example",
    "xn--bcher-kva.example",
];

/// The binary body of a milagro-tls PEM key file.
fn pem_body(pem: &str) -> Vec<u8> {
    pem_rfc7468::decode_vec(pem.as_bytes()).expect("PEM").1
}

/// `s_i` read from a master share's key file (keyfile.rs body layout:
/// version 1, kind 0x01, suite, deployment id (16), dta_count, policy (CS,
/// 1 B) or epoch_seconds (P2P, 4 B), D-TA id (8), scalar (32, big-endian)).
fn master_secret(m: &MasterShare) -> Fr {
    let body = pem_body(&m.to_pem().expect("pem"));
    let header = match m.deployment() {
        Deployment::Cs(_) => 21,
        Deployment::P2p(_) => 24,
    };
    assert_eq!(body.len(), header + 8 + 32);
    assert_eq!((body[0], body[1]), (1, 1));
    assert_eq!(body[header..header + 8], m.dta().0);
    dec_fr(&body[header + 8..].try_into().expect("32")).expect("scalar < r")
}

/// The last `n` bytes of a key file body: the key's point (keyfile.rs layout).
fn key_point<K: KeyFile>(k: &K, n: usize) -> Vec<u8> {
    let body = pem_body(&k.to_pem().expect("pem"));
    body[body.len() - n..].to_vec()
}

fn cs_setup(policy: PermitPolicy, seed: &[u8]) -> (Vec<MasterShare>, Fr) {
    let rng = SeededEntropy::new(seed);
    let dep = CsDeployment::new(3, policy, &rng).expect("deployment");
    let shares: Vec<_> = (0..3)
        .map(|_| MasterShare::generate(Deployment::Cs(dep), &rng).expect("share"))
        .collect();
    let s = shares.iter().map(master_secret).sum();
    (shares, s)
}

fn combine<K: Combine>(shares: Vec<Share<K>>) -> K {
    K::combine(&shares).expect("combine")
}

/// HIDs (§4.2) and every identity point (§3.3, §5.2, §7.1) of milagro-tls,
/// checked against arkworks' RFC 9380 hashing and SHA-256 from sha2.
#[test]
fn identity_points_checked_against_arkworks() {
    for id in IDENTITIES {
        let ident = Identity::new(id).expect("identity");
        assert_eq!(ident.as_str(), id, "test identities are canonical");
        let hid = sha256(&[id.as_bytes()]);
        assert_eq!(ident.cs_hid().0, hid);
        let a = hash_to_g1(DST_CS_ID, &hid);
        assert_eq!(
            points::cs_identity_point(&ident.cs_hid()).to_bytes(),
            enc_g1(&a)
        );
        for d in [1u32, 20_416, u32::MAX] {
            let t = hash_to_g1(DST_CS_TP, &[&d.to_be_bytes()[..], &hid].concat());
            assert_eq!(
                points::cs_permit_point(d, &ident.cs_hid()).to_bytes(),
                enc_g1(&t)
            );
        }
        for epoch in [0u32, 490_000] {
            let phid = sha256(&[id.as_bytes(), &epoch.to_be_bytes()]);
            assert_eq!(ident.p2p_hid(epoch).0, phid);
            let h1 = hash_to_g1(DST_P2P_G1, &phid);
            let h2 = hash_to_g2(DST_P2P_G2, &phid);
            assert_eq!(
                points::p2p_server_point(&ident.p2p_hid(epoch)).to_bytes(),
                enc_g1(&h1)
            );
            assert_eq!(
                points::p2p_client_point(&ident.p2p_hid(epoch)).to_bytes(),
                enc_g2(&h2)
            );
        }
    }
}

/// D-TA issuing (`s_i·Q`, `s_i·A`, `s_i·T`, `s_i·H1`, `s_i·H2` with `s_i`
/// read from the master shares' key files), combining (`s·X`) and token
/// extraction (`s·A − PIN·A`), checked against arkworks (§5.2, §5.3, §5.7).
#[test]
fn dta_issuing_combining_and_tokens_checked_against_arkworks() {
    let (cs, s) = cs_setup(PermitPolicy::Required, b"interop dta cs");
    let day = 20_416u32;
    let q = q();
    for id in IDENTITIES {
        let ident = Identity::new(id).expect("identity");
        let hid = sha256(&[id.as_bytes()]);
        let a: P1 = hash_to_g1(DST_CS_ID, &hid).into();
        let t: P1 = hash_to_g1(DST_CS_TP, &[&day.to_be_bytes()[..], &hid].concat()).into();
        let (mut ss_sh, mut cs_sh, mut tp_sh) = (vec![], vec![], vec![]);
        for m in &cs {
            let si = master_secret(m);
            let sh = m.issue_cs_server_secret().expect("ss");
            assert_eq!(key_point(&sh, 96), g2(&(q * si)));
            ss_sh.push(sh);
            let sh = m.issue_cs_client_secret(&ident).expect("cs");
            assert_eq!(key_point(&sh, 48), g1(&(a * si)));
            cs_sh.push(sh);
            let sh = m.issue_cs_time_permit(&ident, day).expect("tp");
            assert_eq!(key_point(&sh, 48), g1(&(t * si)));
            tp_sh.push(sh);
        }
        assert_eq!(key_point(&combine(ss_sh), 96), g2(&(q * s)));
        let secret = combine(cs_sh);
        assert_eq!(key_point(&secret, 48), g1(&(a * s)));
        assert_eq!(key_point(&combine(tp_sh), 48), g1(&(t * s)));
        for pin in [1u32, 42, 9_999] {
            let token = mpin::extract_pin(
                &secret,
                &Pin::from_u32(pin, PinDigits::new(4).unwrap()).unwrap(),
            )
            .unwrap();
            assert_eq!(key_point(&token, 48), g1(&(a * (s - Fr::from(pin)))));
        }
    }

    let rng = SeededEntropy::new(b"interop dta p2p");
    let dep = P2pDeployment::new(2, 3_600, &rng).expect("deployment");
    let p2p: Vec<_> = (0..2)
        .map(|_| MasterShare::generate(Deployment::P2p(dep), &rng).expect("share"))
        .collect();
    let s: Fr = p2p.iter().map(master_secret).sum();
    let epoch = 490_000u32;
    for id in IDENTITIES {
        let ident = Identity::new(id).expect("identity");
        let phid = sha256(&[id.as_bytes(), &epoch.to_be_bytes()]);
        let h1: P1 = hash_to_g1(DST_P2P_G1, &phid).into();
        let h2: P2 = hash_to_g2(DST_P2P_G2, &phid).into();
        let (mut a_sh, mut b_sh) = (vec![], vec![]);
        for m in &p2p {
            let si = master_secret(m);
            let sh = m.issue_p2p_server_key(&ident, epoch).expect("D_A share");
            assert_eq!(key_point(&sh, 48), g1(&(h1 * si)));
            a_sh.push(sh);
            let sh = m.issue_p2p_client_key(&ident, epoch).expect("D_B share");
            assert_eq!(key_point(&sh, 96), g2(&(h2 * si)));
            b_sh.push(sh);
        }
        assert_eq!(key_point(&combine(a_sh), 48), g1(&(h1 * s)));
        assert_eq!(key_point(&combine(b_sh), 96), g2(&(h2 * s)));
    }
}

/// One CS handshake recomputed from docs §6.1–§6.6 and §3.5.
struct CsExpected {
    share: Vec<u8>,
    w: [u8; 48],
    secret: [u8; 32],
    /// The proof value `g = e(V,Q)·e(U + y·A_d, SS)` and `F = e(X + y·A, Q)`.
    g: Fq12,
    f: Fq12,
}

#[allow(clippy::too_many_arguments)]
fn cs_expected(
    s: Fr,
    id: &str,
    policy: PermitPolicy,
    day: u32,
    t: u64,
    registered_pin: u32,
    entered_pin: u32,
    rho: &[u8; 32],
    kappa: &[u8; 32],
    rho_w: &[u8; 32],
) -> CsExpected {
    let q = q();
    let hid = sha256(&[id.as_bytes()]);
    let a: P1 = hash_to_g1(DST_CS_ID, &hid).into();
    let a_d: P1 = match policy {
        PermitPolicy::Required => {
            a + hash_to_g1(DST_CS_TP, &[&day.to_be_bytes()[..], &hid].concat())
        }
        PermitPolicy::Off => a,
    };
    // SEC = token + PIN'·A (+ TP_d) = s·A_d + (PIN' − PIN)·A.
    let token = a * (s - Fr::from(registered_pin));
    let mut sec = token + a * Fr::from(entered_pin);
    if policy == PermitPolicy::Required {
        sec += (a_d - a) * s;
    }
    let sec_b = g1(&sec);
    let head = [&hid[..], &day.to_be_bytes(), &t.to_be_bytes()].concat();
    let x = hash_to_scalar(HQ_CS_NONCE, &[&sec_b, &head, rho, b"x"]);
    let r = hash_to_scalar(HQ_CS_NONCE, &[&sec_b, &head, rho, b"r"]);
    let (u, xp, rp) = (g1(&(a_d * x)), g1(&(a * x)), g1(&(a_d * r)));
    let k = hash_to_scalar(HQ_CS_NONCE, &[&sec_b, &head, rho, &u, &xp, &rp, b"k"]);
    let c = hash_to_scalar(
        HQ_CS_DLEQ,
        &[
            &head,
            &g1(&a),
            &g1(&a_d),
            &xp,
            &u,
            &rp,
            &g1(&(a * k)),
            &g1(&(a_d * k)),
        ],
    );
    let z = k + c * x;
    let (cb, zb) = (enc_fr(&c), enc_fr(&z));
    let y = hash_to_scalar(HQ_CS_Y, &[&head, &u, &xp, &cb, &zb, &rp]);
    let v = sec * (-(x + y));
    let share = [&head[..], &u, &xp, &cb, &zb, &g1(&v), &rp].concat();
    assert_eq!(share.len(), 300);

    let ss = q * s;
    let g = e(&v, &q) * e(&(a_d * x + a_d * y), &ss);
    let f = e(&(a * x + a * y), &q);

    let w = hash_to_scalar(HQ_CS_NONCE, &[kappa, &share, rho_w, b"w"]);
    let wb = g1(&(a_d * w));
    let h = hash_to_scalar(HQ_CS_H, &[&share, &wb]);
    let k_client = e(&(sec * (r + h)), &q);
    let k_server = e(&(a_d * r + a_d * h), &ss);
    let z_client = a_d * w * r; // Z = r·W
    let z_server = a_d * r * w; // Z = w·R
    assert_eq!(g1(&z_client), g1(&z_server));
    let secret = if entered_pin == registered_pin {
        assert_eq!(k_client, k_server);
        sha256(&[
            b"MILAGRO-TLS13-V1 CS",
            &enc_gt(&k_server),
            &g1(&z_server),
            &share,
            &wb,
        ])
    } else {
        [0; 32]
    };
    CsExpected {
        share,
        w: wb,
        secret,
        g,
        f,
    }
}

fn run_cs(policy: PermitPolicy, seed: &[u8]) {
    let (masters, s) = cs_setup(policy, seed);
    let digits = PinDigits::new(4).expect("digits");
    let (registered, now) = (4_321u32, 1_764_000_000u64);
    let day = match policy {
        PermitPolicy::Required => day_of(now),
        PermitPolicy::Off => 0,
    };
    let id = "alice@example.com";
    let ident = Identity::new(id).expect("identity");
    let ss = combine(
        masters
            .iter()
            .map(|m| m.issue_cs_server_secret().unwrap())
            .collect(),
    );
    let secret = combine(
        masters
            .iter()
            .map(|m| m.issue_cs_client_secret(&ident).unwrap())
            .collect(),
    );
    let permit = (policy == PermitPolicy::Required).then(|| {
        combine(
            masters
                .iter()
                .map(|m| m.issue_cs_time_permit(&ident, day).unwrap())
                .collect(),
        )
    });
    let token = mpin::extract_pin(&secret, &Pin::from_u32(registered, digits).unwrap()).unwrap();
    let server = PreparedServerSecret::new(&ss);
    let kappa = [0x4b; 32];
    let key = ServerNonceKey::from_bytes(kappa);

    // Right PIN: share, W and both shared secrets.
    let (rho, rho_w) = ([0x11; 32], [0x22; 32]);
    let exp = cs_expected(
        s, id, policy, day, now, registered, registered, &rho, &kappa, &rho_w,
    );
    assert_eq!(exp.g, Fq12::ONE, "the proof equation holds in arkworks");
    let pin = Pin::from_u32(registered, digits).unwrap();
    let state =
        mpin::ClientState::with_fresh(&token, &pin, permit.as_ref(), now, &rho).expect("client");
    assert_eq!(
        hex::encode(state.share()),
        hex::encode(&exp.share),
        "client share U,X,c,z,V,R"
    );
    let pre = mpin::precheck(state.share(), &server.checks(), now).expect("precheck");
    let verified = mpin::verify(&pre, &server).expect("verify");
    let resp = mpin::full::respond_with_fresh(&verified, &server, &key, &rho_w);
    assert_eq!(resp.share, exp.w, "server share W");
    assert_eq!(resp.secret.as_bytes(), &exp.secret, "server shared secret");
    let client_secret = state.finish(&resp.share).expect("finish");
    assert_eq!(
        client_secret.as_bytes(),
        &exp.secret,
        "client shared secret"
    );

    // Wrong PINs: the share still matches, and g = F^(−δ) (δ = entered − registered).
    for entered in [registered + 1, registered - 7, 0] {
        let rho = [entered as u8; 32];
        let exp = cs_expected(
            s, id, policy, day, now, registered, entered, &rho, &kappa, &rho_w,
        );
        let delta = i64::from(entered) - i64::from(registered);
        let abs = Fr::from(delta.unsigned_abs());
        let minus_delta = if delta < 0 { abs } else { -abs };
        assert_eq!(
            exp.g,
            exp.f.pow(ark_ff::PrimeField::into_bigint(minus_delta)),
            "g = F^(−δ)"
        );
        assert_ne!(exp.g, Fq12::ONE);
        let pin = Pin::from_u32(entered, digits).unwrap();
        let state = mpin::ClientState::with_fresh(&token, &pin, permit.as_ref(), now, &rho)
            .expect("client");
        assert_eq!(hex::encode(state.share()), hex::encode(&exp.share));
        let pre = mpin::precheck(state.share(), &server.checks(), now).expect("precheck");
        match mpin::verify(&pre, &server) {
            Err(CsError::ProofFailed(failed)) => {
                assert_eq!(
                    mpin::classify(&failed, &server, digits),
                    Classification::WrongPin { delta }
                );
            }
            other => panic!("expected ProofFailed, got {other:?}"),
        }
    }
}

/// CS with permits required: the client share (U, X, c, z, V, R with the
/// hedged nonces of §6.3), W, K, Z and both shared secrets, and the
/// classification relation g = F^(−δ) for wrong PINs — checked against
/// arkworks.
#[test]
fn cs_handshake_permits_required_checked_against_arkworks() {
    run_cs(PermitPolicy::Required, b"interop cs required");
}

/// The same with permits off (`d = 0`, `A_d = A`, `X = U`), checked against
/// arkworks.
#[test]
fn cs_handshake_permits_off_checked_against_arkworks() {
    run_cs(PermitPolicy::Off, b"interop cs off");
}

/// P2P: Pg, Pb (client), Pa (server), pia/pib, K (both forms), Z and both
/// shared secrets (§7.2, §7.3, §3.5; nonces as p2p/mod.rs documents them),
/// checked against arkworks.
#[test]
fn p2p_handshake_checked_against_arkworks() {
    let rng = SeededEntropy::new(b"interop p2p");
    let dep = P2pDeployment::new(2, 3_600, &rng).expect("deployment");
    let masters: Vec<_> = (0..2)
        .map(|_| MasterShare::generate(Deployment::P2p(dep), &rng).expect("share"))
        .collect();
    let s: Fr = masters.iter().map(master_secret).sum();
    let epoch = 490_000u32;
    let (id_a, id_b) = ("server.example", "Bob@example.org");
    let (ia, ib) = (Identity::new(id_a).unwrap(), Identity::new(id_b).unwrap());
    let d_a = combine(
        masters
            .iter()
            .map(|m| m.issue_p2p_server_key(&ia, epoch).unwrap())
            .collect(),
    );
    let d_b = combine(
        masters
            .iter()
            .map(|m| m.issue_p2p_client_key(&ib, epoch).unwrap())
            .collect(),
    );

    let (f_y, f_w, f_x) = ([0x01; 32], [0x02; 32], [0x03; 32]);
    let client = P2pClient::new(d_b, ia.clone(), Some(dep.id)).expect("client");
    let server = P2pServer::new(d_a, None).expect("server");
    let pre = client.precompute_with_fresh(&f_y);
    let hs = client.start_with_fresh(pre, &f_w).expect("start");
    let decoded = server.decode_client_share(hs.share()).expect("decode");
    let resp = server.respond_with_fresh(&decoded, &f_x).expect("respond");

    // arkworks, from the formulas.
    let eb = epoch.to_be_bytes();
    let hid_a = sha256(&[id_a.as_bytes(), &eb]);
    let hid_b = sha256(&[id_b.as_bytes(), &eb]);
    let h1: P1 = hash_to_g1(DST_P2P_G1, &hid_a).into();
    let h2: P2 = hash_to_g2(DST_P2P_G2, &hid_b).into();
    let (da, db) = (h1 * s, h2 * s);
    let y = hash_to_scalar(HQ_P2P_NONCE, &[&g2(&db), &eb, &f_y, b"y"]);
    let pb = g2(&(h2 * y));
    let w = hash_to_scalar(
        HQ_P2P_NONCE,
        &[&g2(&db), &eb, &hid_a, &hid_b, &pb, &f_w, b"w"],
    );
    let pg = g1(&(h1 * w));
    let share = [&eb[..], &hid_b, &pg, &pb].concat();
    assert_eq!(
        hex::encode(hs.share()),
        hex::encode(&share),
        "client share Pg, Pb"
    );
    let x = hash_to_scalar(
        HQ_P2P_NONCE,
        &[&g1(&da), &eb, &hid_a, &hid_b, &share, &f_x, b"x"],
    );
    let pa = g1(&(h1 * x));
    assert_eq!(resp.share(), &pa, "server share Pa");
    let pia = hash_to_scalar(HQ_P2P_A, &[&pa, &pb, &pg, &hid_a, &hid_b]);
    let pib = hash_to_scalar(HQ_P2P_B, &[&pb, &pa, &pg, &hid_a, &hid_b]);
    let k_server = e(&(da * (x + pia)), &(h2 * pib + h2 * y));
    let k_client = e(&(h1 * pia + h1 * x), &(db * (y + pib)));
    assert_eq!(k_server, k_client);
    assert_eq!(
        k_server,
        e(&h1, &h2).pow(ark_ff::PrimeField::into_bigint(s * (x + pia) * (y + pib)))
    );
    let (z_server, z_client) = (h1 * w * x, h1 * x * w);
    assert_eq!(g1(&z_server), g1(&z_client));
    assert!(!z_server.is_zero());
    let secret = sha256(&[
        b"MILAGRO-TLS13-V1 P2P",
        &hid_a,
        &hid_b,
        &enc_gt(&k_server),
        &g1(&z_server),
        &share,
        &pa,
    ]);
    assert_eq!(resp.secret().as_bytes(), &secret, "server shared secret");
    let client_secret = hs.finish(&client, resp.share()).expect("finish");
    assert_eq!(client_secret.as_bytes(), &secret, "client shared secret");
}
