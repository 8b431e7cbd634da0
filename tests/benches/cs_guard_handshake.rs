//! What a shared Redis guard store adds to one whole CS server handshake
//! (issue 12, docs/performance.md "A shared guard store"): one CS login over
//! loopback TCP through the real server path — `TlsAcceptor::accept_tcp`,
//! whose blocking-pool job runs the guard — with the guard on the in-memory
//! store and on a `RedisStore` connected to a local `redis-server`, and a
//! standard rustls TLS 1.3 handshake (ECDSA P-256, ring) through the same
//! kind of listener as the reference, all in one run. Each iteration is a
//! fresh TCP connection, the handshake, and a one-byte echo, so the server
//! has checked the client's Finished and started the guard's completion
//! (which the connection does not wait for) before the iteration ends. The
//! Redis case is skipped when `redis-server` is not installed. Run as a
//! benchmark (`--bench`), it then also prints a paired comparison of the two
//! stores (see [`paired`]), as the client and as the server see a login.

// criterion_group!/criterion_main! generate undocumented items.
#![allow(missing_docs)]
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use milagro_e2e::*;
use milagro_guard_redis::RedisStore;
use milagro_guard_redis::testing::RedisServer;
use milagro_tls::guard::{Guard, MonotonicClock, NoopObserver};
use milagro_tls::keys::PermitPolicy;
use milagro_tls_tokio::{AcceptedStream, MilagroConnector, TlsAcceptor};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One CS login: returns how long the handshake took as the client sees it
/// (until its Finished is sent) and the whole login (with the echo, which
/// the server answers only after it has checked that Finished).
/// One CS login: returns how long the handshake took as the client sees it
/// (until its Finished is sent) and the whole login (with the echo, which
/// the server answers only after it has checked that Finished).
async fn cs_login(
    connector: &MilagroConnector,
    addr: std::net::SocketAddr,
) -> (std::time::Duration, std::time::Duration) {
    let started = std::time::Instant::now();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let mut tls = connector.connect(SERVICE, tcp).await.expect("CS handshake");
    let handshake = started.elapsed();
    assert_eq!(round_trip(&mut tls, b"x").await, b"x");
    (handshake, started.elapsed())
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cs = Cs::new(PermitPolicy::Off);
    let connector = MilagroConnector::new(cs.client("user@example.com", PIN));
    let (std_server, std_client) = standard_configs();
    let std_connector = tokio_rustls::TlsConnector::from(Arc::new(std_client));
    let redis = RedisServer::start_or_skip("cs_guard_handshake bench (redis)");

    let (memory, on_redis) = rt.block_on(async {
        let memory = TlsAcceptor::new(cs.server_with(Guard::in_memory(open_policy())))
            .with_standard(Arc::new(std_server))
            .expect("a standard config without Milagro groups");
        let memory = listen(memory).await;
        let on_redis = match &redis {
            Some(server) => {
                let store = RedisStore::connect(&server.url(0), open_policy())
                    .await
                    .expect("redis");
                let guard = Guard::new(
                    Arc::new(store),
                    Arc::new(MonotonicClock::new()),
                    Arc::new(NoopObserver),
                );
                Some(listen(TlsAcceptor::new(cs.server_with(guard))).await)
            }
            None => None,
        };
        (memory, on_redis)
    });
    let memory_addr = memory.addr;

    let mut group = c.benchmark_group("CS server handshake over loopback");
    group.bench_function("guard in memory", |b| {
        b.iter(|| rt.block_on(cs_login(&connector, memory_addr)))
    });
    if let Some(addr) = on_redis.as_ref().map(|l| l.addr) {
        group.bench_function("guard on redis", |b| {
            b.iter(|| rt.block_on(cs_login(&connector, addr)))
        });
    }
    let localhost = ServerName::try_from("localhost").expect("name");
    group.bench_function("standard TLS 1.3 (rustls, P-256)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tcp = TcpStream::connect(memory_addr).await.expect("connect");
                tcp.set_nodelay(true).expect("nodelay");
                let mut tls = std_connector
                    .connect(localhost.clone(), tcp)
                    .await
                    .expect("standard handshake");
                assert_eq!(round_trip(&mut tls, b"x").await, b"x");
            })
        })
    });
    group.finish();
    if let Some(on_redis) = &on_redis {
        if std::env::args().any(|a| a == "--bench") {
            paired(&rt, &connector, &memory, on_redis);
        }
    }
    drop(redis);
}

/// Logins alternating between the two stores, each timed alone: the machine
/// drifts by more than the effect between criterion's measurement windows
/// (the same binary gives ±10 % from one run to the next on a shared 2-core
/// VM), while consecutive logins see the same conditions. Each login is
/// followed by a short pause, so the work a login leaves behind (the Redis
/// store's completion, which the connection does not wait for) lands before
/// the next one starts; its cost to throughput is the load test's to show.
fn paired(
    rt: &tokio::runtime::Runtime,
    connector: &MilagroConnector,
    memory: &Listener,
    redis: &Listener,
) {
    const PAIRS: usize = 400;
    // [handshake, whole login, server's accept] of one login.
    let timed = |listener: &Listener| {
        let (handshake, login) = rt.block_on(cs_login(connector, listener.addr));
        let accept = listener.last_accept();
        std::thread::sleep(std::time::Duration::from_millis(1));
        [handshake, login, accept]
    };
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    // per measure: [memory, redis, redis − memory]
    let mut samples: [[Vec<f64>; 3]; 3] = Default::default();
    for i in 0..PAIRS {
        let (m, r) = if i % 2 == 0 {
            let m = timed(memory);
            (m, timed(redis))
        } else {
            let r = timed(redis);
            (timed(memory), r)
        };
        for (k, (m, r)) in m.into_iter().zip(r).enumerate() {
            samples[k][0].push(ms(m));
            samples[k][1].push(ms(r));
            samples[k][2].push(ms(r) - ms(m));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (what, [on_memory, on_redis, added]) in [
        "handshake (client: until its Finished is sent)",
        "whole login (client: handshake and one echo)",
        "server handshake (accept_tcp, until the client's Finished is checked)",
    ]
    .into_iter()
    .zip(&mut samples)
    {
        let (m, r, d) = (median(on_memory), median(on_redis), median(added));
        println!(
            "paired, {PAIRS} alternating logins per store, {what}: median {m:.3} ms in \
             memory, {r:.3} ms on Redis; median of the per-pair difference {d:.3} ms \
             ({:+.1} % of the in-memory median)",
            d / m * 100.0
        );
    }
}

/// A listener started by [`listen`].
struct Listener {
    addr: std::net::SocketAddr,
    /// How long the last successful Milagro `accept_tcp` took.
    last_accept: Arc<std::sync::Mutex<std::time::Duration>>,
}

impl Listener {
    fn last_accept(&self) -> std::time::Duration {
        *self.last_accept.lock().expect("lock")
    }
}

/// A loopback listener running every connection through `accept_tcp` in its
/// own task, then echoing. Unlike the tests' `serve`, it sets `TCP_NODELAY`
/// on each accepted socket (as the crate's HTTP server loop does): without
/// it the standard server's session tickets and the echo are two small
/// writes, and Nagle holds the second until the client's delayed ACK, about
/// 40 ms — a measure of the kernel, not of either handshake. A failed
/// handshake fails the client's side of the iteration. It keeps how long
/// the last Milagro `accept_tcp` took (the server's handshake: from the
/// accepted TCP connection to the client's Finished checked and the guard's
/// completion started).
async fn listen(acceptor: TlsAcceptor) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let last_accept = Arc::new(std::sync::Mutex::new(std::time::Duration::ZERO));
    let record = last_accept.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let started = std::time::Instant::now();
                match acceptor.accept_tcp(tcp).await {
                    Ok(AcceptedStream::Milagro(_, tls)) => {
                        *record.lock().expect("lock") = started.elapsed();
                        echo(tls).await
                    }
                    Ok(AcceptedStream::Standard(tls)) => echo(tls).await,
                    Err(_) => {}
                }
            });
        }
    });
    Listener { addr, last_accept }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = [0u8; 64];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
