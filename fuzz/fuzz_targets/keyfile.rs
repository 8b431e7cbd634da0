//! `keyfile::from_pem_any` on arbitrary strings.
//!
//! Invariants: a decoded key re-encodes (`KeyFile::to_pem` never fails on a
//! decoded key); the re-encoding decodes to a key with the same label,
//! deployment, D-TA and identity and re-encodes identically (a fixed point);
//! and since the format is strict (LF endings, 64 columns, no headers,
//! nothing before BEGIN), the accepted input is exactly that encoding, up to
//! the newline after the END line (which may be missing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::keyfile::{AnyKey, KeyFile, from_pem_any};
use zeroize::Zeroizing;

fn to_pem(key: &AnyKey) -> Zeroizing<String> {
    match key {
        AnyKey::MasterShare(k) => k.to_pem(),
        AnyKey::CsServerSecret(k) => k.to_pem(),
        AnyKey::CsServerSecretShare(k) => k.to_pem(),
        AnyKey::CsClientSecret(k) => k.to_pem(),
        AnyKey::CsClientSecretShare(k) => k.to_pem(),
        AnyKey::CsToken(k) => k.to_pem(),
        AnyKey::CsTimePermit(k) => k.to_pem(),
        AnyKey::CsTimePermitShare(k) => k.to_pem(),
        AnyKey::P2pServerKey(k) => k.to_pem(),
        AnyKey::P2pServerKeyShare(k) => k.to_pem(),
        AnyKey::P2pClientKey(k) => k.to_pem(),
        AnyKey::P2pClientKeyShare(k) => k.to_pem(),
        // A key kind added later must be added above, or this target fails
        // on its first such input.
        other => panic!("no re-encoding for a {}", other.label()),
    }
    .expect("a decoded key re-encodes")
}

fuzz_target!(|data: &[u8]| {
    let Ok(pem) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = from_pem_any(pem) else {
        return;
    };
    let encoded = to_pem(&key);
    let again = from_pem_any(&encoded).expect("the re-encoding decodes");
    assert_eq!(again.label(), key.label());
    assert_eq!(again.deployment(), key.deployment());
    assert_eq!(again.dta(), key.dta());
    assert_eq!(again.identity(), key.identity());
    assert_eq!(*to_pem(&again), *encoded, "encoding is a fixed point");
    assert!(encoded.ends_with('\n') && !encoded.contains('\r'));
    // Strictness: the input is the canonical encoding, modulo the trailing
    // newline after the END line.
    let canonical = encoded.strip_suffix('\n').unwrap_or(&encoded);
    let input = pem.strip_suffix('\n').unwrap_or(pem);
    assert_eq!(input, canonical, "a non-canonical PEM was accepted");
});
