//! The real key exchanges behind the engine traits of [`super::engine`]:
//! CS (M-Pin, over [`crate::mpin`]) and P2P (Chow–Choo, over [`crate::p2p`]).
//!
//! Fingerprints are random per key object (never derived from the secret):
//! equal keys built twice get two interned groups, which costs a registry
//! slot but never puts a hash of a secret into `Debug` output.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::engine::{
    Binding, ClientKeyExchange, ClientPending, KeyFingerprint, KxError, KxFailure,
    ServerKeyExchange,
};
use crate::identity::Hid;
use crate::keys::{CsTimePermit, CsToken, Suite, epoch_of};
use crate::mpin::{
    ClientState, CsError, PreparedServerSecret, SERVER_SHARE_BYTES, SHARE_BYTES, ServerNonceKey,
    ShareChecks, precheck, respond, verify,
};
use crate::mpin::{Pin, SharedSecret};
use crate::p2p::{
    CLIENT_SHARE_BYTES, P2pClient, P2pClientHandshake, P2pError, P2pServer,
    SERVER_SHARE_BYTES as P2P_SERVER_SHARE_BYTES,
};
use crate::pairing::OsEntropy;

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

// ---------------------------------------------------------------------------
// CS
// ---------------------------------------------------------------------------

/// A CS client key: token, PIN and (permits required) today's permit.
pub(crate) struct CsClientKx {
    token: CsToken,
    pin: Pin,
    permit: Option<CsTimePermit>,
    fingerprint: KeyFingerprint,
    now: fn() -> u64,
}

impl CsClientKx {
    pub(crate) fn new(
        token: CsToken,
        pin: Pin,
        permit: Option<CsTimePermit>,
        now: fn() -> u64,
    ) -> Result<Self, KxError> {
        Ok(Self {
            token,
            pin,
            permit,
            fingerprint: random_fingerprint()?,
            now,
        })
    }

    /// The checks the client can make itself, at `now` (permit for today,
    /// deployment and identity of the permit).
    pub(crate) fn check(&self) -> Result<u32, KxError> {
        crate::mpin::client_day(
            self.token.deployment(),
            self.token.identity(),
            self.permit.as_ref(),
            (self.now)(),
        )
        .map_err(|e| KxError::ClientKeyUnusable(e.to_string()))
    }
}

fn cs_client_error(e: CsError) -> KxError {
    match e {
        CsError::Random(_) => KxError::Randomness,
        CsError::ServerShareLength(actual) => KxError::WrongShareLength {
            expected: SERVER_SHARE_BYTES,
            actual,
        },
        CsError::BadEncoding { field, .. } => KxError::MalformedShare(field),
        other => KxError::ClientKeyUnusable(other.to_string()),
    }
}

impl ClientKeyExchange for CsClientKx {
    fn suite(&self) -> Suite {
        Suite::Cs
    }
    fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }
    fn start(&self) -> Result<(Vec<u8>, Box<dyn ClientPending>), KxError> {
        let state = ClientState::new(
            &self.token,
            &self.pin,
            self.permit.as_ref(),
            (self.now)(),
            &OsEntropy,
        )
        .map_err(cs_client_error)?;
        Ok((state.share().to_vec(), Box::new(CsPending(state))))
    }
}

struct CsPending(ClientState);

impl ClientPending for CsPending {
    fn finish(self: Box<Self>, server_share: &[u8]) -> Result<Zeroizing<[u8; 32]>, KxError> {
        let secret: SharedSecret = self.0.finish(server_share).map_err(cs_client_error)?;
        Ok(secret32(secret.as_bytes()))
    }
}

/// The CS server key: the prepared server secret and the nonce key for `w`.
pub(crate) struct CsServerKx {
    pub(crate) prepared: Arc<PreparedServerSecret>,
    nonce_key: ServerNonceKey,
    pub(crate) checks: ShareChecks,
    fingerprint: KeyFingerprint,
    pub(crate) now: fn() -> u64,
}

impl CsServerKx {
    pub(crate) fn new(
        prepared: Arc<PreparedServerSecret>,
        checks: ShareChecks,
        now: fn() -> u64,
    ) -> Result<Self, KxError> {
        Ok(Self {
            prepared,
            nonce_key: ServerNonceKey::generate(&OsEntropy).map_err(|_| KxError::Randomness)?,
            checks,
            fingerprint: random_fingerprint()?,
            now,
        })
    }

    /// Decoding, DLEQ and the pairing check; the evidence of a failed proof.
    fn verified(&self, share: &[u8]) -> Result<crate::mpin::VerifiedShare, KxFailure> {
        let pre = precheck(share, &self.checks, (self.now)()).map_err(cs_server_error)?;
        verify(&pre, &self.prepared).map_err(cs_server_error)
    }
}

/// Maps a server-side CS error; a failed proof keeps its evidence.
pub(crate) fn cs_server_error(e: CsError) -> KxFailure {
    match e {
        CsError::ShareLength(actual) => KxError::WrongShareLength {
            expected: SHARE_BYTES,
            actual,
        }
        .into(),
        CsError::BadEncoding { .. } | CsError::DleqFailed => KxError::BadProofOfKnowledge.into(),
        CsError::ProofFailed(failed) => KxFailure {
            reason: KxError::ProofFailed,
            evidence: Some(failed),
        },
        CsError::Random(_) => KxError::Randomness.into(),
        _ => KxError::CredentialRefused.into(),
    }
}

impl ServerKeyExchange for CsServerKx {
    fn suite(&self) -> Suite {
        Suite::Cs
    }
    fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }
    /// `HID` (bytes 0..32) and `d` (32..36) of an exactly 300-byte share.
    fn binding(&self, client_share: &[u8]) -> Result<Binding, KxError> {
        let share: &[u8; SHARE_BYTES] =
            client_share
                .try_into()
                .map_err(|_| KxError::WrongShareLength {
                    expected: SHARE_BYTES,
                    actual: client_share.len(),
                })?;
        let (hid, rest) = share.split_first_chunk::<32>().ok_or(KxError::WrongUse)?;
        let (day, _) = rest.split_first_chunk::<4>().ok_or(KxError::WrongUse)?;
        Ok(Binding::new(Suite::Cs, Hid(*hid), u32::from_be_bytes(*day)))
    }
    fn respond(&self, client_share: &[u8]) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), KxFailure> {
        let verified = self.verified(client_share)?;
        let response = respond(&verified, &self.prepared, &self.nonce_key, &OsEntropy)
            .map_err(cs_server_error)?;
        Ok((
            response.share.to_vec(),
            secret32(response.secret.as_bytes()),
        ))
    }
    /// The same decoding, DLEQ and pairing as a failed proof (not the key
    /// agreement's pairing, which a wrong PIN never reaches), then failure.
    fn refuse(&self, client_share: &[u8]) -> KxFailure {
        super::engine::silent_failure(self.verified(client_share).err())
    }
}

// ---------------------------------------------------------------------------
// P2P
// ---------------------------------------------------------------------------

/// The P2P client key (D_B prepared) and the server identity it talks to.
pub(crate) struct P2pClientKx {
    pub(crate) client: Arc<P2pClient>,
    fingerprint: KeyFingerprint,
    /// The clock-skew allowance for the epoch choice (protocol §7.2).
    skew_secs: u64,
    now: fn() -> u64,
}

impl P2pClientKx {
    pub(crate) fn new(
        client: P2pClient,
        skew_secs: u64,
        now: fn() -> u64,
    ) -> Result<Self, KxError> {
        Ok(Self {
            client: Arc::new(client),
            fingerprint: random_fingerprint()?,
            skew_secs,
            now,
        })
    }

    /// Checks the key's epoch against the client's clock (before anything is
    /// sent): it must be `epoch_of(now − skew)` or the one before.
    pub(crate) fn check(&self) -> Result<(), KxError> {
        let secs = self.client.deployment().epoch_seconds;
        let skew = self.skew_secs.min(u64::from(secs / 2));
        let now_epoch = epoch_of((self.now)().saturating_sub(skew), secs);
        self.client.check_epoch(now_epoch).map_err(|e| match e {
            P2pError::ClientKeyEpoch {
                key_epoch,
                now_epoch,
            } => KxError::KeyEpochNotCurrent {
                key_epoch,
                now_epoch,
            },
            other => KxError::ClientKeyUnusable(other.to_string()),
        })
    }
}

fn p2p_error(e: P2pError) -> KxError {
    match e {
        P2pError::ClientShareLength { got } => KxError::WrongShareLength {
            expected: CLIENT_SHARE_BYTES,
            actual: got,
        },
        P2pError::ServerShareLength { got } => KxError::WrongShareLength {
            expected: P2P_SERVER_SHARE_BYTES,
            actual: got,
        },
        P2pError::InvalidPoint { .. } => KxError::MalformedShare("P2P point"),
        P2pError::Random(_) => KxError::Randomness,
        P2pError::EpochNotAccepted { .. } | P2pError::EpochOutsideClock { .. } => {
            KxError::CredentialRefused
        }
        other => KxError::ClientKeyUnusable(other.to_string()),
    }
}

impl ClientKeyExchange for P2pClientKx {
    fn suite(&self) -> Suite {
        Suite::P2p
    }
    fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }
    fn start(&self) -> Result<(Vec<u8>, Box<dyn ClientPending>), KxError> {
        self.check()?;
        let hs = self.client.start(&OsEntropy).map_err(p2p_error)?;
        Ok((
            hs.share().to_vec(),
            Box::new(P2pPending {
                client: self.client.clone(),
                hs,
            }),
        ))
    }
}

struct P2pPending {
    client: Arc<P2pClient>,
    hs: P2pClientHandshake,
}

impl ClientPending for P2pPending {
    fn finish(self: Box<Self>, server_share: &[u8]) -> Result<Zeroizing<[u8; 32]>, KxError> {
        let secret = self
            .hs
            .finish(&self.client, server_share)
            .map_err(p2p_error)?;
        Ok(secret.into_bytes())
    }
}

/// The P2P server key(s): current and optionally previous epoch, and the
/// server's clock (unix seconds) that decides which epochs are accepted.
pub(crate) struct P2pServerKx {
    pub(crate) server: Arc<P2pServer>,
    fingerprint: KeyFingerprint,
    pub(crate) now: fn() -> u64,
}

impl P2pServerKx {
    pub(crate) fn new(server: P2pServer, now: fn() -> u64) -> Result<Self, KxError> {
        Ok(Self {
            server: Arc::new(server),
            fingerprint: random_fingerprint()?,
            now,
        })
    }
}

impl ServerKeyExchange for P2pServerKx {
    fn suite(&self) -> Suite {
        Suite::P2p
    }
    fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }
    fn binding(&self, client_share: &[u8]) -> Result<Binding, KxError> {
        let h = self
            .server
            .check_client_share(client_share)
            .map_err(p2p_error)?;
        Ok(Binding::new(Suite::P2p, h.hid_b, h.epoch))
    }
    /// The clock check of step 1 again (as the CS kx re-runs its precheck):
    /// a path that skipped step 1 still never answers an expired epoch.
    fn respond(&self, client_share: &[u8]) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), KxFailure> {
        self.server
            .check_client_share_at(client_share, (self.now)())
            .map_err(p2p_error)?;
        let r = self
            .server
            .accept(client_share, &OsEntropy)
            .map_err(p2p_error)?;
        let (share, secret) = r.into_parts();
        Ok((share.to_vec(), secret.into_bytes()))
    }
}
