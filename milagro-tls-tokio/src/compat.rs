//! The tokio-rustls shapes: [`TlsAcceptor::accept_io`] takes the
//! source address from the stream itself (a `TcpStream`'s peer), as
//! tokio-rustls's `TlsAcceptor::accept(io)` takes only the stream; the
//! acceptor's and connector's errors convert into `io::Error` (the typed
//! error stays inside, reachable with `get_ref()` and `downcast_ref`).

use std::io;
use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::acceptor::{AcceptedStream, TlsAcceptError, TlsAcceptor};
use crate::connector::ConnectError;
use milagro_tls::AcceptError;

/// A transport that knows the address of its peer: the source the
/// acceptor's admission and throttle count ([`TlsAcceptor::accept_io`]).
pub trait PeerSource {
    /// The peer's IP address, or the error reading it.
    fn peer_ip(&self) -> io::Result<IpAddr>;
}

impl PeerSource for TcpStream {
    fn peer_ip(&self) -> io::Result<IpAddr> {
        Ok(self.peer_addr()?.ip())
    }
}

#[cfg(unix)]
impl PeerSource for tokio::net::UnixStream {
    /// A Unix socket has no IP: every connection counts as the loopback
    /// address (the socket's file permissions decide who may connect).
    fn peer_ip(&self) -> io::Result<IpAddr> {
        Ok(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
    }
}

impl TlsAcceptor {
    /// [`accept`](Self::accept) with the source taken from the stream
    /// ([`PeerSource`]: a `TcpStream`'s peer address), mirroring
    /// tokio-rustls's `accept(io)`. Fails like `accept`, or with
    /// `TlsAcceptError::Accept(Io)` when the peer address cannot be read
    /// (nothing is read or written then).
    pub async fn accept_io<IO>(&self, io: IO) -> Result<AcceptedStream<IO>, TlsAcceptError>
    where
        IO: PeerSource + AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let source = io
            .peer_ip()
            .map_err(|e| TlsAcceptError::Accept(AcceptError::Io(e)))?;
        self.accept(source, io).await
    }
}

impl From<TlsAcceptError> for io::Error {
    /// Keeps the typed error inside (`get_ref()` → `downcast_ref::<TlsAcceptError>()`);
    /// the kind says timeouts and transport failures apart from refusals.
    fn from(e: TlsAcceptError) -> Self {
        let kind = match &e {
            TlsAcceptError::Timeout | TlsAcceptError::ClientHelloTimeout => io::ErrorKind::TimedOut,
            TlsAcceptError::Handshake(e) | TlsAcceptError::Accept(AcceptError::Io(e)) => e.kind(),
            TlsAcceptError::SourceBusy => io::ErrorKind::ConnectionRefused,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

impl From<ConnectError> for io::Error {
    /// Keeps the typed error inside (`get_ref()` → `downcast_ref::<ConnectError>()`,
    /// e.g. `ConnectError::Milagro(MilagroError::CredentialRefused)`).
    fn from(e: ConnectError) -> Self {
        let kind = match &e {
            ConnectError::Timeout => io::ErrorKind::TimedOut,
            ConnectError::Io(e) => e.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
