//! The async connector over tokio-rustls's `TlsConnector` (docs/protocol.md
//! §8.4.1, §8.4.2, §8.4.5): the client's key share is computed on the bounded
//! blocking pool, the group and full-handshake rules are checked after the
//! handshake, and a refused credential is reported as
//! [`MilagroError::CredentialRefused`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use milagro_tls::adapter::{map_connect_error, map_refusal};
use milagro_tls::identity::Identity;
use milagro_tls::keys::P2pClientKey;
use milagro_tls::p2p_tls;
use milagro_tls::{FinishError, MilagroClient, MilagroError, Suite};
use rustls::ClientConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::{Instrument, field};

use crate::acceptor::rustls_error;
use crate::blocking::{BlockingPool, PoolError};

/// TLS record content type of an alert.
const CONTENT_TYPE_ALERT: u8 = 21;

/// The connector's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectorLimits {
    /// The whole handshake's budget. Default 10 s.
    pub handshake_timeout: Duration,
    /// Key-share computations running on the blocking pool at once.
    /// Default: the number of CPUs.
    pub blocking_threads: usize,
    /// P2P: client configurations kept (one per server identity; the least
    /// recently used is dropped first). Each holds one of the process's
    /// bounded Milagro key slots. Default 16.
    pub max_p2p_configs: usize,
}

impl Default for ConnectorLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            blocking_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_p2p_configs: 16,
        }
    }
}

/// Why [`MilagroConnector::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The Milagro error the user can act on: `CredentialRefused` (the
    /// server refused the key share: PIN, permit, lockout or clock),
    /// `ServerBusy` (throttled or busy: try again later),
    /// `GroupNotSupported` (the server does not speak the Milagro group),
    /// `ServerNameMismatch` / `InvalidServerName` (nothing sent),
    /// `KeyUnusable` (nothing sent), or another TLS error.
    #[error(transparent)]
    Milagro(#[from] MilagroError),
    /// The finished handshake broke a Milagro rule (not full, wrong group,
    /// server blob not as expected): the connection is dropped.
    #[error("finished handshake refused")]
    Finish(#[from] FinishError),
    /// The handshake did not finish within the timeout.
    #[error("the handshake timed out")]
    Timeout,
    /// The transport failed.
    #[error("I/O error during the handshake: {0}")]
    Io(io::Error),
    /// The blocking pool failed (a panic or runtime shutdown).
    #[error("the blocking pool failed")]
    Pool,
}

enum Kind {
    /// One configuration (CS, or P2P for one server identity).
    Fixed(MilagroClient),
    /// P2P with configurations made per server identity, cached.
    P2p {
        key: Box<P2pClientKey>,
        cache: Mutex<Vec<(Identity, MilagroClient)>>,
        /// The ALPN protocols every configuration made offers.
        alpn: Vec<Vec<u8>>,
    },
}

/// An async Milagro client over tokio-rustls. Cheap to clone.
#[derive(Clone)]
pub struct MilagroConnector {
    kind: Arc<Kind>,
    limits: ConnectorLimits,
    pool: BlockingPool,
}

impl core::fmt::Debug for MilagroConnector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MilagroConnector")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl MilagroConnector {
    /// A connector for one client configuration (`cs_tls::client`, or
    /// `p2p_tls::client` for one server identity), with default limits.
    pub fn new(client: MilagroClient) -> Self {
        Self::assemble(Kind::Fixed(client), ConnectorLimits::default())
    }

    /// A P2P connector for `key` that talks to any server identity: the
    /// server name given to [`connect`](Self::connect) *is* the server
    /// identity ID_A (canonicalised before anything is sent); one
    /// configuration per identity is made and cached (bounded by
    /// [`ConnectorLimits::max_p2p_configs`]).
    pub fn p2p(key: P2pClientKey) -> Self {
        Self::assemble(
            Kind::P2p {
                key: Box::new(key),
                cache: Mutex::new(Vec::new()),
                alpn: Vec::new(),
            },
            ConnectorLimits::default(),
        )
    }

    fn assemble(kind: Kind, limits: ConnectorLimits) -> Self {
        Self {
            kind: Arc::new(kind),
            pool: BlockingPool::new(limits.blocking_threads),
            limits,
        }
    }

    /// The same connector with `limits` (a fresh blocking-pool bound).
    pub fn with_limits(self, limits: ConnectorLimits) -> Self {
        Self {
            kind: self.kind,
            pool: BlockingPool::new(limits.blocking_threads),
            limits,
        }
    }

    /// The same connector offering ALPN (RFC 7301) `protocols`, in order
    /// of preference, on every connection (e.g. `b"h2"` for tonic, which
    /// speaks HTTP/2 only). The protocol the server chose is
    /// [`MilagroClientStream::alpn_protocol`]. Empty: no ALPN (the default).
    /// P2P: the per-identity configuration cache starts empty.
    pub fn with_alpn_protocols(self, protocols: Vec<Vec<u8>>) -> Self {
        let kind = match &*self.kind {
            Kind::Fixed(c) => Kind::Fixed(c.with_alpn_protocols(protocols)),
            Kind::P2p { key, .. } => Kind::P2p {
                key: key.clone(),
                cache: Mutex::new(Vec::new()),
                alpn: protocols,
            },
        };
        Self {
            kind: Arc::new(kind),
            ..self
        }
    }

    /// The suite this connector speaks.
    pub fn suite(&self) -> Suite {
        match &*self.kind {
            Kind::Fixed(c) => c.suite(),
            Kind::P2p { .. } => Suite::P2p,
        }
    }

    /// P2P: how many per-identity configurations are cached now.
    pub fn cached_configs(&self) -> usize {
        match &*self.kind {
            Kind::Fixed(_) => 0,
            Kind::P2p { cache, .. } => cache.lock().map(|c| c.len()).unwrap_or(0),
        }
    }

    /// Connects over `io` to `server_name`: checks the name before anything
    /// is sent, computes the key share on the blocking pool, runs the
    /// handshake within the timeout, then requires a full handshake on the
    /// Milagro group and returns the stream with the server's identity.
    ///
    /// The server's acceptance of the client's identity (bound to its key
    /// share) is only known at the first read: a refusal there is an I/O
    /// error wrapping rustls's `AlertReceived(AccessDenied)`.
    pub async fn connect<IO>(
        &self,
        server_name: &str,
        io: IO,
    ) -> Result<MilagroClientStream<IO>, ConnectError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let span = tracing::info_span!(
            "milagro_connect",
            server_name,
            outcome = field::Empty,
            duration_ms = field::Empty,
        );
        let started = Instant::now();
        let deadline = started + self.limits.handshake_timeout;
        let result = self
            .connect_inner(server_name, io, deadline)
            .instrument(span.clone())
            .await;
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1e3);
        match &result {
            Ok(_) => span.record("outcome", "ok"),
            Err(e) => span.record("outcome", field::display(e)),
        };
        result
    }

    async fn connect_inner<IO>(
        &self,
        server_name: &str,
        io: IO,
        deadline: Instant,
    ) -> Result<MilagroClientStream<IO>, ConnectError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let client = self.client_for(server_name, deadline).await?;
        let name = client.server_name(server_name)?;
        let config = client.rustls_config().clone();
        // ClientConnection::new computes the key share (pairing work).
        let connect = self
            .pool
            .run(deadline, move || {
                TlsConnector::from(config).connect(name, Tap::new(io))
            })
            .await
            .map_err(pool_error)?;
        let tls = match tokio::time::timeout_at(deadline, connect.into_fallible()).await {
            Err(_) => return Err(ConnectError::Timeout),
            Ok(Ok(tls)) => tls,
            Ok(Err((err, tap))) => return Err(map_handshake_error(client.suite(), err, &tap)),
        };
        let server_identity = client.finish(tls.get_ref().1)?;
        Ok(MilagroClientStream {
            inner: tls,
            server_identity,
        })
    }

    /// The configuration for `server_name` (P2P: made and cached per
    /// canonical identity; a name that is no identity fails here, before
    /// anything is sent).
    async fn client_for(
        &self,
        server_name: &str,
        deadline: Instant,
    ) -> Result<MilagroClient, ConnectError> {
        let (key, cache, alpn) = match &*self.kind {
            Kind::Fixed(c) => return Ok(c.clone()),
            Kind::P2p { key, cache, alpn } => (key, cache, alpn),
        };
        let id = Identity::new(server_name)
            .map_err(|_| MilagroError::InvalidServerName(server_name.to_owned()))?;
        if let Some(c) = lookup(cache, &id) {
            return Ok(c);
        }
        let (key, for_id) = ((**key).clone(), id.clone());
        let client = self
            .pool
            .run(deadline, move || p2p_tls::client(key, for_id))
            .await
            .map_err(pool_error)??;
        let client = if alpn.is_empty() {
            client
        } else {
            client.with_alpn_protocols(alpn.clone())
        };
        if let Ok(mut c) = cache.lock() {
            if !c.iter().any(|(i, _)| *i == id) {
                if c.len() >= self.limits.max_p2p_configs.max(1) {
                    c.remove(0);
                }
                c.push((id, client.clone()));
            }
        }
        Ok(client)
    }
}

fn lookup(cache: &Mutex<Vec<(Identity, MilagroClient)>>, id: &Identity) -> Option<MilagroClient> {
    let mut c = cache.lock().ok()?;
    let at = c.iter().position(|(i, _)| i == id)?;
    // Most recently used last.
    let entry = c.remove(at);
    let client = entry.1.clone();
    c.push(entry);
    Some(client)
}

fn pool_error(e: PoolError) -> ConnectError {
    match e {
        PoolError::Timeout => ConnectError::Timeout,
        PoolError::Failed => ConnectError::Pool,
    }
}

/// The async equivalent of `map_client_error_for`: an alert received as the
/// server's first record (a plaintext alert, so no ServerHello and no cipher
/// suite) is the server refusing before any key exchange, mapped by
/// `map_refusal` to the typed error the user can act on —
/// `CredentialRefused` (`illegal_parameter`: PIN, permit, lockout, clock),
/// `ServerBusy` (`internal_error`: throttled or busy, try again later) or
/// `GroupNotSupported` (`handshake_failure`); an error before anything was
/// written is the key exchange refusing to start.
fn map_handshake_error<IO>(suite: Suite, err: io::Error, tap: &Tap<IO>) -> ConnectError {
    let tls = match rustls_error(err) {
        Ok(tls) => tls,
        Err(e) => return ConnectError::Io(e),
    };
    if tap.written == 0 {
        return ConnectError::Milagro(map_connect_error(tls));
    }
    let before_server_hello = tap.first_read == Some(CONTENT_TYPE_ALERT);
    ConnectError::Milagro(map_refusal(Some(suite), tls, before_server_hello))
}

/// The client's transport, noting how many bytes were written and the
/// first byte the server sent (the content type of its first record).
#[derive(Debug)]
pub(crate) struct Tap<IO> {
    io: IO,
    written: u64,
    first_read: Option<u8>,
}

impl<IO> Tap<IO> {
    fn new(io: IO) -> Self {
        Self {
            io,
            written: 0,
            first_read: None,
        }
    }

    /// The transport.
    fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tap<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.first_read.is_none() {
            this.first_read = buf.filled().get(before).copied();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tap<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            this.written = this.written.saturating_add(*n as u64);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A Milagro client connection after a full handshake on its Milagro group;
/// reads and writes application data.
#[derive(Debug)]
pub struct MilagroClientStream<IO> {
    inner: TlsStream<Tap<IO>>,
    server_identity: Identity,
}

impl<IO> MilagroClientStream<IO> {
    /// The server's identity from its verified blob (P2P: ID_A, checked;
    /// CS: the informational service name).
    pub fn server_identity(&self) -> &Identity {
        &self.server_identity
    }

    /// The rustls connection.
    pub fn connection(&self) -> &ClientConnection {
        self.inner.get_ref().1
    }

    /// The ALPN protocol the server chose, if any (see
    /// [`MilagroConnector::with_alpn_protocols`]).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.connection().alpn_protocol()
    }

    /// The transport.
    pub fn get_ref(&self) -> &IO {
        self.inner.get_ref().0.get_ref()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for MilagroClientStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MilagroClientStream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
