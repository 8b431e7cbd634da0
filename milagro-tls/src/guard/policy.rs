//! The guard's tunables, with documented defaults.

use std::time::Duration;

/// Lockout and reservation rules (docs/protocol.md §6.4 steps 1, 3, 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
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
    /// It does **not** apply to a failed proof awaiting classification: that
    /// slot is released only by its classification (docs/protocol.md §6.4
    /// step 3). Must exceed the worst delay between
    /// [`crate::guard::Guard::admit`] and the proof check. Default 30 s.
    ///
    /// There is deliberately no time limit on a failed proof awaiting
    /// classification (letting it expire would let a thief flood the
    /// classifier until its own wrong guesses went uncounted); with the
    /// `serde` feature a configuration that sets one (`classification_ttl`)
    /// is refused as an unknown field.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_duration::deserialize")
    )]
    pub reservation_ttl: Duration,
    /// Identities tracked at once (those with attempts in flight or any wrong
    /// PIN since re-enrolment). When full, attempts for identities not in the
    /// table are refused ([`crate::guard::Refusal::AttemptTableFull`]): entries
    /// hold security state (failure counts), so none is ever evicted. Size it
    /// above the number of users with a wrong PIN since their re-enrolment.
    /// Default 65 536.
    pub max_identities: usize,
    /// Global back-pressure on the classifier (per [`crate::guard::Guard`],
    /// i.e. per process): attempts admitted and not yet known not to need
    /// classification (proof not yet checked, or failed and not yet
    /// classified) at most. When reached, [`crate::guard::Guard::admit`]
    /// refuses every new attempt with
    /// [`crate::guard::Refusal::ClassifierBusy`] — a global refusal that says
    /// nothing about any identity — instead of ever dropping or expiring a
    /// pending classification. This is the **only** cap on pending
    /// classifications: the classifier's queue has no capacity of its own
    /// and never refuses a job, since every job holds one of these slots
    /// (docs/protocol.md §6.4 step 3). 0 refuses every attempt. Default 64 (≈ 0.1–0.7 s of BSGS work queued on one core).
    pub max_pending_classifications: usize,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_in_flight: 2,
            cumulative_cap: 20,
            reservation_ttl: Duration::from_secs(30),
            max_identities: 65_536,
            max_pending_classifications: 64,
        }
    }
}

/// The default client-time window `|t − now| ≤ W` of docs/protocol.md §6.4
/// step 1 check 3: [`crate::mpin::DEFAULT_TIME_WINDOW_SECS`] (30 s).
pub const DEFAULT_CLOCK_WINDOW: Duration =
    Duration::from_secs(crate::mpin::DEFAULT_TIME_WINDOW_SECS);

/// Slack added to `2 × clock window` in the replay lifetime rule: one second
/// because share times t and the share checks' `now` are whole seconds (a
/// share stays acceptable while `floor(now) ≤ t + W`, i.e. until real time
/// t + W + 1 s), one more for the guard's millisecond rounding and for rate
/// differences between the wall clock and the monotonic clock.
pub const REPLAY_SLACK: Duration = Duration::from_secs(2);

/// The replay cache (docs/protocol.md §6.4 step 2.4).
///
/// **The lifetime rule.** An entry for a share with timestamp t must live
/// until the server's clock passes t + W (W the clock window): until then the
/// share still passes the window check. A share is admitted only when
/// t ≤ now + W, and its entry is inserted after that check, at some
/// `now_insert ≥ now`, so the share stops being acceptable by
/// `now_insert + 2W + 1 s` (the 1 s is the whole-second resolution of t and
/// of the check's `now`). An entry that lives
/// `window ≥ 2W + REPLAY_SLACK` after insertion therefore always outlives its
/// share's acceptability, without the share time as an input.
/// [`ReplayPolicy::for_clock_window`] and [`GuardPolicy::with_clock_window`]
/// establish that; build the policy with one of them from the clock window
/// the share checks use. (Assumes the wall clock the window check reads is
/// not stepped backwards after insertion; the guard runs on a monotonic
/// clock.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct ReplayPolicy {
    /// How long (HID, U) is remembered after a good proof. Must be at least
    /// `2 × clock window + REPLAY_SLACK` (the lifetime rule above). Default
    /// 62 s, for [`DEFAULT_CLOCK_WINDOW`].
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_duration::deserialize")
    )]
    pub window: Duration,
    /// Live entries at most. When full of live entries, new good proofs are
    /// refused ([`crate::guard::Refusal::ReplayCacheFull`], fail closed).
    /// Must exceed the peak handshake rate × `window`. Default 100 000.
    pub capacity: usize,
}

impl Default for ReplayPolicy {
    fn default() -> Self {
        Self::for_clock_window(DEFAULT_CLOCK_WINDOW)
    }
}

impl ReplayPolicy {
    /// The shortest window that keeps the lifetime rule for `clock_window`:
    /// `2 × clock_window + REPLAY_SLACK` (saturating).
    pub fn min_window(clock_window: Duration) -> Duration {
        clock_window.saturating_mul(2).saturating_add(REPLAY_SLACK)
    }

    /// The default capacity with `window = min_window(clock_window)`.
    pub fn for_clock_window(clock_window: Duration) -> Self {
        Self {
            window: Self::min_window(clock_window),
            capacity: 100_000,
        }
    }

    /// True when `window ≥ min_window(clock_window)`: every entry outlives
    /// the time its share can pass a `clock_window` check.
    pub fn covers_clock_window(&self, clock_window: Duration) -> bool {
        self.window >= Self::min_window(clock_window)
    }
}

/// Per-source token buckets (docs/protocol.md §9.5).
///
/// Sources are aggregated: an IPv4 address (or IPv4-mapped IPv6 address) is
/// one source; an IPv6 address counts as its /64 prefix, the unit one host
/// usually controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct ThrottlePolicy {
    /// Tokens regained per second. Default 5.
    pub refill_per_sec: u32,
    /// Bucket size (and how far into debt penalties may drive a bucket).
    /// Default 20.
    pub burst: u32,
    /// Tokens a ClientHello costs. Default 1.
    pub hello_cost: u32,
    /// Extra tokens every failed attempt costs, **the same whatever the
    /// cause**: a bad DLEQ, a failed proof (charged when the proof fails,
    /// before and whatever its classification), and a silent per-identity
    /// refusal ([`crate::guard::Guard::charge_silent_refusal`]). No
    /// source-visible state may depend on the classification
    /// (docs/protocol.md §6.4 "Why silent"). Default 10. (Named after the
    /// first of these causes, a share that is not a valid credential.)
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

/// The per-identity slow-down after "invalid credential" classifications
/// (docs/protocol.md §6.4, "Why silent": the SHOULD on rate-limiting invalid
/// classifications per HID).
///
/// **What it bounds.** A thief holding a token can make attempts the
/// classifier calls "invalid" (an out-of-range PIN′, a lifted or forged
/// share): they are never counted against the identity. Silent refusals and
/// classification-independent charges hide whether an attempt counted, but
/// any residual channel would still be usable at the rate such attempts are
/// served. This policy bounds that rate **per identity**, whatever the
/// sources: after `burst` invalid classifications at once, one more per
/// `interval` (a GCRA / leaky bucket). Attempts beyond it are refused with
/// [`crate::guard::Refusal::SlowedDown`], a per-identity refusal and so
/// **silent** (forced key-exchange failure, same alert, same source charge):
/// the slowed state is hidden exactly like the lockout count, and only ever
/// makes success less likely, so it opens no new oracle. Nothing is counted;
/// it is never a lockout.
///
/// **What it costs.** Anyone can produce invalid classifications for any
/// identity (garbage with a valid DLEQ), so the slow-down is framable: a
/// stranger who keeps sending more than one invalid attempt per `interval`
/// at a victim's HID keeps that identity refused (silently, "credential
/// refused") while it lasts; it ends at most `burst × interval` after the
/// garbage stops. With the defaults: 10 at once, then 10 per minute; see
/// docs/robustness.md for the figures. `interval = 0` disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct SlowdownPolicy {
    /// Invalid classifications an identity absorbs at once before it is
    /// slowed down. Default 10. (0 behaves as 1.)
    pub burst: u32,
    /// Once slowed down, one more invalid classification is served per
    /// `interval`. Default 6 s (10 per minute). 0 disables the slow-down.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::serde_duration::deserialize")
    )]
    pub interval: Duration,
}

impl Default for SlowdownPolicy {
    fn default() -> Self {
        Self {
            burst: 10,
            interval: Duration::from_secs(6),
        }
    }
}

impl SlowdownPolicy {
    /// No slow-down at all (`interval = 0`).
    pub fn disabled() -> Self {
        Self {
            burst: 1,
            interval: Duration::ZERO,
        }
    }
}

/// All of the guard's tunables.
///
/// With the cargo feature `serde` every policy here implements
/// `serde::Deserialize`, so it can come from a configuration file. Fields
/// left out keep their defaults, unknown fields are refused, and durations
/// are written `"250ms"`, `"30s"`, `"5m"` or `"1h"` (module `serde_duration`):
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::time::Duration;
/// use milagro_tls::GuardPolicy;
///
/// let policy: GuardPolicy = serde_json::from_str(r#"{
///     "lockout": { "max_failures": 3, "reservation_ttl": "20s" },
///     "replay": { "window": "2m" },
///     "throttle": { "refill_per_sec": 10, "burst": 40 },
///     "slowdown": { "interval": "500ms" }
/// }"#)?;
/// assert_eq!(policy.lockout.max_failures, 3);
/// assert_eq!(policy.lockout.max_in_flight, 2); // not given: the default
/// assert_eq!(policy.replay.window, Duration::from_secs(120));
/// assert_eq!(policy.slowdown.interval, Duration::from_millis(500));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct GuardPolicy {
    /// Lockout and reservations.
    pub lockout: LockoutPolicy,
    /// The replay cache.
    pub replay: ReplayPolicy,
    /// The per-source throttle.
    pub throttle: ThrottlePolicy,
    /// The per-identity slow-down after invalid classifications.
    pub slowdown: SlowdownPolicy,
}

impl GuardPolicy {
    /// This policy made consistent with the share checks' client-time window:
    /// raises `replay.window` to [`ReplayPolicy::min_window`]`(clock_window)`
    /// if it is shorter (never lowers it), so the replay lifetime rule of
    /// [`ReplayPolicy`] holds. A clamp, not an assertion: it cannot fail.
    pub fn with_clock_window(mut self, clock_window: Duration) -> Self {
        let min = ReplayPolicy::min_window(clock_window);
        if self.replay.window < min {
            self.replay.window = min;
        }
        self
    }
}
