//! Step 1's store round trip overlapped with the share's own work
//! (docs/protocol.md §6.4, "Overlapping step 1"), on a real `redis-server`
//! (skipped with a printed reason only when it is not installed and `CI` is
//! unset): logins and wrong PINs resolve exactly as without it, only a
//! remote store is overlapped, and a source that step 1 refused gets no
//! overlap — no work before admission — until the cooldown has passed.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use milagro_e2e::*;
use milagro_guard_redis::RedisStore;
use milagro_guard_redis::testing::RedisServer;
use milagro_tls::guard::{Guard, GuardPolicy, MonotonicClock, NoopObserver, Refusal};
use milagro_tls::keys::PermitPolicy;
use milagro_tls::{AcceptError, AdmissionRefusal, KxError};
use milagro_tls_tokio::{MilagroConnector, OverlapStats, TlsAcceptError, TlsAcceptor};
use tokio::sync::mpsc::UnboundedReceiver;

const WHO: &str = "overlap@example.com";

async fn redis_guard(redis: &RedisServer, policy: GuardPolicy) -> Guard {
    let store = RedisStore::connect(&redis.url(0), policy)
        .await
        .expect("redis");
    Guard::new(
        Arc::new(store),
        Arc::new(MonotonicClock::new()),
        Arc::new(NoopObserver),
    )
}

/// One CS login from `source` entering `pin`: whether the client finished
/// its handshake and echoed, and the server's report.
async fn login(
    cs: &Cs,
    pin: &str,
    source: Ipv4Addr,
    addr: std::net::SocketAddr,
    reports: &mut UnboundedReceiver<Report>,
) -> (bool, Report) {
    let tcp = connect_from(source, addr).await;
    let connector = MilagroConnector::new(cs.client(WHO, pin));
    let ok = match connector.connect(SERVICE, tcp).await {
        Ok(mut tls) => round_trip(&mut tls, b"hi").await == b"hi",
        Err(_) => false,
    };
    (ok, reports.recv().await.expect("one report per connection"))
}

fn stats(overlapped: u64, source_refused_recently: u64) -> OverlapStats {
    let mut s = OverlapStats::default();
    s.overlapped = overlapped;
    s.source_refused_recently = source_refused_recently;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_on_a_remote_store_are_overlapped_and_resolve_as_before() {
    let Some(redis) = RedisServer::start_or_skip("logins_on_a_remote_store_are_overlapped") else {
        return;
    };
    let cs = Cs::new(PermitPolicy::Required);
    let guard = redis_guard(&redis, open_policy()).await;
    let acceptor = TlsAcceptor::new(cs.server_with(guard.clone()));
    let (addr, mut reports) = serve(acceptor.clone()).await;
    let me = Ipv4Addr::new(127, 0, 0, 1);

    let (ok, report) = login(&cs, PIN, me, addr, &mut reports).await;
    assert!(ok, "{report:?}");
    assert_eq!(report.expect("accepted"), WHO);
    assert_eq!(acceptor.overlap_stats(), stats(1, 0));

    // A wrong PIN is refused and counted once, as without the overlap.
    let (ok, report) = login(&cs, "0000", me, addr, &mut reports).await;
    assert!(!ok);
    assert!(
        matches!(
            report,
            Err(TlsAcceptError::Accept(AcceptError::KeyExchange(
                KxError::ProofFailed
            )))
        ),
        "{report:?}"
    );
    assert_eq!(acceptor.overlap_stats(), stats(2, 0));
    let hid = id(WHO).cs_hid();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = guard.status_async(&hid).await.expect("status");
        if status.confirmed == 1 && status.in_flight == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never counted: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Work offered and dropped unrun (an adapter with no free worker) is
    // counted as such; offered work never counts against the source.
    let server = cs.server_with(guard.clone());
    let hello = parse(&real_hello(&cs.client(WHO, PIN), SERVICE).bytes);
    let offered = server.precompute_share(&hello, me.into());
    assert!(offered.is_some());
    drop(offered);
    let mut dropped = OverlapStats::default();
    dropped.not_run = 1;
    assert_eq!(server.overlap_stats(), dropped);

    // The same deployment on the in-process store has nothing to overlap.
    let memory = TlsAcceptor::new(cs.server_with(Guard::in_memory(open_policy())));
    let (addr, mut reports) = serve(memory.clone()).await;
    let (ok, report) = login(&cs, PIN, me, addr, &mut reports).await;
    assert!(ok, "{report:?}");
    assert_eq!(memory.overlap_stats(), OverlapStats::default());
    let on_memory = cs.server_with(Guard::in_memory(open_policy()));
    assert!(on_memory.precompute_share(&hello, me.into()).is_none());
}

/// The attack the cooldown closes: without it, a throttled source would
/// make the server decode points and check a DLEQ for every ClientHello it
/// sends, each refused at step 1 — work that step 1 exists to withhold from
/// it (§6.4 check 5, "cheap-check DoS").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_refused_by_step_1_gets_no_work_before_admission() {
    let Some(redis) = RedisServer::start_or_skip("a_source_refused_by_step_1_gets_no_overlap")
    else {
        return;
    };
    let cs = Cs::new(PermitPolicy::Off);
    // One wrong PIN puts the source 10 tokens in debt: refused for ~10 s.
    let mut policy = GuardPolicy::default();
    policy.throttle.burst = 1;
    policy.throttle.refill_per_sec = 1;
    let acceptor = TlsAcceptor::new(cs.server_with(redis_guard(&redis, policy).await));
    let (addr, mut reports) = serve(acceptor.clone()).await;
    let thief = Ipv4Addr::new(127, 0, 0, 7);

    let (ok, _) = login(&cs, "0000", thief, addr, &mut reports).await;
    assert!(!ok);
    // The first refusal was overlapped: nothing marked the source yet.
    const FLOOD: u64 = 6;
    for i in 0..=FLOOD {
        let (ok, report) = login(&cs, PIN, thief, addr, &mut reports).await;
        assert!(!ok, "attempt {i}");
        assert!(
            matches!(
                report,
                Err(TlsAcceptError::Accept(AcceptError::Admission(
                    AdmissionRefusal::Guard(Refusal::Throttled)
                )))
            ),
            "attempt {i}: {report:?}"
        );
    }
    assert_eq!(acceptor.overlap_stats(), stats(2, FLOOD));

    // Another source is not affected.
    let (ok, report) = login(&cs, PIN, Ipv4Addr::new(127, 0, 0, 8), addr, &mut reports).await;
    assert!(ok, "{report:?}");
    assert_eq!(acceptor.overlap_stats(), stats(3, FLOOD));
}
