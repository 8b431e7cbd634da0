//! TEST ONLY: a toy key exchange (hashes, no pairings, no security) that
//! implements the engine traits so every rustls mechanism can be exercised
//! end to end before the real CS / P2P code is wired in.
//!
//! A deployment key `k` (32 random bytes) plays the master secret. An
//! identity's key is `ck = SHA-256("toy-id" ‖ k ‖ HID)`.
//! Client share (100 B): `HID (32) ‖ be32 period ‖ r (32) ‖ tag (32)` with
//! `tag = SHA-256("toy-tag" ‖ ck ‖ HID ‖ period ‖ r)`. Server share: `w (32)`.
//! Secret = `SHA-256("toy-secret" ‖ ck ‖ client share ‖ w)`.
//! Like CS, the toy CS server verifies the tag (a wrong key is refused in the
//! kx → `illegal_parameter`); like P2P, the toy P2P server does not (a wrong
//! key yields a different secret and the handshake fails on decryption).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{
    Binding, ClientKeyExchange, ClientPending, KeyFingerprint, KxError, KxFailure,
    ServerKeyExchange,
};
use crate::identity::{Hid, Identity};
use crate::pairing::sha256;
use crate::suite::Suite;

pub(crate) const TOY_SHARE_LEN: usize = 100;

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("test RNG");
    b
}

#[derive(Clone)]
pub(crate) struct ToyDeployment {
    pub(crate) suite: Suite,
    pub(crate) key: [u8; 32],
}

impl ToyDeployment {
    pub(crate) fn random(suite: Suite) -> Self {
        Self {
            suite,
            key: random32(),
        }
    }

    pub(crate) fn hid(&self, id: &str, period: u32) -> Hid {
        let id = Identity::new(id).unwrap();
        match self.suite {
            Suite::Cs => id.cs_hid(),
            Suite::P2p => id.p2p_hid(period),
        }
    }

    pub(crate) fn client(&self, id: &str, period: u32) -> Arc<dyn ClientKeyExchange> {
        let hid = self.hid(id, period);
        Arc::new(ToyClient {
            suite: self.suite,
            hid,
            period,
            ck: Zeroizing::new(sha256(&[b"toy-id", &self.key, hid.as_bytes()])),
        })
    }

    pub(crate) fn server(&self) -> Arc<dyn ServerKeyExchange> {
        Arc::new(ToyServer {
            suite: self.suite,
            key: Zeroizing::new(self.key),
        })
    }
}

struct ToyClient {
    suite: Suite,
    hid: Hid,
    period: u32,
    ck: Zeroizing<[u8; 32]>,
}

impl ClientKeyExchange for ToyClient {
    fn suite(&self) -> Suite {
        self.suite
    }
    fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(sha256(&[b"toy-fp-client", &self.ck[..]]))
    }
    fn start(&self) -> Result<(Vec<u8>, Box<dyn ClientPending>), KxError> {
        let r = random32();
        let p = self.period.to_be_bytes();
        let tag = sha256(&[b"toy-tag", &self.ck[..], self.hid.as_bytes(), &p, &r]);
        let share = [&self.hid.as_bytes()[..], &p, &r, &tag].concat();
        Ok((
            share.clone(),
            Box::new(ToyPending {
                ck: self.ck.clone(),
                share,
            }),
        ))
    }
}

struct ToyPending {
    ck: Zeroizing<[u8; 32]>,
    share: Vec<u8>,
}

impl ClientPending for ToyPending {
    fn finish(self: Box<Self>, server_share: &[u8]) -> Result<Zeroizing<[u8; 32]>, KxError> {
        if server_share.len() != 32 {
            return Err(KxError::WrongShareLength {
                expected: 32,
                actual: server_share.len(),
            });
        }
        Ok(Zeroizing::new(sha256(&[
            b"toy-secret",
            &self.ck[..],
            &self.share,
            server_share,
        ])))
    }
}

struct ToyServer {
    suite: Suite,
    key: Zeroizing<[u8; 32]>,
}

/// (HID, period, r, tag) of a toy client share.
type ToyParts<'a> = (&'a [u8; 32], u32, &'a [u8], &'a [u8]);

fn split(share: &[u8]) -> Result<ToyParts<'_>, KxError> {
    let Some((hid, rest)) = share.split_first_chunk::<32>() else {
        return Err(KxError::WrongShareLength {
            expected: TOY_SHARE_LEN,
            actual: share.len(),
        });
    };
    if share.len() != TOY_SHARE_LEN {
        return Err(KxError::WrongShareLength {
            expected: TOY_SHARE_LEN,
            actual: share.len(),
        });
    }
    let (p, rest) = rest.split_at(4);
    let (r, tag) = rest.split_at(32);
    let period = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    Ok((hid, period, r, tag))
}

impl ServerKeyExchange for ToyServer {
    fn suite(&self) -> Suite {
        self.suite
    }
    fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(sha256(&[b"toy-fp-server", &self.key[..]]))
    }
    fn binding(&self, client_share: &[u8]) -> Result<Binding, KxError> {
        let (hid, period, _, _) = split(client_share)?;
        Ok(Binding::new(self.suite, Hid(*hid), period))
    }
    fn respond(
        &self,
        client_share: &[u8],
        _precomputed: Option<super::Precomputed>,
        proof_good: &mut dyn FnMut(),
    ) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), KxFailure> {
        let (hid, period, r, tag) = split(client_share)?;
        let ck = Zeroizing::new(sha256(&[b"toy-id", &self.key[..], hid]));
        if self.suite == Suite::Cs {
            let expect = sha256(&[b"toy-tag", &ck[..], hid, &period.to_be_bytes(), r]);
            if expect[..] != tag[..] {
                return Err(KxError::CredentialRefused.into());
            }
            proof_good();
        }
        let w = random32();
        let secret = sha256(&[b"toy-secret", &ck[..], client_share, &w]);
        Ok((w.to_vec(), Zeroizing::new(secret)))
    }
}
