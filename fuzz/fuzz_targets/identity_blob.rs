//! `identity_blob::IdentityBlob::decode` / `encode`.
//!
//! Input: `[mode] ‖ rest`. Even mode: `rest` is a blob; decode, and on
//! success `encode` gives back exactly the input. Odd mode: build a blob
//! from `rest` = `[suite/role bits] ‖ be32 period ‖ identity text`; if the
//! identity is valid, `decode(encode(blob))` equals the blob (with period 0
//! for a CS server, which `encode` always writes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::identity::Identity;
use milagro_tls::identity_blob::{BLOB_HEADER_LEN, BlobError, IdentityBlob, Role};
use milagro_tls::suite::Suite;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        match IdentityBlob::decode(rest) {
            Ok(blob) => {
                assert_eq!(blob.encode(), rest, "decode then encode is the identity");
                assert_eq!(rest.len(), BLOB_HEADER_LEN + blob.identity.as_bytes().len());
            }
            Err(BlobError::TooShort(n)) => {
                assert_eq!(n, rest.len());
                assert!(n < BLOB_HEADER_LEN);
            }
            Err(_) => assert!(rest.len() >= BLOB_HEADER_LEN),
        }
        return;
    }
    let [bits, p0, p1, p2, p3, text @ ..] = rest else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(identity) = Identity::new(text) else {
        return;
    };
    let suite = if bits & 1 == 0 { Suite::Cs } else { Suite::P2p };
    let role = if bits & 2 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let blob = IdentityBlob {
        suite,
        role,
        period: u32::from_be_bytes([*p0, *p1, *p2, *p3]),
        identity,
    };
    let bytes = blob.encode();
    let back = IdentityBlob::decode(&bytes).expect("an encoded blob decodes");
    let expected = if suite == Suite::Cs && role == Role::Server {
        IdentityBlob { period: 0, ..blob }
    } else {
        blob
    };
    assert_eq!(back, expected);
});
