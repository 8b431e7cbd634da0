//! [`MilagroHttpsClient`]: GET over HTTP/1.1 (hyper's connection-level
//! client) on a [`MilagroConnector`] stream.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use milagro_tls::MilagroError;
use milagro_tls::cs_tls;
use milagro_tls::identity::Identity;
use milagro_tls::keys::{CsTimePermit, CsToken, P2pClientKey};
use milagro_tls::mpin::Pin;
use milagro_tls::p2p_tls;
use milagro_tls_tokio::{ConnectError, MilagroConnector};
use tokio::net::TcpStream;

/// The largest response body [`MilagroHttpsClient::get`] reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The default budget of one whole request (TCP, handshake, HTTP).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request (or building a client) failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    /// The URI is unusable: not `https`, no host, or no valid port.
    #[error("unusable URL {uri:?}: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The client configuration could not be made (e.g. a permit for
    /// another day, a P2P key of a past epoch, an invalid server identity).
    #[error("client configuration refused: {0}")]
    Config(MilagroError),
    /// The TCP connection failed.
    #[error("TCP connect to {addr} failed: {source}")]
    Connect {
        /// Where to.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The Milagro TLS handshake failed. A refused credential (wrong PIN,
    /// permit, lockout, clock) is
    /// `Tls(ConnectError::Milagro(MilagroError::CredentialRefused))`
    /// ([`is_credential_refused`](Self::is_credential_refused)); a P2P
    /// host that is not the pinned server identity is
    /// `Tls(ConnectError::Milagro(MilagroError::ServerNameMismatch{..}))`,
    /// found before anything is sent.
    #[error(transparent)]
    Tls(#[from] ConnectError),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The response body is larger than [`MAX_BODY_BYTES`].
    #[error("response body larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    /// The response body is not UTF-8.
    #[error("response body is not UTF-8")]
    NotUtf8,
    /// The whole request did not finish within the client's timeout.
    #[error("the request timed out")]
    Timeout,
}

impl HttpsError {
    /// Whether the server refused the client's credential (PIN, permit,
    /// lockout or clock).
    pub fn is_credential_refused(&self) -> bool {
        matches!(
            self,
            Self::Tls(ConnectError::Milagro(MilagroError::CredentialRefused))
        )
    }
}

/// A small HTTPS client over a [`MilagroConnector`]: one new connection per
/// request, the TLS server name taken from the URI's host. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MilagroHttpsClient {
    connector: MilagroConnector,
    connect_to: Option<SocketAddr>,
    timeout: Duration,
}

impl MilagroHttpsClient {
    /// A client over `connector`, connecting to the URI's host and port,
    /// with [`DEFAULT_TIMEOUT`].
    pub fn new(connector: MilagroConnector) -> Self {
        Self {
            connector,
            connect_to: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A CS client for `token` and `pin` (and today's `permit` when the
    /// deployment requires permits). Fails with [`HttpsError::Config`] when
    /// the permit does not fit; a wrong PIN is found only by the server.
    pub fn cs(token: CsToken, pin: Pin, permit: Option<CsTimePermit>) -> Result<Self, HttpsError> {
        let client = cs_tls::client(token, pin, permit).map_err(HttpsError::Config)?;
        Ok(Self::new(MilagroConnector::new(client)))
    }

    /// A P2P client talking to any server: each URI's host is the server
    /// identity (one configuration per identity, cached by the connector).
    pub fn p2p(key: P2pClientKey) -> Self {
        Self::new(MilagroConnector::p2p(key))
    }

    /// A P2P client pinned to `server_identity`: a URI whose host is another
    /// identity is refused with `ServerNameMismatch` before anything is
    /// sent. Fails with [`HttpsError::Config`] when the key is unusable now.
    pub fn p2p_pinned(key: P2pClientKey, server_identity: Identity) -> Result<Self, HttpsError> {
        let client = p2p_tls::client(key, server_identity).map_err(HttpsError::Config)?;
        Ok(Self::new(MilagroConnector::new(client)))
    }

    /// The same client connecting to `addr` whatever the URI's host (which
    /// stays the TLS server name and the `Host` header).
    pub fn connect_to(self, addr: SocketAddr) -> Self {
        Self {
            connect_to: Some(addr),
            ..self
        }
    }

    /// The same client with a budget of `timeout` per request.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// GETs `uri` (`https://HOST[:PORT]/PATH`, port 443 by default) over a
    /// new Milagro connection; returns the status and the body (UTF-8, at
    /// most [`MAX_BODY_BYTES`]). Fails with the first problem met (see
    /// [`HttpsError`]); everything is bounded by the client's timeout.
    pub async fn get(&self, uri: &Uri) -> Result<(StatusCode, String), HttpsError> {
        tokio::time::timeout(self.timeout, self.get_inner(uri))
            .await
            .map_err(|_| HttpsError::Timeout)?
    }

    async fn get_inner(&self, uri: &Uri) -> Result<(StatusCode, String), HttpsError> {
        let invalid = |reason| HttpsError::InvalidUri {
            uri: uri.to_string(),
            reason,
        };
        if uri.scheme_str() != Some("https") {
            return Err(invalid("the scheme must be https"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = authority.port_u16().unwrap_or(443);
        let tcp = match self.connect_to {
            Some(addr) => TcpStream::connect(addr).await,
            None => TcpStream::connect((host, port)).await,
        }
        .map_err(|source| HttpsError::Connect {
            addr: self
                .connect_to
                .map_or_else(|| format!("{host}:{port}"), |a| a.to_string()),
            source,
        })?;
        let tls = self.connector.connect(host, tcp).await?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(tls)).await?;
        let driver = tokio::spawn(conn);
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = Request::get(path)
            .header(header::HOST, authority.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|_| invalid("not a valid request target"))?;
        let result = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| match e.downcast::<hyper::Error>() {
                    Ok(h) => HttpsError::Http(*h),
                    Err(_) => HttpsError::BodyTooLarge,
                })?
                .to_bytes();
            let text = String::from_utf8(body.to_vec()).map_err(|_| HttpsError::NotUtf8)?;
            Ok((status, text))
        }
        .await;
        drop(sender);
        driver.abort();
        result
    }
}
