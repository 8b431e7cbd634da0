//! The HTTPS client of one D-TA ([`Client`]): hyper over tokio-rustls, the
//! D-TA's certificate checked against the system roots or a pinned CA file.
//! One request per connection; every call is bounded by a timeout.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::api::*;

/// The largest response body read (a response holds at most two PEM files
/// or one audit page).
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// Why a call to a D-TA failed. Always names the D-TA's URL.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `https://host[:port]`.
    #[error("{url}: not a D-TA URL (expected https://host[:port]): {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The trust roots could not be loaded.
    #[error("cannot load the trusted CA certificates: {0}")]
    Roots(String),
    /// The D-TA could not be reached (connection refused, DNS, TLS).
    #[error("D-TA {url} is unreachable: {reason}")]
    Unreachable {
        /// The D-TA.
        url: String,
        /// Why.
        reason: String,
    },
    /// The D-TA did not answer in time.
    #[error("D-TA {url} did not answer within {secs} s")]
    Timeout {
        /// The D-TA.
        url: String,
        /// The budget.
        secs: u64,
    },
    /// The D-TA refused the request.
    #[error("D-TA {url} refused: {code}: {message}")]
    Refused {
        /// The D-TA.
        url: String,
        /// The refusal code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// The D-TA's answer is not what the API specifies.
    #[error("D-TA {url} answered something unexpected: {reason}")]
    Protocol {
        /// The D-TA.
        url: String,
        /// Why.
        reason: String,
    },
}

impl ClientError {
    /// The refusal code, if the D-TA refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Which CA certificates a client trusts for the D-TAs' certificates.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The operating system's roots (rustls-native-certs).
    System,
    /// Only the CA certificate(s) in this PEM file (a pinned private CA).
    CaFile(std::path::PathBuf),
}

/// Builds the rustls client configuration for `trust`.
pub fn tls_config(trust: &Trust) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    match trust {
        Trust::System => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(ClientError::Roots("no system CA certificates found".into()));
            }
        }
        Trust::CaFile(path) => {
            for cert in ca_certs(path)? {
                roots.add(cert).map_err(|e| roots_error(path, e))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Roots(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A trust-root failure that names the CA file.
fn roots_error(path: &Path, reason: impl core::fmt::Display) -> ClientError {
    ClientError::Roots(format!("{}: {reason}", path.display()))
}

fn ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| roots_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| roots_error(path, e))?;
    if certs.is_empty() {
        return Err(roots_error(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// A client of one D-TA. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    url: String,
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the D-TA at `url` (`https://host[:port]`, no path),
    /// trusting `tls`'s roots. Each call has a 15 s budget.
    pub fn new(url: &str, tls: Arc<rustls::ClientConfig>) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("cannot parse it"))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("the scheme must be https"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad("it must not have a path or a query"));
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            port: uri.port_u16().unwrap_or(443),
            host,
            tls,
            timeout: Duration::from_secs(15),
        })
    }

    /// The same client with another per-call budget.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The D-TA's URL, as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One request: `body` (if any) as JSON, the bearer token (if any), the
    /// answer decoded from JSON. Connecting, sending and reading the answer
    /// share the client's time budget ([`ClientError::Timeout`]); a non-2xx
    /// answer is the D-TA's refusal ([`ClientError::Refused`]).
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let payload = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| self.protocol(e.to_string()))?,
            None => Vec::new(),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, format!("{}:{}", self.host, self.port))
            .header(CONTENT_TYPE, "application/json");
        if let Some(t) = bearer {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| self.protocol(e.to_string()))?;
        let (status, bytes) = match tokio::time::timeout(self.timeout, self.exchange(req)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(ClientError::Timeout {
                    url: self.url.clone(),
                    secs: self.timeout.as_secs(),
                });
            }
        };
        if !status.is_success() {
            let body: ErrorBody = serde_json::from_slice(&bytes)
                .map_err(|_| self.protocol(format!("HTTP {status} without a JSON error body")))?;
            return Err(ClientError::Refused {
                url: self.url.clone(),
                code: body.error.code,
                message: body.error.message,
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| self.protocol(format!("not the expected JSON: {e}")))
    }

    /// Sends `req` on a new TLS connection and reads the whole answer (at
    /// most [`MAX_RESPONSE`] bytes).
    async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let name =
            ServerName::try_from(self.host.clone()).map_err(|e| self.unreachable(e.to_string()))?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| self.unreachable(format!("TLS: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| self.protocol(format!("cannot read the body: {e}")))?
            .to_bytes();
        Ok((status, bytes))
    }

    fn unreachable(&self, reason: String) -> ClientError {
        ClientError::Unreachable {
            url: self.url.clone(),
            reason,
        }
    }

    fn protocol(&self, reason: String) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            reason,
        }
    }

    /// `GET path`, with the bearer token if any.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        bearer: Option<&str>,
    ) -> Result<T, ClientError> {
        self.call::<(), _>(Method::GET, path, bearer, None).await
    }

    /// `POST path` with `body` as JSON, with the bearer token if any.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(Method::POST, path, bearer, Some(body)).await
    }

    /// `GET /v1/info`.
    pub async fn info(&self) -> Result<Info, ClientError> {
        self.get("/v1/info", None).await
    }

    /// `POST /v1/enrol`: redeems `ticket`.
    pub async fn enrol(&self, ticket: &str) -> Result<EnrolResponse, ClientError> {
        let req = EnrolRequest {
            ticket: ticket.to_owned(),
        };
        self.post("/v1/enrol", None, &req).await
    }

    /// `POST /v1/renew` with a renewal credential.
    pub async fn renew(
        &self,
        credential: &str,
        req: &RenewRequest,
    ) -> Result<ShareResponse, ClientError> {
        self.post("/v1/renew", Some(credential), req).await
    }

    /// Operator: `POST /v1/admin/enrolments`.
    pub async fn create_enrolment(
        &self,
        token: &str,
        req: &CreateEnrolment,
    ) -> Result<EnrolmentTicket, ClientError> {
        self.post("/v1/admin/enrolments", Some(token), req).await
    }

    /// Operator: `GET /v1/admin/enrolments`.
    pub async fn list_enrolments(&self, token: &str) -> Result<Vec<EnrolmentRecord>, ClientError> {
        self.get("/v1/admin/enrolments", Some(token)).await
    }

    /// Operator: `POST /v1/admin/revoke`.
    pub async fn revoke(
        &self,
        token: &str,
        req: &RevokeRequest,
    ) -> Result<RevokeResponse, ClientError> {
        self.post("/v1/admin/revoke", Some(token), req).await
    }

    /// Operator: `POST /v1/admin/server-secret` (CS).
    pub async fn server_secret(&self, token: &str) -> Result<ShareResponse, ClientError> {
        let empty = serde_json::json!({});
        self.post("/v1/admin/server-secret", Some(token), &empty)
            .await
    }

    /// Operator: `POST /v1/admin/p2p-server-key` (P2P).
    pub async fn p2p_server_key(
        &self,
        token: &str,
        req: &P2pServerKeyRequest,
    ) -> Result<ShareResponse, ClientError> {
        self.post("/v1/admin/p2p-server-key", Some(token), req)
            .await
    }

    /// Operator: `GET /v1/admin/audit?after=N`.
    pub async fn audit(&self, token: &str, after: u64) -> Result<AuditPage, ClientError> {
        let path = format!("/v1/admin/audit?after={after}&limit=1000");
        self.get(&path, Some(token)).await
    }
}
