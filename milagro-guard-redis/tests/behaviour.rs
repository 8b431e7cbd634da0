//! One behavioural suite, run against both stores: the in-memory store and
//! a `RedisStore` on a real `redis-server` (started per test by the
//! harness; skipped with a printed reason only when it is not installed and
//! `CI` is unset). Redis runs with `TimeSource::Caller` here, so the same
//! manual clock drives both stores and nothing sleeps.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use milagro_guard_redis::testing::RedisServer;
use milagro_guard_redis::{RedisOptions, RedisStore, TimeSource};
use milagro_tls::guard::{
    Attempt, Guard, GuardPolicy, GuardStore, GuardTime, ManualClock, MemoryGuard, Outcome,
    RecordingObserver, Refusal, ReservationTicket, block_on,
};
use milagro_tls::identity::Hid;

/// A guard over one store, with the manual clock and observer it reads.
struct Fixture {
    guard: Guard,
    store: Arc<dyn GuardStore>,
    clock: Arc<ManualClock>,
    seen: Arc<RecordingObserver>,
    // Dropped last: the store's runtime and its Redis.
    _rt: Option<tokio::runtime::Runtime>,
    _redis: Option<RedisServer>,
}

impl Fixture {
    fn advance_ms(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    fn wrong_pin(&self, h: &Hid, n: u32) {
        let r = self.guard.admit(h, &u(n), ip(1)).expect("admitted");
        r.proof_failed().wrong_pin().expect("recorded");
    }
}

/// Which store a case runs against.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Memory,
    Redis,
}

fn fixture(kind: Kind, policy: GuardPolicy, test: &str) -> Option<Fixture> {
    let clock = Arc::new(ManualClock::new(GuardTime::from_millis(1_000_000)));
    let seen = Arc::new(RecordingObserver::new());
    let (store, rt, redis): (Arc<dyn GuardStore>, _, _) = match kind {
        Kind::Memory => (Arc::new(MemoryGuard::new(policy)), None, None),
        Kind::Redis => {
            let redis = RedisServer::start_or_skip(test)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let mut options = RedisOptions::default();
            options.time = TimeSource::Caller;
            options.max_clock_skew = Duration::ZERO;
            let store = rt
                .block_on(RedisStore::connect_with(&redis.url(0), policy, options))
                .expect("connect");
            (Arc::new(store), Some(rt), Some(redis))
        }
    };
    let guard = Guard::new(store.clone(), clock.clone(), seen.clone());
    Some(Fixture {
        guard,
        store,
        clock,
        seen,
        _rt: rt,
        _redis: redis,
    })
}

fn hid(n: u32) -> Hid {
    let mut b = [0xA5u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    Hid(b)
}

fn u(n: u32) -> [u8; 48] {
    let mut b = [0x17u8; 48];
    b[44..].copy_from_slice(&n.to_be_bytes());
    b
}

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

/// A generous throttle, so cases about identities never hit it.
fn policy() -> GuardPolicy {
    let mut p = GuardPolicy::default();
    p.throttle.burst = 10_000;
    p.throttle.refill_per_sec = 0;
    p
}

fn refusal_of(a: Result<Attempt, Refusal>) -> Option<Refusal> {
    match a {
        Ok(Attempt::Reserved(_)) => None,
        Ok(Attempt::Silent(s)) => Some(s.refusal()),
        Err(r) => Some(r),
    }
}

fn reservation_caps(f: Fixture) {
    let h = hid(1);
    // max_in_flight = 2: a third concurrent attempt is refused silently.
    let a = f.guard.admit(&h, &u(1), ip(1)).unwrap();
    let b = f.guard.admit(&h, &u(2), ip(1)).unwrap();
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(3), ip(1))),
        Some(Refusal::TooManyInFlight)
    );
    assert_eq!(f.guard.status(&h).in_flight, 2);
    drop(a);
    eventually("one released", || f.guard.status(&h).in_flight == 1);
    drop(b);
    eventually("both released", || f.guard.status(&h).in_flight == 0);
    // confirmed + in_flight < N: with 4 confirmed of 5, only one may fly.
    for n in 0..4 {
        f.wrong_pin(&h, 10 + n);
    }
    let last = f.guard.admit(&h, &u(20), ip(1)).unwrap();
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(21), ip(1))),
        Some(Refusal::TooManyInFlight)
    );
    drop(last);
    eventually("released", || f.guard.status(&h).in_flight == 0);
    // A reservation whose TTL passed is released uncounted.
    let stale = f.guard.admit(&h, &u(22), ip(1)).unwrap();
    f.advance_ms(30_001);
    assert_eq!(f.guard.status(&h).in_flight, 0);
    assert_eq!(stale.proof_ok().unwrap_err(), Refusal::ReservationExpired);
    assert_eq!(f.guard.status(&h).confirmed, 4);
}

fn lockout_at_n(f: Fixture) {
    let h = hid(2);
    for n in 0..5 {
        assert!(!f.guard.status(&h).locked_out);
        f.wrong_pin(&h, n);
    }
    let s = f.guard.status(&h);
    assert_eq!((s.confirmed, s.cumulative, s.locked_out), (5, 5, true));
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(9), ip(1))),
        Some(Refusal::LockedOut)
    );
    // Another identity is untouched.
    assert!(f.guard.admit(&hid(3), &u(9), ip(1)).is_ok());
    assert!(
        f.seen
            .take()
            .iter()
            .any(|o| matches!(o, Outcome::LockedOut { hid } if *hid == h))
    );
}

fn replay(f: Fixture) {
    let h = hid(4);
    let r = f.guard.admit(&h, &u(1), ip(1)).unwrap();
    r.proof_ok().unwrap().handshake_completed();
    assert_eq!(
        f.guard.admit(&h, &u(1), ip(1)).unwrap_err(),
        Refusal::Replay
    );
    // A good proof racing the first insert is refused at proof_ok.
    let racer = f.guard.admit(&h, &u(2), ip(1)).unwrap();
    block_on(f.store.insert_after_good_proof(
        &milagro_tls::guard::ReplayKey::new(&h, &u(2)),
        f.clock_now(),
    ))
    .unwrap();
    assert_eq!(racer.proof_ok().unwrap_err(), Refusal::Replay);
    // The entry lives exactly the window (62 s by default).
    f.advance_ms(61_999);
    assert_eq!(
        f.guard.admit(&h, &u(1), ip(1)).unwrap_err(),
        Refusal::Replay
    );
    f.advance_ms(1);
    assert!(f.guard.admit(&h, &u(1), ip(1)).is_ok());
}

/// Waits (up to 5 s of real time) until `cond` holds: a dropped handle's
/// resolution is applied without being awaited, so with a network store it
/// lands shortly after the drop.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Fixture {
    fn clock_now(&self) -> GuardTime {
        use milagro_tls::guard::Clock;
        self.clock.now()
    }
}

fn throttle(f: Fixture) {
    // burst 20, refill 5/s, hello 1, failure 10.
    let src = ip(9);
    for n in 0..20 {
        assert!(f.guard.admit_source(src).is_ok(), "hello {n}");
    }
    assert_eq!(f.guard.admit_source(src).unwrap_err(), Refusal::Throttled);
    assert_eq!(f.guard.source_tokens(src), 0);
    f.advance_ms(1_000);
    assert_eq!(f.guard.source_tokens(src), 5);
    f.guard.charge_silent_refusal(src);
    assert_eq!(f.guard.source_tokens(src), -5);
    // Debt is floored at one bucket.
    for _ in 0..5 {
        f.guard.charge_silent_refusal(src);
    }
    assert_eq!(f.guard.source_tokens(src), -20);
    // IPv6 counts per /64.
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    f.guard.charge_silent_refusal(a);
    assert_eq!(f.guard.source_tokens(b), 10);
    // Refilled buckets are full again.
    f.advance_ms(60_000);
    assert_eq!(f.guard.source_tokens(src), 20);
}

fn slow_down(f: Fixture) {
    // burst 10, one per 6 s.
    let h = hid(5);
    for n in 0..10 {
        let r = f.guard.admit(&h, &u(n), ip(1)).expect("served");
        r.proof_failed().invalid_credential();
    }
    assert!(f.guard.status(&h).slowed_down);
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(50), ip(1))),
        Some(Refusal::SlowedDown)
    );
    let s = f.guard.status(&h);
    assert_eq!((s.confirmed, s.cumulative, s.locked_out), (0, 0, false));
    f.advance_ms(6_000);
    assert!(!f.guard.status(&h).slowed_down);
    let r = f
        .guard
        .admit(&h, &u(51), ip(1))
        .expect("one more per interval");
    r.proof_failed().invalid_credential();
    assert!(f.guard.status(&h).slowed_down);
}

fn backlog_cap(f: Fixture) {
    // max_pending_classifications = 2 (set by the caller's policy).
    let a = f.guard.admit(&hid(6), &u(1), ip(1)).unwrap();
    let b = f.guard.admit(&hid(7), &u(1), ip(1)).unwrap().proof_failed();
    assert_eq!(f.guard.pending_classifications(), 2);
    assert_eq!(
        f.guard.admit(&hid(8), &u(1), ip(1)).unwrap_err(),
        Refusal::ClassifierBusy
    );
    // A good proof gives its slot back; a classification gives back the other.
    let _proved = a.proof_ok().unwrap();
    assert_eq!(f.guard.pending_classifications(), 1);
    b.invalid_credential();
    assert_eq!(f.guard.pending_classifications(), 0);
    assert!(f.guard.admit(&hid(8), &u(1), ip(1)).is_ok());
}

fn unlock_and_reenrol(f: Fixture) {
    // cumulative cap 7 (set by the caller's policy), N = 5.
    let h = hid(9);
    for n in 0..5 {
        f.wrong_pin(&h, n);
    }
    assert!(f.guard.status(&h).locked_out);
    f.guard.try_unlock(&h).unwrap();
    let s = f.guard.status(&h);
    assert_eq!((s.confirmed, s.cumulative, s.locked_out), (0, 5, false));
    f.wrong_pin(&h, 10);
    f.wrong_pin(&h, 11);
    let s = f.guard.status(&h);
    assert!(s.locked_until_reenrolled);
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(12), ip(1))),
        Some(Refusal::LockedUntilReenrolled)
    );
    // A successful login does not lift the cumulative cap; re-enrolment does.
    f.guard.try_unlock(&h).unwrap();
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(13), ip(1))),
        Some(Refusal::LockedUntilReenrolled)
    );
    f.guard.try_reenrolled(&h).unwrap();
    let s = f.guard.status(&h);
    assert_eq!((s.confirmed, s.cumulative), (0, 0));
    let r = f.guard.admit(&h, &u(14), ip(1)).unwrap();
    r.proof_ok().unwrap().handshake_completed();
}

fn idempotent_resolution(f: Fixture) {
    let h = hid(10);
    let now = f.clock_now();
    let t: ReservationTicket = block_on(f.store.reserve(&h, ip(1), now)).unwrap();
    assert!(block_on(f.store.proof_failed(&t, now)).unwrap());
    let first = block_on(f.store.wrong_pin(&t, now)).unwrap().unwrap();
    let again = block_on(f.store.wrong_pin(&t, now)).unwrap().unwrap();
    assert_eq!((first.confirmed, first.cumulative), (1, 1));
    assert_eq!(again, first, "a retried wrong PIN is not counted twice");
    block_on(f.store.release(&t, now)).unwrap();
    assert_eq!(block_on(f.store.status(&h, now)).unwrap().confirmed, 1);
    // A completion applied twice resets once: a later wrong PIN stays.
    let ok = block_on(f.store.reserve(&h, ip(1), now)).unwrap();
    assert!(block_on(f.store.proof_ok(&ok, now)).unwrap());
    block_on(f.store.completed(&ok, now)).unwrap();
    let bad = block_on(f.store.reserve(&h, ip(1), now)).unwrap();
    block_on(f.store.wrong_pin(&bad, now)).unwrap();
    block_on(f.store.completed(&ok, now)).unwrap();
    let s = block_on(f.store.status(&h, now)).unwrap();
    assert_eq!((s.confirmed, s.cumulative, s.in_flight), (1, 2, 0));
    // An invalid credential applied twice spends the slow-down once.
    let inv = block_on(f.store.reserve(&h, ip(1), now)).unwrap();
    block_on(f.store.invalid_credential(&inv, now)).unwrap();
    block_on(f.store.invalid_credential(&inv, now)).unwrap();
    // burst 2 (set by the caller): one more still fits.
    assert!(!block_on(f.store.status(&h, now)).unwrap().slowed_down);
}

fn dropped_classification_counts(f: Fixture) {
    let h = hid(11);
    let pending = f.guard.admit(&h, &u(1), ip(1)).unwrap().proof_failed();
    drop(pending);
    eventually("counted", || f.guard.status(&h).confirmed == 1);
    assert_eq!(f.guard.status(&h).in_flight, 0);
    assert_eq!(f.guard.pending_classifications(), 0);
}

/// docs/protocol.md §6.4 step 1 checks 4–6 in order, whether the store
/// answers them in one operation (a free classifier slot) or the guard
/// checks its cap between them: which refusal wins, which tokens are spent,
/// what is reserved.
fn admission_order(f: Fixture) {
    // Default throttle (burst 20, hello 1, failure 10; the manual clock
    // never refills it), max_pending_classifications 2, max_in_flight 1.
    let (h, src) = (hid(12), ip(2));
    let tokens = || f.guard.source_tokens(src);
    let proved = f.guard.admit(&h, &u(1), src).unwrap().proof_ok().unwrap();
    // Waits for the store, so the slot is free before in_flight is read.
    block_on(proved.handshake_completed_async());
    assert_eq!(tokens(), 19);
    // 4 before 5: a replay spends no token and reserves nothing.
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(1), src)),
        Some(Refusal::Replay)
    );
    assert_eq!((tokens(), f.guard.status(&h).in_flight), (19, 0));
    let a = f.guard.admit(&h, &u(2), src).unwrap();
    let c = f.guard.admit(&hid(13), &u(2), src).unwrap();
    assert_eq!((tokens(), f.guard.pending_classifications()), (17, 2));
    // At the cap: a replay is still a replay; a fresh share spends its
    // hello token and is ClassifierBusy, reserving nothing.
    assert_eq!(
        refusal_of(f.guard.attempt(&h, &u(1), src)),
        Some(Refusal::Replay)
    );
    assert_eq!(tokens(), 17);
    assert_eq!(
        refusal_of(f.guard.attempt(&hid(14), &u(3), src)),
        Some(Refusal::ClassifierBusy)
    );
    assert_eq!((tokens(), f.guard.status(&hid(14)).in_flight), (16, 0));
    drop(c);
    // A per-identity refusal has spent its hello token, reserves nothing
    // and holds a classifier slot like a reservation.
    let silent = match f.guard.attempt(&h, &u(4), src) {
        Ok(Attempt::Silent(s)) => s,
        other => panic!("expected a silent refusal, got {other:?}"),
    };
    assert_eq!(silent.refusal(), Refusal::TooManyInFlight);
    assert_eq!(tokens(), 15);
    assert_eq!(f.guard.pending_classifications(), 2);
    eventually("only `a` in flight", || f.guard.status(&h).in_flight == 1);
    drop(silent);
    // 5 before the cap and 6: a throttled source reserves nothing, and is
    // Throttled rather than ClassifierBusy when the cap is reached too.
    f.guard.charge_silent_refusal(src);
    f.guard.charge_silent_refusal(src);
    assert_eq!(tokens(), -5);
    assert_eq!(
        refusal_of(f.guard.attempt(&hid(15), &u(5), src)),
        Some(Refusal::Throttled)
    );
    assert_eq!(f.guard.status(&hid(15)).in_flight, 0);
    let _d = f.guard.admit(&hid(16), &u(5), ip(3)).unwrap();
    assert_eq!(f.guard.pending_classifications(), 2);
    assert_eq!(
        refusal_of(f.guard.attempt(&hid(15), &u(6), src)),
        Some(Refusal::Throttled)
    );
    assert_eq!(tokens(), -5);
    drop(a);
}

/// `handshake_completed` returns without waiting for the store (a login
/// does not wait a round trip for it), yet the completion is applied: the
/// slot is released and the confirmed count reset, the cumulative one kept.
fn completion_applies_without_being_awaited(f: Fixture) {
    let h = hid(17);
    f.wrong_pin(&h, 1);
    f.wrong_pin(&h, 2);
    let proved = f.guard.admit(&h, &u(3), ip(1)).unwrap().proof_ok().unwrap();
    assert_eq!(f.guard.status(&h).in_flight, 1);
    proved.handshake_completed();
    assert!(
        f.seen
            .take()
            .iter()
            .any(|o| matches!(o, Outcome::Completed { hid, .. } if *hid == h))
    );
    eventually("the completion lands", || {
        let s = f.guard.status(&h);
        (s.confirmed, s.cumulative, s.in_flight) == (0, 2, 0)
    });
    assert!(
        !f.seen
            .take()
            .iter()
            .any(|o| matches!(o, Outcome::StoreFailed { .. })),
        "a completion that landed reports no failure"
    );
}

macro_rules! both_stores {
    ($($case:ident => $policy:expr;)*) => {
        mod memory {
            use super::*;
            $(#[test] fn $case() {
                super::$case(fixture(Kind::Memory, $policy, stringify!($case)).unwrap());
            })*
        }
        mod redis {
            use super::*;
            $(#[test] fn $case() {
                if let Some(f) = fixture(Kind::Redis, $policy, stringify!($case)) {
                    super::$case(f);
                }
            })*
        }
    };
}

both_stores! {
    reservation_caps => policy();
    lockout_at_n => policy();
    replay => policy();
    throttle => GuardPolicy::default();
    slow_down => policy();
    backlog_cap => {
        let mut p = policy();
        p.lockout.max_pending_classifications = 2;
        p
    };
    unlock_and_reenrol => {
        let mut p = policy();
        p.lockout.cumulative_cap = 7;
        p
    };
    idempotent_resolution => {
        let mut p = policy();
        p.slowdown.burst = 2;
        p.lockout.max_in_flight = 5;
        p
    };
    dropped_classification_counts => policy();
    completion_applies_without_being_awaited => policy();
    admission_order => {
        let mut p = GuardPolicy::default();
        p.lockout.max_pending_classifications = 2;
        p.lockout.max_in_flight = 1;
        p
    };
}
