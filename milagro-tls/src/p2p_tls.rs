//! TLS configurations for the P2P suite (Chow–Choo, `TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256`).
//!
//! * [`client`]: a [`MilagroClient`] from the client's key and the server
//!   identity ID_A. [`MilagroClient::connect`] refuses, before anything is
//!   sent, a server name that does not canonicalise to ID_A, and every
//!   connection checks the key's epoch against the clock first.
//! * [`server`]: a [`MilagroAcceptor`] from the current epoch's key and
//!   optionally the previous one's. Shares for any epoch other than the
//!   current one and the one before, by the server's clock, are refused at
//!   accept, and a server whose keys are for neither refuses to start
//!   (unless [`ServerOptions::allow_stale_keys`]). Sources are always
//!   throttled: by the given [`Guard`], or a default one.
//!
//! ```
//! use milagro_tls::p2p_tls;
//! use milagro_tls::dta::Combine;
//! use milagro_tls::identity::Identity;
//! use milagro_tls::keys::{Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey};
//! use milagro_tls::pairing::OsEntropy;
//!
//! let dep = P2pDeployment::new(1, 3600, &OsEntropy)?;
//! let dta = MasterShare::generate(Deployment::P2p(dep), &OsEntropy)?;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! // The epoch the client uses now (it allows for clock skew), which the server accepts too.
//! let epoch = p2p_tls::client_epoch(now, 3600);
//! let server_id = Identity::new("server.example")?;
//! let bob = Identity::new("bob@example.com")?;
//! let server_key = P2pServerKey::combine(&[dta.issue_p2p_server_key(&server_id, epoch)?])?;
//! let client_key = P2pClientKey::combine(&[dta.issue_p2p_client_key(&bob, epoch)?])?;
//!
//! let acceptor = p2p_tls::server(server_key, p2p_tls::ServerOptions::new())?;
//! let client = p2p_tls::client(client_key, server_id)?;
//! assert!(client.connect("other.example").is_err()); // not ID_A: nothing sent
//! let _conn = client.connect("server.example")?;
//! # let _ = acceptor;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use crate::guard::{Guard, GuardPolicy};
use crate::identity::Identity;
use crate::keys::{P2pClientKey, P2pServerKey, client_epoch_with_skew, epoch_of};
use crate::p2p::{P2pClient, P2pServer, check_server_epochs};
use crate::rustls_glue::accept::MilagroAcceptor;
use crate::rustls_glue::admission::Admission;
use crate::rustls_glue::config::{MilagroClient, MilagroServer};
use crate::rustls_glue::engine::{P2pClientKx, P2pServerKx, unix_now};
pub use crate::rustls_glue::error::{MilagroError, map_client_error};

/// The default clock-skew allowance for the client's epoch choice (protocol
/// §7.2), in seconds.
pub const DEFAULT_SKEW_SECS: u64 = 30;

/// The epoch a client built by [`client`] treats as current at unix time
/// `now_secs`: `epoch_of(now − skew)` with the [`DEFAULT_SKEW_SECS`]
/// allowance, at most half an epoch (docs/protocol.md §7.2). Issue a client
/// key for this epoch, not for `epoch_of(now)`: in the first seconds of each
/// epoch a client refuses a key for the new epoch with
/// [`KxError::KeyEpochNotCurrent`](crate::KxError::KeyEpochNotCurrent), since its
/// clock may be ahead of the server's.
pub fn client_epoch(now_secs: u64, epoch_seconds: u32) -> u32 {
    client_epoch_with_skew(now_secs, epoch_seconds, DEFAULT_SKEW_SECS)
}

/// A P2P client configuration: `my_key` (D_B) talking to `server_identity`
/// (ID_A).
///
/// Fails before anything is sent with [`MilagroError::KeyUnusable`] when the
/// key's epoch is neither the current one nor the one before.
pub fn client(
    my_key: P2pClientKey,
    server_identity: Identity,
) -> Result<MilagroClient, MilagroError> {
    client_at(my_key, server_identity, unix_now)
}

pub(crate) fn client_at(
    my_key: P2pClientKey,
    server_identity: Identity,
    now: fn() -> u64,
) -> Result<MilagroClient, MilagroError> {
    let identity = my_key.identity().clone();
    let epoch = my_key.epoch();
    let p2p =
        P2pClient::new(my_key, server_identity.clone(), None).map_err(MilagroError::KeyMismatch)?;
    let kx = P2pClientKx::new(p2p, DEFAULT_SKEW_SECS, now).map_err(MilagroError::KeyUnusable)?;
    kx.check().map_err(MilagroError::KeyUnusable)?;
    MilagroClient::new(Arc::new(kx), identity, epoch, Some(server_identity))
}

/// The P2P server's options besides its current key: the previous epoch's
/// key, the source throttle, and whether keys that no client could use now
/// are allowed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerOptions {
    previous: Option<P2pServerKey>,
    guard: Option<Guard>,
    allow_stale_keys: bool,
}

impl ServerOptions {
    /// The defaults: no previous key, an in-memory [`Guard`] with
    /// [`GuardPolicy::default`]'s throttle, and stale keys refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// The previous epoch's key (same identity and deployment, the epoch
    /// before the current key's), so clients still holding last epoch's key
    /// are served while the server's clock allows it. Takes a key or an
    /// `Option` (`None`: only the current key). [`server`] fails with
    /// [`MilagroError::KeyMismatch`] when it does not belong with the
    /// current key.
    pub fn previous_key(self, previous: impl Into<Option<P2pServerKey>>) -> Self {
        Self {
            previous: previous.into(),
            ..self
        }
    }

    /// The guard whose per-source throttle step 1 charges (one ClientHello's
    /// cost per key share that passed the cheap checks). Without one, the
    /// server makes its own in-memory guard with the default policy: a P2P
    /// server is never without a throttle (docs/protocol.md §9.5).
    pub fn guard(self, guard: Guard) -> Self {
        Self {
            guard: Some(guard),
            ..self
        }
    }

    /// With `true`, the server starts even when none of its keys is for the
    /// current epoch or the one before by its clock (e.g. keys issued ahead,
    /// loaded before their epoch begins). Such a server still refuses every
    /// share outside `{E_now, E_now − 1}`; the caller should warn (see
    /// [`check_server_keys`]). Default `false`: building fails with
    /// [`MilagroError::ServerKeysNotCurrent`].
    pub fn allow_stale_keys(self, allow: bool) -> Self {
        Self {
            allow_stale_keys: allow,
            ..self
        }
    }
}

/// Whether a P2P server with these keys could accept any client now: at
/// least one key is for the current epoch or the one before, by the system
/// clock (docs/protocol.md §5.6). Fails with
/// [`MilagroError::ServerKeysNotCurrent`] (naming the epochs) otherwise.
/// [`server`] makes this check itself (and also checks that the keys belong
/// together); use it to warn when starting with
/// [`ServerOptions::allow_stale_keys`].
pub fn check_server_keys(
    current: &P2pServerKey,
    previous: Option<&P2pServerKey>,
) -> Result<(), MilagroError> {
    let now_epoch = epoch_of(unix_now(), current.deployment().epoch_seconds);
    check_server_epochs(current.epoch(), previous.map(|p| p.epoch()), now_epoch)
        .map_err(MilagroError::ServerKeysNotCurrent)
}

/// A P2P acceptor with the `current` epoch's key and the [`ServerOptions`]
/// (the previous epoch's key, the guard whose source throttle it uses —
/// without one an in-memory guard with the default policy: a P2P server
/// always throttles sources, docs/protocol.md §9.5). Add standard clients
/// with [`MilagroAcceptor::with_standard`].
///
/// Only shares for the current epoch or the one before, by the system clock
/// at each connection, are accepted, whichever keys are held. Fails with
/// [`MilagroError::ServerKeysNotCurrent`] when no key is for either epoch now
/// (unless [`ServerOptions::allow_stale_keys`]),
/// [`MilagroError::KeyMismatch`] when the two keys do not belong together,
/// or [`MilagroError::Provider`] when too many keys are alive.
pub fn server(
    current: P2pServerKey,
    options: ServerOptions,
) -> Result<MilagroAcceptor, MilagroError> {
    server_at(current, options, unix_now)
}

pub(crate) fn server_at(
    current: P2pServerKey,
    options: ServerOptions,
    now: fn() -> u64,
) -> Result<MilagroAcceptor, MilagroError> {
    let identity = current.identity().clone();
    let epoch = current.epoch();
    let p2p = P2pServer::new(current, options.previous).map_err(MilagroError::KeyMismatch)?;
    if !options.allow_stale_keys {
        p2p.check_keys_at(now())
            .map_err(MilagroError::ServerKeysNotCurrent)?;
    }
    let guard = options
        .guard
        .unwrap_or_else(|| Guard::in_memory(GuardPolicy::default()));
    let kx = P2pServerKx::new(p2p, now).map_err(MilagroError::KeyUnusable)?;
    let admission = Admission::P2p {
        server: kx.server.clone(),
        guard,
        now,
    };
    let server = MilagroServer::with_admission(Arc::new(kx), identity, epoch, admission)?;
    MilagroAcceptor::new(Arc::new(server), None).ok_or(MilagroError::SuiteMismatch)
}
