//! In-memory handshakes with the real CS and P2P engines (real pairings),
//! through the public builders of `cs_tls` / `p2p_tls`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustls::{AlertDescription, CertificateError, Error};

use super::accept::Accepted;
use super::admission::AdmissionRefusal;
use super::engine::{ClientKeyError, KxError};
use super::error::AcceptError;
use super::error::{FinishError, MilagroError, map_client_error};
use super::tests::{Run, run_full};
use crate::cs_tls::{self, ServerOptions};
use crate::dta::{Combine, combine_unchecked};
use crate::guard::Classifier;
use crate::guard::{
    Guard, GuardPolicy, ManualClock, MemoryGuard, Outcome, RecordingObserver, Refusal,
};
use crate::identity::Identity;
use crate::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, CsToken, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, day_of, epoch_of,
};
use crate::mpin::{CsError, Pin, PinDigits, extract_pin};
use crate::p2p::P2pError;
use crate::p2p_tls;
use crate::pairing::OsEntropy;
use crate::rustls_glue::accept::MilagroAcceptor;
use crate::rustls_glue::config::MilagroClient;
use crate::rustls_glue::engine::unix_now;
use crate::tls::HANDSHAKE_FAILURE_ALERT;
use crate::tls::{ILLEGAL_PARAMETER_ALERT, INTERNAL_ERROR_ALERT};

const ALICE: &str = "alice@example.com";
const SERVER: &str = "server.example";
const PIN: u32 = 1234;

fn src(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

fn digits() -> PinDigits {
    PinDigits::new(4).unwrap()
}

fn pin(v: u32) -> Pin {
    Pin::from_u32(v, digits()).unwrap()
}

struct Cs {
    dtas: Vec<MasterShare>,
    dep: CsDeployment,
}

impl Cs {
    fn new(n: u8, permits: PermitPolicy) -> Self {
        let dep = CsDeployment::new(n, permits, &OsEntropy).unwrap();
        let dtas = (0..n)
            .map(|_| MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap())
            .collect();
        Self { dtas, dep }
    }
    fn ss(&self) -> CsServerSecret {
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_cs_server_secret().unwrap())
            .collect();
        CsServerSecret::combine(&shares).unwrap()
    }
    fn secret(&self, who: &str) -> CsClientSecret {
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_cs_client_secret(&id(who)).unwrap())
            .collect();
        CsClientSecret::combine(&shares).unwrap()
    }
    fn token(&self, who: &str) -> CsToken {
        extract_pin(&self.secret(who), &pin(PIN)).unwrap()
    }
    fn permit(&self, who: &str, day: u32) -> CsTimePermit {
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_cs_time_permit(&id(who), day).unwrap())
            .collect();
        CsTimePermit::combine(&shares).unwrap()
    }
    fn today_permit(&self, who: &str) -> Option<CsTimePermit> {
        (self.dep.permits == PermitPolicy::Required).then(|| self.permit(who, day_of(unix_now())))
    }
    fn client(&self, who: &str, entered: u32) -> MilagroClient {
        cs_tls::client(self.token(who), pin(entered), self.today_permit(who)).unwrap()
    }
}

struct Server {
    acceptor: MilagroAcceptor,
    guard: Guard,
    observer: Arc<RecordingObserver>,
    classifier: Classifier,
}

fn policy(max_failures: u32) -> GuardPolicy {
    let mut p = GuardPolicy::default();
    p.lockout.max_failures = max_failures;
    p.throttle.burst = 10_000;
    p.throttle.refill_per_sec = 10_000;
    p
}

fn server_with(ss: CsServerSecret, max_failures: u32) -> Server {
    let observer = Arc::new(RecordingObserver::new());
    let guard = Guard::new(
        Arc::new(MemoryGuard::new(policy(max_failures))),
        Arc::new(ManualClock::new(crate::guard::GuardTime::from_millis(1))),
        observer.clone(),
    );
    let classifier = Classifier::new(1).unwrap();
    let acceptor = cs_tls::server(
        ss,
        ServerOptions::new(guard.clone(), classifier.clone()).pin_digits(digits()),
    )
    .unwrap();
    Server {
        acceptor,
        guard,
        observer,
        classifier,
    }
}

fn go(s: &MilagroAcceptor, c: &MilagroClient, source: IpAddr) -> Run {
    run_full(s, source, c.connect(SERVER).unwrap(), |_| {}, |_| {})
}

fn finish_ok(r: &mut Run) -> Identity {
    assert!(r.client_err.is_none(), "{:?}", r.client_err);
    assert!(r.server_err.is_none(), "{:?}", r.server_err);
    match &mut r.accept {
        Ok(Accepted::Milagro(m)) => m.finish().unwrap(),
        other => panic!("expected Milagro, got {other:?}"),
    }
}

fn credential_refused(r: &Run) -> bool {
    matches!(
        map_client_error(&r.client, r.client_err.clone().unwrap()),
        MilagroError::CredentialRefused
    )
}

/// The (confirmed, cumulative) counts of every wrong PIN the observer heard
/// of (it hears the classification only, never δ).
fn wrong_pins(outcomes: &[Outcome]) -> Vec<(u32, u32)> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::WrongPin {
                confirmed,
                cumulative,
                ..
            } => Some((*confirmed, *cumulative)),
            _ => None,
        })
        .collect()
}

#[test]
fn cs_good_pin_with_permits_required_3_dtas_and_off() {
    for (n, permits) in [(3, PermitPolicy::Required), (1, PermitPolicy::Off)] {
        let d = Cs::new(n, permits);
        let s = server_with(d.ss(), 5);
        let mut r = go(&s.acceptor, &d.client(ALICE, PIN), src(1));
        assert_eq!(finish_ok(&mut r), id(ALICE));
        let outcomes = s.observer.take();
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Outcome::Completed { hid, .. } if *hid == id(ALICE).cs_hid())),
            "{outcomes:?}"
        );
        assert_eq!(s.classifier.unfinished(), 0);
    }
}

#[test]
fn cs_wrong_pin_is_refused_before_any_key_and_classified_as_wrong_pin() {
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 5);
    let r = go(&s.acceptor, &d.client(ALICE, PIN + 7), src(1));
    assert!(matches!(
        r.accept,
        Err(AcceptError::KeyExchange(KxError::ProofFailed))
    ));
    // Refused at the key share: no ServerHello, so no cipher suite and no key.
    assert!(r.client.negotiated_cipher_suite().is_none());
    assert_eq!(
        r.client_err,
        Some(Error::AlertReceived(AlertDescription::IllegalParameter))
    );
    assert!(credential_refused(&r));
    s.classifier.drain();
    assert_eq!(wrong_pins(&s.observer.take()), vec![(1, 1)]);
    assert_eq!(s.guard.status(&id(ALICE).cs_hid()).confirmed, 1);
}

#[test]
fn cs_lockout_is_silent_and_strangers_garbage_does_not_lock() {
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 3);
    let hid = id(ALICE).cs_hid();
    // A stranger's shares for Alice's HID: valid DLEQ over a random x, no SEC.
    let stranger = MilagroClient::new(Arc::new(StrangerKx(hid)), id(ALICE), 0, None).unwrap();
    for i in 0..4 {
        let r = go(&s.acceptor, &stranger, src(100 + i));
        assert!(matches!(
            r.accept,
            Err(AcceptError::KeyExchange(KxError::ProofFailed))
        ));
        s.classifier.drain();
    }
    let outcomes = s.observer.take();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::InvalidCredential { .. }))
            .count(),
        4
    );
    assert_eq!(s.guard.status(&hid).confirmed, 0);
    // Three wrong PINs lock Alice.
    let mut wrong_alert = Vec::new();
    for k in 1..=3 {
        // The last wrong PIN comes from a fresh source, to compare charges below.
        let from = if k == 3 { src(2) } else { src(1) };
        let r = go(&s.acceptor, &d.client(ALICE, PIN - k), from);
        assert!(credential_refused(&r));
        wrong_alert = r.alert.clone();
        s.classifier.drain();
    }
    assert_eq!(wrong_pins(&s.observer.take()), vec![(1, 1), (2, 2), (3, 3)]);
    // The right PIN is now refused exactly like a wrong one: same alert, and
    // its (fresh) source is charged exactly like the wrong PIN's (§6.4).
    let r = go(&s.acceptor, &d.client(ALICE, PIN), src(3));
    assert!(matches!(
        r.accept,
        Err(AcceptError::SilentlyRefused(Refusal::LockedOut))
    ));
    assert_eq!(r.alert, wrong_alert);
    assert_ne!(r.alert, HANDSHAKE_FAILURE_ALERT);
    assert!(credential_refused(&r));
    s.classifier.drain();
    assert!(wrong_pins(&s.observer.take()).is_empty());
    assert_eq!(s.guard.status(&hid).confirmed, 3);
    assert_eq!(s.guard.source_tokens(src(3)), s.guard.source_tokens(src(2)));
    assert!(s.guard.source_tokens(src(3)) < s.guard.source_tokens(src(200)));
}

#[test]
fn cs_parallel_wrong_pins_never_exceed_n() {
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 3);
    let client = d.client(ALICE, PIN + 1);
    std::thread::scope(|scope| {
        for i in 0..8u8 {
            let (acceptor, client) = (&s.acceptor, &client);
            scope.spawn(move || {
                let r = go(acceptor, client, src(i));
                assert!(credential_refused(&r));
            });
        }
    });
    s.classifier.drain();
    let counted = wrong_pins(&s.observer.take()).len();
    assert!((1..=3).contains(&counted), "{counted}");
    assert!(s.guard.status(&id(ALICE).cs_hid()).confirmed <= 3);
}

#[test]
fn cs_replayed_share_stale_time_and_permit_checks() {
    let d = Cs::new(1, PermitPolicy::Required);
    let s = server_with(d.ss(), 5);
    let mut r = go(&s.acceptor, &d.client(ALICE, PIN), src(1));
    finish_ok(&mut r);
    // Replaying the recorded ClientHello.
    let mut alert = Vec::new();
    let err = s
        .acceptor
        .accept(src(2), &mut &r.hello[..], &mut alert)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcceptError::Admission(AdmissionRefusal::Guard(Refusal::Replay))
        ),
        "{err:?}"
    );
    // A refused share: the alert of a refused credential.
    assert_eq!(alert, ILLEGAL_PARAMETER_ALERT);
    // A client clock 100 s slow: stale at accept.
    let slow = cs_tls::client_at(d.token(ALICE), pin(PIN), d.today_permit(ALICE), || {
        unix_now() - 100
    })
    .unwrap();
    let r = go(&s.acceptor, &slow, src(1));
    assert!(matches!(
        r.accept,
        Err(AcceptError::Admission(AdmissionRefusal::Cs(
            CsError::StaleTime { .. }
        )))
    ));
    // The client hears the credential refused (issue 9 item 11), not a
    // handshake_failure it would report as an unsupported group.
    assert_eq!(
        r.client_err,
        Some(Error::AlertReceived(AlertDescription::IllegalParameter))
    );
    assert!(credential_refused(&r));
    // Yesterday's permit: refused by the client, nothing sent.
    let today = day_of(unix_now());
    let yesterday = d.permit(ALICE, today - 1);
    let Err(err) = cs_tls::client(d.token(ALICE), pin(PIN), Some(yesterday)) else {
        panic!("a client with yesterday's permit was built");
    };
    // The CS reason itself, typed, and said once in the message.
    match &err {
        MilagroError::KeyUnusable(KxError::ClientKeyUnusable(ClientKeyError::Cs(e))) => {
            assert!(
                matches!(**e, CsError::NoPermitForToday { permit_day: Some(p), .. } if p == today - 1),
                "{e:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert_eq!(text.matches("no permit for today").count(), 1, "{text}");
    assert_eq!(text.matches("cannot be used").count(), 1, "{text}");
    // A revoked client (no permit) pretending permits are off claims d = 0.
    let mut token = d.token(ALICE);
    token.deployment.permits = PermitPolicy::Off;
    let revoked = cs_tls::client(token, pin(PIN), None).unwrap();
    let r = go(&s.acceptor, &revoked, src(1));
    assert!(matches!(
        r.accept,
        Err(AcceptError::Admission(AdmissionRefusal::Cs(
            CsError::PermitMissing
        )))
    ));
}

#[test]
fn cs_other_deployment_and_incomplete_keys_fail() {
    let a = Cs::new(3, PermitPolicy::Off);
    let b = Cs::new(3, PermitPolicy::Off);
    let s = server_with(a.ss(), 5);
    // A token of deployment B at A's server (equivalently: a server whose SS
    // is not the client's deployment's): refused, never counted.
    let r = go(&s.acceptor, &b.client(ALICE, PIN), src(1));
    assert!(credential_refused(&r));
    // Any two of three D-TAs' shares make a dead client secret.
    for skip in 0..3 {
        let shares: Vec<_> = (0..3)
            .filter(|&i| i != skip)
            .map(|i| a.dtas[i].issue_cs_client_secret(&id(ALICE)).unwrap())
            .collect();
        assert!(CsClientSecret::combine(&shares).is_err());
        let partial = combine_unchecked(&shares).unwrap();
        let c = cs_tls::client(extract_pin(&partial, &pin(PIN)).unwrap(), pin(PIN), None).unwrap();
        let r = go(&s.acceptor, &c, src(1));
        assert!(credential_refused(&r), "skip {skip}");
    }
    s.classifier.drain();
    let outcomes = s.observer.take();
    assert!(wrong_pins(&outcomes).is_empty(), "{outcomes:?}");
    assert_eq!(s.guard.status(&id(ALICE).cs_hid()).confirmed, 0);
    // A server with two of three SS shares: the full client fails too.
    let shares: Vec<_> = a.dtas[..2]
        .iter()
        .map(|d| d.issue_cs_server_secret().unwrap())
        .collect();
    let s2 = server_with(combine_unchecked(&shares).unwrap(), 5);
    let r = go(&s2.acceptor, &a.client(ALICE, PIN), src(1));
    assert!(credential_refused(&r));
}

#[test]
fn cs_certificate_naming_another_identity_counts_for_nobody() {
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 5);
    let kx = crate::rustls_glue::engine::CsClientKx::new(d.token(ALICE), pin(PIN), None, unix_now)
        .unwrap();
    let c = MilagroClient::new(Arc::new(kx), id("mallory@example.com"), 0, None).unwrap();
    let r = go(&s.acceptor, &c, src(1));
    assert_eq!(
        r.server_err,
        Some(Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure
        ))
    );
    drop(r);
    s.classifier.drain();
    assert_eq!(s.guard.status(&id(ALICE).cs_hid()).confirmed, 0);
    assert_eq!(
        s.guard
            .status(&id("mallory@example.com").cs_hid())
            .confirmed,
        0
    );
    assert!(wrong_pins(&s.observer.take()).is_empty());
}

/// Flips `mask` in byte `offset` of the Milagro key share inside a recorded
/// ClientHello (rustls shuffles extensions: the share is found each time).
fn flip_share(hello: &mut [u8], offset: usize, mask: u8) {
    let (_, share) = super::tests::find_milagro_share(hello).unwrap();
    let at = hello
        .windows(share.len())
        .position(|w| w == &share[..])
        .unwrap();
    hello[at + offset] ^= mask;
}

/// What a tampered client key share must lead to.
enum Want {
    /// Refused at accept, step 1 (plaintext handshake_failure).
    Admission(fn(&AdmissionRefusal) -> bool),
    /// Refused by the server's key exchange (client: illegal_parameter).
    Kx(KxError),
    /// Accepted, but the keys differ: the client cannot decrypt the
    /// server's flight.
    ClientCannotDecrypt,
}

fn check_tampered_share(r: &mut Run, what: &str, want: &Want) {
    match want {
        Want::Admission(ok) => {
            match &r.accept {
                Err(AcceptError::Admission(a)) => assert!(ok(a), "{what}: {a:?}"),
                other => panic!("{what}: expected an admission refusal, got {other:?}"),
            }
            // Step 1 refused the share's own bytes: the alert of a refused
            // credential, which the client reports as such.
            assert_eq!(r.alert, ILLEGAL_PARAMETER_ALERT, "{what}");
            assert_eq!(
                r.client_err,
                Some(Error::AlertReceived(AlertDescription::IllegalParameter)),
                "{what}"
            );
        }
        Want::Kx(kx) => {
            match &r.accept {
                // KxError is not PartialEq (see its docs); the variants
                // compared here carry only plain data, shown by Debug.
                Err(AcceptError::KeyExchange(got)) => {
                    assert_eq!(format!("{got:?}"), format!("{kx:?}"), "{what}")
                }
                other => panic!("{what}: expected {kx:?}, got {other:?}"),
            }
            assert!(credential_refused(r), "{what}: {:?}", r.client_err);
        }
        Want::ClientCannotDecrypt => {
            assert_eq!(r.client_err, Some(Error::DecryptError), "{what}");
            match &mut r.accept {
                Ok(Accepted::Milagro(m)) => {
                    assert_eq!(m.finish(), Err(FinishError::StillHandshaking), "{what}")
                }
                other => panic!("{what}: expected Milagro, got {other:?}"),
            }
        }
    }
}

/// Compressed-point flag bit that selects the sign of y: flipping it gives
/// the negated point, which still decodes.
const SIGN: u8 = 0x20;

#[test]
fn cs_one_bit_in_each_key_share_field_is_refused_with_its_reason() {
    // Permits required, so A_d ≠ A and no field is checked by X == U alone.
    let d = Cs::new(1, PermitPolicy::Required);
    let s = server_with(d.ss(), 5);
    let c = d.client(ALICE, PIN);
    let bad_pok = || Want::Kx(KxError::BadProofOfKnowledge);
    // protocol.md §6.1: HID 0, d 32, t 36, U 44, X 92, c 140, z 172, V 204, R 252.
    let cases: Vec<(&str, usize, u8, Want)> = vec![
        // HID, d (to a neighbouring day) and t (by 1 s) are all inside c.
        ("HID", 0, 0x01, bad_pok()),
        ("d low bit", 35, 0x01, bad_pok()),
        ("t low bit", 43, 0x01, bad_pok()),
        // Far-off day and time: refused at accept, before any point is decoded.
        (
            "d high bit",
            32,
            0x80,
            Want::Admission(|a| matches!(a, AdmissionRefusal::Cs(CsError::DayOutOfRange { .. }))),
        ),
        (
            "t high bit",
            36,
            0x01,
            Want::Admission(|a| matches!(a, AdmissionRefusal::Cs(CsError::StaleTime { .. }))),
        ),
        // A low bit of a point's x: not on the curve / not in G1. The sign
        // flag: the negated point decodes, and the DLEQ (which covers U, X
        // and R) fails.
        ("U x", 44 + 47, 0x01, bad_pok()),
        ("U sign", 44, SIGN, bad_pok()),
        ("X x", 92 + 47, 0x01, bad_pok()),
        ("X sign", 92, SIGN, bad_pok()),
        ("c", 140 + 31, 0x01, bad_pok()),
        ("c high bit", 140, 0x80, bad_pok()),
        ("z", 172 + 31, 0x01, bad_pok()),
        ("z high bit", 172, 0x80, bad_pok()),
        ("V x", 204 + 47, 0x01, bad_pok()),
        // V is outside the DLEQ: −V passes it and fails the M-Pin proof.
        ("V sign", 204, SIGN, Want::Kx(KxError::ProofFailed)),
        ("R x", 252 + 47, 0x01, bad_pok()),
        ("R sign", 252, SIGN, bad_pok()),
    ];
    for (what, offset, mask, want) in &cases {
        let mut r = run_full(
            &s.acceptor,
            src(1),
            c.connect(SERVER).unwrap(),
            |h| flip_share(h, *offset, *mask),
            |_| {},
        );
        check_tampered_share(&mut r, what, want);
    }
    // −V was classified as an invalid credential; nothing counts against Alice.
    s.classifier.drain();
    let outcomes = s.observer.take();
    assert!(wrong_pins(&outcomes).is_empty(), "{outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::InvalidCredential { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(s.guard.status(&id(ALICE).cs_hid()).confirmed, 0);
    // The untouched client still logs in.
    let mut r = go(&s.acceptor, &c, src(1));
    assert_eq!(finish_ok(&mut r), id(ALICE));
}

/// Flips `mask` in byte `offset` of the server's key share (W / Pa) in the
/// first server flight that carries a ServerHello.
fn flip_server_share(offset: usize, mask: u8) -> impl FnMut(&mut Vec<u8>) {
    let mut done = false;
    move |f: &mut Vec<u8>| {
        if done {
            return;
        }
        let range = super::tests::server_share_range(f).unwrap();
        assert_eq!(range.len(), 48);
        f[range.start + offset] ^= mask;
        done = true;
    }
}

/// rustls sends each side's encrypted handshake messages in ONE record
/// (AES-128-GCM: ciphertext byte i encrypts plaintext byte i, then a 16-byte
/// tag; inner plaintext = messages ‖ content type, no padding). The last
/// messages are Certificate (identity blob), CertificateVerify (8 bytes:
/// header, scheme, empty signature) and Finished (4 + hash length), so their
/// ciphertext bytes sit at fixed distances from the end of the content.
const CERTIFICATE_VERIFY_LEN: usize = 4 + 2 + 2;

/// A Certificate message carrying one identity blob for an identity of
/// `id_len` bytes: header 4, context 1, list 3, entry length 3, blob
/// (12 + id_len), entry extensions 2.
fn certificate_len(id_len: usize) -> usize {
    4 + 1 + 3 + 3 + 12 + id_len + 2
}

/// The end of the handshake messages' ciphertext in the flight's (only)
/// encrypted record, and the record's body range.
fn encrypted_content(f: &[u8]) -> (usize, std::ops::Range<usize>) {
    let (_, _, body) = super::tests::records(f)
        .unwrap()
        .into_iter()
        .find(|(kind, _, _)| *kind == 23)
        .unwrap();
    (body.end - 16 - 1, body)
}

/// Flips a bit of the ciphertext byte `back` bytes before the end of the
/// encrypted handshake messages, in the first flight it sees.
fn flip_encrypted(back: usize) -> impl FnMut(&mut Vec<u8>) {
    let mut done = false;
    move |f: &mut Vec<u8>| {
        if done {
            return;
        }
        let (end, _) = encrypted_content(f);
        f[end - back] ^= 0x01;
        done = true;
    }
}

/// `back` for a byte in the middle of the identity inside the Certificate
/// (identity of `id_len` bytes), and for CertificateVerify's scheme.
/// (`finished`: the Finished message's length.)
fn blob_identity_back(finished: usize, id_len: usize) -> usize {
    let cert_start_back = finished + CERTIFICATE_VERIFY_LEN + certificate_len(id_len);
    cert_start_back - (4 + 1 + 3 + 3 + 12 + id_len / 2)
}

fn certificate_verify_scheme_back(finished: usize) -> usize {
    finished + CERTIFICATE_VERIFY_LEN - 4
}

/// The content types of a flight's records.
fn record_kinds(f: &[u8]) -> Vec<u8> {
    super::tests::records(f)
        .unwrap()
        .iter()
        .map(|(k, _, _)| *k)
        .collect()
}

#[test]
fn cs_tampered_server_share_and_encrypted_flights_fail_with_their_errors() {
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 50);
    let c = d.client(ALICE, PIN);
    tampered_server_side_and_flights(&s.acceptor, &c, "W", "milagro-cs".len());
    s.classifier.drain();
    assert!(wrong_pins(&s.observer.take()).is_empty());
    assert_eq!(s.guard.status(&id(ALICE).cs_hid()).confirmed, 0);
}

/// Shared by CS and P2P: the server share (`field` is what the client's
/// decoder names) and the encrypted Certificate / CertificateVerify of both
/// sides (`server_id_len`: length of the server blob's identity).
fn tampered_server_side_and_flights(
    acceptor: &MilagroAcceptor,
    c: &MilagroClient,
    field: &str,
    server_id_len: usize,
) {
    // The layout the offsets below rely on: the server's first flight is
    // ServerHello, ChangeCipherSpec, then one encrypted record
    // (EncryptedExtensions, CertificateRequest, Certificate,
    // CertificateVerify, Finished); the client's second flight is
    // ChangeCipherSpec and one encrypted record (Certificate,
    // CertificateVerify, Finished), whose length checks the model exactly.
    let mut server_kinds = Vec::new();
    let mut client_kinds = Vec::new();
    let mut server_content = 0;
    let mut client_content = 0;
    let mut r = super::tests::run_tampered(
        acceptor,
        src(1),
        c.connect(SERVER).unwrap(),
        |_| {},
        |f| {
            if server_kinds.is_empty() {
                server_kinds = record_kinds(f);
                let (end, body) = encrypted_content(f);
                server_content = end - body.start;
            }
        },
        |f| {
            if client_kinds.is_empty() {
                client_kinds = record_kinds(f);
                let (end, body) = encrypted_content(f);
                client_content = end - body.start;
            }
        },
    );
    finish_ok(&mut r);
    // The profile's suite (16-byte tag); Finished carries one hash.
    let suite = r.client.negotiated_cipher_suite().unwrap();
    assert_eq!(suite.suite(), rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    let finished = 4 + suite.tls13().unwrap().common.hash_provider.output_len();
    assert_eq!(server_kinds, vec![22, 20, 23]);
    assert_eq!(client_kinds, vec![20, 23]);
    let tail = |id_len| certificate_len(id_len) + CERTIFICATE_VERIFY_LEN + finished;
    assert_eq!(client_content, tail(ALICE.len()));
    assert!(server_content > tail(server_id_len));

    // The server's share, a low bit of x: the client refuses to decode it.
    let r = super::tests::run_tampered(
        acceptor,
        src(1),
        c.connect(SERVER).unwrap(),
        |_| {},
        flip_server_share(47, 0x01),
        |_| {},
    );
    let err = r.client_err.clone().unwrap();
    let want = match field {
        "W" => "W",
        _ => "P2P point",
    };
    assert!(
        matches!(super::kx::kx_reason(&err), Some(KxError::MalformedShare(f)) if f == want),
        "{err:?}"
    );
    // (Each run is dropped at once: an open CS connection holds one of the
    // identity's two in-flight reservations.)
    drop(r);
    // Its sign: a valid point, other keys; the client cannot decrypt.
    let r = super::tests::run_tampered(
        acceptor,
        src(1),
        c.connect(SERVER).unwrap(),
        |_| {},
        flip_server_share(0, SIGN),
        |_| {},
    );
    assert_eq!(r.client_err, Some(Error::DecryptError));
    assert!(matches!(
        map_client_error(&r.client, Error::DecryptError),
        MilagroError::Tls(Error::DecryptError)
    ));
    drop(r);

    // The server's Certificate (a byte of the blob's identity) and
    // CertificateVerify (its scheme): the client's AEAD refuses the record
    // (bad_record_mac), before any message in it is parsed.
    for (what, back) in [
        (
            "server Certificate",
            blob_identity_back(finished, server_id_len),
        ),
        (
            "server CertificateVerify",
            certificate_verify_scheme_back(finished),
        ),
    ] {
        let r = super::tests::run_tampered(
            acceptor,
            src(1),
            c.connect(SERVER).unwrap(),
            |_| {},
            flip_encrypted(back),
            |_| {},
        );
        assert_eq!(r.client_err, Some(Error::DecryptError), "{what}");
        assert!(r.client.peer_certificates().is_none(), "{what}");
    }
    // The client's Certificate and CertificateVerify: the server's AEAD
    // refuses them; no identity comes out.
    for (what, back) in [
        (
            "client Certificate",
            blob_identity_back(finished, ALICE.len()),
        ),
        (
            "client CertificateVerify",
            certificate_verify_scheme_back(finished),
        ),
    ] {
        let mut r = super::tests::run_tampered(
            acceptor,
            src(1),
            c.connect(SERVER).unwrap(),
            |_| {},
            |_| {},
            flip_encrypted(back),
        );
        assert_eq!(r.server_err, Some(Error::DecryptError), "{what}");
        match &mut r.accept {
            Ok(Accepted::Milagro(m)) => {
                assert!(m.connection().peer_certificates().is_none(), "{what}");
                assert_eq!(m.finish(), Err(FinishError::StillHandshaking), "{what}")
            }
            other => panic!("{what}: expected Milagro, got {other:?}"),
        }
    }
}

/// A stranger's client for a victim's HID: DLEQ-valid shares over a random
/// "secret" (no SEC), so the proof fails and classifies as invalid.
struct StrangerKx(crate::identity::Hid);

impl super::engine::ClientKeyExchange for StrangerKx {
    fn suite(&self) -> crate::suite::Suite {
        crate::suite::Suite::Cs
    }
    fn fingerprint(&self) -> super::engine::KeyFingerprint {
        super::engine::KeyFingerprint([0x5a; 32])
    }
    fn start(&self) -> Result<(Vec<u8>, Box<dyn super::engine::ClientPending>), KxError> {
        let a = crate::points::cs_identity_point(&self.0);
        let fake_sec = &a * &crate::pairing::Scalar::random(&OsEntropy).unwrap();
        let mut fresh = [0u8; 32];
        getrandom::getrandom(&mut fresh).unwrap();
        let (share, _) =
            crate::mpin::proof::build_share(&fake_sec, &self.0, &a, &a, 0, unix_now(), &fresh);
        Ok((share.to_vec(), Box::new(NoFinish)))
    }
}

struct NoFinish;

impl super::engine::ClientPending for NoFinish {
    fn finish(
        self: Box<Self>,
        _server_share: &[u8],
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, KxError> {
        Err(KxError::WrongUse)
    }
}

// ---------------------------------------------------------------------------
// P2P
// ---------------------------------------------------------------------------

const EPOCH_SECS: u32 = 3600;

struct P2p {
    dtas: Vec<MasterShare>,
}

impl P2p {
    fn new(n: u8) -> Self {
        let dep = P2pDeployment::new(n, EPOCH_SECS, &OsEntropy).unwrap();
        Self {
            dtas: (0..n)
                .map(|_| MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap())
                .collect(),
        }
    }
    fn server_key(&self, who: &str, epoch: u32) -> P2pServerKey {
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_p2p_server_key(&id(who), epoch).unwrap())
            .collect();
        P2pServerKey::combine(&shares).unwrap()
    }
    fn client_key(&self, who: &str, epoch: u32) -> P2pClientKey {
        let shares: Vec<_> = self
            .dtas
            .iter()
            .map(|d| d.issue_p2p_client_key(&id(who), epoch).unwrap())
            .collect();
        P2pClientKey::combine(&shares).unwrap()
    }
}

fn now_epoch() -> u32 {
    epoch_of(unix_now() - 30, EPOCH_SECS)
}

#[test]
fn p2p_good_previous_epoch_accepted_older_refused() {
    let d = P2p::new(2);
    let e = now_epoch();
    let acceptor = p2p_tls::server(
        d.server_key(SERVER, e),
        p2p_tls::ServerOptions::new().previous_key(d.server_key(SERVER, e - 1)),
    )
    .unwrap();
    for epoch in [e, e - 1] {
        let c = p2p_tls::client(d.client_key(ALICE, epoch), id(SERVER)).unwrap();
        let mut r = go(&acceptor, &c, src(1));
        assert_eq!(finish_ok(&mut r), id(ALICE));
        assert_eq!(c.finish(&r.client), Ok(id(SERVER)));
    }
    // Two epochs old: the client refuses itself …
    assert!(matches!(
        p2p_tls::client(d.client_key(ALICE, e - 2), id(SERVER)),
        Err(MilagroError::KeyUnusable(
            KxError::KeyEpochNotCurrent { .. }
        ))
    ));
    // … and a client whose clock is two hours behind is refused at accept.
    let late = p2p_tls::client_at(d.client_key(ALICE, e - 2), id(SERVER), || {
        unix_now() - 2 * u64::from(EPOCH_SECS)
    })
    .unwrap();
    let r = go(&acceptor, &late, src(1));
    assert!(matches!(
        r.accept,
        Err(AcceptError::Admission(AdmissionRefusal::P2p(
            P2pError::EpochOutsideClock { .. }
        )))
    ));
    // server_name other than ID_A: nothing sent.
    let c = p2p_tls::client(d.client_key(ALICE, e), id(SERVER)).unwrap();
    assert!(matches!(
        c.connect("other.example"),
        Err(MilagroError::ServerNameMismatch { .. })
    ));
}

#[test]
fn p2p_wrong_keys_fail() {
    let d = P2p::new(1);
    let other = P2p::new(1);
    let e = now_epoch();
    let c = p2p_tls::client(d.client_key(ALICE, e), id(SERVER)).unwrap();
    // A server holding another identity's key.
    let acceptor = p2p_tls::server(
        d.server_key("other.example", e),
        p2p_tls::ServerOptions::new(),
    )
    .unwrap();
    let r = go(&acceptor, &c, src(1));
    assert!(r.client_err.is_some());
    // The right identity, another deployment's key (the client's key is then
    // foreign to the server too).
    let acceptor =
        p2p_tls::server(other.server_key(SERVER, e), p2p_tls::ServerOptions::new()).unwrap();
    let mut r = go(&acceptor, &c, src(1));
    assert_eq!(r.client_err, Some(Error::DecryptError));
    if let Ok(Accepted::Milagro(m)) = &mut r.accept {
        assert!(m.finish().is_err());
    }
}

#[test]
fn p2p_one_bit_in_each_key_share_field_is_refused_with_its_reason() {
    let d = P2p::new(1);
    let e = now_epoch();
    let acceptor = p2p_tls::server(d.server_key(SERVER, e), p2p_tls::ServerOptions::new()).unwrap();
    let c = p2p_tls::client(d.client_key(ALICE, e), id(SERVER)).unwrap();
    let bad_point = || Want::Kx(KxError::MalformedShare("P2P point"));
    let other_epoch = || {
        Want::Admission(|a| {
            matches!(
                a,
                AdmissionRefusal::P2p(
                    P2pError::EpochOutsideClock { .. } | P2pError::EpochNotAccepted { .. }
                )
            )
        })
    };
    // protocol.md §7.2: epoch 0, HID_B 4, Pg 36, Pb 84 (G2, 96 bytes).
    let cases: Vec<(&str, usize, u8, Want)> = vec![
        ("epoch high bit", 0, 0x80, other_epoch()),
        ("epoch low bit", 3, 0x01, other_epoch()),
        // No explicit proof in P2P: another HID_B or a negated point gives
        // the server other keys, found by the client's AEAD.
        ("HID_B", 4, 0x01, Want::ClientCannotDecrypt),
        ("Pg x", 36 + 47, 0x01, bad_point()),
        ("Pg sign", 36, SIGN, Want::ClientCannotDecrypt),
        ("Pb x", 84 + 95, 0x01, bad_point()),
        ("Pb sign", 84, SIGN, Want::ClientCannotDecrypt),
    ];
    for (what, offset, mask, want) in &cases {
        let mut r = run_full(
            &acceptor,
            src(1),
            c.connect(SERVER).unwrap(),
            |h| flip_share(h, *offset, *mask),
            |_| {},
        );
        check_tampered_share(&mut r, what, want);
        if *offset < 4 {
            let mut be = e.to_be_bytes();
            be[*offset] ^= mask;
            let flipped = u32::from_be_bytes(be);
            // Outside the clock's window, or (e − 1 when e is odd) inside
            // it but not held: this server has no previous key.
            match &r.accept {
                Err(AcceptError::Admission(AdmissionRefusal::P2p(
                    P2pError::EpochOutsideClock { got, now_epoch },
                ))) => {
                    assert_eq!(*got, flipped, "{what}");
                    assert!(*now_epoch == e || *now_epoch == e + 1, "{what}");
                }
                Err(AcceptError::Admission(AdmissionRefusal::P2p(
                    P2pError::EpochNotAccepted { got, current, .. },
                ))) => {
                    assert_eq!((*got, *current), (flipped, e), "{what}");
                    assert_eq!(flipped.checked_add(1), Some(e), "{what}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }
    let mut r = go(&acceptor, &c, src(1));
    assert_eq!(finish_ok(&mut r), id(ALICE));
}

#[test]
fn p2p_tampered_server_share_and_encrypted_flights_fail_with_their_errors() {
    let d = P2p::new(1);
    let e = now_epoch();
    let acceptor = p2p_tls::server(d.server_key(SERVER, e), p2p_tls::ServerOptions::new()).unwrap();
    let c = p2p_tls::client(d.client_key(ALICE, e), id(SERVER)).unwrap();
    tampered_server_side_and_flights(&acceptor, &c, "Pa", SERVER.len());
}

#[test]
fn cs_saturated_classifier_refuses_new_attempts_at_accept() {
    // One cap on pending classifications: the guard's.
    let d = Cs::new(1, PermitPolicy::Off);
    let mut p = policy(5);
    p.lockout.max_pending_classifications = 1;
    let guard = Guard::new(
        Arc::new(MemoryGuard::new(p)),
        Arc::new(ManualClock::new(crate::guard::GuardTime::from_millis(1))),
        Arc::new(RecordingObserver::new()),
    );
    let acceptor = cs_tls::server(
        d.ss(),
        ServerOptions::new(guard.clone(), Classifier::new(1).unwrap()).pin_digits(digits()),
    )
    .unwrap();
    // Another attempt holds the only pending-classification slot.
    let held = guard
        .admit(&id("bob@example.com").cs_hid(), &[7; 48], src(9))
        .unwrap();
    let r = go(&acceptor, &d.client(ALICE, PIN), src(1));
    assert!(matches!(
        r.accept,
        Err(AcceptError::Admission(AdmissionRefusal::Guard(
            Refusal::ClassifierBusy
        )))
    ));
    // Load, not the credential: internal_error, "try again later".
    assert_eq!(r.alert, INTERNAL_ERROR_ALERT);
    assert!(matches!(
        map_client_error(&r.client, r.client_err.clone().unwrap()),
        MilagroError::ServerBusy
    ));
    // Nothing was reserved for Alice.
    assert_eq!(guard.status(&id(ALICE).cs_hid()).in_flight, 0);
    drop(held);
    let mut r = go(&acceptor, &d.client(ALICE, PIN), src(1));
    assert_eq!(finish_ok(&mut r), id(ALICE));
}

/// A writer the peer has reset: every write fails.
struct ResetPeer;

impl std::io::Write for ResetPeer {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::ConnectionReset.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::ErrorKind::ConnectionReset.into())
    }
}

#[test]
fn cs_a_failed_alert_write_does_not_uncount_a_wrong_pin() {
    // The attempt is resolved before the alert is written: a peer that
    // resets the connection (the write fails) is counted like any other.
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 5);
    for n in 1..=5u32 {
        let mut c = d.client(ALICE, PIN + n).connect(SERVER).unwrap();
        let hello = super::tests::client_out(&mut c);
        let r = s.acceptor.accept(src(1), &mut &hello[..], &mut ResetPeer);
        assert!(
            matches!(&r, Err(AcceptError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{r:?}"
        );
        s.classifier.drain();
        assert_eq!(s.guard.status(&id(ALICE).cs_hid()).confirmed, n);
    }
    assert!(s.guard.status(&id(ALICE).cs_hid()).locked_out);
    let r = go(&s.acceptor, &d.client(ALICE, PIN), src(1));
    assert!(credential_refused(&r));
    assert!(matches!(r.accept, Err(AcceptError::SilentlyRefused(_))));
}

/// The attack of docs/robustness.md "lock state through the classification
/// cap": with the pending-classification cap all but full, a failed proof
/// for identity X followed by a probe. The probe is refused with
/// `ClassifierBusy` if and only if X's attempt held a slot, so a silently
/// refused (locked) attempt must hold one exactly like a reserved one, and
/// give the classifier the same job.
#[test]
fn cs_a_locked_identity_holds_a_classification_slot_like_an_unlocked_one() {
    const CAP: usize = 2;
    let d = Cs::new(1, PermitPolicy::Off);
    let mut p = policy(3);
    p.lockout.max_pending_classifications = CAP;
    let guard = Guard::new(
        Arc::new(MemoryGuard::new(p)),
        Arc::new(ManualClock::new(crate::guard::GuardTime::from_millis(1))),
        Arc::new(RecordingObserver::new()),
    );
    let classifier = Classifier::new(1).unwrap();
    let acceptor = cs_tls::server(
        d.ss(),
        ServerOptions::new(guard.clone(), classifier.clone()).pin_digits(digits()),
    )
    .unwrap();
    const LOCKED: &str = "locked@example.com";
    const UNLOCKED: &str = "unlocked@example.com";
    for k in 1..=3 {
        let r = go(&acceptor, &d.client(LOCKED, PIN + k), src(1));
        assert!(credential_refused(&r));
        classifier.drain();
    }
    assert!(guard.status(&id(LOCKED).cs_hid()).locked_out);
    assert!(!guard.status(&id(UNLOCKED).cs_hid()).locked_out);
    // A stranger's shares (valid DLEQ on garbage) for a fresh identity.
    let stranger = |name: String| {
        let who = id(&name);
        MilagroClient::new(Arc::new(StrangerKx(who.cs_hid())), who, 0, None).unwrap()
    };
    // What the attacker observes for X: slots held and classifier jobs after
    // its attempt, and whether the probe is refused as busy.
    let observe = |who: &str, n: u8| {
        classifier.hold(true);
        // Filler: failed proofs for random identities, holding CAP − 1 slots.
        for i in 0..CAP - 1 {
            let filler = stranger(format!("filler{n}-{i}@example.com"));
            let r = go(&acceptor, &filler, src(10 * n + i as u8));
            assert!(matches!(
                r.accept,
                Err(AcceptError::KeyExchange(KxError::ProofFailed))
            ));
        }
        let r = go(&acceptor, &d.client(who, PIN + 5), src(10 * n + 5));
        assert!(credential_refused(&r), "{who}");
        let seen = (guard.pending_classifications(), classifier.unfinished());
        let probe = go(
            &acceptor,
            &stranger(format!("probe{n}@example.com")),
            src(10 * n + 6),
        );
        let busy = matches!(
            probe.accept,
            Err(AcceptError::Admission(AdmissionRefusal::Guard(
                Refusal::ClassifierBusy
            )))
        );
        classifier.hold(false);
        classifier.drain();
        assert_eq!(guard.pending_classifications(), 0, "{who}");
        (seen, busy)
    };
    let unlocked = observe(UNLOCKED, 1);
    let locked = observe(LOCKED, 2);
    assert_eq!(unlocked, ((CAP, CAP), true), "the unlocked attempt");
    assert_eq!(
        locked, unlocked,
        "slot use or classifier work tells a locked identity apart"
    );
    // The locked attempt's classification was discarded: nothing counted.
    assert_eq!(guard.status(&id(LOCKED).cs_hid()).confirmed, 3);
    assert_eq!(guard.status(&id(UNLOCKED).cs_hid()).confirmed, 1);
}

/// A good proof's record (the replay insert) starts inside the key
/// exchange, as soon as the proof verifies, not after it: a network store's
/// round trip then overlaps the key agreement's pairing instead of adding to
/// the handshake (docs/robustness.md §8). Checked by reading the replay
/// cache when the exchange has returned but before `run` resolves the
/// attempt; the attempt then resolves with that record.
#[test]
fn cs_good_proof_is_recorded_while_the_key_exchange_runs() {
    use crate::guard::{Clock, GuardStore, GuardTime, NoopObserver, block_on};
    use crate::mpin::{ShareChecks, precheck};
    use crate::rustls_glue::accept::{Decision, KxResolution};
    use crate::tls::{ClientHelloRecorder, Progress};

    let d = Cs::new(1, PermitPolicy::Off);
    let store = Arc::new(MemoryGuard::new(policy(5)));
    let clock = Arc::new(ManualClock::new(GuardTime::from_millis(1)));
    let guard = Guard::new(store.clone(), clock.clone(), Arc::new(NoopObserver));
    let options =
        ServerOptions::new(guard.clone(), Classifier::new(1).unwrap()).pin_digits(digits());
    let acceptor = cs_tls::server(d.ss(), options).unwrap();
    let mut client = d.client(ALICE, PIN).connect(SERVER).unwrap();
    let hello = super::tests::client_out(&mut client);
    let Ok(Progress::Complete(parsed)) = ClientHelloRecorder::new().feed(&hello) else {
        panic!("incomplete ClientHello");
    };
    let share = parsed.key_share(crate::suite::CS_GROUP).unwrap();
    let shared = precheck(
        share.key_exchange(),
        &ShareChecks::new(PermitPolicy::Off),
        unix_now(),
    )
    .unwrap()
    .replay_key();
    let key = crate::guard::ReplayKey::new(&shared.hid, &shared.u);
    let recorded = || block_on(store.replay_seen(&key, clock.now())) == Err(Refusal::Replay);
    let Ok(Decision::Milagro(start)) = acceptor.decide(src(1), &parsed) else {
        panic!("not admitted");
    };
    assert!(!recorded(), "recorded before the key exchange");

    let (resolution, (answered, recorded_by_then)) = start.run(|config| {
        let mut accept = rustls::server::Acceptor::default();
        accept.read_tls(&mut &hello[..]).unwrap();
        let accepted = accept.accept().unwrap().unwrap();
        (accepted.into_connection(config).is_ok(), recorded())
    });
    assert!(answered);
    assert!(
        recorded_by_then,
        "the good proof's record had not started when the key exchange returned"
    );
    let KxResolution::Started(_session) = resolution else {
        panic!("{resolution:?}");
    };
    assert_eq!(guard.status(&id(ALICE).cs_hid()).in_flight, 1);
}

/// The key exchange takes share work done ahead of it (while step 1 awaited
/// a network store) as its own only for the very share and policy it was
/// made from: work made for another share, or under another policy, is
/// ignored and done again, so it can neither refuse a good share nor pass a
/// bad one.
#[test]
fn cs_precomputed_work_counts_only_for_its_own_share() {
    use super::engine::{
        ClientKeyExchange, CsClientKx, CsServerKx, Precomputed, ServerKeyExchange, cs_precompute,
    };
    use crate::mpin::{PreparedServerSecret, precheck};

    let d = Cs::new(1, PermitPolicy::Off);
    let prepared = Arc::new(PreparedServerSecret::new(&d.ss()));
    let server = CsServerKx::new(prepared.clone(), prepared.checks(), unix_now).unwrap();
    let client = CsClientKx::new(d.token(ALICE), pin(PIN), None, unix_now).unwrap();
    let ahead = |share: &[u8]| {
        cs_precompute(
            &precheck(share, &prepared.checks(), unix_now()).unwrap(),
            &prepared,
        )
    };
    let refused_ahead = |share: &[u8], permits| Precomputed::Cs {
        share: Box::new(share.try_into().unwrap()),
        permits,
        checked: Err(CsError::DleqFailed),
    };

    // Its own share: used, and the client agrees on the secret.
    let (share, pending) = client.start().unwrap();
    let Ok((w, secret)) = server.respond(&share, Some(ahead(&share)), &mut || {}) else {
        panic!("a good share refused with its own work done ahead");
    };
    assert_eq!(*pending.finish(&w).unwrap(), *secret);

    // Used, not redone: a failure recorded ahead for exactly this share is
    // the exchange's outcome (charged as a bad DLEQ by the accept path).
    let (share, _) = client.start().unwrap();
    let Err(failure) = server.respond(
        &share,
        Some(refused_ahead(&share, PermitPolicy::Off)),
        &mut || {},
    ) else {
        panic!("the failure recorded ahead was not the outcome");
    };
    assert!(matches!(failure.reason, KxError::BadProofOfKnowledge));

    // Made from another share, or under another policy: ignored.
    for another_policy in [false, true] {
        let (share, pending) = client.start().unwrap();
        let (other, _) = client.start().unwrap();
        let stale = if another_policy {
            refused_ahead(&share, PermitPolicy::Required)
        } else {
            refused_ahead(&other, PermitPolicy::Off)
        };
        let Ok((w, secret)) = server.respond(&share, Some(stale), &mut || {}) else {
            panic!("work made for something else refused a good share");
        };
        assert_eq!(*pending.finish(&w).unwrap(), *secret);
    }
    let (share, _) = client.start().unwrap();
    // And work made ahead for a good share does not pass another share.
    let mut tampered = share.clone();
    tampered[140] ^= 1; // c
    let Err(failure) = server.respond(&tampered, Some(ahead(&share)), &mut || {}) else {
        panic!("work made for a good share passed a tampered one");
    };
    assert!(matches!(failure.reason, KxError::BadProofOfKnowledge));
}
