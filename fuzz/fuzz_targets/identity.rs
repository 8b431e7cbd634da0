//! `Identity::new` and `Identity::from_canonical_bytes` on arbitrary input.
//!
//! Invariants: the canonical form is a fixed point (`Identity::new` of it
//! gives the same identity, `from_canonical_bytes` accepts its bytes); it is
//! non-empty, at most 255 bytes, free of control characters and white space;
//! `from_canonical_bytes` accepts exactly the canonical forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::identity::{Identity, IdentityError, MAX_IDENTITY_BYTES};

fn check_canonical(id: &Identity) {
    let s = id.as_str();
    assert!(!s.is_empty() && s.len() <= MAX_IDENTITY_BYTES);
    assert!(!s.chars().any(|c| c.is_control() || c.is_whitespace()));
    assert_eq!(
        Identity::new(s).as_ref(),
        Ok(id),
        "canonical form is not a fixed point: {s:?}"
    );
    assert_eq!(
        Identity::from_canonical_bytes(s.as_bytes()).as_ref(),
        Ok(id)
    );
}

fuzz_target!(|data: &[u8]| {
    match Identity::from_canonical_bytes(data) {
        Ok(id) => {
            assert_eq!(id.as_bytes(), data);
            check_canonical(&id);
        }
        Err(IdentityError::NotUtf8) => assert!(std::str::from_utf8(data).is_err()),
        Err(IdentityError::NotCanonical(s)) => {
            assert_eq!(s.as_bytes(), data);
            let id = Identity::new(&s).expect("NotCanonical only for valid identities");
            assert_ne!(id.as_str(), s);
        }
        Err(e) => {
            let s = std::str::from_utf8(data).expect("UTF-8 checked first");
            assert_eq!(Identity::new(s), Err(e));
        }
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(id) = Identity::new(s)
    {
        check_canonical(&id);
    }
});
