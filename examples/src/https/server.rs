//! The HTTPS server: an axum [`Router`] served over Milagro with
//! `milagro_tls_tokio::http`. The handler takes the client's
//! [`AuthenticatedIdentity`] as an axum `Extension`, put into each request
//! by the adapter from the finished handshake; a standard (non-Milagro)
//! connection carries none.

use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Extension;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use milagro_tls_tokio::AuthenticatedIdentity;
use milagro_tls_tokio::TlsAcceptor;
use milagro_tls_tokio::http;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::{UNAUTHENTICATED_BODY, greeting};

pub use milagro_tls_tokio::http::HEADER_READ_TIMEOUT;

/// An HTTPS server over a Milagro acceptor. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpsServer {
    acceptor: TlsAcceptor,
}

impl HttpsServer {
    /// A server accepting with `acceptor` (CS, P2P, optionally with a
    /// standard configuration for non-Milagro clients).
    pub fn new(acceptor: TlsAcceptor) -> Self {
        Self { acceptor }
    }

    /// Accepts connections on `listener` forever, each in its own task.
    /// Fails only when the listener itself fails; a connection whose
    /// handshake or HTTP exchange fails is dropped (its error is reported
    /// on standard error, without any secret) and the loop goes on.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let app = router();
        loop {
            let (tcp, peer) = listener.accept().await?;
            let this = self.clone();
            let app = app.clone();
            tokio::spawn(async move { this.handle(tcp, peer, app).await });
        }
    }

    /// One connection: the Milagro handshake, then HTTP.
    async fn handle(&self, tcp: TcpStream, peer: SocketAddr, app: Router) {
        match self.acceptor.accept_io(tcp).await {
            Ok(accepted) => {
                if let Err(e) = http::serve_connection(accepted, peer, app).await {
                    eprintln!("https-server: {peer}: HTTP error: {e}");
                }
            }
            Err(e) => eprintln!("https-server: {peer}: handshake refused: {e}"),
        }
    }
}

/// The server's routes: every path answers [`hello`].
pub fn router() -> Router {
    Router::new().fallback(hello)
}

/// `200` with [`greeting`] for an authenticated client, `401 Unauthorized`
/// with [`UNAUTHENTICATED_BODY`] for a standard connection (no identity in
/// the request's extensions).
async fn hello(who: Option<Extension<AuthenticatedIdentity>>) -> impl IntoResponse {
    let (status, body) = match who {
        Some(Extension(who)) => (StatusCode::OK, greeting(&who)),
        None => (StatusCode::UNAUTHORIZED, UNAUTHENTICATED_BODY.to_owned()),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
}

/// Serves HTTP/1.1 with [`router`] on one established TLS stream until the
/// client closes it. With `Some(identity)` (a Milagro connection) every
/// request is answered `200` with [`greeting`]; with `None` (a standard
/// connection) every request gets `401 Unauthorized` and
/// [`UNAUTHENTICATED_BODY`]. Fails with hyper's error when the HTTP
/// exchange breaks (malformed request, slow headers, reset).
pub async fn serve_connection<S>(
    stream: S,
    identity: Option<AuthenticatedIdentity>,
) -> Result<(), hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    http::serve_stream(stream, identity, None, router()).await
}
