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
    eventually("the completion lands", Duration::from_secs(5), || {
        guard.try_status(&h).is_ok_and(|s| s.confirmed == 0)
    });
}

/// The two calls a successful login makes after admission, while Redis
/// stalls: the good proof, sent over a blocking connection from the key
/// exchange's thread, is refused within the store timeout (the handshake is
/// refused: fail closed); the completion, which the connection does not wait
/// for, returns at once, reports its failure when the timeout passes, and is
/// applied once Redis answers again.
#[test]
fn a_stalled_redis_refuses_the_proof_in_time_and_applies_the_completion_later() {
    let Some(redis) = RedisServer::start_or_skip("a_stalled_redis_refuses_the_proof") else {
        return;
    };
    let (_rt, guard, seen) = setup(&redis);
    let (proving, done) = (Hid([0x44; 32]), Hid([0x45; 32]));
    let reservation = guard.admit(&proving, &u(1), ip()).unwrap();
    let proved = guard.admit(&done, &u(2), ip()).unwrap().proof_ok().unwrap();
    seen.take();

    signal(&redis, "-STOP");
    let started = Instant::now();
    assert_eq!(
        reservation.proof_ok().unwrap_err(),
        Refusal::StoreUnavailable
    );
    let took = started.elapsed();
    assert!(took < TIMEOUT * 3, "refused after {took:?}");

    proved.handshake_completed();
    let failed_completion = |seen: &[Outcome]| {
        seen.iter().any(|o| {
            matches!(o, Outcome::StoreFailed { hid, operation: "completed", .. } if *hid == done)
        })
    };
    let mut heard = seen.take();
    assert!(
        !failed_completion(&heard),
        "the completion waited for the store: {heard:?}"
    );
    eventually("the failed completion is reported", TIMEOUT * 10, || {
        heard.extend(seen.take());
        failed_completion(&heard)
    });

    signal(&redis, "-CONT");
    // Retried in the background: both slots end free, nothing counted.
    eventually("the slots are freed", Duration::from_secs(10), || {
        [proving, done].iter().all(|h| {
            guard
                .try_status(h)
                .is_ok_and(|s| (s.confirmed, s.in_flight) == (0, 0))
        })
    });
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
