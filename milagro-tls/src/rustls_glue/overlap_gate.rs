//! Which connections may have step 1's store round trip overlapped with
//! their share's own work (docs/protocol.md §6.4, "Overlapping step 1"), and
//! how often that happened. [`MilagroAcceptor::precompute_share`](super::accept::MilagroAcceptor::precompute_share)
//! asks it, and step 1 tells it about every source it refuses, so every
//! adapter that overlaps keeps the rule.
//!
//! The overlap spends the work before step 1 has admitted the attempt. An
//! admitted attempt needs that work anyway; a refused one does not, so a
//! source that step 1 refused (replay, throttle, the server's load, the
//! store down) gets no overlap on this server for [`REFUSED_COOLDOWN`]: a
//! throttled source flooding ClientHellos costs the server the work at most
//! once per cooldown, not once per ClientHello. The gate is keyed by the
//! source only, never by identity (per-identity refusals are silent and
//! never reach it), so whether a connection is overlapped says nothing
//! about any identity's state.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::guard::SourceKey;

/// How long a source that step 1 refused gets no overlap.
pub(crate) const REFUSED_COOLDOWN: Duration = Duration::from_secs(10);

/// How many refused sources the gate remembers. When it is full of live
/// entries, overlap stops for every source until the oldest could have
/// expired (failing towards doing the work only after admission, as
/// without overlap).
const MAX_REFUSED_SOURCES: usize = 4096;

/// How many connections an acceptor overlapped, and why the others with a
/// share worth overlapping were not
/// ([`MilagroAcceptor::overlap_stats`](super::accept::MilagroAcceptor::overlap_stats)).
/// Counts only CS connections whose guard store is remote: the others have
/// nothing to overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OverlapStats {
    /// Connections whose share's work ran while step 1 awaited the store.
    pub overlapped: u64,
    /// Not overlapped: step 1 had refused the source within the cooldown
    /// (or so many sources that the gate closed for all of them).
    pub source_refused_recently: u64,
    /// Not overlapped: the adapter dropped the work unrun (the tokio
    /// acceptor does when no blocking-pool slot is free at once).
    pub not_run: u64,
}

/// The gate and its counters, shared by an acceptor's clones.
#[derive(Debug, Default)]
pub(crate) struct OverlapGate {
    state: Mutex<GateState>,
    overlapped: AtomicU64,
    source_refused_recently: AtomicU64,
    not_run: AtomicU64,
}

#[derive(Debug, Default)]
struct GateState {
    /// Until when each recently refused source gets no overlap.
    refused_until: HashMap<SourceKey, Instant>,
    /// Set when the table was full of live entries: no overlap for anyone
    /// until then.
    closed_until: Option<Instant>,
}

impl OverlapGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // Plain timestamps: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `source` may have its share's work overlapped at `now`
    /// (counted as not overlapped if not).
    pub(crate) fn allows(&self, source: IpAddr, now: Instant) -> bool {
        let state = self.lock();
        let closed = state.closed_until.is_some_and(|until| now < until)
            || state
                .refused_until
                .get(&SourceKey::of(source))
                .is_some_and(|until| now < *until);
        if closed {
            self.source_refused_recently.fetch_add(1, Ordering::Relaxed);
        }
        !closed
    }

    /// Step 1 refused `source` at `now`.
    pub(crate) fn refused(&self, source: IpAddr, now: Instant) {
        let until = now + REFUSED_COOLDOWN;
        let mut state = self.lock();
        let key = SourceKey::of(source);
        if state.refused_until.len() >= MAX_REFUSED_SOURCES
            && !state.refused_until.contains_key(&key)
        {
            state.refused_until.retain(|_, t| now < *t);
            if state.refused_until.len() >= MAX_REFUSED_SOURCES {
                state.closed_until = Some(until);
                return;
            }
        }
        state.refused_until.insert(key, until);
    }

    /// A connection was overlapped.
    pub(crate) fn record_overlapped(&self) {
        self.overlapped.fetch_add(1, Ordering::Relaxed);
    }

    /// Work offered for a connection was dropped unrun.
    pub(crate) fn record_not_run(&self) {
        self.not_run.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> OverlapStats {
        OverlapStats {
            overlapped: self.overlapped.load(Ordering::Relaxed),
            source_refused_recently: self.source_refused_recently.load(Ordering::Relaxed),
            not_run: self.not_run.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn a_refused_source_waits_out_the_cooldown_and_others_do_not() {
        let gate = OverlapGate::default();
        let t0 = Instant::now();
        assert!(gate.allows(v4(1), t0));
        gate.refused(v4(1), t0);
        assert!(!gate.allows(v4(1), t0 + Duration::from_secs(1)));
        assert!(gate.allows(v4(2), t0 + Duration::from_secs(1)));
        assert!(!gate.allows(v4(1), t0 + REFUSED_COOLDOWN - Duration::from_millis(1)));
        assert!(gate.allows(v4(1), t0 + REFUSED_COOLDOWN));
        assert_eq!(gate.stats().source_refused_recently, 2);
    }

    #[test]
    fn an_ipv6_source_is_its_64_prefix() {
        let gate = OverlapGate::default();
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        gate.refused(a, t0);
        assert!(!gate.allows(same_64, t0));
        assert!(gate.allows(other_64, t0));
    }

    #[test]
    fn a_full_table_closes_the_gate_for_everyone_until_entries_can_expire() {
        let gate = OverlapGate::default();
        let t0 = Instant::now();
        for i in 0..MAX_REFUSED_SOURCES as u32 {
            gate.refused(IpAddr::from(i.to_be_bytes()), t0);
        }
        let newcomer = IpAddr::from([203, 0, 113, 7]);
        let later = t0 + Duration::from_secs(1);
        assert!(gate.allows(newcomer, later), "not full yet");
        gate.refused(IpAddr::from([203, 0, 113, 8]), later);
        assert!(
            !gate.allows(newcomer, later),
            "full of live entries: closed"
        );
        let after = later + REFUSED_COOLDOWN;
        assert!(gate.allows(newcomer, after));
        gate.refused(IpAddr::from([203, 0, 113, 9]), after);
        assert!(
            gate.allows(newcomer, after),
            "expired entries were purged, not the gate closed"
        );
    }
}
