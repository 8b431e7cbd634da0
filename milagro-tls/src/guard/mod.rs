//! Server-side guard state of the CS (M-Pin) suite: attempt reservations,
//! lockout, the replay cache, the per-source throttle, the classifier's
//! back-pressure and the outcome observer.
//!
//! This module holds no key material and does no cryptography: it is the
//! bookkeeping of docs/protocol.md §6.4 steps 1–4 and §9.4–9.5, kept apart so
//! it can be tested deterministically (every time is a [`GuardTime`] from an
//! injectable [`Clock`]; tests use [`ManualClock`] and never sleep).
//!
//! # How it is used
//!
//! The accept path, with the connection's source address and before rustls or
//! any point decoding, calls [`Guard::admit`]: replay cache lookup of the
//! (HID, U) bytes, then the source's token bucket, then the global classifier
//! cap, then an atomic attempt reservation for the HID. The returned
//! [`Reservation`] travels with the handshake and is resolved exactly once,
//! by the step that classifies it. `c` below is
//! [`ThrottlePolicy::invalid_cost`], one fixed amount:
//!
//! | event (protocol §6.4)              | call                                   | effect |
//! |------------------------------------|----------------------------------------|--------|
//! | per-identity refusal (step 1.6)    | [`Guard::attempt`] → [`Attempt::Silent`], resolved by the same rows as a reservation: [`SilentAttempt::failed`] or [`SilentAttempt::proof_failed`] | nothing counted; **source charged c**; holds a classifier slot like a reservation (after a failed proof: until a discarded classification ran); silent on the wire |
//! | global refusal (step 1.4–5)        | `admit` → `Err(r)`, `!r.is_per_identity()` | nothing counted; plaintext alert |
//! | bad DLEQ (step 2.2)                | [`Reservation::bad_dleq`]              | slot released, **source charged c** |
//! | other kx failure, or no kx ran     | [`Reservation::refused_before_proof`]  | slot released, **source charged c** |
//! | good proof (step 2.4)              | [`Reservation::proof_ok`]              | (HID, U) enters the replay cache; slot kept |
//! | failed proof (step 3)              | [`Reservation::proof_failed`]          | **source charged c**; slot kept until classified, no TTL |
//! | classified "wrong PIN"             | [`PendingClassification::wrong_pin`]   | confirmed failure (+ cumulative); no charge |
//! | classified "invalid credential"    | [`PendingClassification::invalid_credential`] | slot released; no charge; the identity's slow-down bucket spends one |
//! | unclassified failure dropped       | (drop of [`PendingClassification`])    | **counted as a wrong PIN**, [`Outcome::DroppedUnclassified`] |
//! | handshake completed (step 4)       | [`ProvedReservation::handshake_completed`] | slot released, confirmed count reset to 0 |
//! | other handle dropped / TTL passed  | (drop of [`Reservation`], [`ProvedReservation`]) | slot released, nothing counted |
//!
//! The accept path resolves a reservation in the same step that runs its
//! key exchange, before any I/O with the peer (docs/protocol.md §6.4,
//! "Outcome before I/O"): a [`Reservation`] is dropped unresolved only when
//! its key exchange never ran.
//!
//! Every admitted attempt also pays [`ThrottlePolicy::hello_cost`] at
//! `admit`, so a per-identity refusal, a bad DLEQ and a failed proof of either
//! classification leave the source with exactly the same balance.
//!
//! # The attack each mechanism closes
//!
//! * **Only classified wrong PINs count.** The HID travels in clear, so anyone
//!   can send a victim's HID with garbage. Nothing at the proof or at
//!   CertificateVerify counts against the identity; only a failure that the
//!   δ search classifies as "wrong PIN" (which needs the victim's token) does.
//!   Garbage (bad DLEQ, or a good DLEQ on a random point: "invalid
//!   credential") releases the slot: garbage aimed at a victim must not lock
//!   the victim out.
//! * **Classification-independent source charges** (the classification
//!   oracle, §6.4 "Why silent"). A thief with the token may enter an
//!   out-of-range PIN' = 10^MAXDIGITS + j, which is counted iff PIN > j. If
//!   anything the thief can see depended on whether an attempt was counted,
//!   each "not counted" answer would be a free guess and the PIN would fall
//!   to one counted attempt. So the source is charged `c` at the failure
//!   itself ([`Reservation::proof_failed`]), before and whatever the
//!   classification, and the same `c` for a bad DLEQ and for a silent
//!   per-identity refusal; classification itself charges nothing.
//! * **Silent per-identity refusals** (same oracle, through lockout).
//!   [`Refusal::is_per_identity`] marks the refusals whose occurrence depends
//!   on an identity's hidden counts (`LockedOut`, `LockedUntilReenrolled`,
//!   `TooManyInFlight`, `SlowedDown`, and `AttemptTableFull`, which depends on whether the
//!   HID has an entry). The accept path must make them look exactly like a
//!   failed proof (same work, same alert, same charge, same
//!   pending-classification slot use and classifier work). What a thief observes
//!   is then only "accepted" or "refused": the count is a hidden state that
//!   only ever makes success less likely. [`Refusal::ClassifierBusy`] and the
//!   other global refusals are checked before anything about the HID and
//!   reveal nothing about it.
//! * **Per-identity slow-down of invalid classifications** (the residual of
//!   the same oracle). Invalid classifications are free for the identity, so
//!   [`SlowdownPolicy`] bounds how many an identity is served: after its
//!   burst, one per interval, whatever the sources; the rest are refused
//!   with [`Refusal::SlowedDown`], silently like a lockout. It is framable
//!   (garbage slows a victim down, never locks it), a bounded and documented
//!   denial of service (docs/robustness.md).
//! * **Reservations before the work.** A thief with a stolen token could
//!   otherwise fire many guesses in parallel, all passing a "failures < N"
//!   check before any is classified. Reservation is atomic and refuses (without
//!   counting anything) when `confirmed + in_flight ≥ N` or when
//!   `in_flight ≥ max_in_flight`: parallel attempts never exceed N guesses.
//! * **No TTL on a failed proof; back-pressure instead** (classifier
//!   flooding, §6.4 step 3). If unclassified failures expired, a thief could
//!   flood the classifier with garbage from other sources so that its own
//!   wrong guesses expired uncounted. A failed proof's slot is released only
//!   by its classification. The classifier's queue is bounded by
//!   [`LockoutPolicy::max_pending_classifications`] — the one cap on pending
//!   classifications; the classifier has none of its own: every admitted attempt
//!   holds one of those slots until it is known not to need classification
//!   (bad DLEQ, good proof, dropped before the proof) or until it is
//!   classified; at the cap `admit` refuses everyone with
//!   [`Refusal::ClassifierBusy`]. Flooding therefore delays service for all
//!   (a global DoS, bounded by the per-source buckets) but never makes a
//!   guess expire.
//! * **A dropped classification counts.** With the cap above, a classifier
//!   whose queue holds `max_pending_classifications` jobs never has to drop
//!   one: a dropped [`PendingClassification`] is a fault (a bug, a panic, a
//!   shutdown without draining), not something flooding can cause. Counting
//!   it as a wrong PIN is the safe direction: (a) releasing it uncounted
//!   would turn any way of making the classifier lose jobs into unlimited
//!   free guesses for a thief — an irreversible PIN compromise; (b) keeping
//!   the slot for ever would turn it into a permanent hold on the victim's
//!   slot and a permanent loss of global capacity; (c) counting it cannot be
//!   driven by strangers through load (back-pressure refuses instead), costs
//!   a genuine user at most one count per lost job, is reported loudly
//!   ([`Outcome::DroppedUnclassified`]) and is undone by [`Guard::unlock`].
//!   The classifier must therefore classify every job it accepts (drain its
//!   queue at shutdown) and must not panic on attacker bytes.
//! * **The cumulative cap.** A successful login resets the confirmed count,
//!   so a thief who steals a token from a user who logs in daily would get
//!   N−1 guesses per genuine login. Wrong PINs are also counted cumulatively
//!   between re-enrolments; at [`LockoutPolicy::cumulative_cap`] the identity
//!   stays locked — through successful logins — until an administrator calls
//!   [`Guard::reenrolled`].
//! * **The replay cache.** A recorded ClientHello replayed verbatim carries a
//!   valid proof; (HID, U) bytes are inserted atomically (insert-if-absent)
//!   only after a good proof, so a replay is refused before any pairing (the
//!   replayer could not finish the key agreement, but would cost us a proof
//!   and hold a slot). An entry lives [`ReplayPolicy::window`] after
//!   insertion, and `window ≥ 2 × clock window + REPLAY_SLACK` (built with
//!   [`GuardPolicy::with_clock_window`] or [`ReplayPolicy::for_clock_window`])
//!   makes it outlive `t + clock window` (in whole seconds) for a share
//!   stamped t: see
//!   [`ReplayPolicy`]. A full cache **fails closed** (refuses new handshakes):
//!   evicting a live entry would reopen the replay.
//! * **The per-source throttle.** A CS server spends milliseconds per
//!   ClientHello before anyone is authenticated; every ClientHello costs its
//!   source a token, and each failed attempt (of any kind) costs
//!   [`ThrottlePolicy::invalid_cost`] more.
//! * **Bounded state.** Every map has a capacity; what happens when it is full
//!   is chosen per map and documented on its policy field (fail closed, never
//!   evict security state).
//!
//! # Windows and limits to know
//!
//! * **How long garbage holds a victim's slot.** Anyone can build a
//!   DLEQ-valid share for any HID. Such garbage holds one of the victim's
//!   `max_in_flight` slots from [`Guard::admit`] until its classification:
//!   the classifier queue wait (at most `max_pending_classifications` jobs
//!   ahead of it) plus one BSGS cap (≈ 1–11 ms when the classifier keeps up).
//!   During that window the victim's own attempt may be refused (silently,
//!   without counting): a bounded denial of service, never a lockout. There
//!   is no time limit on that hold, so the classifier must run these jobs
//!   first and never stall.
//! * **Reservation TTL.** A reservation whose proof has not been checked
//!   after [`LockoutPolicy::reservation_ttl`] (a leaked or stuck handle) is
//!   released uncounted, as is a good proof whose handshake does not
//!   complete within it. A proof that fails after its reservation expired
//!   is still classified and counted, but it no longer held a slot, so keep
//!   the TTL far above the delay between `admit` and the proof check.
//! * **Per process.** [`MemoryGuard`] is per process: a deployment with k
//!   servers and no shared [`GuardStore`] allows N guesses (and the cumulative
//!   cap) *per server*, and a ClientHello recorded at one server can be
//!   replayed at another. The [`GuardStore`] trait is the seam for a shared
//!   store; the `milagro-guard-redis` crate implements it in Redis, shared
//!   by every server using that Redis (fail closed with
//!   [`Refusal::StoreUnavailable`] when it does not answer). The classifier cap is per [`Guard`] (each process has its own
//!   classifier).
//! * **Locked means locked.** There is no time-based unlock: after N confirmed
//!   wrong PINs the identity is refused until [`Guard::unlock`] (resets the
//!   confirmed count, keeps the cumulative one) or [`Guard::reenrolled`].
//! * **δ reaches no one**: not the client, and not the server's guard, store,
//!   observer or logs either. The classifier drops it once it has decided
//!   "wrong PIN"; [`Outcome`] has no field for it. (A log line with δ would
//!   give whoever reads it, and chose the PIN′ of that attempt,
//!   PIN = PIN′ − δ.)

mod attempts;
mod block;
mod classifier;
mod clock;
mod handle;
mod memory;
mod observer;
mod policy;
mod replay;
mod store;
mod throttle;

#[cfg(test)]
mod tests;

pub use block::block_on;
pub use classifier::{Classifier, ClassifierError};
pub use clock::{Clock, GuardTime, ManualClock, MonotonicClock};
pub use handle::{
    Attempt, DiscardedClassification, Guard, PendingClassification, ProofStarter,
    ProvedReservation, Reservation, SilentAttempt, StartedProof,
};
pub use memory::MemoryGuard;
pub use observer::{GuardObserver, NoopObserver, Outcome, RecordingObserver, Stage};
pub use policy::{
    DEFAULT_CLOCK_WINDOW, GuardPolicy, LockoutPolicy, REPLAY_SLACK, ReplayPolicy, SlowdownPolicy,
    ThrottlePolicy,
};
pub use replay::ReplayKey;
pub use store::{
    CompletionReport, GoodProofInFlight, GuardStore, IdentityStatus, ReservationTicket,
    StoreFuture, WrongPinCounts, ready,
};
pub use throttle::SourceKey;

/// Why the guard refused a handshake. The client never sees which: this is
/// for logs and the observer. On the wire, a refusal for which
/// [`is_per_identity`](Self::is_per_identity) holds must be indistinguishable
/// from a failed proof; every other one is sent as a plaintext alert:
/// `illegal_parameter` for [`Refusal::Replay`] (the share's own bytes),
/// `internal_error` for the load refusals (docs/protocol.md §6.4 step 1,
/// §8.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The identity has `max_failures` confirmed wrong PINs since its last
    /// successful login; it stays refused until unlocked or re-enrolled.
    #[error("identity locked out after too many wrong PINs")]
    LockedOut,
    /// The identity reached the cumulative cap of wrong PINs since its last
    /// re-enrolment; only re-enrolment unlocks it.
    #[error("identity locked until re-enrolment (cumulative wrong-PIN cap reached)")]
    LockedUntilReenrolled,
    /// Attempts already in flight for this identity would let one more exceed
    /// the lockout threshold, or reach the per-identity in-flight cap.
    #[error("too many attempts in flight for this identity")]
    TooManyInFlight,
    /// The attempt table is at capacity and this identity has no entry.
    /// Per-identity (whether the HID has an entry depends on its counts).
    #[error("attempt table full: new identities refused")]
    AttemptTableFull,
    /// The identity had more "invalid credential" classifications than its
    /// [`SlowdownPolicy`] serves: slowed down (never counted, never a
    /// lockout).
    #[error("identity slowed down after too many invalid-credential attempts")]
    SlowedDown,
    /// [`LockoutPolicy::max_pending_classifications`] attempts are already
    /// admitted and not yet proved or classified: back-pressure on the
    /// classifier. Global: checked before anything about the identity.
    #[error("classifier busy: too many failed proofs awaiting classification")]
    ClassifierBusy,
    /// These (HID, U) bytes were accepted within the replay window.
    #[error("replayed key share")]
    Replay,
    /// The replay cache is full of live entries: fail closed.
    #[error("replay cache full: refusing rather than forgetting live entries")]
    ReplayCacheFull,
    /// The source's token bucket is empty.
    #[error("source throttled")]
    Throttled,
    /// The source table is full of sources with partly spent buckets and this
    /// source has no entry.
    #[error("source table full: new sources refused")]
    SourceTableFull,
    /// The reservation's TTL passed before its proof was checked; the
    /// handshake is refused (nothing counted).
    #[error("attempt reservation expired")]
    ReservationExpired,
    /// The guard's store failed or did not answer within its timeout (a
    /// shared store that is down or unreachable). Global: the guard fails
    /// closed, refusing every Milagro attempt (plaintext `internal_error`,
    /// which a client reports as a busy server) until the store answers
    /// again; standard clients on a mixed listener are not affected.
    #[error("guard store unavailable: refusing Milagro handshakes (fail closed)")]
    StoreUnavailable,
}

impl Refusal {
    /// True for the refusals that depend on an identity's hidden state and so
    /// MUST be silent on the wire — indistinguishable from a failed proof,
    /// resolved through [`SilentAttempt`] (docs/protocol.md §6.4
    /// step 1, "Why silent"): `LockedOut`, `LockedUntilReenrolled`,
    /// `TooManyInFlight`, `AttemptTableFull` and `SlowedDown`. False for the global ones
    /// and those about the share's own bytes (`Replay`, `ReplayCacheFull`,
    /// `Throttled`, `SourceTableFull`, `ClassifierBusy`, `ReservationExpired`,
    /// `StoreUnavailable`).
    pub fn is_per_identity(&self) -> bool {
        match self {
            Self::LockedOut
            | Self::LockedUntilReenrolled
            | Self::TooManyInFlight
            | Self::AttemptTableFull
            | Self::SlowedDown => true,
            Self::ClassifierBusy
            | Self::Replay
            | Self::ReplayCacheFull
            | Self::Throttled
            | Self::SourceTableFull
            | Self::ReservationExpired
            | Self::StoreUnavailable => false,
        }
    }
}
