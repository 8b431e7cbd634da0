//! End-to-end tests of the CS core: a full client/server exchange (this is
//! the module's worked example: keys are built directly from D-TA master
//! shares, which only in-crate code can do), and every refusal path.

use proptest::prelude::*;

use super::full::respond_with_fresh;
use super::proof::build_share;
use super::*;
use crate::identity::{Hid, Identity};
use crate::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, CsToken, DeploymentId,
    PermitPolicy, day_of,
};
use crate::pairing::{
    DecodeError, G1, G1_BYTES, G2, Scalar, ScalarDomain, SeededEntropy, multi_pairing,
};
use crate::points::{cs_identity_point, cs_permit_point};

/// 2025-11-24 12:00 UTC, day 20 416.
const NOW: u64 = 20_416 * 86_400 + 43_200;

// Layout offsets, restated from docs/protocol.md §6.1 independently of proof.rs.
const U: usize = 44;
const X: usize = 92;
const C: usize = 140;
const Z: usize = 172;
const V: usize = 204;
const R: usize = 252;

/// An on-curve G1 point outside the prime-order subgroup: x = 4,
/// y² = 4³ + 4 = 68 is a square mod p (checked with Python's big integers);
/// `pairing::tests::non_subgroup_point_is_refused` scans x = 1..=50 and
/// asserts every on-curve point there is not torsion-free.
const NON_SUBGROUP_G1: &str = "800000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004";

struct Deployment {
    dep: CsDeployment,
    /// The three D-TA master shares s1, s2, s3.
    s: [Scalar; 3],
}

impl Deployment {
    fn new(permits: PermitPolicy, seed: &[u8]) -> Self {
        let rng = SeededEntropy::new(seed);
        let s = [(); 3].map(|_| Scalar::random(&rng).unwrap());
        Self {
            dep: CsDeployment {
                id: DeploymentId([9; 16]),
                dta_count: 3,
                permits,
            },
            s,
        }
    }

    fn master(&self) -> Scalar {
        &(&self.s[0] + &self.s[1]) + &self.s[2]
    }

    fn server_with(&self, s: &Scalar) -> PreparedServerSecret {
        PreparedServerSecret::new(&CsServerSecret {
            deployment: self.dep,
            point: &G2::generator() * s,
        })
    }

    fn server(&self) -> PreparedServerSecret {
        self.server_with(&self.master())
    }

    /// Token (with `pin` extracted) and, with permits required, today's permit,
    /// issued under master secret `s`.
    fn client_with(
        &self,
        s: &Scalar,
        id: &str,
        pin: u32,
        day: u32,
    ) -> (CsToken, Option<CsTimePermit>) {
        let identity = Identity::new(id).unwrap();
        let hid = identity.cs_hid();
        let cs = CsClientSecret {
            deployment: self.dep,
            point: &cs_identity_point(&hid) * s,
            identity: identity.clone(),
        };
        let token = extract_pin(&cs, &Pin::from_u32(pin, PinDigits::DEFAULT).unwrap()).unwrap();
        let permit = (self.dep.permits == PermitPolicy::Required).then(|| CsTimePermit {
            deployment: self.dep,
            point: &cs_permit_point(day, &hid) * s,
            identity,
            day,
        });
        (token, permit)
    }

    fn client(&self, id: &str, pin: u32) -> (CsToken, Option<CsTimePermit>) {
        self.client_with(&self.master(), id, pin, day_of(NOW))
    }
}

fn pin(v: u32) -> Pin {
    Pin::from_u32(v, PinDigits::DEFAULT).unwrap()
}

fn fresh(tag: u8) -> [u8; 32] {
    [tag; 32]
}

fn client_state(
    token: &CsToken,
    entered: u32,
    permit: Option<&CsTimePermit>,
    now: u64,
) -> ClientState {
    ClientState::with_fresh(token, &pin(entered), permit, now, &fresh(1)).unwrap()
}

fn verify_bytes(
    share: &[u8],
    server: &PreparedServerSecret,
    now: u64,
) -> Result<VerifiedShare, CsError> {
    let pre = precheck(share, &server.checks(), now)?;
    verify(&pre, server)
}

fn with_field(share: &[u8; SHARE_BYTES], offset: usize, bytes: &[u8]) -> [u8; SHARE_BYTES] {
    let mut out = *share;
    out[offset..offset + bytes.len()].copy_from_slice(bytes);
    out
}

fn g1_at(share: &[u8; SHARE_BYTES], offset: usize) -> G1 {
    G1::from_bytes(&share[offset..offset + G1_BYTES]).unwrap()
}

fn failed(result: Result<VerifiedShare, CsError>) -> Box<FailedProof> {
    match result {
        Err(CsError::ProofFailed(f)) => f,
        other => panic!("expected ProofFailed, got {:?}", other.map(|_| ())),
    }
}

fn full_exchange(permits: PermitPolicy) {
    let d = Deployment::new(permits, b"full exchange");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 123_456);
    let client = ClientState::new(
        &token,
        &pin(123_456),
        permit.as_ref(),
        NOW,
        &SeededEntropy::new(b"client"),
    )
    .unwrap();
    let share = client.share();
    assert_eq!(share.len(), 300);
    let hid = Identity::new("alice@example.com").unwrap().cs_hid();
    assert_eq!(&share[..32], hid.as_bytes());
    let day = if permits == PermitPolicy::Required {
        day_of(NOW)
    } else {
        0
    };
    assert_eq!(share[32..36], day.to_be_bytes());
    assert_eq!(share[36..44], NOW.to_be_bytes());
    if permits == PermitPolicy::Off {
        // A_d = A, so U = x·A_d = x·A = X.
        assert_eq!(share[U..X], share[X..C]);
    } else {
        assert_ne!(share[U..X], share[X..C]);
    }

    let pre = precheck(share, &server.checks(), NOW + 3).unwrap();
    assert_eq!(
        *pre.header(),
        ShareHeader {
            hid,
            day,
            time: NOW
        }
    );
    let mut u = [0u8; G1_BYTES];
    u.copy_from_slice(&share[U..X]);
    assert_eq!(pre.replay_key(), ReplayKey { hid, u });
    let verified = verify(&pre, &server).unwrap();
    assert_eq!(verified.replay_key(), pre.replay_key());

    let key = ServerNonceKey::generate(&SeededEntropy::new(b"server key")).unwrap();
    let resp = respond(&verified, &server, &key, &SeededEntropy::new(b"srv")).unwrap();
    let client_secret = client.finish(&resp.share).unwrap();
    assert_eq!(client_secret, resp.secret);
    assert_eq!(client_secret.as_bytes(), resp.secret.as_bytes());

    // The secret follows the formula: recompute the server's side by hand.
    let r_pt = g1_at(share, R);
    let a_d = client.effective_point().clone();
    let w_pt = G1::from_bytes(&resp.share).unwrap();
    let h = Scalar::hash(ScalarDomain::CsH, &[share, &resp.share]);
    let k = crate::pairing::pairing(&(&r_pt + &(&a_d * &h)), &(&G2::generator() * &d.master()));
    // Z = r·W; r·W = w·R; check through the client's r.
    let z = &w_pt * &client.r;
    let expected = crate::pairing::sha256(&[
        b"MILAGRO-TLS13-V1 CS",
        &k.to_bytes(),
        &z.to_bytes(),
        share,
        &resp.share,
    ]);
    assert_eq!(client_secret.as_bytes(), &expected);
}

#[test]
fn good_pin_with_permits_required_agrees() {
    full_exchange(PermitPolicy::Required);
}

#[test]
fn good_pin_with_permits_off_agrees() {
    full_exchange(PermitPolicy::Off);
}

#[test]
fn shares_are_deterministic_in_fresh_bytes_and_hedged() {
    let d = Deployment::new(PermitPolicy::Required, b"det");
    let (token, permit) = d.client("alice@example.com", 42);
    let a = ClientState::with_fresh(&token, &pin(42), permit.as_ref(), NOW, &fresh(7)).unwrap();
    let b = ClientState::with_fresh(&token, &pin(42), permit.as_ref(), NOW, &fresh(7)).unwrap();
    assert_eq!(a.share(), b.share());
    let c = ClientState::with_fresh(&token, &pin(42), permit.as_ref(), NOW, &fresh(8)).unwrap();
    assert_ne!(a.share()[U..X], c.share()[U..X]);
    // Same fresh bytes (stuck RNG) but another time: x still differs.
    let e = ClientState::with_fresh(&token, &pin(42), permit.as_ref(), NOW + 1, &fresh(7)).unwrap();
    assert_ne!(a.share()[U..X], e.share()[U..X]);
    // And the server's w is hedged on fresh bytes too.
    let server = d.server();
    let verified = verify_bytes(a.share(), &server, NOW).unwrap();
    let key = ServerNonceKey::from_bytes([5; 32]);
    let w1 = respond_with_fresh(&verified, &server, &key, &fresh(1));
    let w1b = respond_with_fresh(&verified, &server, &key, &fresh(1));
    let w2 = respond_with_fresh(&verified, &server, &key, &fresh(2));
    assert_eq!(w1.share, w1b.share);
    assert_ne!(w1.share, w2.share);
    assert_eq!(a.finish(&w2.share).unwrap(), w2.secret);
    assert_ne!(w1.secret, w2.secret);
}

fn wrong_pin_delta(permits: PermitPolicy, registered: u32, entered: u32) -> Classification {
    let d = Deployment::new(permits, b"wrong pin");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", registered);
    let client = client_state(&token, entered, permit.as_ref(), NOW);
    let f = failed(verify_bytes(client.share(), &server, NOW));
    assert_eq!(f.header().hid, token.identity().cs_hid());
    classify(&f, &server, PinDigits::DEFAULT)
}

#[test]
fn wrong_pin_is_classified_with_its_delta() {
    assert_eq!(
        wrong_pin_delta(PermitPolicy::Required, 1234, 1235),
        Classification::WrongPin { delta: 1 }
    );
    assert_eq!(
        wrong_pin_delta(PermitPolicy::Off, 1234, 1231),
        Classification::WrongPin { delta: -3 }
    );
    assert_eq!(
        wrong_pin_delta(PermitPolicy::Required, 12_345, 999_999),
        Classification::WrongPin { delta: 987_654 }
    );
    // The bound itself: δ = −(10^6 − 1).
    assert_eq!(
        wrong_pin_delta(PermitPolicy::Off, 999_999, 0),
        Classification::WrongPin { delta: -999_999 }
    );
}

#[test]
fn four_digit_search_stops_at_its_bound() {
    let d = Deployment::new(PermitPolicy::Off, b"four digits");
    let server = d.server();
    let four = PinDigits::new(4).unwrap();
    let (token, permit) = d.client("alice@example.com", 5_000);
    for (entered, expected) in [
        (9_999, Classification::WrongPin { delta: 4_999 }),
        (4_998, Classification::WrongPin { delta: -2 }),
        // δ = 10 000 is outside ±9 999.
        (15_000, Classification::InvalidCredential),
    ] {
        let client = client_state(&token, entered, permit.as_ref(), NOW);
        let f = failed(verify_bytes(client.share(), &server, NOW));
        assert_eq!(classify(&f, &server, four), expected, "entered {entered}");
    }
}

#[test]
fn garbage_with_valid_dleq_is_invalid_credential() {
    // A client that knows x (so its DLEQ is valid) but not SEC.
    let d = Deployment::new(PermitPolicy::Required, b"garbage");
    let server = d.server();
    let hid = Identity::new("alice@example.com").unwrap().cs_hid();
    let day = day_of(NOW);
    let a = cs_identity_point(&hid);
    let a_d = effective_point(PermitPolicy::Required, &hid, day, &a).unwrap();
    let fake = &G1::generator() * &Scalar::random(&SeededEntropy::new(b"fake")).unwrap();
    let (share, _r) = build_share(&fake, &hid, &a, &a_d, day, NOW, &fresh(3));
    let f = failed(verify_bytes(&share, &server, NOW));
    assert_eq!(
        classify(&f, &server, PinDigits::DEFAULT),
        Classification::InvalidCredential
    );
}

#[test]
fn permit_day_rules_are_enforced() {
    let req = Deployment::new(PermitPolicy::Required, b"days");
    let server = req.server();
    let hid = Identity::new("alice@example.com").unwrap().cs_hid();
    let a = cs_identity_point(&hid);
    let sec = &a * &req.master();

    // No permit (d = 0) under Required: a revoked client claiming "no permit".
    let (share, _) = build_share(&sec, &hid, &a, &a, 0, NOW, &fresh(1));
    assert!(matches!(
        precheck(&share, &server.checks(), NOW),
        Err(CsError::PermitMissing)
    ));

    // d ≠ 0 under Off.
    let off = Deployment::new(PermitPolicy::Off, b"days off");
    let off_server = off.server();
    let today = day_of(NOW);
    let a_t = &a + &cs_permit_point(today, &hid);
    let (share, _) = build_share(
        &(&a_t * &off.master()),
        &hid,
        &a,
        &a_t,
        today,
        NOW,
        &fresh(1),
    );
    assert!(matches!(
        precheck(&share, &off_server.checks(), NOW),
        Err(CsError::PermitNotAllowed(d)) if d == today
    ));

    // ±1 day around the server's today is accepted, 2 days is not.
    let (token, _) = req.client("alice@example.com", 7);
    let any_time = server.checks().with_window(u64::MAX);
    for (offset, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
        let t = NOW.checked_add_signed(offset * 86_400).unwrap();
        let (_, permit) = req.client_with(&req.master(), "alice@example.com", 7, day_of(t));
        let client = client_state(&token, 7, permit.as_ref(), t);
        let result = precheck(client.share(), &any_time, NOW);
        if ok {
            let pre = result.unwrap();
            assert!(verify(&pre, &server).is_ok(), "offset {offset}");
        } else {
            assert!(
                matches!(
                    result,
                    Err(CsError::DayOutOfRange { day, today: tt })
                        if day == day_of(t) && tt == today
                ),
                "offset {offset}"
            );
        }
    }

    // An expired permit: the client refuses to use it before sending anything.
    let (_, old) = req.client_with(&req.master(), "alice@example.com", 7, today - 2);
    assert!(matches!(
        ClientState::with_fresh(&token, &pin(7), old.as_ref(), NOW, &fresh(1)),
        Err(CsError::NoPermitForToday { today: t, permit_day: Some(p) }) if t == today && p == today - 2
    ));
    assert!(matches!(
        ClientState::with_fresh(&token, &pin(7), None, NOW, &fresh(1)),
        Err(CsError::NoPermitForToday {
            permit_day: None,
            ..
        })
    ));
    // A permit issued for this day but for another identity.
    let (_, bobs) = req.client("bob@example.com", 7);
    assert!(matches!(
        ClientState::with_fresh(&token, &pin(7), bobs.as_ref(), NOW, &fresh(1)),
        Err(CsError::KeyMismatch { .. })
    ));
}

#[test]
fn timestamps_outside_the_window_are_refused() {
    let d = Deployment::new(PermitPolicy::Off, b"time");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 7);
    let client = client_state(&token, 7, permit.as_ref(), NOW);
    assert!(precheck(client.share(), &server.checks(), NOW + 30).is_ok());
    assert!(precheck(client.share(), &server.checks(), NOW - 30).is_ok());
    for now in [NOW + 31, NOW - 31] {
        assert!(matches!(
            precheck(client.share(), &server.checks(), now),
            Err(CsError::StaleTime { time: NOW, now: n, window: 30 }) if n == now
        ));
    }
    let narrow = server.checks().with_window(5);
    assert!(matches!(
        precheck(client.share(), &narrow, NOW + 6),
        Err(CsError::StaleTime { window: 5, .. })
    ));
    assert!(precheck(client.share(), &narrow, NOW + 5).is_ok());
}

#[test]
fn permits_off_requires_x_equal_to_u_before_decoding() {
    let d = Deployment::new(PermitPolicy::Off, b"x equals u");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 7);
    let client = client_state(&token, 7, permit.as_ref(), NOW);
    let share = *client.share();
    assert_eq!(share[U..X], share[X..X + 48], "an honest share has X = U");
    assert!(precheck(&share, &server.checks(), NOW).is_ok());
    // X replaced by R (a valid point): refused in step 1, not at the DLEQ.
    let bad = with_field(&share, X, &share[R..R + 48]);
    assert!(matches!(
        precheck(&bad, &server.checks(), NOW),
        Err(CsError::PermitsOffXNotU)
    ));
    // Garbage that is not even a point is refused the same way, undecoded.
    let bad = with_field(&share, U, &[0xff; 48]);
    assert!(matches!(
        precheck(&bad, &server.checks(), NOW),
        Err(CsError::PermitsOffXNotU)
    ));
}

#[test]
fn tampered_fields_are_refused_with_the_right_error() {
    let d = Deployment::new(PermitPolicy::Required, b"tamper");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 2468);
    let client = client_state(&token, 2468, permit.as_ref(), NOW);
    let share = *client.share();
    assert!(verify_bytes(&share, &server, NOW).is_ok());

    let hid = token.identity().cs_hid();
    let a = cs_identity_point(&hid);
    let a_d = client.effective_point().clone();
    let plus = |off: usize, p: &G1| (&g1_at(&share, off) + p).to_bytes();
    let plus_one = |off: usize| {
        let s = Scalar::from_be_bytes(&share[off..off + 32]).unwrap();
        (&s + &Scalar::one()).to_be_bytes()
    };

    for (name, bad) in [
        ("U", with_field(&share, U, &plus(U, &a_d))),
        ("X", with_field(&share, X, &plus(X, &a))),
        ("c", with_field(&share, C, &plus_one(C))),
        ("z", with_field(&share, Z, &plus_one(Z))),
        // R is bound into the DLEQ challenge.
        ("R", with_field(&share, R, &plus(R, &a_d))),
        // So are t, d and HID.
        ("t", with_field(&share, 36, &(NOW + 1).to_be_bytes())),
        (
            "d",
            with_field(&share, 32, &(day_of(NOW) + 1).to_be_bytes()),
        ),
        ("HID", with_field(&share, 0, &[0xab; 32])),
    ] {
        assert!(
            matches!(verify_bytes(&bad, &server, NOW), Err(CsError::DleqFailed)),
            "{name}"
        );
    }

    // V is not in the DLEQ: the pairing check catches it, as a proof failure.
    let bad_v = with_field(&share, V, &plus(V, &a));
    let f = failed(verify_bytes(&bad_v, &server, NOW));
    assert_eq!(
        classify(&f, &server, PinDigits::DEFAULT),
        Classification::InvalidCredential
    );
}

#[test]
fn lifted_dleq_with_shifted_v_is_refused() {
    // The lifted-DLEQ attack of docs/protocol.md §6.4: a thief with the stolen token and a PIN guess
    // (here the right one) lifts U, X, c, z, R from the victim's earlier share,
    // changes what moves y (t, or R) and shifts V by (y0 − y1)·SEC_guess.
    let d = Deployment::new(PermitPolicy::Required, b"lift");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 1111);
    let victim = client_state(&token, 1111, permit.as_ref(), NOW);
    let old = *victim.share();

    let hid = token.identity().cs_hid();
    let a = cs_identity_point(&hid);
    let a_d = victim.effective_point().clone();
    let sec_guess =
        &(&token.point + &(&a * &Scalar::from_u64(1111))) + &permit.as_ref().unwrap().point;
    let y_of = |s: &[u8; SHARE_BYTES]| Scalar::hash(ScalarDomain::CsY, &[&s[..V], &s[R..]]);
    let y0 = y_of(&old);

    let other_r = (&a_d * &Scalar::from_u64(99)).to_bytes();
    for (name, moved) in [
        ("new t", with_field(&old, 36, &(NOW + 2).to_be_bytes())),
        ("new R", with_field(&old, R, &other_r)),
    ] {
        let y1 = y_of(&moved);
        let shifted = &g1_at(&old, V) + &(&sec_guess * &(&y0 - &y1));
        let forged = with_field(&moved, V, &shifted.to_bytes());
        // Without the session-bound DLEQ, the pairing check would pass:
        let uy = &g1_at(&forged, U) + &(&a_d * &y1);
        assert!(
            bool::from(multi_pairing(&[(&shifted, &server.q), (&uy, &server.ss)]).is_one()),
            "{name}: the forged proof satisfies the pairing equation"
        );
        // …but the DLEQ is bound to t and R, so it is refused first.
        assert!(
            matches!(
                verify_bytes(&forged, &server, NOW),
                Err(CsError::DleqFailed)
            ),
            "{name}"
        );
    }
}

#[test]
fn bad_points_and_scalars_are_refused() {
    // Permits required, so X and U are independent fields (with permits off
    // step 1 already refuses X ≠ U before any point is decoded).
    let d = Deployment::new(PermitPolicy::Required, b"points");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 1);
    let client = client_state(&token, 1, permit.as_ref(), NOW);
    let share = *client.share();
    let identity = G1::identity().to_bytes();
    let non_subgroup = hex::decode(NON_SUBGROUP_G1).unwrap();

    for (field, off) in [("U", U), ("X", X), ("V", V), ("R", R)] {
        let bad = with_field(&share, off, &identity);
        assert!(
            matches!(
                verify_bytes(&bad, &server, NOW),
                Err(CsError::BadEncoding { field: f, source: DecodeError::IdentityPoint(_) }) if f == field
            ),
            "identity in {field}"
        );
        let bad = with_field(&share, off, &non_subgroup);
        assert!(
            matches!(
                verify_bytes(&bad, &server, NOW),
                Err(CsError::BadEncoding { field: f, source: DecodeError::InvalidPoint(_) }) if f == field
            ),
            "non-subgroup point in {field}"
        );
    }
    // The group order r itself is out of range for c and z.
    let r =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001").unwrap();
    for (field, off) in [("c", C), ("z", Z)] {
        assert!(matches!(
            verify_bytes(&with_field(&share, off, &r), &server, NOW),
            Err(CsError::BadEncoding { field: f, source: DecodeError::ScalarOutOfRange }) if f == field
        ));
    }

    // W: identity, non-subgroup, wrong lengths.
    assert!(matches!(
        client.finish(&identity),
        Err(CsError::BadEncoding {
            field: "W",
            source: DecodeError::IdentityPoint(_)
        })
    ));
    assert!(matches!(
        client.finish(&non_subgroup),
        Err(CsError::BadEncoding {
            field: "W",
            source: DecodeError::InvalidPoint(_)
        })
    ));
    assert!(matches!(
        client.finish(&identity[..47]),
        Err(CsError::ServerShareLength(47))
    ));
    assert!(matches!(
        client.finish(&[0u8; 49]),
        Err(CsError::ServerShareLength(49))
    ));
}

#[test]
fn share_length_is_exact() {
    let d = Deployment::new(PermitPolicy::Off, b"length");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 1);
    let client = client_state(&token, 1, permit.as_ref(), NOW);
    let share = client.share();
    assert!(matches!(
        precheck(&share[..299], &server.checks(), NOW),
        Err(CsError::ShareLength(299))
    ));
    let mut long = share.to_vec();
    long.push(0);
    assert!(matches!(
        precheck(&long, &server.checks(), NOW),
        Err(CsError::ShareLength(301))
    ));
    assert!(matches!(
        precheck(&[], &server.checks(), NOW),
        Err(CsError::ShareLength(0))
    ));
}

#[test]
fn a_share_prechecked_under_another_policy_is_refused() {
    let off = Deployment::new(PermitPolicy::Off, b"policy");
    let (token, permit) = off.client("alice@example.com", 1);
    let client = client_state(&token, 1, permit.as_ref(), NOW);
    let pre = precheck(client.share(), &ShareChecks::new(PermitPolicy::Off), NOW).unwrap();
    let req = Deployment::new(PermitPolicy::Required, b"policy");
    assert!(matches!(
        verify(&pre, &req.server()),
        Err(CsError::PolicyMismatch)
    ));
}

/// What an async server checks ahead of admission (`check_share`) and then
/// verifies (`verify_checked`) is what `verify` decides in one go: the same
/// key agreement for the right PIN, the same δ for a wrong one, the same
/// refusal for a bad DLEQ; and a checked share is refused by a server of
/// another permit policy.
#[test]
fn checking_ahead_then_verifying_is_verify() {
    let d = Deployment::new(PermitPolicy::Required, b"ahead");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 1234);
    let key = ServerNonceKey::from_bytes([7; 32]);
    let prechecked = |pin_entered| {
        let c = client_state(&token, pin_entered, permit.as_ref(), NOW);
        (precheck(c.share(), &server.checks(), NOW).unwrap(), c)
    };

    let (good, client) = prechecked(1234);
    let in_two = verify_checked(check_share(&good, &server).unwrap(), &server).unwrap();
    let in_one = verify(&good, &server).unwrap();
    let answer = respond_with_fresh(&in_two, &server, &key, &fresh(2));
    assert_eq!(
        answer.secret,
        respond_with_fresh(&in_one, &server, &key, &fresh(2)).secret
    );
    assert_eq!(client.finish(&answer.share).unwrap(), answer.secret);

    let (wrong, _) = prechecked(1239);
    let checked = check_share(&wrong, &server).unwrap();
    let delta = |f: Box<FailedProof>| classify(&f, &server, PinDigits::DEFAULT);
    assert_eq!(
        delta(failed(verify_checked(checked, &server))),
        delta(failed(verify(&wrong, &server)))
    );

    let (share, _) = prechecked(1234);
    let bad_c = with_field(share.bytes(), C, &[0; 32]);
    let bad = precheck(&bad_c, &server.checks(), NOW).unwrap();
    assert!(matches!(
        check_share(&bad, &server),
        Err(CsError::DleqFailed)
    ));

    let off = Deployment::new(PermitPolicy::Off, b"ahead").server();
    let checked = check_share(&good, &server).unwrap();
    assert!(matches!(
        verify_checked(checked, &off),
        Err(CsError::PolicyMismatch)
    ));
}

#[test]
fn a_server_without_the_server_secret_derives_another_secret() {
    let d = Deployment::new(PermitPolicy::Required, b"impostor");
    let server = d.server();
    let impostor = d.server_with(&Scalar::from_u64(123_456_789));
    let (token, permit) = d.client("alice@example.com", 31_337);
    let client = client_state(&token, 31_337, permit.as_ref(), NOW);

    // It cannot verify the client…
    let f = failed(verify_bytes(client.share(), &impostor, NOW));
    assert_eq!(
        classify(&f, &impostor, PinDigits::DEFAULT),
        Classification::InvalidCredential
    );
    // …and if it accepts the share anyway, its secret differs from the client's.
    let verified = verify_bytes(client.share(), &server, NOW).unwrap();
    let key = ServerNonceKey::from_bytes([1; 32]);
    let fake = respond_with_fresh(&verified, &impostor, &key, &fresh(9));
    let real = respond_with_fresh(&verified, &server, &key, &fresh(9));
    assert_eq!(fake.share, real.share, "W does not depend on SS");
    let client_secret = client.finish(&fake.share).unwrap();
    assert_eq!(client_secret, real.secret);
    assert_ne!(client_secret, fake.secret);
}

#[test]
fn keys_missing_a_dta_share_do_not_verify() {
    let d = Deployment::new(PermitPolicy::Required, b"dta shares");
    let partial = &d.s[0] + &d.s[1];
    let full_server = d.server();
    let partial_server = d.server_with(&partial);
    let today = day_of(NOW);

    // Client keys from all three D-TAs, server secret from two.
    let (token, permit) = d.client("alice@example.com", 2_024);
    let client = client_state(&token, 2_024, permit.as_ref(), NOW);
    let f = failed(verify_bytes(client.share(), &partial_server, NOW));
    assert_eq!(
        classify(&f, &partial_server, PinDigits::DEFAULT),
        Classification::InvalidCredential
    );

    // Client token and permit from two D-TAs, server secret from all three.
    let (token2, permit2) = d.client_with(&partial, "alice@example.com", 2_024, today);
    let client2 = client_state(&token2, 2_024, permit2.as_ref(), NOW);
    let f = failed(verify_bytes(client2.share(), &full_server, NOW));
    assert_eq!(
        classify(&f, &full_server, PinDigits::DEFAULT),
        Classification::InvalidCredential
    );

    // A complete token with a permit missing one share also fails.
    let (_, permit3) = d.client_with(&partial, "alice@example.com", 2_024, today);
    let client3 = client_state(&token, 2_024, permit3.as_ref(), NOW);
    assert!(matches!(
        verify_bytes(client3.share(), &full_server, NOW),
        Err(CsError::ProofFailed(_))
    ));
    // And the sum of all three verifies (sanity: the shares really add).
    assert!(verify_bytes(client.share(), &full_server, NOW).is_ok());
}

#[test]
fn debug_output_shows_no_secrets() {
    let d = Deployment::new(PermitPolicy::Off, b"debug");
    let server = d.server();
    let (token, permit) = d.client("alice@example.com", 5);
    let client = client_state(&token, 6, permit.as_ref(), NOW);
    let f = failed(verify_bytes(client.share(), &server, NOW));
    let shown = format!("{f:?} {server:?} {client:?}");
    assert!(!shown.contains(&hex::encode(client.sec.to_bytes())));
    assert!(format!("{server:?}").contains("<redacted>"));
    let err = CsError::ProofFailed(f);
    assert_eq!(err.to_string(), "the client's M-Pin proof does not verify");
    assert_eq!(
        format!("{:?}", ServerNonceKey::from_bytes([7; 32])),
        "ServerNonceKey(<redacted>)"
    );
    let good = client_state(&token, 5, permit.as_ref(), NOW);
    let v = verify_bytes(good.share(), &server, NOW).unwrap();
    let resp = respond_with_fresh(&v, &server, &ServerNonceKey::from_bytes([7; 32]), &fresh(1));
    assert_eq!(format!("{:?}", resp.secret), "SharedSecret(<redacted>)");
    assert!(!format!("{resp:?}").contains(&hex::encode(resp.secret.as_bytes())));
}

#[test]
fn hid_in_share_is_the_identity_hash() {
    let d = Deployment::new(PermitPolicy::Off, b"hid");
    let (token, permit) = d.client("Alice@Example.COM", 5);
    let client = client_state(&token, 5, permit.as_ref(), NOW);
    let expected = Hid(crate::pairing::sha256(&[b"Alice@example.com"]));
    assert_eq!(client.share()[..32], expected.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Random PINs, days and identities agree; a wrong PIN, a flipped share
    /// byte or a flipped server-share byte never yields the same secret.
    #[test]
    fn random_exchanges_agree_and_perturbations_disagree(
        registered in 0u32..1_000_000,
        delta in 1u32..1_000,
        local in "[a-z0-9]{1,12}",
        day in 1u32..60_000,
        secs in 0u64..86_400,
        required in any::<bool>(),
        flip_at in 0usize..SHARE_BYTES,
        flip_w in 0usize..G1_BYTES,
        bit in 0u8..8,
    ) {
        let permits = if required { PermitPolicy::Required } else { PermitPolicy::Off };
        let d = Deployment::new(permits, local.as_bytes());
        let server = d.server();
        let now = u64::from(day) * 86_400 + secs;
        let id = format!("{local}@example.com");
        let (token, permit) = d.client_with(&d.master(), &id, registered, day);
        let client = client_state(&token, registered, permit.as_ref(), now);
        let verified = verify_bytes(client.share(), &server, now).unwrap();
        let resp = respond_with_fresh(&verified, &server, &ServerNonceKey::from_bytes([3; 32]), &fresh(4));
        prop_assert!(client.finish(&resp.share).unwrap() == resp.secret);

        // A wrong PIN fails the proof.
        let entered = (registered + delta) % 1_000_000;
        let wrong = client_state(&token, entered, permit.as_ref(), now);
        prop_assert!(matches!(verify_bytes(wrong.share(), &server, now), Err(CsError::ProofFailed(_))));

        // Any flipped bit in the client share is refused.
        let mut bad = *client.share();
        bad[flip_at] ^= 1 << bit;
        prop_assert!(verify_bytes(&bad, &server, now).is_err());

        // Any flipped bit in W is refused or gives another secret.
        let mut w = resp.share;
        w[flip_w] ^= 1 << bit;
        match client.finish(&w) {
            Ok(s) => prop_assert!(s != resp.secret),
            Err(e) => prop_assert!(matches!(e, CsError::BadEncoding { field: "W", .. }), "{e}"),
        }
    }
}
