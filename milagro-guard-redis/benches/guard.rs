//! The guard's store work for a successful login as a caller without a key
//! exchange sees it (admit: replay lookup, source bucket, reservation;
//! proof_ok: replay insert, stage — one script, so one round trip, each on
//! Redis; the completion is started and not waited for), on the in-memory
//! store and on a `RedisStore` over loopback to a local `redis-server`
//! (started by the harness; the Redis case is skipped when it is not
//! installed). In a real handshake the second round trip overlaps the key
//! agreement's pairing; `cs_guard_handshake` in milagro-e2e times that
//! (docs/performance.md).

// criterion_group!/criterion_main! generate undocumented items.
#![allow(missing_docs)]
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use milagro_guard_redis::RedisStore;
use milagro_guard_redis::testing::RedisServer;
use milagro_tls::guard::{
    Guard, GuardPolicy, GuardStore, MemoryGuard, MonotonicClock, NoopObserver,
};
use milagro_tls::identity::Hid;

fn policy() -> GuardPolicy {
    let mut p = GuardPolicy::default();
    p.throttle.refill_per_sec = 1_000_000;
    p.throttle.burst = 1_000_000;
    p.replay.capacity = 10_000_000;
    p
}

fn login(guard: &Guard, n: &AtomicU64) {
    let i = n.fetch_add(1, Ordering::Relaxed);
    let mut u = [0u8; 48];
    u[..8].copy_from_slice(&i.to_le_bytes());
    let hid = Hid([(i % 251) as u8; 32]);
    let source = IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8));
    guard
        .admit(&hid, &u, source)
        .expect("admitted")
        .proof_ok()
        .expect("proved")
        .handshake_completed();
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("guard store work per CS login");
    let guard = |store: Arc<dyn GuardStore>| {
        Guard::new(
            store,
            Arc::new(MonotonicClock::new()),
            Arc::new(NoopObserver),
        )
    };
    let n = AtomicU64::new(0);
    let memory = guard(Arc::new(MemoryGuard::new(policy())));
    group.bench_function("memory", |b| b.iter(|| login(&memory, &n)));
    if let Some(redis) = RedisServer::start_or_skip("guard bench (redis)") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let store = rt
            .block_on(RedisStore::connect(&redis.url(0), policy()))
            .unwrap();
        let shared = guard(Arc::new(store));
        group.bench_function("redis loopback", |b| b.iter(|| login(&shared, &n)));
        drop(redis);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
