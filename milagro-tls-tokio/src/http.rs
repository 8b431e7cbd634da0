//! hyper / tower integration (cargo feature `hyper`).
//!
//! * Client: [`MilagroHttpsConnector`] is a `tower::Service<http::Uri>`, the
//!   connector type hyper-util's legacy `Client` and tonic's
//!   `Endpoint::connect_with_connector` take. Each call opens a TCP
//!   connection to the URI's host and port and runs
//!   [`MilagroConnector::connect`] on it (the key share on the blocking
//!   pool, the name checked before anything is sent). The stream,
//!   [`MilagroHttpsStream`], implements hyper's `rt::Read`/`rt::Write` and
//!   hyper-util's `Connection`, which hands the authenticated
//!   [`ServerPeer`] to every response's extensions and tells hyper-util to
//!   speak HTTP/2 when ALPN chose `h2`. tonic speaks HTTP/2 only: give it a
//!   connector made with
//!   [`MilagroConnector::with_alpn_protocols`]`(vec![ALPN_H2.to_vec()])`.
//! * Server: [`serve_connection`] serves one accepted connection with any
//!   tower service (an axum `Router`, a tonic service), inserting the
//!   client's [`AuthenticatedIdentity`] (Milagro connections only) and the
//!   [`PeerAddr`] into every request's extensions; [`serve`] runs the
//!   accept loop over a `TcpListener`. It speaks HTTP/2 on connections
//!   whose ALPN chose `h2` (offer it with
//!   `MilagroAcceptor::with_alpn_protocols`, and in a standard
//!   configuration's `alpn_protocols`) and HTTP/1.1 on all others.
//!   Standard TLS clients on the same listener are served with no identity
//!   inserted.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use milagro_tls::identity::Identity;
use milagro_tls::suite::Suite;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::acceptor::{AcceptedStream, AuthenticatedIdentity, TlsAcceptor};
use crate::connector::{ConnectError, MilagroClientStream, MilagroConnector};

/// The default TCP port of an `https` URI without one.
const HTTPS_PORT: u16 = 443;

/// The ALPN protocol name of HTTP/2 over TLS (RFC 9113 §3.2).
pub const ALPN_H2: &[u8] = b"h2";

/// The ALPN protocol name of HTTP/1.1 (RFC 7301 §6).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The server a [`MilagroHttpsStream`] authenticated, in every response's
/// extensions when the stream is used by hyper-util's legacy `Client`
/// (`response.extensions().get::<ServerPeer>()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPeer {
    identity: Identity,
    suite: Suite,
}

impl ServerPeer {
    /// The server's identity from its verified blob (P2P: ID_A, checked
    /// against the name connected to; CS: the informational service name).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The suite of the handshake.
    pub fn suite(&self) -> Suite {
        self.suite
    }
}

/// Why [`MilagroHttpsConnector`] could not connect. hyper-util's `Client`
/// wraps it in its own error: walk `source()` and downcast to find it (and,
/// inside [`Handshake`](Self::Handshake), the typed Milagro error, e.g.
/// `MilagroError::CredentialRefused`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpsConnectError {
    /// The URI's scheme is not `https` (nothing was sent).
    #[error("the URI's scheme is not https")]
    NotHttps,
    /// The URI has no host (nothing was sent).
    #[error("the URI has no host")]
    NoHost,
    /// The TCP connection failed.
    #[error("TCP connection failed")]
    Tcp(#[source] io::Error),
    /// The Milagro handshake failed.
    #[error("Milagro handshake failed")]
    Handshake(#[source] ConnectError),
}

impl From<HttpsConnectError> for io::Error {
    fn from(e: HttpsConnectError) -> Self {
        let kind = match &e {
            HttpsConnectError::NotHttps | HttpsConnectError::NoHost => io::ErrorKind::InvalidInput,
            HttpsConnectError::Tcp(e) => e.kind(),
            HttpsConnectError::Handshake(ConnectError::Timeout) => io::ErrorKind::TimedOut,
            HttpsConnectError::Handshake(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A tower `Service<Uri>` opening Milagro connections (see the module
/// docs). Cheap to clone; clones share the connector's blocking pool and
/// P2P configuration cache.
///
/// The TLS server name is the URI's host: for a P2P connector made with
/// [`MilagroConnector::p2p`] the host *is* the server's identity ID_A; for
/// a connector pinned to one identity a different host is refused before
/// anything is sent.
#[derive(Debug, Clone)]
pub struct MilagroHttpsConnector {
    connector: MilagroConnector,
}

impl MilagroHttpsConnector {
    /// A service connecting with `connector`.
    pub fn new(connector: MilagroConnector) -> Self {
        Self { connector }
    }

    /// Connects to `uri` (scheme `https`, port 443 unless given).
    pub async fn connect(&self, uri: Uri) -> Result<MilagroHttpsStream, HttpsConnectError> {
        if uri.scheme_str() != Some("https") {
            return Err(HttpsConnectError::NotHttps);
        }
        let host = uri.host().ok_or(HttpsConnectError::NoHost)?;
        // An IPv6 literal comes bracketed; TCP wants it bare.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(HTTPS_PORT);
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(HttpsConnectError::Tcp)?;
        // Nagle would delay small requests behind the handshake's last flight.
        let _ = tcp.set_nodelay(true);
        let suite = self.connector.suite();
        let tls = self
            .connector
            .connect(host, tcp)
            .await
            .map_err(HttpsConnectError::Handshake)?;
        let peer = ServerPeer {
            identity: tls.server_identity().clone(),
            suite,
        };
        let h2 = tls.alpn_protocol() == Some(ALPN_H2);
        Ok(MilagroHttpsStream {
            inner: TokioIo::new(tls),
            peer,
            h2,
        })
    }
}

impl tower_service::Service<Uri> for MilagroHttpsConnector {
    type Response = MilagroHttpsStream;
    type Error = HttpsConnectError;
    type Future =
        Pin<Box<dyn Future<Output = Result<MilagroHttpsStream, HttpsConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Load is bounded inside `connect` (the blocking pool's slots).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(uri).await })
    }
}

/// A finished Milagro client connection over TCP, for hyper: implements
/// `hyper::rt::Read`/`Write` and hyper-util's `Connection` (which puts the
/// [`ServerPeer`] into every response's extensions).
#[derive(Debug)]
pub struct MilagroHttpsStream {
    inner: TokioIo<MilagroClientStream<TcpStream>>,
    peer: ServerPeer,
    /// ALPN chose HTTP/2.
    h2: bool,
}

impl MilagroHttpsStream {
    /// The authenticated server.
    pub fn peer(&self) -> &ServerPeer {
        &self.peer
    }

    /// The Milagro stream.
    pub fn get_ref(&self) -> &MilagroClientStream<TcpStream> {
        self.inner.inner()
    }
}

impl Connection for MilagroHttpsStream {
    fn connected(&self) -> Connected {
        let connected = Connected::new().extra(self.peer.clone());
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl Read for MilagroHttpsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl Write for MilagroHttpsStream {
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

/// A tower service the server side can run for each connection: takes
/// hyper's requests, never fails (errors are responses), and can be cloned
/// into a task per connection — an axum `Router`, or any
/// `tower::Service` built with `service_fn`. Implemented for every such
/// service; name it in bounds rather than implementing it.
pub trait HttpService:
    tower_service::Service<
        Request<Incoming>,
        Response = Response<Self::Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type Body: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static;
}

impl<S, B> HttpService for S
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Body = B;
}

/// The client's TCP address, in every request's extensions on the server
/// side ([`serve_connection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one accepted connection with `service` until the client closes
/// it: HTTP/2 when the handshake's ALPN chose `h2` ([`ALPN_H2`]), HTTP/1.1
/// otherwise. Every request carries [`PeerAddr`]`(peer)` in its
/// extensions and, on a Milagro connection, the client's
/// [`AuthenticatedIdentity`] (an axum handler takes it as
/// `Extension<AuthenticatedIdentity>`, or `Option<Extension<…>>` where
/// standard clients are served too); a standard connection carries no
/// identity, so no handler can mistake it for an authenticated one. Fails
/// with hyper's error when the HTTP exchange breaks (malformed request,
/// headers slower than [`HEADER_READ_TIMEOUT`], reset).
pub async fn serve_connection<IO, S>(
    accepted: AcceptedStream<IO>,
    peer: SocketAddr,
    service: S,
) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    match accepted {
        AcceptedStream::Milagro(who, tls) => {
            let version = Version::of(tls.get_ref().1.alpn_protocol());
            serve_io(tls, Some(who), Some(peer), service, version).await
        }
        AcceptedStream::Standard(tls) => {
            let version = Version::of(tls.get_ref().1.alpn_protocol());
            serve_io(tls, None, Some(peer), service, version).await
        }
    }
}

/// The HTTP version a connection speaks, from its ALPN.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    Http1,
    Http2,
}

impl Version {
    fn of(alpn: Option<&[u8]>) -> Self {
        if alpn == Some(ALPN_H2) {
            Self::Http2
        } else {
            Self::Http1
        }
    }
}

/// [`serve_connection`] on an established stream, in HTTP/1.1 (the stream
/// carries no ALPN to say otherwise): `identity` (which only the acceptor
/// can make) and `peer`, when given, go into every request's extensions;
/// when `identity` is `None` any [`AuthenticatedIdentity`] already in a
/// request's extensions is removed.
pub async fn serve_stream<IO, S>(
    io: IO,
    identity: Option<AuthenticatedIdentity>,
    peer: Option<SocketAddr>,
    service: S,
) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    serve_io(io, identity, peer, service, Version::Http1).await
}

async fn serve_io<IO, S>(
    io: IO,
    identity: Option<AuthenticatedIdentity>,
    peer: Option<SocketAddr>,
    service: S,
    version: Version,
) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    let service = TowerToHyperService::new(WithPeer {
        inner: service,
        identity,
        peer: peer.map(PeerAddr),
    });
    match version {
        Version::Http1 => {
            hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(io), service)
                .await
        }
        // Each stream's request runs as its own task on the runtime; hyper
        // bounds the concurrent streams of one connection.
        Version::Http2 => {
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(io), service)
                .await
        }
    }
}

/// Accepts connections on `listener` forever, each in its own task: the
/// Milagro (or standard) handshake with `acceptor`, then
/// [`serve_connection`] with a clone of `service`. Fails only when the
/// listener fails; a refused handshake or a broken HTTP exchange drops that
/// connection (logged at debug level, without secrets) and the loop goes on.
pub async fn serve<S>(listener: TcpListener, acceptor: TlsAcceptor, service: S) -> io::Result<()>
where
    S: HttpService,
{
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let service = service.clone();
        tokio::spawn(async move {
            match acceptor.accept_tcp(tcp).await {
                Ok(accepted) => {
                    if let Err(e) = serve_connection(accepted, peer, service).await {
                        tracing::debug!(%peer, error = %e, "HTTP connection failed");
                    }
                }
                Err(e) => tracing::debug!(%peer, error = %e, "handshake refused"),
            }
        });
    }
}

/// `inner` with the connection's identity and address put into each
/// request's extensions.
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    identity: Option<AuthenticatedIdentity>,
    peer: Option<PeerAddr>,
}

impl<S, B> tower_service::Service<Request<B>> for WithPeer<S>
where
    S: tower_service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Whatever a client sent cannot stand in for these: they are set
        // here, by the server, from the handshake.
        match self.peer {
            Some(p) => req.extensions_mut().insert(p),
            None => req.extensions_mut().remove::<PeerAddr>(),
        };
        match &self.identity {
            Some(who) => {
                req.extensions_mut().insert(who.clone());
            }
            None => {
                req.extensions_mut().remove::<AuthenticatedIdentity>();
            }
        }
        self.inner.call(req)
    }
}
