//! Three `echo-server` processes sharing one Redis guard store
//! (`--guard redis://…`), against a real `redis-server` started by the
//! harness (skipped with a printed reason only when it is not installed and
//! `CI` is unset): lockout after exactly N wrong PINs spread over the three,
//! silent refusals everywhere once locked, parallel attempts never counting
//! more than N, a key share accepted by one server refused as a replay by
//! another, and `milagro guard status|unlock` on the same Redis.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use milagro_examples::echo::{ClientCli, EchoError, client_connector, exchange};
use milagro_examples::keytool::{KeyToolError, PinPrompt};
use milagro_guard_redis::RedisStore;
use milagro_guard_redis::testing::RedisServer;
use milagro_tls::MilagroError;
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy, IdentityStatus, MonotonicClock, NoopObserver};
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::pairing::OsEntropy;
use milagro_tls_tokio::ConnectError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zeroize::Zeroizing;

mod common;
use common::{certificate, standard_client};

/// No terminal: the PIN comes from `--pin`.
struct NoTerminal;

impl PinPrompt for NoTerminal {
    fn is_interactive(&self) -> bool {
        false
    }
    fn prompt(&self, _message: &str) -> Result<Zeroizing<String>, KeyToolError> {
        Ok(Zeroizing::new(String::new()))
    }
}

/// `server.secret` and `<name>.token` (PIN 1234) for each user.
fn cs_files(dir: &Path, users: &[&str]) {
    let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
    let ss = CsServerSecret::combine(&[dta.issue_cs_server_secret().unwrap()]).unwrap();
    std::fs::write(dir.join("server.secret"), ss.to_pem().unwrap().as_bytes()).unwrap();
    for user in users {
        let id = Identity::new(user).unwrap();
        let cs = CsClientSecret::combine(&[dta.issue_cs_client_secret(&id).unwrap()]).unwrap();
        let pin = Pin::parse("1234", PinDigits::new(4).unwrap()).unwrap();
        let token = extract_pin(&cs, &pin).unwrap();
        let file = dir.join(format!("{user}.token"));
        std::fs::write(file, token.to_pem().unwrap().as_bytes()).unwrap();
    }
}

/// An `echo-server` child process, killed when dropped.
struct EchoServer {
    child: Child,
    addr: SocketAddr,
    /// Its standard output after `listening on`, line by line.
    output: Arc<Mutex<Vec<String>>>,
}

impl EchoServer {
    fn start(dir: &Path, guard: &str) -> Self {
        Self::start_with(dir, guard, &[])
    }

    /// With `extra` arguments (paths relative to `dir`).
    fn start_with(dir: &Path, guard: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_echo-server"))
            .current_dir(dir)
            .args(["--listen", "127.0.0.1:0", "--pin-digits", "4"])
            .arg("--cs-server-secret")
            .arg(dir.join("server.secret"))
            .args(["--guard", guard])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("echo-server exited").unwrap();
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.parse().unwrap();
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let errors = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in errors.map_while(Result::ok) {
                sink.lock().unwrap().push(format!("stderr: {line}"));
            }
        });
        Self {
            child,
            addr,
            output,
        }
    }

    /// Everything it printed so far.
    fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until it has printed a line matching `want` (its
    /// output reaches the test through a reader thread).
    fn expect_line(&self, what: &str, want: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.output().iter().any(|l| want(l)) {
            assert!(
                Instant::now() < deadline,
                "never printed {what}: {:#?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn login(dir: &Path, server: SocketAddr, user: &str, pin: &str) -> Result<(), EchoError> {
    let token = dir.join(format!("{user}.token"));
    let cli = ClientCli::try_parse_from([
        "echo-client",
        "--connect",
        &server.to_string(),
        "--server-name",
        "service.example",
        "--token",
        token.to_str().unwrap(),
        "--pin",
        pin,
        "--message",
        "hi",
    ])
    .unwrap();
    let connector = client_connector(&cli, &NoTerminal)?;
    exchange(&connector, server, &cli.server_name, &cli.message)
        .await
        .map(|_| ())
}

fn credential_refused(r: &Result<(), EchoError>) -> bool {
    matches!(
        r,
        Err(EchoError::Connect(ConnectError::Milagro(
            MilagroError::CredentialRefused
        )))
    )
}

/// The test's own view of the servers' shared state: a guard over the same
/// Redis with the servers' default policy.
async fn operator_guard(url: &str) -> Guard {
    let store = RedisStore::connect(url, GuardPolicy::default())
        .await
        .unwrap();
    Guard::new(
        Arc::new(store),
        Arc::new(MonotonicClock::new()),
        Arc::new(NoopObserver),
    )
}

/// The shared state as an operator sees it, once every attempt in flight
/// has been classified (classification runs after the refusal is sent).
async fn settled(guard: &Guard, user: &str) -> IdentityStatus {
    let hid = Identity::new(user).unwrap().cs_hid();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = guard.status_async(&hid).await.unwrap();
        if s.in_flight == 0 {
            return s;
        }
        assert!(Instant::now() < deadline, "attempts never settled: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Forwards one connection to `server`, returning the client's first TLS
/// record (its ClientHello) once the exchange ends.
async fn recording_proxy(server: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let mut upstream = TcpStream::connect(server).await.unwrap();
        let mut header = [0u8; 5];
        client.read_exact(&mut header).await.unwrap();
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut record = header.to_vec();
        record.resize(5 + len, 0);
        client.read_exact(&mut record[5..]).await.unwrap();
        upstream.write_all(&record).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        record
    });
    (addr, task)
}

/// Refills 127.0.0.1's token bucket (shared by the three servers: every
/// client here has that one source address, and each failure costs it 10 of
/// its 20 tokens). An operator's `DEL` of the bucket key.
fn refill(redis: &RedisServer) {
    let out = Command::new("redis-cli")
        .args(["-p", &redis.port().to_string()])
        .args(["DEL", "milagro:{s:4:7f000001}:tb"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

fn keytool(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_milagro"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_share_lockout_replay_and_reservations_through_redis() {
    let Some(redis) = RedisServer::start_or_skip("three_servers_share_lockout") else {
        return;
    };
    let url = redis.url(0);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    cs_files(
        dir,
        &["alice@example.com", "bob@example.com", "carol@example.com"],
    );
    let servers: Vec<EchoServer> = (0..3).map(|_| EchoServer::start(dir, &url)).collect();
    let at = |i: usize| servers[i % 3].addr;
    let guard = operator_guard(&url).await;
    let n = GuardPolicy::default().lockout.max_failures;

    // 1. Wrong PINs spread over the three servers lock after exactly N.
    let alice = "alice@example.com";
    for i in 0..n as usize {
        assert!(!settled(&guard, alice).await.locked_out, "locked after {i}");
        refill(&redis);
        let r = login(dir, at(i), alice, "9999").await;
        assert!(credential_refused(&r), "{r:?}");
    }
    let s = settled(&guard, alice).await;
    assert_eq!((s.confirmed, s.cumulative, s.locked_out), (n, n, true));

    // 2. Locked is silent on every server: the right PIN gets exactly the
    //    wrong PIN's refusal, and counts nothing.
    for i in 0..3 {
        refill(&redis);
        let r = login(dir, at(i), alice, "1234").await;
        assert!(credential_refused(&r), "server {i}: {r:?}");
    }
    assert_eq!(settled(&guard, alice).await.cumulative, n);

    // 3. The operator's view and unlock, from the key tool on the same Redis.
    let (ok, text) = keytool(&["guard", "status", alice, "--guard", &url]);
    assert!(ok, "{text}");
    assert!(
        text.contains("confirmed wrong PINs 5, cumulative 5"),
        "{text}"
    );
    assert!(text.contains("locked out: yes"), "{text}");
    let (ok, text) = keytool(&["guard", "unlock", alice, "--guard", &url]);
    assert!(ok && text.contains("locked out: no"), "{text}");
    refill(&redis);
    login(dir, at(2), alice, "1234").await.unwrap();
    let (ok, text) = keytool(&["guard", "status", alice, "--guard", "memory"]);
    assert!(!ok && text.contains("inside each server process"), "{text}");

    // 4. Many parallel wrong PINs across the three never count more than N
    //    (those the shared throttle refuses count nothing either).
    refill(&redis);
    let bob = "bob@example.com";
    let attempts = (0..15).map(|i| {
        let dir = dir.to_owned();
        let addr = at(i);
        tokio::spawn(async move { login(&dir, addr, bob, "9999").await })
    });
    let mut refused = 0;
    for a in attempts.collect::<Vec<_>>() {
        let r = a.await.unwrap();
        let busy = matches!(
            r,
            Err(EchoError::Connect(ConnectError::Milagro(
                MilagroError::ServerBusy
            )))
        );
        assert!(credential_refused(&r) || busy, "{r:?}");
        refused += usize::from(!busy);
    }
    assert!(
        refused >= 3,
        "only {refused} attempts reached a server's guard"
    );
    let s = settled(&guard, bob).await;
    assert!(
        (1..=n).contains(&s.cumulative) && s.confirmed == s.cumulative,
        "{s:?}"
    );

    // 5. A ClientHello accepted by server 0 is refused by server 1 as a
    //    replay, before any key exchange (plaintext illegal_parameter).
    refill(&redis);
    let (proxy, hello) = recording_proxy(at(0)).await;
    login(dir, proxy, "carol@example.com", "1234")
        .await
        .unwrap();
    let hello = hello.await.unwrap();
    let mut raw = TcpStream::connect(at(1)).await.unwrap();
    raw.write_all(&hello).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x2f]);
    drop(servers);
}

/// A standard rustls client sends one line to `addr` and returns the line
/// echoed back.
fn standard_echo(
    addr: SocketAddr,
    root: &rustls::pki_types::CertificateDer<'static>,
    line: &str,
) -> std::io::Result<String> {
    use std::io::Write;
    let mut tls = standard_client(addr, root)?;
    tls.write_all(format!("{line}\n").as_bytes())?;
    let mut back = String::new();
    BufReader::new(&mut tls).read_line(&mut back)?;
    Ok(back)
}

fn server_busy(r: &Result<(), EchoError>) -> bool {
    matches!(
        r,
        Err(EchoError::Connect(ConnectError::Milagro(
            MilagroError::ServerBusy
        )))
    )
}

/// (confirmed, cumulative, in flight) once nothing is in flight, through a
/// store of the test's own (which reconnects to a restarted Redis too).
async fn counts(guard: &Guard, user: &str) -> (u32, u32, u32) {
    let s = settled(guard, user).await;
    (s.confirmed, s.cumulative, s.in_flight)
}

/// The issue's outage case through a real mixed listener: an `echo-server`
/// with `--guard redis://…` and `--cert/--key`. Redis is killed (SIGKILL by
/// PID): Milagro handshakes are refused as "server busy" (the plaintext
/// `internal_error` of a fail-closed guard) within the store timeout, while a
/// standard TLS client is still echoed and the server keeps running.
/// Redis restarted on the same port (with its append-only file, so the
/// counts made before the kill survive): the server reconnects and logins
/// resume, and the counts show every wrong PIN exactly once and nothing
/// for the refused attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_refuses_milagro_serves_standard_clients_and_resumes_without_double_counting()
 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let aof = dir.join("redis");
    std::fs::create_dir(&aof).unwrap();
    let Some(mut redis) = RedisServer::start_durable_or_skip("a_killed_redis_refuses", &aof) else {
        return;
    };
    let (url, port) = (redis.url(0), redis.port());
    let alice = "alice@example.com";
    cs_files(dir, &[alice]);
    let root = certificate(dir);
    let server = EchoServer::start_with(dir, &url, &["--cert", "cert.pem", "--key", "key.pem"]);
    let guard = operator_guard(&url).await;

    // Before: one wrong PIN, counted.
    assert!(credential_refused(
        &login(dir, server.addr, alice, "9999").await
    ));
    assert_eq!(counts(&guard, alice).await, (1, 1, 0));

    // Redis killed: Milagro refused as busy, fast; standard clients served.
    redis.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let r = login(dir, server.addr, alice, "1234").await;
        let took = started.elapsed();
        assert!(server_busy(&r), "{r:?}");
        // The store timeout is 500 ms; the rest is the client's own work.
        assert!(took < Duration::from_secs(3), "refused after {took:?}");
    }
    let addr = server.addr;
    let (root2, line) = (root.clone(), "standard while redis is down");
    let back = tokio::task::spawn_blocking(move || standard_echo(addr, &root2, line))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, format!("{line}\n"));
    server.expect_line("the fail-closed refusal", |l| {
        l.starts_with("refused from 127.0.0.1: ") && l.contains("guard store unavailable")
    });
    server.expect_line("the standard client", |l| {
        l == "accepted a standard TLS client from 127.0.0.1"
    });
    let (ok, text) = keytool(&["guard", "status", alice, "--guard", &url]);
    assert!(!ok, "status with Redis down: {text}");

    // Restarted on the same port and data: the earlier count survives, the
    // refused attempts counted nothing, and a new wrong PIN counts once.
    let _redis = RedisServer::start_durable_on(port, &aof).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (confirmed, cumulative, in_flight) = loop {
        match guard
            .status_async(&Identity::new(alice).unwrap().cs_hid())
            .await
        {
            Ok(s) => break (s.confirmed, s.cumulative, s.in_flight),
            Err(e) => assert!(Instant::now() < deadline, "never reconnected: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((confirmed, cumulative, in_flight), (1, 1, 0));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The server's connection comes back on its next store call.
        let r = login(dir, server.addr, alice, "9999").await;
        if credential_refused(&r) {
            break;
        }
        assert!(server_busy(&r), "{r:?}");
        assert!(Instant::now() < deadline, "service never resumed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts(&guard, alice).await, (2, 2, 0));
    login(dir, server.addr, alice, "1234").await.unwrap();
    assert_eq!(counts(&guard, alice).await, (0, 2, 0));
    let (ok, text) = keytool(&["guard", "status", alice, "--guard", &url]);
    assert!(
        ok && text.contains("confirmed wrong PINs 0, cumulative 2"),
        "{text}"
    );

    // No panic: the server is still running and said nothing of one.
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "echo-server exited"
    );
    let out = server.output();
    assert!(!out.iter().any(|l| l.contains("panicked")), "{out:#?}");
}
