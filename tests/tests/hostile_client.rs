//! A scripted malicious client against the tokio acceptor over loopback:
//! every attack is refused with the alert the design names (docs/protocol.md
//! §6.4, §7.4, §8.4), reported exactly once with its typed reason, and a
//! good client still completes a handshake on the same server afterwards.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use milagro_e2e::*;
use milagro_tls::guard::{Guard, Refusal};
use milagro_tls::keys::{PermitPolicy, epoch_of};
use milagro_tls::mpin::CsError;
use milagro_tls::p2p::P2pError;
use milagro_tls::pairing::{G1, G2, Scalar, ScalarDomain, multi_pairing};
use milagro_tls::points::cs_identity_point;
use milagro_tls::rustls_glue::accept::{AcceptError as Sync, AcceptRefusal, AdmissionRefusal};
use milagro_tls::rustls_glue::engine::KxError;
use milagro_tls::rustls_glue::identity_blob::IdentityBlob;
use milagro_tls::tls::{ClientHelloError, OfferRefusal};
use milagro_tls_tokio::{AcceptError, MilagroAcceptor, MilagroConnector};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

/// BLS12-381 r, big-endian.
const R: [u8; 32] = [
    0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1, 0xd8, 0x05,
    0x53, 0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
];

/// The compressed encoding of the G1 identity.
fn g1_identity() -> [u8; 48] {
    let mut b = [0u8; 48];
    b[0] = 0xc0;
    b
}

/// An on-curve G1 point outside the prime-order subgroup (x = 4; the same
/// vector as the crate's own decoder tests).
fn g1_off_subgroup() -> [u8; 48] {
    let mut b = [0u8; 48];
    b[0] = 0x80;
    b[47] = 4;
    b
}

/// An on-curve G2 point outside the subgroup (x = 2).
fn g2_off_subgroup() -> [u8; 96] {
    let mut b = [0u8; 96];
    b[0] = 0x80;
    b[95] = 2;
    b
}

/// Share field offsets (docs/protocol.md §6.1).
const D: usize = 32;
const T: usize = 36;
const U: usize = 44;
const X: usize = 92;
const C: usize = 140;
const Z: usize = 172;
const V: usize = 204;
const RR: usize = 252;

type Check = fn(&AcceptError) -> bool;

struct Attack {
    name: &'static str,
    bytes: Vec<u8>,
    alert: [u8; 7],
    reason: Check,
}

fn kx_bad_encoding(e: &AcceptError) -> bool {
    matches!(
        e,
        AcceptError::Accept(Sync::KeyExchange(KxError::BadProofOfKnowledge))
    )
}

fn cs_admission(e: &AcceptError, f: fn(&CsError) -> bool) -> bool {
    matches!(e, AcceptError::Accept(Sync::Admission(AdmissionRefusal::Cs(c))) if f(c))
}

/// Runs each attack from its own loopback source, asserts the alert and the
/// single typed report, then a good client's handshake on the same server.
async fn run_attacks(
    attacks: Vec<Attack>,
    addr: std::net::SocketAddr,
    rx: &mut UnboundedReceiver<Report>,
    good: &MilagroConnector,
    good_name: &str,
    good_id: &str,
    log: &mut Vec<String>,
) {
    for (i, a) in attacks.into_iter().enumerate() {
        let source = Ipv4Addr::new(127, 0, 3, u8::try_from(i + 1).unwrap());
        let reply = send_raw(source, addr, &a.bytes).await;
        let report = timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let err = report.expect_err(a.name);
        assert!((a.reason)(&err), "{}: unexpected reason {err:?}", a.name);
        assert_eq!(
            reply, a.alert,
            "{}: reply {reply:02x?} (reason {err})",
            a.name
        );
        log.push(format!(
            "{} -> {:02x?} ({err})",
            a.name,
            &reply[reply.len().saturating_sub(2)..]
        ));
        // Logged once: nothing else reported for that connection.
        assert!(rx.try_recv().is_err(), "{}: reported twice", a.name);
        good_connect(good, addr, good_name).await;
        assert_eq!(rx.recv().await.unwrap().unwrap(), good_id, "{}", a.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_malformed_shares_are_refused_with_the_named_alert() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = Guard::in_memory(open_policy());
    let (addr, mut rx) = serve(MilagroAcceptor::new(cs.server_with(guard.clone()))).await;
    let good = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let mallory = cs.client("mallory@example.com", PIN);
    let fresh = || real_hello(&mallory, SERVICE);

    let both = |off_u: &[u8]| {
        let h = fresh();
        let mut b = h.with_field(U, off_u);
        b[h.share_at + X..h.share_at + X + 48].copy_from_slice(off_u);
        b
    };
    let field = |at: usize, v: &[u8]| fresh().with_field(at, v);
    let ip = ILLEGAL_PARAMETER;
    let hf = HANDSHAKE_FAILURE;
    let mut attacks = vec![
        Attack {
            name: "U = X not a point (0x5a…)",
            bytes: both(&[0x5a; 48]),
            alert: ip,
            reason: kx_bad_encoding,
        },
        Attack {
            name: "U = X identity point",
            bytes: both(&g1_identity()),
            alert: ip,
            reason: kx_bad_encoding,
        },
        Attack {
            name: "U = X outside the subgroup",
            bytes: both(&g1_off_subgroup()),
            alert: ip,
            reason: kx_bad_encoding,
        },
        Attack {
            name: "U = X uncompressed flag cleared",
            bytes: {
                let h = fresh();
                let mut u = h.share()[U..U + 48].to_vec();
                u[0] &= 0x7f;
                both(&u)
            },
            alert: ip,
            reason: kx_bad_encoding,
        },
    ];
    for (name, at) in [("V", V), ("R", RR)] {
        for (what, bytes) in [
            ("not a point", [0x5a; 48]),
            ("identity point", g1_identity()),
            ("outside the subgroup", g1_off_subgroup()),
        ] {
            attacks.push(Attack {
                name: Box::leak(format!("{name} {what}").into_boxed_str()),
                bytes: field(at, &bytes),
                alert: ip,
                reason: kx_bad_encoding,
            });
        }
    }
    for (name, at) in [("c", C), ("z", Z)] {
        for (what, bytes) in [("= r", R), ("= 2^256 - 1", [0xff; 32])] {
            attacks.push(Attack {
                name: Box::leak(format!("{name} {what}").into_boxed_str()),
                bytes: field(at, &bytes),
                alert: ip,
                reason: kx_bad_encoding,
            });
        }
    }
    // A valid encoding, but the DLEQ no longer verifies.
    attacks.push(Attack {
        name: "c flipped (DLEQ fails)",
        bytes: {
            let h = fresh();
            let mut c = h.share()[C..C + 32].to_vec();
            c[31] ^= 1;
            h.with_field(C, &c)
        },
        alert: ip,
        reason: kx_bad_encoding,
    });
    for (name, len) in [
        ("share 299 bytes", 299usize),
        ("share 301 bytes (trailing byte)", 301),
        ("share 600 bytes", 600),
    ] {
        let h = fresh();
        let mut s = h.share().to_vec();
        s.resize(len, 0);
        attacks.push(Attack {
            name,
            bytes: h.with_share(&s),
            alert: hf,
            reason: |e| cs_admission(e, |c| matches!(c, CsError::ShareLength(_))),
        });
    }
    attacks.push(Attack {
        name: "share 0 bytes",
        bytes: fresh().with_share(&[]),
        alert: hf,
        reason: |e| {
            matches!(
                e,
                AcceptError::Accept(Sync::Refused(AcceptRefusal::ClientHello(
                    ClientHelloError::EmptyKeyExchange { group: 0xFE4D }
                )))
            )
        },
    });
    attacks.push(Attack {
        name: "X != U with permits off",
        bytes: {
            let h = fresh();
            let mut x = h.share()[X..X + 48].to_vec();
            x[47] ^= 1;
            h.with_field(X, &x)
        },
        alert: hf,
        reason: |e| cs_admission(e, |c| matches!(c, CsError::PermitsOffXNotU)),
    });
    attacks.push(Attack {
        name: "d != 0 with permits off",
        bytes: field(D, &20_000u32.to_be_bytes()),
        alert: hf,
        reason: |e| cs_admission(e, |c| matches!(c, CsError::PermitNotAllowed(20_000))),
    });
    for (name, t) in [
        ("stale timestamp (now - 1 h)", now() - 3600),
        ("future timestamp (now + 1 h)", now() + 3600),
        ("timestamp 0", 0),
    ] {
        attacks.push(Attack {
            name,
            bytes: field(T, &t.to_be_bytes()),
            alert: hf,
            reason: |e| cs_admission(e, |c| matches!(c, CsError::StaleTime { .. })),
        });
    }
    // Offer-level attacks (accept path, before any suite check).
    let h = fresh();
    let share = h.share().to_vec();
    attacks.push(Attack {
        name: "Milagro group listed without a share (HelloRetryRequest bait)",
        bytes: h.with_entries(&[]),
        alert: hf,
        reason: |e| {
            matches!(
                e,
                AcceptError::Accept(Sync::Refused(AcceptRefusal::Offer(
                    OfferRefusal::MissingShare { .. }
                )))
            )
        },
    });
    attacks.push(Attack {
        name: "duplicate key-share entries",
        bytes: h.with_entries(&[(0xFE4D, &share), (0xFE4D, &share)]),
        alert: hf,
        reason: |e| {
            matches!(
                e,
                AcceptError::Accept(Sync::Refused(AcceptRefusal::ClientHello(
                    ClientHelloError::DuplicateKeyShare { .. }
                )))
            )
        },
    });
    // Both Milagro groups, listed and shared.
    let both_groups = {
        let listed = replace_extension(&h.bytes, 10, &[0, 4, 0xFE, 0x4D, 0xFE, 0x50]);
        let h2 = Hello {
            bytes: listed.clone(),
            share_at: 0,
            share_len: 0,
            group: 0,
        };
        let _ = h2;
        let p2p_share = [0u8; 180];
        let mut body = Vec::new();
        for (g, kx) in [(0xFE4Du16, &share[..]), (0xFE50, &p2p_share[..])] {
            body.extend_from_slice(&g.to_be_bytes());
            body.extend_from_slice(&(kx.len() as u16).to_be_bytes());
            body.extend_from_slice(kx);
        }
        let mut ext = (body.len() as u16).to_be_bytes().to_vec();
        ext.extend_from_slice(&body);
        replace_extension(&listed, 51, &ext)
    };
    let parsed = parse(&both_groups);
    assert_eq!(parsed.supported_groups(), &[0xFE4D, 0xFE50]);
    assert_eq!(parsed.key_shares().len(), 2);
    attacks.push(Attack {
        name: "both Milagro groups offered",
        bytes: both_groups,
        alert: hf,
        reason: |e| {
            matches!(
                e,
                AcceptError::Accept(Sync::Refused(AcceptRefusal::Offer(
                    OfferRefusal::BothMilagroGroups
                )))
            )
        },
    });

    let mut log = Vec::new();
    run_attacks(
        attacks,
        addr,
        &mut rx,
        &good,
        SERVICE,
        "alice@example.com",
        &mut log,
    )
    .await;
    for l in &log {
        println!("{l}");
    }
    // Nothing aimed at Mallory's HID counted as a wrong PIN.
    let st = guard.status(&id("mallory@example.com").cs_hid());
    assert_eq!((st.confirmed, st.cumulative, st.locked_out), (0, 0, false));
}
