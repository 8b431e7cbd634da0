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
//!   [`p2p_tls::server`] (current and previous epoch keys).
//!
//! Clients connect with [`rustls_glue::config::MilagroClient::connect`] and
//! map errors with [`rustls_glue::error::map_client_error`]; servers accept
//! with [`rustls_glue::accept::MilagroAcceptor::accept`] (with the source
//! address), which returns `Standard(conn)` or `Milagro(conn)`, and only
//! [`rustls_glue::accept::MilagroConnection::finish`] yields an
//! authenticated identity.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

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
pub mod rustls_glue;
pub mod tls;
