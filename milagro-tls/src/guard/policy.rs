//! The guard's tunables, with documented defaults.

use std::time::Duration;

/// Lockout and reservation rules (design §5 steps 1, 3, 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// N: confirmed wrong PINs since the last successful login that lock the
    /// identity; also the bound on `confirmed + in_flight`. Default 5.
    /// 0 refuses every attempt.
    pub max_failures: u32,
    /// Attempts in flight at once per identity. Default 2 (a user may retry
    /// while a dropped connection's slot is still held). 0 refuses every attempt.
    pub max_in_flight: u32,
    /// Wrong PINs between re-enrolments after which the identity stays locked
    /// until [`crate::guard::Guard::reenrolled`], whatever logins succeed.
    /// Default 20 (four full lockouts' worth).
    pub cumulative_cap: u32,
    /// How long a reservation lives before its proof is checked, and a proved
    /// one before its handshake completes; then it is released uncounted.
    /// Default 30 s.
    pub reservation_ttl: Duration,
    /// How long a failed proof holds its slot waiting for classification;
    /// then it is released uncounted (a late classification still counts).
    /// Default 120 s: far above a sized classifier queue's latency.
    pub classification_ttl: Duration,
    /// Identities tracked at once (those with attempts in flight or any wrong
    /// PIN since re-enrolment). When full, attempts for identities not in the
    /// table are refused ([`crate::guard::Refusal::AttemptTableFull`]): entries
    /// hold security state (failure counts), so none is ever evicted. Size it
    /// above the number of users with a wrong PIN since their re-enrolment.
    /// Default 65 536.
    pub max_identities: usize,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_in_flight: 2,
            cumulative_cap: 20,
            reservation_ttl: Duration::from_secs(30),
            classification_ttl: Duration::from_secs(120),
            max_identities: 65_536,
        }
    }
}

/// The replay cache (design §5 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayPolicy {
    /// How long (HID, U) is remembered after a good proof. Default 60 s: twice
    /// the ±30 s client-time window, so a share is remembered for as long as
    /// its timestamp can pass the window check.
    pub window: Duration,
    /// Live entries at most. When full of live entries, new good proofs are
    /// refused ([`crate::guard::Refusal::ReplayCacheFull`], fail closed).
    /// Must exceed the peak handshake rate × `window`. Default 100 000.
    pub capacity: usize,
}

impl Default for ReplayPolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            capacity: 100_000,
        }
    }
}

/// Per-source token buckets (design §8, DoS).
///
/// Sources are aggregated: an IPv4 address (or IPv4-mapped IPv6 address) is
/// one source; an IPv6 address counts as its /64 prefix, the unit one host
/// usually controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Tokens regained per second. Default 5.
    pub refill_per_sec: u32,
    /// Bucket size (and how far into debt penalties may drive a bucket).
    /// Default 20.
    pub burst: u32,
    /// Tokens a ClientHello costs. Default 1.
    pub hello_cost: u32,
    /// Extra tokens a bad DLEQ or an invalid credential costs. Default 10.
    pub invalid_cost: u32,
    /// Sources tracked at once. A source whose bucket is full is forgotten
    /// (it is indistinguishable from a new one). When the table is full of
    /// partly spent buckets, new sources are refused
    /// ([`crate::guard::Refusal::SourceTableFull`]) rather than evicting a spent
    /// bucket, which would hand an attacker cycling addresses a fresh burst.
    /// Default 65 536.
    pub max_sources: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            refill_per_sec: 5,
            burst: 20,
            hello_cost: 1,
            invalid_cost: 10,
            max_sources: 65_536,
        }
    }
}

/// All of the guard's tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardPolicy {
    /// Lockout and reservations.
    pub lockout: LockoutPolicy,
    /// The replay cache.
    pub replay: ReplayPolicy,
    /// The per-source throttle.
    pub throttle: ThrottlePolicy,
}
