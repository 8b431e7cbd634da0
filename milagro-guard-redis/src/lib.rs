//! A [`GuardStore`] in Redis, so that many CS servers share one guard:
//! lockout counts, attempt reservations, the replay cache, the per-source
//! token buckets and the per-identity slow-down (docs/protocol.md §6.4,
//! §9.4–9.5; docs/robustness.md "Shared guard store").
//!
//! # Guarantees
//!
//! * **Atomic decisions.** Every multi-step decision — a reservation against
//!   the caps, each resolution (count, release, classify), a replay-cache
//!   insert, a bucket update — is one Lua script run by Redis, never a read
//!   and a write from the client, so servers racing on one identity still
//!   never exceed N guesses in flight.
//! * **One clock.** By default ([`TimeSource::Redis`]) the scripts read
//!   Redis's `TIME`, so reservation, replay and bucket lifetimes agree across
//!   servers whatever their clocks say. The replay entries live
//!   [`RedisOptions::max_clock_skew`] longer than the policy's window, for
//!   the share-time check each server does with its own wall clock.
//! * **Fail closed.** Each call has a timeout ([`RedisOptions::timeout`]);
//!   a call that fails or times out is [`Refusal::StoreUnavailable`], which
//!   the accept path sends as a plaintext `internal_error` (the client
//!   reports a busy server) without touching standard clients.
//! * **Never counted twice.** Reservation ids are random 64-bit values;
//!   a terminal resolution applies once per id (`SET done:<id> NX` inside
//!   its script). Counting resolutions (wrong PIN, invalid credential,
//!   completion, release) that fail are retried in the background with
//!   backoff for [`RedisOptions::retry_for`], so a failed proof classified
//!   while Redis restarts is still counted, exactly once.
//! * **Operations start when called** (the [`GuardStore`] contract): each is
//!   spawned on the tokio runtime captured at construction, so a dropped
//!   handle's release, or a cancelled accept future, still reaches Redis.
//!
//! # Differences from the in-memory store
//!
//! * No table capacities: Redis's memory is the bound. Configure Redis with
//!   `maxmemory-policy noeviction`, so a full Redis refuses writes (and the
//!   guard fails closed) instead of evicting lockout counts.
//!   `AttemptTableFull`, `ReplayCacheFull` and `SourceTableFull` never occur.
//! * A failed proof's slot is held until classified, or at most
//!   [`RedisOptions::orphan_hold`]: a server that dies with unclassified
//!   failures must not hold its identities' slots for ever. The count does
//!   not depend on the slot (a classification counts even after it).
//! * The classifier back-pressure cap
//!   ([`milagro_tls::guard::LockoutPolicy::max_pending_classifications`]) stays
//!   per process, like the classifier whose queue it bounds.
//!
//! # Runtime
//!
//! Build the store inside a multi-threaded tokio runtime (it is captured).
//! The guard's synchronous methods block on the store's answer, which the
//! runtime's workers produce: call them only from threads that may block
//! (the blocking pool, the classifier), and the `*_async` methods on tasks.

mod keys;
mod scripts;
pub mod testing;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::guard::{
    GuardPolicy, GuardStore, GuardTime, IdentityStatus, Refusal, ReplayKey, ReservationTicket,
    StoreFuture, WrongPinCounts,
};
use milagro_tls::identity::Hid;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::runtime::{Handle, RuntimeFlavor};

use keys::Keys;

/// Whose clock the scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// Redis's `TIME` (the default): one clock for every server.
    Redis,
    /// The guard's [`milagro_tls::guard::Clock`], passed with each call:
    /// for deterministic tests with a `ManualClock`, and for one server
    /// alone. Servers sharing a store must not use it (their monotonic
    /// clocks have different origins).
    Caller,
}

/// How the store talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The longest one store call may take (connection included) before it
    /// fails as [`Refusal::StoreUnavailable`]. Default 500 ms.
    pub timeout: Duration,
    /// Prefix of every key (`<prefix>:{h:…}:…`). Must not contain `{` or
    /// `}`. Default `milagro`.
    pub prefix: String,
    /// Added to the replay window: servers check a share's time against
    /// their own wall clocks, so an entry must outlive the share at the
    /// server whose clock is furthest behind. Default 5 s.
    pub max_clock_skew: Duration,
    /// The longest a failed proof's slot is held awaiting classification
    /// (a classification normally takes milliseconds; this only frees the
    /// slots of a server that died). At least the reservation TTL. Default
    /// 10 min.
    pub orphan_hold: Duration,
    /// How long a counting resolution that failed is retried in the
    /// background. Default 10 min.
    pub retry_for: Duration,
    /// Whose clock the scripts read. Default [`TimeSource::Redis`].
    pub time: TimeSource,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(500),
            prefix: "milagro".to_owned(),
            max_clock_skew: Duration::from_secs(5),
            orphan_hold: Duration::from_secs(600),
            retry_for: Duration::from_secs(600),
            time: TimeSource::Redis,
        }
    }
}

/// Why a [`RedisStore`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    /// The URL is not a Redis URL, or Redis did not answer.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within the store's timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Not called inside a multi-threaded tokio runtime.
    #[error("RedisStore needs a multi-threaded tokio runtime (none is running here)")]
    NoRuntime,
    /// The key prefix contains `{` or `}` (it would break the hash tags).
    #[error("the key prefix must not contain '{{' or '}}'")]
    BadPrefix,
}

struct Inner {
    conn: ConnectionManager,
    runtime: Handle,
    policy: GuardPolicy,
    options: RedisOptions,
    keys: Keys,
}

/// The guard's state in Redis (see the crate documentation). Cheap to
/// clone; clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.options.prefix)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` not enabled)
    /// with the default options, and checks that Redis answers.
    pub async fn connect(url: &str, policy: GuardPolicy) -> Result<Self, RedisStoreError> {
        Self::connect_with(url, policy, RedisOptions::default()).await
    }

    /// [`connect`](Self::connect) with `options`.
    pub async fn connect_with(
        url: &str,
        policy: GuardPolicy,
        options: RedisOptions,
    ) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(options.timeout)
            .set_response_timeout(options.timeout)
            .set_number_of_retries(1);
        let timeout = options.timeout;
        let conn =
            tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
                .await
                .map_err(|_| RedisStoreError::Timeout(timeout))??;
        Self::from_connection(conn, policy, options).await
    }

    /// A store over an existing connection manager (its own reconnection
    /// and timeout settings apply, within [`RedisOptions::timeout`]).
    /// Checks that Redis answers.
    pub async fn from_connection(
        conn: ConnectionManager,
        policy: GuardPolicy,
        options: RedisOptions,
    ) -> Result<Self, RedisStoreError> {
        let runtime = Handle::try_current().map_err(|_| RedisStoreError::NoRuntime)?;
        if runtime.runtime_flavor() != RuntimeFlavor::MultiThread {
            return Err(RedisStoreError::NoRuntime);
        }
        if options.prefix.contains(['{', '}']) {
            return Err(RedisStoreError::BadPrefix);
        }
        let mut ping = conn.clone();
        let timeout = options.timeout;
        tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut ping))
            .await
            .map_err(|_| RedisStoreError::Timeout(timeout))??;
        let keys = Keys::new(&options.prefix);
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                runtime,
                policy,
                options,
                keys,
            }),
        })
    }

    /// The policy the store enforces.
    pub fn policy(&self) -> &GuardPolicy {
        &self.inner.policy
    }

    /// The `now` argument of a script.
    fn now_arg(&self, now: GuardTime) -> String {
        match self.inner.options.time {
            TimeSource::Redis => String::new(),
            TimeSource::Caller => now.as_millis().to_string(),
        }
    }

    /// Runs `op` on the store's runtime now (it takes effect even if the
    /// returned future is dropped), within the timeout. With `retry`, a
    /// failure is retried in the background with backoff for
    /// `retry_for` (for idempotent resolutions only); the caller still gets
    /// the first attempt's answer.
    fn spawn<T, F, Fut>(
        &self,
        what: &'static str,
        retry: bool,
        op: F,
    ) -> StoreFuture<'_, Result<T, Refusal>>
    where
        T: Send + 'static,
        F: Fn(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.runtime.spawn(async move {
            let timeout = inner.options.timeout;
            let give_up = tokio::time::Instant::now() + inner.options.retry_for;
            let mut tx = Some(tx);
            let mut backoff = Duration::from_millis(50);
            let mut failures = 0u32;
            loop {
                let err = match tokio::time::timeout(timeout, op(inner.conn.clone())).await {
                    Ok(Ok(v)) => {
                        match tx.take() {
                            Some(tx) => {
                                let _ = tx.send(Ok(v));
                            }
                            None => tracing::warn!(
                                operation = what,
                                failures,
                                "guard store: retried resolution applied"
                            ),
                        }
                        return;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {timeout:?}"),
                };
                failures += 1;
                if let Some(tx) = tx.take() {
                    tracing::error!(
                        operation = what,
                        error = %err,
                        "guard store unavailable: refusing Milagro handshakes (fail closed)"
                    );
                    let _ = tx.send(Err(Refusal::StoreUnavailable));
                }
                if !retry || tokio::time::Instant::now() >= give_up {
                    if retry {
                        tracing::error!(
                            operation = what,
                            failures,
                            "guard store: gave up retrying a resolution; it is lost"
                        );
                    }
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        Box::pin(async move { rx.await.unwrap_or(Err(Refusal::StoreUnavailable)) })
    }

    fn bucket(
        &self,
        source: IpAddr,
        now: GuardTime,
        op: &'static str,
        cost: u32,
    ) -> StoreFuture<'_, Result<i64, Refusal>> {
        let t = self.inner.policy.throttle;
        let key = self.inner.keys.bucket(source);
        let now = self.now_arg(now);
        let cap = i64::from(t.burst) * 1000;
        let cost = i64::from(cost) * 1000;
        let rate = t.refill_per_sec;
        self.spawn(op, false, move |mut c| {
            let (key, now) = (key.clone(), now.clone());
            async move {
                scripts::BUCKET
                    .key(key)
                    .arg(now)
                    .arg(op)
                    .arg(cost)
                    .arg(cap)
                    .arg(rate)
                    .arg(60_000)
                    .invoke_async(&mut c)
                    .await
            }
        })
    }

    fn replay(
        &self,
        key: &ReplayKey,
        now: GuardTime,
        insert: bool,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        let rkey = self.inner.keys.replay(key);
        let now = self.now_arg(now);
        let window = ms(self.inner.policy.replay.window + self.inner.options.max_clock_skew);
        let lifetime = window.saturating_add(60_000);
        let fut = self.spawn("replay", false, move |mut c| {
            let (rkey, now) = (rkey.clone(), now.clone());
            async move {
                scripts::REPLAY
                    .key(rkey)
                    .arg(now)
                    .arg(window)
                    .arg(if insert { "1" } else { "0" })
                    .arg(lifetime)
                    .invoke_async::<i64>(&mut c)
                    .await
            }
        });
        Box::pin(async move {
            match fut.await? {
                0 => Ok(()),
                _ => Err(Refusal::Replay),
            }
        })
    }

    /// Lifetime of the reservation hash: longer than any slot in it.
    fn slots_lifetime(&self) -> u64 {
        ms(self.orphan_hold()).saturating_add(60_000)
    }

    fn orphan_hold(&self) -> Duration {
        self.inner
            .options
            .orphan_hold
            .max(self.inner.policy.lockout.reservation_ttl)
    }

    /// Lifetime of a `done:<id>` marker: longer than any retry.
    fn done_lifetime(&self) -> u64 {
        ms(self.inner.options.retry_for).saturating_add(3_600_000)
    }

    fn slowdown_allowance(&self) -> u64 {
        let s = self.inner.policy.slowdown;
        ms(s.interval.saturating_mul(s.burst.max(1) - 1))
    }

    fn advance(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
        stage: &'static str,
        lifetime: Duration,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        let slots = self.inner.keys.slots(t.hid());
        let id = t.id();
        let now = self.now_arg(now);
        let lifetime = ms(lifetime);
        let hash_life = self.slots_lifetime();
        let fut = self.spawn("advance", false, move |mut c| {
            let (slots, now) = (slots.clone(), now.clone());
            async move {
                scripts::ADVANCE
                    .key(slots)
                    .arg(now)
                    .arg(id)
                    .arg(stage)
                    .arg(lifetime)
                    .arg(hash_life)
                    .invoke_async::<i64>(&mut c)
                    .await
            }
        });
        Box::pin(async move { Ok(fut.await? == 1) })
    }

    /// A terminal resolution script over (id, slots, done) with extra args.
    fn terminal<T>(
        &self,
        what: &'static str,
        script: &'static std::sync::LazyLock<redis::Script>,
        t: &ReservationTicket,
        now: GuardTime,
        extra: Vec<u64>,
    ) -> StoreFuture<'_, Result<T, Refusal>>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        let k = &self.inner.keys;
        let (idk, slots, done) = (
            k.identity(t.hid()),
            k.slots(t.hid()),
            k.done(t.hid(), t.id()),
        );
        let id = t.id();
        let now = self.now_arg(now);
        let done_life = self.done_lifetime();
        self.spawn(what, true, move |mut c| {
            let (idk, slots, done, now, extra) = (
                idk.clone(),
                slots.clone(),
                done.clone(),
                now.clone(),
                extra.clone(),
            );
            async move {
                let mut inv = script.prepare_invoke();
                inv.key(idk)
                    .key(slots)
                    .key(done)
                    .arg(now)
                    .arg(id)
                    .arg(done_life);
                for a in extra {
                    inv.arg(a);
                }
                inv.invoke_async::<T>(&mut c).await
            }
        })
    }
}

impl GuardStore for RedisStore {
    fn replay_seen(&self, key: &ReplayKey, now: GuardTime) -> StoreFuture<'_, Result<(), Refusal>> {
        self.replay(key, now, false)
    }

    fn insert_after_good_proof(
        &self,
        key: &ReplayKey,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        self.replay(key, now, true)
    }

    fn admit_source(&self, source: IpAddr, now: GuardTime) -> StoreFuture<'_, Result<(), Refusal>> {
        let fut = self.bucket(source, now, "admit", self.inner.policy.throttle.hello_cost);
        Box::pin(async move {
            match fut.await? {
                0 => Ok(()),
                _ => Err(Refusal::Throttled),
            }
        })
    }

    fn charge_source(
        &self,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        let fut = self.bucket(
            source,
            now,
            "charge",
            self.inner.policy.throttle.invalid_cost,
        );
        Box::pin(async move { fut.await.map(|_| ()) })
    }

    fn source_tokens(
        &self,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<i64, Refusal>> {
        self.bucket(source, now, "tokens", 0)
    }

    fn reserve(
        &self,
        hid: &Hid,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<ReservationTicket, Refusal>> {
        let id = match random_id() {
            Some(id) => id,
            None => return milagro_tls::guard::ready(Err(Refusal::StoreUnavailable)),
        };
        let p = self.inner.policy;
        let (idk, slots) = (self.inner.keys.identity(hid), self.inner.keys.slots(hid));
        let now = self.now_arg(now);
        let args = [
            id,
            u64::from(p.lockout.max_failures),
            u64::from(p.lockout.max_in_flight),
            u64::from(p.lockout.cumulative_cap),
            ms(p.lockout.reservation_ttl),
            ms(p.slowdown.interval),
            self.slowdown_allowance(),
            self.slots_lifetime(),
        ];
        let fut = self.spawn("reserve", false, move |mut c| {
            let (idk, slots, now) = (idk.clone(), slots.clone(), now.clone());
            async move {
                let mut inv = scripts::RESERVE.prepare_invoke();
                inv.key(idk).key(slots).arg(now);
                for a in args {
                    inv.arg(a);
                }
                inv.invoke_async::<i64>(&mut c).await
            }
        });
        let hid = *hid;
        Box::pin(async move {
            match fut.await? {
                0 => Ok(ReservationTicket::new(hid, source, id)),
                1 => Err(Refusal::LockedUntilReenrolled),
                2 => Err(Refusal::LockedOut),
                3 => Err(Refusal::TooManyInFlight),
                4 => Err(Refusal::SlowedDown),
                _ => Err(Refusal::StoreUnavailable),
            }
        })
    }

    fn proof_failed(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        self.advance(t, now, "A", self.orphan_hold())
    }

    fn proof_ok(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        self.advance(t, now, "P", self.inner.policy.lockout.reservation_ttl)
    }

    fn release(
        &self,
        t: &ReservationTicket,
        _now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        let slots = self.inner.keys.slots(t.hid());
        let id = t.id();
        self.spawn("release", true, move |mut c| {
            let slots = slots.clone();
            async move {
                redis::cmd("HDEL")
                    .arg(slots)
                    .arg(id)
                    .query_async::<i64>(&mut c)
                    .await
                    .map(|_| ())
            }
        })
    }

    fn invalid_credential(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        let extra = vec![
            ms(self.inner.policy.slowdown.interval),
            self.slowdown_allowance(),
        ];
        let fut = self.terminal::<i64>("invalid_credential", &scripts::INVALID, t, now, extra);
        Box::pin(async move { Ok(fut.await? == 1) })
    }

    fn wrong_pin(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<Option<WrongPinCounts>, Refusal>> {
        let lockout = self.inner.policy.lockout;
        let fut = self.terminal::<(u32, u32)>("wrong_pin", &scripts::WRONG_PIN, t, now, Vec::new());
        Box::pin(async move {
            let (confirmed, cumulative) = fut.await?;
            Ok(Some(WrongPinCounts {
                confirmed,
                cumulative,
                locked_out: confirmed >= lockout.max_failures,
                locked_until_reenrolled: cumulative >= lockout.cumulative_cap,
            }))
        })
    }

    fn completed(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        let fut = self.terminal::<i64>("completed", &scripts::COMPLETED, t, now, Vec::new());
        Box::pin(async move { fut.await.map(|_| ()) })
    }

    fn reenrolled(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>> {
        let idk = self.inner.keys.identity(hid);
        self.spawn("reenrolled", false, move |mut c| {
            let idk = idk.clone();
            async move {
                redis::cmd("HDEL")
                    .arg(idk)
                    .arg("c")
                    .arg("k")
                    .query_async::<i64>(&mut c)
                    .await
                    .map(|_| ())
            }
        })
    }

    fn unlock(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>> {
        let idk = self.inner.keys.identity(hid);
        self.spawn("unlock", false, move |mut c| {
            let idk = idk.clone();
            async move {
                redis::cmd("HDEL")
                    .arg(idk)
                    .arg("c")
                    .query_async::<i64>(&mut c)
                    .await
                    .map(|_| ())
            }
        })
    }

    fn status(
        &self,
        hid: &Hid,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<IdentityStatus, Refusal>> {
        let (idk, slots) = (self.inner.keys.identity(hid), self.inner.keys.slots(hid));
        let now = self.now_arg(now);
        let allowance = self.slowdown_allowance();
        let interval = ms(self.inner.policy.slowdown.interval);
        let lockout = self.inner.policy.lockout;
        let fut = self.spawn("status", false, move |mut c| {
            let (idk, slots, now) = (idk.clone(), slots.clone(), now.clone());
            async move {
                scripts::STATUS
                    .key(idk)
                    .key(slots)
                    .arg(now)
                    .arg(allowance)
                    .arg(interval)
                    .invoke_async::<(u32, u32, u32, u8)>(&mut c)
                    .await
            }
        });
        Box::pin(async move {
            let (confirmed, cumulative, in_flight, slowed) = fut.await?;
            Ok(IdentityStatus {
                confirmed,
                cumulative,
                in_flight,
                locked_out: confirmed >= lockout.max_failures,
                locked_until_reenrolled: cumulative >= lockout.cumulative_cap,
                slowed_down: slowed == 1,
            })
        })
    }

    fn max_pending_classifications(&self) -> usize {
        self.inner.policy.lockout.max_pending_classifications
    }

    fn replay_window(&self) -> Duration {
        self.inner.policy.replay.window
    }

    fn reservation_ttl(&self) -> Duration {
        self.inner.policy.lockout.reservation_ttl
    }
}

/// A random reservation id (unique across servers with overwhelming
/// probability), or `None` when the system's randomness failed.
fn random_id() -> Option<u64> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}
