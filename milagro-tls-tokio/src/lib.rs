//! tokio integration for `milagro-tls`: an async acceptor and connector
//! over tokio-rustls 0.26.
//!
//! * [`TlsAcceptor`] reads the ClientHello through tokio-rustls's
//!   `LazyConfigAcceptor` with a recording reader (the same
//!   `ClientHelloRecorder` as the synchronous path), then runs the
//!   synchronous path's own step 1 and configuration choice
//!   (`milagro_tls::MilagroAcceptor::decide`: source
//!   throttle, CS attempt reservation, silent lockout, identity binding),
//!   the server's key exchange on a bounded blocking pool, and returns
//!   [`AcceptedStream::Standard`] or [`AcceptedStream::Milagro`] with an
//!   [`AuthenticatedIdentity`] only a finished, full, bound handshake yields.
//! * [`MilagroConnector`] computes the client's key share on the blocking
//!   pool, checks the server name before anything is sent, requires a full
//!   handshake on the Milagro group, and reports a refused credential as
//!   `MilagroError::CredentialRefused`. P2P connectors make one
//!   configuration per server identity, cached and bounded.
//!
//! * [`TlsAcceptor::accept_io`] takes the source from the stream (a
//!   `TcpStream`'s peer, [`PeerSource`]) as tokio-rustls's `accept(io)`
//!   does, and both sides' errors convert into `io::Error` (`?` in an
//!   `io::Result` function) with the typed error inside.
//! * Feature `hyper`: the [`http`] module, a `tower::Service<Uri>`
//!   connector for hyper-util's `Client` (and tonic), and a server loop for
//!   any tower service (an axum `Router`) that puts the client's
//!   [`AuthenticatedIdentity`] into every request's extensions.
//! * Features `ring` (default) / `aws-lc-rs`: the rustls provider feature
//!   milagro-tls turns on (see milagro-tls's crate docs).
//! * Feature `serde`: `serde::Deserialize` for [`AcceptorLimits`] (and
//!   milagro-tls's `GuardPolicy`), so limits and policies can come from a
//!   configuration file.
//!
//! Limits ([`AcceptorLimits`], [`ConnectorLimits`]) are on by default: a
//! global cap on concurrent handshakes, a cap on one source's connections
//! checked before anything is read, a ClientHello timeout shorter than the
//! handshake timeout, a bound on the blocking pool; per-source token
//! buckets are the guard's throttle
//! (`GuardPolicy::throttle`). Handshakes are traced (`milagro_accept` /
//! `milagro_connect` spans: source, suite, outcome, duration, and the
//! identity only after authentication); secrets and δ are never logged.
//!
//! # Example: a CS echo over loopback
//!
//! ```
//! use std::sync::Arc;
//! use milagro_tls::cs_tls;
//! use milagro_tls::dta::Combine;
//! use milagro_tls::guard::{Guard, GuardPolicy};
//! use milagro_tls::identity::Identity;
//! use milagro_tls::keys::{CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy};
//! use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
//! use milagro_tls::pairing::OsEntropy;
//! use milagro_tls::Classifier;
//! use milagro_tls_tokio::{AcceptedStream, TlsAcceptor, MilagroConnector};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One D-TA, no time permits; Alice's token and PIN 1234.
//! let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy)?;
//! let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy)?;
//! let alice = Identity::new("alice@example.com")?;
//! let ss = CsServerSecret::combine(&[dta.issue_cs_server_secret()?])?;
//! let cs = CsClientSecret::combine(&[dta.issue_cs_client_secret(&alice)?])?;
//! let digits = PinDigits::new(4)?;
//! let token = extract_pin(&cs, &Pin::parse("1234", digits)?)?;
//!
//! let server = TlsAcceptor::new(cs_tls::server(
//!     ss,
//!     cs_tls::ServerOptions::new(Guard::in_memory(GuardPolicy::default()), Classifier::new(1)?)
//!         .pin_digits(digits),
//! )?);
//! let client = MilagroConnector::new(cs_tls::client(token, Pin::parse("1234", digits)?, None)?);
//!
//! tokio::runtime::Runtime::new()?.block_on(async move {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let echo = tokio::spawn(async move {
//!         let (tcp, _) = listener.accept().await?;
//!         match server.accept_tcp(tcp).await? {
//!             AcceptedStream::Milagro(who, mut tls) => {
//!                 assert_eq!(who.identity().as_str(), "alice@example.com");
//!                 let mut buf = [0u8; 5];
//!                 tls.read_exact(&mut buf).await?;
//!                 tls.write_all(&buf).await?;
//!                 tls.shutdown().await?;
//!             }
//!             AcceptedStream::Standard(_) => unreachable!("Milagro-only listener"),
//!         }
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     });
//!     let tcp = tokio::net::TcpStream::connect(addr).await?;
//!     let mut tls = client.connect("service.example", tcp).await?;
//!     tls.write_all(b"hello").await?;
//!     let mut back = [0u8; 5];
//!     tls.read_exact(&mut back).await?;
//!     assert_eq!(&back, b"hello");
//!     echo.await??;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! }).map_err(|e| e as Box<dyn std::error::Error>)?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod acceptor;
mod blocking;
mod compat;
mod connector;
#[cfg(feature = "hyper")]
pub mod http;
mod recording;

pub use acceptor::{
    AcceptedStream, AcceptorLimits, AuthenticatedIdentity, BuildError, TlsAcceptError, TlsAcceptor,
};
pub use compat::PeerSource;
pub use connector::{ConnectError, ConnectorLimits, MilagroClientStream, MilagroConnector};
pub use milagro_tls::adapter::OverlapStats;
