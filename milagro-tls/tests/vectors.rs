//! Known-answer vectors for every protocol value (`docs/protocol.md` §10).
//!
//! Every value is generated from fixed seeds through the public API
//! (`SeededEntropy` of feature `test-util` for every random input, and the
//! `*_with_fresh` constructors for the 32 fresh hedging bytes). Each JSON file
//! records its inputs and outputs, and, where the public API does not expose an
//! intermediate, the test recomputes it from the formulas of `docs/protocol.md`
//! with the public primitives of `milagro_tls::pairing` and checks it against
//! what the library put on the wire — so the files are also a check that the
//! implementation follows the specification.
//!
//! * `MILAGRO_WRITE_VECTORS=1 cargo test -p milagro-tls --test vectors` writes
//!   `tests/vectors/*.json`;
//! * plain `cargo test` recomputes every value and compares it field by field
//!   with the committed files; a missing or unreadable file is a failure.

use std::path::PathBuf;

use serde_json::{Value, json};

use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::{self, KeyFile};
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, CsToken, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, Share, day_of, epoch_of,
};
use milagro_tls::mpin::{self, Classification, CsError, Pin, PinDigits, PreparedServerSecret};
use milagro_tls::p2p::{P2pClient, P2pServer};
use milagro_tls::pairing::{
    DecodeError, EntropySource, G1, G1Domain, G2, G2Domain, GT_BYTES, Gt, Scalar, ScalarDomain,
    SeededEntropy, multi_pairing, pairing, sha256,
};
use milagro_tls::points::{cs_identity_point, cs_permit_point, p2p_client_point, p2p_server_point};

// ---------------------------------------------------------------------------
// Fixed inputs
// ---------------------------------------------------------------------------

/// The unix time of every handshake (2025-11-24T16:00:00Z).
const NOW: u64 = 1_764_000_000;
/// The P2P epoch length.
const EPOCH_SECONDS: u32 = 3_600;
/// Number of D-TAs in every deployment.
const DTAS: u8 = 3;

const SEED_CS_REQUIRED: &str = "milagro-tls vectors: CS deployment, permits required";
const SEED_CS_OFF: &str = "milagro-tls vectors: CS deployment, permits off";
const SEED_P2P: &str = "milagro-tls vectors: P2P deployment";

const CS_IDENTITY_INPUT: &str = "Alice@Example.COM.";
const P2P_SERVER_INPUT: &str = "Server.Example.COM.";
const P2P_CLIENT_INPUT: &str = "Bob@Example.org";

const PIN: u32 = 123_456;
const WRONG_PIN: u32 = 987_654;

// ---------------------------------------------------------------------------
// Writing / comparing
// ---------------------------------------------------------------------------

const WRITE_ENV: &str = "MILAGRO_WRITE_VECTORS";

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
}

/// Writes `computed` (with `MILAGRO_WRITE_VECTORS=1`) or compares it with the
/// committed file, naming every differing field.
fn check_or_write(file: &str, computed: Value) {
    let path = vectors_dir().join(file);
    if std::env::var(WRITE_ENV).as_deref() == Ok("1") {
        std::fs::create_dir_all(vectors_dir()).expect("create tests/vectors");
        let mut text = serde_json::to_string_pretty(&computed).expect("serialise vectors");
        text.push('\n');
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{file}: cannot write: {e}"));
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{file}: cannot read the committed vector file {}: {e}. \
             Generate it with `{WRITE_ENV}=1 cargo test -p milagro-tls --test vectors`.",
            path.display()
        )
    });
    let committed: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not valid JSON: {e}"));
    let mut diffs = Vec::new();
    diff(&committed, &computed, "$", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{file}: {} field(s) differ from the committed vectors:\n  {}",
        diffs.len(),
        diffs.join("\n  ")
    );
}

fn diff(committed: &Value, computed: &Value, path: &str, out: &mut Vec<String>) {
    match (committed, computed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => diff(va, vb, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: in the file but no longer computed")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k}: computed but missing from the file"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: the file has {} entries, {} computed",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: file has {a}, computed {b}")),
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn hx(bytes: impl AsRef<[u8]>) -> Value {
    Value::String(hex::encode(bytes))
}

fn g1(p: &G1) -> Value {
    hx(p.to_bytes())
}

fn g2(p: &G2) -> Value {
    hx(p.to_bytes())
}

fn sc(s: &Scalar) -> Value {
    hx(s.to_be_bytes())
}

fn gt(v: &Gt) -> Value {
    hx(v.to_bytes())
}

fn fresh(seed: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    SeededEntropy::new(seed.as_bytes())
        .fill(&mut b)
        .expect("seeded entropy never fails");
    b
}

fn id(input: &str) -> Identity {
    Identity::new(input).expect("fixed identity is valid")
}

fn pem_body(pem: &str) -> (String, Vec<u8>) {
    let (label, body) = pem_rfc7468::decode_vec(pem.as_bytes()).expect("our own PEM decodes");
    (label.to_owned(), body)
}

/// The last `n` bytes of a key file's body: the key's point or scalar.
fn key_bytes<K: KeyFile>(key: &K, n: usize) -> Vec<u8> {
    let pem = key.to_pem().expect("encode key");
    let (_, body) = pem_body(&pem);
    body[body.len() - n..].to_vec()
}

fn key_g1<K: KeyFile>(key: &K) -> G1 {
    G1::from_bytes(&key_bytes(key, 48)).expect("key point decodes")
}

fn key_g2<K: KeyFile>(key: &K) -> G2 {
    G2::from_bytes(&key_bytes(key, 96)).expect("key point decodes")
}

fn master_scalar(m: &MasterShare) -> Scalar {
    Scalar::from_be_bytes_nonzero(&key_bytes(m, 32)).expect("master share decodes")
}

fn sum_scalars(ms: &[MasterShare]) -> Scalar {
    ms.iter()
        .fold(Scalar::zero(), |acc, m| &acc + &master_scalar(m))
}

/// A deployment and its D-TAs, all drawn in order from one seeded stream:
/// the 16-byte deployment id, then per D-TA its 8-byte id and 64 bytes reduced
/// to `s_i` (`Scalar::random`).
struct Dtas {
    seed: &'static str,
    deployment: Deployment,
    masters: Vec<MasterShare>,
}

fn cs_dtas(seed: &'static str, policy: PermitPolicy) -> (CsDeployment, Dtas) {
    let rng = SeededEntropy::new(seed.as_bytes());
    let dep = CsDeployment::new(DTAS, policy, &rng).expect("deployment");
    let masters = (0..DTAS)
        .map(|_| MasterShare::generate(Deployment::Cs(dep), &rng).expect("master share"))
        .collect();
    (
        dep,
        Dtas {
            seed,
            deployment: Deployment::Cs(dep),
            masters,
        },
    )
}

fn p2p_dtas() -> (P2pDeployment, Dtas) {
    let rng = SeededEntropy::new(SEED_P2P.as_bytes());
    let dep = P2pDeployment::new(DTAS, EPOCH_SECONDS, &rng).expect("deployment");
    let masters = (0..DTAS)
        .map(|_| MasterShare::generate(Deployment::P2p(dep), &rng).expect("master share"))
        .collect();
    (
        dep,
        Dtas {
            seed: SEED_P2P,
            deployment: Deployment::P2p(dep),
            masters,
        },
    )
}

fn dtas_json(d: &Dtas) -> Value {
    let dep = match d.deployment {
        Deployment::Cs(c) => json!({
            "id": hx(c.id.0),
            "suite_tag": 1,
            "dta_count": c.dta_count,
            "permit_policy_tag": c.permits.tag(),
        }),
        Deployment::P2p(p) => json!({
            "id": hx(p.id.0),
            "suite_tag": 2,
            "dta_count": p.dta_count,
            "epoch_seconds": p.epoch_seconds,
        }),
    };
    let masters: Vec<Value> = d
        .masters
        .iter()
        .map(|m| {
            json!({
                "dta_id": hx(m.dta().0),
                "s_i": sc(&master_scalar(m)),
                "pem": m.to_pem().expect("pem").as_str(),
            })
        })
        .collect();
    json!({
        "seed": d.seed,
        "seed_hex": hx(d.seed.as_bytes()),
        "deployment": dep,
        "master_shares": masters,
        "s_sum_mod_r": sc(&sum_scalars(&d.masters)),
    })
}

/// Issues one key from every D-TA, checks each share is `s_i·X` and the
/// combination is `Σ shares = s·X`, and returns (shares, combined).
fn issue<K, P>(
    masters: &[MasterShare],
    base: &P,
    issue_one: impl Fn(&MasterShare) -> Share<K>,
    point: impl Fn(&K) -> P,
) -> (Vec<Share<K>>, K)
where
    K: Combine + KeyFile,
    Share<K>: KeyFile,
    P: PartialEq + std::fmt::Debug,
    for<'a> &'a P: std::ops::Mul<&'a Scalar, Output = P> + std::ops::Add<&'a P, Output = P>,
{
    let shares: Vec<Share<K>> = masters.iter().map(&issue_one).collect();
    for (m, s) in masters.iter().zip(&shares) {
        assert_eq!(
            point(s.partial()),
            base * &master_scalar(m),
            "share = s_i·X"
        );
    }
    let combined = K::combine(&shares).expect("combine");
    let sum = shares
        .iter()
        .skip(1)
        .fold(point(shares[0].partial()), |acc, s| {
            &acc + &point(s.partial())
        });
    assert_eq!(point(&combined), sum, "combined = Σ shares");
    assert_eq!(
        point(&combined),
        base * &sum_scalars(masters),
        "combined = s·X"
    );
    (shares, combined)
}

// Key points through their key files (the typed keys' fields are crate-private).
fn ss_point(k: &CsServerSecret) -> G2 {
    key_g2(k)
}
fn cs_point(k: &CsClientSecret) -> G1 {
    key_g1(k)
}
fn tp_point(k: &CsTimePermit) -> G1 {
    key_g1(k)
}
fn da_point(k: &P2pServerKey) -> G1 {
    key_g1(k)
}
fn db_point(k: &P2pClientKey) -> G2 {
    key_g2(k)
}

struct CsKeys {
    dep: CsDeployment,
    dtas: Dtas,
    identity: Identity,
    day: u32,
    ss: (Vec<Share<CsServerSecret>>, CsServerSecret),
    cs: (Vec<Share<CsClientSecret>>, CsClientSecret),
    tp: Option<(Vec<Share<CsTimePermit>>, CsTimePermit)>,
}

fn cs_keys(seed: &'static str, policy: PermitPolicy) -> CsKeys {
    let (dep, dtas) = cs_dtas(seed, policy);
    let identity = id(CS_IDENTITY_INPUT);
    let hid = identity.cs_hid();
    let day = day_of(NOW);
    let ss = issue(
        &dtas.masters,
        &G2::generator(),
        |m| m.issue_cs_server_secret().expect("issue SS"),
        ss_point,
    );
    let cs = issue(
        &dtas.masters,
        &cs_identity_point(&hid),
        |m| m.issue_cs_client_secret(&identity).expect("issue CS"),
        cs_point,
    );
    let tp = match policy {
        PermitPolicy::Required => Some(issue(
            &dtas.masters,
            &cs_permit_point(day, &hid),
            |m| m.issue_cs_time_permit(&identity, day).expect("issue TP"),
            tp_point,
        )),
        PermitPolicy::Off => None,
    };
    CsKeys {
        dep,
        dtas,
        identity,
        day,
        ss,
        cs,
        tp,
    }
}

struct P2pKeys {
    dtas: Dtas,
    dep: P2pDeployment,
    id_a: Identity,
    id_b: Identity,
    epoch: u32,
    da: (Vec<Share<P2pServerKey>>, P2pServerKey),
    da_prev: (Vec<Share<P2pServerKey>>, P2pServerKey),
    db: (Vec<Share<P2pClientKey>>, P2pClientKey),
}

fn p2p_keys() -> P2pKeys {
    let (dep, dtas) = p2p_dtas();
    let id_a = id(P2P_SERVER_INPUT);
    let id_b = id(P2P_CLIENT_INPUT);
    let epoch = epoch_of(NOW, EPOCH_SECONDS);
    let server_key = |e: u32| {
        issue(
            &dtas.masters,
            &p2p_server_point(&id_a.p2p_hid(e)),
            |m| m.issue_p2p_server_key(&id_a, e).expect("issue D_A"),
            da_point,
        )
    };
    let da = server_key(epoch);
    let da_prev = server_key(epoch - 1);
    let db = issue(
        &dtas.masters,
        &p2p_client_point(&id_b.p2p_hid(epoch)),
        |m| m.issue_p2p_client_key(&id_b, epoch).expect("issue D_B"),
        db_point,
    );
    P2pKeys {
        dtas,
        dep,
        id_a,
        id_b,
        epoch,
        da,
        da_prev,
        db,
    }
}

// ---------------------------------------------------------------------------
// pairing.json
// ---------------------------------------------------------------------------

const NORMATIVE_GT: &str = "\
1250ebd871fc0a92a7b2d83168d0d727272d441befa15c503dd8e90ce98db3e7b6d194f60839c508a84305aaca1789b6\
089a1c5b46e5110b86750ec6a532348868a84045483c92b7af5af689452eafabf1a8943e50439f1d59882a98eaa0170f\
1368bb445c7c2d209703f239689ce34c0378a68e72a6b3b216da0e22a5031b54ddff57309396b38c881c4c849ec23e87\
193502b86edb8857c273fa075a50512937e0794e1e65a7617c90d8bd66065b1fffe51d7a579973b1315021ec3c19934f\
01b2f522473d171391125ba84dc4007cfbf2f8da752f7c74185203fcca589ac719c34dffbbaad8431dad1c1fb597aaa5\
018107154f25a764bd3c79937a45b84546da634b8f6be14a8061e55cceba478b23f7dacaa35c8ca78beae9624045b4b6\
19f26337d205fb469cd6bd15c3d5a04dc88784fbb3d0b2dbdea54d43b2b73f2cbb12d58386a8703e0f948226e47ee89d\
06fba23eb7c5af0d9f80940ca771b6ffd5857baaf222eb95a7d2809d61bfe02e1bfd1b68ff02f0b8102ae1c2d5d5ab1a\
11b8b424cd48bf38fcef68083b0b0ec5c81a93b330ee1a677d0d15ff7b984e8978ef48881e32fac91b93b47333e2ba57\
03350f55a7aefcd3c31b4fcb6ce5771cc6a0e9786ab5973320c806ad360829107ba810c5a09ffdd9be2291a0c25a99a2\
04c581234d086a9902249b64728ffd21a189e87935a954051c7cdba7b3872629a4fafc05066245cb9108f0242d0fe3ef\
0f41e58663bf08cf068672cbd01a7ec73baca4d72ca93544deff686bfd6df543d48eaa24afe47e1efde449383b676631";

#[test]
fn pairing_vectors() {
    let p = G1::generator();
    let q = G2::generator();
    let e = pairing(&p, &q);
    // The normative value of docs/protocol.md §2.4, copied from there.
    assert_eq!(hex::encode(e.to_bytes()), NORMATIVE_GT, "§2.4 e(P, Q)");
    assert_eq!(e, Gt::generator());

    // Bilinearity: e(2P, 3Q) = e(P, Q)^6 = e(6P, Q).
    let two = Scalar::from_u64(2);
    let three = Scalar::from_u64(3);
    let six = Scalar::from_u64(6);
    let e23 = pairing(&(&p * &two), &(&q * &three));
    assert_eq!(e23, e.pow(&six));
    assert_eq!(e23, pairing(&(&p * &six), &q));

    let hid = id("alice@example.com").cs_hid();
    let msgs: [(&str, Vec<u8>); 2] = [
        ("empty", Vec::new()),
        ("HID of alice@example.com", hid.as_bytes().to_vec()),
    ];
    let mut to_g1 = Vec::new();
    for (name, dom) in [
        ("CS-ID", G1Domain::CsIdentity),
        ("CS-TP", G1Domain::CsTimePermit),
        ("P2P-ID-G1", G1Domain::P2pIdentity),
    ] {
        for (what, msg) in &msgs {
            let point = G1::hash(dom, &[msg.as_slice()]);
            assert_eq!(point, G1::hash_with_dst(dom.dst(), msg));
            to_g1.push(json!({
                "domain": name,
                "dst": String::from_utf8(dom.dst().to_vec()).expect("ascii DST"),
                "msg_description": what,
                "msg": hx(msg),
                "point": g1(&point),
            }));
        }
    }
    let mut to_g2 = Vec::new();
    for (what, msg) in &msgs {
        let dom = G2Domain::P2pIdentity;
        let point = G2::hash(dom, &[msg.as_slice()]);
        to_g2.push(json!({
            "domain": "P2P-ID-G2",
            "dst": String::from_utf8(dom.dst().to_vec()).expect("ascii DST"),
            "msg_description": what,
            "msg": hx(msg),
            "point": g2(&point),
        }));
    }
    let mut to_scalar = Vec::new();
    for dom in [
        ScalarDomain::CsH,
        ScalarDomain::CsY,
        ScalarDomain::CsDleq,
        ScalarDomain::CsNonce,
        ScalarDomain::P2pA,
        ScalarDomain::P2pB,
        ScalarDomain::P2pNonce,
    ] {
        for (what, msg) in &msgs {
            to_scalar.push(json!({
                "dst": String::from_utf8(dom.dst().to_vec()).expect("ascii DST"),
                "msg_description": what,
                "msg": hx(msg),
                "scalar": sc(&Scalar::hash(dom, &[msg.as_slice()])),
            }));
        }
    }
    // Wide reduction of random bytes (§1.2): 64 bytes big-endian mod r.
    let mut wide = [0u8; 64];
    SeededEntropy::new(b"milagro-tls vectors: wide")
        .fill(&mut wide)
        .expect("seeded");
    check_or_write(
        "pairing.json",
        json!({
            "description": "docs/protocol.md §2 and §3: the normative pairing value, hashing to G1/G2 under the identity-point DSTs, hashing to Fr under the seven scalar DSTs, the wide reduction",
            "G1_generator": g1(&p),
            "G2_generator": g2(&q),
            "e_P_Q": gt(&e),
            "e_2P_3Q": gt(&e23),
            "hash_to_g1": to_g1,
            "hash_to_g2": to_g2,
            "hash_to_scalar": to_scalar,
            "wide_reduction": {
                "input_64_bytes": hx(wide),
                "scalar": sc(&Scalar::from_wide_be(&wide)),
            },
        }),
    );
}

// ---------------------------------------------------------------------------
// identities.json
// ---------------------------------------------------------------------------

#[test]
fn identity_vectors() {
    let epoch = epoch_of(NOW, EPOCH_SECONDS);
    let cases = [
        (
            "email, upper-case domain, trailing dot",
            "Alice@Example.COM.",
        ),
        ("email, already canonical", "alice@example.com"),
        ("email, IDN domain", "Jörg@Bücher.Example"),
        ("email, NFC of the local part", "Jose\u{301}@example.com"),
        ("IDN host name with trailing dot", "Bücher.Example."),
        ("plain host, upper case", "SERVER"),
        ("host name", "server.example.com."),
        ("IPv4 literal", "192.0.2.1"),
        ("IPv6 literal", "2001:db8::1"),
        ("two @ signs: kept as NFC", "a@b@example.com"),
        ("refused: empty", ""),
        ("refused: white space", "a b@example.com"),
        ("refused: invalid domain", "alice@-bad-.example"),
        ("refused: empty local part", "@example.com"),
    ];
    let mut out = Vec::new();
    for (what, input) in cases {
        let v = match Identity::new(input) {
            Ok(identity) => {
                // Canonical forms are fixed points.
                assert_eq!(Identity::new(identity.as_str()).as_ref(), Ok(&identity));
                assert_eq!(identity.cs_hid().0, sha256(&[identity.as_bytes()]));
                json!({
                    "description": what,
                    "input": input,
                    "input_utf8": hx(input.as_bytes()),
                    "canonical": identity.as_str(),
                    "canonical_utf8": hx(identity.as_bytes()),
                    "cs_hid": hx(identity.cs_hid().0),
                    "p2p_epoch": epoch,
                    "p2p_hid": hx(identity.p2p_hid(epoch).0),
                })
            }
            Err(e) => json!({
                "description": what,
                "input": input,
                "input_utf8": hx(input.as_bytes()),
                "error": format!("{e:?}"),
            }),
        };
        out.push(v);
    }
    check_or_write(
        "identities.json",
        json!({
            "description": "docs/protocol.md §4: canonical identities, CS HID = SHA-256(ID), P2P HID = SHA-256(ID ‖ be32(epoch))",
            "cases": out,
        }),
    );
}

// ---------------------------------------------------------------------------
// dta.json
// ---------------------------------------------------------------------------

fn cs_keys_json(k: &CsKeys) -> Value {
    let hid = k.identity.cs_hid();
    let mut shares = Vec::new();
    for (i, m) in k.dtas.masters.iter().enumerate() {
        let mut s = json!({
            "dta_id": hx(m.dta().0),
            "server_secret_share": g2(&ss_point(k.ss.0[i].partial())),
            "client_secret_share": g1(&cs_point(k.cs.0[i].partial())),
        });
        if let Some((tps, _)) = &k.tp {
            s["time_permit_share"] = g1(&tp_point(tps[i].partial()));
        }
        shares.push(s);
    }
    let mut combined = json!({
        "SS": g2(&ss_point(&k.ss.1)),
        "CS": g1(&cs_point(&k.cs.1)),
    });
    let mut v = json!({
        "dtas": dtas_json(&k.dtas),
        "identity_input": CS_IDENTITY_INPUT,
        "identity": k.identity.as_str(),
        "hid": hx(hid.0),
        "A": g1(&cs_identity_point(&hid)),
        "issued_shares": shares,
    });
    match &k.tp {
        Some((_, tp)) => {
            v["day"] = json!(k.day);
            v["T"] = g1(&cs_permit_point(k.day, &hid));
            combined["TP"] = g1(&tp_point(tp));
        }
        None => {
            let err = k.dtas.masters[0]
                .issue_cs_time_permit(&k.identity, k.day)
                .expect_err("permits off");
            v["time_permit_issue_error"] = json!(format!("{err:?}"));
        }
    }
    v["combined"] = combined;
    v
}

#[test]
fn dta_vectors() {
    let req = cs_keys(SEED_CS_REQUIRED, PermitPolicy::Required);
    let off = cs_keys(SEED_CS_OFF, PermitPolicy::Off);
    let p = p2p_keys();
    let hid_a = p.id_a.p2p_hid(p.epoch);
    let hid_a_prev = p.id_a.p2p_hid(p.epoch - 1);
    let hid_b = p.id_b.p2p_hid(p.epoch);
    let shares: Vec<Value> = p
        .dtas
        .masters
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({
                "dta_id": hx(m.dta().0),
                "server_key_share": g1(&da_point(p.da.0[i].partial())),
                "server_key_prev_share": g1(&da_point(p.da_prev.0[i].partial())),
                "client_key_share": g2(&db_point(p.db.0[i].partial())),
            })
        })
        .collect();
    // Cross-suite issuance is refused by type of master share.
    let cross = req.dtas.masters[0]
        .issue_p2p_server_key(&p.id_a, p.epoch)
        .expect_err("CS master share cannot issue P2P keys");
    check_or_write(
        "dta.json",
        json!({
            "description": "docs/protocol.md §5: three 3-D-TA deployments; each share is s_i·X, each combined key Σ shares = (Σ s_i)·X. Every deployment's values are drawn in order from one SeededEntropy stream: deployment id (16 B), then per D-TA: D-TA id (8 B), s_i (64 B, wide reduction)",
            "now": NOW,
            "cs_permits_required": cs_keys_json(&req),
            "cs_permits_off": cs_keys_json(&off),
            "p2p": {
                "dtas": dtas_json(&p.dtas),
                "server_identity_input": P2P_SERVER_INPUT,
                "server_identity": p.id_a.as_str(),
                "client_identity_input": P2P_CLIENT_INPUT,
                "client_identity": p.id_b.as_str(),
                "epoch": p.epoch,
                "HID_A": hx(hid_a.0),
                "HID_A_prev": hx(hid_a_prev.0),
                "HID_B": hx(hid_b.0),
                "H1": g1(&p2p_server_point(&hid_a)),
                "H1_prev": g1(&p2p_server_point(&hid_a_prev)),
                "H2": g2(&p2p_client_point(&hid_b)),
                "issued_shares": shares,
                "combined": {
                    "D_A": g1(&da_point(&p.da.1)),
                    "D_A_prev": g1(&da_point(&p.da_prev.1)),
                    "D_B": g2(&db_point(&p.db.1)),
                },
            },
            "cross_suite_issue_error": format!("{cross:?}"),
        }),
    );
}

// ---------------------------------------------------------------------------
// cs.json
// ---------------------------------------------------------------------------

fn token_for(k: &CsKeys) -> CsToken {
    let pin = Pin::from_u32(PIN, PinDigits::DEFAULT).expect("pin");
    let token = mpin::extract_pin(&k.cs.1, &pin).unwrap();
    let a = cs_identity_point(&k.identity.cs_hid());
    assert_eq!(
        key_g1(&token),
        &cs_point(&k.cs.1) - &(&a * &Scalar::from_u64(u64::from(PIN))),
        "token = CS − PIN·A"
    );
    token
}

/// Splits a 300-byte share into its fields (§6.1).
fn share_fields(share: &[u8; 300]) -> Value {
    json!({
        "HID": hx(&share[0..32]),
        "d": u32::from_be_bytes(share[32..36].try_into().expect("4")),
        "t": u64::from_be_bytes(share[36..44].try_into().expect("8")),
        "U": hx(&share[44..92]),
        "X": hx(&share[92..140]),
        "c": hx(&share[140..172]),
        "z": hx(&share[172..204]),
        "V": hx(&share[204..252]),
        "R": hx(&share[252..300]),
    })
}

struct ClientRecompute {
    json: Value,
    r: Scalar,
    sec: G1,
}

/// Recomputes the client's share from the formulas of §6.2–§6.3 with the
/// public primitives and checks the library's bytes against it.
fn recompute_client(
    share: &[u8; 300],
    sec: &G1,
    a: &G1,
    a_d: &G1,
    day: u32,
    fresh: &[u8; 32],
) -> ClientRecompute {
    let hid = &share[0..32];
    let head = &share[0..44];
    let secb = sec.to_bytes();
    let x = Scalar::hash(ScalarDomain::CsNonce, &[&secb, head, fresh, b"x"]);
    let r = Scalar::hash(ScalarDomain::CsNonce, &[&secb, head, fresh, b"r"]);
    let u = a_d * &x;
    let xp = a * &x;
    let rp = a_d * &r;
    let (ub, xb, rb) = (u.to_bytes(), xp.to_bytes(), rp.to_bytes());
    let k = Scalar::hash(
        ScalarDomain::CsNonce,
        &[&secb, head, fresh, &ub, &xb, &rb, b"k"],
    );
    let ka = a * &k;
    let kad = a_d * &k;
    let c = Scalar::hash(
        ScalarDomain::CsDleq,
        &[
            hid,
            &day.to_be_bytes(),
            &NOW.to_be_bytes(),
            &a.to_bytes(),
            &a_d.to_bytes(),
            &xb,
            &ub,
            &rb,
            &ka.to_bytes(),
            &kad.to_bytes(),
        ],
    );
    let z = &k + &(&c * &x);
    let y = Scalar::hash(
        ScalarDomain::CsY,
        &[
            hid,
            &day.to_be_bytes(),
            &NOW.to_be_bytes(),
            &ub,
            &xb,
            &c.to_be_bytes(),
            &z.to_be_bytes(),
            &rb,
        ],
    );
    let v = sec * &(-&(&x + &y));
    let mut expect = [0u8; 300];
    expect[0..32].copy_from_slice(hid);
    expect[32..36].copy_from_slice(&day.to_be_bytes());
    expect[36..44].copy_from_slice(&NOW.to_be_bytes());
    expect[44..92].copy_from_slice(&ub);
    expect[92..140].copy_from_slice(&xb);
    expect[140..172].copy_from_slice(&c.to_be_bytes());
    expect[172..204].copy_from_slice(&z.to_be_bytes());
    expect[204..252].copy_from_slice(&v.to_bytes());
    expect[252..300].copy_from_slice(&rb);
    assert_eq!(
        hex::encode(share),
        hex::encode(expect),
        "client share = §6.1–§6.3 recomputed"
    );
    ClientRecompute {
        json: json!({
            "SEC": g1(sec),
            "x": sc(&x),
            "r": sc(&r),
            "k": sc(&k),
            "k_A": g1(&ka),
            "k_A_d": g1(&kad),
            "y": sc(&y),
        }),
        r,
        sec: sec.clone(),
    }
}

fn cs_error_name(e: &CsError) -> String {
    match e {
        CsError::ProofFailed(_) => "ProofFailed".to_owned(),
        other => format!("{other:?}"),
    }
}

fn cs_vectors_for(k: &CsKeys, tag: &str) -> Value {
    let policy = k.dep.permits;
    let hid = k.identity.cs_hid();
    let a = cs_identity_point(&hid);
    let (day, a_d, tp_pt) = match &k.tp {
        Some((_, tp)) => (
            k.day,
            &a + &cs_permit_point(k.day, &hid),
            Some(tp_point(tp)),
        ),
        None => (0, a.clone(), None),
    };
    let permit = k.tp.as_ref().map(|(_, tp)| tp);
    let token = token_for(k);
    let ss = ss_point(&k.ss.1);
    let server = PreparedServerSecret::new(&k.ss.1);
    let q = G2::generator();

    // --- good PIN ---
    let fresh_c = fresh(&format!("milagro-tls vectors: {tag} client fresh"));
    let pin = Pin::from_u32(PIN, PinDigits::DEFAULT).expect("pin");
    let state =
        mpin::ClientState::with_fresh(&token, &pin, permit, NOW, &fresh_c).expect("client share");
    let share = *state.share();
    assert_eq!(state.effective_point(), &a_d);
    let sec = match &tp_pt {
        Some(t) => &(&key_g1(&token) + &(&a * &Scalar::from_u64(u64::from(PIN)))) + t,
        None => &key_g1(&token) + &(&a * &Scalar::from_u64(u64::from(PIN))),
    };
    assert_eq!(sec, &a_d * &sum_scalars(&k.dtas.masters), "SEC = s·A_d");
    let rc = recompute_client(&share, &sec, &a, &a_d, day, &fresh_c);

    let pre = mpin::precheck(&share, &server.checks(), NOW).expect("precheck");
    let verified = mpin::verify(&pre, &server).expect("good PIN verifies");
    let key_bytes_server: [u8; 32] = fresh(&format!("milagro-tls vectors: {tag} server nonce key"));
    let fresh_s = fresh(&format!("milagro-tls vectors: {tag} server fresh"));
    let resp = mpin::full::respond_with_fresh(
        &verified,
        &server,
        &mpin::ServerNonceKey::from_bytes(key_bytes_server),
        &fresh_s,
    );
    let client_secret = state.finish(&resp.share).expect("client finish");
    assert_eq!(client_secret, resp.secret, "both sides' secrets equal");

    // Recompute §6.6 and §3.5.
    let w = Scalar::hash(
        ScalarDomain::CsNonce,
        &[&key_bytes_server, &share, &fresh_s, b"w"],
    );
    let wp = &a_d * &w;
    assert_eq!(wp.to_bytes(), resp.share, "W = w·A_d");
    let h = Scalar::hash(ScalarDomain::CsH, &[&share, &resp.share]);
    let k_client = pairing(&(&rc.sec * &(&rc.r + &h)), &q);
    let rp = G1::from_bytes(&share[252..300]).expect("R");
    let k_server = pairing(&(&rp + &(&a_d * &h)), &ss);
    assert_eq!(k_client, k_server, "K equal on both sides");
    let z_client = &wp * &rc.r;
    assert_eq!(z_client, &rp * &w, "Z equal on both sides");
    let secret = sha256(&[
        b"MILAGRO-TLS13-V1 CS",
        &k_client.to_bytes(),
        &z_client.to_bytes(),
        &share,
        &resp.share,
    ]);
    assert_eq!(&secret, resp.secret.as_bytes(), "§3.5 shared secret");
    assert_eq!(k_client.to_bytes().len(), GT_BYTES);

    let mut good = json!({
        "pin_entered": PIN,
        "fresh_client": hx(fresh_c),
        "client_share": hx(share),
        "client_share_fields": share_fields(&share),
        "verify": "ok",
        "server_nonce_key": hx(key_bytes_server),
        "fresh_server": hx(fresh_s),
        "w": sc(&w),
        "W": hx(resp.share),
        "h": sc(&h),
        "K": gt(&k_client),
        "Z": g1(&z_client),
        "shared_secret_client": hx(client_secret.as_bytes()),
        "shared_secret_server": hx(resp.secret.as_bytes()),
    });
    if let (Value::Object(g), Value::Object(extra)) = (&mut good, rc.json) {
        g.extend(extra);
    }

    // --- wrong PIN: classified with its δ ---
    let fresh_w = fresh(&format!(
        "milagro-tls vectors: {tag} wrong-PIN client fresh"
    ));
    let wrong = Pin::from_u32(WRONG_PIN, PinDigits::DEFAULT).expect("pin");
    let wstate =
        mpin::ClientState::with_fresh(&token, &wrong, permit, NOW, &fresh_w).expect("share");
    let wshare = *wstate.share();
    let delta = i64::from(WRONG_PIN) - i64::from(PIN);
    let sec_wrong = &sec + &(&a * &Scalar::from_u64(u64::from(WRONG_PIN - PIN)));
    let wrc = recompute_client(&wshare, &sec_wrong, &a, &a_d, day, &fresh_w);
    let wpre = mpin::precheck(&wshare, &server.checks(), NOW).expect("precheck");
    let failed = match mpin::verify(&wpre, &server) {
        Err(CsError::ProofFailed(f)) => f,
        other => panic!("wrong PIN must fail the proof, got {other:?}"),
    };
    let classification = mpin::classify(&failed, &server, PinDigits::DEFAULT);
    assert_eq!(
        classification,
        Classification::WrongPin { delta },
        "δ = entered − registered"
    );
    // g = e(V,Q)·e(U + y·A_d, SS) = F^(−δ), F = e(X + y·A, Q).
    let y = Scalar::from_be_bytes(&hex::decode(wrc.json["y"].as_str().expect("y")).expect("hex"))
        .expect("y");
    let u = G1::from_bytes(&wshare[44..92]).expect("U");
    let xp = G1::from_bytes(&wshare[92..140]).expect("X");
    let vp = G1::from_bytes(&wshare[204..252]).expect("V");
    let g = multi_pairing(&[(&vp, &q.prepare()), (&(&u + &(&a_d * &y)), &ss.prepare())]);
    let f = pairing(&(&xp + &(&a * &y)), &q);
    assert_eq!(g, f.pow(&-&Scalar::from_u64(delta.unsigned_abs())));
    let mut wrong_json = json!({
        "pin_entered": WRONG_PIN,
        "fresh_client": hx(fresh_w),
        "client_share": hx(wshare),
        "client_share_fields": share_fields(&wshare),
        "verify": "ProofFailed",
        "g": gt(&g),
        "F": gt(&f),
        "delta": delta,
        "classification": format!("{classification:?}"),
    });
    if let (Value::Object(g), Value::Object(extra)) = (&mut wrong_json, wrc.json) {
        g.extend(extra);
    }

    // --- refusals of altered shares ---
    let mut refusals = Vec::new();
    let mut refuse = |what: &str, bytes: Vec<u8>| {
        let result = mpin::precheck(&bytes, &server.checks(), NOW)
            .and_then(|p| mpin::verify(&p, &server).map(|_| ()));
        let err = result.expect_err("altered share must be refused");
        refusals.push(json!({
            "description": what,
            "client_share": hx(&bytes),
            "error": cs_error_name(&err),
        }));
    };
    refuse("299 bytes", share[..299].to_vec());
    let mut b = share.to_vec();
    b[32..36].copy_from_slice(&(if day == 0 { day_of(NOW) } else { 0 }).to_be_bytes());
    refuse("d of the other permit policy", b);
    let mut b = share.to_vec();
    b[36..44].copy_from_slice(&(NOW + 31).to_be_bytes());
    refuse("t outside the 30 s window", b);
    let mut b = share.to_vec();
    b[171] ^= 1;
    refuse("c altered (DLEQ)", b);
    let mut b = share.to_vec();
    b[44] = 0xc0;
    b[45..92].fill(0);
    refuse("U = identity point", b);
    let mut b = share.to_vec();
    b[172..204].copy_from_slice(
        &hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
            .expect("r"),
    );
    refuse("z = r (not below the group order)", b);
    let mut b = share.to_vec();
    b[0] ^= 1;
    refuse("HID altered", b);
    if policy == PermitPolicy::Off {
        // §6.4 step 1 wants X == U checked on the bytes with permits off;
        // whichever check catches it, the share must be refused.
        let mut b = share.to_vec();
        b.copy_within(252..300, 92);
        refuse("permits off, X != U (X replaced by R)", b);
    }

    json!({
        "permit_policy": format!("{policy:?}"),
        "permit_policy_tag": policy.tag(),
        "deployment_id": hx(k.dep.id.0),
        "deployment_seed": k.dtas.seed,
        "identity": k.identity.as_str(),
        "hid": hx(hid.0),
        "now": NOW,
        "day": day,
        "pin_digits": PinDigits::DEFAULT.get(),
        "pin_registered": PIN,
        "SS": g2(&ss),
        "CS": g1(&cs_point(&k.cs.1)),
        "TP": tp_pt.as_ref().map(g1),
        "token": g1(&key_g1(&token)),
        "A": g1(&a),
        "T": if day == 0 { Value::Null } else { g1(&cs_permit_point(day, &hid)) },
        "A_d": g1(&a_d),
        "good_pin": good,
        "wrong_pin": wrong_json,
        "refused_shares": refusals,
    })
}

#[test]
fn cs_vectors() {
    let req = cs_keys(SEED_CS_REQUIRED, PermitPolicy::Required);
    let off = cs_keys(SEED_CS_OFF, PermitPolicy::Off);
    check_or_write(
        "cs.json",
        json!({
            "description": "docs/protocol.md §6: CS (M-Pin) handshakes in the two deployments of dta.json (same seeds). Intermediates (SEC, x, r, k, y, w, h, K, Z, F, g) are recomputed by the test from the formulas of §6 and checked against the library's wire bytes and secrets",
            "permits_required": cs_vectors_for(&req, "cs-required"),
            "permits_off": cs_vectors_for(&off, "cs-off"),
        }),
    );
}

// ---------------------------------------------------------------------------
// p2p.json
// ---------------------------------------------------------------------------

#[test]
fn p2p_vectors() {
    let p = p2p_keys();
    let hid_a = p.id_a.p2p_hid(p.epoch);
    let hid_b = p.id_b.p2p_hid(p.epoch);
    let h1 = p2p_server_point(&hid_a);
    let h2 = p2p_client_point(&hid_b);
    let d_a = da_point(&p.da.1);
    let d_b = db_point(&p.db.1);

    let server = P2pServer::new(p.da.1.clone(), Some(p.da_prev.1.clone())).expect("server");
    let client = P2pClient::new(p.db.1.clone(), p.id_a.clone(), Some(p.dep.id)).expect("client");
    let fy = fresh("milagro-tls vectors: p2p client fresh y");
    let fw = fresh("milagro-tls vectors: p2p client fresh w");
    let fx = fresh("milagro-tls vectors: p2p server fresh x");
    let pre = client.precompute_with_fresh(&fy);
    let hs = client.start_with_fresh(pre, &fw).expect("start");
    let share = *hs.share();
    let decoded = server.decode_client_share(&share).expect("decode");
    let resp = server.respond_with_fresh(&decoded, &fx).expect("respond");
    let pa_bytes = *resp.share();
    let server_secret = *resp.secret().as_bytes();
    let client_secret = hs.finish(&client, &pa_bytes).expect("finish");
    assert_eq!(
        client_secret.as_bytes(),
        &server_secret,
        "both sides' secrets equal"
    );

    // Recompute §7.2–§7.3 and §3.5.
    let epoch_be = p.epoch.to_be_bytes();
    let dbb = d_b.to_bytes();
    let dab = d_a.to_bytes();
    let y = Scalar::hash(ScalarDomain::P2pNonce, &[&dbb, &epoch_be, &fy, b"y"]);
    let pb = &h2 * &y;
    let w = Scalar::hash(
        ScalarDomain::P2pNonce,
        &[
            &dbb,
            &epoch_be,
            &hid_a.0,
            &hid_b.0,
            &pb.to_bytes(),
            &fw,
            b"w",
        ],
    );
    let pg = &h1 * &w;
    let mut expect = Vec::new();
    expect.extend_from_slice(&epoch_be);
    expect.extend_from_slice(&hid_b.0);
    expect.extend_from_slice(&pg.to_bytes());
    expect.extend_from_slice(&pb.to_bytes());
    assert_eq!(
        hex::encode(share),
        hex::encode(&expect),
        "client share §7.2"
    );
    let x = Scalar::hash(
        ScalarDomain::P2pNonce,
        &[&dab, &epoch_be, &hid_a.0, &hid_b.0, &share, &fx, b"x"],
    );
    let pa = &h1 * &x;
    assert_eq!(pa.to_bytes(), pa_bytes, "Pa = x·H1");
    let (pab, pbb, pgb) = (pa.to_bytes(), pb.to_bytes(), pg.to_bytes());
    let pia = Scalar::hash(ScalarDomain::P2pA, &[&pab, &pbb, &pgb, &hid_a.0, &hid_b.0]);
    let pib = Scalar::hash(ScalarDomain::P2pB, &[&pbb, &pab, &pgb, &hid_a.0, &hid_b.0]);
    let k_server = pairing(&(&d_a * &(&x + &pia)), &(&(&h2 * &pib) + &pb));
    let k_client = pairing(&(&(&h1 * &pia) + &pa), &(&d_b * &(&y + &pib)));
    assert_eq!(k_server, k_client, "K equal on both sides");
    let z = &pg * &x;
    assert_eq!(z, &pa * &w, "Z equal on both sides");
    let secret = sha256(&[
        b"MILAGRO-TLS13-V1 P2P",
        &hid_a.0,
        &hid_b.0,
        &k_server.to_bytes(),
        &z.to_bytes(),
        &share,
        &pa_bytes,
    ]);
    assert_eq!(secret, server_secret, "§3.5 shared secret");

    // A share for an epoch the server holds no key for is refused.
    let mut stale = share;
    stale[0..4].copy_from_slice(&(p.epoch - 2).to_be_bytes());
    let stale_err = server
        .decode_client_share(&stale)
        .expect_err("epoch E−2 refused");

    check_or_write(
        "p2p.json",
        json!({
            "description": "docs/protocol.md §7: one P2P (Chow–Choo) handshake with the keys of dta.json (same seed). Nonces y, w, x, pia, pib, K, Z are recomputed by the test from §7 and checked against the library's wire bytes and secrets",
            "deployment_id": hx(p.dep.id.0),
            "deployment_seed": p.dtas.seed,
            "epoch_seconds": EPOCH_SECONDS,
            "now": NOW,
            "epoch": p.epoch,
            "server_identity": p.id_a.as_str(),
            "client_identity": p.id_b.as_str(),
            "HID_A": hx(hid_a.0),
            "HID_B": hx(hid_b.0),
            "H1": g1(&h1),
            "H2": g2(&h2),
            "D_A": g1(&d_a),
            "D_B": g2(&d_b),
            "fresh_y": hx(fy),
            "fresh_w": hx(fw),
            "fresh_x": hx(fx),
            "y": sc(&y),
            "w": sc(&w),
            "x": sc(&x),
            "Pb": g2(&pb),
            "Pg": g1(&pg),
            "client_share": hx(share),
            "Pa": hx(pa_bytes),
            "pia": sc(&pia),
            "pib": sc(&pib),
            "K": gt(&k_server),
            "Z": g1(&z),
            "shared_secret_client": hx(client_secret.as_bytes()),
            "shared_secret_server": hx(server_secret),
            "refused_share_epoch_minus_2": {
                "client_share": hx(stale),
                "error": format!("{stale_err:?}"),
            },
        }),
    );
}

// ---------------------------------------------------------------------------
// keyfiles.json
// ---------------------------------------------------------------------------

/// Records a key file and checks it decodes (typed and via `from_pem_any`) and
/// re-encodes to the same text.
fn keyfile_entry<K: KeyFile>(key: &K) -> Value {
    let pem = key.to_pem().expect("encode");
    let again = K::from_pem(&pem).expect("decode").to_pem().expect("encode");
    assert_eq!(pem.as_str(), again.as_str(), "{}: round trip", K::LABEL);
    let any = keyfile::from_pem_any(&pem).expect("from_pem_any");
    assert_eq!(any.label(), K::LABEL);
    let (label, body) = pem_body(&pem);
    assert_eq!(label, K::LABEL);
    assert_eq!(body[0], keyfile::FORMAT_VERSION, "{label}: version byte");
    json!({
        "label": label,
        "kind_byte": body[1],
        "body": hx(&body),
        "body_len": body.len(),
        "pem": pem.as_str(),
    })
}

#[test]
fn keyfile_vectors() {
    let req = cs_keys(SEED_CS_REQUIRED, PermitPolicy::Required);
    let p = p2p_keys();
    let token = token_for(&req);
    let (tps, tp) = req.tp.as_ref().expect("permits required");
    let files = vec![
        keyfile_entry(&req.dtas.masters[0]),
        keyfile_entry(&p.dtas.masters[0]),
        keyfile_entry(&req.ss.1),
        keyfile_entry(&req.ss.0[0]),
        keyfile_entry(&req.cs.1),
        keyfile_entry(&req.cs.0[0]),
        keyfile_entry(&token),
        keyfile_entry(tp),
        keyfile_entry(&tps[0]),
        keyfile_entry(&p.da.1),
        keyfile_entry(&p.da.0[0]),
        keyfile_entry(&p.db.1),
        keyfile_entry(&p.db.0[0]),
    ];
    let kinds: Vec<u64> = files
        .iter()
        .map(|f| f["kind_byte"].as_u64().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            0x01, 0x01, 0x02, 0x82, 0x03, 0x83, 0x04, 0x05, 0x85, 0x06, 0x86, 0x07, 0x87
        ],
        "kind bytes as in §5.9"
    );
    // A D-TA's master share file refuses to load under another label.
    let relabelled = req.dtas.masters[0]
        .to_pem()
        .expect("pem")
        .replace(keyfile::LABEL_MASTER_SHARE, keyfile::LABEL_CS_TOKEN);
    let err = CsToken::from_pem(&relabelled).expect_err("relabelled file refused");
    assert!(
        matches!(err, keyfile::KeyFileError::KindMismatch { found: 0x01, .. }),
        "{err:?}"
    );
    check_or_write(
        "keyfiles.json",
        json!({
            "description": "docs/protocol.md §5.9: one key file of every kind (first D-TA's share where a share), from the deployments of dta.json",
            "files": files,
        }),
    );
}

#[test]
fn bad_decodings_are_refused_as_documented() {
    // Cheap guards that the vectors' encodings are the strict ones of §1.2.
    let r =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001").expect("r");
    assert!(matches!(
        Scalar::from_be_bytes(&r),
        Err(DecodeError::ScalarOutOfRange)
    ));
    let mut inf = [0u8; 48];
    inf[0] = 0xc0;
    assert!(matches!(
        G1::from_bytes(&inf),
        Err(DecodeError::IdentityPoint(_))
    ));
}
