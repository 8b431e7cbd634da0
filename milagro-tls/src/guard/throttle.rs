//! Per-source token buckets, bounded, forgetting only full buckets.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use super::Refusal;
use super::clock::GuardTime;
use super::policy::ThrottlePolicy;

/// The unit the throttle counts: an IPv4 address (IPv4-mapped IPv6
/// addresses included) or an IPv6 /64 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKey {
    /// One IPv4 address.
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6Prefix([u8; 8]),
}

impl SourceKey {
    /// The throttle unit of an address.
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let o = a.octets();
                    Self::V6Prefix([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// One bucket, in milli-tokens (1 token/s is 1 milli-token per ms).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: i64,
    updated: GuardTime,
    full_at: GuardTime,
}

#[derive(Debug)]
pub(super) struct Throttle {
    policy: ThrottlePolicy,
    buckets: HashMap<SourceKey, Bucket>,
    /// (time the bucket is full again, source): full buckets are forgotten.
    by_full_at: BTreeSet<(GuardTime, SourceKey)>,
}

impl Throttle {
    pub(super) fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            buckets: HashMap::new(),
            by_full_at: BTreeSet::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.buckets.len()
    }

    fn cap(&self) -> i64 {
        i64::from(self.policy.burst) * 1000
    }

    /// Forgets every bucket that is full at `now`.
    fn prune(&mut self, now: GuardTime) {
        while let Some(&(full_at, key)) = self.by_full_at.first() {
            if full_at > now {
                break;
            }
            self.by_full_at.pop_first();
            self.buckets.remove(&key);
        }
    }

    /// The bucket for `key` refilled to `now`, or a full one if untracked;
    /// `Err(SourceTableFull)` when untracked and there is no room.
    fn current(&mut self, key: SourceKey, now: GuardTime) -> Result<Bucket, Refusal> {
        self.prune(now);
        let cap = self.cap();
        match self.buckets.get(&key) {
            Some(b) => {
                let gained = i64::try_from(
                    now.millis_since(b.updated)
                        .saturating_mul(u64::from(self.policy.refill_per_sec)),
                )
                .unwrap_or(i64::MAX);
                Ok(Bucket {
                    milli: b.milli.saturating_add(gained).min(cap),
                    updated: now.max(b.updated),
                    full_at: b.full_at,
                })
            }
            None if self.buckets.len() >= self.policy.max_sources => Err(Refusal::SourceTableFull),
            None => Ok(Bucket {
                milli: cap,
                updated: now,
                full_at: now,
            }),
        }
    }

    /// Stores `b` for `key` (or forgets it when full), keeping the index.
    fn store(&mut self, key: SourceKey, mut b: Bucket) {
        if let Some(old) = self.buckets.get(&key) {
            self.by_full_at.remove(&(old.full_at, key));
        }
        let cap = self.cap();
        let missing = u64::try_from(cap.saturating_sub(b.milli)).unwrap_or(0);
        if missing == 0 {
            self.buckets.remove(&key);
            return;
        }
        let rate = u64::from(self.policy.refill_per_sec);
        b.full_at = if rate == 0 {
            GuardTime::from_millis(u64::MAX)
        } else {
            GuardTime::from_millis(b.updated.as_millis().saturating_add(missing.div_ceil(rate)))
        };
        self.by_full_at.insert((b.full_at, key));
        self.buckets.insert(key, b);
    }

    /// Takes `cost` tokens from the source's bucket, or refuses (`Throttled`,
    /// nothing taken) when it holds fewer.
    pub(super) fn admit(
        &mut self,
        source: IpAddr,
        cost: u32,
        now: GuardTime,
    ) -> Result<(), Refusal> {
        let key = SourceKey::of(source);
        let mut b = self.current(key, now)?;
        let need = i64::from(cost) * 1000;
        if b.milli < need {
            // Keep the refill bookkeeping; nothing is taken.
            if self.buckets.contains_key(&key) {
                self.store(key, b);
            }
            return Err(Refusal::Throttled);
        }
        b.milli -= need;
        self.store(key, b);
        Ok(())
    }

    /// Charges `cost` tokens whatever the balance, down to a debt of one
    /// bucket. An untracked source with no room left is not charged (it has
    /// nothing to lose that a full bucket does not already give it).
    pub(super) fn charge(&mut self, source: IpAddr, cost: u32, now: GuardTime) {
        let key = SourceKey::of(source);
        let Ok(mut b) = self.current(key, now) else {
            return;
        };
        let floor = -self.cap();
        b.milli = b.milli.saturating_sub(i64::from(cost) * 1000).max(floor);
        self.store(key, b);
    }

    /// Whole tokens the source holds at `now` (negative when in debt).
    pub(super) fn tokens(&mut self, source: IpAddr, now: GuardTime) -> i64 {
        let key = SourceKey::of(source);
        self.prune(now);
        match self.current(key, now) {
            Ok(b) => b.milli.div_euclid(1000),
            Err(_) => i64::from(self.policy.burst),
        }
    }
}
