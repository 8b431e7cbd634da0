//! The guard as the handshake uses it: [`Guard`] and the RAII reservation
//! handles, which report every decision to the observer.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Refusal;
use super::block::{block_on, poll_once};
use super::clock::{Clock, MonotonicClock};
use super::memory::MemoryGuard;
use super::observer::{GuardObserver, NoopObserver, Outcome, Stage};
use super::policy::GuardPolicy;
use super::replay::ReplayKey;
use super::store::{
    GoodProofInFlight, GuardStore, IdentityStatus, ReservationTicket, WrongPinCounts,
};
use crate::identity::Hid;

struct Shared {
    store: Arc<dyn GuardStore>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn GuardObserver>,
    /// Attempts that may still need the classifier: admitted and unproved,
    /// or failed and unclassified. Per process, like the classifier.
    pending: AtomicUsize,
    max_pending: usize,
}

impl Shared {
    fn tell(&self, o: Outcome) {
        self.observer.outcome(&o);
    }

    /// Takes one classifier slot, or `false` at the cap (atomic).
    fn take_classifier_slot(&self) -> bool {
        let max = self.max_pending;
        self.pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v < max).then(|| v.saturating_add(1))
            })
            .is_ok()
    }

    fn release_classifier_slot(&self) {
        // Always Some: the closure cannot refuse, so this cannot fail.
        let _ = self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(1))
            });
    }

    /// Reports a store failure while resolving `ticket` (the operation's
    /// name); the attempt's handshake is refused or already resolved.
    fn store_failed(&self, ticket: &ReservationTicket, operation: &'static str) {
        self.tell(Outcome::StoreFailed {
            hid: *ticket.hid(),
            source: ticket.source(),
            operation,
        });
    }

    /// Tells the observer what recording a confirmed failure for `ticket`
    /// gave (`result`, `None` when the store's answer is not known yet):
    /// `classified` for a wrong PIN the classifier found, otherwise a dropped
    /// classification counted as one.
    fn report_wrong_pin(
        &self,
        ticket: &ReservationTicket,
        classified: bool,
        result: Option<Result<Option<WrongPinCounts>, Refusal>>,
    ) -> Option<WrongPinCounts> {
        let (hid, source) = (*ticket.hid(), ticket.source());
        let counts = match result {
            Some(Ok(c)) => c,
            Some(Err(_)) => {
                self.store_failed(ticket, "wrong_pin");
                None
            }
            None => None,
        };
        match (classified, counts) {
            (true, Some(c)) => self.tell(Outcome::WrongPin {
                hid,
                source,
                confirmed: c.confirmed,
                cumulative: c.cumulative,
            }),
            (true, None) => self.tell(Outcome::WrongPinUnrecorded { hid, source }),
            (false, counts) => self.tell(Outcome::DroppedUnclassified {
                hid,
                source,
                counts,
            }),
        }
        if let Some(c) = counts {
            if c.locked_out {
                self.tell(Outcome::LockedOut { hid });
            }
            if c.locked_until_reenrolled {
                self.tell(Outcome::LockedUntilReenrolled { hid });
            }
        }
        counts
    }
}

/// The CS server's guard: a store, a clock and an observer. Cheap to clone
/// (one `Arc`); clones share everything.
#[derive(Clone)]
pub struct Guard {
    shared: Arc<Shared>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Guard { .. }")
    }
}

impl Guard {
    /// A guard over `store`, reading `clock`, reporting to `observer`.
    pub fn new(
        store: Arc<dyn GuardStore>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn GuardObserver>,
    ) -> Self {
        let max_pending = store.max_pending_classifications();
        Self {
            shared: Arc::new(Shared {
                store,
                clock,
                observer,
                pending: AtomicUsize::new(0),
                max_pending,
            }),
        }
    }

    /// An in-memory guard on the monotonic clock with no observer.
    pub fn in_memory(policy: GuardPolicy) -> Self {
        Self::new(
            Arc::new(MemoryGuard::new(policy)),
            Arc::new(MonotonicClock::new()),
            Arc::new(NoopObserver),
        )
    }

    /// The store (for administration and metrics).
    pub fn store(&self) -> &Arc<dyn GuardStore> {
        &self.shared.store
    }

    /// docs/protocol.md §6.4 step 1 checks 4–6, after the format, day and
    /// clock-window checks: the replay cache, then the source's bucket, then
    /// the global classifier cap ([`Refusal::ClassifierBusy`]), then an
    /// atomic reservation for `hid`. Each refusal counts nothing against the
    /// identity (a ClientHello refused after the throttle admitted it still
    /// spent its source's hello token). Refusals go to the observer as
    /// [`Outcome::Refused`].
    ///
    /// **What the accept path must do with a refusal `r`:** if
    /// `r.is_per_identity()` ([`Refusal::is_per_identity`]) the refusal must
    /// be *silent*: let the handshake run step 2 with its outcome forced to
    /// failure (same decoding, DLEQ and pairing work, nothing counted),
    /// resolve it as a real attempt would be resolved — including the
    /// pending-classification slot and, after a failed proof, a discarded
    /// classification — and send the same `illegal_parameter`. Use
    /// [`attempt`](Self::attempt), whose [`SilentAttempt`] does exactly
    /// that. Every other refusal is global or about the share's own bytes
    /// and is sent as a plaintext alert at once (`illegal_parameter` for `Replay`,
    /// `internal_error` for load: `rustls_glue::error::refusal_alert`).
    ///
    /// A per-identity refusal returned here has already given its
    /// pending-classification slot back; an accept path that refuses
    /// silently must use [`attempt`](Self::attempt) instead, which keeps it.
    ///
    /// With a network store this blocks the calling thread until the store
    /// answers (at most its timeout): on an async task use
    /// [`admit_async`](Self::admit_async).
    pub fn admit(&self, hid: &Hid, u: &[u8; 48], source: IpAddr) -> Result<Reservation, Refusal> {
        block_on(self.admit_async(hid, u, source))
    }

    /// [`admit`](Self::admit), awaiting the store instead of blocking.
    pub async fn admit_async(
        &self,
        hid: &Hid,
        u: &[u8; 48],
        source: IpAddr,
    ) -> Result<Reservation, Refusal> {
        match self.attempt_async(hid, u, source).await? {
            Attempt::Reserved(r) => Ok(r),
            Attempt::Silent(silent) => Err(silent.refusal()),
        }
    }

    /// [`admit`](Self::admit) for an accept path that refuses per-identity
    /// refusals silently: the same checks in the same order, but a
    /// per-identity refusal ([`Refusal::is_per_identity`]) comes back as
    /// [`Attempt::Silent`], which **holds one of the pending-classification
    /// slots exactly like a reservation** (docs/protocol.md §6.4, "Why
    /// silent"). So the number of slots held, and with it the
    /// [`Refusal::ClassifierBusy`] refusal of the next attempt, never depends
    /// on whether an identity is locked. Resolve it through the same table
    /// as a reservation ([`SilentAttempt`]). Every other refusal is an `Err`,
    /// [`Refusal::StoreUnavailable`] included (a store that failed or timed
    /// out: fail closed).
    ///
    /// Blocks like [`admit`](Self::admit); on an async task use
    /// [`attempt_async`](Self::attempt_async).
    pub fn attempt(&self, hid: &Hid, u: &[u8; 48], source: IpAddr) -> Result<Attempt, Refusal> {
        block_on(self.attempt_async(hid, u, source))
    }

    /// [`attempt`](Self::attempt), awaiting the store instead of blocking.
    /// If this future is dropped after the store reserved, the reservation
    /// is left to its TTL (nothing counted).
    pub async fn attempt_async(
        &self,
        hid: &Hid,
        u: &[u8; 48],
        source: IpAddr,
    ) -> Result<Attempt, Refusal> {
        let s = &self.shared;
        let now = s.clock.now();
        let key = ReplayKey::new(hid, u);
        let refused = |refusal: Refusal| {
            s.tell(Outcome::Refused {
                hid: *hid,
                source,
                refusal,
            });
            Err(refusal)
        };
        // The global cap is checked before, and independently of, anything
        // about `hid`, so ClassifierBusy reveals nothing about any identity.
        // It is taken first so that checks 4–6 can be one store operation
        // (one round trip to a network store); at the cap, checks 4 and 5
        // still run first, so the refusal and the tokens spent are those of
        // the §6.4 order. A slot held while the store answers a replay or
        // throttle refusal is given back at once.
        if !s.take_classifier_slot() {
            if let Err(r) = s.store.replay_seen(&key, now).await {
                return refused(r);
            }
            if let Err(r) = s.store.admit_source(source, now).await {
                return refused(r);
            }
            return refused(Refusal::ClassifierBusy);
        }
        let slot = Slot::new(s);
        match s.store.admit_and_reserve(&key, source, now).await {
            Ok(ticket) => {
                let mut h = Handle::new(s, ticket, Stage::Reserved);
                h.classifier_slot = true;
                slot.disarm();
                Ok(Attempt::Reserved(Reservation { h, key }))
            }
            Err(refusal) => {
                s.tell(Outcome::Refused {
                    hid: *hid,
                    source,
                    refusal,
                });
                if refusal.is_per_identity() {
                    // The slot stays taken, as a reservation's would.
                    Ok(Attempt::Silent(SilentAttempt {
                        slot,
                        source,
                        refusal,
                    }))
                } else {
                    Err(refusal)
                }
            }
        }
    }

    /// Charges `source` for a silent per-identity refusal
    /// ([`Refusal::is_per_identity`]) — what [`SilentAttempt`] charges —
    /// for an accept path without a classifier slot to mirror: exactly what
    /// [`Reservation::proof_failed`] and [`Reservation::bad_dleq`] charge, so
    /// the source's balance cannot tell a refused attempt from a failed one.
    /// Call it once per silently refused handshake, at the point where its
    /// forced-failure step 2 ends.
    pub fn charge_silent_refusal(&self, source: IpAddr) {
        let s = &self.shared;
        // A store failure here charges nothing: the store refuses every new
        // attempt while it fails, so there is nothing to throttle.
        let _ = block_on(s.store.charge_source(source, s.clock.now()));
    }

    /// Attempts now holding one of the [`LockoutPolicy::max_pending_classifications`]
    /// slots (admitted and unproved, or failed and unclassified).
    ///
    /// [`LockoutPolicy::max_pending_classifications`]: super::LockoutPolicy::max_pending_classifications
    pub fn pending_classifications(&self) -> usize {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// How long a reservation lives before its proof
    /// ([`LockoutPolicy::reservation_ttl`](super::LockoutPolicy::reservation_ttl)):
    /// a key exchange that starts later finds it expired, and the cap on
    /// failures in flight no longer holds for it.
    pub fn reservation_ttl(&self) -> std::time::Duration {
        self.shared.store.reservation_ttl()
    }

    /// How long the store remembers (HID, U) after a good proof.
    pub fn replay_window(&self) -> std::time::Duration {
        self.shared.store.replay_window()
    }

    /// True when the replay window covers a client-time window of
    /// `clock_window` (`replay window ≥ 2 × clock_window + REPLAY_SLACK`,
    /// the lifetime rule of [`super::ReplayPolicy`]): every replay-cache
    /// entry then outlives the time its share can pass the window check.
    pub fn covers_clock_window(&self, clock_window: std::time::Duration) -> bool {
        self.replay_window() >= super::ReplayPolicy::min_window(clock_window)
    }

    /// The source throttle alone (for suites without per-identity state,
    /// e.g. P2P): spends one ClientHello's tokens of `source`'s bucket.
    /// Refusals go to the observer like [`admit`](Self::admit)'s, with the
    /// all-zero HID.
    ///
    /// Blocks like [`admit`](Self::admit); on an async task use
    /// [`admit_source_async`](Self::admit_source_async).
    pub fn admit_source(&self, source: IpAddr) -> Result<(), Refusal> {
        block_on(self.admit_source_async(source))
    }

    /// [`admit_source`](Self::admit_source), awaiting the store.
    pub async fn admit_source_async(&self, source: IpAddr) -> Result<(), Refusal> {
        let s = &self.shared;
        s.store
            .admit_source(source, s.clock.now())
            .await
            .inspect_err(|&refusal| {
                s.tell(Outcome::Refused {
                    hid: Hid([0; 32]),
                    source,
                    refusal,
                })
            })
    }

    /// Administrative: `hid` was re-enrolled; its confirmed and cumulative
    /// counts reset (reservations in flight stay). A store failure is
    /// ignored: with a network store use [`try_reenrolled`](Self::try_reenrolled).
    pub fn reenrolled(&self, hid: &Hid) {
        let _ = self.try_reenrolled(hid);
    }

    /// [`reenrolled`](Self::reenrolled), failing with
    /// [`Refusal::StoreUnavailable`] when the store did not apply it.
    pub fn try_reenrolled(&self, hid: &Hid) -> Result<(), Refusal> {
        block_on(self.reenrolled_async(hid))
    }

    /// [`try_reenrolled`](Self::try_reenrolled), awaiting the store.
    pub async fn reenrolled_async(&self, hid: &Hid) -> Result<(), Refusal> {
        self.shared.store.reenrolled(hid).await?;
        self.shared.tell(Outcome::Reenrolled { hid: *hid });
        Ok(())
    }

    /// Administrative: resets `hid`'s confirmed count (a lockout), keeping
    /// the cumulative count, so the cumulative cap still holds. A store
    /// failure is ignored: with a network store use
    /// [`try_unlock`](Self::try_unlock).
    pub fn unlock(&self, hid: &Hid) {
        let _ = self.try_unlock(hid);
    }

    /// [`unlock`](Self::unlock), failing with [`Refusal::StoreUnavailable`]
    /// when the store did not apply it.
    pub fn try_unlock(&self, hid: &Hid) -> Result<(), Refusal> {
        block_on(self.unlock_async(hid))
    }

    /// [`try_unlock`](Self::try_unlock), awaiting the store.
    pub async fn unlock_async(&self, hid: &Hid) -> Result<(), Refusal> {
        self.shared.store.unlock(hid).await?;
        self.shared.tell(Outcome::Unlocked { hid: *hid });
        Ok(())
    }

    /// `hid`'s counters now (all zero when the store fails: with a network
    /// store use [`try_status`](Self::try_status)).
    pub fn status(&self, hid: &Hid) -> IdentityStatus {
        self.try_status(hid).unwrap_or_default()
    }

    /// `hid`'s counters now, or [`Refusal::StoreUnavailable`].
    pub fn try_status(&self, hid: &Hid) -> Result<IdentityStatus, Refusal> {
        block_on(self.status_async(hid))
    }

    /// [`try_status`](Self::try_status), awaiting the store.
    pub async fn status_async(&self, hid: &Hid) -> Result<IdentityStatus, Refusal> {
        self.shared.store.status(hid, self.shared.clock.now()).await
    }

    /// Whole tokens `source` holds now (negative when in debt; 0 when the
    /// store fails).
    pub fn source_tokens(&self, source: IpAddr) -> i64 {
        block_on(
            self.shared
                .store
                .source_tokens(source, self.shared.clock.now()),
        )
        .unwrap_or(0)
    }
}

/// The common part of the three handles: resolves on drop unless resolved
/// (releases the slot, except at [`Stage::AwaitingClassification`], where the
/// drop counts as a wrong PIN), and always gives back its classifier slot.
struct Handle {
    shared: Arc<Shared>,
    ticket: ReservationTicket,
    stage: Stage,
    armed: bool,
    /// Holds one of the global pending-classification slots.
    classifier_slot: bool,
}

impl Handle {
    fn new(shared: &Arc<Shared>, ticket: ReservationTicket, stage: Stage) -> Self {
        Self {
            shared: Arc::clone(shared),
            ticket,
            stage,
            armed: true,
            classifier_slot: false,
        }
    }

    /// Disarms this handle and returns a new armed one at `stage`, which
    /// takes over the classifier slot when `keep_classifier_slot` (otherwise
    /// it is given back when this handle drops).
    fn moved_to(&mut self, stage: Stage, keep_classifier_slot: bool) -> Handle {
        self.armed = false;
        let mut h = Handle::new(&self.shared, self.ticket, stage);
        if keep_classifier_slot {
            h.classifier_slot = std::mem::replace(&mut self.classifier_slot, false);
        }
        h
    }

    fn hid(&self) -> Hid {
        *self.ticket.hid()
    }

    fn source(&self) -> IpAddr {
        self.ticket.source()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // A drop may run on an async task: it never blocks. Store operations
        // take effect without being awaited (GuardStore), so the in-memory
        // store's answer is known at once and a network store's lands on its
        // runtime.
        if self.armed {
            let s = &self.shared;
            if self.stage == Stage::AwaitingClassification {
                // Counted: see "A dropped classification counts" in mod.rs.
                let result = poll_once(s.store.wrong_pin(&self.ticket, s.clock.now()));
                s.report_wrong_pin(&self.ticket, false, result);
            } else {
                let result = poll_once(s.store.release(&self.ticket, s.clock.now()));
                if let Some(Err(_)) = result {
                    s.store_failed(&self.ticket, "release");
                }
                s.tell(Outcome::Abandoned {
                    hid: self.hid(),
                    source: self.source(),
                    stage: self.stage,
                });
            }
        }
        if self.classifier_slot {
            self.shared.release_classifier_slot();
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("ticket", &self.ticket)
            .field("stage", &self.stage)
            .finish()
    }
}

/// A reserved attempt whose proof is not yet checked. Resolve it with exactly
/// one of [`bad_dleq`](Self::bad_dleq), [`proof_ok`](Self::proof_ok) or
/// [`proof_failed`](Self::proof_failed); dropping it releases the slot,
/// counting nothing. It holds one of the global
/// [`max_pending_classifications`](super::LockoutPolicy::max_pending_classifications)
/// slots until it is known not to need the classifier.
#[must_use = "dropping a reservation releases it; resolve it with the proof's result"]
#[derive(Debug)]
pub struct Reservation {
    h: Handle,
    key: ReplayKey,
}

impl Reservation {
    /// The store's ticket.
    pub fn ticket(&self) -> &ReservationTicket {
        &self.h.ticket
    }

    /// The DLEQ was bad (or a point did not decode): the slot is released and
    /// the source, not the identity, is charged the fixed failure cost
    /// ([`ThrottlePolicy::invalid_cost`](super::ThrottlePolicy::invalid_cost)).
    pub fn bad_dleq(mut self) {
        self.h.armed = false;
        let s = &self.h.shared;
        let now = s.clock.now();
        let released = block_on(s.store.release(&self.h.ticket, now));
        let charged = block_on(s.store.charge_source(self.h.source(), now));
        if released.and(charged).is_err() {
            s.store_failed(&self.h.ticket, "bad_dleq");
        }
        s.tell(Outcome::BadProof {
            hid: self.h.hid(),
            source: self.h.source(),
        });
    }

    /// The key exchange failed before the proof could be judged (a share
    /// that is not the one step 1 bound, a server fault), or never ran
    /// (rustls refused the ClientHello first): the slot is released, nothing
    /// is counted against the identity, and the source is charged the same
    /// fixed failure cost as [`bad_dleq`](Self::bad_dleq) — so this outcome,
    /// too, charges a reserved attempt exactly like a silently refused one
    /// ([`Guard::charge_silent_refusal`]). The observer hears
    /// [`Outcome::Abandoned`] at [`Stage::Reserved`].
    pub fn refused_before_proof(mut self) {
        self.h.armed = false;
        let s = &self.h.shared;
        let now = s.clock.now();
        let released = block_on(s.store.release(&self.h.ticket, now));
        let charged = block_on(s.store.charge_source(self.h.source(), now));
        if released.and(charged).is_err() {
            s.store_failed(&self.h.ticket, "refused_before_proof");
        }
        s.tell(Outcome::Abandoned {
            hid: self.h.hid(),
            source: self.h.source(),
            stage: Stage::Reserved,
        });
    }

    /// The proof was good: (HID, U) enters the replay cache and the slot is
    /// kept until the handshake completes. Fails — releasing the slot,
    /// counting nothing — with `Replay` (these bytes were accepted within the
    /// window), `ReplayCacheFull`, `ReservationExpired` (the slot's TTL
    /// passed first) or `StoreUnavailable` (the store did not confirm the
    /// insert: fail closed); the handshake must then be refused.
    ///
    /// Blocks until the store answers. A key exchange that can start the
    /// insert earlier uses [`proof_starter`](Self::proof_starter) and
    /// [`proof_ok_after`](Self::proof_ok_after) instead.
    pub fn proof_ok(self) -> Result<ProvedReservation, Refusal> {
        let s = Arc::clone(&self.h.shared);
        let started = s
            .store
            .start_good_proof(&self.h.ticket, &self.key, s.clock.now());
        self.resolve_good_proof(started)
    }

    /// What starts this reservation's good-proof record (the replay insert)
    /// at the moment a key exchange knows its proof is good — before the
    /// exchange has finished, so a network store's round trip overlaps the
    /// exchange's remaining work. Call [`ProofStarter::start`] only for a
    /// proof that verified, then resolve with
    /// [`proof_ok_after`](Self::proof_ok_after).
    pub fn proof_starter(&self) -> ProofStarter {
        ProofStarter {
            shared: Arc::clone(&self.h.shared),
            ticket: self.h.ticket,
            key: self.key,
        }
    }

    /// [`proof_ok`](Self::proof_ok) for a good proof whose record `started`
    /// began already: waits for that answer instead of sending another.
    /// `started` from another reservation's starter is ignored (this one's
    /// record is then made here).
    pub fn proof_ok_after(self, started: StartedProof) -> Result<ProvedReservation, Refusal> {
        if started.ticket != self.h.ticket {
            return self.proof_ok();
        }
        self.resolve_good_proof(started.in_flight)
    }

    fn resolve_good_proof(
        mut self,
        in_flight: GoodProofInFlight,
    ) -> Result<ProvedReservation, Refusal> {
        self.h.armed = false;
        let s = Arc::clone(&self.h.shared);
        let answer = in_flight.wait();
        let now = s.clock.now();
        let (hid, source) = (self.h.hid(), self.h.source());
        let refused = |refusal: Refusal| {
            if block_on(s.store.release(&self.h.ticket, now)).is_err() {
                s.store_failed(&self.h.ticket, "release");
            }
            s.tell(Outcome::Refused {
                hid,
                source,
                refusal,
            });
            Err(refusal)
        };
        match answer {
            Ok(true) => {}
            Ok(false) => {
                s.tell(Outcome::Expired {
                    hid,
                    source,
                    stage: Stage::Proved,
                });
                return refused(Refusal::ReservationExpired);
            }
            Err(r) => return refused(r),
        }
        Ok(ProvedReservation {
            h: self.h.moved_to(Stage::Proved, false),
        })
    }

    /// The proof failed: the source is charged the fixed failure cost now,
    /// before and whatever the classification (the same amount as
    /// [`bad_dleq`](Self::bad_dleq) and
    /// [`Guard::charge_silent_refusal`]), and the slot — with its classifier
    /// slot — is held **until the failure is classified**, however long that
    /// takes (no TTL). If the reservation's TTL had already passed before the
    /// proof, the observer hears [`Outcome::Expired`] and a wrong PIN found by
    /// the classification still counts (so it does when the store failed to
    /// mark the slot: [`Outcome::StoreFailed`]).
    pub fn proof_failed(mut self) -> PendingClassification {
        let s = Arc::clone(&self.h.shared);
        let now = s.clock.now();
        let charged = block_on(s.store.charge_source(self.h.source(), now));
        match block_on(s.store.proof_failed(&self.h.ticket, now)) {
            Ok(true) => {}
            Ok(false) => s.tell(Outcome::Expired {
                hid: self.h.hid(),
                source: self.h.source(),
                stage: Stage::AwaitingClassification,
            }),
            Err(_) => s.store_failed(&self.h.ticket, "proof_failed"),
        }
        if charged.is_err() {
            s.store_failed(&self.h.ticket, "charge_source");
        }
        PendingClassification {
            h: self.h.moved_to(Stage::AwaitingClassification, true),
        }
    }
}

/// A failed proof waiting for the δ search. Resolve it with
/// [`wrong_pin`](Self::wrong_pin) or
/// [`invalid_credential`](Self::invalid_credential). It never expires: its
/// slot is released only by its classification. **Dropping it unresolved
/// counts a wrong PIN** ([`Outcome::DroppedUnclassified`]; the module docs
/// say why), so the classifier must resolve every job, also at shutdown.
#[must_use = "dropping an unclassified failure counts it as a wrong PIN"]
#[derive(Debug)]
pub struct PendingClassification {
    h: Handle,
}

impl PendingClassification {
    /// The store's ticket.
    pub fn ticket(&self) -> &ReservationTicket {
        &self.h.ticket
    }

    /// The search found a PIN error δ ≠ 0 in range: a confirmed failure.
    /// δ itself is not taken: the guard, its store and the observer see only
    /// the classification, so no log can reveal how far the PIN was off.
    /// Returns the identity's counts, or `None` if the failure could not be
    /// recorded (attempt table full and the identity's entry gone; the
    /// observer hears [`Outcome::WrongPinUnrecorded`]).
    ///
    /// The source is not charged here: it was charged at
    /// [`Reservation::proof_failed`], identically for every classification.
    ///
    /// Blocks until the store answers (a classifier thread may).
    pub fn wrong_pin(mut self) -> Option<WrongPinCounts> {
        self.h.armed = false;
        let s = &self.h.shared;
        let result = block_on(s.store.wrong_pin(&self.h.ticket, s.clock.now()));
        s.report_wrong_pin(&self.h.ticket, true, Some(result))
    }

    /// No δ within the search range (a valid DLEQ on garbage): the slot is
    /// released and nothing is counted against the identity. The source is
    /// not charged here: it was charged at [`Reservation::proof_failed`],
    /// identically for every classification.
    ///
    /// It spends one unit of the identity's slow-down bucket
    /// ([`SlowdownPolicy`](super::SlowdownPolicy)); when that leaves the
    /// identity slowed down, the observer also hears
    /// [`Outcome::SlowedDown`].
    pub fn invalid_credential(mut self) {
        self.h.armed = false;
        let s = &self.h.shared;
        let slowed = match block_on(s.store.invalid_credential(&self.h.ticket, s.clock.now())) {
            Ok(slowed) => slowed,
            Err(_) => {
                s.store_failed(&self.h.ticket, "invalid_credential");
                false
            }
        };
        s.tell(Outcome::InvalidCredential {
            hid: self.h.hid(),
            source: self.h.source(),
        });
        if slowed {
            s.tell(Outcome::SlowedDown { hid: self.h.hid() });
        }
    }
}

/// Starts one reservation's good-proof record
/// ([`Reservation::proof_starter`]). Holds no slot: dropping it unused
/// changes nothing.
pub struct ProofStarter {
    shared: Arc<Shared>,
    ticket: ReservationTicket,
    key: ReplayKey,
}

impl ProofStarter {
    /// The proof verified: starts recording it now
    /// ([`GuardStore::start_good_proof`]; it takes effect whether or not the
    /// reservation is then resolved with the result). Never call it for a
    /// proof that failed: the replay cache holds only bytes that passed one.
    pub fn start(self) -> StartedProof {
        let s = &self.shared;
        StartedProof {
            ticket: self.ticket,
            in_flight: s
                .store
                .start_good_proof(&self.ticket, &self.key, s.clock.now()),
        }
    }
}

impl fmt::Debug for ProofStarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofStarter")
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

/// A good-proof record in flight for one reservation: resolve that
/// reservation with [`Reservation::proof_ok_after`].
#[must_use = "resolve the reservation with Reservation::proof_ok_after"]
#[derive(Debug)]
pub struct StartedProof {
    ticket: ReservationTicket,
    in_flight: GoodProofInFlight,
}

/// A good proof whose handshake has not completed. Resolve it with
/// [`handshake_completed`](Self::handshake_completed); dropping it (the
/// handshake failed or the connection closed) releases the slot.
#[must_use = "dropping a proved reservation releases it without resetting the count"]
#[derive(Debug)]
pub struct ProvedReservation {
    h: Handle,
}

impl ProvedReservation {
    /// The store's ticket.
    pub fn ticket(&self) -> &ReservationTicket {
        &self.h.ticket
    }

    /// The full handshake completed: the slot is released and the confirmed
    /// count reset to 0. The cumulative count stays: an identity at the
    /// cumulative cap stays locked until re-enrolled.
    ///
    /// Does not wait for a network store: the completion is started here and
    /// takes effect whatever happens to the connection next
    /// ([`GuardStore::completed_detached`]); the observer hears
    /// [`Outcome::Completed`] now and, should the store fail it later,
    /// [`Outcome::StoreFailed`] with operation `"completed"`. Nothing about
    /// the connection depends on the store's answer, so a login does not
    /// wait a round trip for it. Use
    /// [`handshake_completed_async`](Self::handshake_completed_async) to wait
    /// until the store has answered (before reading the counts back, say).
    pub fn handshake_completed(mut self) {
        self.h.armed = false;
        let s = Arc::clone(&self.h.shared);
        let ticket = self.h.ticket;
        let reporter = Arc::clone(&s);
        s.store.completed_detached(
            &ticket,
            s.clock.now(),
            Box::new(move |result| {
                if result.is_err() {
                    reporter.store_failed(&ticket, "completed");
                }
            }),
        );
        s.tell(Outcome::Completed {
            hid: self.h.hid(),
            source: self.h.source(),
        });
    }

    /// [`handshake_completed`](Self::handshake_completed), returning once the
    /// store has answered. Once polled, the completion is applied even if
    /// this future is then dropped; dropped unpolled, it releases like a
    /// dropped handle.
    pub async fn handshake_completed_async(mut self) {
        self.h.armed = false;
        let s = Arc::clone(&self.h.shared);
        let result = s.store.completed(&self.h.ticket, s.clock.now()).await;
        if result.is_err() {
            s.store_failed(&self.h.ticket, "completed");
        }
        s.tell(Outcome::Completed {
            hid: self.h.hid(),
            source: self.h.source(),
        });
    }
}

/// What [`Guard::attempt`] admitted: a reservation, or a per-identity refusal
/// to be refused silently. Both hold one pending-classification slot.
#[derive(Debug)]
pub enum Attempt {
    /// The identity is reserved: resolve the [`Reservation`].
    Reserved(Reservation),
    /// A per-identity refusal: run the forced-failure key exchange, then
    /// resolve the [`SilentAttempt`] with what it reached.
    Silent(SilentAttempt),
}

/// One pending-classification slot, given back when dropped (unless
/// disarmed: a handle took it over).
struct Slot(Arc<Shared>, bool);

impl Slot {
    fn new(shared: &Arc<Shared>) -> Self {
        Self(Arc::clone(shared), true)
    }

    fn disarm(mut self) {
        self.1 = false;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.1 {
            self.0.release_classifier_slot();
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Slot")
    }
}

/// A silently refused attempt (locked out, too many in flight, …): it holds a
/// pending-classification slot exactly like a [`Reservation`] and is resolved
/// by the same table, so slot use, classifier work and the source's charge
/// are the same whether or not the identity is locked (docs/protocol.md
/// §6.4, "Why silent"). Nothing it does counts against the identity.
/// Dropping it unresolved gives the slot back and charges nothing, like a
/// dropped reservation.
#[must_use = "a silent refusal is resolved with its forced-failure key exchange's outcome"]
#[derive(Debug)]
pub struct SilentAttempt {
    slot: Slot,
    source: IpAddr,
    refusal: Refusal,
}

impl SilentAttempt {
    /// Why the identity was refused.
    pub fn refusal(&self) -> Refusal {
        self.refusal
    }

    /// The forced-failure key exchange ended without a failed proof (bad
    /// DLEQ, a point that did not decode, any other failure, or no
    /// exchange at all): the source is charged the fixed failure cost, as
    /// [`Reservation::bad_dleq`] and [`Reservation::refused_before_proof`]
    /// charge it, and the slot is given back at once.
    pub fn failed(self) {
        let s = &self.slot.0;
        let _ = block_on(s.store.charge_source(self.source, s.clock.now()));
    }

    /// The forced-failure key exchange found a failed proof: the source is
    /// charged like [`Reservation::proof_failed`] and the slot is held by the
    /// returned [`DiscardedClassification`] until a classification of the
    /// same cost as a counted one has run on it.
    pub fn proof_failed(self) -> DiscardedClassification {
        let s = &self.slot.0;
        let _ = block_on(s.store.charge_source(self.source, s.clock.now()));
        DiscardedClassification { _slot: self.slot }
    }
}

/// A silently refused attempt's failed proof, holding its
/// pending-classification slot while the classifier runs the same δ search
/// as for a counted failure; the result is discarded (nothing counted,
/// nothing reported as a wrong PIN). Dropping it gives the slot back.
#[derive(Debug)]
pub struct DiscardedClassification {
    _slot: Slot,
}
