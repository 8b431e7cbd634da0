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

use super::accept::MilagroAcceptor;
use super::admission::Admission;
use super::engine::{Precomputed, cs_precompute};
use crate::mpin::{PrecheckedShare, PreparedServerSecret, precheck};
use crate::tls::{Offer, ParsedClientHello, classify};

/// The share-only work of one ClientHello's key exchange, made by
/// [`MilagroAcceptor::precompute_share`]: no pairing and no secret, about a
/// third of the CS server's key-exchange CPU time. Run it on a blocking
/// thread while [`MilagroAcceptor::decide_async`] awaits the store.
pub struct SharePrecompute {
    share: PrecheckedShare,
    server: Arc<PreparedServerSecret>,
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
        PrecomputedShare(cs_precompute(&self.share, &self.server))
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
    /// The work of this ClientHello's key exchange that may run while step 1
    /// awaits the guard's store, or `None` when there is none worth
    /// overlapping: not a Milagro CS offer for this acceptor, a share that
    /// step 1's checks on its own bytes (length, day, time) will refuse, or a
    /// guard whose store answers in-process
    /// ([`GuardStore::is_remote`](crate::guard::GuardStore::is_remote)).
    ///
    /// Calling it decides nothing and counts nothing. The caller must still
    /// run [`decide_async`](Self::decide_async) and resolve the attempt
    /// through [`MilagroStart::run`](super::accept::MilagroStart::run); it
    /// should not spend this work on a source whose previous attempt step 1
    /// refused (docs/protocol.md §6.4, "Overlapping step 1": otherwise a
    /// throttled source costs the server this work on every refused
    /// ClientHello).
    pub fn precompute_share(&self, hello: &ParsedClientHello) -> Option<SharePrecompute> {
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
        Some(SharePrecompute {
            share,
            server: Arc::clone(server),
        })
    }
}
