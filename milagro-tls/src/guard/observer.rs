//! Typed outcomes for logs and metrics.
//!
//! An observer learns how each attempt was *classified* (wrong PIN, invalid
//! credential, refused, …), never the PIN error δ: anyone who reads a log
//! line "δ = +9" and chose the PIN′ of that attempt learns PIN = PIN′ − δ
//! (docs/protocol.md §6.4 step 3). No [`Outcome`] carries δ, so no observer,
//! log or metric built on it can leak it.

use std::net::IpAddr;
use std::sync::Mutex;

use super::Refusal;
use crate::identity::Hid;

/// Where an unresolved reservation was when its handle was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Reserved, proof not yet checked.
    Reserved,
    /// Proof failed, classification pending.
    AwaitingClassification,
    /// Proof good, handshake not yet completed.
    Proved,
}

/// Something the guard decided, for the server's logs and metrics. Never
/// shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// [`crate::guard::Guard::admit`] or a proof-time replay check refused.
    Refused {
        /// The identity named in the share.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
        /// Why.
        refusal: Refusal,
    },
    /// A bad DLEQ: refused before any pairing, charged to the source.
    BadProof {
        /// The identity named in the share.
        hid: Hid,
        /// The connection's source (charged).
        source: IpAddr,
    },
    /// A failed proof classified as a wrong PIN: a confirmed failure. (How
    /// far the PIN was off is deliberately not reported.)
    WrongPin {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
        /// Confirmed wrong PINs since the last successful login.
        confirmed: u32,
        /// Wrong PINs since the last re-enrolment.
        cumulative: u32,
    },
    /// A wrong PIN that could not be recorded (attempt table full and the
    /// identity's entry gone): an operator must act on this.
    WrongPinUnrecorded {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
    },
    /// The identity just reached the lockout threshold.
    LockedOut {
        /// The identity.
        hid: Hid,
    },
    /// The identity just reached the cumulative cap: locked until re-enrolled.
    LockedUntilReenrolled {
        /// The identity.
        hid: Hid,
    },
    /// The store failed (or timed out) while resolving an attempt: what the
    /// operation should have recorded may be missing (a network store retries
    /// counting operations itself; see its documentation). An operator
    /// should look at the store.
    StoreFailed {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
        /// The store operation that failed.
        operation: &'static str,
    },
    /// The identity's invalid classifications exceed its
    /// [`crate::guard::SlowdownPolicy`]: its attempts are refused (silently)
    /// until the bucket refills. Reported when an invalid classification
    /// leaves it slowed down.
    SlowedDown {
        /// The identity.
        hid: Hid,
    },
    /// A failed proof with a valid DLEQ that is no wrong PIN (garbage):
    /// released, charged to the source, not to the identity.
    InvalidCredential {
        /// The identity named in the share.
        hid: Hid,
        /// The connection's source (charged).
        source: IpAddr,
    },
    /// A handshake with a good proof completed; the confirmed count reset.
    Completed {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
    },
    /// A reservation's handle was dropped before it was resolved (connection
    /// closed before the proof, handshake failed after a good proof):
    /// released, nothing counted. (A dropped *failed* proof is
    /// [`Outcome::DroppedUnclassified`] instead.)
    Abandoned {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
        /// Where it was.
        stage: Stage,
    },
    /// A failed proof's [`crate::guard::PendingClassification`] was dropped
    /// without being classified. It is **counted as a wrong PIN** (see the
    /// module docs of [`crate::guard`] for why): a classifier that loses jobs
    /// is a fault an operator must fix, and may have to
    /// [`unlock`](crate::guard::Guard::unlock) the identity after.
    DroppedUnclassified {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
        /// The identity's counts after this one, or `None` if it could not be
        /// recorded (attempt table full and the identity's entry gone).
        counts: Option<crate::guard::WrongPinCounts>,
    },
    /// The slot's TTL passed before the step that needed it (the slot had
    /// been released; a wrong PIN is still counted).
    Expired {
        /// The identity.
        hid: Hid,
        /// The connection's source.
        source: IpAddr,
        /// The stage that could not be entered.
        stage: Stage,
    },
    /// Administrative re-enrolment reset.
    Reenrolled {
        /// The identity.
        hid: Hid,
    },
    /// Administrative unlock (confirmed count reset).
    Unlocked {
        /// The identity.
        hid: Hid,
    },
}

/// Receives every [`Outcome`]. Called synchronously on the handshake path,
/// outside the store's locks: keep it cheap and never block.
pub trait GuardObserver: Send + Sync {
    /// One decision.
    fn outcome(&self, outcome: &Outcome);
}

/// Ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl GuardObserver for NoopObserver {
    fn outcome(&self, _outcome: &Outcome) {}
}

/// Keeps every outcome in order, for tests.
#[derive(Debug, Default)]
pub struct RecordingObserver {
    seen: Mutex<Vec<Outcome>>,
}

impl RecordingObserver {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far, removing it.
    pub fn take(&self) -> Vec<Outcome> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl GuardObserver for RecordingObserver {
    fn outcome(&self, outcome: &Outcome) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(*outcome);
    }
}
