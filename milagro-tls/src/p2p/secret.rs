//! What both sides compute alike: the challenges `(pia, pib)`, the shared
//! secret, and the fresh input of the hedged nonces.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::P2pError;
use super::share::{CLIENT_SHARE_BYTES, SERVER_SHARE_BYTES, SHARED_SECRET_BYTES};
use crate::identity::Hid;
use crate::pairing::{EntropySource, G1, G1_BYTES, G2_BYTES, Gt, Scalar, ScalarDomain, sha256};

/// Label that starts the shared-secret hash.
const SECRET_LABEL: &[u8] = b"MILAGRO-TLS13-V1 P2P";
/// Length of the fresh random input to every hedged nonce.
const FRESH_BYTES: usize = 32;

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
pub(super) fn derive_secret(
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
pub(super) fn challenges(
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

pub(super) fn fresh_bytes(
    rng: &dyn EntropySource,
) -> Result<Zeroizing<[u8; FRESH_BYTES]>, P2pError> {
    let mut fresh = Zeroizing::new([0u8; FRESH_BYTES]);
    rng.fill(fresh.as_mut_slice())?;
    Ok(fresh)
}
