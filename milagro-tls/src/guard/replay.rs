//! The replay cache of (HID, U) bytes: bounded, fail closed, pruned by expiry.

use std::collections::{HashMap, VecDeque};

use super::Refusal;
use super::clock::GuardTime;
use super::policy::ReplayPolicy;
use crate::identity::Hid;

/// The replay-cache key: the HID and the U point bytes of a CS key share,
/// compared exactly as they appear on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    hid: [u8; 32],
    u: [u8; 48],
}

impl ReplayKey {
    /// The key for a share's HID and U bytes.
    pub fn new(hid: &Hid, u: &[u8; 48]) -> Self {
        Self {
            hid: *hid.as_bytes(),
            u: *u,
        }
    }

    /// The HID bytes.
    pub fn hid(&self) -> &[u8; 32] {
        &self.hid
    }

    /// The U bytes.
    pub fn u(&self) -> &[u8; 48] {
        &self.u
    }
}

impl core::fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "ReplayKey({}, {})",
            hex::encode(self.hid),
            hex::encode(self.u)
        )
    }
}

/// Live keys with their expiry, plus insertion order for pruning.
#[derive(Debug)]
pub(super) struct ReplayCache {
    policy: ReplayPolicy,
    live: HashMap<ReplayKey, GuardTime>,
    /// (expiry, key) in insertion order; an entry may be stale (its key since
    /// removed or re-inserted with a later expiry).
    order: VecDeque<(GuardTime, ReplayKey)>,
}

impl ReplayCache {
    pub(super) fn new(policy: ReplayPolicy) -> Self {
        Self {
            policy,
            live: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.live.len()
    }

    /// Drops every entry whose expiry is at or before `now` (from the front
    /// of the insertion order; with a monotonic clock that is all of them).
    pub(super) fn prune(&mut self, now: GuardTime) {
        while let Some(&(expires, key)) = self.order.front() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            if self.live.get(&key) == Some(&expires) {
                self.live.remove(&key);
            }
        }
    }

    /// `Err(Replay)` when `key` is live at `now`.
    pub(super) fn check(&self, key: &ReplayKey, now: GuardTime) -> Result<(), Refusal> {
        match self.live.get(key) {
            Some(&expires) if expires > now => Err(Refusal::Replay),
            _ => Ok(()),
        }
    }

    /// Remembers `key` for the window; refuses a live key (`Replay`) and,
    /// when full of live entries, everything new (`ReplayCacheFull`).
    pub(super) fn insert(&mut self, key: &ReplayKey, now: GuardTime) -> Result<(), Refusal> {
        self.prune(now);
        self.check(key, now)?;
        // An expired entry for this key (possible only with a clock that went
        // backwards) is replaced, not counted twice.
        let replaces = self.live.contains_key(key);
        if !replaces && self.live.len() >= self.policy.capacity {
            return Err(Refusal::ReplayCacheFull);
        }
        if self.order.len() >= self.policy.capacity.saturating_mul(2).max(1) {
            self.rebuild_order();
        }
        let expires = now.saturating_add(self.policy.window);
        self.live.insert(*key, expires);
        self.order.push_back((expires, *key));
        Ok(())
    }

    /// Rebuilds the order from the live map, dropping stale entries; keeps
    /// `order` bounded even if the clock misbehaves.
    fn rebuild_order(&mut self) {
        let mut v: Vec<(GuardTime, ReplayKey)> = self.live.iter().map(|(k, t)| (*t, *k)).collect();
        v.sort_by_key(|(t, _)| *t);
        self.order = v.into();
    }
}
