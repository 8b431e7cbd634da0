//! The two Milagro key-exchange groups ([`crate::suite`]) as rustls
//! `SupportedKxGroup`s, TLS 1.3 only (docs/protocol.md §8.4.6).
//!
//! An `InternedGroup` is one side (client or server) of one long-term key. It
//! does not own the key: it holds a `KeyCell` with a *weak* reference, while
//! the rustls configuration built around it owns the strong one (see
//! `provider.rs` for the interning and why).
//!
//! Errors go back to rustls as `Error::Other(OtherError(Arc<KxErrorCell>))`,
//! so the typed reason can be read back for reports (rustls itself sends
//! `illegal_parameter` whatever the error). The server side runs only inside
//! the accept path's [`bound_exchange`] scope, which binds the exchange to the
//! share step 1 checked and receives its outcome directly.

use std::sync::{Arc, Mutex, Weak};

use rustls::crypto::{ActiveKeyExchange, CompletedKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, OtherError, ProtocolVersion};
use zeroize::Zeroizing;

use super::engine::{
    ClientKeyExchange, ClientPending, KeyFingerprint, KxError, KxFailure, Precomputed,
    ServerKeyExchange,
};
use crate::suite::Suite;

/// The rustls name of a suite's group ([`Suite::group`]).
pub(crate) const fn named_group(suite: Suite) -> NamedGroup {
    NamedGroup::Unknown(suite.group())
}

pub(crate) fn kx_error(e: KxError) -> Error {
    Error::Other(OtherError(Arc::new(KxErrorCell { reason: e })))
}

/// What goes into `rustls::Error::Other` for a Milagro kx failure: the typed
/// reason only. What the accept path resolves an attempt with (the reason and,
/// for a failed CS proof, the classifier's evidence) travels through the
/// exchange's [`bound_exchange`] scope instead, so it never depends on what
/// rustls or an adapter does with the error.
#[derive(Debug)]
pub(crate) struct KxErrorCell {
    pub(crate) reason: KxError,
}

impl core::fmt::Display for KxErrorCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.reason, f)
    }
}

impl std::error::Error for KxErrorCell {}

/// The typed kx reason inside a rustls error, if any.
pub(crate) fn kx_reason(err: &Error) -> Option<KxError> {
    match err {
        Error::Other(other) => other
            .0
            .downcast_ref::<KxErrorCell>()
            .map(|c| c.reason.clone()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The per-connection scope of a server key exchange
// ---------------------------------------------------------------------------

/// SHA-256 of a client key share: the share the accept path prechecked and
/// bound a connection to (docs/protocol.md §6.4 step 2, "the share rustls
/// hands the key exchange is the share step 1 checked").
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShareDigest([u8; 32]);

impl ShareDigest {
    pub(crate) fn of(share: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(share).into())
    }
}

impl core::fmt::Debug for ShareDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ShareDigest({})", hex::encode(self.0))
    }
}

/// What one server key exchange reached, as the accept path resolves it.
pub(crate) enum KxOutcome {
    /// The share verified and the server answered it.
    Answered,
    /// The exchange failed: the typed reason and, for a failed CS proof, the
    /// classifier's evidence.
    Failed(KxFailure),
}

struct Scope {
    /// Taken by the first exchange: a second one in the same scope is unbound.
    bound: Option<ShareDigest>,
    /// Share-only work done ahead for the bound share, taken by the bound
    /// exchange.
    precomputed: Option<Precomputed>,
    /// Called by the bound exchange once its proof has verified.
    on_proof_good: Option<Box<dyn FnOnce()>>,
    outcome: Option<KxOutcome>,
}

thread_local! {
    /// The scope of the server key exchange running on this thread. rustls
    /// runs the exchange synchronously inside `Accepted::into_connection`,
    /// on the caller's thread; the interned `&'static` group objects are
    /// shared by every connection of a key, so this is the only per-connection
    /// channel between the accept path and the exchange.
    static SCOPE: core::cell::RefCell<Option<Scope>> = const { core::cell::RefCell::new(None) };
}

/// Restores the enclosing scope (normally none) when dropped, also on unwind.
struct Restore(Option<Scope>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        SCOPE.with(|s| *s.borrow_mut() = previous);
    }
}

/// Runs `f` (which must make rustls run the server key exchange, e.g.
/// `Accepted::into_connection`) with the exchange bound to the share whose
/// digest is `bound`, and returns what `f` returned (or its panic) together
/// with what the exchange reached: `None` when no exchange ran (rustls
/// refused the ClientHello before it). The bound exchange is handed
/// `precomputed` (which it uses only if made from the very share it gets),
/// and calls
/// `on_proof_good`, on this thread, when the share's proof has verified and
/// before its key agreement runs (never for a forced failure).
///
/// A server exchange outside such a scope, or with a share of another
/// digest, fails ([`KxError::UnboundShare`], [`KxError::ShareMismatch`]):
/// only bytes the accept path prechecked, and charged or reserved for, ever
/// reach the pairing work.
pub(crate) fn bound_exchange<T>(
    bound: ShareDigest,
    precomputed: Option<Precomputed>,
    on_proof_good: Option<Box<dyn FnOnce()>>,
    f: impl FnOnce() -> T,
) -> (std::thread::Result<T>, Option<KxOutcome>) {
    let restore = Restore(SCOPE.with(|s| {
        s.borrow_mut().replace(Scope {
            bound: Some(bound),
            precomputed,
            on_proof_good,
            outcome: None,
        })
    }));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let outcome = SCOPE.with(|s| s.borrow_mut().as_mut().and_then(|sc| sc.outcome.take()));
    drop(restore);
    (out, outcome)
}

/// The exchange's check of its share against the scope's binding (taken:
/// one exchange per scope).
fn check_bound(share: &[u8]) -> Result<(), KxError> {
    let bound = SCOPE.with(|s| s.borrow_mut().as_mut().and_then(|sc| sc.bound.take()));
    match bound {
        None => Err(KxError::UnboundShare),
        Some(d) if d == ShareDigest::of(share) => Ok(()),
        Some(_) => Err(KxError::ShareMismatch),
    }
}

/// The scope's precomputed work, taken (the bound exchange uses it once).
fn take_precomputed() -> Option<Precomputed> {
    SCOPE.with(|s| s.borrow_mut().as_mut().and_then(|sc| sc.precomputed.take()))
}

/// The scope's proof hook, taken (it runs once), and called outside the
/// scope's borrow.
fn proof_good() {
    let hook = SCOPE.with(|s| {
        s.borrow_mut()
            .as_mut()
            .and_then(|sc| sc.on_proof_good.take())
    });
    if let Some(hook) = hook {
        hook();
    }
}

/// Records the exchange's outcome in the scope (the first one only).
fn record(outcome: KxOutcome) {
    SCOPE.with(|s| {
        if let Some(sc) = s.borrow_mut().as_mut() {
            if sc.outcome.is_none() {
                sc.outcome = Some(outcome);
            }
        }
    });
}

/// Which side's key a cell refers to.
#[derive(Clone)]
pub(crate) enum WeakKey {
    Client(Weak<dyn ClientKeyExchange>),
    Server(Weak<dyn ServerKeyExchange>),
}

impl WeakKey {
    pub(crate) fn is_live(&self) -> bool {
        match self {
            Self::Client(w) => w.strong_count() > 0,
            Self::Server(w) => w.strong_count() > 0,
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self, Self::Client(_))
    }
}

/// The wipeable cell between an interned group and the key its
/// configuration owns: the fingerprint the slot is bound to and a weak
/// reference to the key. Once every configuration holding the key is dropped,
/// the key is dropped (and zeroized by its own `Drop`); the cell then yields
/// [`KxError::KeyWiped`].
pub(crate) struct KeyCell {
    pub(crate) fingerprint: KeyFingerprint,
    pub(crate) key: WeakKey,
}

/// One interned Milagro kx group object (see [`super::provider`]).
pub(crate) struct InternedGroup {
    pub(crate) suite: Suite,
    /// A forced-failure sibling (server side): every key exchange does its
    /// full work and fails (silent per-identity refusal, protocol §6.4).
    pub(crate) forced: bool,
    pub(crate) cell: Arc<Mutex<KeyCell>>,
}

impl core::fmt::Debug for InternedGroup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The fingerprint is public but says nothing useful in logs.
        f.debug_struct("InternedGroup")
            .field("group", &named_group(self.suite))
            .finish_non_exhaustive()
    }
}

impl InternedGroup {
    fn key(&self) -> WeakKey {
        self.cell
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .key
            .clone()
    }

    fn client_key(&self) -> Result<Arc<dyn ClientKeyExchange>, KxError> {
        match self.key() {
            WeakKey::Client(w) => w.upgrade().ok_or(KxError::KeyWiped),
            WeakKey::Server(_) => Err(KxError::WrongUse),
        }
    }

    fn server_key(&self) -> Result<Arc<dyn ServerKeyExchange>, KxError> {
        match self.key() {
            WeakKey::Server(w) => w.upgrade().ok_or(KxError::KeyWiped),
            WeakKey::Client(_) => Err(KxError::WrongUse),
        }
    }

    /// The server's exchange: the bound-share check first (before any
    /// decoding or pairing work), then the forced failure of a silent
    /// refusal (full work, then failure) or the real answer.
    fn server_exchange(&self, share: &[u8]) -> Result<CompletedKeyExchange, KxFailure> {
        let key = self.server_key()?;
        check_bound(share)?;
        let precomputed = take_precomputed();
        if self.forced {
            return Err(key.refuse(share, precomputed));
        }
        let (pub_key, secret) = key.respond(share, precomputed, &mut proof_good)?;
        Ok(CompletedKeyExchange {
            group: named_group(self.suite),
            pub_key,
            secret: SharedSecret::from(&secret[..]),
        })
    }
}

impl SupportedKxGroup for InternedGroup {
    /// Client side: makes the client's key share.
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let key = self.client_key().map_err(kx_error)?;
        let (share, pending) = key.start().map_err(kx_error)?;
        Ok(Box::new(ClientActive {
            group: named_group(self.suite),
            share,
            pending,
        }))
    }

    /// Server side: checks that the share is the one the accept path bound
    /// this connection to, verifies it and answers it. The outcome goes to
    /// the accept path's scope ([`bound_exchange`]) before rustls sees it.
    fn start_and_complete(&self, peer_pub_key: &[u8]) -> Result<CompletedKeyExchange, Error> {
        match self.server_exchange(peer_pub_key) {
            Ok(done) => {
                record(KxOutcome::Answered);
                Ok(done)
            }
            Err(failure) => {
                let reason = failure.reason.clone();
                record(KxOutcome::Failed(failure));
                Err(kx_error(reason))
            }
        }
    }

    fn name(&self) -> NamedGroup {
        named_group(self.suite)
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::TLSv1_3
    }
}

struct ClientActive {
    group: NamedGroup,
    share: Vec<u8>,
    pending: Box<dyn ClientPending>,
}

impl ActiveKeyExchange for ClientActive {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let secret: Zeroizing<[u8; 32]> = self.pending.finish(peer_pub_key).map_err(kx_error)?;
        Ok(SharedSecret::from(&secret[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.share
    }

    fn group(&self) -> NamedGroup {
        self.group
    }
}
