//! Standard X.509 TLS clients on the servers' Milagro listener: the
//! `--cert FILE --key FILE` options of `echo-server` and `https-server`
//! become a rustls `ServerConfig` that the Milagro acceptor serves any
//! non-Milagro ClientHello with (`MilagroAcceptor::with_standard`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The servers' `--cert` / `--key` options.
#[derive(Debug, Clone, Default, Args)]
pub struct StandardArgs {
    /// Also serve standard TLS clients on the same listener with this X.509
    /// certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

/// Why `--cert` / `--key` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StandardError {
    /// A PEM file could not be read or holds no usable item.
    #[error("{}: {problem}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the certificate and key (e.g. they do not match).
    #[error("--cert {} / --key {}: {source}", cert.display(), key.display())]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

impl StandardArgs {
    /// The standard configuration for `--cert` / `--key`, or `None` when
    /// they were not given. TLS 1.2 and 1.3 with the `ring` provider's
    /// defaults, no client authentication. Fails naming the file that
    /// cannot be read or the pair rustls refuses.
    pub fn server_config(&self) -> Result<Option<Arc<ServerConfig>>, StandardError> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(None);
        };
        let pem = |path: &Path, problem: String| StandardError::Pem {
            path: path.to_owned(),
            problem,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem(cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(pem(cert, "no CERTIFICATE in the file".into()));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|source| StandardError::Config {
                cert: cert.clone(),
                key: key.clone(),
                source,
            })?;
        Ok(Some(Arc::new(config)))
    }
}
