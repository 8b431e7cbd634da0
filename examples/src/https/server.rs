//! The HTTPS server: Milagro accept, then hyper HTTP/1.1 with the
//! authenticated identity captured per connection.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use milagro_tls_tokio::{Accepted, AuthenticatedIdentity, MilagroAcceptor};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::{UNAUTHENTICATED_BODY, greeting};

/// How long a client may take to send a request's headers (slow-header
/// clients are dropped).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTPS server over a Milagro acceptor. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpsServer {
    acceptor: MilagroAcceptor,
}

impl HttpsServer {
    /// A server accepting with `acceptor` (CS, P2P, optionally with a
    /// standard configuration for non-Milagro clients).
    pub fn new(acceptor: MilagroAcceptor) -> Self {
        Self { acceptor }
    }

    /// Accepts connections on `listener` forever, each in its own task.
    /// Fails only when the listener itself fails; a connection whose
    /// handshake or HTTP exchange fails is dropped (its error is reported
    /// on standard error, without any secret) and the loop goes on.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (tcp, peer) = listener.accept().await?;
            let this = self.clone();
            tokio::spawn(async move { this.handle(tcp, peer).await });
        }
    }

    /// One connection: the Milagro handshake, then HTTP.
    async fn handle(&self, tcp: TcpStream, peer: SocketAddr) {
        match self.acceptor.accept_tcp(tcp).await {
            Ok(Accepted::Milagro(who, tls)) => {
                if let Err(e) = serve_connection(tls, Some(who)).await {
                    eprintln!("https-server: {peer}: HTTP error: {e}");
                }
            }
            Ok(Accepted::Standard(tls)) => {
                if let Err(e) = serve_connection(tls, None).await {
                    eprintln!("https-server: {peer}: HTTP error: {e}");
                }
            }
            Err(e) => eprintln!("https-server: {peer}: handshake refused: {e}"),
        }
    }
}

/// Serves HTTP/1.1 on one established TLS stream until the client closes it.
/// With `Some(identity)` (a Milagro connection) every request is answered
/// `200` with [`greeting`]; with `None` (a standard connection) every request
/// gets `401 Unauthorized` and [`UNAUTHENTICATED_BODY`]. Fails with hyper's
/// error when the HTTP exchange breaks (malformed request, slow headers,
/// reset).
pub async fn serve_connection<S>(
    stream: S,
    identity: Option<AuthenticatedIdentity>,
) -> Result<(), hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let response = respond(identity.as_ref(), &req);
        async move { Ok::<_, Infallible>(response) }
    });
    http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await
}

/// The answer to any request on a connection authenticated as `identity`.
fn respond(
    identity: Option<&AuthenticatedIdentity>,
    _req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (status, body) = match identity {
        Some(who) => (StatusCode::OK, greeting(who)),
        None => (StatusCode::UNAUTHORIZED, UNAUTHENTICATED_BODY.to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
