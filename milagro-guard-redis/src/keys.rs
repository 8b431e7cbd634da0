//! Key names. Every key of one identity carries the hash tag `{h:<hid>}`,
//! a source's bucket `{s:<source>}`, so each script's keys fall in one
//! Redis Cluster slot.

use std::net::IpAddr;

use milagro_tls::guard::{ReplayKey, SourceKey};
use milagro_tls::identity::Hid;

#[derive(Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    fn tag(&self, hid: &[u8; 32]) -> String {
        format!("{}:{{h:{}}}", self.prefix, hex::encode(hid))
    }

    /// Confirmed (`c`), cumulative (`k`) counts and the slow-down TAT (`t`).
    pub(crate) fn identity(&self, hid: &Hid) -> String {
        format!("{}:id", self.tag(hid.as_bytes()))
    }

    /// The reservations in flight: id → `<stage>:<expiry>`.
    pub(crate) fn slots(&self, hid: &Hid) -> String {
        format!("{}:slots", self.tag(hid.as_bytes()))
    }

    /// The marker of a terminal resolution of reservation `id`.
    pub(crate) fn done(&self, hid: &Hid, id: u64) -> String {
        format!("{}:done:{id}", self.tag(hid.as_bytes()))
    }

    /// The replay-cache entry of (HID, U).
    pub(crate) fn replay(&self, key: &ReplayKey) -> String {
        format!("{}:rp:{}", self.tag(key.hid()), hex::encode(key.u()))
    }

    /// The token bucket of a source (IPv4 address or IPv6 /64).
    pub(crate) fn bucket(&self, source: IpAddr) -> String {
        let unit = match SourceKey::of(source) {
            SourceKey::V4(a) => format!("4:{}", hex::encode(a)),
            SourceKey::V6Prefix(p) => format!("6:{}", hex::encode(p)),
        };
        format!("{}:{{s:{unit}}}:tb", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_keys_share_one_hash_tag_and_sources_have_their_own() {
        let k = Keys::new("m");
        let hid = Hid([7; 32]);
        let tag = format!("{{h:{}}}", hex::encode([7u8; 32]));
        for key in [
            k.identity(&hid),
            k.slots(&hid),
            k.done(&hid, 9),
            k.replay(&ReplayKey::new(&hid, &[1; 48])),
        ] {
            assert!(key.starts_with(&format!("m:{tag}:")), "{key}");
        }
        assert_eq!(k.bucket("10.0.0.1".parse().unwrap()), "m:{s:4:0a000001}:tb");
        assert_eq!(
            k.bucket("::ffff:10.0.0.1".parse().unwrap()),
            "m:{s:4:0a000001}:tb"
        );
        assert_eq!(
            k.bucket("2001:db8::1".parse().unwrap()),
            k.bucket("2001:db8::2".parse().unwrap())
        );
    }
}
