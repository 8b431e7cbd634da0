//! The internal interface between the rustls glue and the suites' key
//! exchanges, and the two real engines behind it: [`cs`] (M-Pin Full over
//! [`crate::mpin`]) and [`p2p`] (Chow–Choo over [`crate::p2p`]). The glue
//! knows nothing about pairings.
//!
//! A suite plugs in by implementing `ClientKeyExchange` (+ `ClientPending`)
//! for its client key and `ServerKeyExchange` for its server key. Every
//! method works on wire bytes and returns a 32-byte shared secret that goes
//! unchanged into the TLS 1.3 key schedule.
//!
//! Fingerprints are random per key object (never derived from the secret):
//! equal keys built twice get two interned groups, which costs a registry
//! slot but never puts a hash of a secret into `Debug` output.

use core::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::identity::{Hid, Identity};
use crate::mpin::CsError;
use crate::p2p::P2pError;
use crate::suite::Suite;

mod cs;
mod p2p;
#[cfg(test)]
pub(crate) mod toy;

pub(crate) use cs::{CsClientKx, CsServerKx, precompute as cs_precompute};
pub(crate) use p2p::{P2pClientKx, P2pServerKx};

/// The system clock in unix seconds (0 before 1970, which no check accepts).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_fingerprint() -> Result<KeyFingerprint, KxError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|_| KxError::Randomness)?;
    Ok(KeyFingerprint(b))
}

fn secret32(bytes: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(*bytes)
}

/// Why a Milagro key exchange failed. The server keeps this typed reason
/// (rustls turns any kx error into an `illegal_parameter` alert); the accept
/// path recovers it by downcasting `rustls::Error::Other`.
///
/// Not `PartialEq`: [`KxError::ClientKeyUnusable`] carries the suite's own
/// error, and a CS error may hold a failed proof's secret pairing value,
/// which is never compared. Match on the variants instead.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KxError {
    /// A key share has the wrong length for its suite.
    #[error("key share is {actual} bytes long; the suite needs {expected}")]
    WrongShareLength {
        /// The suite's exact share length.
        expected: usize,
        /// What arrived.
        actual: usize,
    },
    /// A key share field is malformed (bad point, scalar out of range, …).
    #[error("malformed key share: {0}")]
    MalformedShare(&'static str),
    /// The share is well formed but the credential in it does not verify
    /// (wrong PIN, missing permit, forged token, wrong key, clock, replay …).
    #[error("the credential in the key share was refused")]
    CredentialRefused,
    /// The configuration owning this key has been dropped and the key wiped.
    #[error("the Milagro key for this group has been wiped (its configuration was dropped)")]
    KeyWiped,
    /// The group was used for the wrong side (a client group on a server or
    /// the reverse) or with TLS 1.2.
    #[error("Milagro key exchange used on the wrong side or protocol version")]
    WrongUse,
    /// The random number generator failed.
    #[error("random number generator failed")]
    Randomness,
    /// CS: the proof of knowledge of `x` (DLEQ) does not verify, or a point
    /// does not decode. Charged to the source only: it says nothing about a PIN.
    #[error("the key share's proof of knowledge (DLEQ) or encoding is invalid")]
    BadProofOfKnowledge,
    /// CS: the M-Pin proof does not verify (wrong PIN, invalid credential or
    /// another deployment's key); the failure is handed to the classifier.
    #[error("the client's M-Pin proof does not verify")]
    ProofFailed,
    /// The connection was refused silently (a per-identity refusal of the
    /// guard): the key exchange did its full work and was forced to fail.
    #[error(
        "refused silently (per-identity guard refusal); full work done, outcome forced to failure"
    )]
    SilentlyRefused,
    /// Server side: the key exchange ran outside the accept path's binding
    /// (docs/protocol.md §6.4 step 2): no share was prechecked for it, so it
    /// refuses before any work.
    #[error("the key share was not bound by the accept path; refused before any work")]
    UnboundShare,
    /// Server side: the share rustls handed the key exchange is not
    /// byte-identical to the one the accept path prechecked and bound (a
    /// parser difference between the accept path and rustls); refused before
    /// any work.
    #[error("the key share differs from the one the accept path checked; refused before any work")]
    ShareMismatch,
    /// Client side: the client's own key cannot be used now (no permit for
    /// today, a key of another deployment or identity, an expired epoch …).
    /// Nothing was sent.
    /// Shows the suite's reason (which `MilagroError::KeyUnusable` already
    /// introduces) and forwards its `source()`, so nothing is said twice.
    #[error(transparent)]
    ClientKeyUnusable(ClientKeyError),
    /// Client side: the client's P2P key is for an epoch a server would
    /// refuse by the client's own clock: neither the current epoch nor the
    /// one before (docs/protocol.md §7.2). Nothing was sent.
    #[error(
        "the P2P key is for epoch {key_epoch}, but by this machine's clock the current epoch is {now_epoch}: only keys for epoch {now_epoch} or {} are usable (get a key for the current epoch, or check the clock)",
        .now_epoch.saturating_sub(1)
    )]
    KeyEpochNotCurrent {
        /// The key's epoch.
        key_epoch: u32,
        /// The current epoch by the client's clock (less the skew allowance).
        now_epoch: u32,
    },
}

/// Why the client's own key cannot be used
/// ([`KxError::ClientKeyUnusable`]): the suite's typed reason.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientKeyError {
    /// The CS token or time permit (e.g. [`CsError::NoPermitForToday`],
    /// [`CsError::KeyMismatch`]). Shared, as a CS error is not `Clone`.
    #[error(transparent)]
    Cs(Arc<CsError>),
    /// The P2P key (e.g. [`P2pError::DeploymentMismatch`]).
    #[error(transparent)]
    P2p(P2pError),
}

impl From<CsError> for ClientKeyError {
    fn from(e: CsError) -> Self {
        Self::Cs(Arc::new(e))
    }
}

impl From<P2pError> for ClientKeyError {
    fn from(e: P2pError) -> Self {
        Self::P2p(e)
    }
}

/// A server-side key-exchange failure with, for a failed CS proof, what the
/// classifier needs (travels to the accept path inside `rustls::Error::Other`).
pub(crate) struct KxFailure {
    pub(crate) reason: KxError,
    pub(crate) evidence: Option<Box<crate::mpin::FailedProof>>,
}

impl From<KxError> for KxFailure {
    fn from(reason: KxError) -> Self {
        Self {
            reason,
            evidence: None,
        }
    }
}

/// A public, collision-resistant fingerprint of a long-term key (never the
/// key itself): the key under which its `&'static` kx group is interned.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyFingerprint(pub(crate) [u8; 32]);

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({})", hex::encode(self.0))
    }
}

/// A client's long-term key, able to start key exchanges.
pub(crate) trait ClientKeyExchange: Send + Sync {
    /// The suite this key belongs to (chooses the TLS group).
    fn suite(&self) -> Suite;
    /// The key's fingerprint (see [`KeyFingerprint`]).
    fn fingerprint(&self) -> KeyFingerprint;
    /// Makes a fresh client key share (with CS, including the one-pass proof)
    /// and the state needed to finish. Fails before anything is sent when the
    /// client can tell the credential is unusable (no permit for today, …).
    fn start(&self) -> Result<(Vec<u8>, Box<dyn ClientPending>), KxError>;
}

/// A started client key exchange, waiting for the server's share.
pub(crate) trait ClientPending: Send + Sync {
    /// Derives the 32-byte shared secret from the server's share (exact
    /// length; malformed shares are errors).
    fn finish(self: Box<Self>, server_share: &[u8]) -> Result<Zeroizing<[u8; 32]>, KxError>;
}

/// A server's long-term key, able to answer client key shares.
pub(crate) trait ServerKeyExchange: Send + Sync {
    /// The suite this key belongs to.
    fn suite(&self) -> Suite;
    /// The key's fingerprint (see [`KeyFingerprint`]).
    fn fingerprint(&self) -> KeyFingerprint;
    /// Cheap parse of a client share, without decoding any point: the
    /// identity binding (HID and day/epoch) that the client's Certificate must
    /// match. Exact length.
    fn binding(&self, client_share: &[u8]) -> Result<Binding, KxError>;
    /// Verifies the client share and answers it: (server share, secret).
    /// A suite whose share carries a proof (CS) calls `proof_good` once,
    /// as soon as the proof has verified and before the key agreement's own
    /// work, so the accept path can start recording the good proof while
    /// that work runs; never for a share that fails its proof.
    ///
    /// `precomputed` is share-only work done ahead ([`Precomputed`]); a suite
    /// uses it only when it was made from exactly `client_share`, and
    /// otherwise does that work itself.
    fn respond(
        &self,
        client_share: &[u8],
        precomputed: Option<Precomputed>,
        proof_good: &mut dyn FnMut(),
    ) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), KxFailure>;
    /// Silent refusal (docs/protocol.md §6.4 step 1): does the work of
    /// checking `client_share` (decoding, DLEQ, pairing) and fails whatever
    /// the result, with [`KxError::SilentlyRefused`]. A failed proof keeps
    /// its evidence, so the accept path can spend the same classification
    /// work on it as on a counted failure (and discard the result).
    fn refuse(&self, client_share: &[u8], precomputed: Option<Precomputed>) -> KxFailure {
        silent_failure(self.respond(client_share, precomputed, &mut || {}).err())
    }
}

/// Share-only work of a server key exchange, done before the exchange runs
/// (while step 1's store calls are in flight: docs/protocol.md §6.4,
/// "Overlapping step 1"). It holds no secret and decides nothing: the
/// exchange takes its result as its own only for the exact share bytes and
/// permit policy it was made from.
pub(crate) enum Precomputed {
    /// CS: the decoding, DLEQ check and `U + y·A_d` of one share
    /// ([`crate::mpin::check_share`]), or how they failed.
    Cs {
        share: Box<[u8; crate::mpin::SHARE_BYTES]>,
        permits: crate::keys::PermitPolicy,
        checked: Result<crate::mpin::CheckedShare, CsError>,
    },
}

/// The failure of a silent refusal whose checks ended in `checked`: always
/// [`KxError::SilentlyRefused`], with the evidence of a failed proof if any.
pub(crate) fn silent_failure(checked: Option<KxFailure>) -> KxFailure {
    KxFailure {
        reason: KxError::SilentlyRefused,
        evidence: checked.and_then(|f| f.evidence),
    }
}

/// What a client key share proves about the client's identity: its hashed
/// identity and the period (CS day `d`, P2P epoch) the hash was taken with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    suite: Suite,
    hid: Hid,
    period: u32,
}

impl Binding {
    /// A binding for `suite` with the share's HID and period.
    pub fn new(suite: Suite, hid: Hid, period: u32) -> Self {
        Self { suite, hid, period }
    }

    /// The suite of the share.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The hashed identity carried by the share.
    pub fn hid(&self) -> Hid {
        self.hid
    }

    /// The day (CS) or epoch (P2P) carried by the share.
    pub fn period(&self) -> u32 {
        self.period
    }

    /// Whether `identity` hashes to this binding's HID: CS `SHA-256(ID)`,
    /// P2P `SHA-256(ID ‖ be32 epoch)`.
    pub fn matches(&self, identity: &Identity) -> bool {
        let hid = match self.suite {
            Suite::Cs => identity.cs_hid(),
            Suite::P2p => identity.p2p_hid(self.period),
        };
        // HIDs are public pseudonyms; constant time costs nothing anyway.
        bool::from(subtle::ConstantTimeEq::ct_eq(
            &hid.as_bytes()[..],
            &self.hid.as_bytes()[..],
        ))
    }
}
