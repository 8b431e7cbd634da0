//! The guard as the handshake uses it: [`Guard`] and the RAII reservation
//! handles, which report every decision to the observer.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use super::Refusal;
use super::clock::{Clock, MonotonicClock};
use super::memory::MemoryGuard;
use super::observer::{GuardObserver, NoopObserver, Outcome, Stage};
use super::policy::GuardPolicy;
use super::replay::ReplayKey;
use super::store::{GuardStore, IdentityStatus, ReservationTicket};
use crate::identity::Hid;

struct Shared {
    store: Arc<dyn GuardStore>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn GuardObserver>,
}

impl Shared {
    fn tell(&self, o: Outcome) {
        self.observer.outcome(&o);
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
        Self {
            shared: Arc::new(Shared {
                store,
                clock,
                observer,
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

    /// Design §5 step 1, after the format, day and clock-window checks: the
    /// replay cache, then the source's bucket, then an atomic reservation for
    /// `hid`. Each refusal counts nothing against the identity (a throttled
    /// or refused ClientHello still spent its source's token once admitted by
    /// the throttle). Refusals go to the observer as [`Outcome::Refused`].
    pub fn admit(&self, hid: &Hid, u: &[u8; 48], source: IpAddr) -> Result<Reservation, Refusal> {
        let s = &self.shared;
        let now = s.clock.now();
        let key = ReplayKey::new(hid, u);
        let result = s
            .store
            .replay_seen(&key, now)
            .and_then(|()| s.store.admit_source(source, now))
            .and_then(|()| s.store.reserve(hid, source, now));
        match result {
            Ok(ticket) => Ok(Reservation {
                h: Handle::new(s, ticket, Stage::Reserved),
                key,
            }),
            Err(refusal) => {
                s.tell(Outcome::Refused {
                    hid: *hid,
                    source,
                    refusal,
                });
                Err(refusal)
            }
        }
    }

    /// The source throttle alone (for suites without per-identity state,
    /// e.g. P2P): spends one ClientHello's tokens of `source`'s bucket.
    /// Refusals go to the observer like [`admit`](Self::admit)'s, with the
    /// all-zero HID.
    pub fn admit_source(&self, source: IpAddr) -> Result<(), Refusal> {
        let s = &self.shared;
        s.store
            .admit_source(source, s.clock.now())
            .inspect_err(|&refusal| {
                s.tell(Outcome::Refused {
                    hid: Hid([0; 32]),
                    source,
                    refusal,
                })
            })
    }

    /// Administrative: `hid` was re-enrolled; its confirmed and cumulative
    /// counts reset (reservations in flight stay).
    pub fn reenrolled(&self, hid: &Hid) {
        self.shared.store.reenrolled(hid);
        self.shared.tell(Outcome::Reenrolled { hid: *hid });
    }

    /// Administrative: resets `hid`'s confirmed count (a lockout), keeping
    /// the cumulative count, so the cumulative cap still holds.
    pub fn unlock(&self, hid: &Hid) {
        self.shared.store.unlock(hid);
        self.shared.tell(Outcome::Unlocked { hid: *hid });
    }

    /// `hid`'s counters now.
    pub fn status(&self, hid: &Hid) -> IdentityStatus {
        self.shared.store.status(hid, self.shared.clock.now())
    }

    /// Whole tokens `source` holds now (negative when in debt).
    pub fn source_tokens(&self, source: IpAddr) -> i64 {
        self.shared
            .store
            .source_tokens(source, self.shared.clock.now())
    }
}

/// The common part of the three handles: releases on drop unless resolved.
struct Handle {
    shared: Arc<Shared>,
    ticket: ReservationTicket,
    stage: Stage,
    armed: bool,
}

impl Handle {
    fn new(shared: &Arc<Shared>, ticket: ReservationTicket, stage: Stage) -> Self {
        Self {
            shared: Arc::clone(shared),
            ticket,
            stage,
            armed: true,
        }
    }

    /// Disarms this handle and returns a new armed one at `stage`.
    fn moved_to(&mut self, stage: Stage) -> Handle {
        self.armed = false;
        Handle::new(&self.shared, self.ticket, stage)
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
        if self.armed {
            let now = self.shared.clock.now();
            self.shared.store.release(&self.ticket, now);
            self.shared.tell(Outcome::Abandoned {
                hid: self.hid(),
                source: self.source(),
                stage: self.stage,
            });
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
/// counting nothing.
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

    /// The DLEQ was bad: the slot is released and the source, not the
    /// identity, is charged.
    pub fn bad_dleq(mut self) {
        self.h.armed = false;
        let s = &self.h.shared;
        let now = s.clock.now();
        s.store.release(&self.h.ticket, now);
        s.store.charge_source(self.h.source(), now);
        s.tell(Outcome::BadProof {
            hid: self.h.hid(),
            source: self.h.source(),
        });
    }

    /// The proof was good: (HID, U) enters the replay cache and the slot is
    /// kept until the handshake completes. Fails — releasing the slot,
    /// counting nothing — with `Replay` (these bytes were accepted within the
    /// window), `ReplayCacheFull`, or `ReservationExpired` (the slot's TTL
    /// passed first); the handshake must then be refused.
    pub fn proof_ok(mut self) -> Result<ProvedReservation, Refusal> {
        self.h.armed = false;
        let s = Arc::clone(&self.h.shared);
        let now = s.clock.now();
        let (hid, source) = (self.h.hid(), self.h.source());
        let refused = |refusal: Refusal| {
            s.store.release(&self.h.ticket, now);
            s.tell(Outcome::Refused {
                hid,
                source,
                refusal,
            });
            Err(refusal)
        };
        if let Err(r) = s.store.insert_after_good_proof(&self.key, now) {
            return refused(r);
        }
        if !s.store.proof_ok(&self.h.ticket, now) {
            s.tell(Outcome::Expired {
                hid,
                source,
                stage: Stage::Proved,
            });
            return refused(Refusal::ReservationExpired);
        }
        Ok(ProvedReservation {
            h: self.h.moved_to(Stage::Proved),
        })
    }

    /// The proof failed: the slot is held until the failure is classified
    /// (at most the classification TTL). If the slot's TTL had already
    /// passed, the observer hears [`Outcome::Expired`] and a wrong PIN found
    /// by the classification still counts.
    pub fn proof_failed(mut self) -> PendingClassification {
        let s = Arc::clone(&self.h.shared);
        if !s.store.proof_failed(&self.h.ticket, s.clock.now()) {
            s.tell(Outcome::Expired {
                hid: self.h.hid(),
                source: self.h.source(),
                stage: Stage::AwaitingClassification,
            });
        }
        PendingClassification {
            h: self.h.moved_to(Stage::AwaitingClassification),
        }
    }
}

/// A failed proof waiting for the δ search. Resolve it with
/// [`wrong_pin`](Self::wrong_pin) or
/// [`invalid_credential`](Self::invalid_credential); dropping it releases
/// the slot, counting nothing (see the module docs for why).
#[must_use = "dropping an unclassified failure releases it uncounted"]
#[derive(Debug)]
pub struct PendingClassification {
    h: Handle,
}

impl PendingClassification {
    /// The store's ticket.
    pub fn ticket(&self) -> &ReservationTicket {
        &self.h.ticket
    }

    /// The search found δ = entered − registered: a confirmed failure. δ goes
    /// to the observer only. Returns the identity's counts, or `None` if the
    /// failure could not be recorded (attempt table full and the identity's
    /// entry gone; the observer hears [`Outcome::WrongPinUnrecorded`]).
    pub fn wrong_pin(mut self, delta: i64) -> Option<super::WrongPinCounts> {
        self.h.armed = false;
        let s = &self.h.shared;
        let (hid, source) = (self.h.hid(), self.h.source());
        let counts = s.store.wrong_pin(&self.h.ticket, s.clock.now());
        match counts {
            Some(c) => {
                s.tell(Outcome::WrongPin {
                    hid,
                    source,
                    delta,
                    confirmed: c.confirmed,
                    cumulative: c.cumulative,
                });
                if c.locked_out {
                    s.tell(Outcome::LockedOut { hid });
                }
                if c.locked_until_reenrolled {
                    s.tell(Outcome::LockedUntilReenrolled { hid });
                }
            }
            None => s.tell(Outcome::WrongPinUnrecorded { hid, source, delta }),
        }
        counts
    }

    /// No δ within the search range (a valid DLEQ on garbage): the slot is
    /// released and the source, not the identity, is charged.
    pub fn invalid_credential(mut self) {
        self.h.armed = false;
        let s = &self.h.shared;
        let now = s.clock.now();
        s.store.release(&self.h.ticket, now);
        s.store.charge_source(self.h.source(), now);
        s.tell(Outcome::InvalidCredential {
            hid: self.h.hid(),
            source: self.h.source(),
        });
    }
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
    pub fn handshake_completed(mut self) {
        self.h.armed = false;
        let s = &self.h.shared;
        s.store.completed(&self.h.ticket, s.clock.now());
        s.tell(Outcome::Completed {
            hid: self.h.hid(),
            source: self.h.source(),
        });
    }
}
