//! The `https-server` and `https-client` programs: HTTP/1.1 (hyper 1.x) over
//! milagro-tls through the tokio adapter.
//!
//! * [`server`]: an axum `Router` ([`server::router`]) served by
//!   `milagro_tls_tokio::http::serve_connection` after
//!   [`milagro_tls_tokio::TlsAcceptor::accept_io`]; the adapter puts the
//!   connection's [`AuthenticatedIdentity`] into every request, and the
//!   handler takes it as `Extension<AuthenticatedIdentity>` and answers
//!   `hello <identity>, <suite>` ([`greeting`]). A standard (non-Milagro)
//!   connection, possible only when the acceptor was given a standard
//!   configuration, has no identity: every request on it gets
//!   `401 Unauthorized` and no greeting.
//! * [`client`]: [`MilagroHttpsClient`], this project's own hyper client
//!   over [`milagro_tls_tokio::MilagroConnector`]. It does not use
//!   hyper-rustls: that shares one client configuration across hosts, while a
//!   P2P client needs one per server identity (the connector keeps one per
//!   identity). hyper-util's pooled `Client` works too, over
//!   `milagro_tls_tokio::http::MilagroHttpsConnector` (see the tests). The TLS server name is the URI's host; for P2P that host *is*
//!   the server's identity.
//! * [`cli`]: the two programs' arguments and key loading.

pub mod cli;
pub mod client;
pub mod server;

use milagro_tls_tokio::AuthenticatedIdentity;

pub use client::{HttpsError, MilagroHttpsClient};
pub use server::{HttpsServer, serve_connection};

/// The body the server answers an authenticated request with:
/// `hello <canonical identity>, <suite>` (suite `CS` or `P2P`), e.g.
/// `hello alice@example.com, CS`.
pub fn greeting(who: &AuthenticatedIdentity) -> String {
    format!("hello {}, {}", who.identity(), who.suite())
}

/// The body of the `401 Unauthorized` answer on a standard (non-Milagro)
/// connection.
pub const UNAUTHENTICATED_BODY: &str = "no Milagro identity on this connection\n";
