//! The attempt table: per-identity reservations, confirmed and cumulative
//! wrong-PIN counts and the slow-down bucket of invalid classifications,
//! with TTL expiry through ordered indexes.
//!
//! A slot awaiting classification has **no** expiry: it leaves the table only
//! through its classification (or the counted drop of its handle), never by
//! time (docs/protocol.md §6.4 step 3, "classifier flooding").

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::Refusal;
use super::clock::GuardTime;
use super::observer::Stage;
use super::policy::{LockoutPolicy, SlowdownPolicy};
use super::store::{IdentityStatus, WrongPinCounts};
use crate::identity::Hid;

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u64,
    /// `None` for a slot awaiting classification: it never expires.
    expires: Option<GuardTime>,
    stage: Stage,
}

#[derive(Debug, Default)]
struct Entry {
    confirmed: u32,
    cumulative: u32,
    slots: Vec<Slot>,
    /// The slow-down bucket as a GCRA "theoretical arrival time": each
    /// invalid classification moves it to `max(tat, now) + interval`; the
    /// identity is slowed down while `tat > now + (burst − 1) × interval`
    /// (one more invalid classification would exceed the burst). `None` once
    /// it has drained (`tat ≤ now`).
    tat: Option<GuardTime>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.confirmed == 0 && self.cumulative == 0 && self.slots.is_empty() && self.tat.is_none()
    }
}

#[derive(Debug)]
pub(super) struct Attempts {
    policy: LockoutPolicy,
    slowdown: SlowdownPolicy,
    entries: HashMap<Hid, Entry>,
    /// (expiry, reservation id, HID) of every slot that has an expiry.
    expiry: BTreeSet<(GuardTime, u64, Hid)>,
    /// (tat, HID) of every entry with a slow-down bucket not yet drained.
    draining: BTreeSet<(GuardTime, Hid)>,
    next_id: u64,
    /// Ids of the last [`RESOLVED_MEMORY`] terminal resolutions, so that a
    /// second resolution of one ticket changes nothing (the store contract:
    /// never counted twice).
    resolved: HashSet<u64>,
    resolved_order: VecDeque<u64>,
}

/// How many terminal resolutions the table remembers for idempotency. The
/// guard's handles resolve each ticket once; this only guards callers of the
/// store itself, which retry soon if at all.
const RESOLVED_MEMORY: usize = 4096;

impl Attempts {
    pub(super) fn new(policy: LockoutPolicy, slowdown: SlowdownPolicy) -> Self {
        Self {
            policy,
            slowdown,
            entries: HashMap::new(),
            expiry: BTreeSet::new(),
            draining: BTreeSet::new(),
            next_id: 1,
            resolved: HashSet::new(),
            resolved_order: VecDeque::new(),
        }
    }

    /// `(burst − 1) × interval`: how far ahead of now the bucket's tat may
    /// run while one more invalid classification still fits the burst.
    fn slowdown_allowance(&self) -> std::time::Duration {
        self.slowdown
            .interval
            .saturating_mul(self.slowdown.burst.max(1) - 1)
    }

    /// Whether `e` is slowed down at `now`.
    fn slowed(&self, e: &Entry, now: GuardTime) -> bool {
        e.tat
            .is_some_and(|tat| tat > now.saturating_add(self.slowdown_allowance()))
    }

    /// Marks `id` resolved; false when it already was (then the caller
    /// changes nothing).
    fn first_resolution(&mut self, id: u64) -> bool {
        if !self.resolved.insert(id) {
            return false;
        }
        self.resolved_order.push_back(id);
        if self.resolved_order.len() > RESOLVED_MEMORY {
            if let Some(old) = self.resolved_order.pop_front() {
                self.resolved.remove(&old);
            }
        }
        true
    }

    fn counts(&self, e: &Entry) -> WrongPinCounts {
        WrongPinCounts {
            confirmed: e.confirmed,
            cumulative: e.cumulative,
            locked_out: e.confirmed >= self.policy.max_failures,
            locked_until_reenrolled: e.cumulative >= self.policy.cumulative_cap,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Releases every slot whose TTL has passed at `now` (nothing counted),
    /// and forgets every slow-down bucket that has drained.
    fn prune(&mut self, now: GuardTime) {
        while let Some(&(expires, id, hid)) = self.expiry.first() {
            if expires > now {
                break;
            }
            self.expiry.pop_first();
            self.take_slot(&hid, id);
        }
        while let Some(&(tat, hid)) = self.draining.first() {
            if tat > now {
                break;
            }
            self.draining.pop_first();
            if let Some(e) = self.entries.get_mut(&hid) {
                e.tat = None;
                if e.is_empty() {
                    self.entries.remove(&hid);
                }
            }
        }
    }

    /// Removes slot `id` of `hid` (and its index entry) if present; drops the
    /// entry when nothing is left in it. Returns the slot's stage.
    fn take_slot(&mut self, hid: &Hid, id: u64) -> Option<Stage> {
        let entry = self.entries.get_mut(hid)?;
        let pos = entry.slots.iter().position(|s| s.id == id)?;
        let slot = entry.slots.swap_remove(pos);
        if let Some(expires) = slot.expires {
            self.expiry.remove(&(expires, slot.id, *hid));
        }
        if entry.is_empty() {
            self.entries.remove(hid);
        }
        Some(slot.stage)
    }

    /// Atomically reserves an attempt, or refuses without counting anything.
    pub(super) fn reserve(&mut self, hid: &Hid, now: GuardTime) -> Result<u64, Refusal> {
        self.prune(now);
        let p = self.policy;
        match self.entries.get(hid) {
            Some(e) => {
                let in_flight = u32::try_from(e.slots.len()).unwrap_or(u32::MAX);
                if e.cumulative >= p.cumulative_cap {
                    return Err(Refusal::LockedUntilReenrolled);
                }
                if e.confirmed >= p.max_failures {
                    return Err(Refusal::LockedOut);
                }
                if in_flight >= p.max_in_flight
                    || e.confirmed.saturating_add(in_flight) >= p.max_failures
                {
                    return Err(Refusal::TooManyInFlight);
                }
                if self.slowed(e, now) {
                    return Err(Refusal::SlowedDown);
                }
            }
            None => {
                if p.cumulative_cap == 0 {
                    return Err(Refusal::LockedUntilReenrolled);
                }
                if p.max_failures == 0 {
                    return Err(Refusal::LockedOut);
                }
                if p.max_in_flight == 0 {
                    return Err(Refusal::TooManyInFlight);
                }
                if self.entries.len() >= p.max_identities {
                    return Err(Refusal::AttemptTableFull);
                }
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let expires = now.saturating_add(p.reservation_ttl);
        self.entries.entry(*hid).or_default().slots.push(Slot {
            id,
            expires: Some(expires),
            stage: Stage::Reserved,
        });
        self.expiry.insert((expires, id, *hid));
        Ok(id)
    }

    /// Moves a live slot to `stage` with that stage's TTL from `now`; a slot
    /// awaiting classification gets no expiry at all. Returns false when the
    /// slot is gone (released or expired).
    pub(super) fn advance(&mut self, hid: &Hid, id: u64, stage: Stage, now: GuardTime) -> bool {
        self.prune(now);
        let expires = match stage {
            Stage::AwaitingClassification => None,
            Stage::Reserved | Stage::Proved => {
                Some(now.saturating_add(self.policy.reservation_ttl))
            }
        };
        let Some(entry) = self.entries.get_mut(hid) else {
            return false;
        };
        let Some(slot) = entry.slots.iter_mut().find(|s| s.id == id) else {
            return false;
        };
        if let Some(old) = slot.expires {
            self.expiry.remove(&(old, id, *hid));
        }
        slot.expires = expires;
        slot.stage = stage;
        if let Some(new) = expires {
            self.expiry.insert((new, id, *hid));
        }
        true
    }

    /// Releases a slot without counting anything.
    pub(super) fn release(&mut self, hid: &Hid, id: u64, now: GuardTime) {
        self.prune(now);
        self.take_slot(hid, id);
    }

    /// An invalid classification: releases the slot without counting
    /// anything and spends one unit of the identity's slow-down bucket.
    /// Returns whether the identity is slowed down afterwards. With the
    /// slow-down disabled (`interval = 0`) this is a plain release.
    pub(super) fn invalid_credential(&mut self, hid: &Hid, id: u64, now: GuardTime) -> bool {
        self.prune(now);
        if !self.first_resolution(id) {
            return self.entries.get(hid).is_some_and(|e| self.slowed(e, now));
        }
        self.take_slot(hid, id);
        let interval = self.slowdown.interval;
        if interval.is_zero() {
            return false;
        }
        // take_slot may have dropped the entry; putting it back never grows
        // the table beyond what it held a moment ago, but only an entry that
        // exists or fits is kept (the table never evicts).
        if !self.entries.contains_key(hid) && self.entries.len() >= self.policy.max_identities {
            return false;
        }
        let e = self.entries.entry(*hid).or_default();
        let old = e.tat;
        let tat = old.map_or(now, |t| t.max(now)).saturating_add(interval);
        e.tat = Some(tat);
        if let Some(old) = old {
            self.draining.remove(&(old, *hid));
        }
        self.draining.insert((tat, *hid));
        self.entries.get(hid).is_some_and(|e| self.slowed(e, now))
    }

    /// Turns the slot into a confirmed wrong PIN. Counts even when the slot
    /// already expired (a late classification is still a real guess); `None`
    /// only when the identity has no entry left and the table is full.
    pub(super) fn wrong_pin(
        &mut self,
        hid: &Hid,
        id: u64,
        now: GuardTime,
    ) -> Option<WrongPinCounts> {
        self.prune(now);
        if !self.first_resolution(id) {
            return self.entries.get(hid).map(|e| self.counts(e));
        }
        self.take_slot(hid, id);
        if !self.entries.contains_key(hid) && self.entries.len() >= self.policy.max_identities {
            return None;
        }
        let e = self.entries.entry(*hid).or_default();
        e.confirmed = e.confirmed.saturating_add(1);
        e.cumulative = e.cumulative.saturating_add(1);
        self.entries.get(hid).map(|e| self.counts(e))
    }

    /// A handshake with a good proof completed: its slot is released and the
    /// confirmed count reset (the cumulative count stays).
    pub(super) fn completed(&mut self, hid: &Hid, id: u64, now: GuardTime) {
        self.prune(now);
        if !self.first_resolution(id) {
            return;
        }
        self.take_slot(hid, id);
        if let Some(e) = self.entries.get_mut(hid) {
            e.confirmed = 0;
            if e.is_empty() {
                self.entries.remove(hid);
            }
        }
    }

    /// Resets both counts (slots in flight stay).
    pub(super) fn reenrolled(&mut self, hid: &Hid) {
        if let Some(e) = self.entries.get_mut(hid) {
            e.confirmed = 0;
            e.cumulative = 0;
            if e.is_empty() {
                self.entries.remove(hid);
            }
        }
    }

    /// Resets the confirmed count only.
    pub(super) fn unlock(&mut self, hid: &Hid) {
        if let Some(e) = self.entries.get_mut(hid) {
            e.confirmed = 0;
            if e.is_empty() {
                self.entries.remove(hid);
            }
        }
    }

    pub(super) fn status(&mut self, hid: &Hid, now: GuardTime) -> IdentityStatus {
        self.prune(now);
        let p = self.policy;
        match self.entries.get(hid) {
            None => IdentityStatus::default(),
            Some(e) => IdentityStatus {
                confirmed: e.confirmed,
                cumulative: e.cumulative,
                in_flight: u32::try_from(e.slots.len()).unwrap_or(u32::MAX),
                locked_out: e.confirmed >= p.max_failures,
                locked_until_reenrolled: e.cumulative >= p.cumulative_cap,
                slowed_down: self.slowed(e, now),
            },
        }
    }
}
