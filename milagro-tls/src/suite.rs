//! The two Milagro suites and every code point and name they put on the wire
//! (docs/protocol.md §8.1), in one table.
//!
//! Everything else — the key-file tags, the ClientHello parser and offer
//! policy, the rustls kx groups, the `milagro_implicit` signer and verifiers,
//! the error messages — reads its values from here. Nothing here names a
//! rustls type.

use core::fmt;

/// Named group `milagro_cs_bls12381` (private use): the key share carries the
/// one-pass M-Pin proof and the M-Pin Full key agreement (docs/protocol.md §6).
pub const CS_GROUP: u16 = 0xFE4D;
/// Named group `milagro_p2p_bls12381` (private use): the key share carries the
/// Chow–Choo key agreement (docs/protocol.md §7).
pub const P2P_GROUP: u16 = 0xFE50;
/// The name of [`CS_GROUP`].
pub const CS_GROUP_NAME: &str = "milagro_cs_bls12381";
/// The name of [`P2P_GROUP`].
pub const P2P_GROUP_NAME: &str = "milagro_p2p_bls12381";

/// Signature scheme `milagro_implicit`: the empty CertificateVerify of both
/// suites (docs/protocol.md §8.3). Its low byte is not 0x00–0x02, which
/// rustls would silently drop.
pub const IMPLICIT_SCHEME: u16 = 0xFE49;
/// The name of [`IMPLICIT_SCHEME`].
pub const IMPLICIT_SCHEME_NAME: &str = "milagro_implicit";

/// The TLS 1.3 cipher suites a Milagro server offers (ring's three:
/// `TLS_AES_128_GCM_SHA256`, `TLS_AES_256_GCM_SHA384`,
/// `TLS_CHACHA20_POLY1305_SHA256`). A Milagro offer must name one of them.
pub const CIPHER_SUITES: [u16; 3] = [0x1301, 0x1302, 0x1303];

/// The two Milagro suites. A deployment's CS and P2P master shares are
/// distinct secrets; every key is tagged with its suite, and each suite has
/// exactly one key-exchange group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// Client–server: M-Pin, group [`CS_GROUP`].
    Cs,
    /// Peer-to-peer: Chow–Choo, group [`P2P_GROUP`].
    P2p,
}

impl Suite {
    /// The suite's one-byte tag in key files and vectors (`1` CS, `2` P2P).
    pub const fn tag(self) -> u8 {
        match self {
            Self::Cs => 1,
            Self::P2p => 2,
        }
    }

    /// The suite for a tag byte; `None` for any other byte.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Cs),
            2 => Some(Self::P2p),
            _ => None,
        }
    }

    /// The code point of the suite's key-exchange group.
    pub const fn group(self) -> u16 {
        match self {
            Self::Cs => CS_GROUP,
            Self::P2p => P2P_GROUP,
        }
    }

    /// The suite whose key-exchange group has this code point; `None` for
    /// every other group.
    pub const fn from_group(code_point: u16) -> Option<Self> {
        match code_point {
            CS_GROUP => Some(Self::Cs),
            P2P_GROUP => Some(Self::P2p),
            _ => None,
        }
    }

    /// The suite's default profile name (docs/protocol.md §8.1): the TLS 1.3
    /// cipher suite, the group and the scheme it is used with.
    pub const fn profile_name(self) -> &'static str {
        match self {
            Self::Cs => "TLS_MILAGRO_CS_WITH_AES_128_GCM_SHA256",
            Self::P2p => "TLS_MILAGRO_P2P_WITH_AES_128_GCM_SHA256",
        }
    }

    /// The name of the suite's key-exchange group (`milagro_cs_bls12381`,
    /// `milagro_p2p_bls12381`).
    pub const fn group_name(self) -> &'static str {
        match self {
            Self::Cs => CS_GROUP_NAME,
            Self::P2p => P2P_GROUP_NAME,
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cs => "CS",
            Self::P2p => "P2P",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milagro_group_code_points() {
        assert_eq!(Suite::Cs.group(), 0xFE4D);
        assert_eq!(Suite::P2p.group(), 0xFE50);
        assert_eq!(IMPLICIT_SCHEME, 0xFE49);
        assert_eq!(CIPHER_SUITES, [0x1301, 0x1302, 0x1303]);
    }

    #[test]
    fn tables_round_trip() {
        for suite in [Suite::Cs, Suite::P2p] {
            assert_eq!(Suite::from_group(suite.group()), Some(suite));
            assert_eq!(Suite::from_tag(suite.tag()), Some(suite));
        }
        assert_eq!(Suite::from_group(0x001D), None);
        assert_eq!(Suite::from_tag(0), None);
        assert_eq!(Suite::from_tag(3), None);
        assert_eq!(Suite::Cs.group_name(), "milagro_cs_bls12381");
        assert_eq!(Suite::P2p.group_name(), "milagro_p2p_bls12381");
    }
}
