//! A scripted malicious server against the tokio connector over loopback: a
//! raw listener reads the client's ClientHello and answers with crafted
//! plaintext records (a ServerHello with a bad server share, a
//! HelloRetryRequest naming another group) or never answers. The client must
//! fail with a typed error, within its timeout, never panic.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use milagro_e2e::*;
use milagro_tls::KxError;
use milagro_tls::MilagroClient;
use milagro_tls::MilagroError;
use milagro_tls::keys::PermitPolicy;
use milagro_tls::suite::{CS_GROUP, P2P_GROUP};
use milagro_tls::tls::{ClientHelloRecorder, Progress};
use milagro_tls_tokio::{ConnectError, ConnectorLimits, MilagroConnector};
use rustls::{Error, PeerMisbehaved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// RFC 8446 §4.1.3: the ServerHello.random of a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// A plaintext ServerHello (or HRR) record: TLS 1.3, TLS_AES_128_GCM_SHA256,
/// the client's session id echoed, `key_share` extension body `key_share`.
fn server_hello(random: [u8; 32], session_id: &[u8], key_share: &[u8]) -> Vec<u8> {
    let mut ext = vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    ext.extend_from_slice(&[0x00, 0x33]);
    ext.extend_from_slice(&(key_share.len() as u16).to_be_bytes());
    ext.extend_from_slice(key_share);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&random);
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x02];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x03];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// A `key_share` extension body holding one server share.
fn share_entry(group: u16, share: &[u8]) -> Vec<u8> {
    let mut b = group.to_be_bytes().to_vec();
    b.extend_from_slice(&(share.len() as u16).to_be_bytes());
    b.extend_from_slice(share);
    b
}

/// A one-connection evil server: reads the ClientHello, writes what `answer`
/// makes of its session id (nothing if `None`), then returns what the client
/// sent afterwards (until it closes, at most 10 s).
async fn evil_server(
    answer: impl FnOnce(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut rec = ClientHelloRecorder::new();
        let mut buf = [0u8; 4096];
        let hello = loop {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed before its ClientHello");
            match rec.feed(&buf[..n]).unwrap() {
                Progress::Complete(h) => break h,
                Progress::NeedMore => {}
            }
        };
        let Some(reply) = answer(hello.session_id()) else {
            // Never answer; hold the socket until the client gives up.
            let _ = timeout(Duration::from_secs(10), tcp.read(&mut buf)).await;
            return Vec::new();
        };
        tcp.write_all(&reply).await.unwrap();
        let mut after = Vec::new();
        let _ = timeout(Duration::from_secs(10), tcp.read_to_end(&mut after)).await;
        after
    });
    (addr, task)
}

/// (name, client, server name, group, server share, expected client reason)
type ShareCase = (
    &'static str,
    MilagroClient,
    &'static str,
    u16,
    Vec<u8>,
    KxError,
);

fn cs_client() -> MilagroClient {
    Cs::new(PermitPolicy::Off).client("alice@example.com", PIN)
}

fn p2p_client() -> MilagroClient {
    let p2p = P2p::new();
    milagro_tls::p2p_tls::client(p2p.client_key("bob@example.com"), id("server.example")).unwrap()
}

async fn connect(client: MilagroClient, name: &str, addr: SocketAddr) -> ConnectError {
    let tcp = TcpStream::connect(addr).await.unwrap();
    timeout(
        Duration::from_secs(20),
        MilagroConnector::new(client).connect(name, tcp),
    )
    .await
    .expect("client hung")
    .expect_err("client accepted a hostile server")
}

fn g1(first: u8, last: u8) -> Vec<u8> {
    let mut b = vec![0u8; 48];
    b[0] = first;
    b[47] = last;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_server_shares_fail_the_client_with_illegal_parameter() {
    let w = KxError::MalformedShare("W");
    let pa = KxError::MalformedShare("P2P point");
    let cases: Vec<ShareCase> = vec![
        (
            "CS: W is the identity point",
            cs_client(),
            SERVICE,
            CS_GROUP,
            g1(0xc0, 0),
            w.clone(),
        ),
        (
            "CS: W outside the subgroup",
            cs_client(),
            SERVICE,
            CS_GROUP,
            g1(0x80, 4),
            w.clone(),
        ),
        (
            "CS: W not a point",
            cs_client(),
            SERVICE,
            CS_GROUP,
            vec![0x5a; 48],
            w.clone(),
        ),
        (
            "CS: W 47 bytes",
            cs_client(),
            SERVICE,
            CS_GROUP,
            vec![0xc0; 47],
            KxError::WrongShareLength {
                expected: 48,
                actual: 47,
            },
        ),
        (
            "CS: W 49 bytes (trailing)",
            cs_client(),
            SERVICE,
            CS_GROUP,
            {
                let mut b = g1(0xc0, 0);
                b.push(0);
                b
            },
            KxError::WrongShareLength {
                expected: 48,
                actual: 49,
            },
        ),
        (
            "P2P: Pa is the identity point",
            p2p_client(),
            "server.example",
            P2P_GROUP,
            g1(0xc0, 0),
            pa.clone(),
        ),
        (
            "P2P: Pa outside the subgroup",
            p2p_client(),
            "server.example",
            P2P_GROUP,
            g1(0x80, 4),
            pa.clone(),
        ),
    ];
    for (name, client, server_name, group, share, reason) in cases {
        let ks = share_entry(group, &share);
        let (addr, server) = evil_server(move |sid| Some(server_hello([7; 32], sid, &ks))).await;
        let err = connect(client, server_name, addr).await;
        let after = server.await.unwrap();
        println!("{name} -> client {err:?}; client sent {after:02x?}");
        // The typed kx reason rides in `rustls::Error::Other` (its cell type
        // is crate-private, so it is checked through its Display).
        let ConnectError::Milagro(MilagroError::Tls(Error::Other(other))) = &err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!(other.to_string(), reason.to_string(), "{name}");
        // The client tells the server why, in plaintext.
        assert_eq!(after, ILLEGAL_PARAMETER, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_retry_requests_are_refused() {
    let cases: Vec<(&str, u16, PeerMisbehaved)> = vec![
        (
            "HRR naming X25519",
            0x001d,
            PeerMisbehaved::IllegalHelloRetryRequestWithUnofferedNamedGroup,
        ),
        (
            "HRR naming the other Milagro group",
            P2P_GROUP,
            PeerMisbehaved::IllegalHelloRetryRequestWithUnofferedNamedGroup,
        ),
        (
            "HRR naming the offered Milagro group",
            CS_GROUP,
            PeerMisbehaved::IllegalHelloRetryRequestWithOfferedGroup,
        ),
    ];
    for (name, group, expected) in cases {
        let (addr, server) =
            evil_server(move |sid| Some(server_hello(HRR_RANDOM, sid, &group.to_be_bytes()))).await;
        let err = connect(cs_client(), SERVICE, addr).await;
        let after = server.await.unwrap();
        println!("{name} -> client {err:?}; client sent {after:02x?}");
        assert!(
            matches!(
                &err,
                ConnectError::Milagro(MilagroError::Tls(Error::PeerMisbehaved(p))) if *p == expected
            ),
            "{name}: {err:?}"
        );
        // No second ClientHello: the client aborts with an alert.
        assert_eq!(after.first(), Some(&0x15), "{name}: {after:02x?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    let (addr, server) = evil_server(|_| None).await;
    let mut limits = ConnectorLimits::default();
    limits.handshake_timeout = Duration::from_millis(400);
    let connector = MilagroConnector::new(cs_client()).with_limits(limits);
    let started = Instant::now();
    let err = timeout(
        Duration::from_secs(10),
        connector.connect(SERVICE, TcpStream::connect(addr).await.unwrap()),
    )
    .await
    .expect("the connector's own timeout did not fire")
    .unwrap_err();
    let took = started.elapsed();
    println!("silent server -> client {err:?} after {took:?}");
    assert!(matches!(err, ConnectError::Timeout), "{err:?}");
    assert!(took >= Duration::from_millis(390), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    server.abort();
}
