//! `mpin::precheck` + `mpin::verify` (server side of the CS key share)
//! against the fixed deterministic deployment of `milagro_tls_fuzz::cs()`,
//! with the fixed server clock `NOW`.
//!
//! Input: `[mode] ‖ rest`. mode % 3 = 0: `rest` is the share; 1: `rest` is
//! XORed over the genuine share; 2: XORed over a wrong-PIN client's share.
//! Invariants:
//! * precheck accepts only 300-byte shares whose header passes the policy
//!   (day = today ± 1, non-zero; |t − NOW| ≤ window), and its header and
//!   replay key are the share's bytes;
//! * verify accepts **only the genuine share** (nobody else knows a key):
//!   any other bytes that verify are a forgery;
//! * on the genuine share the server's response and secret are the fixed
//!   ones and the client derives the same secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::keys::day_of;
use milagro_tls::mpin::full::respond_with_fresh;
use milagro_tls::mpin::{CsError, SHARE_BYTES, precheck, verify};
use milagro_tls_fuzz::{NOW, cs, xor_mutate};

const SERVER_FRESH: [u8; 32] = [0x5E; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = cs();
    let share = match mode % 3 {
        0 => rest.to_vec(),
        1 => xor_mutate(f.client.share(), rest),
        _ => xor_mutate(f.wrong_pin_client.share(), rest),
    };
    let checks = f.server.checks();
    let pre = match precheck(&share, &checks, NOW) {
        Ok(pre) => pre,
        Err(e) => {
            if share.len() != SHARE_BYTES {
                assert!(
                    matches!(e, CsError::ShareLength(n) if n == share.len()),
                    "{e:?}"
                );
            } else {
                assert!(
                    matches!(
                        e,
                        CsError::PermitMissing
                            | CsError::DayOutOfRange { .. }
                            | CsError::StaleTime { .. }
                    ),
                    "unexpected precheck error {e:?}"
                );
            }
            return;
        }
    };
    assert_eq!(share.len(), SHARE_BYTES);
    assert_eq!(&pre.bytes()[..], &share[..]);
    let h = pre.header();
    assert_eq!(h.hid.as_bytes()[..], share[..32]);
    assert_eq!(h.day.to_be_bytes()[..], share[32..36]);
    assert_eq!(h.time.to_be_bytes()[..], share[36..44]);
    let today = day_of(NOW);
    assert!(
        h.day != 0 && h.day.abs_diff(today) <= 1,
        "day {} passed precheck",
        h.day
    );
    assert!(
        h.time.abs_diff(NOW) <= checks.window_secs,
        "time {} passed precheck",
        h.time
    );
    let key = pre.replay_key();
    assert_eq!(key.hid, h.hid);
    assert_eq!(key.u[..], share[44..92]);

    match verify(&pre, &f.server) {
        Ok(v) => {
            assert_eq!(
                &share[..],
                &f.client.share()[..],
                "a share other than the genuine one verified (forgery)"
            );
            assert_eq!(v.bytes(), f.client.share());
            let resp = respond_with_fresh(&v, &f.server, &f.nonce_key, &SERVER_FRESH);
            assert_eq!(resp.share, f.genuine_w);
            assert_eq!(resp.secret.as_bytes(), &f.genuine_secret);
            let client = f.client.finish(&resp.share).expect("client finishes");
            assert_eq!(client.as_bytes(), &f.genuine_secret);
        }
        Err(e) => {
            assert!(
                matches!(
                    e,
                    CsError::BadEncoding { .. } | CsError::DleqFailed | CsError::ProofFailed(_)
                ),
                "unexpected verify error {e:?}"
            );
            // The wrong-PIN share must fail the proof, not anything earlier.
            if share[..] == f.wrong_pin_client.share()[..] {
                assert!(matches!(e, CsError::ProofFailed(_)), "{e:?}");
            }
        }
    }
});
