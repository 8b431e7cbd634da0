//! Why a P2P key agreement step or configuration was refused.

use core::fmt;

use super::share::{CLIENT_SHARE_BYTES, SERVER_SHARE_BYTES};
use crate::identity::Identity;
use crate::keys::DeploymentId;
use crate::pairing::{DecodeError, RandomError};

/// Which point of a key share was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareField {
    /// `Pg = w·H1(ID_A)` in the client share.
    Pg,
    /// `Pb = y·H2(ID_B)` in the client share.
    Pb,
    /// `Pa = x·H1(ID_A)`, the server share.
    Pa,
}

impl fmt::Display for ShareField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pg => "Pg",
            Self::Pb => "Pb",
            Self::Pa => "Pa",
        })
    }
}

fn accepted_epochs(current: &u32, previous: &Option<u32>) -> String {
    match previous {
        Some(p) => format!("epochs {current} (current) and {p} (previous)"),
        None => format!("only epoch {current} (current)"),
    }
}

/// Why a P2P key agreement step or configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The client share does not have exactly [`CLIENT_SHARE_BYTES`] bytes.
    #[error("P2P client share: expected exactly {CLIENT_SHARE_BYTES} bytes, got {got}")]
    ClientShareLength {
        /// The length received.
        got: usize,
    },
    /// The server share does not have exactly [`SERVER_SHARE_BYTES`] bytes.
    #[error("P2P server share: expected exactly {SERVER_SHARE_BYTES} bytes, got {got}")]
    ServerShareLength {
        /// The length received.
        got: usize,
    },
    /// The client share names an epoch the server holds no key for (too old,
    /// or in the future).
    #[error("P2P client share is for epoch {got}; this server accepts {}", accepted_epochs(.current, .previous))]
    EpochNotAccepted {
        /// The epoch in the share.
        got: u32,
        /// The server's current epoch.
        current: u32,
        /// The server's previous epoch, if it holds a key for it.
        previous: Option<u32>,
    },
    /// A point of a key share is not a valid point of the prime-order
    /// subgroup, or is the identity.
    #[error("P2P share field {field}: {source}")]
    InvalidPoint {
        /// Which point.
        field: ShareField,
        /// Why it was refused.
        source: DecodeError,
    },
    /// Two keys that must belong to one deployment do not.
    #[error("P2P key belongs to deployment {got}, expected deployment {expected}")]
    DeploymentMismatch {
        /// The deployment the configuration expects.
        expected: DeploymentId,
        /// The deployment of the key that was supplied.
        got: DeploymentId,
    },
    /// Two keys name the same deployment id with different parameters
    /// (D-TA count or epoch length): at least one key file is wrong.
    #[error("P2P keys name deployment {0} with different parameters")]
    DeploymentParametersDiffer(DeploymentId),
    /// The server's current and previous keys are for different identities.
    #[error("P2P server keys are for different identities: current {current}, previous {previous}")]
    ServerIdentityMismatch {
        /// The current key's identity.
        current: Identity,
        /// The previous key's identity.
        previous: Identity,
    },
    /// The server's previous key is not for the epoch just before the
    /// current key's.
    #[error(
        "P2P server's previous key is for epoch {previous}, but the current key is for epoch {current}"
    )]
    PreviousEpochNotAdjacent {
        /// The current key's epoch.
        current: u32,
        /// The previous key's epoch.
        previous: u32,
    },
    /// The client share's epoch is neither the current epoch by the server's
    /// clock nor the one before (docs/protocol.md §7.4), whatever keys the
    /// server holds: an expired (or not yet valid) key is refused even by a
    /// server that still holds the matching `D_A`.
    #[error(
        "P2P client share is for epoch {got}; by the server's clock only epochs {now_epoch} (current) and {} (previous) are accepted",
        .now_epoch.saturating_sub(1)
    )]
    EpochOutsideClock {
        /// The epoch in the share.
        got: u32,
        /// The current epoch by the server's clock.
        now_epoch: u32,
    },
    /// None of the server's keys is for the current epoch (by the server's
    /// clock) or the one before: the server could accept no client at all.
    #[error(
        "P2P server keys are for {}, but the current epoch is {now_epoch}: no key is for epoch {now_epoch} or {}; load current keys",
        accepted_epochs(.current, .previous),
        .now_epoch.saturating_sub(1)
    )]
    ServerKeysNotCurrent {
        /// The current key's epoch.
        current: u32,
        /// The previous key's epoch, if the server holds one.
        previous: Option<u32>,
        /// The current epoch by the server's clock.
        now_epoch: u32,
    },
    /// The client key is not valid now: its epoch is neither the current one
    /// nor the one before (which servers still accept).
    #[error("P2P client key is for epoch {key_epoch}, but the current epoch is {now_epoch}")]
    ClientKeyEpoch {
        /// The key's epoch.
        key_epoch: u32,
        /// The epoch of the current time.
        now_epoch: u32,
    },
    /// Precomputed `(y, Pb)` or a handshake state was made for a different
    /// client key (identity or epoch) than the one it is used with.
    #[error("P2P precomputed value or handshake state belongs to another client key")]
    StateMismatch,
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}
