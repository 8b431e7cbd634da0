//! Lockout side channels over real loopback sockets (docs/protocol.md §6.4
//! "outcome before I/O" and "one charge table"; issue 9 items 1 and 2).
//!
//! * A thief with a stolen token sends a ClientHello with a guessed PIN and
//!   resets the connection at once (SO_LINGER 0): the server's alert write
//!   fails. Each such guess must still count, on the public synchronous
//!   `TlsAcceptor::accept` and on the tokio acceptor, as must a guess
//!   whose accept future is cancelled while the key exchange runs, and one
//!   whose client stalls until the handshake timeout. N + 3 of them lock the
//!   identity exactly like N + 3 ordinary wrong PINs; the right PIN is then
//!   refused.
//! * Malformed ClientHellos that rustls refuses after step 1 and before the
//!   key exchange must not tell a locked identity from an unlocked one: the
//!   reply bytes and the source's throttle balance are the same for both.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use milagro_e2e::*;
use milagro_tls::MilagroError;
use milagro_tls::guard::{Guard, GuardPolicy, GuardTime, ManualClock, MemoryGuard, NoopObserver};
use milagro_tls::identity::Hid;
use milagro_tls::keys::PermitPolicy;
use milagro_tls::{Accepted, MilagroAcceptor};
use milagro_tls_tokio::{AcceptorLimits, ConnectError, MilagroConnector, TlsAcceptor};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout};

const THIEF_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A guard on a frozen clock (throttle balances only ever go down, so every
/// ClientHello's token is visible) with a bucket no test here empties.
fn frozen_guard(burst: u32) -> Guard {
    let mut p = GuardPolicy::default();
    p.throttle.burst = burst;
    Guard::new(
        Arc::new(MemoryGuard::new(p)),
        Arc::new(ManualClock::new(GuardTime::from_millis(1))),
        Arc::new(NoopObserver),
    )
}

fn n() -> u32 {
    GuardPolicy::default().lockout.max_failures
}

/// A server on the public synchronous accept path (as `interop/src/echo.rs`
/// runs it): one thread per connection, the handshake driven over the
/// blocking socket.
fn sync_serve(acceptor: MilagroAcceptor) -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            let acceptor = acceptor.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
                let source = tcp.peer_addr().map(|a| a.ip()).expect("peer");
                let mut rd = tcp.try_clone().expect("clone");
                if let Ok(Accepted::Milagro(mut m)) = acceptor.accept(source, &mut rd, &mut tcp) {
                    while m.connection().is_handshaking() {
                        if m.connection_mut().complete_io(&mut tcp).is_err() {
                            return;
                        }
                    }
                    if m.finish().is_ok() {
                        let mut buf = [0u8; 64];
                        if let Ok(k) = tcp.read(&mut buf) {
                            let _ = tcp.write_all(&buf[..k]);
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Waits (bounded) until `cond` holds.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        sleep(Duration::from_micros(200)).await;
    }
}

/// Waits until the guard holds nothing for `hid` in flight and nothing
/// awaits classification: every attempt so far is resolved.
async fn wait_resolved(guard: &Guard, hid: Hid) {
    wait_until("the attempt's resolution", || {
        guard.status(&hid).in_flight == 0 && guard.pending_classifications() == 0
    })
    .await;
}

/// One guess with the victim's token and `pin`, sent raw; once the server
/// has admitted it (its source's balance moved: a reservation or a silent
/// refusal), `end` ends the connection from the client's side.
async fn probe(
    cs: &Cs,
    guard: &Guard,
    addr: SocketAddr,
    who: &str,
    pin: &str,
    end: impl AsyncFnOnce(TcpStream),
) {
    let hello = real_hello(&cs.client(who, pin), SERVICE);
    let source = IpAddr::V4(THIEF_SOURCE);
    let before = guard.source_tokens(source);
    let mut tcp = connect_from(THIEF_SOURCE, addr).await;
    tcp.write_all(&hello.bytes).await.expect("write hello");
    wait_until("step 1 to admit the hello", || {
        guard.source_tokens(source) < before
    })
    .await;
    end(tcp).await;
    wait_resolved(guard, id(who).cs_hid()).await;
}

/// Resets the connection at once (SO_LINGER 0, then close: RST).
async fn reset(tcp: TcpStream) {
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
}

/// N + 3 ordinary wrong PINs for `who` through `addr` (the reference run).
async fn ordinary_wrong_pins(cs: &Cs, guard: &Guard, addr: SocketAddr, who: &str) {
    for i in 0..n() + 3 {
        let thief = MilagroConnector::new(cs.client(who, &format!("{:04}", 5000 + i)));
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let Err(err) = timeout(Duration::from_secs(30), thief.connect(SERVICE, tcp))
            .await
            .expect("thief hung")
        else {
            panic!("a wrong PIN was accepted");
        };
        assert!(
            matches!(err, ConnectError::Milagro(MilagroError::CredentialRefused)),
            "{err:?}"
        );
        wait_resolved(guard, id(who).cs_hid()).await;
    }
}

/// The right PIN must now be refused as a credential refusal.
async fn right_pin_is_refused(cs: &Cs, addr: SocketAddr, who: &str) {
    let owner = MilagroConnector::new(cs.client(who, PIN));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let r = timeout(Duration::from_secs(30), owner.connect(SERVICE, tcp))
        .await
        .expect("owner hung");
    assert!(
        matches!(
            r,
            Err(ConnectError::Milagro(MilagroError::CredentialRefused))
        ),
        "the right PIN after N + 3 guesses: {:?}",
        r.map(|_| "logged in")
    );
}

/// The victim's counts after N + 3 guesses ended by `end` equal the counts
/// after N + 3 ordinary wrong PINs, and the right PIN is refused.
async fn guesses_lock_like_ordinary_ones(
    cs: &Cs,
    guard: &Guard,
    addr: SocketAddr,
    end: impl AsyncFn(TcpStream),
) {
    const VICTIM: &str = "victim@example.com";
    const REFERENCE: &str = "reference@example.com";
    for i in 0..n() + 3 {
        probe(cs, guard, addr, VICTIM, &format!("{:04}", 5000 + i), &end).await;
    }
    ordinary_wrong_pins(cs, guard, addr, REFERENCE).await;
    let (victim, reference) = (
        guard.status(&id(VICTIM).cs_hid()),
        guard.status(&id(REFERENCE).cs_hid()),
    );
    assert!(reference.locked_out);
    assert_eq!(reference.confirmed, n());
    assert_eq!(
        victim, reference,
        "guesses that ended early were not counted"
    );
    right_pin_is_refused(cs, addr, VICTIM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_wrong_pins_lock_the_identity_on_the_sync_accept_path() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = frozen_guard(100_000);
    let addr = sync_serve(cs.server_with(guard.clone()));
    guesses_lock_like_ordinary_ones(&cs, &guard, addr, async |tcp| reset(tcp).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_wrong_pins_lock_the_identity_on_the_tokio_acceptor() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = frozen_guard(100_000);
    let (addr, _reports) = serve(TlsAcceptor::new(cs.server_with(guard.clone()))).await;
    guesses_lock_like_ordinary_ones(&cs, &guard, addr, async |tcp| reset(tcp).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_wrong_pins_lock_the_identity_after_the_handshake_timeout() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = frozen_guard(100_000);
    let mut limits = AcceptorLimits::default();
    limits.handshake_timeout = Duration::from_millis(300);
    let acceptor = TlsAcceptor::new(cs.server_with(guard.clone())).with_limits(limits);
    let (addr, _reports) = serve(acceptor).await;
    // The client never reads and keeps the connection open past the
    // server's handshake timeout, then resets it.
    guesses_lock_like_ordinary_ones(&cs, &guard, addr, async |tcp| {
        sleep(Duration::from_millis(600)).await;
        reset(tcp).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_whose_accept_future_is_cancelled_still_count() {
    // An application that drops the accept future (its own timeout, a
    // shutdown) while the key exchange runs on the blocking pool.
    let cs = Cs::new(PermitPolicy::Off);
    let guard = frozen_guard(100_000);
    let acceptor = TlsAcceptor::new(cs.server_with(guard.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let task = tokio::spawn(async move {
                let _ = acceptor.accept_tcp(tcp).await;
            });
            let _ = tx.send(task.abort_handle());
        }
    });
    const VICTIM: &str = "victim@example.com";
    for i in 0..n() + 3 {
        // Cancel the thief's accept future as soon as step 1 admitted it.
        let rx = &mut rx;
        let cancel = async move |tcp: TcpStream| {
            rx.recv().await.expect("accept task").abort();
            drop(tcp);
        };
        probe(
            &cs,
            &guard,
            addr,
            VICTIM,
            &format!("{:04}", 5000 + i),
            cancel,
        )
        .await;
    }
    let victim = guard.status(&id(VICTIM).cs_hid());
    assert!(victim.locked_out, "{victim:?}");
    assert_eq!(victim.confirmed, n());
}

// ------------------------------------------------- item 2: malformations

/// A one-record ClientHello with its cipher suites and/or compression
/// methods replaced and `extra` (whole extensions) appended.
fn mutate_hello(
    hello: &[u8],
    suites: Option<&[u16]>,
    compression: Option<&[u8]>,
    extra: &[u8],
) -> Vec<u8> {
    let be16 = |at: usize| usize::from(u16::from_be_bytes([hello[at], hello[at + 1]]));
    let sid = 5 + 4 + 2 + 32;
    let cs = sid + 1 + usize::from(hello[sid]);
    let comp = cs + 2 + be16(cs);
    let exts = comp + 1 + usize::from(hello[comp]);
    let mut body = hello[9..cs].to_vec();
    match suites {
        Some(s) => {
            body.extend(u16::try_from(2 * s.len()).expect("len").to_be_bytes());
            body.extend(s.iter().flat_map(|v| v.to_be_bytes()));
        }
        None => body.extend(&hello[cs..comp]),
    }
    match compression {
        Some(c) => {
            body.push(u8::try_from(c.len()).expect("len"));
            body.extend(c);
        }
        None => body.extend(&hello[comp..exts]),
    }
    let old = &hello[exts + 2..exts + 2 + be16(exts)];
    body.extend(
        u16::try_from(old.len() + extra.len())
            .expect("len")
            .to_be_bytes(),
    );
    body.extend(old);
    body.extend(extra);
    let len = u32::try_from(body.len()).expect("len").to_be_bytes();
    let mut msg = vec![1, len[1], len[2], len[3]];
    msg.extend(body);
    let mut out = vec![22, 3, 1];
    out.extend(u16::try_from(msg.len()).expect("len").to_be_bytes());
    out.extend(msg);
    out
}

/// ClientHellos rustls accepts at `Acceptor::accept` and refuses before the
/// key exchange (each with the Milagro share of `hello`).
fn malformations(hello: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    // pre_shared_key: two identities "abc", one binder.
    let id_abc = [0, 3, b'a', b'b', b'c', 0, 0, 0, 0];
    let mut psk_body = vec![0, 18];
    psk_body.extend(id_abc);
    psk_body.extend(id_abc);
    psk_body.extend([0, 33, 32]);
    psk_body.extend([0u8; 32]);
    let mut psk = vec![0, 41];
    psk.extend(u16::try_from(psk_body.len()).expect("len").to_be_bytes());
    psk.extend(psk_body);
    // compress_certificate listing zlib twice.
    let dup_cc = [0, 27, 0, 5, 4, 0, 1, 0, 1];
    vec![
        (
            "compression [0, 1]",
            mutate_hello(hello, None, Some(&[0, 1]), &[]),
        ),
        (
            "compression [1, 0]",
            mutate_hello(hello, None, Some(&[1, 0]), &[]),
        ),
        (
            "no TLS 1.3 cipher suite",
            mutate_hello(hello, Some(&[0xC02F]), None, &[]),
        ),
        (
            "PSK identities ≠ binders",
            mutate_hello(hello, None, None, &psk),
        ),
        (
            "duplicate certificate compression",
            mutate_hello(hello, None, None, &dup_cc),
        ),
    ]
}

/// What a prober sees for `probes` copies of `bytes` from a fresh source:
/// the reply to each, and the source's balance afterwards.
async fn observe(
    guard: &Guard,
    addr: SocketAddr,
    source: Ipv4Addr,
    bytes: &[u8],
    probes: usize,
) -> (Vec<Vec<u8>>, i64) {
    let mut replies = Vec::new();
    for _ in 0..probes {
        replies.push(send_raw(source, addr, bytes).await);
    }
    (replies, guard.source_tokens(IpAddr::V4(source)))
}

/// For each malformation, a locked and an unlocked identity look the same:
/// same reply to every probe, same number of probes until the throttle
/// bites (none here), same balance.
async fn malformed_hellos_do_not_tell_locked_from_unlocked(
    cs: &Cs,
    guard: &Guard,
    addr: SocketAddr,
) {
    const LOCKED: &str = "locked@example.com";
    const FREE: &str = "free@example.com";
    // Lock LOCKED with N wrong PINs, one source each (20-token buckets).
    for i in 0..n() {
        let src = Ipv4Addr::new(127, 0, 9, u8::try_from(i + 1).expect("u8"));
        let hello = real_hello(&cs.client(LOCKED, &format!("{:04}", 7000 + i)), SERVICE);
        assert_eq!(send_raw(src, addr, &hello.bytes).await, ILLEGAL_PARAMETER);
        wait_resolved(guard, id(LOCKED).cs_hid()).await;
    }
    assert!(guard.status(&id(LOCKED).cs_hid()).locked_out);
    // More probes than a bucket holds ClientHellos (burst 20).
    let probes = 24;
    let (locked_hello, free_hello) = (
        real_hello(&cs.client(LOCKED, "9999"), SERVICE),
        real_hello(&cs.client(FREE, "9999"), SERVICE),
    );
    let cases = malformations(&locked_hello.bytes)
        .into_iter()
        .zip(malformations(&free_hello.bytes));
    for (m, ((what, locked_bytes), (_, free_bytes))) in cases.enumerate() {
        let m = u8::try_from(m).expect("u8");
        let locked = observe(
            guard,
            addr,
            Ipv4Addr::new(127, 0, 10, m + 1),
            &locked_bytes,
            probes,
        )
        .await;
        let free = observe(
            guard,
            addr,
            Ipv4Addr::new(127, 0, 11, m + 1),
            &free_bytes,
            probes,
        )
        .await;
        assert_eq!(locked, free, "{what}: a locked identity is told apart");
        assert!(
            locked.0.iter().all(|r| r == &HANDSHAKE_FAILURE),
            "{what}: {:?}",
            locked.0
        );
    }
    // The identity that was never locked still logs in: the probes counted
    // nothing against it.
    assert_eq!(guard.status(&id(FREE).cs_hid()).confirmed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_hellos_do_not_reveal_a_lockout_on_the_sync_path() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = frozen_guard(20);
    let addr = sync_serve(cs.server_with(guard.clone()));
    malformed_hellos_do_not_tell_locked_from_unlocked(&cs, &guard, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_hellos_do_not_reveal_a_lockout_on_the_tokio_path() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = frozen_guard(20);
    let (addr, _reports) = serve(TlsAcceptor::new(cs.server_with(guard.clone()))).await;
    malformed_hellos_do_not_tell_locked_from_unlocked(&cs, &guard, addr).await;
}
