//! P2P (Chow–Choo) shares: `P2pServer::check_client_share`,
//! `decode_client_share`, `accept`, and `P2pClientHandshake::finish`, on
//! arbitrary bytes, against the fixed deployment of `milagro_tls_fuzz::p2p()`.
//!
//! Input: `[mode] ‖ rest`. mode % 4 = 0: `rest` is a client share for the
//! server; 1: `rest` XORed over the genuine client share; 2: `rest` is a
//! server share `Pa` for the genuine client handshake; 3: `rest` XORed over
//! the genuine `Pa`. Invariants:
//! * server: decode succeeds only for 180 bytes with an epoch the server
//!   holds and valid points; the decoded header and bytes are the input's;
//!   `check_client_share`, `decode_client_share` and `accept` agree; and the
//!   genuine client derives the server's secret **only** when the share it
//!   sees answered is its own (a modified share never yields a matching key);
//! * client: finish succeeds exactly for 48 bytes that decode as G1 and
//!   gives the genuine secret exactly for the genuine `Pa`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::p2p::{CLIENT_SHARE_BYTES, P2pError, SERVER_SHARE_BYTES, ShareField};
use milagro_tls::pairing::{G1, G2, SeededEntropy};
use milagro_tls_fuzz::{p2p, xor_mutate};

fn server_side(bytes: &[u8]) {
    let f = p2p();
    let checked = f.server.check_client_share(bytes);
    let decoded = f.server.decode_client_share(bytes);
    let accepted = f.server.accept(bytes, &SeededEntropy::new(b"fuzz accept"));
    let share = match decoded {
        Ok(share) => share,
        Err(e) => {
            assert_eq!(
                accepted.err(),
                Some(e.clone()),
                "accept and decode disagree"
            );
            match &e {
                P2pError::ClientShareLength { got } => {
                    assert_eq!(*got, bytes.len());
                    assert_ne!(bytes.len(), CLIENT_SHARE_BYTES);
                    assert_eq!(checked, Err(e));
                }
                P2pError::EpochNotAccepted { got, .. } => {
                    assert_eq!(got.to_be_bytes()[..], bytes[..4]);
                    assert!(
                        *got != f.server.current_epoch() && Some(*got) != f.server.previous_epoch()
                    );
                    assert_eq!(checked, Err(e));
                }
                P2pError::InvalidPoint { field, .. } => {
                    assert!(checked.is_ok(), "cheap checks passed but decode says {e:?}");
                    match field {
                        ShareField::Pg => assert!(G1::from_bytes(&bytes[36..84]).is_err()),
                        ShareField::Pb => {
                            assert!(G1::from_bytes(&bytes[36..84]).is_ok());
                            assert!(G2::from_bytes(&bytes[84..]).is_err());
                        }
                        ShareField::Pa => panic!("server decode names Pa"),
                    }
                }
                other => panic!("unexpected decode error {other:?}"),
            }
            return;
        }
    };
    let header = checked.expect("decode succeeded, cheap checks must too");
    assert_eq!(bytes.len(), CLIENT_SHARE_BYTES);
    assert_eq!(&share.as_bytes()[..], bytes);
    assert_eq!(share.epoch(), header.epoch);
    assert_eq!(share.epoch().to_be_bytes()[..], bytes[..4]);
    assert_eq!(share.hid_b().as_bytes()[..], bytes[4..36]);
    let accepted = accepted.expect("decode succeeded, accept must too");
    assert_eq!(accepted.hid_b(), share.hid_b());

    let resp = f
        .server
        .respond_with_fresh(&share, f.server_fresh())
        .expect("decoded share is for a held epoch");
    let client = f
        .handshake()
        .finish(&f.client, resp.share())
        .expect("server's Pa is a valid point");
    let genuine = bytes == &f.genuine_client_share[..];
    assert_eq!(
        &client == resp.secret(),
        genuine,
        "client and server keys agree iff the server saw the genuine share"
    );
    if genuine {
        assert_eq!(resp.share(), &f.genuine_server_share);
        assert_eq!(resp.secret().as_bytes(), &f.genuine_secret);
    }
}

fn client_side(pa: &[u8]) {
    let f = p2p();
    match f.handshake().finish(&f.client, pa) {
        Ok(secret) => {
            assert_eq!(pa.len(), SERVER_SHARE_BYTES);
            assert!(G1::from_bytes(pa).is_ok());
            let again = f.handshake().finish(&f.client, pa).expect("deterministic");
            assert!(secret == again);
            assert_eq!(
                secret.as_bytes() == &f.genuine_secret,
                pa == &f.genuine_server_share[..],
                "genuine secret iff genuine Pa"
            );
        }
        Err(P2pError::ServerShareLength { got }) => {
            assert_eq!(got, pa.len());
            assert_ne!(got, SERVER_SHARE_BYTES);
        }
        Err(P2pError::InvalidPoint { field, .. }) => {
            assert_eq!(field, ShareField::Pa);
            assert!(G1::from_bytes(pa).is_err());
        }
        Err(e) => panic!("unexpected finish error {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = p2p();
    match mode % 4 {
        0 => server_side(rest),
        1 => server_side(&xor_mutate(&f.genuine_client_share, rest)),
        2 => client_side(rest),
        _ => client_side(&xor_mutate(&f.genuine_server_share, rest)),
    }
});
