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
//! * **One round trip on a login's critical path.** A successful login
//!   makes three, each one script: the ClientHello's checks (replay lookup,
//!   source bucket, reservation: [`GuardStore::admit_and_reserve`]), which
//!   the key exchange waits for; the good proof's replay insert and stage,
//!   started as soon as the proof has verified and waited for only when the
//!   key agreement's pairing is done ([`GuardStore::start_good_proof`]), so
//!   the two overlap; and the completion, started when the handshake
//!   completes and not waited for ([`GuardStore::completed_detached`]): its
//!   answer cannot change the connection.
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
//! * The admission script touches the source's bucket (`{s:…}`) and the
//!   identity's keys (`{h:…}`) at once, which one Redis runs atomically —
//!   the store connects to one Redis (a [`ConnectionManager`]). On a Redis
//!   Cluster those hash tags would fall in different slots, and a cluster
//!   store would need more round trips for the same order of checks (every
//!   other script already touches one slot).
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
mod op;
mod scripts;
pub mod testing;

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use milagro_tls::guard::{
    CompletionReport, GoodProofInFlight, GuardPolicy, GuardStore, GuardTime, IdentityStatus,
    Refusal, ReplayKey, ReservationTicket, StoreFuture, WrongPinCounts, block_on,
};
use milagro_tls::identity::Hid;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::runtime::{Handle, RuntimeFlavor};

use keys::Keys;
use op::Op;

/// A script's `ARGV`, each value written as Redis reads it.
macro_rules! argv {
    ($($a:expr),* $(,)?) => {
        vec![$(($a).to_string()),*]
    };
}

/// Whose clock the scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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

impl Inner {
    /// One attempt at `op` within the timeout, the error as text.
    async fn attempt<T: redis::FromRedisValue>(&self, op: &Op) -> Result<T, String> {
        let timeout = self.options.timeout;
        let mut conn = self.conn.clone();
        match tokio::time::timeout(timeout, op.run::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }
}

/// What a store call does after its first attempt failed (the caller has
/// been answered [`Refusal::StoreUnavailable`] by then).
enum OnFailure {
    /// Nothing: a check or a read, which the caller's refusal ends.
    GiveUp,
    /// Applies the same operation again, with backoff, for
    /// [`RedisOptions::retry_for`]: idempotent resolutions, which must not
    /// be lost.
    Retry,
    /// Applies this operation instead, retried like [`Retry`](Self::Retry):
    /// it cancels what the failed one may still do once Redis runs it (a
    /// timed-out admission's reservation).
    Undo(Op),
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
    /// returned future is dropped), within the timeout; the caller gets the
    /// first attempt's answer. What happens after a failed first attempt is
    /// `then`'s choice.
    fn run<T>(
        &self,
        what: &'static str,
        then: OnFailure,
        op: Op,
    ) -> StoreFuture<'_, Result<T, Refusal>>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.spawn(what, then, op, move |answer| {
            let _ = tx.send(answer);
        });
        Box::pin(async move { rx.await.unwrap_or(Err(Refusal::StoreUnavailable)) })
    }

    /// [`run`](Self::run), handing the first attempt's answer to `reply`
    /// (on a runtime worker) instead of to a future.
    fn spawn<T>(
        &self,
        what: &'static str,
        then: OnFailure,
        op: Op,
        reply: impl FnOnce(Result<T, Refusal>) + Send + 'static,
    ) where
        T: redis::FromRedisValue + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        self.inner.runtime.spawn(async move {
            let timeout = inner.options.timeout;
            let give_up = tokio::time::Instant::now() + inner.options.retry_for;
            let err = match inner.attempt::<T>(&op).await {
                Ok(v) => {
                    reply(Ok(v));
                    return;
                }
                Err(e) => e,
            };
            unavailable(what, &err);
            reply(Err(Refusal::StoreUnavailable));
            let (what, op) = match then {
                OnFailure::GiveUp => return,
                OnFailure::Retry => (what, op),
                OnFailure::Undo(undo) => ("undo", undo),
            };
            let mut backoff = Duration::from_millis(50);
            let mut failures = 1u32;
            while tokio::time::Instant::now() < give_up {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                if inner.attempt::<redis::Value>(&op).await.is_ok() {
                    tracing::warn!(
                        operation = what,
                        failures,
                        "guard store: retried resolution applied"
                    );
                    return;
                }
                failures += 1;
            }
            tracing::error!(
                operation = what,
                failures,
                "guard store: gave up retrying a resolution after {timeout:?} each; it is lost"
            );
        });
    }

    /// [`run`](Self::run) for an answer that is a code, mapped by `map`
    /// (`None`: a code the scripts never return, treated as a failure).
    fn run_code<T: Send + 'static>(
        &self,
        what: &'static str,
        op: Op,
        map: fn(i64) -> Option<Result<T, Refusal>>,
    ) -> StoreFuture<'_, Result<T, Refusal>> {
        let fut = self.run::<i64>(what, OnFailure::GiveUp, op);
        Box::pin(async move { map(fut.await?).unwrap_or(Err(Refusal::StoreUnavailable)) })
    }

    /// The `BUCKET` script's arguments after the operation name: cost,
    /// size, refill, garbage slack.
    fn bucket_args(&self, cost: u32) -> [i64; 4] {
        let t = self.inner.policy.throttle;
        [
            i64::from(cost) * 1000,
            i64::from(t.burst) * 1000,
            i64::from(t.refill_per_sec),
            60_000,
        ]
    }

    fn bucket(
        &self,
        source: IpAddr,
        now: GuardTime,
        op: &'static str,
        cost: u32,
    ) -> StoreFuture<'_, Result<i64, Refusal>> {
        let [cost, cap, rate, slack] = self.bucket_args(cost);
        let call = Op::script(
            &scripts::BUCKET,
            vec![self.inner.keys.bucket(source)],
            argv![self.now_arg(now), op, cost, cap, rate, slack],
        );
        self.run(op, OnFailure::GiveUp, call)
    }

    /// The replay window as the store keeps it, and the entry key's
    /// lifetime (which only collects garbage).
    fn replay_window_ms(&self) -> (u64, u64) {
        let window = ms(self.inner.policy.replay.window + self.inner.options.max_clock_skew);
        (window, window.saturating_add(60_000))
    }

    fn replay(
        &self,
        key: &ReplayKey,
        now: GuardTime,
        insert: bool,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        let (window, lifetime) = self.replay_window_ms();
        let call = Op::script(
            &scripts::REPLAY,
            vec![self.inner.keys.replay(key)],
            argv![self.now_arg(now), window, u8::from(insert), lifetime],
        );
        self.run_code("replay", call, |code| match code {
            0 => Some(Ok(())),
            1 => Some(Err(Refusal::Replay)),
            _ => None,
        })
    }

    /// The seven numbers of the `RESERVE` step after the slot id.
    fn reserve_args(&self) -> [u64; 7] {
        let p = self.inner.policy;
        [
            u64::from(p.lockout.max_failures),
            u64::from(p.lockout.max_in_flight),
            u64::from(p.lockout.cumulative_cap),
            ms(p.lockout.reservation_ttl),
            ms(p.slowdown.interval),
            self.slowdown_allowance(),
            self.slots_lifetime(),
        ]
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
        let call = Op::script(
            &scripts::ADVANCE,
            vec![self.inner.keys.slots(t.hid())],
            argv![
                self.now_arg(now),
                t.id(),
                stage,
                ms(lifetime),
                self.slots_lifetime()
            ],
        );
        self.run_code("advance", call, |code| Some(Ok(code == 1)))
    }

    /// A terminal resolution script over (id, slots, done) with `extra`
    /// arguments after the done lifetime. Retried in the background on
    /// failure (the done marker makes a repeat harmless).
    fn terminal<T>(
        &self,
        what: &'static str,
        script: &'static LazyLock<Script>,
        t: &ReservationTicket,
        now: GuardTime,
        extra: &[u64],
    ) -> StoreFuture<'_, Result<T, Refusal>>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        self.run(
            what,
            OnFailure::Retry,
            self.terminal_op(script, t, now, extra),
        )
    }

    fn terminal_op(
        &self,
        script: &'static LazyLock<Script>,
        t: &ReservationTicket,
        now: GuardTime,
        extra: &[u64],
    ) -> Op {
        let k = &self.inner.keys;
        let mut args = argv![self.now_arg(now), t.id(), self.done_lifetime()];
        args.extend(extra.iter().map(u64::to_string));
        Op::script(
            script,
            vec![
                k.identity(t.hid()),
                k.slots(t.hid()),
                k.done(t.hid(), t.id()),
            ],
            args,
        )
    }

    /// The `PROVE` script for a good proof of `t` with share `key`.
    fn prove_op(&self, t: &ReservationTicket, key: &ReplayKey, now: GuardTime) -> Op {
        let (window, lifetime) = self.replay_window_ms();
        Op::script(
            &scripts::PROVE,
            vec![self.inner.keys.replay(key), self.inner.keys.slots(t.hid())],
            argv![
                self.now_arg(now),
                window,
                lifetime,
                t.id(),
                ms(self.inner.policy.lockout.reservation_ttl),
                self.slots_lifetime()
            ],
        )
    }

    /// `HDEL key fields…` (release and the administrative resets).
    /// Undoes a reservation attempt `id` whose answer never came: Redis may
    /// still run it (a stalled Redis wakes up; the request was sent), and
    /// nobody holds its slot. The `CANCEL` script marks the id done, so a
    /// late reservation is refused, and frees the slot if it was taken.
    fn cancel(&self, hid: &Hid, id: u64) -> OnFailure {
        let k = &self.inner.keys;
        OnFailure::Undo(Op::script(
            &scripts::CANCEL,
            vec![k.slots(hid), k.done(hid, id)],
            argv![String::new(), id, self.done_lifetime()],
        ))
    }

    /// `then` as for [`run`](Self::run).
    fn hdel(
        &self,
        what: &'static str,
        then: OnFailure,
        key: String,
        fields: &[&str],
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(key).arg(fields);
        let fut = self.run::<i64>(what, then, Op::Cmd(cmd));
        Box::pin(async move { fut.await.map(|_| ()) })
    }
}

/// What the `PROVE` script answered: recorded and staged (`true`), recorded
/// but the slot was gone (`false`), or the share was already recorded.
fn prove_answer(code: i64) -> Option<Result<bool, Refusal>> {
    match code {
        -1 => Some(Err(Refusal::Replay)),
        0 | 1 => Some(Ok(code == 1)),
        _ => None,
    }
}

/// Logs a store call that failed: the guard refuses Milagro handshakes
/// while the store does not answer.
fn unavailable(what: &'static str, error: &str) {
    tracing::error!(
        operation = what,
        error = %error,
        "guard store unavailable: refusing Milagro handshakes (fail closed)"
    );
}

/// A reservation refusal code of the `RESERVE` step.
fn reserve_refusal(code: i64) -> Option<Refusal> {
    Some(match code {
        1 => Refusal::LockedUntilReenrolled,
        2 => Refusal::LockedOut,
        3 => Refusal::TooManyInFlight,
        4 => Refusal::SlowedDown,
        _ => return None,
    })
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
        let cost = self.inner.policy.throttle.invalid_cost;
        let fut = self.bucket(source, now, "charge", cost);
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
        let Some(id) = random_id() else {
            return milagro_tls::guard::ready(Err(Refusal::StoreUnavailable));
        };
        let k = &self.inner.keys;
        let mut args = argv![self.now_arg(now), id];
        args.extend(self.reserve_args().iter().map(u64::to_string));
        let call = Op::script(
            &scripts::RESERVE,
            vec![k.identity(hid), k.slots(hid), k.done(hid, id)],
            args,
        );
        let fut = self.run::<i64>("reserve", self.cancel(hid, id), call);
        let ticket = ReservationTicket::new(*hid, source, id);
        Box::pin(async move {
            match fut.await? {
                0 => Ok(ticket),
                code => Err(reserve_refusal(code).unwrap_or(Refusal::StoreUnavailable)),
            }
        })
    }

    /// One `ADMIT` script: the replay lookup, the source's bucket and the
    /// reservation in one atomic round trip.
    fn admit_and_reserve(
        &self,
        key: &ReplayKey,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<ReservationTicket, Refusal>> {
        let Some(id) = random_id() else {
            return milagro_tls::guard::ready(Err(Refusal::StoreUnavailable));
        };
        let hid = Hid(*key.hid());
        let k = &self.inner.keys;
        let [cost, cap, rate, slack] = self.bucket_args(self.inner.policy.throttle.hello_cost);
        let mut args = argv![self.now_arg(now), cost, cap, rate, slack, id];
        args.extend(self.reserve_args().iter().map(u64::to_string));
        let call = Op::script(
            &scripts::ADMIT,
            vec![
                k.replay(key),
                k.bucket(source),
                k.identity(&hid),
                k.slots(&hid),
                k.done(&hid, id),
            ],
            args,
        );
        let fut = self.run::<i64>("admit", self.cancel(&hid, id), call);
        let ticket = ReservationTicket::new(hid, source, id);
        Box::pin(async move {
            match fut.await? {
                0 => Ok(ticket),
                -1 => Err(Refusal::Replay),
                -2 => Err(Refusal::Throttled),
                code => Err(reserve_refusal(code).unwrap_or(Refusal::StoreUnavailable)),
            }
        })
    }

    /// One `PROVE` script: the replay insert and the slot's stage in one
    /// atomic round trip.
    fn record_good_proof(
        &self,
        t: &ReservationTicket,
        key: &ReplayKey,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        self.run_code(
            "record_good_proof",
            self.prove_op(t, key, now),
            prove_answer,
        )
    }

    /// The same `PROVE` script, started now on the store's runtime; the
    /// key exchange's thread waits for it once its own work is done.
    fn start_good_proof(
        &self,
        t: &ReservationTicket,
        key: &ReplayKey,
        now: GuardTime,
    ) -> GoodProofInFlight {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let op = self.prove_op(t, key, now);
        self.spawn("record_good_proof", OnFailure::GiveUp, op, move |answer| {
            let _ = tx.send(answer);
        });
        GoodProofInFlight::new(move || {
            let code = block_on(rx).unwrap_or(Err(Refusal::StoreUnavailable))?;
            prove_answer(code).unwrap_or(Err(Refusal::StoreUnavailable))
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
        let id = t.id().to_string();
        self.hdel(
            "release",
            OnFailure::Retry,
            self.inner.keys.slots(t.hid()),
            &[&id],
        )
    }

    fn invalid_credential(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        let extra = [
            ms(self.inner.policy.slowdown.interval),
            self.slowdown_allowance(),
        ];
        let fut = self.terminal::<i64>("invalid_credential", &scripts::INVALID, t, now, &extra);
        Box::pin(async move { Ok(fut.await? == 1) })
    }

    fn wrong_pin(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<Option<WrongPinCounts>, Refusal>> {
        let lockout = self.inner.policy.lockout;
        let fut = self.terminal::<(u32, u32)>("wrong_pin", &scripts::WRONG_PIN, t, now, &[]);
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
        let fut = self.terminal::<i64>("completed", &scripts::COMPLETED, t, now, &[]);
        Box::pin(async move { fut.await.map(|_| ()) })
    }

    /// The `COMPLETED` script, started now on the store's runtime and
    /// retried like any resolution; `report` hears its first answer there.
    fn completed_detached(&self, t: &ReservationTicket, now: GuardTime, report: CompletionReport) {
        let op = self.terminal_op(&scripts::COMPLETED, t, now, &[]);
        self.spawn("completed", OnFailure::Retry, op, move |answer| {
            report(answer.map(|_: i64| ()));
        });
    }

    fn reenrolled(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>> {
        self.hdel(
            "reenrolled",
            OnFailure::GiveUp,
            self.inner.keys.identity(hid),
            &["c", "k"],
        )
    }

    fn unlock(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>> {
        self.hdel(
            "unlock",
            OnFailure::GiveUp,
            self.inner.keys.identity(hid),
            &["c"],
        )
    }

    fn status(
        &self,
        hid: &Hid,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<IdentityStatus, Refusal>> {
        let k = &self.inner.keys;
        let call = Op::script(
            &scripts::STATUS,
            vec![k.identity(hid), k.slots(hid)],
            argv![
                self.now_arg(now),
                self.slowdown_allowance(),
                ms(self.inner.policy.slowdown.interval)
            ],
        );
        let lockout = self.inner.policy.lockout;
        let fut = self.run::<(u32, u32, u32, u8)>("status", OnFailure::GiveUp, call);
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

    /// Every operation is a round trip to Redis.
    fn is_remote(&self) -> bool {
        true
    }
}

/// A random reservation id (unique across servers with overwhelming
/// probability), or `None` when the system's randomness failed.
fn random_id() -> Option<u64> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}
