//! Deterministic tests: a manual clock, exact counts.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::identity::Hid;

struct Fixture {
    guard: Guard,
    mem: Arc<MemoryGuard>,
    clock: Arc<ManualClock>,
    seen: Arc<RecordingObserver>,
}

impl Fixture {
    fn new(policy: GuardPolicy) -> Self {
        let mem = Arc::new(MemoryGuard::new(policy));
        let clock = Arc::new(ManualClock::new(GuardTime::from_millis(1_000_000)));
        let seen = Arc::new(RecordingObserver::new());
        let guard = Guard::new(mem.clone(), clock.clone(), seen.clone());
        Self {
            guard,
            mem,
            clock,
            seen,
        }
    }

    fn advance_ms(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    /// One attempt classified as a wrong PIN; `n` makes U unique.
    fn wrong_pin(&self, h: &Hid, n: u32) -> Option<WrongPinCounts> {
        let r = self.guard.admit(h, &u(n), ip(1)).expect("admitted");
        r.proof_failed().wrong_pin()
    }

    fn good_login(&self, h: &Hid, n: u32) {
        let r = self.guard.admit(h, &u(n), ip(1)).expect("admitted");
        r.proof_ok().expect("proof accepted").handshake_completed();
    }
}

/// The in-memory store called directly, its (ready) futures driven by
/// [`block_on`].
struct Direct(MemoryGuard);

impl Direct {
    fn replay_seen(&self, k: &ReplayKey, now: GuardTime) -> Result<(), Refusal> {
        block_on(self.0.replay_seen(k, now))
    }

    fn insert_after_good_proof(&self, k: &ReplayKey, now: GuardTime) -> Result<(), Refusal> {
        block_on(self.0.insert_after_good_proof(k, now))
    }

    fn admit_source(&self, s: IpAddr, now: GuardTime) -> Result<(), Refusal> {
        block_on(self.0.admit_source(s, now))
    }

    fn charge_source(&self, s: IpAddr, now: GuardTime) {
        block_on(self.0.charge_source(s, now)).unwrap();
    }

    fn source_tokens(&self, s: IpAddr, now: GuardTime) -> i64 {
        block_on(self.0.source_tokens(s, now)).unwrap()
    }

    fn replay_entries(&self) -> usize {
        self.0.replay_entries()
    }

    fn tracked_sources(&self) -> usize {
        self.0.tracked_sources()
    }
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

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | n))
}

/// A throttle that never gets in the way of lockout tests.
fn open_throttle() -> ThrottlePolicy {
    ThrottlePolicy {
        burst: 1_000_000,
        ..ThrottlePolicy::default()
    }
}

fn policy() -> GuardPolicy {
    GuardPolicy {
        throttle: open_throttle(),
        ..GuardPolicy::default()
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let p = GuardPolicy::default();
    assert_eq!(p.lockout.max_failures, 5);
    assert_eq!(p.lockout.max_in_flight, 2);
    assert_eq!(p.lockout.cumulative_cap, 20);
    assert_eq!(p.lockout.reservation_ttl, Duration::from_secs(30));
    assert_eq!(p.lockout.max_pending_classifications, 64);
    // 10 invalid classifications at once, then 10 per minute.
    assert_eq!(p.slowdown.burst, 10);
    assert_eq!(p.slowdown.interval, Duration::from_secs(6));
    // 2 × 30 s + 2 s slack: derived from the lifetime rule, not copied.
    assert_eq!(DEFAULT_CLOCK_WINDOW, Duration::from_secs(30));
    assert_eq!(p.replay.window, Duration::from_secs(62));
    assert!(p.replay.covers_clock_window(DEFAULT_CLOCK_WINDOW));
    assert_eq!(p.throttle.invalid_cost, 10);
}

#[test]
fn lockout_after_n_confirmed_wrong_pins() {
    let f = Fixture::new(policy());
    let h = hid(1);
    for i in 1..=4u32 {
        let c = f.wrong_pin(&h, i).expect("recorded");
        assert_eq!((c.confirmed, c.cumulative, c.locked_out), (i, i, false));
    }
    let c = f.wrong_pin(&h, 5).expect("recorded");
    assert_eq!((c.confirmed, c.cumulative, c.locked_out), (5, 5, true));
    let seen = f.seen.take();
    assert_eq!(seen.len(), 6);
    assert_eq!(
        &seen[4..],
        &[
            Outcome::WrongPin {
                hid: h,
                source: ip(1),
                confirmed: 5,
                cumulative: 5
            },
            Outcome::LockedOut { hid: h }
        ]
    );

    assert_eq!(
        f.guard.admit(&h, &u(6), ip(1)).err(),
        Some(Refusal::LockedOut)
    );
    // Refusals count nothing.
    for i in 7..20 {
        assert_eq!(
            f.guard.admit(&h, &u(i), ip(1)).err(),
            Some(Refusal::LockedOut)
        );
    }
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative, st.in_flight), (5, 5, 0));
    assert!(st.locked_out && !st.locked_until_reenrolled);
    // Other identities are unaffected.
    assert!(f.guard.admit(&hid(2), &u(1), ip(1)).is_ok());

    f.guard.unlock(&h);
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative), (0, 5));
    assert!(f.guard.admit(&h, &u(30), ip(1)).is_ok());
}

#[test]
fn in_flight_cap_and_threshold_refuse_without_counting() {
    let f = Fixture::new(policy());
    let h = hid(1);
    let a = f.guard.admit(&h, &u(1), ip(1)).unwrap();
    let b = f.guard.admit(&h, &u(2), ip(1)).unwrap();
    assert_eq!(
        f.guard.admit(&h, &u(3), ip(1)).err(),
        Some(Refusal::TooManyInFlight)
    );
    assert_eq!(f.guard.status(&h).in_flight, 2);
    drop(a);
    drop(b);
    assert_eq!(f.guard.status(&h), IdentityStatus::default());

    // confirmed 4 + 1 in flight = N: a second one is refused.
    for i in 10..14 {
        f.wrong_pin(&h, i);
    }
    let held = f.guard.admit(&h, &u(20), ip(1)).unwrap();
    assert_eq!(
        f.guard.admit(&h, &u(21), ip(1)).err(),
        Some(Refusal::TooManyInFlight)
    );
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.in_flight), (4, 1));
    drop(held);
    assert!(f.guard.admit(&h, &u(22), ip(1)).is_ok());
}

#[test]
fn parallel_reservations_never_exceed_n() {
    // A wide in-flight cap so only the N bound is in play: holding every
    // reservation, exactly N of 16 × 200 attempts can succeed.
    let mut p = policy();
    p.lockout.max_in_flight = 100;
    let f = Arc::new(Fixture::new(p));
    let h = hid(9);
    let ok = AtomicU32::new(0);
    std::thread::scope(|s| {
        let mut threads = Vec::new();
        for t in 0..16u32 {
            let (f, ok) = (&f, &ok);
            threads.push(s.spawn(move || {
                let mut held = Vec::new();
                for j in 0..200u32 {
                    match f.guard.admit(&h, &u(t * 1000 + j), ip(t)) {
                        Ok(r) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            held.push(r);
                        }
                        Err(e) => assert_eq!(e, Refusal::TooManyInFlight),
                    }
                }
                // Returned, not dropped: kept until every thread has tried.
                held
            }));
        }
        let held: Vec<Vec<Reservation>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(held.iter().map(Vec::len).sum::<usize>(), 5);
        assert_eq!(f.guard.status(&h).in_flight, 5);
    });
    // All handles were dropped: everything released.
    assert_eq!(ok.load(Ordering::SeqCst), 5);
    assert_eq!(f.guard.status(&h), IdentityStatus::default());
}

#[test]
fn parallel_mixed_outcomes_confirm_exactly_n() {
    let f = Arc::new(Fixture::new(policy()));
    let h = hid(3);
    let wrong = AtomicU32::new(0);
    let invalid = AtomicU32::new(0);
    let max_seen = AtomicU32::new(0);
    std::thread::scope(|s| {
        for t in 0..16u32 {
            let (f, wrong, invalid, max_seen) = (&f, &wrong, &invalid, &max_seen);
            s.spawn(move || {
                for j in 0..200u32 {
                    let Ok(r) = f.guard.admit(&h, &u(t * 1000 + j), ip(t)) else {
                        continue;
                    };
                    let st = f.guard.status(&h);
                    max_seen.fetch_max(st.confirmed + st.in_flight, Ordering::SeqCst);
                    assert!(st.in_flight <= 2);
                    let pending = r.proof_failed();
                    if (t + j) % 3 == 0 {
                        pending.invalid_credential();
                        invalid.fetch_add(1, Ordering::SeqCst);
                    } else {
                        let c = pending.wrong_pin().expect("recorded");
                        assert!(c.confirmed <= 5);
                        wrong.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(wrong.load(Ordering::SeqCst), 5);
    assert!(max_seen.load(Ordering::SeqCst) <= 5);
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative, st.in_flight), (5, 5, 0));
    // Every WrongPin outcome the observer saw has a distinct confirmed count 1..=5.
    let seen = f.seen.take();
    let invalid_seen = seen
        .iter()
        .filter(|o| matches!(o, Outcome::InvalidCredential { .. }))
        .count();
    assert_eq!(invalid_seen, invalid.load(Ordering::SeqCst) as usize);
    let mut counts: Vec<u32> = seen
        .iter()
        .filter_map(|o| match o {
            Outcome::WrongPin { confirmed, .. } => Some(*confirmed),
            _ => None,
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![1, 2, 3, 4, 5]);
}

#[test]
fn invalid_credentials_never_lock_but_throttle_the_source() {
    let p = GuardPolicy {
        throttle: ThrottlePolicy {
            refill_per_sec: 5,
            burst: 20,
            hello_cost: 1,
            invalid_cost: 10,
            max_sources: 1000,
        },
        // 32 invalid classifications at one victim would slow it down: that
        // is covered by the slow-down tests below; here, the throttle alone.
        slowdown: SlowdownPolicy::disabled(),
        ..GuardPolicy::default()
    };
    let f = Fixture::new(p);
    let victim = hid(1);
    // One attacker source: 20 − (1 + 10) = 9, then 9 − 11 = −2: throttled.
    let r = f.guard.admit(&victim, &u(1), ip(66)).unwrap();
    r.proof_failed().invalid_credential();
    assert_eq!(f.guard.source_tokens(ip(66)), 9);
    let r = f.guard.admit(&victim, &u(2), ip(66)).unwrap();
    r.bad_dleq();
    assert_eq!(f.guard.source_tokens(ip(66)), -2);
    assert_eq!(
        f.guard.admit(&victim, &u(3), ip(66)).err(),
        Some(Refusal::Throttled)
    );
    // A refused hello takes nothing.
    assert_eq!(f.guard.source_tokens(ip(66)), -2);
    // 600 ms later: −2 + 3 = 1 token: one more hello.
    f.advance_ms(600);
    assert_eq!(f.guard.source_tokens(ip(66)), 1);
    assert!(f.guard.admit(&victim, &u(4), ip(66)).is_ok_and(|r| {
        r.proof_failed().invalid_credential();
        true
    }));

    // Many sources aimed at the victim: never locked, nothing counted.
    for n in 100..160 {
        let r = f.guard.admit(&victim, &u(n), ip(n)).unwrap();
        if n % 2 == 0 {
            r.proof_failed().invalid_credential();
        } else {
            r.bad_dleq();
        }
    }
    assert_eq!(f.guard.status(&victim), IdentityStatus::default());
    assert_eq!(f.mem.tracked_identities(), 0);
    f.good_login(&victim, 500);
    let seen = f.seen.take();
    assert_eq!(
        seen.iter()
            .filter(|o| matches!(o, Outcome::InvalidCredential { hid, .. } if *hid == victim))
            .count(),
        32
    );
    assert_eq!(
        seen.iter()
            .filter(|o| matches!(o, Outcome::BadProof { .. }))
            .count(),
        31
    );
}

#[test]
fn completion_resets_the_confirmed_count() {
    let f = Fixture::new(policy());
    let h = hid(4);
    for i in 0..4 {
        f.wrong_pin(&h, i);
    }
    f.good_login(&h, 100);
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative, st.in_flight), (0, 4, 0));
    for i in 200..205 {
        f.wrong_pin(&h, i);
    }
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative), (5, 9));
    assert_eq!(
        f.guard.admit(&h, &u(300), ip(1)).err(),
        Some(Refusal::LockedOut)
    );
}

#[test]
fn abandoned_proved_reservation_does_not_reset() {
    let f = Fixture::new(policy());
    let h = hid(4);
    for i in 0..3 {
        f.wrong_pin(&h, i);
    }
    let p = f
        .guard
        .admit(&h, &u(50), ip(1))
        .unwrap()
        .proof_ok()
        .unwrap();
    assert_eq!(f.guard.status(&h).in_flight, 1);
    drop(p);
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.in_flight), (3, 0));
    assert_eq!(
        f.seen.take().last(),
        Some(&Outcome::Abandoned {
            hid: h,
            source: ip(1),
            stage: Stage::Proved
        })
    );
}

#[test]
fn cumulative_cap_holds_across_logins_until_reenrolled() {
    let mut p = policy();
    p.lockout.cumulative_cap = 7;
    let f = Fixture::new(p);
    let h = hid(5);
    for i in 0..4 {
        f.wrong_pin(&h, i);
    }
    f.good_login(&h, 10);
    for i in 20..22 {
        f.wrong_pin(&h, i);
    }
    f.good_login(&h, 30);
    let c = f.wrong_pin(&h, 40).unwrap();
    assert_eq!(
        c,
        WrongPinCounts {
            confirmed: 1,
            cumulative: 7,
            locked_out: false,
            locked_until_reenrolled: true
        }
    );
    assert_eq!(
        f.seen.take().last(),
        Some(&Outcome::LockedUntilReenrolled { hid: h })
    );
    assert_eq!(
        f.guard.admit(&h, &u(50), ip(1)).err(),
        Some(Refusal::LockedUntilReenrolled)
    );
    // An unlock resets the confirmed count only: still locked.
    f.guard.unlock(&h);
    assert_eq!(
        f.guard.admit(&h, &u(51), ip(1)).err(),
        Some(Refusal::LockedUntilReenrolled)
    );
    f.guard.reenrolled(&h);
    assert_eq!(f.guard.status(&h), IdentityStatus::default());
    f.good_login(&h, 52);
}

#[test]
fn ttl_releases_abandoned_reservations() {
    let f = Fixture::new(policy());
    let h = hid(6);
    // Two handles that are never resolved nor dropped (a stuck thread).
    let a = f.guard.admit(&h, &u(1), ip(1)).unwrap();
    let b = f.guard.admit(&h, &u(2), ip(1)).unwrap();
    f.advance_ms(29_999);
    assert_eq!(
        f.guard.admit(&h, &u(3), ip(1)).err(),
        Some(Refusal::TooManyInFlight)
    );
    f.advance_ms(1);
    assert_eq!(f.guard.status(&h).in_flight, 0);
    let c = f.guard.admit(&h, &u(4), ip(1)).unwrap();
    // Dropping the expired handles later releases nothing else.
    drop(a);
    drop(b);
    assert_eq!(f.guard.status(&h).in_flight, 1);
    drop(c);
    assert_eq!(f.mem.tracked_identities(), 0);
}

#[test]
fn pending_classifications_never_expire_by_time() {
    let f = Fixture::new(policy());
    let h = hid(7);
    let pending = f.guard.admit(&h, &u(1), ip(1)).unwrap().proof_failed();
    let pending2 = f.guard.admit(&h, &u(2), ip(1)).unwrap().proof_failed();
    // Far beyond every TTL (reservation 30 s, the replay window): ten days.
    f.advance_ms(10 * 24 * 3600 * 1000);
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative, st.in_flight), (0, 0, 2));
    assert_eq!(f.guard.pending_classifications(), 2);
    // Both slots still held: the thief's third guess is refused.
    assert_eq!(
        f.guard.admit(&h, &u(3), ip(1)).err(),
        Some(Refusal::TooManyInFlight)
    );
    // Only classification frees them; the wrong PIN counts.
    let c = pending.wrong_pin().unwrap();
    assert_eq!((c.confirmed, c.cumulative), (1, 1));
    pending2.invalid_credential();
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative, st.in_flight), (1, 1, 0));
    assert_eq!(f.guard.pending_classifications(), 0);
    assert!(
        !f.seen
            .take()
            .iter()
            .any(|o| matches!(o, Outcome::Expired { .. } | Outcome::Abandoned { .. }))
    );
}

#[test]
fn dropped_unclassified_failure_counts_as_a_wrong_pin() {
    let f = Fixture::new(policy());
    let h = hid(7);
    drop(f.guard.admit(&h, &u(1), ip(1)).unwrap().proof_failed());
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative, st.in_flight), (1, 1, 0));
    assert_eq!(f.guard.pending_classifications(), 0);
    let expected = WrongPinCounts {
        confirmed: 1,
        cumulative: 1,
        locked_out: false,
        locked_until_reenrolled: false,
    };
    assert_eq!(
        f.seen.take().last(),
        Some(&Outcome::DroppedUnclassified {
            hid: h,
            source: ip(1),
            counts: Some(expected)
        })
    );
    // Dropping enough of them locks, exactly like classified wrong PINs.
    for i in 2..=5 {
        drop(f.guard.admit(&h, &u(i), ip(1)).unwrap().proof_failed());
    }
    assert!(f.guard.status(&h).locked_out);
    assert_eq!(f.seen.take().last(), Some(&Outcome::LockedOut { hid: h }));
    assert_eq!(
        f.guard.admit(&h, &u(9), ip(1)).err(),
        Some(Refusal::LockedOut)
    );
    // Unproved reservations dropped still count nothing.
    let other = hid(8);
    drop(f.guard.admit(&other, &u(1), ip(1)).unwrap());
    assert_eq!(f.guard.status(&other), IdentityStatus::default());
}

#[test]
fn proof_after_reservation_ttl_is_refused() {
    let f = Fixture::new(policy());
    let h = hid(8);
    let r = f.guard.admit(&h, &u(1), ip(1)).unwrap();
    f.advance_ms(30_000);
    assert_eq!(r.proof_ok().err(), Some(Refusal::ReservationExpired));
    assert_eq!(f.guard.status(&h), IdentityStatus::default());
}

#[test]
fn late_wrong_pin_with_full_table_is_reported_unrecorded() {
    let mut p = policy();
    p.lockout.max_identities = 1;
    let f = Fixture::new(p);
    // The reservation expires before its proof is checked (a stuck handle).
    let r = f.guard.admit(&hid(1), &u(1), ip(1)).unwrap();
    f.advance_ms(30_000);
    let _other = f.guard.admit(&hid(2), &u(2), ip(1)).unwrap();
    let pending = r.proof_failed();
    assert_eq!(
        f.seen.take().last(),
        Some(&Outcome::Expired {
            hid: hid(1),
            source: ip(1),
            stage: Stage::AwaitingClassification
        })
    );
    assert_eq!(pending.wrong_pin(), None);
    assert_eq!(
        f.seen.take().last(),
        Some(&Outcome::WrongPinUnrecorded {
            hid: hid(1),
            source: ip(1),
        })
    );
    assert_eq!(f.mem.tracked_identities(), 1);
}

#[test]
fn replay_hit_is_refused_and_expires_after_the_window() {
    let f = Fixture::new(policy());
    let h = hid(10);
    f.good_login(&h, 1);
    assert_eq!(f.guard.admit(&h, &u(1), ip(2)).err(), Some(Refusal::Replay));
    // Same U under another HID is another key.
    assert!(f.guard.admit(&hid(11), &u(1), ip(2)).is_ok());
    f.advance_ms(61_999);
    assert_eq!(f.guard.admit(&h, &u(1), ip(2)).err(), Some(Refusal::Replay));
    f.advance_ms(1);
    assert!(f.guard.admit(&h, &u(1), ip(2)).is_ok());
    // A replay refusal counts nothing against the identity.
    assert_eq!(f.guard.status(&h).cumulative, 0);
}

#[test]
fn concurrent_duplicate_share_second_proof_refused() {
    let f = Fixture::new(policy());
    let h = hid(12);
    let a = f.guard.admit(&h, &u(1), ip(1)).unwrap();
    let b = f.guard.admit(&h, &u(1), ip(2)).unwrap();
    let a = a.proof_ok().unwrap();
    assert_eq!(b.proof_ok().err(), Some(Refusal::Replay));
    assert_eq!(f.guard.status(&h).in_flight, 1);
    a.handshake_completed();
    assert_eq!(f.guard.status(&h), IdentityStatus::default());
}

#[test]
fn replay_cache_full_fails_closed_and_prunes_expired() {
    let mut p = policy();
    p.replay.capacity = 3;
    let f = Fixture::new(p);
    for i in 0..2 {
        f.good_login(&hid(i), i);
    }
    f.advance_ms(30_000);
    f.good_login(&hid(2), 2);
    assert_eq!(f.mem.replay_entries(), 3);
    let r = f.guard.admit(&hid(3), &u(3), ip(1)).unwrap();
    assert_eq!(r.proof_ok().err(), Some(Refusal::ReplayCacheFull));
    assert_eq!(f.mem.replay_entries(), 3);
    // The live entries are all still refused (nothing evicted).
    for i in 0..3 {
        assert_eq!(
            f.guard.admit(&hid(i), &u(i), ip(1)).err(),
            Some(Refusal::Replay)
        );
    }
    // At +62 s the first two expire and are pruned on the next insert.
    f.advance_ms(32_000);
    f.good_login(&hid(3), 3);
    assert_eq!(f.mem.replay_entries(), 2);
    assert!(f.guard.admit(&hid(0), &u(0), ip(1)).is_ok());
    assert_eq!(
        f.guard.admit(&hid(2), &u(2), ip(1)).err(),
        Some(Refusal::Replay)
    );
}

#[test]
fn replay_store_api_direct() {
    let mut p = policy();
    p.replay.capacity = 2;
    let m = Direct(MemoryGuard::new(p));
    let t0 = GuardTime::from_millis(0);
    let k1 = ReplayKey::new(&hid(1), &u(1));
    let k2 = ReplayKey::new(&hid(1), &u(2));
    let k3 = ReplayKey::new(&hid(1), &u(3));
    assert_eq!(m.replay_seen(&k1, t0), Ok(()));
    assert_eq!(m.insert_after_good_proof(&k1, t0), Ok(()));
    assert_eq!(m.insert_after_good_proof(&k1, t0), Err(Refusal::Replay));
    assert_eq!(m.replay_seen(&k1, t0), Err(Refusal::Replay));
    assert_eq!(m.insert_after_good_proof(&k2, t0), Ok(()));
    assert_eq!(
        m.insert_after_good_proof(&k3, t0),
        Err(Refusal::ReplayCacheFull)
    );
    let t62 = GuardTime::from_millis(62_000);
    assert_eq!(m.replay_seen(&k1, t62), Ok(()));
    assert_eq!(m.insert_after_good_proof(&k3, t62), Ok(()));
    assert_eq!(m.replay_entries(), 1);
}

#[test]
fn throttle_refills_over_time() {
    let mut p = policy();
    p.throttle = ThrottlePolicy {
        refill_per_sec: 2,
        burst: 3,
        hello_cost: 1,
        invalid_cost: 10,
        max_sources: 16,
    };
    let m = Direct(MemoryGuard::new(p));
    let t = |ms| GuardTime::from_millis(ms);
    let src = ip(5);
    for _ in 0..3 {
        assert_eq!(m.admit_source(src, t(0)), Ok(()));
    }
    assert_eq!(m.admit_source(src, t(0)), Err(Refusal::Throttled));
    assert_eq!(m.admit_source(src, t(499)), Err(Refusal::Throttled));
    assert_eq!(m.admit_source(src, t(500)), Ok(()));
    assert_eq!(m.admit_source(src, t(500)), Err(Refusal::Throttled));
    assert_eq!(m.source_tokens(src, t(1000)), 1);
    // Penalties go into debt, at most one bucket deep.
    m.charge_source(src, t(1000));
    assert_eq!(m.source_tokens(src, t(1000)), -3);
    // Full again after (3 − (−3)) / 2 = 3 s: then forgotten.
    assert_eq!(m.source_tokens(src, t(3999)), 2);
    assert_eq!(m.tracked_sources(), 1);
    assert_eq!(m.source_tokens(src, t(4000)), 3);
    assert_eq!(m.tracked_sources(), 0);
    // A clock that goes backwards gains nothing.
    assert_eq!(m.admit_source(src, t(10_000)), Ok(()));
    assert_eq!(m.source_tokens(src, t(5_000)), 2);
}

#[test]
fn ipv6_sources_count_per_64_and_mapped_v4_is_v4() {
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(SourceKey::of(a), SourceKey::of(b));
    assert_ne!(SourceKey::of(a), SourceKey::of(c));
    let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 7).to_ipv6_mapped());
    assert_eq!(SourceKey::of(mapped), SourceKey::V4([10, 0, 0, 7]));

    let mut p = policy();
    p.throttle.burst = 2;
    let m = Direct(MemoryGuard::new(p));
    let t0 = GuardTime::from_millis(0);
    assert_eq!(m.admit_source(a, t0), Ok(()));
    assert_eq!(m.admit_source(b, t0), Ok(()));
    assert_eq!(m.admit_source(a, t0), Err(Refusal::Throttled));
    assert_eq!(m.admit_source(c, t0), Ok(()));
}

#[test]
fn attempt_table_stays_bounded() {
    let mut p = policy();
    p.lockout.max_identities = 8;
    // Without the slow-down, garbage leaves nothing behind; with it, each
    // garbage keeps its identity's bucket for one interval (tested below).
    p.slowdown = SlowdownPolicy::disabled();
    let f = Fixture::new(p);
    let mut held: Vec<Reservation> = (0..8)
        .map(|i| f.guard.admit(&hid(i), &u(i), ip(1)).unwrap())
        .collect();
    assert_eq!(
        f.guard.admit(&hid(100), &u(100), ip(1)).err(),
        Some(Refusal::AttemptTableFull)
    );
    // A tracked identity still gets its second slot.
    held.push(f.guard.admit(&hid(0), &u(1000), ip(1)).unwrap());
    assert_eq!(f.mem.tracked_identities(), 8);
    drop(held.remove(3));
    assert!(f.guard.admit(&hid(100), &u(100), ip(1)).is_ok());
    drop(held);
    // Thousands of distinct identities with garbage: nothing stays.
    for i in 1000..3000 {
        f.guard
            .admit(&hid(i), &u(i), ip(1))
            .unwrap()
            .proof_failed()
            .invalid_credential();
        assert!(f.mem.tracked_identities() <= 1);
    }
    assert_eq!(f.mem.tracked_identities(), 0);
    // Wrong PINs are security state: kept, and a full table refuses new names.
    for i in 0..8 {
        f.wrong_pin(&hid(i), 5000 + i);
    }
    assert_eq!(f.mem.tracked_identities(), 8);
    assert_eq!(
        f.guard.admit(&hid(200), &u(200), ip(1)).err(),
        Some(Refusal::AttemptTableFull)
    );
}

#[test]
fn source_table_stays_bounded() {
    let mut p = policy();
    p.throttle = ThrottlePolicy {
        refill_per_sec: 5,
        burst: 20,
        hello_cost: 1,
        invalid_cost: 10,
        max_sources: 4,
    };
    let m = Direct(MemoryGuard::new(p));
    let t = |ms| GuardTime::from_millis(ms);
    for n in 0..4 {
        assert_eq!(m.admit_source(ip(n), t(0)), Ok(()));
    }
    assert_eq!(m.admit_source(ip(4), t(0)), Err(Refusal::SourceTableFull));
    assert_eq!(m.admit_source(ip(0), t(0)), Ok(()));
    assert_eq!(m.tracked_sources(), 4);
    // ip(1..4) spent one token: full again at 200 ms and forgotten; ip(0) spent two.
    assert_eq!(m.admit_source(ip(4), t(199)), Err(Refusal::SourceTableFull));
    assert_eq!(m.admit_source(ip(4), t(200)), Ok(()));
    assert_eq!(m.tracked_sources(), 2);
    // Many distinct sources over time: never more than 4 tracked.
    for n in 0..10_000u32 {
        let _ = m.admit_source(ip(100 + n), t(1_000 + u64::from(n) * 50));
        assert!(m.tracked_sources() <= 4);
    }
}

#[test]
fn zero_policies_refuse_everything() {
    let mut p = policy();
    p.lockout.max_failures = 0;
    let f = Fixture::new(p);
    assert_eq!(
        f.guard.admit(&hid(1), &u(1), ip(1)).err(),
        Some(Refusal::LockedOut)
    );
    let mut p = policy();
    p.lockout.max_in_flight = 0;
    let f = Fixture::new(p);
    assert_eq!(
        f.guard.admit(&hid(1), &u(1), ip(1)).err(),
        Some(Refusal::TooManyInFlight)
    );
    assert_eq!(f.mem.tracked_identities(), 0);
}

#[test]
fn refusals_reach_the_observer_and_read_clearly() {
    let f = Fixture::new(policy());
    let h = hid(1);
    let _a = f.guard.admit(&h, &u(1), ip(3)).unwrap();
    let _b = f.guard.admit(&h, &u(2), ip(3)).unwrap();
    let _ = f.guard.admit(&h, &u(3), ip(3));
    assert_eq!(
        f.seen.take(),
        vec![Outcome::Refused {
            hid: h,
            source: ip(3),
            refusal: Refusal::TooManyInFlight
        }]
    );
    assert_eq!(
        Refusal::ReplayCacheFull.to_string(),
        "replay cache full: refusing rather than forgetting live entries"
    );
    assert_eq!(
        Refusal::LockedOut.to_string(),
        "identity locked out after too many wrong PINs"
    );
}

/// Buckets that never refill, so balances are exact whatever the clock.
fn frozen_throttle() -> GuardPolicy {
    GuardPolicy {
        throttle: ThrottlePolicy {
            refill_per_sec: 0,
            burst: 100,
            hello_cost: 1,
            invalid_cost: 10,
            max_sources: 1000,
        },
        ..GuardPolicy::default()
    }
}

#[test]
fn is_per_identity_marks_exactly_the_silent_refusals() {
    use Refusal::*;
    let all = [
        LockedOut,
        LockedUntilReenrolled,
        TooManyInFlight,
        AttemptTableFull,
        SlowedDown,
        ClassifierBusy,
        Replay,
        ReplayCacheFull,
        Throttled,
        SourceTableFull,
        ReservationExpired,
    ];
    let silent: Vec<Refusal> = all.into_iter().filter(Refusal::is_per_identity).collect();
    assert_eq!(
        silent,
        vec![
            LockedOut,
            LockedUntilReenrolled,
            TooManyInFlight,
            AttemptTableFull,
            SlowedDown
        ]
    );
}

#[test]
fn per_identity_refusals_charge_the_source_exactly_like_a_failed_proof() {
    let mut p = frozen_throttle();
    p.lockout.cumulative_cap = 6;
    p.lockout.max_identities = 4;
    let f = Fixture::new(p);
    let after_failure = 100 - 1 - 10;

    // The four ways an attempt can fail, each from its own source.
    let h = hid(1);
    f.guard
        .admit(&h, &u(1), ip(10))
        .unwrap()
        .proof_failed()
        .wrong_pin();
    f.guard
        .admit(&h, &u(2), ip(11))
        .unwrap()
        .proof_failed()
        .invalid_credential();
    f.guard.admit(&h, &u(3), ip(12)).unwrap().bad_dleq();
    // A failed proof is charged at once, before classification.
    let pending = f.guard.admit(&h, &u(4), ip(13)).unwrap().proof_failed();
    assert_eq!(f.guard.source_tokens(ip(13)), after_failure);
    drop(pending);
    for s in 10..=13 {
        assert_eq!(f.guard.source_tokens(ip(s)), after_failure, "source {s}");
    }

    // Per-identity refusals of every kind, charged by the accept path.
    let silent = |hid: &Hid, n: u32, src: u32, want: Refusal| {
        let r = f.guard.admit(hid, &u(n), ip(src)).err();
        assert_eq!(r, Some(want));
        assert!(want.is_per_identity());
        f.guard.charge_silent_refusal(ip(src));
        assert_eq!(f.guard.source_tokens(ip(src)), after_failure, "{want:?}");
    };
    // TooManyInFlight: two slots held.
    let h2 = hid(2);
    let _a = f.guard.admit(&h2, &u(1), ip(1)).unwrap();
    let _b = f.guard.admit(&h2, &u(2), ip(1)).unwrap();
    silent(&h2, 3, 20, Refusal::TooManyInFlight);
    // LockedOut: h has 2 counted (wrong PIN + dropped); 3 more.
    for i in 5..8 {
        f.wrong_pin(&h, i);
    }
    silent(&h, 8, 21, Refusal::LockedOut);
    // LockedUntilReenrolled: one more after an unlock reaches the cap of 6.
    f.guard.unlock(&h);
    f.wrong_pin(&h, 9);
    silent(&h, 10, 22, Refusal::LockedUntilReenrolled);
    // AttemptTableFull: h, h2 and two more identities fill the table.
    let _c = f.guard.admit(&hid(3), &u(1), ip(1)).unwrap();
    let _d = f.guard.admit(&hid(4), &u(1), ip(1)).unwrap();
    silent(&hid(5), 1, 23, Refusal::AttemptTableFull);

    // Nothing was counted against the refused identities by the refusals.
    let st = f.guard.status(&h);
    assert_eq!((st.confirmed, st.cumulative), (1, 6));
    assert_eq!(f.guard.status(&h2).confirmed, 0);
}

/// What a client (the thief) can see of one attempt: the wire outcome and
/// the balance of every source it uses.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Proof checked and failed, or a silent per-identity refusal.
    FailedProof,
    /// A plaintext refusal alert of this kind.
    Alert(Refusal),
}

/// One thief attempt with a wrong (in- or out-of-range) PIN, as the accept
/// path handles it; `counted` is the classifier's hidden answer.
fn thief_attempt(f: &Fixture, h: &Hid, n: u32, src: IpAddr, counted: bool) -> Seen {
    match f.guard.admit(h, &u(n), src) {
        Ok(r) => {
            let pending = r.proof_failed();
            if counted {
                pending.wrong_pin();
            } else {
                pending.invalid_credential();
            }
            Seen::FailedProof
        }
        Err(r) if r.is_per_identity() => {
            f.guard.charge_silent_refusal(src);
            Seen::FailedProof
        }
        Err(r) => Seen::Alert(r),
    }
}

#[test]
fn out_of_range_probes_are_indistinguishable_from_outside() {
    // The oracle attack of protocol §6.4 "Why silent": N − 1 ordinary wrong
    // guesses, then an out-of-range PIN' (counted iff PIN > j), then a
    // surely-invalid probe. Two worlds differ only in whether the
    // out-of-range attempt was counted; everything the thief sees must match.
    let run = |counted: bool| {
        let f = Fixture::new(frozen_throttle());
        let h = hid(42);
        let mut trace = Vec::new();
        for i in 0..4 {
            trace.push(thief_attempt(&f, &h, i, ip(1), true));
        }
        trace.push(thief_attempt(&f, &h, 10, ip(2), counted));
        for k in 0..3 {
            trace.push(thief_attempt(&f, &h, 20 + k, ip(3 + k), false));
        }
        let balances: Vec<i64> = (1..=5).map(|s| f.guard.source_tokens(ip(s))).collect();
        (trace, balances, f.guard.status(&h))
    };
    let (trace_yes, bal_yes, st_yes) = run(true);
    let (trace_no, bal_no, st_no) = run(false);
    // The hidden state really differs (locked out vs not)...
    assert_eq!((st_yes.confirmed, st_yes.locked_out), (5, true));
    assert_eq!((st_no.confirmed, st_no.locked_out), (4, false));
    // ...but nothing a client sees does.
    assert_eq!(trace_yes, trace_no);
    assert_eq!(
        trace_yes,
        (0..8).map(|_| Seen::FailedProof).collect::<Vec<_>>()
    );
    assert_eq!(bal_yes, bal_no);
    assert_eq!(bal_yes, vec![100 - 4 * 11, 89, 89, 89, 89]);
}

#[test]
fn pending_cap_gives_classifier_busy_and_frees_up_after_classification() {
    let mut p = policy();
    p.lockout.max_pending_classifications = 3;
    let f = Fixture::new(p);
    let locked = hid(50);
    for i in 0..5 {
        f.wrong_pin(&locked, 100 + i);
    }
    assert!(f.guard.status(&locked).locked_out);
    let pending: Vec<PendingClassification> = (0..3)
        .map(|i| f.guard.admit(&hid(i), &u(i), ip(1)).unwrap().proof_failed())
        .collect();
    assert_eq!(f.guard.pending_classifications(), 3);
    let _ = f.seen.take();
    // Any identity, new, locked out or with slots in flight, gets the same
    // global refusal: the cap is checked before anything about the HID.
    for h in [hid(9), locked, hid(0)] {
        let r = f.guard.admit(&h, &u(200), ip(7)).err();
        assert_eq!(r, Some(Refusal::ClassifierBusy));
        assert!(!Refusal::ClassifierBusy.is_per_identity());
    }
    assert_eq!(f.guard.status(&hid(9)), IdentityStatus::default());
    assert_eq!(f.guard.pending_classifications(), 3);
    assert!(f.seen.take().iter().any(|o| matches!(
        o,
        Outcome::Refused {
            refusal: Refusal::ClassifierBusy,
            ..
        }
    )));
    // Time alone frees nothing.
    f.advance_ms(3_600_000);
    assert_eq!(
        f.guard.admit(&hid(9), &u(201), ip(7)).err(),
        Some(Refusal::ClassifierBusy)
    );
    // A classification frees one slot.
    let mut pending = pending;
    if let Some(p0) = pending.pop() {
        p0.invalid_credential();
    }
    assert_eq!(f.guard.pending_classifications(), 2);
    // Attempts that turn out not to need the classifier give theirs back.
    let r = f.guard.admit(&hid(9), &u(202), ip(7)).unwrap();
    assert_eq!(f.guard.pending_classifications(), 3);
    let proved = r.proof_ok().unwrap();
    assert_eq!(f.guard.pending_classifications(), 2);
    f.guard.admit(&hid(10), &u(1), ip(7)).unwrap().bad_dleq();
    drop(f.guard.admit(&hid(11), &u(1), ip(7)).unwrap());
    // A per-identity refusal gives back the global slot it briefly took.
    assert_eq!(
        f.guard.admit(&locked, &u(300), ip(7)).map(|_| ()).err(),
        Some(Refusal::LockedOut)
    );
    assert_eq!(f.guard.pending_classifications(), 2);
    proved.handshake_completed();
    for p in pending {
        p.wrong_pin();
    }
    assert_eq!(f.guard.pending_classifications(), 0);
}

#[test]
fn zero_pending_cap_refuses_everything_globally() {
    let mut p = policy();
    p.lockout.max_pending_classifications = 0;
    let f = Fixture::new(p);
    assert_eq!(
        f.guard.admit(&hid(1), &u(1), ip(1)).err(),
        Some(Refusal::ClassifierBusy)
    );
    assert_eq!(f.mem.tracked_identities(), 0);
}

#[test]
fn replay_window_clamp_and_lifetime_boundary() {
    let w = Duration::from_secs(10);
    // The clamp raises a short window to 2W + slack and never lowers one.
    let short = GuardPolicy {
        replay: ReplayPolicy {
            window: Duration::from_secs(20),
            capacity: 10,
        },
        ..policy()
    };
    assert!(!short.replay.covers_clock_window(w));
    let fixed = short.with_clock_window(w);
    assert_eq!(fixed.replay.window, Duration::from_secs(22));
    assert_eq!(fixed.replay.capacity, 10);
    assert!(fixed.replay.covers_clock_window(w));
    let long = GuardPolicy {
        replay: ReplayPolicy {
            window: Duration::from_secs(90),
            capacity: 10,
        },
        ..policy()
    };
    assert_eq!(
        long.with_clock_window(w).replay.window,
        Duration::from_secs(90)
    );
    assert_eq!(
        ReplayPolicy::for_clock_window(w).window,
        Duration::from_secs(22)
    );
    assert_eq!(
        ReplayPolicy::min_window(Duration::MAX),
        Duration::MAX,
        "saturates"
    );

    // Boundary: admitted at wall second S (GuardTime T) with the latest
    // acceptable stamp t = S + W. The share passes a whole-second window check
    // while floor(now) ≤ t + W = S + 2W, i.e. until T + 2W + 1 s (exclusive).
    let f = Fixture::new(short.with_clock_window(w));
    let h = hid(1);
    f.good_login(&h, 1);
    let accepted_until_ms = 2 * 10_000 + 1_000; // exclusive, after T
    f.advance_ms(accepted_until_ms - 1);
    assert_eq!(f.guard.admit(&h, &u(1), ip(2)).err(), Some(Refusal::Replay));
    // Still remembered through the slack, forgotten at exactly T + 2W + 2 s.
    f.advance_ms(1_000);
    assert_eq!(f.guard.admit(&h, &u(1), ip(2)).err(), Some(Refusal::Replay));
    f.advance_ms(1);
    assert!(f.guard.admit(&h, &u(1), ip(2)).is_ok());
}

// ---------------------------------------------------------------------------
// Per-identity slow-down after invalid classifications (issue 9 item 5)
// ---------------------------------------------------------------------------

/// One attempt for `h` from `src` whose proof failed and was classified
/// invalid; `Err` when admission refused it.
fn invalid_attempt(f: &Fixture, h: &Hid, n: u32, src: IpAddr) -> Result<(), Refusal> {
    let r = f.guard.admit(h, &u(n), src)?;
    r.proof_failed().invalid_credential();
    Ok(())
}

fn slow_policy() -> GuardPolicy {
    GuardPolicy {
        slowdown: SlowdownPolicy {
            burst: 3,
            interval: Duration::from_secs(6),
        },
        ..policy()
    }
}

/// The attack: a token thief makes attempts the classifier calls "invalid"
/// (never counted against the identity), from as many sources as it likes.
/// Without the slow-down every one of them is served. With it, an identity
/// is served `burst` invalid classifications at once, then one per
/// interval, whatever the sources; the excess is refused silently
/// (`SlowedDown` is per-identity), counted nowhere, and never locks.
#[test]
fn invalid_classifications_slow_the_identity_down_whatever_the_sources() {
    let f = Fixture::new(slow_policy());
    let victim = hid(1);
    for i in 0..3u32 {
        assert_eq!(invalid_attempt(&f, &victim, i, ip(10 + i)), Ok(()));
    }
    assert!(f.guard.status(&victim).slowed_down);
    let seen = f.seen.take();
    assert_eq!(
        seen.last(),
        Some(&Outcome::SlowedDown { hid: victim }),
        "{seen:?}"
    );
    // From a fresh source: refused, silently (per-identity).
    let refused = f.guard.admit(&victim, &u(100), ip(99)).unwrap_err();
    assert_eq!(refused, Refusal::SlowedDown);
    assert!(refused.is_per_identity());
    // Other identities are untouched.
    assert!(invalid_attempt(&f, &hid(2), 200, ip(99)).is_ok());
    // One interval later: exactly one more is served, then slowed again.
    f.advance_ms(5_999);
    assert_eq!(
        f.guard.admit(&victim, &u(101), ip(98)).err(),
        Some(Refusal::SlowedDown)
    );
    f.advance_ms(1);
    assert_eq!(invalid_attempt(&f, &victim, 102, ip(97)), Ok(()));
    assert_eq!(
        invalid_attempt(&f, &victim, 103, ip(96)),
        Err(Refusal::SlowedDown)
    );
    // Nothing was ever counted; the identity is not locked.
    let st = f.guard.status(&victim);
    assert_eq!((st.confirmed, st.cumulative, st.locked_out), (0, 0, false));
    assert_eq!(st.in_flight, 0);
}

/// What a victim of framing experiences: garbage at one invalid
/// classification per interval keeps the identity slowed down; the genuine
/// user, once served, logs in normally (a success spends nothing), and the
/// whole state drains `burst × interval` after the garbage stops, after
/// which the table forgets the identity.
#[test]
fn slowdown_is_bounded_in_time_and_spares_successful_logins() {
    let f = Fixture::new(slow_policy());
    let victim = hid(7);
    for i in 0..3u32 {
        invalid_attempt(&f, &victim, i, ip(1)).unwrap();
    }
    assert!(f.guard.status(&victim).slowed_down);
    // The genuine user is refused while slowed down (nothing counted) …
    assert_eq!(
        f.guard.admit(&victim, &u(50), ip(2)).err(),
        Some(Refusal::SlowedDown)
    );
    // … and served as soon as one interval frees a unit.
    f.advance_ms(6_000);
    f.good_login(&victim, 51);
    // A success spends nothing: the next attempt is served too.
    f.good_login(&victim, 52);
    assert_eq!(f.mem.tracked_identities(), 1);
    // Drained 3 × 6 s after the last invalid one: forgotten.
    f.advance_ms(12_000);
    let st = f.guard.status(&victim);
    assert!(!st.slowed_down, "{st:?}");
    assert_eq!(f.mem.tracked_identities(), 0);
    // One garbage share at a fresh identity keeps its entry one interval:
    // filling the attempt table this way takes max_identities / interval
    // classified garbage shares per second.
    invalid_attempt(&f, &hid(8), 60, ip(3)).unwrap();
    assert_eq!(f.mem.tracked_identities(), 1);
    f.advance_ms(6_000);
    assert!(!f.guard.status(&hid(8)).slowed_down);
    assert_eq!(f.mem.tracked_identities(), 0);
}

/// The slow-down refusal is silent and charged like every per-identity
/// refusal, and `interval = 0` disables it.
#[test]
fn slowdown_can_be_disabled() {
    let f = Fixture::new(GuardPolicy {
        slowdown: SlowdownPolicy::disabled(),
        ..policy()
    });
    for i in 0..50u32 {
        assert_eq!(invalid_attempt(&f, &hid(3), i, ip(1)), Ok(()));
    }
    assert!(!f.guard.status(&hid(3)).slowed_down);
    assert_eq!(f.mem.tracked_identities(), 0);
}
