//! Identities: canonical form and the hashed identities (HIDs) of both suites.
//!
//! An identity is canonicalised once, when it enters the system (key tool,
//! config builders, identity blobs), and every hash is taken over the canonical
//! bytes, so `Alice@Example.COM.` and `Alice@example.com` are the same key
//! holder (docs/protocol.md §4.1, §8.4.6):
//!
//! 1. The input must be valid UTF-8 (guaranteed by `&str`), is NFC-normalised,
//!    and must not be empty or contain control characters or white space.
//! 2. `local@domain` (exactly one `@`): the local part keeps its case (NFC
//!    only); the domain part is canonicalised as a DNS name (rule 3).
//! 3. Anything else that is a valid DNS name under UTS 46 with STD3 rules is
//!    lower-cased, converted to A-labels, and loses one trailing dot.
//! 4. Anything else stays as its NFC form.
//!
//! The canonical form is at most [`MAX_IDENTITY_BYTES`] bytes.

use core::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::pairing::sha256;

/// The longest canonical identity, in bytes (it travels with a one-byte length).
pub const MAX_IDENTITY_BYTES: usize = 255;

/// Why a string is not acceptable as an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The identity is empty.
    #[error("identity is empty")]
    Empty,
    /// The canonical identity is longer than [`MAX_IDENTITY_BYTES`].
    #[error("identity is {0} bytes long after canonicalisation; at most 255 are allowed")]
    TooLong(usize),
    /// The identity contains a control character or white space.
    #[error("identity contains a control character or white space")]
    ForbiddenCharacter,
    /// The domain part (after `@`) or the host name is not a valid DNS name.
    #[error("identity's domain part {0:?} is not a valid DNS name")]
    InvalidDomain(String),
    /// The identity bytes on the wire or in a file are not valid UTF-8.
    #[error("identity is not valid UTF-8")]
    NotUtf8,
    /// Bytes read from the wire or a file were not already canonical.
    #[error("identity {0:?} is not in canonical form")]
    NotCanonical(String),
}

/// A canonical identity (see the module documentation for the rules).
///
/// Construction is the only place canonicalisation happens; an `Identity`
/// always holds canonical bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(String);

impl Identity {
    /// Canonicalises `input`; fails if it cannot be a valid identity.
    pub fn new(input: &str) -> Result<Self, IdentityError> {
        let nfc: String = input.nfc().collect();
        if nfc.is_empty() {
            return Err(IdentityError::Empty);
        }
        if nfc.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(IdentityError::ForbiddenCharacter);
        }
        let canonical = match nfc.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => {
                if local.is_empty() {
                    return Err(IdentityError::Empty);
                }
                let domain = canonical_dns(domain)
                    .ok_or_else(|| IdentityError::InvalidDomain(domain.to_owned()))?;
                format!("{local}@{domain}")
            }
            Some(_) => nfc,
            None => canonical_dns(&nfc).unwrap_or(nfc),
        };
        if canonical.len() > MAX_IDENTITY_BYTES {
            return Err(IdentityError::TooLong(canonical.len()));
        }
        Ok(Self(canonical))
    }

    /// Parses identity bytes that must already be canonical (from the wire or
    /// a key file): refuses invalid UTF-8 and anything [`Identity::new`] would
    /// change.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let s = core::str::from_utf8(bytes).map_err(|_| IdentityError::NotUtf8)?;
        let id = Self::new(s)?;
        if id.0 != s {
            return Err(IdentityError::NotCanonical(s.to_owned()));
        }
        Ok(id)
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical form's bytes (what every hash covers).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The CS hashed identity `HID = SHA-256(ID)`.
    pub fn cs_hid(&self) -> Hid {
        Hid(sha256(&[self.as_bytes()]))
    }

    /// The P2P hashed identity `HID = SHA-256(ID ‖ be32(epoch))`.
    pub fn p2p_hid(&self, epoch: u32) -> Hid {
        Hid(sha256(&[self.as_bytes(), &epoch.to_be_bytes()]))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({:?})", self.0)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::str::FromStr for Identity {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A hashed identity (32 bytes): a stable pseudonym that travels in clear in
/// key shares. It links sessions and a dictionary can reverse it for guessable
/// identities (see the threat model).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hid(pub [u8; 32]);

impl Hid {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Hid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hid({})", hex::encode(self.0))
    }
}

fn canonical_dns(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    idna::domain_to_ascii_strict(name)
        .ok()
        .filter(|s| !s.is_empty() && !s.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domain_is_canonical_local_part_keeps_case() {
        let id = Identity::new("Alice@Example.COM.").unwrap();
        assert_eq!(id.as_str(), "Alice@example.com");
        assert_eq!(Identity::new("Alice@example.com").unwrap(), id);
    }

    #[test]
    fn host_names_become_lowercase_a_labels() {
        assert_eq!(
            Identity::new("Bücher.Example.").unwrap().as_str(),
            "xn--bcher-kva.example"
        );
        assert_eq!(Identity::new("SERVER").unwrap().as_str(), "server");
    }

    #[test]
    fn nfc_is_applied() {
        // "e" + combining acute accent → precomposed "é" (kept case: email local part).
        let decomposed = "Jose\u{301}@example.com";
        assert_eq!(
            Identity::new(decomposed).unwrap().as_str(),
            "Jos\u{e9}@example.com"
        );
    }

    #[test]
    fn bad_identities_are_refused() {
        assert_eq!(Identity::new(""), Err(IdentityError::Empty));
        assert_eq!(
            Identity::new("a b@example.com"),
            Err(IdentityError::ForbiddenCharacter)
        );
        assert!(matches!(
            Identity::new("alice@exa mple"),
            Err(IdentityError::ForbiddenCharacter)
        ));
        assert!(matches!(
            Identity::new("alice@-bad-.example"),
            Err(IdentityError::InvalidDomain(_))
        ));
        assert!(matches!(
            Identity::new(&"a".repeat(300)),
            Err(IdentityError::TooLong(300))
        ));
    }

    #[test]
    fn wire_form_must_be_canonical() {
        assert!(Identity::from_canonical_bytes(b"alice@example.com").is_ok());
        assert_eq!(
            Identity::from_canonical_bytes(b"alice@EXAMPLE.com"),
            Err(IdentityError::NotCanonical("alice@EXAMPLE.com".into()))
        );
        assert_eq!(
            Identity::from_canonical_bytes(&[0xff, 0xfe]),
            Err(IdentityError::NotUtf8)
        );
    }

    #[test]
    fn hids_follow_the_formulas() {
        let id = Identity::new("alice@example.com").unwrap();
        assert_eq!(id.cs_hid().0, sha256(&[b"alice@example.com"]));
        assert_eq!(
            id.p2p_hid(7).0,
            sha256(&[b"alice@example.com", &[0, 0, 0, 7]])
        );
        assert_ne!(id.p2p_hid(7), id.p2p_hid(8));
    }
}
