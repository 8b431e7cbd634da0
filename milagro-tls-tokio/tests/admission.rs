//! Connection admission before the ClientHello (docs/protocol.md §9.5): the
//! per-source connection cap and the ClientHello timeout of the async
//! acceptor, attacked over real loopback sockets (127.0.0.0/8).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use milagro_tls::AcceptError;
use milagro_tls::Classifier;
use milagro_tls::MilagroClient;
use milagro_tls::cs_tls;
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::pairing::OsEntropy;
use milagro_tls_tokio::{
    AcceptedStream, AcceptorLimits, BuildError, MilagroConnector, TlsAcceptError, TlsAcceptor,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};

const PIN: &str = "1234";
const ALICE: &str = "alice@example.com";
/// A bound for one step of a test, far below the handshake timeout the
/// tests configure (60 s): reaching it means a client was blocked.
const STEP: Duration = Duration::from_secs(20);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

fn digits() -> PinDigits {
    PinDigits::new(4).unwrap()
}

struct Cs(MasterShare);

impl Cs {
    fn new() -> Self {
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        Self(MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap())
    }
    fn client(&self) -> MilagroClient {
        let alice = Identity::new(ALICE).unwrap();
        let cs =
            CsClientSecret::combine(&[self.0.issue_cs_client_secret(&alice).unwrap()]).unwrap();
        let token = extract_pin(&cs, &Pin::parse(PIN, digits()).unwrap()).unwrap();
        cs_tls::client(token, Pin::parse(PIN, digits()).unwrap(), None).unwrap()
    }
    /// A CS acceptor whose guard keeps reservations for `reservation_ttl`.
    fn acceptor_with_ttl(&self, limits: AcceptorLimits, reservation_ttl: Duration) -> TlsAcceptor {
        let ss = CsServerSecret::combine(&[self.0.issue_cs_server_secret().unwrap()]).unwrap();
        let mut policy = GuardPolicy::default();
        policy.lockout.reservation_ttl = reservation_ttl;
        let sync = cs_tls::server(
            ss,
            cs_tls::ServerOptions::new(Guard::in_memory(policy), Classifier::new(1).unwrap())
                .pin_digits(digits()),
        )
        .unwrap();
        TlsAcceptor::new(sync).with_limits(limits)
    }
    /// A CS acceptor whose reservations outlive the tests' handshake timeout.
    fn acceptor(&self, limits: AcceptorLimits) -> TlsAcceptor {
        self.acceptor_with_ttl(limits, 2 * HANDSHAKE_TIMEOUT)
    }
}

/// A listener on 127.0.0.1 accepting every connection in its own task and
/// reporting each outcome (the identity, or the error) on the channel.
async fn serve(
    acceptor: TlsAcceptor,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Result<String, TlsAcceptError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let report = match acceptor.accept_tcp(tcp).await {
                    Ok(AcceptedStream::Milagro(who, _tls)) => {
                        Ok(who.identity().as_str().to_owned())
                    }
                    Ok(AcceptedStream::Standard(_)) => Ok("<standard>".to_owned()),
                    Err(e) => Err(e),
                };
                let _ = tx.send(report);
            });
        }
    });
    (addr, rx)
}

async fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Waits (bounded) until `cond` holds.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    timeout(STEP, async {
        while !cond() {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// The attack: one address opens 300 connections and sends one byte on
/// each, never a whole ClientHello. Without a per-source cap they hold every
/// one of the 256 handshake slots until the handshake timeout, and nobody
/// else is served. With it, the source's connections beyond the cap are
/// refused before anything is read, and a client from another address is
/// served while the slow ones are still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_with_300_slow_connections_cannot_block_another_client() {
    let cs = Cs::new();
    let mut limits = AcceptorLimits::default();
    limits.handshake_timeout = HANDSHAKE_TIMEOUT;
    // Only the per-source cap is under test here.
    limits.client_hello_timeout = HANDSHAKE_TIMEOUT;
    let (global, per_source) = (
        limits.max_concurrent_handshakes,
        limits.max_connections_per_source,
    );
    assert!(per_source < global && 300 > global);
    let acceptor = cs.acceptor(limits);
    let (addr, mut rx) = serve(acceptor.clone()).await;

    let slow_source = Ipv4Addr::new(127, 0, 0, 2);
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut tcp = connect_from(slow_source, addr).await;
        // The first byte of a handshake record, and nothing more. A refused
        // connection may already be closed: ignore write errors.
        let _ = tcp.write_all(&[0x16]).await;
        slow.push(tcp);
    }
    // Exactly the connections beyond the cap are refused, before reading.
    for _ in 0..300 - per_source {
        match timeout(STEP, rx.recv()).await.unwrap().unwrap() {
            Err(TlsAcceptError::SourceBusy) => {}
            other => panic!("expected SourceBusy, got {other:?}"),
        }
    }
    let slow_ip = IpAddr::V4(slow_source);
    wait_until("the slow source's connections to take their slots", || {
        acceptor.available_handshake_slots() == global - per_source
    })
    .await;
    assert_eq!(acceptor.connections_from(slow_ip), per_source);

    // A client from 127.0.0.1 is served while the slow source is held.
    let good = MilagroConnector::new(cs.client());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = timeout(STEP, good.connect("service.example", tcp))
        .await
        .expect("a client from another address was blocked by the slow source");
    assert!(tls.is_ok(), "{:?}", tls.err());
    assert_eq!(
        timeout(STEP, rx.recv()).await.unwrap().unwrap().unwrap(),
        ALICE
    );
    assert_eq!(acceptor.connections_from(slow_ip), per_source);
    assert!(
        rx.try_recv().is_err(),
        "the slow connections are still open"
    );

    // Closing them frees every slot and the source's count.
    drop(slow);
    for _ in 0..per_source {
        match timeout(STEP, rx.recv()).await.unwrap().unwrap() {
            Err(TlsAcceptError::Accept(AcceptError::Eof)) => {}
            other => panic!("expected Eof, got {other:?}"),
        }
    }
    wait_until("every slot back", || {
        acceptor.available_handshake_slots() == global && acceptor.connections_from(slow_ip) == 0
    })
    .await;
}

/// The attack, spread over addresses: slow connections (silent, or half a
/// ClientHello) from several sources fill every handshake slot. The
/// ClientHello timeout, far shorter than the handshake timeout, drops them
/// and frees the slots for a client that arrives behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clienthellos_are_dropped_at_the_clienthello_timeout_not_the_handshake_timeout() {
    let cs = Cs::new();
    let mut limits = AcceptorLimits::default();
    limits.max_concurrent_handshakes = 4;
    limits.handshake_timeout = HANDSHAKE_TIMEOUT;
    limits.client_hello_timeout = Duration::from_millis(300);
    let acceptor = cs.acceptor(limits);
    let (addr, mut rx) = serve(acceptor.clone()).await;

    // A real ClientHello cut in half, for the "half a hello" connections.
    let mut conn = cs.client().connect("service.example").unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let half = &hello[..hello.len() / 2];

    let mut slow = Vec::new();
    for i in 0..4u8 {
        let mut tcp = connect_from(Ipv4Addr::new(127, 0, 9, i + 1), addr).await;
        if i % 2 == 1 {
            tcp.write_all(half).await.unwrap();
        }
        slow.push(tcp);
    }
    wait_until("the slow connections to fill every slot", || {
        acceptor.available_handshake_slots() == 0
    })
    .await;
    // A client arriving now waits for a slot, which the timeout frees.
    let good = MilagroConnector::new(cs.client());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = timeout(STEP, good.connect("service.example", tcp))
        .await
        .expect("slow ClientHellos held the slots until the handshake timeout");
    assert!(tls.is_ok(), "{:?}", tls.err());

    let mut reports = Vec::new();
    for _ in 0..5 {
        reports.push(timeout(STEP, rx.recv()).await.unwrap().unwrap());
    }
    let timed_out = reports
        .iter()
        .filter(|r| matches!(r, Err(TlsAcceptError::ClientHelloTimeout)))
        .count();
    assert_eq!(timed_out, 4, "{reports:?}");
    assert!(
        reports.iter().any(|r| matches!(r, Ok(who) if who == ALICE)),
        "{reports:?}"
    );
    wait_until("every slot back", || {
        acceptor.available_handshake_slots() == 4
    })
    .await;
    drop(slow);
}

/// The cap counts sources as the guard's throttle does: an IPv6 /64 is one
/// source (one host usually controls a whole /64), so cycling addresses
/// inside it does not escape the cap; another /64 is another source. The
/// count is given back when `accept` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_source_cap_counts_an_ipv6_slash_64_as_one_source() {
    let cs = Cs::new();
    let mut limits = AcceptorLimits::default();
    limits.max_connections_per_source = 2;
    limits.handshake_timeout = HANDSHAKE_TIMEOUT;
    limits.client_hello_timeout = HANDSHAKE_TIMEOUT;
    let acceptor = cs.acceptor(limits);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // Two silent in-memory connections from one /64 hold its two places.
    let mut held = Vec::new();
    let mut pending = Vec::new();
    for a in ["2001:db8::1", "2001:db8::2"] {
        let (ours, theirs) = tokio::io::duplex(4096);
        held.push(ours);
        let acceptor = acceptor.clone();
        pending.push(tokio::spawn(
            async move { acceptor.accept(ip(a), theirs).await },
        ));
    }
    wait_until("both places taken", || {
        acceptor.connections_from(ip("2001:db8::ffff")) == 2
    })
    .await;
    // A third address in the same /64 is refused at once …
    let (_ours, theirs) = tokio::io::duplex(4096);
    let third = timeout(STEP, acceptor.accept(ip("2001:db8::3"), theirs))
        .await
        .expect("a refused connection returns at once");
    assert!(
        matches!(third, Err(TlsAcceptError::SourceBusy)),
        "{third:?}"
    );
    // … another /64 is not.
    assert_eq!(acceptor.connections_from(ip("2001:db8:0:1::1")), 0);
    let (other_ours, theirs) = tokio::io::duplex(4096);
    let acceptor2 = acceptor.clone();
    let other = tokio::spawn(async move { acceptor2.accept(ip("2001:db8:0:1::1"), theirs).await });
    wait_until("the other /64's connection inside", || {
        acceptor.connections_from(ip("2001:db8:0:1::1")) == 1
    })
    .await;
    // Closing the held connections gives their places back.
    drop(held);
    drop(other_ours);
    for p in pending {
        let r = timeout(STEP, p).await.unwrap().unwrap();
        assert!(
            matches!(r, Err(TlsAcceptError::Accept(AcceptError::Eof))),
            "{r:?}"
        );
    }
    let r = timeout(STEP, other).await.unwrap().unwrap();
    assert!(
        matches!(r, Err(TlsAcceptError::Accept(AcceptError::Eof))),
        "{r:?}"
    );
    assert_eq!(acceptor.connections_from(ip("2001:db8::1")), 0);
    assert_eq!(acceptor.connections_from(ip("2001:db8:0:1::1")), 0);
}

/// A CS attempt may wait for a blocking-pool thread until its handshake
/// deadline; if its reservation could expire first, the cap on failures in
/// flight stops holding. Such an acceptor fails its startup check and
/// refuses every connection, reading and writing nothing.
#[tokio::test]
async fn a_handshake_timeout_not_shorter_than_the_reservation_ttl_is_refused() {
    let cs = Cs::new();
    let ttl = Duration::from_secs(30);
    for handshake_timeout in [ttl, ttl + Duration::from_secs(1)] {
        let mut limits = AcceptorLimits::default();
        limits.handshake_timeout = handshake_timeout;
        let acceptor = cs.acceptor_with_ttl(limits, ttl);
        let want = BuildError::HandshakeOutlivesReservation {
            handshake_timeout,
            reservation_ttl: ttl,
        };
        assert_eq!(acceptor.check(), Err(want.clone()));
        let (addr, mut rx) = serve(acceptor).await;
        let mut tcp = connect_from(Ipv4Addr::new(127, 0, 0, 1), addr).await;
        match timeout(STEP, rx.recv()).await.unwrap().unwrap() {
            Err(TlsAcceptError::Misconfigured(e)) => assert_eq!(e, want),
            other => panic!("{handshake_timeout:?}: {other:?}"),
        }
        // Nothing was written: the server just closed.
        let mut buf = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut buf)
            .await
            .unwrap();
        assert!(buf.is_empty(), "{buf:?}");
    }
    // One second shorter: accepted, and a client logs in.
    let mut limits = AcceptorLimits::default();
    limits.handshake_timeout = ttl - Duration::from_secs(1);
    let acceptor = cs.acceptor_with_ttl(limits, ttl);
    assert_eq!(acceptor.check(), Ok(()));
    let (addr, mut rx) = serve(acceptor).await;
    let tcp = connect_from(Ipv4Addr::new(127, 0, 0, 1), addr).await;
    let connector = MilagroConnector::new(cs.client());
    let _tls = timeout(STEP, connector.connect("service.example", tcp))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        timeout(STEP, rx.recv()).await.unwrap().unwrap().unwrap(),
        ALICE
    );
}
