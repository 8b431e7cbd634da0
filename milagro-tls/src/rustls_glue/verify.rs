//! The two certificate verifiers of the Milagro configurations. Neither
//! checks any signature: both accept exactly the `milagro_implicit` scheme
//! with an empty signature, which is sound only because the configuration's
//! provider offers nothing but the Milagro group (docs/protocol.md §8.4.1). Not public API.
//!
//! * [`ServerIdentityVerifier`] (client side): checks the server's identity
//!   blob. P2P: it must name the configured ID_A and the connection's server
//!   name. CS: it is informational (deployment / service name), checked only
//!   when the client configured an expected name.
//! * [`BindingVerifier`] (server side): built **per connection** with the
//!   binding parsed from this connection's key share (docs/protocol.md §8.4.4); client auth
//!   is mandatory and a blob whose identity does not hash to the share's HID is
//!   refused with `ApplicationVerificationFailure` (→ `access_denied`). Nothing
//!   here counts toward any lockout.
//!
//! Both verifiers also own the strong reference to their side's long-term
//! key (see `provider.rs`): dropping the configuration wipes the key.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use super::engine::{Binding, ClientKeyExchange, ServerKeyExchange};
use super::identity_blob::{IdentityBlob, Role};
use super::sign::MILAGRO_IMPLICIT;
use crate::identity::Identity;
use crate::suite::Suite;

fn implicit_signature(dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, Error> {
    if dss.scheme == MILAGRO_IMPLICIT && dss.signature().is_empty() {
        Ok(HandshakeSignatureValid::assertion())
    } else {
        Err(Error::InvalidCertificate(CertificateError::BadSignature))
    }
}

fn no_tls12() -> Error {
    Error::General("Milagro configurations speak TLS 1.3 only".into())
}

/// Decodes a peer's single blob and checks its suite and role.
fn peer_blob(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    suite: Suite,
    role: Role,
) -> Result<IdentityBlob, Error> {
    if !intermediates.is_empty() {
        return Err(Error::InvalidCertificate(CertificateError::BadEncoding));
    }
    let blob = IdentityBlob::decode(end_entity.as_ref())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    if blob.suite != suite || blob.role != role {
        return Err(Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ));
    }
    Ok(blob)
}

/// Client side: checks the server's identity blob.
pub(crate) struct ServerIdentityVerifier {
    pub(crate) suite: Suite,
    /// P2P: the configured ID_A (required). CS: an optional expected name.
    pub(crate) expected: Option<Identity>,
    /// Owns the client's key (see the module documentation).
    pub(crate) _key: Arc<dyn ClientKeyExchange>,
}

impl core::fmt::Debug for ServerIdentityVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerIdentityVerifier")
            .field("suite", &self.suite)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for ServerIdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let blob = peer_blob(end_entity, intermediates, self.suite, Role::Server)?;
        let mismatch = || Error::InvalidCertificate(CertificateError::NotValidForName);
        match self.suite {
            Suite::P2p => {
                let expected = self.expected.as_ref().ok_or_else(mismatch)?;
                let name = Identity::new(&server_name.to_str()).map_err(|_| mismatch())?;
                if blob.identity != *expected || name != *expected {
                    return Err(mismatch());
                }
            }
            Suite::Cs => {
                if let Some(expected) = &self.expected {
                    if blob.identity != *expected {
                        return Err(mismatch());
                    }
                }
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        implicit_signature(dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![MILAGRO_IMPLICIT]
    }
}

/// Server side, one per connection: the client's blob must name an identity
/// that hashes to this connection's key-share binding.
pub(crate) struct BindingVerifier {
    pub(crate) binding: Binding,
    /// Owns the server's key (see the module documentation).
    pub(crate) _key: Arc<dyn ServerKeyExchange>,
}

impl core::fmt::Debug for BindingVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BindingVerifier")
            .field("binding", &self.binding)
            .finish_non_exhaustive()
    }
}

/// Checks a client blob against a binding; shared by the verifier and the
/// accept path's `finish`.
pub(crate) fn check_client_blob(
    binding: &Binding,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<Identity, Error> {
    let blob = peer_blob(end_entity, intermediates, binding.suite(), Role::Client)?;
    if blob.period != binding.period() || !binding.matches(&blob.identity) {
        return Err(Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ));
    }
    Ok(blob.identity)
}

impl ClientCertVerifier for BindingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        check_client_blob(&self.binding, end_entity, intermediates)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        implicit_signature(dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![MILAGRO_IMPLICIT]
    }
}
