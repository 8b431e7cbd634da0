//! The P2P client side (identity B): its key for one epoch, the precomputed
//! `(y, Pb)`, the client share, and the shared secret from the server's `Pa`.

use core::fmt;

use zeroize::Zeroizing;

use super::epoch::epoch_accepted_at;
use super::secret::{challenges, derive_secret, fresh_bytes};
use super::share::{CLIENT_SHARE_BYTES, EPOCH_END, HID_END, PG_END, SERVER_SHARE_BYTES};
use super::{P2pError, P2pSharedSecret, ShareField};
use crate::identity::{Hid, Identity};
use crate::keys::{DeploymentId, P2pClientKey, P2pDeployment};
use crate::pairing::{
    EntropySource, G1, G1_BYTES, G2, G2_BYTES, G2Prepared, Gt, Scalar, ScalarDomain, multi_pairing,
};
use crate::points::{p2p_client_point, p2p_server_point};

/// The P2P client side (identity B): its key `D_B` for one epoch (prepared
/// once for the pairing) and the server identity `ID_A` it talks to.
pub struct P2pClient {
    key: P2pClientKey,
    d_b: G2Prepared,
    server: Identity,
    hid_a: Hid,
    hid_b: Hid,
    h1_a: G1,
    h2_b: G2,
}

impl fmt::Debug for P2pClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2pClient")
            .field("key", &self.key)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// A precomputed `(y, Pb)` for one client key and epoch. Used once: starting
/// a handshake consumes it. `y` is zeroized on drop.
pub struct P2pPrecomputed {
    epoch: u32,
    hid_b: Hid,
    y: Scalar,
    pub(super) pb: [u8; G2_BYTES],
}

impl fmt::Debug for P2pPrecomputed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2pPrecomputed")
            .field("epoch", &self.epoch)
            .field("hid_b", &self.hid_b)
            .finish_non_exhaustive()
    }
}

/// A started client handshake: the share to send and the nonces `w`, `y`
/// (zeroized on drop) waiting for the server share.
pub struct P2pClientHandshake {
    share: [u8; CLIENT_SHARE_BYTES],
    pg: [u8; G1_BYTES],
    pb: [u8; G2_BYTES],
    hid_a: Hid,
    hid_b: Hid,
    pub(super) w: Scalar,
    pub(super) y: Scalar,
}

impl fmt::Debug for P2pClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2pClientHandshake")
            .field("hid_a", &self.hid_a)
            .field("hid_b", &self.hid_b)
            .finish_non_exhaustive()
    }
}

impl P2pClient {
    /// A client with key `key`, talking to the server identity
    /// `server_identity`. When the server's deployment id is known
    /// (`server_deployment`), the key must belong to it
    /// ([`P2pError::DeploymentMismatch`]). Hashes both identities for the key's
    /// epoch and prepares `D_B` (≈2 ms of hashing and preparation, once per key).
    pub fn new(
        key: P2pClientKey,
        server_identity: Identity,
        server_deployment: Option<DeploymentId>,
    ) -> Result<Self, P2pError> {
        if let Some(expected) = server_deployment {
            if expected != key.deployment.id {
                return Err(P2pError::DeploymentMismatch {
                    expected,
                    got: key.deployment.id,
                });
            }
        }
        let hid_a = server_identity.p2p_hid(key.epoch);
        let hid_b = key.identity.p2p_hid(key.epoch);
        let h1_a = p2p_server_point(&hid_a);
        let h2_b = p2p_client_point(&hid_b);
        let d_b = key.point.prepare();
        Ok(Self {
            key,
            d_b,
            server: server_identity,
            hid_a,
            hid_b,
            h1_a,
            h2_b,
        })
    }

    /// The key's epoch (the one the client share carries).
    pub fn epoch(&self) -> u32 {
        self.key.epoch
    }

    /// The client's identity `ID_B`.
    pub fn identity(&self) -> &Identity {
        &self.key.identity
    }

    /// The configured server identity `ID_A`.
    pub fn server_identity(&self) -> &Identity {
        &self.server
    }

    /// The key's deployment.
    pub fn deployment(&self) -> &P2pDeployment {
        &self.key.deployment
    }

    /// The client's `HID_B` for the key's epoch.
    pub fn hid_b(&self) -> Hid {
        self.hid_b
    }

    /// Checks, before anything is sent, that a server whose current epoch is
    /// `now_epoch` accepts this key: the key's epoch must be `now_epoch` or the
    /// one before ([`P2pError::ClientKeyEpoch`] otherwise).
    pub fn check_epoch(&self, now_epoch: u32) -> Result<(), P2pError> {
        let e = self.key.epoch;
        if epoch_accepted_at(e, now_epoch) {
            Ok(())
        } else {
            Err(P2pError::ClientKeyEpoch {
                key_epoch: e,
                now_epoch,
            })
        }
    }

    /// Precomputes `(y, Pb)` with fresh randomness from `rng` (independent of
    /// the server; ≈1 ms of G2 work moved off the connection path).
    pub fn precompute(&self, rng: &dyn EntropySource) -> Result<P2pPrecomputed, P2pError> {
        let fresh = fresh_bytes(rng)?;
        Ok(self.precompute_with_fresh(&fresh))
    }

    /// [`P2pClient::precompute`] with the 32 fresh bytes of the hedged nonce
    /// `y` given explicitly (known-answer vectors). Never reuse `fresh`.
    pub fn precompute_with_fresh(&self, fresh: &[u8; 32]) -> P2pPrecomputed {
        let own = Zeroizing::new(self.key.point.to_bytes());
        let y = Scalar::hash(
            ScalarDomain::P2pNonce,
            &[own.as_slice(), &self.key.epoch.to_be_bytes(), fresh, b"y"],
        );
        let pb = (&self.h2_b * &y).to_bytes();
        P2pPrecomputed {
            epoch: self.key.epoch,
            hid_b: self.hid_b,
            y,
            pb,
        }
    }

    /// Starts a handshake with fresh randomness from `rng` (computes a new
    /// `(y, Pb)` too).
    pub fn start(&self, rng: &dyn EntropySource) -> Result<P2pClientHandshake, P2pError> {
        let pre = self.precompute(rng)?;
        self.start_with(pre, rng)
    }

    /// Starts a handshake from a precomputed `(y, Pb)`, with fresh randomness
    /// for `w` from `rng`. Fails with [`P2pError::StateMismatch`] if `pre` was
    /// made by a client with another key.
    pub fn start_with(
        &self,
        pre: P2pPrecomputed,
        rng: &dyn EntropySource,
    ) -> Result<P2pClientHandshake, P2pError> {
        let fresh = fresh_bytes(rng)?;
        self.start_with_fresh(pre, &fresh)
    }

    /// [`P2pClient::start_with`] with the 32 fresh bytes of the hedged nonce
    /// `w` given explicitly (known-answer vectors). Never reuse `fresh`.
    pub fn start_with_fresh(
        &self,
        pre: P2pPrecomputed,
        fresh: &[u8; 32],
    ) -> Result<P2pClientHandshake, P2pError> {
        if pre.epoch != self.key.epoch || pre.hid_b != self.hid_b {
            return Err(P2pError::StateMismatch);
        }
        let P2pPrecomputed { y, pb, .. } = pre;
        let epoch = self.key.epoch.to_be_bytes();
        let own = Zeroizing::new(self.key.point.to_bytes());
        let w = Scalar::hash(
            ScalarDomain::P2pNonce,
            &[
                own.as_slice(),
                &epoch,
                self.hid_a.as_bytes(),
                self.hid_b.as_bytes(),
                &pb,
                fresh,
                b"w",
            ],
        );
        let pg = (&self.h1_a * &w).to_bytes();
        let mut share = [0u8; CLIENT_SHARE_BYTES];
        share[..EPOCH_END].copy_from_slice(&epoch);
        share[EPOCH_END..HID_END].copy_from_slice(self.hid_b.as_bytes());
        share[HID_END..PG_END].copy_from_slice(&pg);
        share[PG_END..].copy_from_slice(&pb);
        Ok(P2pClientHandshake {
            share,
            pg,
            pb,
            hid_a: self.hid_a,
            hid_b: self.hid_b,
            w,
            y,
        })
    }
}

impl P2pClientHandshake {
    /// The client share to send (180 B).
    pub fn share(&self) -> &[u8; CLIENT_SHARE_BYTES] {
        &self.share
    }

    /// Completes the handshake with the server share `Pa`: exact length
    /// ([`P2pError::ServerShareLength`]), `Pa` decoded with subgroup and
    /// identity checks ([`P2pError::InvalidPoint`]). `client` must be the
    /// client that started the handshake ([`P2pError::StateMismatch`]).
    /// A server without the right key yields a different secret, not an error.
    pub fn finish(
        self,
        client: &P2pClient,
        server_share: &[u8],
    ) -> Result<P2pSharedSecret, P2pError> {
        let pa_bytes: &[u8; SERVER_SHARE_BYTES] =
            server_share
                .try_into()
                .map_err(|_| P2pError::ServerShareLength {
                    got: server_share.len(),
                })?;
        let pa = G1::from_bytes(pa_bytes).map_err(|source| P2pError::InvalidPoint {
            field: ShareField::Pa,
            source,
        })?;
        if client.hid_a != self.hid_a || client.hid_b != self.hid_b {
            return Err(P2pError::StateMismatch);
        }
        let (k, z) = self.client_values(client, pa_bytes, &pa);
        Ok(derive_secret(
            &self.hid_a,
            &self.hid_b,
            &k,
            &z,
            &self.share,
            pa_bytes,
        ))
    }

    /// `K = e((y+pib)·(pia·H1(ID_A) + Pa), D_B)`, `Z = w·Pa`.
    pub(super) fn client_values(
        &self,
        client: &P2pClient,
        pa_bytes: &[u8; G1_BYTES],
        pa: &G1,
    ) -> (Gt, G1) {
        let (pia, pib) = challenges(pa_bytes, &self.pb, &self.pg, &self.hid_a, &self.hid_b);
        let base = &(&client.h1_a * &pia) + pa;
        let p = &base * &(&self.y + &pib);
        let k = multi_pairing(&[(&p, &client.d_b)]);
        let z = pa * &self.w;
        (k, z)
    }
}
