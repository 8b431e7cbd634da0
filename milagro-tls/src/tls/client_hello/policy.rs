//! The offer policy: whether a parsed ClientHello is a standard one, a
//! well-formed Milagro offer, or a Milagro offer the accept path refuses.

use super::ParsedClientHello;
use super::parse::{COMPRESSION_NULL, EXT_PRE_SHARED_KEY, TLS13};
use crate::suite::{self, Suite};

/// What a ClientHello asks for, as far as the accept path's choice of
/// `ServerConfig` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer<'a> {
    /// No Milagro group is named in `supported_groups` or `key_share`: serve
    /// with the standard configuration.
    Standard,
    /// A well-formed Milagro offer: `group` is the only group listed, the only
    /// key share is for it, TLS 1.3 and `milagro_implicit` are offered.
    Milagro {
        /// The suite whose group is offered.
        group: Suite,
        /// The client's key share for that group (not yet checked in any
        /// way: its length and content are the suite's business).
        share: &'a [u8],
    },
}

/// Why a ClientHello that names a Milagro group was refused at accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferRefusal {
    /// Both Milagro groups are named (listed or shared).
    #[error("both Milagro groups offered")]
    BothMilagroGroups,
    /// A key share for a Milagro group that `supported_groups` does not list.
    #[error("key share for Milagro group {group:?}, which is not in supported_groups")]
    ShareForUnlistedGroup {
        /// The suite of the stray share's group.
        group: Suite,
    },
    /// A Milagro group is listed without a key share for it: rustls would
    /// answer with a HelloRetryRequest, and the second ClientHello would
    /// never be seen by the accept path.
    #[error("Milagro group {group:?} listed without a key share for it")]
    MissingShare {
        /// The suite of the listed group.
        group: Suite,
    },
    /// `supported_groups` lists something besides the one Milagro group (a
    /// non-Milagro group, or the Milagro group twice).
    #[error("Milagro group {group:?} listed alongside other groups")]
    NotAlone {
        /// The suite of the listed group.
        group: Suite,
    },
    /// `key_share` carries a share for a group besides the Milagro group.
    #[error("Milagro offer for {group:?} carries key shares for other groups")]
    OtherShares {
        /// The suite whose group is offered.
        group: Suite,
    },
    /// A Milagro group is offered without TLS 1.3 in `supported_versions`.
    #[error("Milagro group {group:?} offered without TLS 1.3")]
    NoTls13 {
        /// The suite whose group is offered.
        group: Suite,
    },
    /// A Milagro group is offered without the `milagro_implicit` signature
    /// scheme, so the handshake could not complete.
    #[error("Milagro group {group:?} offered without the milagro_implicit signature scheme")]
    NoImplicitScheme {
        /// The suite whose group is offered.
        group: Suite,
    },
    /// `legacy_compression_methods` is not exactly `[null]` (TLS 1.3,
    /// RFC 8446 §4.1.2; rustls refuses it before the key exchange).
    #[error("Milagro offer for {group:?} with compression methods other than exactly [null]")]
    Compression {
        /// The suite whose group is offered.
        group: Suite,
    },
    /// No cipher suite of [`suite::CIPHER_SUITES`] is offered (rustls would
    /// refuse before the key exchange: no cipher suite in common).
    #[error("Milagro offer for {group:?} names no TLS 1.3 cipher suite this server supports")]
    NoCommonCipherSuite {
        /// The suite whose group is offered.
        group: Suite,
    },
    /// A `pre_shared_key` extension: a Milagro client never resumes (and
    /// rustls checks the PSK offer's modes and binders before the key
    /// exchange).
    #[error("Milagro offer for {group:?} carries a pre_shared_key extension")]
    PreSharedKey {
        /// The suite whose group is offered.
        group: Suite,
    },
}

/// Decides whether a ClientHello is a standard one, a well-formed Milagro
/// offer, or a Milagro offer the accept path must refuse (docs/protocol.md §8.4.3, §8.4.4).
///
/// * [`Offer::Standard`] when neither Milagro group appears in
///   `supported_groups` nor in `key_share`. (Nothing else is checked: the
///   standard configuration and rustls judge the rest.)
/// * [`Offer::Milagro`] when `supported_groups` is exactly `[g]` for one
///   Milagro group `g`, `key_share` holds exactly one share and it is for `g`,
///   `supported_versions` contains TLS 1.3, `signature_algorithms`
///   contains [`suite::IMPLICIT_SCHEME`], the compression methods are
///   exactly `[null]`, a cipher suite of [`suite::CIPHER_SUITES`] is offered
///   and there is no `pre_shared_key` extension.
/// * Every other ClientHello naming a Milagro group is refused, checked in
///   this order: both groups ([`OfferRefusal::BothMilagroGroups`]), a Milagro
///   share whose group is not listed, the group listed without its share
///   (HelloRetryRequest bait), other groups listed, other shares present, no
///   TLS 1.3, no `milagro_implicit`, compression, no common cipher suite,
///   `pre_shared_key`.
///
/// The last three, with the parser's refusal of duplicate key shares and
/// certificate-compression algorithms, are everything rustls 0.23's TLS 1.3
/// server (with a Milagro configuration) refuses after `Acceptor::accept()`
/// and before it runs the key exchange. Refusing them here, before step 1,
/// matters for lockout (docs/protocol.md §6.4): an attempt that step 1
/// reserved (or silently refused and charged) must end only through the key
/// exchange's outcome, or the source's balance could differ between a locked
/// and an unlocked identity.
///
/// Why a Milagro group listed next to other groups is refused rather than
/// served: docs/protocol.md §8.4.1 has a Milagro client offer exactly its one group,
/// because a client that also offers, say, X25519 accepts the empty
/// `milagro_implicit` signature over whatever group the server picks — and
/// rustls's server picks the *first* group in the client's list it supports,
/// with HelloRetryRequest able to move the client to any offered group. Such
/// a ClientHello therefore comes from a broken or hostile client. Serving it
/// with the standard config would hand an unauthenticated connection to a
/// client that believes it is authenticated (and return `Standard` to the
/// application for a client that asked for Milagro); serving it with the
/// Milagro config would hide the client's misconfiguration, which leaves it
/// open to any man in the middle. Refusing makes it fail loudly.
pub fn classify(hello: &ParsedClientHello) -> Result<Offer<'_>, OfferRefusal> {
    let listed = |g: Suite| hello.supported_groups.contains(&g.group());
    let shared = |g: Suite| hello.key_share(g.group()).is_some();
    let named = |g: Suite| listed(g) || shared(g);

    let group = match (named(Suite::Cs), named(Suite::P2p)) {
        (false, false) => return Ok(Offer::Standard),
        (true, true) => return Err(OfferRefusal::BothMilagroGroups),
        (true, false) => Suite::Cs,
        (false, true) => Suite::P2p,
    };
    if !listed(group) {
        return Err(OfferRefusal::ShareForUnlistedGroup { group });
    }
    let Some(share) = hello.key_share(group.group()) else {
        return Err(OfferRefusal::MissingShare { group });
    };
    if hello.supported_groups.len() != 1 {
        return Err(OfferRefusal::NotAlone { group });
    }
    if hello.key_shares.len() != 1 {
        return Err(OfferRefusal::OtherShares { group });
    }
    if !hello.supported_versions.contains(&TLS13) {
        return Err(OfferRefusal::NoTls13 { group });
    }
    if !hello.signature_algorithms.contains(&suite::IMPLICIT_SCHEME) {
        return Err(OfferRefusal::NoImplicitScheme { group });
    }
    if hello.compression_methods != [COMPRESSION_NULL] {
        return Err(OfferRefusal::Compression { group });
    }
    if !hello
        .cipher_suites
        .iter()
        .any(|s| suite::CIPHER_SUITES.contains(s))
    {
        return Err(OfferRefusal::NoCommonCipherSuite { group });
    }
    if hello.extension_types.contains(&EXT_PRE_SHARED_KEY) {
        return Err(OfferRefusal::PreSharedKey { group });
    }
    Ok(Offer::Milagro {
        group,
        share: share.key_exchange(),
    })
}
