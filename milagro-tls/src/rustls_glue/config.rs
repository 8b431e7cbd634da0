//! Builders of the rustls configurations for one Milagro key (docs/protocol.md §8.4.1–8.4.3):
//! TLS 1.3 only, one Milagro kx group, the `milagro_implicit` scheme, the
//! identity blob as certificate, mandatory client authentication, no
//! resumption, no tickets, no session storage, no 0-RTT, and no process-wide
//! default provider (`builder_with_provider`).

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::server::NoServerSessionStorage;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, ClientConnection, ServerConfig};

use super::admission::Admission;
use super::finish::peer_blob;
use super::overlap_gate::OverlapGate;

use super::engine::{Binding, ClientKeyExchange, KxError, ServerKeyExchange};
use super::error::{FinishError, MilagroError, map_connect_error};
use super::identity_blob::{IdentityBlob, Role};
use super::provider::{intern_client, intern_server, milagro_provider};
use super::sign::certified_key;
use super::verify::{BindingVerifier, ServerIdentityVerifier};
use crate::identity::Identity;
use crate::suite::Suite;

/// A Milagro client configuration for one key. Connections must be made with
/// [`MilagroClient::connect`], which checks the server name before anything is
/// sent (P2P).
#[derive(Debug, Clone)]
pub struct MilagroClient {
    suite: Suite,
    expected_server: Option<Identity>,
    config: Arc<ClientConfig>,
}

impl MilagroClient {
    /// Builds the configuration. `identity`/`period` fill the client's blob
    /// (CS: day d; P2P: epoch). P2P needs `expected_server` (ID_A); for CS it
    /// is optional and only compared with the server's informational blob.
    pub(crate) fn new(
        key: Arc<dyn ClientKeyExchange>,
        identity: Identity,
        period: u32,
        expected_server: Option<Identity>,
    ) -> Result<Self, MilagroError> {
        let suite = key.suite();
        if suite == Suite::P2p && expected_server.is_none() {
            return Err(MilagroError::MissingServerIdentity);
        }
        let (group, key) = intern_client(key)?;
        let blob = IdentityBlob {
            suite,
            role: Role::Client,
            period,
            identity,
        };
        let verifier = ServerIdentityVerifier {
            suite,
            expected: expected_server.clone(),
            _key: key,
        };
        let mut config = ClientConfig::builder_with_provider(Arc::new(milagro_provider(group)))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(CertifiedKey::clone(
                &certified_key(&blob),
            ))));
        config.resumption = Resumption::disabled();
        config.enable_early_data = false;
        Ok(Self {
            suite,
            expected_server,
            config: Arc::new(config),
        })
    }

    /// The suite of this configuration.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The same configuration, offering ALPN (RFC 7301) `protocols` in the
    /// client's order of preference (e.g. `b"h2"` for gRPC). The protocol
    /// the server chose is the connection's `alpn_protocol()`; a server that
    /// supports none of them refuses the handshake. Empty: no ALPN offered
    /// (the default). The key and its slot are shared with `self`.
    pub fn with_alpn_protocols(&self, protocols: Vec<Vec<u8>>) -> Self {
        let mut config = ClientConfig::clone(&self.config);
        config.alpn_protocols = protocols;
        Self {
            suite: self.suite,
            expected_server: self.expected_server.clone(),
            config: Arc::new(config),
        }
    }

    /// The underlying rustls configuration (for adapters). Connections made
    /// from it directly skip the P2P server-name check of [`Self::connect`].
    pub fn rustls_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Starts a connection to `server_name`. P2P: the name must canonicalise
    /// to the configured server identity, else [`MilagroError::ServerNameMismatch`]
    /// and nothing is sent. Fails with [`MilagroError::InvalidServerName`] for
    /// names rustls cannot use.
    pub fn connect(&self, server_name: &str) -> Result<ClientConnection, MilagroError> {
        let name = self.server_name(server_name)?;
        ClientConnection::new(self.config.clone(), name).map_err(map_connect_error)
    }

    /// The checks [`Self::connect`] makes on `server_name` before anything
    /// is sent, for adapters that create the connection themselves (e.g. on
    /// a blocking pool): P2P, the name must canonicalise to the configured
    /// server identity ([`MilagroError::ServerNameMismatch`]) and the
    /// canonical form is used; [`MilagroError::InvalidServerName`] for names
    /// rustls cannot use.
    pub fn server_name(&self, server_name: &str) -> Result<ServerName<'static>, MilagroError> {
        let name = match (self.suite, &self.expected_server) {
            (Suite::P2p, Some(expected)) => {
                let canonical = Identity::new(server_name)
                    .ok()
                    .filter(|id| id == expected)
                    .ok_or_else(|| MilagroError::ServerNameMismatch {
                        expected: expected.clone(),
                        got: server_name.to_owned(),
                    })?;
                canonical.as_str().to_owned()
            }
            (Suite::P2p, None) => return Err(MilagroError::MissingServerIdentity),
            (Suite::Cs, _) => server_name.to_owned(),
        };
        ServerName::try_from(name)
            .map_err(|_| MilagroError::InvalidServerName(server_name.to_owned()))
    }

    /// After the handshake (backstop of docs/protocol.md §8.4.1–8.4.2): requires a finished,
    /// full TLS 1.3 handshake on this configuration's Milagro group and returns
    /// the server's identity from its (already verified) blob. The server's
    /// acceptance of the client is only known after the client's next read
    /// (no tickets confirm it earlier).
    pub fn finish(&self, conn: &ClientConnection) -> Result<Identity, FinishError> {
        let cert = peer_blob(conn, self.suite)?;
        IdentityBlob::decode(cert.as_ref())
            .ok()
            .filter(|b| b.suite == self.suite && b.role == Role::Server)
            .map(|b| b.identity)
            .ok_or(FinishError::IdentityMismatch)
    }
}

/// A Milagro server for one key: makes the per-connection `ServerConfig`
/// whose client verifier holds that connection's key-share binding.
pub(crate) struct MilagroServer {
    suite: Suite,
    key: Arc<dyn ServerKeyExchange>,
    provider: Arc<CryptoProvider>,
    /// The forced-failure sibling's provider (silent per-identity refusals).
    forced_provider: Arc<CryptoProvider>,
    cert: Arc<CertifiedKey>,
    pub(crate) admission: Admission,
    /// Which sources may have step 1 overlapped (shared by every acceptor
    /// built on this server).
    pub(crate) overlap: Arc<OverlapGate>,
}

impl core::fmt::Debug for MilagroServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MilagroServer")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl MilagroServer {
    #[cfg(test)]
    /// Builds the server side. `identity` fills the server's blob (CS: the
    /// deployment / service name, informational; P2P: ID_A); `period` is the
    /// P2P epoch (ignored, written as 0, for CS).
    pub(crate) fn new(
        key: Arc<dyn ServerKeyExchange>,
        identity: Identity,
        period: u32,
    ) -> Result<Self, MilagroError> {
        Self::with_admission(key, identity, period, Admission::Open)
    }

    /// [`MilagroServer::new`] with the step-1 checks of `admission`.
    pub(crate) fn with_admission(
        key: Arc<dyn ServerKeyExchange>,
        identity: Identity,
        period: u32,
        admission: Admission,
    ) -> Result<Self, MilagroError> {
        let suite = key.suite();
        let (group, forced, key) = intern_server(key)?;
        let blob = IdentityBlob {
            suite,
            role: Role::Server,
            period,
            identity,
        };
        Ok(Self {
            suite,
            key,
            provider: Arc::new(milagro_provider(group)),
            forced_provider: Arc::new(milagro_provider(forced)),
            cert: certified_key(&blob),
            admission,
            overlap: Arc::default(),
        })
    }

    /// The suite this server speaks.
    pub(crate) fn suite(&self) -> Suite {
        self.suite
    }

    /// The binding of a client share (cheap parse, no point decoding).
    pub(crate) fn binding(&self, client_share: &[u8]) -> Result<Binding, KxError> {
        self.key.binding(client_share)
    }

    #[cfg(test)]
    /// The `ServerConfig` for one connection, bound to `binding`.
    pub(crate) fn config_for(&self, binding: Binding) -> Result<Arc<ServerConfig>, MilagroError> {
        self.config_for_outcome(binding, false, &[])
    }

    /// The `ServerConfig` for one connection; with `forced`, its key exchange
    /// does the full work and fails (silent per-identity refusal).
    pub(crate) fn config_for_outcome(
        &self,
        binding: Binding,
        forced: bool,
        alpn: &[Vec<u8>],
    ) -> Result<Arc<ServerConfig>, MilagroError> {
        if binding.suite() != self.suite {
            return Err(MilagroError::SuiteMismatch);
        }
        let verifier = BindingVerifier {
            binding,
            _key: self.key.clone(),
        };
        let provider = if forced {
            self.forced_provider.clone()
        } else {
            self.provider.clone()
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(CertifiedKey::clone(
                &self.cert,
            ))));
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.max_early_data_size = 0;
        config.send_half_rtt_data = false;
        config.alpn_protocols = alpn.to_vec();
        Ok(Arc::new(config))
    }
}
