//! The D-TA's clock, injectable so that tests can cross day and epoch
//! boundaries without waiting for them.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current unix time in seconds.
pub trait Clock: Send + Sync + 'static {
    /// The current unix time in seconds.
    fn now(&self) -> u64;
}

/// The system clock. A clock before 1970 reads as 0 (every day/epoch check
/// then refuses, which fails closed).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The system clock shifted by a fixed number of seconds. Used by tests (the
/// binary's hidden `--test-clock-offset`) to run a D-TA "yesterday" or "in
/// the previous epoch"; never set it in production.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub i64);

impl Clock for OffsetClock {
    fn now(&self) -> u64 {
        SystemClock.now().saturating_add_signed(self.0)
    }
}
