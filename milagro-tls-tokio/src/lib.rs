//! tokio integration for `milagro-tls`.
//!
//! Not yet implemented: the acceptor and connector arrive with the rustls adapter.
#![forbid(unsafe_code)]
