//! Redis failing under a live guard, against a real `redis-server`
//! (skipped with a printed reason only when it is not installed and `CI` is
//! unset): a stalled Redis makes the guard refuse within the store timeout
//! (fail closed), a classification made during the stall is counted exactly
//! once when Redis answers again (the timed-out script and its retry both
//! reach Redis), and a killed and restarted Redis is reconnected to.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use milagro_guard_redis::testing::RedisServer;
use milagro_guard_redis::{RedisOptions, RedisStore};
use milagro_tls::guard::{Guard, GuardPolicy, MonotonicClock, Outcome, RecordingObserver, Refusal};
use milagro_tls::identity::Hid;

const TIMEOUT: Duration = Duration::from_millis(300);

fn signal(redis: &RedisServer, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &redis.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn setup(redis: &RedisServer) -> (tokio::runtime::Runtime, Guard, Arc<RecordingObserver>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut options = RedisOptions::default();
    options.timeout = TIMEOUT;
    let store = rt
        .block_on(RedisStore::connect_with(
            &redis.url(0),
            GuardPolicy::default(),
            options,
        ))
        .unwrap();
    let seen = Arc::new(RecordingObserver::new());
    let guard = Guard::new(
        Arc::new(store),
        Arc::new(MonotonicClock::new()),
        seen.clone(),
    );
    (rt, guard, seen)
}

fn ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
}

fn u(n: u8) -> [u8; 48] {
    [n; 48]
}

fn eventually(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stalled_redis_fails_closed_in_time_and_a_late_classification_counts_once() {
    let Some(redis) = RedisServer::start_or_skip("a_stalled_redis_fails_closed") else {
        return;
    };
    let (_rt, guard, seen) = setup(&redis);
    let h = Hid([0x42; 32]);
    let pending = guard.admit(&h, &u(1), ip()).unwrap().proof_failed();

    signal(&redis, "-STOP");
    let started = Instant::now();
    assert_eq!(
        guard.admit(&h, &u(2), ip()).unwrap_err(),
        Refusal::StoreUnavailable
    );
    let took = started.elapsed();
    assert!(took < TIMEOUT * 3, "refused after {took:?}");
    // Classified while Redis stalls: not confirmed now, retried later.
    assert_eq!(pending.wrong_pin(), None);
    assert!(seen.take().iter().any(|o| matches!(
        o,
        Outcome::StoreFailed {
            operation: "wrong_pin",
            ..
        }
    )));
    assert_eq!(guard.pending_classifications(), 0);

    signal(&redis, "-CONT");
    eventually(
        "the retried wrong PIN lands",
        Duration::from_secs(10),
        || guard.try_status(&h).is_ok_and(|s| s.confirmed == 1),
    );
    // The script that timed out also ran when Redis woke up, and retries
    // may have run more than once: still counted once.
    std::thread::sleep(Duration::from_millis(500));
    let s = guard.try_status(&h).unwrap();
    assert_eq!((s.confirmed, s.cumulative, s.in_flight), (1, 1, 0));
    // Service resumed.
    let r = guard.admit(&h, &u(3), ip()).unwrap();
    r.proof_ok().unwrap().handshake_completed();
    assert_eq!(guard.try_status(&h).unwrap().confirmed, 0);
}

#[test]
fn a_killed_redis_fails_closed_and_a_restarted_one_is_reconnected() {
    let Some(mut redis) = RedisServer::start_or_skip("a_killed_redis_fails_closed") else {
        return;
    };
    let (_rt, guard, _seen) = setup(&redis);
    let h = Hid([0x43; 32]);
    guard
        .admit(&h, &u(1), ip())
        .unwrap()
        .proof_ok()
        .unwrap()
        .handshake_completed();

    let port = redis.port();
    redis.kill();
    for n in 2..6 {
        let started = Instant::now();
        assert_eq!(
            guard.admit(&h, &u(n), ip()).unwrap_err(),
            Refusal::StoreUnavailable
        );
        assert!(started.elapsed() < TIMEOUT * 3);
    }
    assert_eq!(guard.try_status(&h), Err(Refusal::StoreUnavailable));

    let _restarted = RedisServer::start_on(port).unwrap();
    eventually("service resumes", Duration::from_secs(10), || {
        guard.admit(&h, &u(9), ip()).is_ok()
    });
}
