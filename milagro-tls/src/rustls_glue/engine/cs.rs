//! The CS key exchange (M-Pin, over [`crate::mpin`]) behind the engine
//! traits.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{
    Binding, ClientKeyExchange, ClientPending, KeyFingerprint, KxError, KxFailure, Precomputed,
    ServerKeyExchange, random_fingerprint, secret32,
};
use crate::identity::Hid;
use crate::keys::{CsTimePermit, CsToken};
use crate::mpin::{
    CheckedShare, ClientState, CsError, Pin, PreparedServerSecret, SERVER_SHARE_BYTES, SHARE_BYTES,
    ServerNonceKey, ShareChecks, SharedSecret, check_share, precheck, respond, verify_checked,
};
use crate::pairing::OsEntropy;
use crate::suite::Suite;

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
        .map_err(|e| KxError::ClientKeyUnusable(e.into()))
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
        other => KxError::ClientKeyUnusable(other.into()),
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
    /// The decoding and DLEQ come from `precomputed` when it was made from
    /// exactly this share under this key's policy, and are done here
    /// otherwise; either way the result is the same.
    fn verified(
        &self,
        share: &[u8],
        precomputed: Option<Precomputed>,
    ) -> Result<crate::mpin::VerifiedShare, KxFailure> {
        let pre = precheck(share, &self.checks, (self.now)()).map_err(cs_server_error)?;
        let checked = match precomputed {
            Some(Precomputed::Cs {
                share: made_from,
                permits,
                checked,
            }) if *made_from == *pre.bytes() && permits == self.prepared.deployment().permits => {
                checked
            }
            _ => check_share(&pre, &self.prepared),
        };
        let checked: CheckedShare = checked.map_err(cs_server_error)?;
        verify_checked(checked, &self.prepared).map_err(cs_server_error)
    }
}

/// The share-only work of a CS server exchange on `share`
/// ([`check_share`]), for [`ServerKeyExchange::respond`] to take later.
pub(crate) fn precompute(
    share: &crate::mpin::PrecheckedShare,
    server: &PreparedServerSecret,
) -> Precomputed {
    Precomputed::Cs {
        share: Box::new(*share.bytes()),
        permits: server.deployment().permits,
        checked: check_share(share, server),
    }
}

/// Maps a server-side CS error; a failed proof keeps its evidence.
fn cs_server_error(e: CsError) -> KxFailure {
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
    fn respond(
        &self,
        client_share: &[u8],
        precomputed: Option<Precomputed>,
        proof_good: &mut dyn FnMut(),
    ) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), KxFailure> {
        let verified = self.verified(client_share, precomputed)?;
        proof_good();
        let response = respond(&verified, &self.prepared, &self.nonce_key, &OsEntropy)
            .map_err(cs_server_error)?;
        Ok((
            response.share.to_vec(),
            secret32(response.secret.as_bytes()),
        ))
    }
    /// The same decoding, DLEQ and pairing as a failed proof (not the key
    /// agreement's pairing, which a wrong PIN never reaches), then failure.
    fn refuse(&self, client_share: &[u8], precomputed: Option<Precomputed>) -> KxFailure {
        super::silent_failure(self.verified(client_share, precomputed).err())
    }
}
