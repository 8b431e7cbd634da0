//! The `milagro_implicit` signature scheme ([`crate::suite::IMPLICIT_SCHEME`]):
//! empty CertificateVerify signatures, because all authentication lives in
//! the Milagro key exchange (docs/protocol.md §8.3). Not public API: accepting
//! an empty signature is only sound in a configuration whose provider offers
//! nothing but a Milagro group (docs/protocol.md §8.4.1), and only the
//! builders in `config.rs` make those.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{Error, SignatureAlgorithm, SignatureScheme};

use super::identity_blob::IdentityBlob;

/// `milagro_implicit` as rustls names it.
pub(crate) const MILAGRO_IMPLICIT: SignatureScheme =
    SignatureScheme::Unknown(crate::suite::IMPLICIT_SCHEME);

/// A "key" that signs with `milagro_implicit` only, producing empty signatures.
#[derive(Debug)]
pub(crate) struct ImplicitSigningKey;

impl SigningKey for ImplicitSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&MILAGRO_IMPLICIT)
            .then(|| Box::new(ImplicitSigner) as Box<dyn Signer>)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::Unknown(0xFE)
    }
}

#[derive(Debug)]
struct ImplicitSigner;

impl Signer for ImplicitSigner {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }

    fn scheme(&self) -> SignatureScheme {
        MILAGRO_IMPLICIT
    }
}

/// The certified key of a Milagro peer: its identity blob as the only
/// "certificate", signed implicitly.
pub(crate) fn certified_key(blob: &IdentityBlob) -> Arc<CertifiedKey> {
    Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(blob.encode())],
        Arc::new(ImplicitSigningKey),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::rustls_glue::identity_blob::Role;
    use crate::suite::Suite;

    #[test]
    fn signs_empty_only_when_offered() {
        let key = ImplicitSigningKey;
        assert!(key.choose_scheme(&[SignatureScheme::ED25519]).is_none());
        let signer = key
            .choose_scheme(&[SignatureScheme::ED25519, MILAGRO_IMPLICIT])
            .unwrap();
        assert_eq!(signer.scheme(), MILAGRO_IMPLICIT);
        assert_eq!(signer.sign(b"transcript").unwrap(), Vec::<u8>::new());
        assert_eq!(u16::from(MILAGRO_IMPLICIT), 0xFE49);
    }

    #[test]
    fn certified_key_carries_the_blob_only() {
        let blob = IdentityBlob {
            suite: Suite::P2p,
            role: Role::Server,
            period: 9,
            identity: Identity::new("server.example").unwrap(),
        };
        let ck = certified_key(&blob);
        assert_eq!(ck.cert.len(), 1);
        assert_eq!(ck.cert[0].as_ref(), &blob.encode()[..]);
    }
}
