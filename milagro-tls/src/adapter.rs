//! For writing an I/O adapter (such as `milagro-tls-tokio`) around the
//! accept and connect paths; applications use [`crate::MilagroAcceptor::accept`]
//! and [`crate::MilagroClient::connect`] or such an adapter instead.
//!
//! [`MilagroAcceptor::decide`](crate::MilagroAcceptor::decide) runs step 1
//! of docs/protocol.md §6.4 on a parsed ClientHello and returns a
//! [`Decision`]; a Milagro one is a [`MilagroStart`] whose
//! [`run`](MilagroStart::run) does the key exchange and resolves the attempt
//! ([`KxResolution`]) before the adapter does any I/O the peer can make fail.
//! The alert to send for a refusal is [`refusal_alert`]; a client-side rustls
//! error becomes a typed [`crate::MilagroError`] through [`map_refusal`] /
//! [`map_connect_error`] / [`map_client_error_for`].
//!
//! With a guard store across the network, an adapter can overlap step 1's
//! round trip with the share's own work:
//! [`MilagroAcceptor::precompute_share`](crate::MilagroAcceptor::precompute_share)
//! gives a [`SharePrecompute`] to run on a blocking thread while
//! `decide_async` awaits the store, and
//! [`MilagroStart::with_precomputed`] hands its [`PrecomputedShare`] to the
//! key exchange (docs/protocol.md §6.4, "Overlapping step 1"). The acceptor
//! itself keeps the rule that a source step 1 refused gets none of this
//! work for a while ([`OverlapStats`] counts what happened).

pub use crate::rustls_glue::accept::{Decision, KxResolution, MilagroSession, MilagroStart};
pub use crate::rustls_glue::error::{
    map_client_error_for, map_connect_error, map_refusal, refusal_alert,
};
pub use crate::rustls_glue::overlap_gate::OverlapStats;
pub use crate::rustls_glue::precompute::{PrecomputedShare, SharePrecompute};
