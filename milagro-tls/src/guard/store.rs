//! The storage seam: everything the guard remembers, behind one trait, so a
//! store shared between servers can replace the in-memory one.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use super::Refusal;
use super::clock::GuardTime;
use super::replay::ReplayKey;
use crate::identity::Hid;

/// One reserved attempt, as the store knows it. Stores hand these out from
/// [`GuardStore::reserve`]; the [`crate::guard::Guard`] handles carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservationTicket {
    hid: Hid,
    source: IpAddr,
    id: u64,
}

impl ReservationTicket {
    /// A ticket for reservation `id` (unique within its store) of `hid`,
    /// made from `source`. For [`GuardStore`] implementations.
    pub fn new(hid: Hid, source: IpAddr, id: u64) -> Self {
        Self { hid, source, id }
    }

    /// The identity the attempt is for.
    pub fn hid(&self) -> &Hid {
        &self.hid
    }

    /// The connection's source address.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// The store's id for the reservation.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// An identity's counters after a wrong PIN was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongPinCounts {
    /// Confirmed wrong PINs since the last successful login.
    pub confirmed: u32,
    /// Wrong PINs since the last re-enrolment.
    pub cumulative: u32,
    /// `confirmed` reached the lockout threshold.
    pub locked_out: bool,
    /// `cumulative` reached the cumulative cap.
    pub locked_until_reenrolled: bool,
}

/// What a store knows about one identity at a given time (all zero/false for
/// an identity it does not track).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdentityStatus {
    /// Confirmed wrong PINs since the last successful login.
    pub confirmed: u32,
    /// Wrong PINs since the last re-enrolment.
    pub cumulative: u32,
    /// Reservations currently held (any stage, TTL not passed).
    pub in_flight: u32,
    /// Refused until unlocked or re-enrolled.
    pub locked_out: bool,
    /// Refused until re-enrolled.
    pub locked_until_reenrolled: bool,
    /// Refused for now: more invalid classifications than the identity's
    /// [`crate::guard::SlowdownPolicy`] serves; ends as time passes.
    pub slowed_down: bool,
}

/// A good proof's store call in flight ([`GuardStore::start_good_proof`]).
#[must_use = "the handshake may continue only once the good proof is recorded"]
pub struct GoodProofInFlight(Box<dyn FnOnce() -> Result<bool, Refusal> + Send>);

impl GoodProofInFlight {
    /// A call in flight whose answer `wait` gives, blocking until the store
    /// has answered. For [`GuardStore`] implementations.
    pub fn new(wait: impl FnOnce() -> Result<bool, Refusal> + Send + 'static) -> Self {
        Self(Box::new(wait))
    }

    /// Blocks this thread until the store has answered; the answer is
    /// [`GuardStore::record_good_proof`]'s.
    pub fn wait(self) -> Result<bool, Refusal> {
        (self.0)()
    }
}

impl core::fmt::Debug for GoodProofInFlight {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("GoodProofInFlight")
    }
}

/// Where [`GuardStore::completed_detached`] sends the store's answer: called
/// once, possibly on a store's own thread.
pub type CompletionReport = Box<dyn FnOnce(Result<(), Refusal>) + Send + 'static>;

/// A store operation in progress: a boxed future, so `Arc<dyn GuardStore>`
/// stays object-safe. It borrows only the store.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store result that is already known (what an in-process store returns).
pub fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

/// Everything the guard remembers. Each operation is atomic with respect to
/// the others and fails only with [`Refusal::StoreUnavailable`] (a network
/// store that did not answer within its timeout; the in-memory store never
/// fails that way). Times are passed in, so in-process implementations need
/// no clock; a shared store may use its own single clock instead (and says
/// so), so that servers with skewed clocks agree.
///
/// **Operations start when called.** An operation takes effect whether or
/// not the returned future is polled to completion: the in-memory store
/// completes it before returning (the future is ready); a network store
/// starts it on its own runtime. The [`crate::guard::Guard`] relies on this
/// to resolve a dropped handle without awaiting anything, and the
/// synchronous accept path drives the futures with
/// [`block_on`](super::block_on), which never blocks on a ready future.
///
/// **Idempotent resolution.** Each reservation has an id unique within the
/// store; applying one of [`wrong_pin`](Self::wrong_pin),
/// [`invalid_credential`](Self::invalid_credential),
/// [`completed`](Self::completed) or [`release`](Self::release) to a ticket a
/// second time (a retry after a timeout or a reconnect) changes nothing: a
/// reservation is never counted twice.
///
/// Implementations must keep the guarantees documented on
/// [`crate::guard::MemoryGuard`]: bounded state, refusal without counting,
/// fail closed when full.
pub trait GuardStore: Send + Sync {
    /// `Err(Replay)` when (HID, U) was accepted within the replay window.
    fn replay_seen(&self, key: &ReplayKey, now: GuardTime) -> StoreFuture<'_, Result<(), Refusal>>;

    /// Records (HID, U) after a good proof, atomically with the lookup:
    /// `Err(Replay)` for a live key, `Err(ReplayCacheFull)` when full of live
    /// entries (nothing evicted).
    fn insert_after_good_proof(
        &self,
        key: &ReplayKey,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>>;

    /// Takes a ClientHello's cost from the source's bucket, or refuses
    /// (`Throttled`, `SourceTableFull`) taking nothing.
    fn admit_source(&self, source: IpAddr, now: GuardTime) -> StoreFuture<'_, Result<(), Refusal>>;

    /// Charges the source for a failed attempt: a bad DLEQ, a failed proof or
    /// a silent per-identity refusal — one fixed amount for all three.
    fn charge_source(&self, source: IpAddr, now: GuardTime)
    -> StoreFuture<'_, Result<(), Refusal>>;

    /// Whole tokens the source holds at `now` (negative when in debt).
    fn source_tokens(
        &self,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<i64, Refusal>>;

    /// Atomically reserves an attempt for `hid`, or refuses without counting
    /// (`LockedUntilReenrolled`, `LockedOut`, `TooManyInFlight`,
    /// `SlowedDown`, `AttemptTableFull`). Abandoned reservations whose TTL has passed are
    /// released first.
    fn reserve(
        &self,
        hid: &Hid,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<ReservationTicket, Refusal>>;

    /// The proof failed: the slot waits for classification, with no expiry
    /// (only [`wrong_pin`](Self::wrong_pin) or [`release`](Self::release)
    /// frees it). False when the slot is already gone.
    fn proof_failed(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>>;

    /// The proof was good: the slot waits for the handshake to complete
    /// (reservation TTL from `now`). False when the slot is already gone.
    fn proof_ok(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>>;

    /// Releases the slot, counting nothing.
    fn release(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>>;

    /// A failed proof was classified "invalid credential": releases the slot
    /// (nothing counted against the identity) and spends one unit of the
    /// identity's slow-down bucket ([`crate::guard::SlowdownPolicy`]), which
    /// [`reserve`](Self::reserve) must then honour with
    /// [`Refusal::SlowedDown`]. Returns true when the identity is slowed
    /// down after this one.
    fn invalid_credential(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>>;

    /// Records a classified wrong PIN (confirmed and cumulative counts), even
    /// if the slot has expired. `Ok(None)` when it could not be recorded
    /// (table full and no entry for the identity).
    fn wrong_pin(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<Option<WrongPinCounts>, Refusal>>;

    /// The handshake completed: releases the slot, resets the confirmed count.
    fn completed(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<(), Refusal>>;

    /// docs/protocol.md §6.4 step 1 checks 4–6 in one operation, in that
    /// order, for the identity of `key`: the replay lookup (as
    /// [`replay_seen`](Self::replay_seen)), the source's ClientHello cost
    /// (as [`admit_source`](Self::admit_source)), then the reservation (as
    /// [`reserve`](Self::reserve)). The first refusal ends it: a replayed
    /// share spends no token, a throttled source reserves nothing, a
    /// per-identity refusal has still spent the hello token. The guard calls
    /// it once it holds a pending-classification slot (the global cap of
    /// check 5, which it keeps itself).
    ///
    /// The default runs the three operations one after another (the replay
    /// lookup starts when called, each next one once the previous answered).
    /// A network store should override it with one atomic round trip: a
    /// successful login's store work is then this call (the only one the
    /// handshake waits a round trip for),
    /// [`start_good_proof`](Self::start_good_proof) (overlapping the key
    /// agreement) and [`completed_detached`](Self::completed_detached) (not
    /// waited for).
    fn admit_and_reserve(
        &self,
        key: &ReplayKey,
        source: IpAddr,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<ReservationTicket, Refusal>> {
        let seen = self.replay_seen(key, now);
        let hid = Hid(*key.hid());
        Box::pin(async move {
            seen.await?;
            self.admit_source(source, now).await?;
            self.reserve(&hid, source, now).await
        })
    }

    /// A good proof (docs/protocol.md §6.4 step 4) in one operation: records
    /// (HID, U) as [`insert_after_good_proof`](Self::insert_after_good_proof)
    /// does, then — only if that succeeded — moves the slot as
    /// [`proof_ok`](Self::proof_ok) does. `Err(Replay)` or
    /// `Err(ReplayCacheFull)` leave the slot untouched; `Ok(false)` means the
    /// slot was already gone (the entry is recorded all the same: the bytes
    /// did pass a proof).
    ///
    /// The default runs the two operations one after another (the insert
    /// starts when called); a network store should override it with one
    /// atomic round trip.
    fn record_good_proof(
        &self,
        ticket: &ReservationTicket,
        key: &ReplayKey,
        now: GuardTime,
    ) -> StoreFuture<'_, Result<bool, Refusal>> {
        let inserted = self.insert_after_good_proof(key, now);
        let ticket = *ticket;
        Box::pin(async move {
            inserted.await?;
            self.proof_ok(&ticket, now).await
        })
    }

    /// [`record_good_proof`](Self::record_good_proof), started now and
    /// waited for later: a key exchange that learns its proof is good before
    /// it has finished (CS: before the key agreement's pairing) starts the
    /// replay insert then, so the store's round trip overlaps the rest of its
    /// work. The answer is the same as `record_good_proof`'s, given by
    /// [`GoodProofInFlight::wait`] from a thread that may block; the call
    /// takes effect even if nobody waits.
    ///
    /// The default answers before returning (no overlap), which is right for
    /// a store that answers at once; a network store should start the call
    /// and return.
    fn start_good_proof(
        &self,
        ticket: &ReservationTicket,
        key: &ReplayKey,
        now: GuardTime,
    ) -> GoodProofInFlight {
        let answer = super::block::block_on(self.record_good_proof(ticket, key, now));
        GoodProofInFlight::new(move || answer)
    }

    /// [`completed`](Self::completed) for a caller that does not wait for
    /// the answer: the completion takes effect exactly as `completed`'s does,
    /// and `report` is called with the store's answer once it is known.
    /// Nothing about the connection depends on that answer (a completion
    /// that fails only leaves the confirmed count unreset, the safe
    /// direction), so the handshake does not wait a round trip for it.
    ///
    /// The default polls `completed` once: a store that answers at once (the
    /// in-memory store) reports before returning. For one that does not, the
    /// completion still takes effect (operations start when called) but
    /// `report` is not called: a network store should override this to
    /// report a failure when it happens.
    fn completed_detached(
        &self,
        ticket: &ReservationTicket,
        now: GuardTime,
        report: CompletionReport,
    ) {
        if let Some(result) = super::block::poll_once(self.completed(ticket, now)) {
            report(result);
        }
    }

    /// Administrative: the identity was re-enrolled; both counts reset.
    fn reenrolled(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>>;

    /// Administrative: resets the confirmed count, keeps the cumulative one.
    fn unlock(&self, hid: &Hid) -> StoreFuture<'_, Result<(), Refusal>>;

    /// The identity's counters at `now`.
    fn status(&self, hid: &Hid, now: GuardTime)
    -> StoreFuture<'_, Result<IdentityStatus, Refusal>>;

    /// The cap a [`crate::guard::Guard`] built over this store puts on its
    /// pending classifications
    /// ([`crate::guard::LockoutPolicy::max_pending_classifications`]). The
    /// default returns the policy default; stores built from a policy should
    /// return its value.
    fn max_pending_classifications(&self) -> usize {
        super::policy::LockoutPolicy::default().max_pending_classifications
    }

    /// How long this store remembers (HID, U) after a good proof
    /// ([`crate::guard::ReplayPolicy::window`]); servers refuse to start
    /// when it does not cover their client-time window
    /// ([`crate::guard::Guard::covers_clock_window`]). The default returns
    /// the policy default; stores built from a policy must return its value.
    fn replay_window(&self) -> std::time::Duration {
        super::policy::ReplayPolicy::default().window
    }

    /// How long a reservation lives before its proof
    /// ([`crate::guard::LockoutPolicy::reservation_ttl`]); an accept path
    /// must run every key exchange well within it (async acceptors refuse a
    /// handshake timeout that is not shorter). The default returns the
    /// policy default; stores built from a policy must return its value.
    fn reservation_ttl(&self) -> std::time::Duration {
        super::policy::LockoutPolicy::default().reservation_ttl
    }

    /// Whether this store's operations are round trips to another process
    /// (a shared store) rather than answered in-process. Async acceptors
    /// then overlap step 1's round trip with the share's own work
    /// ([`crate::MilagroAcceptor::precompute_share`]). The default is
    /// `false`; a network store should return `true`.
    fn is_remote(&self) -> bool {
        false
    }
}
