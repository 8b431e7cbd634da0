//! Faulty and hostile connection behaviour against the tokio acceptor over
//! loopback: clients that disconnect mid-handshake, stall, or send one byte
//! at a time; a flood of bogus ClientHellos while a legitimate client
//! connects and a 10 ms timer keeps ticking (docs/protocol.md §9.5).

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use milagro_e2e::*;
use milagro_tls::KxError;
use milagro_tls::guard::{Guard, Refusal};
use milagro_tls::keys::PermitPolicy;
use milagro_tls::{AcceptError, AdmissionRefusal};
use milagro_tls_tokio::{AcceptorLimits, MilagroConnector, TlsAcceptError, TlsAcceptor};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

fn limits(timeout_ms: u64) -> AcceptorLimits {
    let mut limits = AcceptorLimits::default();
    limits.max_concurrent_handshakes = 8;
    limits.handshake_timeout = Duration::from_millis(timeout_ms);
    limits.blocking_threads = 2;
    limits
}

async fn wait_slots(acceptor: &TlsAcceptor, n: usize) {
    let t = Instant::now();
    while acceptor.available_handshake_slots() != n {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "a slot was never freed"
        );
        sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnects_and_stalls_free_their_slots() {
    let cs = Cs::new(PermitPolicy::Off);
    let acceptor =
        TlsAcceptor::new(cs.server_with(Guard::in_memory(open_policy()))).with_limits(limits(500));
    let (addr, mut rx) = serve(acceptor.clone()).await;
    let alice = cs.client("alice@example.com", PIN);
    let good = MilagroConnector::new(alice.clone());

    // (name, bytes to send, then: close at once or stall)
    let hello = real_hello(&alice, SERVICE).bytes;
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("close after nothing", Vec::new(), true),
        ("close after 5 bytes", hello[..5].to_vec(), true),
        (
            "close after half a hello",
            hello[..hello.len() / 2].to_vec(),
            true,
        ),
        (
            "close right after a full hello",
            real_hello(&alice, SERVICE).bytes,
            true,
        ),
        ("stall after nothing", Vec::new(), false),
        (
            "stall after half a hello",
            hello[..hello.len() / 2].to_vec(),
            false,
        ),
        // The server sends its flight, then waits for a Finished that never comes.
        (
            "stall after a full hello",
            real_hello(&alice, SERVICE).bytes,
            false,
        ),
    ];
    for (name, bytes, close) in cases {
        let started = Instant::now();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&bytes).await.unwrap();
        if close {
            drop(tcp);
        }
        let report = timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{name}: no report"))
            .unwrap();
        let took = started.elapsed();
        let err = report.expect_err(name);
        println!("{name} -> {err:?} after {took:?}");
        if close {
            assert!(!matches!(err, TlsAcceptError::Timeout), "{name}: {err:?}");
        } else {
            assert!(matches!(err, TlsAcceptError::Timeout), "{name}: {err:?}");
            assert!(took >= Duration::from_millis(450), "{name}: {took:?}");
            assert!(took < Duration::from_secs(3), "{name}: {took:?}");
        }
        wait_slots(&acceptor, 8).await;
        good_connect(&good, addr, SERVICE).await;
        assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
    }
}

/// A socket that writes one byte per `write` call (TCP_NODELAY set).
struct Dribble(std::net::TcpStream, usize);

impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Dribble {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.1 += 1;
        self.0.write(&buf[..1])
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_byte_by_byte_is_served() {
    let cs = Cs::new(PermitPolicy::Off);
    let acceptor = TlsAcceptor::new(cs.server_with(Guard::in_memory(open_policy())))
        .with_limits(limits(10_000));
    let (addr, mut rx) = serve(acceptor).await;
    let alice = cs.client("alice@example.com", PIN);
    let config = alice.rustls_config().clone();
    let name = alice.server_name(SERVICE).unwrap();
    let (writes, echoed) = tokio::task::spawn_blocking(move || {
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut io = Dribble(tcp, 0);
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut io).unwrap();
        }
        conn.writer().write_all(b"dribble").unwrap();
        let mut back = Vec::new();
        while back.len() < 7 {
            conn.complete_io(&mut io).unwrap();
            let mut buf = [0u8; 16];
            match conn.reader().read(&mut buf) {
                Ok(n) => back.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        (io.1, back)
    })
    .await
    .unwrap();
    println!("byte-by-byte client: {writes} one-byte writes, handshake and echo completed");
    assert_eq!(echoed, b"dribble");
    assert!(writes > 300, "{writes}");
    assert_eq!(rx.recv().await.unwrap().unwrap(), "alice@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bogus_hellos_keeps_the_runtime_responsive() {
    let cs = Cs::new(PermitPolicy::Off);
    let stranger = Cs::new(PermitPolicy::Off);
    let mut limits = AcceptorLimits::default();
    limits.max_concurrent_handshakes = 64;
    limits.handshake_timeout = Duration::from_secs(10);
    limits.blocking_threads = 2;
    let acceptor =
        TlsAcceptor::new(cs.server_with(Guard::in_memory(open_policy()))).with_limits(limits);
    let (addr, mut rx) = serve(acceptor.clone()).await;

    // A 10 ms ticker on the same runtime: its worst lateness.
    let running = Arc::new(AtomicBool::new(true));
    let max_late_us = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (running, max_late_us) = (running.clone(), max_late_us.clone());
        tokio::spawn(async move {
            let mut ticks = 0u64;
            while running.load(Ordering::Relaxed) {
                let t = Instant::now();
                sleep(Duration::from_millis(10)).await;
                let late = t.elapsed().saturating_sub(Duration::from_millis(10));
                max_late_us.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
                ticks += 1;
            }
            ticks
        })
    };

    // The flood: 16 tasks × 12 hellos from 16 sources; each hello is DLEQ-valid
    // garbage (a stranger deployment's key for a different user each time),
    // so each costs the server a full key exchange.
    let mut hellos = Vec::new();
    for i in 0..192 {
        hellos.push(real_hello(&stranger.client(&format!("x{i}@example.com"), PIN), SERVICE).bytes);
    }
    let hellos = Arc::new(hellos);
    let flood_started = Instant::now();
    let mut flood = Vec::new();
    for task in 0..16usize {
        let hellos = hellos.clone();
        flood.push(tokio::spawn(async move {
            let (mut alerts, mut refused) = (0, 0);
            for k in 0..12 {
                let src = Ipv4Addr::new(127, 0, 7, u8::try_from(task + 1).unwrap());
                let reply = send_raw(src, addr, &hellos[task * 12 + k]).await;
                if reply == ILLEGAL_PARAMETER {
                    alerts += 1;
                } else if reply == INTERNAL_ERROR {
                    refused += 1;
                }
            }
            (alerts, refused)
        }));
    }
    // Meanwhile a legitimate client connects within its 10 s budget. The
    // flood may saturate the global classifier back-pressure, which refuses
    // everyone in plaintext for a moment (the residual of §9.5): the client
    // retries, as a user would, within the same budget.
    sleep(Duration::from_millis(50)).await;
    let good = MilagroConnector::new(cs.client("alice@example.com", PIN));
    let started = Instant::now();
    let mut good_refusals = 0;
    loop {
        let tcp = TcpStream::connect(addr).await.unwrap();
        match timeout(Duration::from_secs(10), good.connect(SERVICE, tcp)).await {
            Ok(Ok(mut tls)) => {
                assert_eq!(round_trip(&mut tls, b"flood").await, b"flood");
                break;
            }
            Ok(Err(e)) => {
                good_refusals += 1;
                println!("legitimate client refused during the flood: {e}");
            }
            Err(_) => panic!("legitimate client hung"),
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never got in");
        sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let (mut alerts, mut refused) = (0, 0);
    for t in flood {
        let (a, r) = timeout(Duration::from_secs(60), t).await.unwrap().unwrap();
        alerts += a;
        refused += r;
    }
    let flood_took = flood_started.elapsed();
    running.store(false, Ordering::Relaxed);
    let ticks = ticker.await.unwrap();
    let late = Duration::from_micros(max_late_us.load(Ordering::Relaxed));
    // One report per connection; the plaintext refusals are back-pressure.
    let (mut busy, mut ok) = (0, 0);
    for _ in 0..193 + good_refusals {
        match timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Ok(_) => ok += 1,
            Err(TlsAcceptError::Accept(AcceptError::Admission(AdmissionRefusal::Guard(
                Refusal::ClassifierBusy,
            )))) => busy += 1,
            Err(TlsAcceptError::Accept(AcceptError::KeyExchange(KxError::ProofFailed))) => {}
            Err(e) => panic!("unexpected report {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    println!(
        "flood of 192 bogus hellos in {flood_took:?}: {alerts} illegal_parameter (key exchange ran), \
         {refused} internal_error (back-pressure: {busy} classifier-busy); \
         legitimate client connected in {took:?} ({good_refusals} refusal(s) first); 10 ms timer: {ticks} ticks, max lateness {late:?}"
    );
    assert_eq!(alerts + refused, 192);
    assert_eq!(refused + good_refusals, busy);
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(late < Duration::from_millis(200), "timer late by {late:?}");
    wait_slots(&acceptor, 64).await;
}
