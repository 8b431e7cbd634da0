//! The wire format of the key shares: their exact lengths, the client share's
//! fields, and a client share decoded by the server.

use core::fmt;

use crate::identity::Hid;
use crate::pairing::{G1, G1_BYTES, G2, G2_BYTES};

use super::P2pError;

/// Length of the client key share: `be32(epoch) ‖ HID_B ‖ Pg ‖ Pb`.
pub const CLIENT_SHARE_BYTES: usize = 4 + 32 + G1_BYTES + G2_BYTES;
/// Length of the server key share: `Pa`.
pub const SERVER_SHARE_BYTES: usize = G1_BYTES;
/// Length of the shared secret handed to the TLS 1.3 key schedule.
pub const SHARED_SECRET_BYTES: usize = 32;

// Offsets inside the client share.
pub(super) const EPOCH_END: usize = 4;
pub(super) const HID_END: usize = EPOCH_END + 32;
pub(super) const PG_END: usize = HID_END + G1_BYTES;

/// The fields of a client share, not yet decoded.
pub(super) struct RawClientShare<'a> {
    pub(super) header: P2pShareHeader,
    pub(super) pg: &'a [u8; G1_BYTES],
    pub(super) pb: &'a [u8; G2_BYTES],
}

/// Splits a share of exactly [`CLIENT_SHARE_BYTES`] into its fields.
pub(super) fn split_client_share(bytes: &[u8]) -> Result<RawClientShare<'_>, P2pError> {
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
    pub(super) bytes: [u8; CLIENT_SHARE_BYTES],
    pub(super) header: P2pShareHeader,
    pub(super) pg_bytes: [u8; G1_BYTES],
    pub(super) pb_bytes: [u8; G2_BYTES],
    pub(super) pg: G1,
    pub(super) pb: G2,
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
