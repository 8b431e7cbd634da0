//! `ClientState::finish` (client side of the CS exchange) on arbitrary
//! server shares `W`.
//!
//! Input: `[mode] ‖ rest`. mode even: `rest` is `W`; odd: `rest` is XORed
//! over the genuine `W`. Invariants:
//! * finish succeeds exactly when `W` is 48 bytes that `G1::from_bytes`
//!   accepts (wrong length → `ServerShareLength`, else `BadEncoding` on `W`);
//! * it is deterministic, and gives the server's secret exactly for the
//!   genuine `W` (a different `W` gives a different secret).
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::mpin::{CsError, SERVER_SHARE_BYTES};
use milagro_tls::pairing::G1;
use milagro_tls_fuzz::{cs, xor_mutate};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = cs();
    let w = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        xor_mutate(&f.genuine_w, rest)
    };
    match f.client.finish(&w) {
        Ok(secret) => {
            assert_eq!(w.len(), SERVER_SHARE_BYTES);
            assert!(G1::from_bytes(&w).is_ok());
            let again = f.client.finish(&w).expect("finish is deterministic");
            assert!(secret == again);
            assert_eq!(
                secret.as_bytes() == &f.genuine_secret,
                w[..] == f.genuine_w[..],
                "secret equals the genuine one iff W is the genuine W"
            );
        }
        Err(CsError::ServerShareLength(n)) => {
            assert_eq!(n, w.len());
            assert_ne!(w.len(), SERVER_SHARE_BYTES);
        }
        Err(CsError::BadEncoding { field, .. }) => {
            assert_eq!(field, "W");
            assert_eq!(w.len(), SERVER_SHARE_BYTES);
            assert!(G1::from_bytes(&w).is_err());
        }
        Err(e) => panic!("unexpected finish error {e:?}"),
    }
});
