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
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `https://host[:port]`.
    #[error("{url}: not a D-TA URL (expected https://host[:port]): {problem}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        problem: UrlProblem,
    },
    /// The operating system offers no CA certificate
    /// ([`Trust::System`]).
    #[error("cannot load the trusted CA certificates: the system has none")]
    NoSystemRoots,
    /// A CA file ([`Trust::CaFile`]) could not be used.
    #[error("cannot load the trusted CA certificates from {}: {problem}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: CaFileProblem,
    },
    /// rustls refused the client configuration.
    #[error("cannot build the TLS client configuration: {0}")]
    TlsConfig(rustls::Error),
    /// The D-TA could not be reached (connection refused, DNS, TLS).
    #[error("D-TA {url} is unreachable: {cause}")]
    Unreachable {
        /// The D-TA.
        url: String,
        /// The step that failed and its error.
        cause: Unreachable,
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
    #[error("D-TA {url} answered something unexpected: {problem}")]
    Protocol {
        /// The D-TA.
        url: String,
        /// What was unexpected.
        problem: ProtocolProblem,
    },
}

/// Why a URL is not a D-TA URL ([`ClientError::BadUrl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlProblem {
    /// It is not a URI at all.
    #[error("cannot parse it")]
    Unparsable,
    /// The scheme is not `https`.
    #[error("the scheme must be https")]
    NotHttps,
    /// It has a path or a query: a D-TA is named by its origin alone.
    #[error("it must not have a path or a query")]
    PathOrQuery,
    /// It names no host.
    #[error("no host")]
    NoHost,
}

/// The step at which a D-TA could not be reached
/// ([`ClientError::Unreachable`]), with the error of that step.
///
/// The inner error is part of the message (the command-line tools print
/// one line), so it is not repeated as a `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unreachable {
    /// The TCP connection failed (refused, DNS, routing).
    #[error("{0}")]
    Connect(std::io::Error),
    /// The host is not a valid TLS server name.
    #[error("{0}")]
    ServerName(rustls_pki_types::InvalidDnsNameError),
    /// The TLS handshake failed (certificate not trusted, wrong name, …).
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    /// The HTTP exchange failed after the handshake.
    #[error("{0}")]
    Http(hyper::Error),
}

/// What in a D-TA's answer (or in building the request) did not follow the
/// API ([`ClientError::Protocol`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolProblem {
    /// The request body could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(serde_json::Error),
    /// The request could not be built (an invalid header value).
    #[error("cannot build the request: {0}")]
    Request(hyper::http::Error),
    /// A refusal status came without the API's JSON error body.
    #[error("HTTP {0} without a JSON error body")]
    NoErrorBody(StatusCode),
    /// The body could not be read, or exceeds [`MAX_RESPONSE`].
    #[error("cannot read the body: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
    /// The body is not the JSON the API specifies.
    #[error("not the expected JSON: {0}")]
    Json(serde_json::Error),
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

/// Why a CA file could not be used ([`ClientError::CaFile`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaFileProblem {
    /// The file could not be read or is not PEM.
    #[error("{0}")]
    Pem(rustls_pki_types::pem::Error),
    /// The file holds no certificate.
    #[error("no certificate in the file")]
    NoCertificate,
    /// rustls refused a certificate in it as a trust anchor.
    #[error("{0}")]
    Refused(rustls::Error),
}

/// Which CA certificates a client trusts for the D-TAs' certificates.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
                return Err(ClientError::NoSystemRoots);
            }
        }
        Trust::CaFile(path) => {
            for cert in ca_certs(path)? {
                roots
                    .add(cert)
                    .map_err(|e| ca_file_error(path, CaFileProblem::Refused(e)))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::TlsConfig)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn ca_file_error(path: &Path, problem: CaFileProblem) -> ClientError {
    ClientError::CaFile {
        path: path.to_owned(),
        problem,
    }
}

fn ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| ca_file_error(path, CaFileProblem::Pem(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_file_error(path, CaFileProblem::Pem(e)))?;
    if certs.is_empty() {
        return Err(ca_file_error(path, CaFileProblem::NoCertificate));
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
        let bad = |problem| ClientError::BadUrl {
            url: url.to_owned(),
            problem,
        };
        let uri: Uri = url.parse().map_err(|_| bad(UrlProblem::Unparsable))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad(UrlProblem::NotHttps));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad(UrlProblem::PathOrQuery));
        }
        let host = uri.host().ok_or_else(|| bad(UrlProblem::NoHost))?;
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
            Some(b) => {
                serde_json::to_vec(b).map_err(|e| self.protocol(ProtocolProblem::Encode(e)))?
            }
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
            .map_err(|e| self.protocol(ProtocolProblem::Request(e)))?;
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
                .map_err(|_| self.protocol(ProtocolProblem::NoErrorBody(status)))?;
            return Err(ClientError::Refused {
                url: self.url.clone(),
                code: body.error.code,
                message: body.error.message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(ProtocolProblem::Json(e)))
    }

    /// Sends `req` on a new TLS connection and reads the whole answer (at
    /// most [`MAX_RESPONSE`] bytes).
    async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| self.unreachable(Unreachable::Connect(e)))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| self.unreachable(Unreachable::ServerName(e)))?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| self.unreachable(Unreachable::Tls(e)))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.unreachable(Unreachable::Http(e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| self.unreachable(Unreachable::Http(e)))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| self.protocol(ProtocolProblem::Body(e)))?
            .to_bytes();
        Ok((status, bytes))
    }

    fn unreachable(&self, cause: Unreachable) -> ClientError {
        ClientError::Unreachable {
            url: self.url.clone(),
            cause,
        }
    }

    fn protocol(&self, problem: ProtocolProblem) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            problem,
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
