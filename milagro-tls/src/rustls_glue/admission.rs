//! Step 1 of the accept path: admitting the key share of a ClientHello
//! with the connection's source address, before rustls sees it and before
//! any point is decoded (docs/protocol.md §6.4 step 1, §7.4, §8.4.4).

use std::net::IpAddr;
use std::sync::Arc;

use crate::guard::{Attempt, Classifier, Guard, Refusal, Reservation, SilentAttempt};
use crate::mpin::{CsError, PinDigits, PreparedServerSecret, ShareChecks, precheck};
use crate::p2p::{P2pError, P2pServer};

/// How a server admits the key share of a ClientHello: the suite-specific
/// cheap checks of step 1 (docs/protocol.md §6.4, §7.4) that need the
/// connection's source address.
#[derive(Clone)]
pub(crate) enum Admission {
    /// No checks (the toy engine of the mechanism tests).
    #[cfg(test)]
    Open,
    /// CS: `mpin::precheck`, then the guard's replay / throttle / reservation,
    /// and the classifier that failed proofs are queued on.
    Cs {
        server: Arc<PreparedServerSecret>,
        checks: ShareChecks,
        guard: Guard,
        classifier: Classifier,
        digits: PinDigits,
        now: fn() -> u64,
    },
    /// P2P: `check_client_share_at` (length, epoch by the clock `now`,
    /// epoch held), then the source throttle (always present: §9.5).
    P2p {
        server: Arc<P2pServer>,
        guard: Guard,
        now: fn() -> u64,
    },
}

/// Why step 1 (the cheap checks with the source address) refused a key
/// share; the client got the plaintext alert of
/// [`refusal_alert`](super::error::refusal_alert).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionRefusal {
    /// CS `mpin::precheck`: length, day / permit policy or time window.
    #[error("CS key share refused: {0}")]
    Cs(CsError),
    /// P2P `check_client_share_at`: length, epoch outside the server clock's
    /// window, or an epoch the server holds no key for.
    #[error("P2P key share refused: {0}")]
    P2p(P2pError),
    /// The guard refused for the source or the server (replay, throttle,
    /// the pending-classification cap, full tables); never a per-identity
    /// refusal, which is silent.
    #[error("refused by the guard: {0}")]
    Guard(Refusal),
}

/// What step 1 decided for a Milagro connection.
pub(crate) enum Admitted {
    /// No reservation (toy engine, P2P).
    Free,
    /// CS: a reservation (holding one of the guard's pending-classification
    /// slots).
    Reserved(Reservation),
    /// A per-identity refusal: forced failure (holding a
    /// pending-classification slot like a reservation).
    Silent(SilentAttempt),
}

impl Admission {
    /// Step 1 for one key share from `source` (docs/protocol.md §6.4 step
    /// 1, §7.4): the suite's cheap checks on the share's bytes, then the
    /// guard's. A per-identity refusal is not an error but
    /// [`Admitted::Silent`].
    pub(crate) async fn admit(
        &self,
        share: &[u8],
        source: IpAddr,
    ) -> Result<Admitted, AdmissionRefusal> {
        match self {
            #[cfg(test)]
            Self::Open => Ok(Admitted::Free),
            Self::P2p { server, guard, now } => {
                server
                    .check_client_share_at(share, now())
                    .map_err(AdmissionRefusal::P2p)?;
                guard
                    .admit_source_async(source)
                    .await
                    .map_err(AdmissionRefusal::Guard)?;
                Ok(Admitted::Free)
            }
            Self::Cs {
                checks, guard, now, ..
            } => {
                let pre = precheck(share, checks, now()).map_err(AdmissionRefusal::Cs)?;
                let key = pre.replay_key();
                match guard.attempt_async(&key.hid, &key.u, source).await {
                    Ok(Attempt::Reserved(reservation)) => Ok(Admitted::Reserved(reservation)),
                    Ok(Attempt::Silent(silent)) => Ok(Admitted::Silent(silent)),
                    Err(r) => Err(AdmissionRefusal::Guard(r)),
                }
            }
        }
    }
}
