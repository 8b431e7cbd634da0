//! P2P epochs against the clock (docs/protocol.md §5.6, §7.2, §7.4) and the
//! mandatory source throttle (§9.5), with the real engines and injected
//! clocks.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use super::accept::{Accepted, Decision};
use super::admission::AdmissionRefusal;
use super::engine::KxError;
use super::error::AcceptError;
use super::error::MilagroError;
use super::tests::{Run, client_out, run_full};
use crate::dta::Combine;
use crate::guard::Refusal;
use crate::identity::Identity;
use crate::keys::{Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey, epoch_of};
use crate::p2p::P2pError;
use crate::p2p_tls::{self, ServerOptions};
use crate::pairing::OsEntropy;
use crate::rustls_glue::accept::MilagroAcceptor;
use crate::rustls_glue::config::MilagroClient;
use crate::rustls_glue::engine::unix_now;
use crate::tls::{ClientHelloRecorder, Progress};
use crate::tls::{ILLEGAL_PARAMETER_ALERT, INTERNAL_ERROR_ALERT};

const L: u32 = 3600;
const SERVER: &str = "server.example";
const ALICE: &str = "alice@example.com";

fn src(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

struct Dta(MasterShare);

impl Dta {
    fn new() -> Self {
        let dep = P2pDeployment::new(1, L, &OsEntropy).unwrap();
        Self(MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap())
    }
    fn server_key(&self, epoch: u32) -> P2pServerKey {
        P2pServerKey::combine(&[self.0.issue_p2p_server_key(&id(SERVER), epoch).unwrap()]).unwrap()
    }
    fn client_key(&self, epoch: u32) -> P2pClientKey {
        P2pClientKey::combine(&[self.0.issue_p2p_client_key(&id(ALICE), epoch).unwrap()]).unwrap()
    }
}

/// The middle of epoch `e` (keeps the client's 30 s skew allowance away
/// from any boundary).
fn mid_epoch(e: u32) -> u64 {
    u64::from(e) * u64::from(L) + u64::from(L) / 2
}

fn go(s: &MilagroAcceptor, c: &MilagroClient, source: IpAddr) -> Run {
    run_full(s, source, c.connect(SERVER).unwrap(), |_| {}, |_| {})
}

fn accepted(r: &mut Run) -> Identity {
    assert!(r.client_err.is_none(), "{:?}", r.client_err);
    assert!(r.server_err.is_none(), "{:?}", r.server_err);
    match &mut r.accept {
        Ok(Accepted::Milagro(m)) => m.finish().unwrap(),
        other => panic!("expected a Milagro connection, got {other:?}"),
    }
}

/// The attack: a server started with keys 15 epochs old, and a client
/// holding a key of that epoch (and a clock that agrees with it). The
/// server refuses to start; told to start anyway, it refuses the share by
/// its own clock although it holds the matching key.
#[test]
fn p2p_keys_fifteen_epochs_old_refuse_to_start_and_their_shares_are_refused() {
    let d = Dta::new();
    let e = epoch_of(unix_now(), L);
    let old = e - 15;

    let refused = p2p_tls::server(
        d.server_key(old),
        p2p_tls::ServerOptions::new().previous_key(d.server_key(old - 1)),
    );
    let want = P2pError::ServerKeysNotCurrent {
        current: old,
        previous: Some(old - 1),
        now_epoch: e,
    };
    match refused {
        Err(MilagroError::ServerKeysNotCurrent(got)) => assert_eq!(got, want),
        other => panic!("expected ServerKeysNotCurrent, got {other:?}"),
    }
    match p2p_tls::check_server_keys(&d.server_key(old), None) {
        Err(MilagroError::ServerKeysNotCurrent(P2pError::ServerKeysNotCurrent {
            current,
            now_epoch,
            ..
        })) => assert_eq!((current, now_epoch), (old, e)),
        other => panic!("expected ServerKeysNotCurrent, got {other:?}"),
    }

    let acceptor = p2p_tls::server(
        d.server_key(old),
        ServerOptions::new()
            .allow_stale_keys(true)
            .previous_key(Some(d.server_key(old - 1))),
    )
    .unwrap();
    // A client whose clock is 15 epochs behind believes its key is current.
    let stale_client = p2p_tls::client_at(d.client_key(old), id(SERVER), || {
        unix_now() - 15 * u64::from(L)
    })
    .unwrap();
    let r = go(&acceptor, &stale_client, src(1));
    match &r.accept {
        Err(AcceptError::Admission(AdmissionRefusal::P2p(P2pError::EpochOutsideClock {
            got,
            now_epoch,
        }))) => assert_eq!((*got, *now_epoch), (old, e)),
        other => panic!("expected EpochOutsideClock, got {other:?}"),
    }
    // Refused at step 1 for the share's own bytes, like every other such
    // step-1 refusal (refusal_alert).
    assert_eq!(r.alert, ILLEGAL_PARAMETER_ALERT);
}

static SERVER_NOW: AtomicU64 = AtomicU64::new(0);
fn server_now() -> u64 {
    SERVER_NOW.load(Ordering::SeqCst)
}
static CLIENT_NOW: AtomicU64 = AtomicU64::new(0);
fn client_now() -> u64 {
    CLIENT_NOW.load(Ordering::SeqCst)
}

/// A server that keeps running while its keys age: what it accepts follows
/// its clock, not the keys it holds.
#[test]
fn p2p_accepted_epochs_follow_the_server_clock_not_the_keys_held() {
    let d = Dta::new();
    let e: u32 = 500_000;
    SERVER_NOW.store(mid_epoch(e), Ordering::SeqCst);
    CLIENT_NOW.store(mid_epoch(e), Ordering::SeqCst);
    let acceptor = p2p_tls::server_at(
        d.server_key(e),
        ServerOptions::new().previous_key(Some(d.server_key(e - 1))),
        server_now,
    )
    .unwrap();
    let current = p2p_tls::client_at(d.client_key(e), id(SERVER), client_now).unwrap();
    let previous = p2p_tls::client_at(d.client_key(e - 1), id(SERVER), client_now).unwrap();
    assert_eq!(accepted(&mut go(&acceptor, &current, src(1))), id(ALICE));
    assert_eq!(accepted(&mut go(&acceptor, &previous, src(1))), id(ALICE));

    // One epoch later: e is the previous epoch, still accepted; e − 1 is
    // two epochs old and refused by the clock, though the server holds it.
    SERVER_NOW.store(mid_epoch(e + 1), Ordering::SeqCst);
    assert_eq!(accepted(&mut go(&acceptor, &current, src(1))), id(ALICE));
    let r = go(&acceptor, &previous, src(1));
    assert!(
        matches!(
            r.accept,
            Err(AcceptError::Admission(AdmissionRefusal::P2p(
                P2pError::EpochOutsideClock {
                    got,
                    now_epoch
                }
            ))) if got == e - 1 && now_epoch == e + 1
        ),
        "{:?}",
        r.accept
    );
    assert_eq!(r.alert, ILLEGAL_PARAMETER_ALERT);

    // Two epochs later: nothing the server holds is accepted any more.
    SERVER_NOW.store(mid_epoch(e + 2), Ordering::SeqCst);
    let r = go(&acceptor, &current, src(1));
    assert!(
        matches!(
            r.accept,
            Err(AcceptError::Admission(AdmissionRefusal::P2p(
                P2pError::EpochOutsideClock { got, .. }
            ))) if got == e
        ),
        "{:?}",
        r.accept
    );
    assert_eq!(r.alert, ILLEGAL_PARAMETER_ALERT);

    // A server clock behind the client's: a share for what is, by the
    // server's clock, a future epoch is refused although the key is held.
    SERVER_NOW.store(mid_epoch(e - 1), Ordering::SeqCst);
    assert_eq!(accepted(&mut go(&acceptor, &previous, src(1))), id(ALICE));
    let r = go(&acceptor, &current, src(1));
    assert!(
        matches!(
            r.accept,
            Err(AcceptError::Admission(AdmissionRefusal::P2p(
                P2pError::EpochOutsideClock { got, now_epoch }
            ))) if got == e && now_epoch == e - 1
        ),
        "{:?}",
        r.accept
    );
}

/// The server's keys may be loaded ahead of their epoch (current key for
/// the next epoch, previous key for this one): it starts, and serves the
/// epoch it has a key for.
#[test]
fn p2p_server_starts_with_keys_for_the_current_or_previous_epoch_only() {
    let d = Dta::new();
    let e = epoch_of(unix_now(), L);
    // Current + previous, previous only (current key one ahead), current only.
    assert!(
        p2p_tls::server(
            d.server_key(e),
            p2p_tls::ServerOptions::new().previous_key(d.server_key(e - 1))
        )
        .is_ok()
    );
    assert!(
        p2p_tls::server(
            d.server_key(e + 1),
            p2p_tls::ServerOptions::new().previous_key(d.server_key(e))
        )
        .is_ok()
    );
    assert!(p2p_tls::server(d.server_key(e - 1), p2p_tls::ServerOptions::new()).is_ok());
    assert!(p2p_tls::check_server_keys(&d.server_key(e), None).is_ok());
    // Two ahead, two behind: no usable key.
    for k in [e + 2, e - 2] {
        assert!(matches!(
            p2p_tls::server(d.server_key(k), p2p_tls::ServerOptions::new()),
            Err(MilagroError::ServerKeysNotCurrent(_))
        ));
    }
}

/// The client's side of the same rule: a key for neither the current epoch
/// nor the one before, by the client's clock, is refused before anything is
/// sent — when the configuration is built, and again at each connection
/// (a client that outlives its key).
#[test]
fn p2p_client_refuses_a_key_not_for_the_current_or_previous_epoch_with_a_typed_error() {
    let d = Dta::new();
    let e = epoch_of(unix_now() - 30, L);
    match p2p_tls::client(d.client_key(e - 2), id(SERVER)) {
        Err(MilagroError::KeyUnusable(KxError::KeyEpochNotCurrent {
            key_epoch,
            now_epoch,
        })) => assert_eq!((key_epoch, now_epoch), (e - 2, e)),
        other => panic!("expected KeyEpochNotCurrent, got {other:?}"),
    }

    static NOW: AtomicU64 = AtomicU64::new(0);
    fn now() -> u64 {
        NOW.load(Ordering::SeqCst)
    }
    let k: u32 = 400_000;
    NOW.store(mid_epoch(k), Ordering::SeqCst);
    let client = p2p_tls::client_at(d.client_key(k), id(SERVER), now).unwrap();
    assert!(client.connect(SERVER).is_ok());
    NOW.store(mid_epoch(k + 1), Ordering::SeqCst);
    assert!(client.connect(SERVER).is_ok());
    NOW.store(mid_epoch(k + 2), Ordering::SeqCst);
    let err = client.connect(SERVER).unwrap_err();
    assert!(
        matches!(
            err,
            MilagroError::KeyUnusable(KxError::KeyEpochNotCurrent {
                key_epoch,
                now_epoch
            }) if key_epoch == k && now_epoch == k + 2
        ),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("epoch {k}")) && shown.contains(&format!("{}", k + 2)),
        "{shown}"
    );
}

/// The attack: one source floods a P2P server built without a guard with
/// ClientHellos (each one would cost the server a pairing). The default
/// throttle refuses the source after its burst; another source is served.
#[test]
fn p2p_server_built_without_a_guard_still_throttles_a_flooding_source() {
    let d = Dta::new();
    let e = epoch_of(unix_now() - 30, L);
    let acceptor = p2p_tls::server(
        d.server_key(e),
        p2p_tls::ServerOptions::new().previous_key(d.server_key(e - 1)),
    )
    .unwrap();
    let client = p2p_tls::client(d.client_key(e), id(SERVER)).unwrap();
    let mut conn = client.connect(SERVER).unwrap();
    let bytes = client_out(&mut conn);
    let Ok(Progress::Complete(hello)) = ClientHelloRecorder::new().feed(&bytes) else {
        panic!("the client's first flight is not one ClientHello");
    };
    // Step 1 only (no pairing): 100 ClientHellos from one source, far more
    // than the default burst (20) plus what refills (5/s) while they run.
    let mut admitted = 0;
    let mut throttled = 0;
    for _ in 0..100 {
        match acceptor.decide(src(7), &hello) {
            Ok(Decision::Milagro(_)) => admitted += 1,
            Err(AcceptError::Admission(AdmissionRefusal::Guard(Refusal::Throttled))) => {
                throttled += 1
            }
            other => panic!("unexpected decision {other:?}"),
        }
    }
    assert!(admitted >= 20, "the burst is served: {admitted}");
    assert!(throttled > 0, "the flood was never throttled");
    assert_eq!(admitted + throttled, 100);
    // On the wire: the plaintext handshake_failure of step 1. (Whole
    // handshakes until one is refused: the bucket refills at 5/s while the
    // loop above ran, far slower than these handshakes spend it.)
    let refused = (0..30)
        .map(|_| go(&acceptor, &client, src(7)))
        .find(|r| r.accept.is_err())
        .expect("whole handshakes from the flooding source were never throttled");
    assert!(matches!(
        refused.accept,
        Err(AcceptError::Admission(AdmissionRefusal::Guard(
            Refusal::Throttled
        )))
    ));
    // A per-source refusal: "try again later" (refusal_alert).
    assert_eq!(refused.alert, INTERNAL_ERROR_ALERT);
    // Another source is not affected.
    assert_eq!(accepted(&mut go(&acceptor, &client, src(8))), id(ALICE));
}
