//! The two Milagro key-exchange groups as rustls `SupportedKxGroup`s:
//! `milagro_cs_bls12381` (0xFE4D) and `milagro_p2p_bls12381` (0xFE50),
//! TLS 1.3 only (design §2a.6).
//!
//! A `MilagroGroup` is one side (client or server) of one long-term key. It
//! does not own the key: it holds a `KeyCell` with a *weak* reference, while
//! the rustls configuration built around it owns the strong one (see
//! `provider.rs` for the interning and why).
//!
//! Errors go back to rustls as `Error::Other(OtherError(Arc<KxError>))`, so the
//! accept path can downcast the typed reason (rustls itself sends
//! `illegal_parameter` whatever the error).

use std::sync::{Arc, Mutex, Weak};

use rustls::crypto::{ActiveKeyExchange, CompletedKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, OtherError, ProtocolVersion};
use zeroize::Zeroizing;

use super::engine::{
    ClientKeyExchange, ClientPending, KeyFingerprint, KxError, KxFailure, ServerKeyExchange,
};
use crate::keys::Suite;
use crate::mpin::FailedProof;

/// The CS group's code point (private-use range).
pub const CS_GROUP: NamedGroup = NamedGroup::Unknown(0xFE4D);
/// The P2P group's code point (private-use range).
pub const P2P_GROUP: NamedGroup = NamedGroup::Unknown(0xFE50);

/// The TLS group of a suite.
pub const fn named_group(suite: Suite) -> NamedGroup {
    match suite {
        Suite::Cs => CS_GROUP,
        Suite::P2p => P2P_GROUP,
    }
}

/// The suite of a Milagro group code point, `None` for any other group.
pub fn suite_of_group(group: u16) -> Option<Suite> {
    match group {
        0xFE4D => Some(Suite::Cs),
        0xFE50 => Some(Suite::P2p),
        _ => None,
    }
}

pub(crate) fn kx_error(e: KxError) -> Error {
    kx_failure(KxFailure::from(e))
}

/// What goes into `rustls::Error::Other` for a Milagro kx failure: the typed
/// reason and, for a failed CS proof, the classifier's evidence, which the
/// accept path takes out exactly once ([`take_evidence`]).
pub(crate) struct KxErrorCell {
    pub(crate) reason: KxError,
    evidence: Mutex<Option<Box<FailedProof>>>,
}

impl core::fmt::Debug for KxErrorCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The evidence determines δ: never printed.
        f.debug_struct("KxErrorCell")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl core::fmt::Display for KxErrorCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.reason, f)
    }
}

impl std::error::Error for KxErrorCell {}

pub(crate) fn kx_failure(e: KxFailure) -> Error {
    Error::Other(OtherError(Arc::new(KxErrorCell {
        reason: e.reason,
        evidence: Mutex::new(e.evidence),
    })))
}

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

/// Takes the failed-proof evidence out of a rustls error (once).
pub(crate) fn take_evidence(err: &Error) -> Option<Box<FailedProof>> {
    match err {
        Error::Other(other) => other
            .0
            .downcast_ref::<KxErrorCell>()
            .and_then(|c| c.evidence.lock().unwrap_or_else(|p| p.into_inner()).take()),
        _ => None,
    }
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
pub(crate) struct MilagroGroup {
    pub(crate) suite: Suite,
    /// A forced-failure sibling (server side): every key exchange does its
    /// full work and fails (silent per-identity refusal, protocol §6.4).
    pub(crate) forced: bool,
    pub(crate) cell: Arc<Mutex<KeyCell>>,
}

impl core::fmt::Debug for MilagroGroup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The fingerprint is public but says nothing useful in logs.
        f.debug_struct("MilagroGroup")
            .field("group", &named_group(self.suite))
            .finish_non_exhaustive()
    }
}

impl MilagroGroup {
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
}

impl SupportedKxGroup for MilagroGroup {
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

    /// Server side: verifies the client's share and answers it.
    fn start_and_complete(&self, peer_pub_key: &[u8]) -> Result<CompletedKeyExchange, Error> {
        let key = self.server_key().map_err(kx_error)?;
        if self.forced {
            return Err(kx_error(key.refuse(peer_pub_key)));
        }
        let (pub_key, secret) = key.respond(peer_pub_key).map_err(kx_failure)?;
        Ok(CompletedKeyExchange {
            group: named_group(self.suite),
            pub_key,
            secret: SharedSecret::from(&secret[..]),
        })
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
