//! `pairing::G1::from_bytes`, `G2::from_bytes`, `Scalar::from_be_bytes` and
//! `Scalar::from_be_bytes_nonzero` on arbitrary bytes.
//!
//! Input: `[which] ‖ bytes`. Invariants: decoding succeeds only at the exact
//! length; a decoded value re-encodes to the input (compressed encodings are
//! canonical); a decoded point is never the identity and `p + (−p)` is; a
//! decoded scalar is below r (so `s + 0` re-encodes unchanged) and the
//! non-zero decoder refuses exactly zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::pairing::{DecodeError, G1, G1_BYTES, G2, G2_BYTES, SCALAR_BYTES, Scalar};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => match G1::from_bytes(bytes) {
            Ok(p) => {
                assert_eq!(bytes.len(), G1_BYTES);
                assert_eq!(&p.to_bytes()[..], bytes, "G1 round trip");
                assert!(!bool::from(p.is_identity()));
                assert!(bool::from((&p + &(-&p)).is_identity()));
            }
            Err(DecodeError::Length { got, expected, .. }) => {
                assert_eq!((got, expected), (bytes.len(), G1_BYTES));
                assert_ne!(got, G1_BYTES);
            }
            Err(_) => assert_eq!(bytes.len(), G1_BYTES),
        },
        1 => match G2::from_bytes(bytes) {
            Ok(p) => {
                assert_eq!(bytes.len(), G2_BYTES);
                assert_eq!(&p.to_bytes()[..], bytes, "G2 round trip");
                assert!(!bool::from(p.is_identity()));
                assert!(bool::from((&p + &(-&p)).is_identity()));
            }
            Err(DecodeError::Length { got, expected, .. }) => {
                assert_eq!((got, expected), (bytes.len(), G2_BYTES));
                assert_ne!(got, G2_BYTES);
            }
            Err(_) => assert_eq!(bytes.len(), G2_BYTES),
        },
        _ => {
            let plain = Scalar::from_be_bytes(bytes);
            let nonzero = Scalar::from_be_bytes_nonzero(bytes);
            match plain {
                Ok(s) => {
                    assert_eq!(bytes.len(), SCALAR_BYTES);
                    assert_eq!(&s.to_be_bytes()[..], bytes, "scalar round trip");
                    assert_eq!(&(&s + &Scalar::zero()).to_be_bytes()[..], bytes);
                    let zero = bytes.iter().all(|b| *b == 0);
                    assert_eq!(bool::from(s.is_zero()), zero);
                    match nonzero {
                        Ok(n) => {
                            assert!(!zero);
                            assert!(n == s);
                        }
                        Err(e) => {
                            assert!(zero);
                            assert_eq!(e, DecodeError::ZeroScalar);
                        }
                    }
                }
                Err(e) => {
                    assert_eq!(nonzero.err(), Some(e));
                    if bytes.len() == SCALAR_BYTES {
                        assert_eq!(e, DecodeError::ScalarOutOfRange);
                        // Out of range means ≥ r: the top byte cannot be small.
                        assert!(bytes[0] >= 0x73);
                    }
                }
            }
        }
    }
});
