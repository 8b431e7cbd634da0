//! In-memory handshakes with the real CS and P2P engines (real pairings),
//! through the public builders of `cs_tls` / `p2p_tls`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustls::{AlertDescription, CertificateError, Error};

use super::accept::{AcceptError, Accepted, AdmissionRefusal, HANDSHAKE_FAILURE_ALERT};
use super::engine::KxError;
use super::error::{MilagroError, map_client_error};
use super::tests::{Run, run_full};
use crate::cs_tls::{self, ServerOptions};
use crate::dta::{Combine, combine_unchecked};
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
use crate::rustls_glue::classifier::Classifier;
use crate::rustls_glue::config::MilagroClient;
use crate::rustls_glue::engines::unix_now;

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
        extract_pin(&self.secret(who), &pin(PIN))
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
    let classifier = Classifier::new(1, 64).unwrap();
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

fn wrong_pins(outcomes: &[Outcome]) -> Vec<i64> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::WrongPin { delta, .. } => Some(*delta),
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
        assert_eq!(s.classifier.slots_taken(), 0);
    }
}

#[test]
fn cs_wrong_pin_is_refused_before_any_key_and_classified_with_exact_delta() {
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
    assert_eq!(wrong_pins(&s.observer.take()), vec![7]);
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
    assert_eq!(wrong_pins(&s.observer.take()), vec![-1, -2, -3]);
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
    assert_eq!(alert, HANDSHAKE_FAILURE_ALERT);
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
    assert_eq!(
        r.client_err,
        Some(Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
    // Yesterday's permit: refused by the client, nothing sent.
    let yesterday = d.permit(ALICE, day_of(unix_now()) - 1);
    assert!(matches!(
        cs_tls::client(d.token(ALICE), pin(PIN), Some(yesterday)),
        Err(MilagroError::KeyUnusable(KxError::ClientKeyUnusable(_)))
    ));
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
        let c = cs_tls::client(extract_pin(&partial, &pin(PIN)), pin(PIN), None).unwrap();
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
    let kx = crate::rustls_glue::engines::CsClientKx::new(d.token(ALICE), pin(PIN), None, unix_now)
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

#[test]
fn cs_tampering_on_the_wire_fails_without_panic() {
    let d = Cs::new(1, PermitPolicy::Off);
    let s = server_with(d.ss(), 50);
    let c = d.client(ALICE, PIN);
    // Key share: a bit in HID, d, t, U, X, c, z, V and R.
    for offset in [0usize, 35, 43, 60, 100, 150, 180, 220, 280] {
        let r = run_full(
            &s.acceptor,
            src(1),
            c.connect(SERVER).unwrap(),
            |h| {
                let (_, share) = super::tests::find_milagro_share(h).unwrap();
                let at = h
                    .windows(share.len())
                    .position(|w| w == &share[..])
                    .unwrap();
                h[at + offset] ^= 0x10;
            },
            |_| {},
        );
        assert!(
            r.accept.is_err() || r.client_err.is_some(),
            "offset {offset}"
        );
        assert!(
            !matches!(r.accept, Ok(Accepted::Milagro(_))),
            "offset {offset}"
        );
    }
    // The client's encrypted second flight (identity blob, CertificateVerify,
    // Finished): every tampered byte position tried fails the handshake.
    for pos in [10usize, 40, 70] {
        let mut done = false;
        let mut r = run_full(
            &s.acceptor,
            src(1),
            c.connect(SERVER).unwrap(),
            |_| {},
            |f| {
                if !done && f.len() > pos {
                    f[pos] ^= 1;
                    done = true;
                }
            },
        );
        assert!(r.server_err.is_some(), "pos {pos}");
        if let Ok(Accepted::Milagro(m)) = &mut r.accept {
            assert!(m.finish().is_err());
        }
    }
    s.classifier.drain();
}

/// A stranger's client for a victim's HID: DLEQ-valid shares over a random
/// "secret" (no SEC), so the proof fails and classifies as invalid.
struct StrangerKx(crate::identity::Hid);

impl super::engine::ClientKeyExchange for StrangerKx {
    fn suite(&self) -> crate::keys::Suite {
        crate::keys::Suite::Cs
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
        Some(d.server_key(SERVER, e - 1)),
        None,
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
        Err(MilagroError::KeyUnusable(KxError::ClientKeyUnusable(_)))
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
            P2pError::EpochNotAccepted { .. }
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
    let acceptor = p2p_tls::server(d.server_key("other.example", e), None, None).unwrap();
    let r = go(&acceptor, &c, src(1));
    assert!(r.client_err.is_some());
    // The right identity, another deployment's key (the client's key is then
    // foreign to the server too).
    let acceptor = p2p_tls::server(other.server_key(SERVER, e), None, None).unwrap();
    let mut r = go(&acceptor, &c, src(1));
    assert_eq!(r.client_err, Some(Error::DecryptError));
    if let Ok(Accepted::Milagro(m)) = &mut r.accept {
        assert!(m.finish().is_err());
    }
}

#[test]
fn cs_saturated_classifier_refuses_new_attempts_at_accept() {
    let d = Cs::new(1, PermitPolicy::Off);
    let observer = Arc::new(RecordingObserver::new());
    let guard = Guard::new(
        Arc::new(MemoryGuard::new(policy(5))),
        Arc::new(ManualClock::new(crate::guard::GuardTime::from_millis(1))),
        observer,
    );
    let classifier = Classifier::new(1, 1).unwrap();
    let acceptor = cs_tls::server(
        d.ss(),
        ServerOptions::new(guard.clone(), classifier.clone()).pin_digits(digits()),
    )
    .unwrap();
    let held = classifier.try_slot().unwrap();
    let r = go(&acceptor, &d.client(ALICE, PIN), src(1));
    assert!(matches!(
        r.accept,
        Err(AcceptError::Admission(AdmissionRefusal::ClassifierBusy))
    ));
    assert_eq!(r.alert, HANDSHAKE_FAILURE_ALERT);
    // Nothing was reserved for Alice.
    assert_eq!(guard.status(&id(ALICE).cs_hid()).in_flight, 0);
    drop(held);
    let mut r = go(&acceptor, &d.client(ALICE, PIN), src(1));
    assert_eq!(finish_ok(&mut r), id(ALICE));
}
