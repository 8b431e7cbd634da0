//! The P2P server side (identity A): its keys for the current and the
//! previous epoch, the checks on a client share, and the answer `Pa`.

use core::fmt;

use zeroize::Zeroizing;

use super::epoch::{check_server_epochs, epoch_accepted_at};
use super::secret::{challenges, derive_secret, fresh_bytes};
use super::share::{
    CLIENT_SHARE_BYTES, P2pClientShare, P2pShareHeader, RawClientShare, SERVER_SHARE_BYTES,
    split_client_share,
};
use super::{P2pError, P2pSharedSecret, ShareField};
use crate::identity::{Hid, Identity};
use crate::keys::{P2pDeployment, P2pServerKey};
use crate::pairing::{EntropySource, G1, G2, Gt, Scalar, ScalarDomain, pairing};
use crate::points::{p2p_client_point, p2p_server_point};

/// One epoch's server key with its public hashes precomputed.
pub(super) struct ServerEpochKey {
    key: P2pServerKey,
    hid_a: Hid,
    h1_a: G1,
}

impl ServerEpochKey {
    fn new(key: P2pServerKey) -> Self {
        let hid_a = key.identity.p2p_hid(key.epoch);
        let h1_a = p2p_server_point(&hid_a);
        Self { key, hid_a, h1_a }
    }
}

/// The P2P server side (identity A): its keys `D_A` for the current epoch and
/// optionally the previous one. Only shares for those two epochs are accepted.
pub struct P2pServer {
    current: ServerEpochKey,
    previous: Option<ServerEpochKey>,
}

impl fmt::Debug for P2pServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2pServer")
            .field("current", &self.current.key)
            .field("previous", &self.previous.as_ref().map(|k| &k.key))
            .finish()
    }
}

/// The server's result: its share `Pa` to send, the shared secret, and the
/// client's `HID_B` and epoch to bind the client's identity to.
#[derive(Debug)]
pub struct P2pServerResponse {
    share: [u8; SERVER_SHARE_BYTES],
    secret: P2pSharedSecret,
    header: P2pShareHeader,
}

impl P2pServerResponse {
    /// The server share `Pa` (48 B) to send to the client.
    pub fn share(&self) -> &[u8; SERVER_SHARE_BYTES] {
        &self.share
    }
    /// The shared secret.
    pub fn secret(&self) -> &P2pSharedSecret {
        &self.secret
    }
    /// The client's hashed identity, as read from its share.
    pub fn hid_b(&self) -> Hid {
        self.header.hid_b
    }
    /// The epoch of the client's share (and of the server key used).
    pub fn epoch(&self) -> u32 {
        self.header.epoch
    }
    /// Splits the response into the share to send and the secret.
    pub fn into_parts(self) -> ([u8; SERVER_SHARE_BYTES], P2pSharedSecret) {
        (self.share, self.secret)
    }
}

/// What the server computes from the share and its nonce `x` (private; tests
/// check each value against the textbook forms).
pub(super) struct ServerValues {
    pub(super) pa: [u8; SERVER_SHARE_BYTES],
    pub(super) k: Gt,
    pub(super) z: G1,
}

pub(super) fn server_values(
    ek: &ServerEpochKey,
    share: &P2pClientShare,
    x: &Scalar,
) -> ServerValues {
    let pa = (&ek.h1_a * x).to_bytes();
    let (pia, pib) = challenges(
        &pa,
        &share.pb_bytes,
        &share.pg_bytes,
        &ek.hid_a,
        &share.header.hid_b,
    );
    let h2_b = p2p_client_point(&share.header.hid_b);
    let p1 = &ek.key.point * &(x + &pia);
    // e(pib·P1, H2(ID_B))·e(P1, Pb) = e(P1, pib·H2(ID_B) + Pb): the exponent
    // moves to the public G2 side, leaving one Miller loop instead of two
    // (and no G1 product by pib).
    let q = &(&h2_b * &pib) + &share.pb;
    let k = pairing(&p1, &q);
    let z = &share.pg * x;
    ServerValues { pa, k, z }
}

impl P2pServer {
    /// A server with its current key and, optionally, the previous epoch's key.
    ///
    /// Fails if the two keys differ in deployment ([`P2pError::DeploymentMismatch`],
    /// [`P2pError::DeploymentParametersDiffer`]) or identity
    /// ([`P2pError::ServerIdentityMismatch`]), or if the previous key is not
    /// for the epoch just before the current one
    /// ([`P2pError::PreviousEpochNotAdjacent`]).
    pub fn new(current: P2pServerKey, previous: Option<P2pServerKey>) -> Result<Self, P2pError> {
        if let Some(prev) = &previous {
            check_same_deployment(&current.deployment, &prev.deployment)?;
            if current.identity != prev.identity {
                return Err(P2pError::ServerIdentityMismatch {
                    current: current.identity.clone(),
                    previous: prev.identity.clone(),
                });
            }
            if prev.epoch.checked_add(1) != Some(current.epoch) {
                return Err(P2pError::PreviousEpochNotAdjacent {
                    current: current.epoch,
                    previous: prev.epoch,
                });
            }
        }
        Ok(Self {
            current: ServerEpochKey::new(current),
            previous: previous.map(ServerEpochKey::new),
        })
    }

    /// The server's identity `ID_A`.
    pub fn identity(&self) -> &Identity {
        &self.current.key.identity
    }

    /// The deployment the keys belong to.
    pub fn deployment(&self) -> &P2pDeployment {
        &self.current.key.deployment
    }

    /// The current key's epoch.
    pub fn current_epoch(&self) -> u32 {
        self.current.key.epoch
    }

    /// The previous key's epoch, if the server holds one.
    pub fn previous_epoch(&self) -> Option<u32> {
        self.previous.as_ref().map(|k| k.key.epoch)
    }

    pub(super) fn key_for(&self, epoch: u32) -> Result<&ServerEpochKey, P2pError> {
        if epoch == self.current.key.epoch {
            return Ok(&self.current);
        }
        match &self.previous {
            Some(prev) if prev.key.epoch == epoch => Ok(prev),
            _ => Err(P2pError::EpochNotAccepted {
                got: epoch,
                current: self.current_epoch(),
                previous: self.previous_epoch(),
            }),
        }
    }

    /// The cheap checks on a client share, without decoding any point and
    /// without a clock: exact length ([`P2pError::ClientShareLength`]) and an
    /// epoch this server holds a key for ([`P2pError::EpochNotAccepted`]).
    /// Returns the epoch and `HID_B`. A server on the network must use
    /// [`P2pServer::check_client_share_at`], which also checks the epoch
    /// against its clock.
    pub fn check_client_share(&self, bytes: &[u8]) -> Result<P2pShareHeader, P2pError> {
        let header = split_client_share(bytes)?.header;
        self.key_for(header.epoch)?;
        Ok(header)
    }

    /// The step-1 checks of docs/protocol.md §7.4 at unix time `now_secs`
    /// (the server's clock), in this order: exact length
    /// ([`P2pError::ClientShareLength`]); the share's epoch is the current
    /// epoch `epoch_of(now_secs)` or the one before
    /// ([`P2pError::EpochOutsideClock`], whatever keys the server holds);
    /// the server holds a key for it ([`P2pError::EpochNotAccepted`]).
    /// Decodes no point. Returns the epoch and `HID_B`.
    pub fn check_client_share_at(
        &self,
        bytes: &[u8],
        now_secs: u64,
    ) -> Result<P2pShareHeader, P2pError> {
        let header = split_client_share(bytes)?.header;
        let now_epoch = self.epoch_at(now_secs);
        if !epoch_accepted_at(header.epoch, now_epoch) {
            return Err(P2pError::EpochOutsideClock {
                got: header.epoch,
                now_epoch,
            });
        }
        self.key_for(header.epoch)?;
        Ok(header)
    }

    /// The epoch of unix time `now_secs` in this server's deployment.
    pub fn epoch_at(&self, now_secs: u64) -> u32 {
        crate::keys::epoch_of(now_secs, self.deployment().epoch_seconds)
    }

    /// Whether this server can accept any client at unix time `now_secs`: at
    /// least one of its keys is for the current epoch or the one before
    /// (docs/protocol.md §5.6). Fails with [`P2pError::ServerKeysNotCurrent`]
    /// otherwise (keys that expired, or are all for future epochs).
    pub fn check_keys_at(&self, now_secs: u64) -> Result<(), P2pError> {
        check_server_epochs(
            self.current_epoch(),
            self.previous_epoch(),
            self.epoch_at(now_secs),
        )
    }

    /// Decodes a client share: the checks of [`P2pServer::check_client_share`],
    /// then `Pg` and `Pb` (subgroup checked, identity refused:
    /// [`P2pError::InvalidPoint`]).
    pub fn decode_client_share(&self, bytes: &[u8]) -> Result<P2pClientShare, P2pError> {
        let header = self.check_client_share(bytes)?;
        let RawClientShare {
            pg: pg_bytes,
            pb: pb_bytes,
            ..
        } = split_client_share(bytes)?;
        let pg = G1::from_bytes(pg_bytes).map_err(|source| P2pError::InvalidPoint {
            field: ShareField::Pg,
            source,
        })?;
        let pb = G2::from_bytes(pb_bytes).map_err(|source| P2pError::InvalidPoint {
            field: ShareField::Pb,
            source,
        })?;
        let bytes: [u8; CLIENT_SHARE_BYTES] = bytes
            .try_into()
            .map_err(|_| P2pError::ClientShareLength { got: bytes.len() })?;
        Ok(P2pClientShare {
            bytes,
            header,
            pg_bytes: *pg_bytes,
            pb_bytes: *pb_bytes,
            pg,
            pb,
        })
    }

    /// Answers a decoded client share with fresh randomness from `rng`: the
    /// server share `Pa` and the shared secret. Fails only if the RNG fails or
    /// the share's epoch is not one of this server's ([`P2pError::EpochNotAccepted`],
    /// possible only for a share decoded by another server).
    pub fn respond(
        &self,
        share: &P2pClientShare,
        rng: &dyn EntropySource,
    ) -> Result<P2pServerResponse, P2pError> {
        let fresh = fresh_bytes(rng)?;
        self.respond_with_fresh(share, &fresh)
    }

    /// [`P2pServer::respond`] with the 32 fresh bytes of the hedged nonce `x`
    /// given explicitly (known-answer vectors). Never reuse `fresh`.
    pub fn respond_with_fresh(
        &self,
        share: &P2pClientShare,
        fresh: &[u8; 32],
    ) -> Result<P2pServerResponse, P2pError> {
        let ek = self.key_for(share.header.epoch)?;
        let x = server_nonce(ek, share, fresh);
        let v = server_values(ek, share, &x);
        let secret = derive_secret(
            &ek.hid_a,
            &share.header.hid_b,
            &v.k,
            &v.z,
            &share.bytes,
            &v.pa,
        );
        Ok(P2pServerResponse {
            share: v.pa,
            secret,
            header: share.header,
        })
    }

    /// Decodes `client_share` and answers it ([`P2pServer::decode_client_share`]
    /// then [`P2pServer::respond`]).
    pub fn accept(
        &self,
        client_share: &[u8],
        rng: &dyn EntropySource,
    ) -> Result<P2pServerResponse, P2pError> {
        let share = self.decode_client_share(client_share)?;
        self.respond(&share, rng)
    }
}

/// `x = Hq_p2p-nonce(D_A ‖ be32 epoch ‖ HID_A ‖ HID_B ‖ client share ‖ fresh ‖ "x")`.
pub(super) fn server_nonce(
    ek: &ServerEpochKey,
    share: &P2pClientShare,
    fresh: &[u8; 32],
) -> Scalar {
    let own = Zeroizing::new(ek.key.point.to_bytes());
    Scalar::hash(
        ScalarDomain::P2pNonce,
        &[
            own.as_slice(),
            &ek.key.epoch.to_be_bytes(),
            ek.hid_a.as_bytes(),
            share.header.hid_b.as_bytes(),
            &share.bytes,
            fresh,
            b"x",
        ],
    )
}

fn check_same_deployment(expected: &P2pDeployment, got: &P2pDeployment) -> Result<(), P2pError> {
    if expected.id != got.id {
        return Err(P2pError::DeploymentMismatch {
            expected: expected.id,
            got: got.id,
        });
    }
    if expected != got {
        return Err(P2pError::DeploymentParametersDiffer(expected.id));
    }
    Ok(())
}
