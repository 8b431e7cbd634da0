//! Server-side guard state of the CS (M-Pin) suite: attempt reservations,
//! lockout, the replay cache, the per-source throttle and the outcome observer.
//!
//! This module holds no key material and does no cryptography: it is the
//! bookkeeping of design §5 steps 1–4 and §8 (DoS), kept apart so it can be
//! tested deterministically (every time is a [`GuardTime`] from an injectable
//! [`Clock`]; tests use [`ManualClock`] and never sleep).
//!
//! # How it is used
//!
//! The accept path, with the connection's source address and before rustls or
//! any point decoding, calls [`Guard::admit`]: replay cache lookup of the
//! (HID, U) bytes, then the source's token bucket, then an atomic attempt
//! reservation for the HID. The returned [`Reservation`] travels with the
//! handshake and is resolved exactly once, by the step that classifies it:
//!
//! | event (design §5)                  | call                                   | effect |
//! |------------------------------------|----------------------------------------|--------|
//! | bad DLEQ (step 2)                  | [`Reservation::bad_dleq`]              | slot released, **source** charged |
//! | good proof (step 2)                | [`Reservation::proof_ok`]              | (HID, U) enters the replay cache; slot kept |
//! | failed proof (step 3)              | [`Reservation::proof_failed`]          | slot kept until classified |
//! | classified "wrong PIN, δ"          | [`PendingClassification::wrong_pin`]   | confirmed failure (+ cumulative) |
//! | classified "invalid credential"    | [`PendingClassification::invalid_credential`] | slot released, **source** charged |
//! | handshake completed (step 4)       | [`ProvedReservation::handshake_completed`] | slot released, confirmed count reset to 0 |
//! | handle dropped / TTL passed        | (drop)                                 | slot released, nothing counted |
//!
//! The handles are RAII: dropping one unresolved releases its slot (and tells
//! the observer), so a reservation cannot be leaked silently; the TTL is the
//! backstop for handles that are never dropped (leaked, a stuck thread).
//!
//! # The attack each mechanism closes
//!
//! * **Only classified wrong PINs count.** The HID travels in clear, so anyone
//!   can send a victim's HID with garbage. Nothing at the proof or at
//!   CertificateVerify counts against the identity; only a failure that the
//!   δ search classifies as "wrong PIN" (which needs the victim's token) does.
//!   Garbage (bad DLEQ, or a good DLEQ on a random point: "invalid
//!   credential") releases the slot and charges the *source's* bucket instead:
//!   garbage aimed at a victim must not lock the victim out.
//! * **Reservations before the work.** A thief with a stolen token could
//!   otherwise fire many guesses in parallel, all passing a "failures < N"
//!   check before any is classified. Reservation is atomic and refuses (without
//!   counting anything) when `confirmed + in_flight ≥ N` or when
//!   `in_flight ≥ max_in_flight`: parallel attempts never exceed N guesses.
//! * **The cumulative cap.** A successful login resets the confirmed count,
//!   so a thief who steals a token from a user who logs in daily would get
//!   N−1 guesses per genuine login. Wrong PINs are also counted cumulatively
//!   between re-enrolments; at [`LockoutPolicy::cumulative_cap`] the identity
//!   stays locked — through successful logins — until an administrator calls
//!   [`Guard::reenrolled`].
//! * **The replay cache.** A recorded ClientHello replayed verbatim carries a
//!   valid proof; (HID, U) bytes are remembered for the replay window after a
//!   good proof, so the replay is refused before any pairing (the replayer
//!   could not finish the key agreement, but would cost us a proof and hold a
//!   slot). A full cache **fails closed** (refuses new handshakes): evicting a
//!   live entry would reopen the replay.
//! * **The per-source throttle.** A CS server spends milliseconds per
//!   ClientHello before anyone is authenticated; every ClientHello costs its
//!   source a token, and each bad DLEQ or invalid credential costs
//!   [`ThrottlePolicy::invalid_cost`] more.
//! * **Bounded state.** Every map has a capacity; what happens when it is full
//!   is chosen per map and documented on its policy field (fail closed, never
//!   evict security state).
//!
//! # Windows and limits to know
//!
//! * **How long garbage holds a victim's slot.** From [`Guard::admit`] until
//!   the failure is classified (the classifier should run these first), or at
//!   most [`LockoutPolicy::classification_ttl`] after a failed proof
//!   ([`LockoutPolicy::reservation_ttl`] before the proof). During that time
//!   the victim's own logins may be refused with
//!   [`Refusal::TooManyInFlight`], never counted: an attacker who keeps sending
//!   garbage for a victim's HID from enough addresses can keep the victim out
//!   while the attack lasts, but cannot lock the victim out.
//! * **An unclassified failure counts nothing.** If a failed proof is dropped
//!   unclassified (classifier queue full) or its classification TTL passes,
//!   its slot is released without counting: counting it would let a flood of
//!   garbage lock victims out. A late classification still counts. Size the
//!   classifier so that its latency stays far below `classification_ttl`;
//!   the observer reports [`Outcome::Abandoned`] at
//!   [`Stage::AwaitingClassification`].
//! * **Per process.** [`MemoryGuard`] is per process: a deployment with k
//!   servers and no shared [`GuardStore`] allows N guesses (and the cumulative
//!   cap) *per server*, and a ClientHello recorded at one server can be
//!   replayed at another. The [`GuardStore`] trait is the seam for a shared
//!   store.
//! * **Locked means locked.** There is no time-based unlock: after N confirmed
//!   wrong PINs the identity is refused until [`Guard::unlock`] (resets the
//!   confirmed count, keeps the cumulative one) or [`Guard::reenrolled`].
//! * **δ never reaches the client**: it goes to the [`GuardObserver`] only.

mod attempts;
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

pub use clock::{Clock, GuardTime, ManualClock, MonotonicClock};
pub use handle::{Guard, PendingClassification, ProvedReservation, Reservation};
pub use memory::MemoryGuard;
pub use observer::{GuardObserver, NoopObserver, Outcome, RecordingObserver, Stage};
pub use policy::{GuardPolicy, LockoutPolicy, ReplayPolicy, ThrottlePolicy};
pub use replay::ReplayKey;
pub use store::{GuardStore, IdentityStatus, ReservationTicket, WrongPinCounts};
pub use throttle::SourceKey;

/// Why the guard refused a handshake. The client never sees which: the TLS
/// layer sends one alert for every refusal; this is for logs and the observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
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
    #[error("attempt table full: new identities refused")]
    AttemptTableFull,
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
}
