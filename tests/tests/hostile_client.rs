//! A scripted malicious client against the tokio acceptor over loopback:
//! every attack is refused with the alert the design names (docs/protocol.md
//! §6.4, §7.4, §8.4), reported exactly once with its typed reason, and a
//! good client still completes a handshake on the same server afterwards.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use milagro_e2e::*;
use milagro_tls::KxError;
use milagro_tls::guard::{Guard, Refusal};
use milagro_tls::identity_blob::{IdentityBlob, Role};
use milagro_tls::keys::{PermitPolicy, epoch_of};
use milagro_tls::mpin::CsError;
use milagro_tls::p2p::P2pError;
use milagro_tls::pairing::{G1, G2, Scalar, ScalarDomain, multi_pairing};
use milagro_tls::points::cs_identity_point;
use milagro_tls::suite::{CS_GROUP, P2P_GROUP};
use milagro_tls::tls::{ClientHelloError, OfferRefusal};
use milagro_tls::{AcceptError, AcceptRefusal, AdmissionRefusal};
use milagro_tls_tokio::{MilagroConnector, TlsAcceptError, TlsAcceptor};
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

type Check = fn(&TlsAcceptError) -> bool;

struct Attack {
    name: &'static str,
    bytes: Vec<u8>,
    alert: [u8; 7],
    reason: Check,
}

fn kx_bad_encoding(e: &TlsAcceptError) -> bool {
    matches!(
        e,
        TlsAcceptError::Accept(AcceptError::KeyExchange(KxError::BadProofOfKnowledge))
    )
}

fn cs_admission(e: &TlsAcceptError, f: fn(&CsError) -> bool) -> bool {
    matches!(e, TlsAcceptError::Accept(AcceptError::Admission(AdmissionRefusal::Cs(c))) if f(c))
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
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server_with(guard.clone()))).await;
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
            alert: ip,
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
                TlsAcceptError::Accept(AcceptError::Refused(AcceptRefusal::ClientHello(
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
        alert: ip,
        reason: |e| cs_admission(e, |c| matches!(c, CsError::PermitsOffXNotU)),
    });
    attacks.push(Attack {
        name: "d != 0 with permits off",
        bytes: field(D, &20_000u32.to_be_bytes()),
        alert: ip,
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
            alert: ip,
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
                TlsAcceptError::Accept(AcceptError::Refused(AcceptRefusal::Offer(
                    OfferRefusal::MissingShare { .. }
                )))
            )
        },
    });
    attacks.push(Attack {
        name: "duplicate key-share entries",
        bytes: h.with_entries(&[(CS_GROUP, &share), (CS_GROUP, &share)]),
        alert: hf,
        reason: |e| {
            matches!(
                e,
                TlsAcceptError::Accept(AcceptError::Refused(AcceptRefusal::ClientHello(
                    ClientHelloError::DuplicateKeyShare { .. }
                )))
            )
        },
    });
    // Both Milagro groups, listed and shared.
    let both_groups = {
        let listed = replace_extension(&h.bytes, 10, &[0, 4, 0xFE, 0x4D, 0xFE, 0x50]);
        let p2p_share = [0u8; 180];
        let mut body = Vec::new();
        for (g, kx) in [(CS_GROUP, &share[..]), (P2P_GROUP, &p2p_share[..])] {
            body.extend_from_slice(&g.to_be_bytes());
            body.extend_from_slice(&(kx.len() as u16).to_be_bytes());
            body.extend_from_slice(kx);
        }
        let mut ext = (body.len() as u16).to_be_bytes().to_vec();
        ext.extend_from_slice(&body);
        replace_extension(&listed, 51, &ext)
    };
    let parsed = parse(&both_groups);
    assert_eq!(parsed.supported_groups(), &[CS_GROUP, P2P_GROUP]);
    assert_eq!(parsed.key_shares().len(), 2);
    attacks.push(Attack {
        name: "both Milagro groups offered",
        bytes: both_groups,
        alert: hf,
        reason: |e| {
            matches!(
                e,
                TlsAcceptError::Accept(AcceptError::Refused(AcceptRefusal::Offer(
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

/// Drives a sync rustls client over a blocking loopback socket: returns the
/// ClientHello it sent and the outcome of an echo after the handshake.
async fn drive_sync(
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
    addr: std::net::SocketAddr,
) -> (Vec<u8>, Result<Vec<u8>, rustls::Error>) {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).unwrap();
        tcp.write_all(&hello).unwrap();
        let run = |conn: &mut rustls::ClientConnection, tcp: &mut std::net::TcpStream| {
            while conn.is_handshaking() {
                conn.complete_io(tcp).map_err(|e| {
                    e.into_inner()
                        .and_then(|i| i.downcast::<rustls::Error>().ok())
                        .map(|b| *b)
                        .unwrap_or(rustls::Error::General("io".into()))
                })?;
            }
            conn.writer().write_all(b"ping").unwrap();
            let mut back = Vec::new();
            while back.len() < 4 {
                conn.complete_io(tcp).map_err(|e| {
                    e.into_inner()
                        .and_then(|i| i.downcast::<rustls::Error>().ok())
                        .map(|b| *b)
                        .unwrap_or(rustls::Error::General("io".into()))
                })?;
                let mut buf = [0u8; 16];
                match conn.reader().read(&mut buf) {
                    Ok(n) => back.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return Err(rustls::Error::General("closed".into())),
                }
            }
            Ok(back)
        };
        let out = run(&mut conn, &mut tcp);
        (hello, out)
    })
    .await
    .unwrap()
}

/// `y = Hq_CS-Y(HID ‖ d ‖ t ‖ U ‖ X ‖ c ‖ z ‖ R)` of a share (§6.2 step 4),
/// recomputed from its bytes.
fn share_y(s: &[u8]) -> Scalar {
    Scalar::hash(
        ScalarDomain::CsY,
        &[
            &s[..D],
            &s[D..T],
            &s[T..U],
            &s[U..X],
            &s[X..C],
            &s[C..Z],
            &s[Z..V],
            &s[RR..],
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_lifted_and_misnamed_shares_are_refused() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = Guard::in_memory(open_policy());
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server_with(guard.clone()))).await;
    let alice = cs.client("alice@example.com", PIN);
    let good = MilagroConnector::new(alice.clone());
    let name = alice.server_name(SERVICE).unwrap();

    // 1. A replayed key share: capture a genuine, completed handshake's
    // ClientHello, then send it again.
    let (hello, out) = drive_sync(alice.rustls_config().clone(), name.clone(), addr).await;
    assert_eq!(out.unwrap(), b"ping");
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
    let reply = send_raw(Ipv4Addr::new(127, 0, 4, 1), addr, &hello).await;
    // Refused for the share's own bytes: the alert of a refused credential.
    assert_eq!(reply, ILLEGAL_PARAMETER);
    let err = rx.recv().await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            TlsAcceptError::Accept(AcceptError::Admission(AdmissionRefusal::Guard(
                Refusal::Replay
            )))
        ),
        "{err:?}"
    );
    println!("replayed key share -> {:02x?} ({err})", &reply[5..]);
    good_connect(&good, addr, SERVICE).await;
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");

    // 2. The lifted DLEQ (§6.4 "Why bound to the session"): the victim's
    // earlier share (never sent, so not in the replay cache), a fresh t and
    // R, and V₁ = V₀ − (y₁ − y₀)·SEC_guess.
    let victim = real_hello(&alice, SERVICE);
    let s0 = victim.share().to_vec();
    let hid = id("alice@example.com").cs_hid();
    assert_eq!(&s0[..D], hid.as_bytes());
    let a = cs_identity_point(&hid);
    let sec = G1::from_bytes(&key_file_tail(&cs.secret("alice@example.com"), 48)).unwrap();
    let ss = G2::from_bytes(&key_file_tail(&cs.server_secret(), 96)).unwrap();
    let (q, ss) = (G2::generator().prepare(), ss.prepare());
    let u0 = G1::from_bytes(&s0[U..X]).unwrap();
    let v0 = G1::from_bytes(&s0[V..RR]).unwrap();
    let r0 = G1::from_bytes(&s0[RR..]).unwrap();
    let y0 = share_y(&s0);
    let mut s1 = s0.clone();
    let t0 = u64::from_be_bytes(s0[T..U].try_into().unwrap());
    s1[T..U].copy_from_slice(&(t0 + 1).to_be_bytes());
    s1[RR..].copy_from_slice(&(&r0 + &r0).to_bytes());
    let y1 = share_y(&s1);
    let mut lifted = Vec::new();
    for (guess, sec_guess) in [("right", sec.clone()), ("wrong", &sec + &a)] {
        let v1 = &v0 - &(&sec_guess * &(&y1 - &y0));
        let mut s = s1.clone();
        s[V..RR].copy_from_slice(&v1.to_bytes());
        // Without the session binding the right guess would verify
        // (g == 1) and the wrong one would not be of the form F^(−δ).
        let g = multi_pairing(&[(&v1, &q), (&(&u0 + &(&a * &y1)), &ss)]);
        assert_eq!(bool::from(g.is_one()), guess == "right");
        lifted.push((guess, victim.with_share(&s)));
    }
    for (i, (guess, bytes)) in lifted.into_iter().enumerate() {
        let src = Ipv4Addr::new(127, 0, 4, 10 + u8::try_from(i).unwrap());
        let reply = send_raw(src, addr, &bytes).await;
        assert_eq!(reply, ILLEGAL_PARAMETER, "{guess}");
        let err = rx.recv().await.unwrap().unwrap_err();
        assert!(kx_bad_encoding(&err), "{guess}: {err:?}");
        println!(
            "lifted DLEQ, {guess} SEC guess -> {:02x?} ({err})",
            &reply[5..]
        );
        let st = guard.status(&hid);
        assert_eq!((st.confirmed, st.in_flight), (0, 0), "{guess}");
        good_connect(&good, addr, SERVICE).await;
        assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
    }

    // 3. A certificate naming someone other than the key share.
    #[derive(Debug)]
    struct Misnamed(Arc<dyn rustls::client::ResolvesClientCert>, Vec<u8>);
    impl rustls::client::ResolvesClientCert for Misnamed {
        fn resolve(
            &self,
            hints: &[&[u8]],
            schemes: &[rustls::SignatureScheme],
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            let real = self.0.resolve(hints, schemes)?;
            Some(Arc::new(rustls::sign::CertifiedKey::new(
                vec![rustls::pki_types::CertificateDer::from(self.1.clone())],
                real.key.clone(),
            )))
        }
        fn has_certs(&self) -> bool {
            true
        }
    }
    let blob = IdentityBlob {
        suite: milagro_tls::suite::Suite::Cs,
        role: Role::Client,
        period: 0,
        identity: id("bob@example.com"),
    }
    .encode();
    let mut cfg = (**alice.rustls_config()).clone();
    cfg.client_auth_cert_resolver = Arc::new(Misnamed(cfg.client_auth_cert_resolver.clone(), blob));
    let (_, out) = drive_sync(Arc::new(cfg), name, addr).await;
    assert_eq!(
        out,
        Err(rustls::Error::AlertReceived(
            rustls::AlertDescription::AccessDenied
        ))
    );
    let err = rx.recv().await.unwrap().unwrap_err();
    println!("certificate naming bob over alice's share -> client gets access_denied ({err})");
    assert!(
        format!("{err:?}").contains("ApplicationVerificationFailure"),
        "{err:?}"
    );
    assert!(rx.try_recv().is_err());
    good_connect(&good, addr, SERVICE).await;
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
    // Nothing here counted against Alice or Bob.
    for who in ["alice@example.com", "bob@example.com"] {
        let st = guard.status(&id(who).cs_hid());
        assert_eq!((st.confirmed, st.cumulative), (0, 0), "{who}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permits_required_refuses_day_zero_and_far_days() {
    let cs = Cs::new(PermitPolicy::Required);
    let (addr, mut rx) = serve(TlsAcceptor::new(
        cs.server_with(Guard::in_memory(open_policy())),
    ))
    .await;
    let good = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let mallory = cs.client("mallory@example.com", PIN);
    let today = milagro_tls::keys::day_of(now());
    let attacks = vec![
        Attack {
            name: "d = 0 in a permits-required deployment",
            bytes: real_hello(&mallory, SERVICE).with_field(D, &0u32.to_be_bytes()),
            alert: ILLEGAL_PARAMETER,
            reason: |e| cs_admission(e, |c| matches!(c, CsError::PermitMissing)),
        },
        Attack {
            name: "d = today + 2",
            bytes: real_hello(&mallory, SERVICE).with_field(D, &(today + 2).to_be_bytes()),
            alert: ILLEGAL_PARAMETER,
            reason: |e| cs_admission(e, |c| matches!(c, CsError::DayOutOfRange { .. })),
        },
        Attack {
            name: "d = today - 2",
            bytes: real_hello(&mallory, SERVICE).with_field(D, &(today - 2).to_be_bytes()),
            alert: ILLEGAL_PARAMETER,
            reason: |e| cs_admission(e, |c| matches!(c, CsError::DayOutOfRange { .. })),
        },
    ];
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
}

fn p2p_admission(e: &TlsAcceptError) -> bool {
    matches!(
        e,
        TlsAcceptError::Accept(AcceptError::Admission(AdmissionRefusal::P2p(_)))
    )
}

fn p2p_epoch(e: &TlsAcceptError) -> bool {
    matches!(
        e,
        TlsAcceptError::Accept(AcceptError::Admission(AdmissionRefusal::P2p(
            P2pError::EpochOutsideClock { .. }
        )))
    )
}

fn p2p_kx(e: &TlsAcceptError) -> bool {
    matches!(
        e,
        TlsAcceptError::Accept(AcceptError::KeyExchange(KxError::MalformedShare(_)))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_old_epochs_and_bad_points_are_refused() {
    let p2p = P2p::new();
    let server = "server.example";
    let (addr, mut rx) = serve(TlsAcceptor::new(p2p.server(server))).await;
    let key = p2p.client_key("bob@example.com");
    let good = MilagroConnector::p2p(p2p.client_key("bob@example.com"));
    let client = milagro_tls::p2p_tls::client(key, id(server)).unwrap();
    let fresh = || real_hello(&client, server);
    let e_now = epoch_of(now(), EPOCH_SECS);
    let mut attacks = Vec::new();
    for (name, e) in [
        ("previous-but-one epoch (E - 2)", e_now - 2),
        ("next epoch (E + 1)", e_now + 1),
        ("epoch 0", 0),
    ] {
        attacks.push(Attack {
            name,
            bytes: fresh().with_field(0, &e.to_be_bytes()),
            alert: ILLEGAL_PARAMETER,
            reason: p2p_epoch,
        });
    }
    for (name, len) in [
        ("P2P share 179 bytes", 179usize),
        ("P2P share 181 bytes", 181),
    ] {
        let h = fresh();
        let mut s = h.share().to_vec();
        s.resize(len, 0);
        attacks.push(Attack {
            name,
            bytes: h.with_share(&s),
            alert: ILLEGAL_PARAMETER,
            reason: p2p_admission,
        });
    }
    for (name, at, bytes) in [
        ("Pg identity point", 36usize, g1_identity().to_vec()),
        ("Pg outside the subgroup", 36, g1_off_subgroup().to_vec()),
        ("Pg not a point", 36, vec![0x5a; 48]),
        ("Pb identity point", 84, {
            let mut b = vec![0u8; 96];
            b[0] = 0xc0;
            b
        }),
        ("Pb outside the subgroup", 84, g2_off_subgroup().to_vec()),
    ] {
        attacks.push(Attack {
            name,
            bytes: fresh().with_field(at, &bytes),
            alert: ILLEGAL_PARAMETER,
            reason: p2p_kx,
        });
    }
    let mut log = Vec::new();
    run_attacks(
        attacks,
        addr,
        &mut rx,
        &good,
        server,
        "bob@example.com",
        &mut log,
    )
    .await;
    for l in &log {
        println!("{l}");
    }
}
