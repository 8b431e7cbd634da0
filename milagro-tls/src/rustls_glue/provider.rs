//! The `CryptoProvider` of a Milagro configuration (docs/protocol.md §8.4.1, §8.4.7):
//! the TLS 1.3 cipher suites, randomness, key loading and signature
//! algorithms of ring or aws-lc-rs (cargo feature, [`base_provider`]), and **exactly one** key-exchange group, the Milagro group of
//! the configuration's key. A Milagro client can therefore never offer (or be
//! moved by HelloRetryRequest to) a group whose handshake the empty
//! `milagro_implicit` signature would not authenticate.
//!
//! # Interning (docs/protocol.md §8.4.7)
//! rustls wants `&'static dyn SupportedKxGroup`, and a `'static` object is
//! never dropped, so it must not own a long-term secret. Instead:
//! * one [`InternedGroup`] object is leaked per (suite, side, key fingerprint)
//!   and kept in a global registry, so building many configurations for the
//!   same key does not leak more;
//! * the object holds only a cell with the key's fingerprint and a **weak**
//!   reference; the configuration (its verifier, see `config.rs`) owns the
//!   strong `Arc` to the key. When the last configuration for a key is dropped
//!   the key is dropped and zeroized, and the group answers
//!   [`KxError::KeyWiped`](super::engine::KxError::KeyWiped);
//! * a slot whose key is gone is reused for the next key of the same suite and
//!   side, so the registry holds at most [`MAX_LIVE_KEYS`] objects and is full
//!   only when that many keys are alive at once ([`ProviderError::TooManyKeys`]).
//!
//! Caveat (documented, not enforceable): a caller that clones the provider
//! `Arc` out of a dropped configuration and keeps using it could, after slot
//! reuse, run the next key of the same suite. The glue never does this.

use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;

use super::engine::{ClientKeyExchange, KeyFingerprint, ServerKeyExchange};
use super::kx::{InternedGroup, KeyCell, WeakKey};
use crate::suite::Suite;

/// How many Milagro keys (both suites, both sides) may be alive at once in
/// one process.
pub const MAX_LIVE_KEYS: usize = 256;

/// Why a Milagro provider could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Too many distinct Milagro keys are alive in this process.
    #[error(
        "too many Milagro keys are alive in this process (cap {cap}); drop unused configurations first"
    )]
    TooManyKeys {
        /// The cap that was hit.
        cap: usize,
    },
}

static REGISTRY: Mutex<Vec<&'static InternedGroup>> = Mutex::new(Vec::new());

/// Interns `key` into `registry` (bounded by `cap`). Returns the group and
/// the key the configuration must own: when an equal key (same fingerprint)
/// is already alive, that one is shared, so no configuration's key can be
/// wiped while another still uses the group.
fn intern_in(
    registry: &mut Vec<&'static InternedGroup>,
    cap: usize,
    suite: Suite,
    forced: bool,
    fingerprint: KeyFingerprint,
    key: WeakKey,
) -> Result<(&'static InternedGroup, WeakKey), ProviderError> {
    let same_kind = |g: &InternedGroup, cell: &KeyCell| {
        g.suite == suite && g.forced == forced && cell.key.is_client() == key.is_client()
    };
    let mut dead_slot = None;
    for g in registry.iter() {
        let mut cell = g.cell.lock().unwrap_or_else(|p| p.into_inner());
        if !same_kind(g, &cell) {
            continue;
        }
        if cell.fingerprint == fingerprint {
            if !cell.key.is_live() {
                cell.key = key;
            }
            return Ok((g, cell.key.clone()));
        }
        if dead_slot.is_none() && !cell.key.is_live() {
            dead_slot = Some(*g);
        }
    }
    if let Some(g) = dead_slot {
        let mut cell = g.cell.lock().unwrap_or_else(|p| p.into_inner());
        *cell = KeyCell {
            fingerprint,
            key: key.clone(),
        };
        return Ok((g, key));
    }
    if registry.len() >= cap {
        return Err(ProviderError::TooManyKeys { cap });
    }
    let g: &'static InternedGroup = Box::leak(Box::new(InternedGroup {
        suite,
        forced,
        cell: Arc::new(Mutex::new(KeyCell {
            fingerprint,
            key: key.clone(),
        })),
    }));
    registry.push(g);
    Ok((g, key))
}

fn intern(
    suite: Suite,
    forced: bool,
    fingerprint: KeyFingerprint,
    key: WeakKey,
) -> Result<(&'static InternedGroup, WeakKey), ProviderError> {
    let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    intern_in(
        &mut registry,
        MAX_LIVE_KEYS,
        suite,
        forced,
        fingerprint,
        key,
    )
}

/// The interned client group for `key` and the key the configuration must
/// keep alive (possibly an equal key already in use).
pub(crate) fn intern_client(
    key: Arc<dyn ClientKeyExchange>,
) -> Result<(&'static InternedGroup, Arc<dyn ClientKeyExchange>), ProviderError> {
    let (group, owned) = intern(
        key.suite(),
        false,
        key.fingerprint(),
        WeakKey::Client(Arc::downgrade(&key)),
    )?;
    // The returned weak is either ours (alive: we hold `key`) or an equal live
    // key's; upgrading can only fail if that key died in between, and then
    // ours is the right one to keep.
    let owned = match owned {
        WeakKey::Client(w) => w.upgrade().unwrap_or(key),
        WeakKey::Server(_) => key,
    };
    Ok((group, owned))
}

/// The interned server group for `key`, its forced-failure sibling (same
/// key, every exchange fails after doing its work) and the key the
/// configuration must keep alive (possibly an equal key already in use).
pub(crate) fn intern_server(
    key: Arc<dyn ServerKeyExchange>,
) -> Result<
    (
        &'static InternedGroup,
        &'static InternedGroup,
        Arc<dyn ServerKeyExchange>,
    ),
    ProviderError,
> {
    let (group, owned) = intern(
        key.suite(),
        false,
        key.fingerprint(),
        WeakKey::Server(Arc::downgrade(&key)),
    )?;
    let owned = match owned {
        WeakKey::Server(w) => w.upgrade().unwrap_or(key),
        WeakKey::Client(_) => key,
    };
    let (forced, _) = intern(
        owned.suite(),
        true,
        owned.fingerprint(),
        WeakKey::Server(Arc::downgrade(&owned)),
    )?;
    Ok((group, forced, owned))
}

/// The provider for one Milagro group: the TLS 1.3 suites and other parts of
/// the base provider chosen by this crate's cargo feature ([`base_provider`]),
/// `kx_groups == [group]`. `TLS13_AES_128_GCM_SHA256` comes first, so both
/// sides negotiate the suite the profiles are named after
/// (`TLS_MILAGRO_*_WITH_AES_128_GCM_SHA256`); the other two TLS 1.3 suites stay
/// available to peers that prefer them.
pub(crate) fn milagro_provider(group: &'static InternedGroup) -> CryptoProvider {
    let base = base_provider();
    let mut cipher_suites: Vec<_> = base
        .cipher_suites
        .iter()
        .copied()
        .filter(|s| s.tls13().is_some())
        .collect();
    cipher_suites.sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    CryptoProvider {
        cipher_suites,
        kx_groups: vec![group],
        ..base
    }
}

/// The AEAD, hash, randomness and key-loading parts of every Milagro
/// configuration: rustls's ring provider with the `ring` feature (the
/// default), else its aws-lc-rs provider (`aws-lc-rs` feature). Built
/// afresh from the feature, never from (and never installed as) rustls's
/// process-wide default provider, so a Milagro configuration neither
/// depends on nor changes what the rest of the application's rustls uses.
pub(crate) fn base_provider() -> CryptoProvider {
    #[cfg(feature = "ring")]
    {
        rustls::crypto::ring::default_provider()
    }
    #[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
    {
        rustls::crypto::aws_lc_rs::default_provider()
    }
}

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "milagro-tls needs a crypto provider for its AEAD and hash: enable the `ring` (default) or `aws-lc-rs` feature"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rustls_glue::engine::KxError;
    use crate::rustls_glue::engine::toy::ToyDeployment;
    use crate::rustls_glue::kx::named_group;
    use rustls::crypto::SupportedKxGroup;

    #[test]
    fn provider_has_one_group_and_only_tls13_suites() {
        let d = ToyDeployment::random(Suite::Cs);
        let (group, _owned) = intern_client(d.client("alice@example.com", 0)).unwrap();
        let p = milagro_provider(group);
        assert_eq!(p.kx_groups.len(), 1);
        assert_eq!(p.kx_groups[0].name(), named_group(Suite::Cs));
        assert!(!p.cipher_suites.is_empty());
        assert!(p.cipher_suites.iter().all(|s| s.tls13().is_some()));
        assert_eq!(p.cipher_suites.len(), 3);
        assert_eq!(
            p.cipher_suites[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
    }

    #[test]
    fn equal_keys_share_one_group_and_the_key_is_wiped_with_its_configs() {
        let d = ToyDeployment::random(Suite::P2p);
        let k1 = d.client("bob@example.com", 3);
        let k2 = d.client("bob@example.com", 3);
        let (g1, owned1) = intern_client(k1.clone()).unwrap();
        let (g2, owned2) = intern_client(k2).unwrap();
        assert!(core::ptr::eq(g1, g2));
        // The second configuration shares the first, live key.
        assert!(Arc::ptr_eq(&owned1, &owned2));
        assert!(g1.start().is_ok());
        drop((k1, owned1, owned2));
        let err = g1.start().err().unwrap();
        let Error::Other(other) = err else {
            panic!("expected Error::Other, got {err:?}")
        };
        assert!(matches!(
            crate::rustls_glue::kx::kx_reason(&Error::Other(other)),
            Some(KxError::KeyWiped)
        ));
        // The dead slot comes back for the same key.
        let k3 = d.client("bob@example.com", 3);
        let (g3, _o3) = intern_client(k3).unwrap();
        assert!(core::ptr::eq(g1, g3));
        assert!(g3.start().is_ok());
    }

    use rustls::Error;

    #[test]
    fn registry_is_capped_and_reuses_dead_slots() {
        let mut reg = Vec::new();
        let d = ToyDeployment::random(Suite::Cs);
        let a = d.server();
        let b = ToyDeployment::random(Suite::Cs).server();
        let c = ToyDeployment::random(Suite::Cs).server();
        let weak = |k: &Arc<dyn ServerKeyExchange>| WeakKey::Server(Arc::downgrade(k));
        let (ga, _) = intern_in(&mut reg, 2, Suite::Cs, false, a.fingerprint(), weak(&a)).unwrap();
        let (gb, _) = intern_in(&mut reg, 2, Suite::Cs, false, b.fingerprint(), weak(&b)).unwrap();
        assert!(!core::ptr::eq(ga, gb));
        assert_eq!(
            intern_in(&mut reg, 2, Suite::Cs, false, c.fingerprint(), weak(&c)).err(),
            Some(ProviderError::TooManyKeys { cap: 2 })
        );
        assert_eq!(reg.len(), 2);
        drop(a);
        let (gc, _) = intern_in(&mut reg, 2, Suite::Cs, false, c.fingerprint(), weak(&c)).unwrap();
        assert!(core::ptr::eq(ga, gc));
        assert_eq!(reg.len(), 2);
        assert_eq!(
            ProviderError::TooManyKeys { cap: 2 }.to_string(),
            "too many Milagro keys are alive in this process (cap 2); drop unused configurations first"
        );
    }
}
