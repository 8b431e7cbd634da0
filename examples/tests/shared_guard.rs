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
use std::sync::Arc;
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
}

impl EchoServer {
    fn start(dir: &Path, guard: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_echo-server"))
            .args(["--listen", "127.0.0.1:0", "--pin-digits", "4"])
            .arg("--cs-server-secret")
            .arg(dir.join("server.secret"))
            .args(["--guard", guard])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
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
    let store = RedisStore::connect(&url, GuardPolicy::default())
        .await
        .unwrap();
    let guard = Guard::new(
        Arc::new(store),
        Arc::new(MonotonicClock::new()),
        Arc::new(NoopObserver),
    );
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
