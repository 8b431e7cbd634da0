//! # milagro-tls
//!
//! Certificate-less, pairing-based TLS 1.3 for rustls: the two Apache Milagro
//! TLS cipher suites on BLS12-381, with keys issued in shares by several
//! independent Distributed Trust Authorities (D-TAs).
//!
//! * **CS** (`TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256`): M-Pin. A client holds a
//!   token and a PIN; it proves knowledge of its secret in the key share and
//!   runs the M-Pin Full key agreement with the server.
//! * **P2P** (`TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256`): Chow–Choo
//!   identity-based authenticated key agreement between two identities.
//!
//! The protocol is specified normatively in `docs/protocol.md`.
//!
//! The cryptographic core ([`pairing`], …) has no rustls types and can be
//! reviewed on its own.
//!
//! # Using it with rustls
//!
//! * CS: [`cs_tls::client`] (token + PIN + today's permit) and
//!   [`cs_tls::server`] (server secret + [`guard::Guard`] + classifier).
//! * P2P: [`p2p_tls::client`] (own key + the server identity ID_A) and
//!   [`p2p_tls::server`] (current and previous epoch keys, judged by the
//!   server's clock; a per-source throttle, a default one if no
//!   [`guard::Guard`] is given).
//!
//! Clients connect with [`MilagroClient::connect`] and map errors with
//! [`map_client_error`]; servers accept with [`MilagroAcceptor::accept`]
//! (with the source address), which returns [`Accepted::Standard`] or
//! [`Accepted::Milagro`], and only [`MilagroConnection::finish`] yields an
//! authenticated identity. The types an application writes are at the crate
//! root; the key material is in [`keys`] and [`keyfile`], the PIN in
//! [`mpin`], the lockout, replay and throttle policy in [`guard`]. An async
//! adapter (such as `milagro-tls-tokio`) builds on [`adapter`].
//!
//! # Cargo features
//!
//! * `engine-blst` (default) / `engine-pure`: the pairing engine (blst,
//!   C and assembly; or pure Rust for targets without a C compiler).
//! * `ring` (default) / `aws-lc-rs`: the AEAD, hash and randomness under the
//!   Milagro suites, and the one rustls crypto-provider feature this crate
//!   turns on. Milagro configurations never read, install or change rustls's
//!   process-wide default provider.
//! * `serde`: `serde::Deserialize` for the guard's policies
//!   ([`GuardPolicy`] and its parts), so they can come from a configuration
//!   file (see [`GuardPolicy`]).
//! * `test-util`: `pairing::SeededEntropy`, a deterministic entropy source
//!   for known-answer vectors, tests and fuzzing. **Never enable it in
//!   production**: keys drawn from it are predictable from its seed.
//!
//! # Examples
//!
//! Each example runs a whole handshake in memory: the client's bytes go to
//! the acceptor through `Vec` buffers instead of a socket. Real servers pass
//! the socket (and the peer's address) to `accept`, and drive the returned
//! rustls connection as usual.
//!
//! ## CS: a PIN and a token, keys from two D-TAs
//!
//! ```
//! use milagro_tls::cs_tls::{self, ServerOptions};
//! use milagro_tls::dta::Combine;
//! use milagro_tls::{Accepted, Classifier, Guard, GuardPolicy, Identity};
//! use milagro_tls::keys::{
//!     CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
//!     PermitPolicy, day_of,
//! };
//! use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
//! use milagro_tls::pairing::OsEntropy;
//! use rustls::{ClientConnection, ServerConnection};
//!
//! // Moves TLS records between the two sides until the handshake is over.
//! fn pump(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), Box<dyn std::error::Error>> {
//!     for _ in 0..10 {
//!         if !c.is_handshaking() && !s.is_handshaking() {
//!             break;
//!         }
//!         let mut buf = Vec::new();
//!         while s.wants_write() {
//!             s.write_tls(&mut buf)?;
//!         }
//!         let mut rd = &buf[..];
//!         while !rd.is_empty() {
//!             c.read_tls(&mut rd)?;
//!             c.process_new_packets()?;
//!         }
//!         let mut buf = Vec::new();
//!         while c.wants_write() {
//!             c.write_tls(&mut buf)?;
//!         }
//!         let mut rd = &buf[..];
//!         while !rd.is_empty() {
//!             s.read_tls(&mut rd)?;
//!             s.process_new_packets()?;
//!         }
//!     }
//!     Ok(())
//! }
//!
//! // Two independent D-TAs; time permits required.
//! let dep = CsDeployment::new(2, PermitPolicy::Required, &OsEntropy)?;
//! let dtas = [
//!     MasterShare::generate(Deployment::Cs(dep), &OsEntropy)?,
//!     MasterShare::generate(Deployment::Cs(dep), &OsEntropy)?,
//! ];
//! // Each D-TA issues its share; the holder adds them up.
//! let alice = Identity::new("alice@example.com")?;
//! let today = day_of(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs());
//! let server_secret = CsServerSecret::combine(&[
//!     dtas[0].issue_cs_server_secret()?,
//!     dtas[1].issue_cs_server_secret()?,
//! ])?;
//! let client_secret = CsClientSecret::combine(&[
//!     dtas[0].issue_cs_client_secret(&alice)?,
//!     dtas[1].issue_cs_client_secret(&alice)?,
//! ])?;
//! let permit = CsTimePermit::combine(&[
//!     dtas[0].issue_cs_time_permit(&alice, today)?,
//!     dtas[1].issue_cs_time_permit(&alice, today)?,
//! ])?;
//! // The client keeps a token: its secret with the PIN taken out.
//! let digits = PinDigits::new(4)?;
//! let token = extract_pin(&client_secret, &Pin::parse("1234", digits)?)?;
//!
//! let client = cs_tls::client(token, Pin::parse("1234", digits)?, Some(permit))?;
//! let acceptor = cs_tls::server(
//!     server_secret,
//!     ServerOptions::new(Guard::in_memory(GuardPolicy::default()), Classifier::new(1)?)
//!         .pin_digits(digits),
//! )?;
//!
//! // The client's first flight carries the M-Pin proof in its key share.
//! let mut conn = client.connect("service.example")?;
//! let mut hello = Vec::new();
//! conn.write_tls(&mut hello)?;
//! let source = std::net::IpAddr::from([192, 0, 2, 1]);
//! let mut alert = Vec::new();
//! let Accepted::Milagro(mut server) = acceptor.accept(source, &mut &hello[..], &mut alert)? else {
//!     unreachable!("a Milagro client")
//! };
//! pump(&mut conn, server.connection_mut())?;
//! // Only `finish` gives the identity the key share proved.
//! let who = server.finish()?;
//! println!("server: authenticated {who}");
//! assert_eq!(who, alice);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## P2P: two identities, keys per epoch
//!
//! ```
//! use milagro_tls::dta::Combine;
//! use milagro_tls::keys::{Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey};
//! use milagro_tls::p2p_tls;
//! use milagro_tls::pairing::OsEntropy;
//! use milagro_tls::{Accepted, Identity};
//! # use rustls::{ClientConnection, ServerConnection};
//! # fn pump(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), Box<dyn std::error::Error>> {
//! #     for _ in 0..10 {
//! #         let mut buf = Vec::new();
//! #         while s.wants_write() { s.write_tls(&mut buf)?; }
//! #         let mut rd = &buf[..];
//! #         while !rd.is_empty() { c.read_tls(&mut rd)?; c.process_new_packets()?; }
//! #         let mut buf = Vec::new();
//! #         while c.wants_write() { c.write_tls(&mut buf)?; }
//! #         let mut rd = &buf[..];
//! #         while !rd.is_empty() { s.read_tls(&mut rd)?; s.process_new_packets()?; }
//! #     }
//! #     Ok(())
//! # }
//! // (`pump` moves records between the sides, as in the CS example.)
//!
//! let dep = P2pDeployment::new(2, 3600, &OsEntropy)?; // 1-hour epochs
//! let dtas = [
//!     MasterShare::generate(Deployment::P2p(dep), &OsEntropy)?,
//!     MasterShare::generate(Deployment::P2p(dep), &OsEntropy)?,
//! ];
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! // The epoch a client uses (allowing for clock skew) is also one the server accepts.
//! let epoch = p2p_tls::client_epoch(now, 3600);
//! let server_id = Identity::new("server.example")?;
//! let bob = Identity::new("bob@example.com")?;
//! let server_key = P2pServerKey::combine(&[
//!     dtas[0].issue_p2p_server_key(&server_id, epoch)?,
//!     dtas[1].issue_p2p_server_key(&server_id, epoch)?,
//! ])?;
//! let client_key = P2pClientKey::combine(&[
//!     dtas[0].issue_p2p_client_key(&bob, epoch)?,
//!     dtas[1].issue_p2p_client_key(&bob, epoch)?,
//! ])?;
//!
//! // No guard given: the server throttles sources with a default one.
//! let acceptor = p2p_tls::server(server_key, p2p_tls::ServerOptions::new())?;
//! let client = p2p_tls::client(client_key, server_id.clone())?;
//! let mut conn = client.connect("server.example")?;
//! let mut hello = Vec::new();
//! conn.write_tls(&mut hello)?;
//! let source = std::net::IpAddr::from([192, 0, 2, 1]);
//! let Accepted::Milagro(mut server) = acceptor.accept(source, &mut &hello[..], &mut Vec::new())? else {
//!     unreachable!("a Milagro client")
//! };
//! pump(&mut conn, server.connection_mut())?;
//! // Mutual: each side learns the other's identity.
//! println!("server: authenticated {}", server.finish()?);
//! println!("client: talking to {}", client.finish(&conn)?);
//! assert_eq!(server.finish()?, bob);
//! assert_eq!(client.finish(&conn)?, server_id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Standard and Milagro clients on one listener
//!
//! [`MilagroAcceptor::with_standard`]
//! adds an ordinary rustls `ServerConfig` (X.509, X25519 …) to a Milagro
//! acceptor; `accept` tells the clients apart by their ClientHello. A
//! standard client never gets a Milagro identity.
//!
//! ```
//! use std::sync::Arc;
//! use milagro_tls::dta::Combine;
//! use milagro_tls::keys::{Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey};
//! use milagro_tls::p2p_tls;
//! use milagro_tls::pairing::OsEntropy;
//! use milagro_tls::{Accepted, Identity};
//! use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
//! # use rustls::{ClientConnection, ServerConnection};
//! # fn pump(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), Box<dyn std::error::Error>> {
//! #     for _ in 0..10 {
//! #         let mut buf = Vec::new();
//! #         while s.wants_write() { s.write_tls(&mut buf)?; }
//! #         let mut rd = &buf[..];
//! #         while !rd.is_empty() { c.read_tls(&mut rd)?; c.process_new_packets()?; }
//! #         let mut buf = Vec::new();
//! #         while c.wants_write() { c.write_tls(&mut buf)?; }
//! #         let mut rd = &buf[..];
//! #         while !rd.is_empty() { s.read_tls(&mut rd)?; s.process_new_packets()?; }
//! #     }
//! #     Ok(())
//! # }
//! # let dep = P2pDeployment::new(1, 3600, &OsEntropy)?;
//! # let dta = MasterShare::generate(Deployment::P2p(dep), &OsEntropy)?;
//! # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! # let epoch = p2p_tls::client_epoch(now, 3600);
//! # let server_id = Identity::new("server.example")?;
//! # let bob = Identity::new("bob@example.com")?;
//! # let server_key = P2pServerKey::combine(&[dta.issue_p2p_server_key(&server_id, epoch)?])?;
//! # let client_key = P2pClientKey::combine(&[dta.issue_p2p_client_key(&bob, epoch)?])?;
//! // Keys issued as in the P2P example.
//! let milagro_client = p2p_tls::client(client_key, server_id)?;
//!
//! // An X.509 certificate for the standard clients (here self-signed).
//! let cert = rcgen::generate_simple_self_signed(vec!["server.example".to_string()])?;
//! let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
//! let provider = Arc::new(rustls::crypto::ring::default_provider());
//! let standard = rustls::ServerConfig::builder_with_provider(provider.clone())
//!     .with_safe_default_protocol_versions()?
//!     .with_no_client_auth()
//!     .with_single_cert(vec![cert.cert.der().clone()], key)?;
//! let acceptor = p2p_tls::server(server_key, p2p_tls::ServerOptions::new())?
//!     .with_standard(Arc::new(standard))
//!     .expect("the standard config offers no Milagro group");
//!
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(cert.cert.der().clone())?;
//! let standard_client = Arc::new(
//!     rustls::ClientConfig::builder_with_provider(provider)
//!         .with_safe_default_protocol_versions()?
//!         .with_root_certificates(roots)
//!         .with_no_client_auth(),
//! );
//! let source = std::net::IpAddr::from([192, 0, 2, 1]);
//! for milagro in [false, true] {
//!     let mut conn = if milagro {
//!         milagro_client.connect("server.example")?
//!     } else {
//!         ClientConnection::new(standard_client.clone(), ServerName::try_from("server.example")?)?
//!     };
//!     let mut hello = Vec::new();
//!     conn.write_tls(&mut hello)?;
//!     match acceptor.accept(source, &mut &hello[..], &mut Vec::new())? {
//!         Accepted::Standard(mut server) => {
//!             pump(&mut conn, &mut server)?;
//!             println!("standard TLS client, {:?}", server.negotiated_key_exchange_group().map(|g| g.name()));
//!             assert!(!milagro);
//!         }
//!         Accepted::Milagro(mut server) => {
//!             pump(&mut conn, server.connection_mut())?;
//!             println!("Milagro client {}", server.finish()?);
//!             assert!(milagro);
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapter;
pub mod cs_tls;
pub mod dta;
pub mod guard;
pub mod identity;
pub mod keyfile;
pub mod keys;
pub mod mpin;
pub mod p2p;
pub mod p2p_tls;
pub mod pairing;
pub mod points;
mod rustls_glue;
#[cfg(feature = "serde")]
pub mod serde_duration;
pub mod suite;
pub mod tls;

pub use guard::{Classifier, Guard, GuardPolicy};
pub use identity::Identity;
pub use rustls_glue::accept::{Accepted, MilagroAcceptor, MilagroConnection};
pub use rustls_glue::admission::AdmissionRefusal;
pub use rustls_glue::config::MilagroClient;
pub use rustls_glue::engine::{Binding, ClientKeyError, KxError};
pub use rustls_glue::error::{
    AcceptError, AcceptRefusal, FinishError, MilagroError, map_client_error,
};
pub use rustls_glue::identity_blob;
pub use rustls_glue::{MAX_LIVE_KEYS, ProviderError};
pub use suite::Suite;
