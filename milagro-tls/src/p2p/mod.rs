//! The Chow–Choo key agreement of the P2P suite (design §6), without any
//! rustls types.
//!
//! The server A holds `D_A = s·H1(ID_A)` ∈ G1 for the current and the previous
//! epoch ([`P2pServer`]); the client B holds `D_B = s·H2(ID_B)` ∈ G2 for one
//! epoch and is configured with the server identity `ID_A` ([`P2pClient`]).
//! Identities hash with the epoch: `HID_X = SHA-256(ID_X ‖ be32 epoch)`,
//! `H1(ID_A) = H1_p2p(HID_A)` ∈ G1, `H2(ID_B) = H2_p2p(HID_B)` ∈ G2.
//!
//! Wire formats (exact lengths; anything else is refused):
//!
//! * client share, [`CLIENT_SHARE_BYTES`] = 180 B:
//!   `be32(epoch) ‖ HID_B (32) ‖ Pg (48) ‖ Pb (96)`, `Pg = w·H1(ID_A)`,
//!   `Pb = y·H2(ID_B)`;
//! * server share, [`SERVER_SHARE_BYTES`] = 48 B: `Pa = x·H1(ID_A)`.
//!
//! With `pia = Hq_p2p-a(Pa ‖ Pb ‖ Pg ‖ HID_A ‖ HID_B)` and
//! `pib = Hq_p2p-b(Pb ‖ Pa ‖ Pg ‖ HID_A ‖ HID_B)`:
//!
//! * server: `P1 = (x+pia)·D_A`, `K = e(pib·P1, H2(ID_B))·e(P1, Pb)` (one
//!   multi-Miller loop), `Z = x·Pg`;
//! * client: `K = e((y+pib)·(pia·H1(ID_A) + Pa), D_B)` (D_B prepared once per
//!   key), `Z = w·Pa`;
//!
//! both `K = e(H1(ID_A), H2(ID_B))^{s(x+pia)(y+pib)}` and `Z = xw·H1(ID_A)`.
//! The 32-byte shared secret is
//! `SHA-256("MILAGRO-TLS13-V1 P2P" ‖ HID_A ‖ HID_B ‖ K (576) ‖ Z (48) ‖ client share (180) ‖ Pa (48))`.
//!
//! Nonces are hedged (never only the RNG): each is `Hq_p2p-nonce` over the
//! party's own key, the epoch and 32 fresh random bytes, followed by a one-byte
//! label. Exactly (all fields fixed-length, the label last):
//!
//! * `y = Hq(D_B (96) ‖ be32 epoch ‖ fresh (32) ‖ "y")` — independent of the
//!   server, so `(y, Pb)` can be precomputed ([`P2pClient::precompute`]);
//! * `w = Hq(D_B (96) ‖ be32 epoch ‖ HID_A ‖ HID_B ‖ Pb (96) ‖ fresh ‖ "w")`;
//! * `x = Hq(D_A (48) ‖ be32 epoch ‖ HID_A ‖ HID_B ‖ client share (180) ‖ fresh ‖ "x")`.
//!
//! The `*_with_fresh` functions take the fresh bytes explicitly (known-answer
//! vectors); the others draw them from an [`EntropySource`].
//!
//! Authentication is implicit: a party without the right key computes a
//! different `K`, so the shared secrets differ and the TLS handshake fails.
//! Decoding refuses wrong lengths, epochs the server holds no key for, and
//! points that are not in the prime-order subgroup or are the identity. A
//! server on the network also refuses, by its own clock, every epoch other
//! than the current one and the one before
//! ([`P2pServer::check_client_share_at`]), even one it holds a key for, and
//! should not start with keys for neither ([`P2pServer::check_keys_at`]).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::identity::{Hid, Identity};
use crate::keys::{DeploymentId, P2pClientKey, P2pDeployment, P2pServerKey};
use crate::pairing::{
    DecodeError, EntropySource, G1, G1_BYTES, G2, G2_BYTES, G2Prepared, Gt, RandomError, Scalar,
    ScalarDomain, multi_pairing, pairing, sha256,
};
use crate::points::{p2p_client_point, p2p_server_point};

/// Length of the client key share: `be32(epoch) ‖ HID_B ‖ Pg ‖ Pb`.
pub const CLIENT_SHARE_BYTES: usize = 4 + 32 + G1_BYTES + G2_BYTES;
/// Length of the server key share: `Pa`.
pub const SERVER_SHARE_BYTES: usize = G1_BYTES;
/// Length of the shared secret handed to the TLS 1.3 key schedule.
pub const SHARED_SECRET_BYTES: usize = 32;

/// Label that starts the shared-secret hash.
const SECRET_LABEL: &[u8] = b"MILAGRO-TLS13-V1 P2P";
/// Length of the fresh random input to every hedged nonce.
const FRESH_BYTES: usize = 32;

// Offsets inside the client share.
const EPOCH_END: usize = 4;
const HID_END: usize = EPOCH_END + 32;
const PG_END: usize = HID_END + G1_BYTES;

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

/// The 32-byte shared secret, zeroized on drop and never shown by `Debug`.
/// Equality is constant time.
pub struct P2pSharedSecret(Zeroizing<[u8; SHARED_SECRET_BYTES]>);

impl P2pSharedSecret {
    /// The secret's bytes (the input to the TLS 1.3 key schedule).
    pub fn as_bytes(&self) -> &[u8; SHARED_SECRET_BYTES] {
        &self.0
    }

    /// The secret's bytes, still zeroized on drop (to hand to the key schedule).
    pub fn into_bytes(self) -> Zeroizing<[u8; SHARED_SECRET_BYTES]> {
        self.0
    }
}

impl fmt::Debug for P2pSharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P2pSharedSecret(<redacted>)")
    }
}

impl PartialEq for P2pSharedSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}
impl Eq for P2pSharedSecret {}

/// `SHA-256("MILAGRO-TLS13-V1 P2P" ‖ HID_A ‖ HID_B ‖ K ‖ Z ‖ client share ‖ Pa)`.
fn derive_secret(
    hid_a: &Hid,
    hid_b: &Hid,
    k: &Gt,
    z: &G1,
    client_share: &[u8; CLIENT_SHARE_BYTES],
    pa: &[u8; SERVER_SHARE_BYTES],
) -> P2pSharedSecret {
    let k_bytes = Zeroizing::new(k.to_bytes());
    let z_bytes = Zeroizing::new(z.to_bytes());
    P2pSharedSecret(Zeroizing::new(sha256(&[
        SECRET_LABEL,
        hid_a.as_bytes(),
        hid_b.as_bytes(),
        k_bytes.as_slice(),
        z_bytes.as_slice(),
        client_share,
        pa,
    ])))
}

/// `(pia, pib)` from the encoded points and both HIDs.
fn challenges(
    pa: &[u8; G1_BYTES],
    pb: &[u8; G2_BYTES],
    pg: &[u8; G1_BYTES],
    hid_a: &Hid,
    hid_b: &Hid,
) -> (Scalar, Scalar) {
    let (ha, hb) = (hid_a.as_bytes().as_slice(), hid_b.as_bytes().as_slice());
    let pia = Scalar::hash(ScalarDomain::P2pA, &[pa, pb, pg, ha, hb]);
    let pib = Scalar::hash(ScalarDomain::P2pB, &[pb, pa, pg, ha, hb]);
    (pia, pib)
}

fn fresh_bytes(rng: &dyn EntropySource) -> Result<Zeroizing<[u8; FRESH_BYTES]>, P2pError> {
    let mut fresh = Zeroizing::new([0u8; FRESH_BYTES]);
    rng.fill(fresh.as_mut_slice())?;
    Ok(fresh)
}

/// The fields of a client share, not yet decoded.
struct RawClientShare<'a> {
    header: P2pShareHeader,
    pg: &'a [u8; G1_BYTES],
    pb: &'a [u8; G2_BYTES],
}

/// Splits a share of exactly [`CLIENT_SHARE_BYTES`] into its fields.
fn split_client_share(bytes: &[u8]) -> Result<RawClientShare<'_>, P2pError> {
    let bad_length = || P2pError::ClientShareLength { got: bytes.len() };
    if bytes.len() != CLIENT_SHARE_BYTES {
        return Err(bad_length());
    }
    let (epoch, rest) = bytes.split_first_chunk::<4>().ok_or_else(bad_length)?;
    let (hid, rest) = rest.split_first_chunk::<32>().ok_or_else(bad_length)?;
    let (pg, rest) = rest
        .split_first_chunk::<G1_BYTES>()
        .ok_or_else(bad_length)?;
    let pb: &[u8; G2_BYTES] = rest.try_into().map_err(|_| bad_length())?;
    Ok(RawClientShare {
        header: P2pShareHeader {
            epoch: u32::from_be_bytes(*epoch),
            hid_b: Hid(*hid),
        },
        pg,
        pb,
    })
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// One epoch's server key with its public hashes precomputed.
struct ServerEpochKey {
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

/// The public header of a client share (checked without decoding points):
/// what the accept path binds the client's identity blob to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2pShareHeader {
    /// The share's epoch (one the server holds a key for).
    pub epoch: u32,
    /// The client's hashed identity `HID_B = SHA-256(ID_B ‖ be32 epoch)`.
    pub hid_b: Hid,
}

/// A decoded client share: points checked (subgroup, not identity), epoch one
/// the server holds a key for.
#[derive(Clone)]
pub struct P2pClientShare {
    bytes: [u8; CLIENT_SHARE_BYTES],
    header: P2pShareHeader,
    pg_bytes: [u8; G1_BYTES],
    pb_bytes: [u8; G2_BYTES],
    pg: G1,
    pb: G2,
}

impl P2pClientShare {
    /// The share's epoch.
    pub fn epoch(&self) -> u32 {
        self.header.epoch
    }
    /// The client's hashed identity `HID_B` (the TLS layer checks the client's
    /// identity blob hashes to it with [`P2pClientShare::epoch`]).
    pub fn hid_b(&self) -> Hid {
        self.header.hid_b
    }
    /// The share's bytes, exactly as received.
    pub fn as_bytes(&self) -> &[u8; CLIENT_SHARE_BYTES] {
        &self.bytes
    }
}

impl fmt::Debug for P2pClientShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2pClientShare")
            .field("epoch", &self.header.epoch)
            .field("hid_b", &self.header.hid_b)
            .finish_non_exhaustive()
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
struct ServerValues {
    pa: [u8; SERVER_SHARE_BYTES],
    k: Gt,
    z: G1,
}

fn server_values(ek: &ServerEpochKey, share: &P2pClientShare, x: &Scalar) -> ServerValues {
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

    fn key_for(&self, epoch: u32) -> Result<&ServerEpochKey, P2pError> {
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
fn server_nonce(ek: &ServerEpochKey, share: &P2pClientShare, fresh: &[u8; 32]) -> Scalar {
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

/// Whether a share or key for `epoch` is acceptable when the current epoch
/// is `now_epoch`: `epoch ∈ {now_epoch, now_epoch − 1}` (docs/protocol.md
/// §5.6, §7.4).
pub fn epoch_accepted_at(epoch: u32, now_epoch: u32) -> bool {
    epoch == now_epoch || epoch.checked_add(1) == Some(now_epoch)
}

/// Whether server keys for epochs `current` and `previous` can serve any
/// client when the current epoch is `now_epoch`: at least one of them is
/// `now_epoch` or `now_epoch − 1` ([`P2pError::ServerKeysNotCurrent`]
/// otherwise).
pub fn check_server_epochs(
    current: u32,
    previous: Option<u32>,
    now_epoch: u32,
) -> Result<(), P2pError> {
    let usable = core::iter::once(current)
        .chain(previous)
        .any(|e| epoch_accepted_at(e, now_epoch));
    if usable {
        Ok(())
    } else {
        Err(P2pError::ServerKeysNotCurrent {
            current,
            previous,
            now_epoch,
        })
    }
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

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

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
    pb: [u8; G2_BYTES],
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
    w: Scalar,
    y: Scalar,
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
    fn client_values(&self, client: &P2pClient, pa_bytes: &[u8; G1_BYTES], pa: &G1) -> (Gt, G1) {
        let (pia, pib) = challenges(pa_bytes, &self.pb, &self.pg, &self.hid_a, &self.hid_b);
        let base = &(&client.h1_a * &pia) + pa;
        let p = &base * &(&self.y + &pib);
        let k = multi_pairing(&[(&p, &client.d_b)]);
        let z = pa * &self.w;
        (k, z)
    }
}

#[cfg(test)]
mod tests;
