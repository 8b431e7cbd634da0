//! Overlapping step 1 with the share's own work (docs/protocol.md §6.4,
//! "Overlapping step 1"). With a guard store across the network, step 1's
//! store call is a round trip during which the server would sit idle; the
//! part of the CS key exchange that needs neither a pairing nor a secret
//! (decoding the points, `A`, `A_d`, the DLEQ check, `U + y·A_d`) can run
//! meanwhile on another thread. It decides nothing: the key exchange takes
//! the result as its own only once the attempt is admitted, only for the
//! exact share it was made from, and resolves the attempt by the one table
//! as before. An adapter that does not call this loses nothing but time.

use std::sync::Arc;

use std::net::IpAddr;

use super::accept::MilagroAcceptor;
use super::admission::Admission;
use super::engine::{Precomputed, cs_precompute};
use super::overlap_gate::{OverlapGate, OverlapStats};
use crate::mpin::{PrecheckedShare, PreparedServerSecret, precheck};
use crate::tls::{Offer, ParsedClientHello, classify};

/// The share-only work of one ClientHello's key exchange, made by
/// [`MilagroAcceptor::precompute_share`]: no pairing and no secret, about a
/// third of the CS server's key-exchange CPU time. Run it on a blocking
/// thread while [`MilagroAcceptor::decide_async`] awaits the store.
///
/// Dropped without [`run`](Self::run) (no worker free), it is counted as
/// such in [`MilagroAcceptor::overlap_stats`].
pub struct SharePrecompute {
    share: PrecheckedShare,
    server: Arc<PreparedServerSecret>,
    tally: Tally,
}

/// Counts a [`SharePrecompute`] as run, or as dropped unrun.
struct Tally(Option<Arc<OverlapGate>>);

impl Drop for Tally {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            gate.record_not_run();
        }
    }
}

impl core::fmt::Debug for SharePrecompute {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharePrecompute")
            .field("share", &self.share)
            .finish_non_exhaustive()
    }
}

impl SharePrecompute {
    /// Does the work (CPU-bound, about a millisecond). Never fails:
    /// a share that does not decode or whose DLEQ fails keeps that outcome,
    /// which the key exchange then reaches and resolves as it always does.
    pub fn run(self) -> PrecomputedShare {
        let Self {
            share,
            server,
            mut tally,
        } = self;
        if let Some(gate) = tally.0.take() {
            gate.record_overlapped();
        }
        PrecomputedShare(cs_precompute(&share, &server))
    }
}

/// The result of a [`SharePrecompute`], for
/// [`MilagroStart::with_precomputed`](super::accept::MilagroStart::with_precomputed).
/// Opaque: it holds only public values (the share's and the identity's
/// points).
pub struct PrecomputedShare(pub(crate) Precomputed);

impl core::fmt::Debug for PrecomputedShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PrecomputedShare")
    }
}

impl MilagroAcceptor {
    /// The work of this ClientHello's key exchange from `source` that may
    /// run while step 1 awaits the guard's store, or `None` when there is
    /// none worth overlapping: not a Milagro CS offer for this acceptor, a
    /// share that step 1's checks on its own bytes (length, day, time) will
    /// refuse, a guard whose store answers in-process
    /// ([`GuardStore::is_remote`](crate::guard::GuardStore::is_remote)) — or
    /// a source that step 1 refused (replay, throttle, load, store down)
    /// within the last 10 s: the work is spent before admission, and a
    /// throttled source must not make the server spend it on every refused
    /// ClientHello (docs/protocol.md §6.4, "Overlapping step 1").
    ///
    /// Calling it decides nothing and counts nothing against anyone. The
    /// caller must still run [`decide_async`](Self::decide_async) (which
    /// keeps the refused sources) and resolve the attempt through
    /// [`MilagroStart::run`](super::accept::MilagroStart::run).
    pub fn precompute_share(
        &self,
        hello: &ParsedClientHello,
        source: IpAddr,
    ) -> Option<SharePrecompute> {
        let Ok(Offer::Milagro { group, share }) = classify(hello) else {
            return None;
        };
        if group != self.suite() {
            return None;
        }
        let Admission::Cs {
            server,
            checks,
            guard,
            now,
            ..
        } = self.admission()
        else {
            return None;
        };
        if !guard.store().is_remote() {
            return None;
        }
        let share = precheck(share, checks, now()).ok()?;
        let gate = self.overlap_gate();
        if !gate.allows(source, std::time::Instant::now()) {
            return None;
        }
        Some(SharePrecompute {
            share,
            server: Arc::clone(server),
            tally: Tally(Some(Arc::clone(gate))),
        })
    }

    /// How many CS connections had step 1's store round trip overlapped
    /// with their share's own work, and why others did not: counted by
    /// [`precompute_share`](Self::precompute_share) and its work, for every
    /// acceptor built on the same configuration.
    pub fn overlap_stats(&self) -> OverlapStats {
        self.overlap_gate().stats()
    }
}
