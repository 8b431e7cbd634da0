//! M-Pin Full key agreement (docs/protocol.md §6.6; §6.4 step 5).
//!
//! Server: `w` hedged over a per-process secret key, the client share and
//! fresh randomness; `W = w·A_d` is the server share (48 B).
//! `h = Hq_cs-h(client share ‖ W)`.
//!
//! * Client: `K = e((r+h)·SEC, Q)`, `Z = r·W`.
//! * Server: `K = e(R + h·A_d, SS)`, `Z = w·R`.
//!
//! Both equal `e(A_d, Q)^{s(r+h)}` and `rw·A_d`. The shared secret is
//! `SHA-256("MILAGRO-TLS13-V1 CS" ‖ Gt bytes of K ‖ G1 bytes of Z ‖
//! client share ‖ W)` (32 B). Forward secrecy: `Z` needs `r` or `w` (CDH in
//! G1). Server authentication is implicit and per deployment: only an `SS`
//! holder computes `K`.
//!
//! The server's `w = Hq_cs-nonce(key ‖ client share ‖ fresh32 ‖ "w")` is local
//! (never on the wire).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::pairing::{
    EntropySource, G1, G1_BYTES, G2Prepared, RandomError, Scalar, ScalarDomain, multi_pairing,
    sha256,
};

use super::CsError;
use super::proof::{ClientState, PreparedServerSecret, VerifiedShare};

/// Length of the CS server key share `W`.
pub const SERVER_SHARE_BYTES: usize = G1_BYTES;

const SECRET_LABEL: &[u8] = b"MILAGRO-TLS13-V1 CS";

/// The 32-byte shared secret for the TLS 1.3 key schedule. Zeroized on drop;
/// `Debug` is redacted; equality is constant time.
pub struct SharedSecret(Zeroizing<[u8; 32]>);

impl SharedSecret {
    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for SharedSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0[..].ct_eq(&other.0[..]))
    }
}
impl Eq for SharedSecret {}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// The server's per-process secret key for hedging `w` (32 bytes, zeroized
/// on drop, never printed).
pub struct ServerNonceKey(Zeroizing<[u8; 32]>);

impl ServerNonceKey {
    /// A fresh key from `rng`; fails only if `rng` does.
    pub fn generate(rng: &dyn EntropySource) -> Result<Self, RandomError> {
        let mut k = Zeroizing::new([0u8; 32]);
        rng.fill(&mut k[..])?;
        Ok(Self(k))
    }

    /// A fixed key (for known-answer vectors).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for ServerNonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerNonceKey(<redacted>)")
    }
}

/// The server's reply: its key share `W` and the shared secret.
#[derive(Debug)]
pub struct ServerResponse {
    /// `W = w·A_d`, 48 bytes, to send.
    pub share: [u8; SERVER_SHARE_BYTES],
    /// The shared secret.
    pub secret: SharedSecret,
}

fn derive(k: &crate::pairing::Gt, z: &G1, client_share: &[u8], w: &[u8]) -> SharedSecret {
    let k_bytes = Zeroizing::new(k.to_bytes());
    let z_bytes = Zeroizing::new(z.to_bytes());
    SharedSecret(Zeroizing::new(sha256(&[
        SECRET_LABEL,
        &k_bytes[..],
        &z_bytes[..],
        client_share,
        w,
    ])))
}

fn challenge_h(client_share: &[u8], w: &[u8]) -> Scalar {
    Scalar::hash(ScalarDomain::CsH, &[client_share, w])
}

/// Server step 5: answers a verified share with `W` and derives the secret,
/// with 32 fresh bytes from `rng`. Fails only if `rng` does.
pub fn respond(
    verified: &VerifiedShare,
    server: &PreparedServerSecret,
    key: &ServerNonceKey,
    rng: &dyn EntropySource,
) -> Result<ServerResponse, CsError> {
    let mut fresh = Zeroizing::new([0u8; 32]);
    rng.fill(&mut fresh[..])?;
    Ok(respond_with_fresh(verified, server, key, &fresh))
}

/// [`respond`] with the 32 hedging bytes given explicitly (deterministic, for
/// known-answer vectors).
pub fn respond_with_fresh(
    verified: &VerifiedShare,
    server: &PreparedServerSecret,
    key: &ServerNonceKey,
    fresh: &[u8; 32],
) -> ServerResponse {
    let w = Scalar::hash(
        ScalarDomain::CsNonce,
        &[&key.0[..], &verified.bytes, fresh, b"w"],
    );
    let share = (&verified.a_d * &w).to_bytes();
    let h = challenge_h(&verified.bytes, &share);
    let rh = &verified.r + &(&verified.a_d * &h);
    let k = multi_pairing(&[(&rh, &server.ss)]);
    let z = &verified.r * &w;
    ServerResponse {
        secret: derive(&k, &z, &verified.bytes, &share),
        share,
    }
}

impl ClientState {
    /// Completes the key agreement with the server's share `W`.
    ///
    /// Fails with [`CsError::ServerShareLength`] unless exactly
    /// [`SERVER_SHARE_BYTES`] bytes, and with [`CsError::BadEncoding`]
    /// (field `W`) for a malformed point, one outside the subgroup, or the
    /// identity. A server without the deployment's `SS` yields a different
    /// secret (the handshake then fails to decrypt), not an error here.
    pub fn finish(&self, server_share: &[u8]) -> Result<SharedSecret, CsError> {
        if server_share.len() != SERVER_SHARE_BYTES {
            return Err(CsError::ServerShareLength(server_share.len()));
        }
        let w = G1::from_bytes(server_share)
            .map_err(|source| CsError::BadEncoding { field: "W", source })?;
        let h = challenge_h(&self.share, server_share);
        let p = &self.sec * &(&self.r + &h);
        let k = multi_pairing(&[(&p, G2Prepared::generator())]);
        let z = &w * &self.r;
        Ok(derive(&k, &z, &self.share, server_share))
    }
}
