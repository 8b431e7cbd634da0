//! The M-Pin CS suite's cryptographic core (docs/protocol.md §6): no rustls types.
//!
//! A CS client holds a *token* `CS − PIN·A` and a PIN (two factors) for an
//! identity, and, in a deployment with permits required, a daily time permit.
//! A server holds the server secret `SS = s·Q`. One ClientHello key share of
//! exactly [`SHARE_BYTES`] bytes carries the one-pass M-Pin proof (explicit
//! client authentication) bound to a Chaum–Pedersen proof of knowledge of the
//! proof's nonce `x`, and the client's M-Pin Full contribution `R`; the
//! server's key share `W` completes the M-Pin Full key agreement (implicit
//! mutual authentication per deployment, forward secrecy).
//!
//! The modules, each with one job:
//!
//! * [`permit`]: the identity point `A`, the permit point `T`, the effective
//!   point `A_d` per [`PermitPolicy`](crate::keys::PermitPolicy), and the day
//!   rules on both sides.
//! * [`pin`]: [`Pin`], PIN extraction (`token = CS − PIN·A`) and its inverse.
//! * [`proof`]: the client key share (build, and the client's state for the
//!   key agreement) and the server's checks, split as docs/protocol.md §6.4 requires:
//!   [`precheck`] on raw bytes in the accept path, before any point is decoded;
//!   [`verify`] (decoding, the DLEQ, then one multi-pairing) in the key
//!   exchange.
//! * [`classify`](mod@classify): off the hot path, tells a wrong PIN (and by how
//!   much) from an invalid credential, with fixed work.
//! * [`full`]: the M-Pin Full key agreement and the 32-byte shared secret.
//!
//! Server order (docs/protocol.md §6.4): [`precheck`] → replay cache / throttle /
//! reservation (in `guard`) → [`verify`] → [`respond`]; on
//! [`CsError::ProofFailed`], [`classify()`] later, rate-limited.
//!
//! Threat-model facts the caller must keep: anyone holding SS and a stolen
//! token recovers the PIN offline (`e(A, SS) / e(token, Q) = e(A, Q)^PIN`),
//! so never cache PIN verifiers such as `e(A_d, SS)`; any SS holder can
//! compute the client's `K`, so client authentication rests on the key-share
//! proof, which is never optional here; revocation with permits lags by the
//! ±1 day tolerance (up to two days).

use crate::pairing::{DecodeError, RandomError};

pub mod classify;
pub mod full;
pub mod permit;
pub mod pin;
pub mod proof;

#[cfg(test)]
mod tests;

pub use classify::{Classification, classify};
pub use full::{SERVER_SHARE_BYTES, ServerNonceKey, ServerResponse, SharedSecret, respond};
pub use permit::{check_day, client_day, effective_point};
pub use pin::{Pin, PinDigits, PinError, extract_pin, restore};
pub use proof::{
    CheckedShare, ClientState, DEFAULT_TIME_WINDOW_SECS, FailedProof, PrecheckedShare,
    PreparedServerSecret, ReplayKey, SHARE_BYTES, ShareChecks, ShareHeader, VerifiedShare,
    check_share, precheck, verify, verify_checked,
};

/// Why a CS key share, a server share or a client's keys were refused.
///
/// Messages never contain secret values: [`FailedProof`] redacts its
/// pairing value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsError {
    /// The client key share is not exactly [`SHARE_BYTES`] bytes.
    #[error("CS key share must be exactly {expected} bytes, got {0}", expected = SHARE_BYTES)]
    ShareLength(usize),
    /// Permits are required in this deployment but the share claims day 0
    /// (no permit): a revoked client would otherwise escape revocation.
    #[error("this deployment requires time permits, but the key share claims none (day 0)")]
    PermitMissing,
    /// Permits are off in this deployment but the share claims a permit day.
    #[error("this deployment does not use time permits, but the key share claims day {0}")]
    PermitNotAllowed(u32),
    /// The share's permit day is not within one day of the server's today.
    #[error("key share permit day {day} is not within one day of today (day {today})")]
    DayOutOfRange {
        /// The day in the share.
        day: u32,
        /// The server's current day.
        today: u32,
    },
    /// The share's timestamp is outside the server's window.
    #[error("key share time {time} is more than {window} s away from now ({now})")]
    StaleTime {
        /// The client's unix time in the share.
        time: u64,
        /// The server's unix time.
        now: u64,
        /// The allowed distance in seconds.
        window: u64,
    },
    /// A point or scalar in a share does not decode (bad encoding, outside the
    /// prime-order subgroup, the identity point, or a scalar ≥ r).
    #[error("key share field {field}: {source}")]
    BadEncoding {
        /// The field (`U`, `X`, `c`, `z`, `V`, `R` or `W`).
        field: &'static str,
        /// The decoder's reason.
        #[source]
        source: DecodeError,
    },
    /// The Chaum–Pedersen proof that X and U share x (bound to this session)
    /// does not verify. Checked before any pairing; it reveals nothing about a
    /// PIN and must be charged to the source, never to the identity.
    #[error("the key share's proof of knowledge of x (DLEQ) does not verify")]
    DleqFailed,
    /// With permits off `A_d = A`, so an honest share has `X = U`; these
    /// differ. Refused in step 1, before any point is decoded.
    #[error("permits are off in this deployment, so the key share's X must equal U")]
    PermitsOffXNotU,
    /// The M-Pin proof `e(V,Q)·e(U + y·A_d, SS) == 1` does not hold: a wrong
    /// PIN, an invalid credential, or a key of another deployment. Carries
    /// what [`classify()`] needs (never printed).
    #[error("the client's M-Pin proof does not verify")]
    ProofFailed(Box<FailedProof>),
    /// The server's key share is not exactly [`SERVER_SHARE_BYTES`] bytes.
    #[error("CS server share must be exactly {expected} bytes, got {0}", expected = SERVER_SHARE_BYTES)]
    ServerShareLength(usize),
    /// Client side, permits required: no permit for the client's today.
    /// Nothing is sent.
    #[error("time permits are required and there is no permit for today (day {today}){}",
        match .permit_day { Some(d) => format!("; the permit is for day {d}"), None => String::new() })]
    NoPermitForToday {
        /// The client's current day.
        today: u32,
        /// The day of the permit that was supplied, if any.
        permit_day: Option<u32>,
    },
    /// Client side, permits off: a time permit was supplied anyway (a
    /// misconfiguration; the server would refuse the share).
    #[error("this deployment does not use time permits, but a permit was supplied")]
    UnexpectedPermit,
    /// Two keys that must belong together do not (different deployment or
    /// identity).
    #[error("the {what} belongs to another deployment or identity")]
    KeyMismatch {
        /// Which key did not match.
        what: &'static str,
    },
    /// A prechecked share was verified against a server whose permit policy
    /// differs from the one the precheck used.
    #[error("the share was prechecked under another permit policy than the server's")]
    PolicyMismatch,
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}
