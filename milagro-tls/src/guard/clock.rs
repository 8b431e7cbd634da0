//! Time for the guard: milliseconds on a monotonic clock, injectable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A point in time for the guard: milliseconds since an arbitrary origin on a
/// monotonic clock (not wall-clock time; only differences matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuardTime(u64);

impl GuardTime {
    /// The time `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the end of time (never wraps).
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_ms(d)))
    }

    /// Milliseconds from `earlier` to `self`; 0 if `earlier` is later.
    pub fn millis_since(self, earlier: GuardTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Where the guard gets "now". Implementations must be monotonic (never go
/// backwards); the guard tolerates a clock that does (elapsed time then
/// counts as zero) but its TTLs are only as good as the clock.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> GuardTime;
}

/// The production clock: [`Instant`] measured from when it was created.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> GuardTime {
        GuardTime(duration_ms(self.origin.elapsed()))
    }
}

/// A clock that moves only when told to: for deterministic tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: GuardTime) -> Self {
        Self {
            ms: AtomicU64::new(start.0),
        }
    }

    /// Moves the clock forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let add = duration_ms(d);
        // fetch_update with a closure that always returns Some cannot fail.
        let _ = self
            .ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_add(add))
            });
    }

    /// Sets the clock to `t` (may go backwards: for tests of that case).
    pub fn set(&self, t: GuardTime) {
        self.ms.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> GuardTime {
        GuardTime(self.ms.load(Ordering::SeqCst))
    }
}
