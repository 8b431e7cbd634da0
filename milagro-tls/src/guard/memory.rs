//! The in-process [`GuardStore`].

use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use super::Refusal;
use super::attempts::Attempts;
use super::clock::GuardTime;
use super::observer::Stage;
use super::policy::GuardPolicy;
use super::replay::{ReplayCache, ReplayKey};
use super::store::{
    GuardStore, IdentityStatus, ReservationTicket, StoreFuture, WrongPinCounts, ready,
};
use super::throttle::Throttle;
use crate::identity::Hid;

/// The guard's state in this process's memory: one mutex per table.
///
/// Guarantees:
/// * every table is bounded by its policy's capacity (identities, replay
///   entries, sources); when full it refuses new keys rather than evicting
///   security state, and it forgets only what carries none (an identity with
///   nothing in flight and no failures, an expired replay entry, a full
///   bucket);
/// * [`GuardStore::reserve`] checks and reserves under one lock: however many
///   threads race, `confirmed + in_flight` never exceeds the lockout threshold;
/// * a failed proof's slot never expires: only its classification (or the
///   counted drop of its handle) frees it;
/// * expired reservations and replay entries are pruned through ordered
///   indexes as time passes, in O(log n) each, with no periodic sweep.
///
/// Why not sharded: the critical sections are a few hash and B-tree
/// operations (well under a microsecond) against a handshake of milliseconds,
/// and sharding by attacker-chosen keys (identities are names; HIDs can be
/// ground) would let an attacker fill one shard's share of a capacity and so
/// deny service with a fraction of the effort a full table needs.
///
/// A poisoned mutex (impossible without a panic inside the guard, and the
/// guard's code has none) is recovered rather than propagated.
#[derive(Debug)]
pub struct MemoryGuard {
    attempts: Mutex<Attempts>,
    replay: Mutex<ReplayCache>,
    throttle: Mutex<Throttle>,
    hello_cost: u32,
    invalid_cost: u32,
    max_pending: usize,
    replay_window: std::time::Duration,
    reservation_ttl: std::time::Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryGuard {
    /// Empty tables with these policies.
    pub fn new(policy: GuardPolicy) -> Self {
        Self {
            attempts: Mutex::new(Attempts::new(policy.lockout, policy.slowdown)),
            replay: Mutex::new(ReplayCache::new(policy.replay)),
            throttle: Mutex::new(Throttle::new(policy.throttle)),
            hello_cost: policy.throttle.hello_cost,
            invalid_cost: policy.throttle.invalid_cost,
            max_pending: policy.lockout.max_pending_classifications,
            replay_window: policy.replay.window,
            reservation_ttl: policy.lockout.reservation_ttl,
        }
    }

    /// Identities currently tracked (bounded by `max_identities`).
    pub fn tracked_identities(&self) -> usize {
        lock(&self.attempts).len()
    }

    /// Replay entries currently held, expired ones not yet pruned included
    /// (bounded by the replay capacity).
    pub fn replay_entries(&self) -> usize {
        lock(&self.replay).len()
    }

    /// Sources currently tracked (bounded by `max_sources`).
    pub fn tracked_sources(&self) -> usize {
        lock(&self.throttle).len()
    }
}

impl GuardStore for MemoryGuard {
    fn replay_seen(&self, key: &ReplayKey, now: GuardTime) -> StoreFuture<'_, Result<(), Refusal>> {
        ready(lock(&self.replay).check(key, now))
    }

    fn insert_after_good_proof(
        &self,
        key: &ReplayKey,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        ready(lock(&self.replay).insert(key, now))
    }

    fn admit_source(&self, source: IpAddr, now: GuardTime) -> StoreFuture<'_, Result<(), Refusal>> {
        ready(lock(&self.throttle).admit(source, self.hello_cost, now))
    }

    fn charge_source(
        &self,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        lock(&self.throttle).charge(source, self.invalid_cost, now);
        ready(Ok(()))
    }

    fn source_tokens(
        &self,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<i64, Refusal>> {
        ready(Ok(lock(&self.throttle).tokens(source, now)))
    }

    fn reserve(
        &self,
        hid: &Hid,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<ReservationTicket, Refusal>> {
        let id = lock(&self.attempts).reserve(hid, now);
        ready(id.map(|id| ReservationTicket::new(*hid, source, id)))
    }

    fn proof_failed(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        ready(Ok(lock(&self.attempts).advance(
            t.hid(),
            t.id(),
            Stage::AwaitingClassification,
            now,
        )))
    }

    fn proof_ok(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        ready(Ok(lock(&self.attempts).advance(
            t.hid(),
            t.id(),
            Stage::Proved,
            now,
        )))
    }

    fn release(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        lock(&self.attempts).release(t.hid(), t.id(), now);
        ready(Ok(()))
    }

    fn invalid_credential(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        ready(Ok(lock(&self.attempts).invalid_credential(
            t.hid(),
            t.id(),
            now,
        )))
    }

    fn wrong_pin(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<Option<WrongPinCounts>, Refusal>> {
        ready(Ok(lock(&self.attempts).wrong_pin(t.hid(), t.id(), now)))
    }

    fn completed(
        &self,
        t: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>> {
        lock(&self.attempts).completed(t.hid(), t.id(), now);
        ready(Ok(()))
    }

    fn reenrolled(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>> {
        lock(&self.attempts).reenrolled(hid);
        ready(Ok(()))
    }

    fn unlock(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>> {
        lock(&self.attempts).unlock(hid);
        ready(Ok(()))
    }

    fn status(
        &self,
        hid: &Hid,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<IdentityStatus, Refusal>> {
        ready(Ok(lock(&self.attempts).status(hid, now)))
    }

    fn max_pending_classifications(&self) -> usize {
        self.max_pending
    }

    fn replay_window(&self) -> std::time::Duration {
        self.replay_window
    }

    fn reservation_ttl(&self) -> std::time::Duration {
        self.reservation_ttl
    }
}
