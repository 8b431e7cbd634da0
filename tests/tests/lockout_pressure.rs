//! Lockout under pressure, over loopback against the tokio acceptor
//! (docs/protocol.md §6.4 step 1 and 3, §9.4, §9.5): parallel wrong-PIN
//! attempts never push `confirmed + in_flight` above N; DLEQ-valid garbage
//! aimed at a victim's HID never counts against the victim; and the window
//! in which such garbage holds one of the victim's slots is measured.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use milagro_e2e::*;
use milagro_tls::AcceptError;
use milagro_tls::KxError;
use milagro_tls::MilagroError;
use milagro_tls::guard::Guard;
use milagro_tls::keys::PermitPolicy;
use milagro_tls_tokio::{ConnectError, MilagroConnector, TlsAcceptError, TlsAcceptor};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

const VICTIM: &str = "victim@example.com";

/// Polls `guard` for `who` every 200 µs while `running`; returns the largest
/// `confirmed + in_flight` seen.
fn watch(guard: Guard, who: &str, running: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    let hid = id(who).cs_hid();
    std::thread::spawn(move || {
        let mut max = 0;
        while running.load(Ordering::Relaxed) {
            let st = guard.status(&hid);
            max = max.max(st.confirmed + st.in_flight);
            std::thread::sleep(Duration::from_micros(200));
        }
        max
    })
}

async fn wait_classified(guard: &Guard) {
    let started = Instant::now();
    while guard.pending_classifications() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "classifier stuck"
        );
        sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_pins_never_exceed_n() {
    let cs = Cs::new(PermitPolicy::Off);
    let guard = Guard::in_memory(open_policy());
    let n = open_policy().lockout.max_failures;
    assert_eq!(n, 5);
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server_with(guard.clone()))).await;
    let running = Arc::new(AtomicBool::new(true));
    let watcher = watch(guard.clone(), VICTIM, running.clone());

    // A thief with the victim's token: 40 wrong guesses at once, 4 rounds.
    let attempts = 40usize;
    let mut tasks = Vec::new();
    for i in 0..attempts {
        let thief = MilagroConnector::new(cs.client(VICTIM, &format!("{:04}", 5000 + i)));
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            timeout(Duration::from_secs(30), thief.connect(SERVICE, tcp))
                .await
                .expect("thief hung")
                .err()
        }));
    }
    for t in tasks {
        let err = t.await.unwrap().expect("a wrong PIN was accepted");
        assert!(
            matches!(err, ConnectError::Milagro(MilagroError::CredentialRefused)),
            "{err:?}"
        );
    }
    let (mut counted, mut silent) = (0, 0);
    for _ in 0..attempts {
        match rx.recv().await.unwrap() {
            Err(TlsAcceptError::Accept(AcceptError::KeyExchange(KxError::ProofFailed))) => {
                counted += 1
            }
            Err(TlsAcceptError::Accept(AcceptError::SilentlyRefused(_))) => silent += 1,
            other => panic!("unexpected report {other:?}"),
        }
    }
    wait_classified(&guard).await;
    running.store(false, Ordering::Relaxed);
    let max_seen = watcher.join().unwrap();
    let st = guard.status(&id(VICTIM).cs_hid());
    println!(
        "{attempts} parallel wrong PINs: {counted} reached the proof, {silent} silently refused; \
         confirmed {} cumulative {} locked {}; max confirmed+in_flight seen {max_seen}",
        st.confirmed, st.cumulative, st.locked_out
    );
    assert_eq!(counted + silent, attempts);
    assert!(st.confirmed <= n && st.cumulative <= n, "{st:?}");
    assert!(
        max_seen <= n,
        "confirmed + in_flight reached {max_seen} > {n}"
    );
    assert_eq!(st.in_flight, 0);
    assert!(st.confirmed >= 1, "no wrong PIN was counted: {st:?}");
    // Once locked out, even the right PIN is refused (silently, like a
    // wrong one); before, it logs in and resets the count.
    let good = MilagroConnector::new(cs.client(VICTIM, PIN));
    let r = good
        .connect(SERVICE, TcpStream::connect(addr).await.unwrap())
        .await;
    if st.locked_out {
        assert!(matches!(
            r,
            Err(ConnectError::Milagro(MilagroError::CredentialRefused))
        ));
    } else {
        assert!(r.is_ok(), "{:?}", r.err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_aimed_at_a_victim_never_locks_them_and_its_window_is_short() {
    let cs = Cs::new(PermitPolicy::Off);
    // Strangers: a deployment the server does not know, issuing "keys" for
    // the victim's identity — DLEQ-valid shares whose proof fails and
    // classifies as invalid.
    let stranger = Cs::new(PermitPolicy::Off);
    let guard = Guard::in_memory(open_policy());
    let (addr, mut rx) = serve(TlsAcceptor::new(cs.server_with(guard.clone()))).await;
    let garbage = stranger.client(VICTIM, PIN);
    let hid = id(VICTIM).cs_hid();

    // Window, one at a time: from writing the hello until the victim's
    // slot is free again (classification done).
    let mut windows = Vec::new();
    for i in 0..20u8 {
        let hello = real_hello(&garbage, SERVICE).bytes;
        let started = Instant::now();
        let task =
            tokio::spawn(
                async move { send_raw(Ipv4Addr::new(127, 0, 5, i + 1), addr, &hello).await },
            );
        // The accept path reports the failed proof (alert written), then
        // the classifier releases the slot off the handshake path.
        let report = timeout(Duration::from_secs(10), rx.recv()).await.unwrap();
        assert!(matches!(
            report,
            Some(Err(TlsAcceptError::Accept(AcceptError::KeyExchange(
                KxError::ProofFailed
            ))))
        ));
        loop {
            let st = guard.status(&hid);
            if st.in_flight == 0 && guard.pending_classifications() == 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{st:?}");
            sleep(Duration::from_micros(200)).await;
        }
        windows.push(started.elapsed());
        assert_eq!(task.await.unwrap(), ILLEGAL_PARAMETER);
    }
    windows.sort();
    println!(
        "garbage window (hello written -> victim slot free), sequential: p50 {:?} max {:?}",
        percentile(&windows, 50),
        percentile(&windows, 100)
    );

    // Now a parallel barrage (64 from 64 sources) while the victim retries:
    // some victim attempts may be refused while slots are held, never
    // counted; afterwards the victim logs in.
    let sources = 64u8;
    let mut tasks = Vec::new();
    for i in 0..sources {
        let hello = real_hello(&garbage, SERVICE).bytes;
        tasks.push(tokio::spawn(async move {
            send_raw(Ipv4Addr::new(127, 0, 6, i + 1), addr, &hello).await
        }));
    }
    let victim = MilagroConnector::new(cs.client(VICTIM, PIN));
    let refused_during = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let mut victim_ok = false;
    while started.elapsed() < Duration::from_secs(20) {
        let r = victim
            .connect(SERVICE, TcpStream::connect(addr).await.unwrap())
            .await;
        if r.is_ok() {
            victim_ok = true;
            break;
        }
        refused_during.fetch_add(1, Ordering::Relaxed);
        sleep(Duration::from_millis(5)).await;
    }
    let victim_wait = started.elapsed();
    for t in tasks {
        assert_eq!(t.await.unwrap(), ILLEGAL_PARAMETER);
    }
    wait_classified(&guard).await;
    // The victim's own login releases its slot when the server has checked
    // its Finished, which may be just after the client's connect returned.
    let t = Instant::now();
    while guard.status(&hid).in_flight > 0 && t.elapsed() < Duration::from_secs(10) {
        sleep(Duration::from_millis(2)).await;
    }
    let st = guard.status(&hid);
    println!(
        "{sources} parallel garbage hellos: victim refused {} time(s), logged in after {victim_wait:?}; \
         confirmed {} cumulative {} locked {}",
        refused_during.load(Ordering::Relaxed),
        st.confirmed,
        st.cumulative,
        st.locked_out
    );
    assert!(victim_ok, "the victim never got in");
    assert_eq!(
        (st.confirmed, st.cumulative, st.locked_out, st.in_flight),
        (0, 0, false, 0)
    );
    // And once more, cleanly.
    good_connect(&victim, addr, SERVICE).await;
}
