//! The P2P key exchange (Chow–Choo, over [`crate::p2p`]) behind the engine
//! traits.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{
    Binding, ClientKeyExchange, ClientPending, KeyFingerprint, KxError, KxFailure,
    ServerKeyExchange, random_fingerprint,
};
use crate::keys::client_epoch_with_skew;
use crate::p2p::{
    CLIENT_SHARE_BYTES, P2pClient, P2pClientHandshake, P2pError, P2pServer,
    SERVER_SHARE_BYTES as P2P_SERVER_SHARE_BYTES,
};
use crate::pairing::OsEntropy;
use crate::suite::Suite;

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
        let now_epoch = client_epoch_with_skew((self.now)(), secs, self.skew_secs);
        self.client.check_epoch(now_epoch).map_err(|e| match e {
            P2pError::ClientKeyEpoch {
                key_epoch,
                now_epoch,
            } => KxError::KeyEpochNotCurrent {
                key_epoch,
                now_epoch,
            },
            other => KxError::ClientKeyUnusable(other.into()),
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
        other => KxError::ClientKeyUnusable(other.into()),
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
    /// A P2P share carries no proof: `proof_good` is never called.
    fn respond(
        &self,
        client_share: &[u8],
        _precomputed: Option<super::Precomputed>,
        _proof_good: &mut dyn FnMut(),
    ) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), KxFailure> {
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
