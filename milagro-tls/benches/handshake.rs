//! Full in-memory TLS 1.3 handshakes, all in one run so the ratios mean
//! something: Milagro CS (M-Pin, permits required, through `cs_tls` and the
//! sync accept path with an in-memory guard), Milagro P2P (`p2p_tls`), and
//! standard rustls TLS 1.3 (X25519 + ECDSA P-256 certificates issued by a CA,
//! client certificates checked by `WebPkiClientVerifier`), both on its own
//! `ServerConfig` and through a `MilagroAcceptor`'s standard path.
//!
//! Every iteration is one complete handshake, both sides pumped through
//! `Vec` buffers on one thread. Each side's calls are timed separately:
//!
//! * `client`: `connect` (the client key share: M-Pin proof / Chow–Choo
//!   share / X25519 key), reading the server's flight (key agreement,
//!   decryption, verification) and writing the second flight;
//! * `server`: `accept` (ClientHello, guard step 1, the key exchange, the
//!   server's first flight), reading the client's second flight and
//!   `finish` (identity binding).
//!
//! For each protocol criterion reports `<proto>/full` (client + server
//! time), `<proto>/server` and `<proto>/client` (one side's time per
//! handshake). At the end a table gives the means over every timed
//! handshake of the run, handshakes/s on one core, and Milagro/standard ratios.
//!
//! Run with `cargo bench -p milagro-tls --bench handshake`.

// criterion's macros are not used; a plain main keeps the summary at the end.
#![allow(missing_docs)]

use std::alloc::System;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::Criterion;
use milagro_tls::Classifier;
use milagro_tls::MilagroClient;
use milagro_tls::cs_tls::{self, ServerOptions};
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, day_of, epoch_of,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use milagro_tls::{Accepted, MilagroAcceptor, MilagroConnection};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

/// The system allocator, instrumented, so the summary can report what a
/// connection keeps after its handshake.
#[global_allocator]
static ALLOC: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated on the heap.
fn live() -> usize {
    let s = ALLOC.stats();
    (s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated) as usize
}

const SERVER: &str = "server.example";
const SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Time spent by each side in one handshake.
#[derive(Clone, Copy, Default)]
struct Split {
    client: Duration,
    server: Duration,
}

/// Running sums over every timed handshake of one protocol.
#[derive(Default)]
struct Acc {
    n: u32,
    client: Duration,
    server: Duration,
}

static STATS: Mutex<BTreeMap<&'static str, Acc>> = Mutex::new(BTreeMap::new());

/// Per protocol: heap bytes kept by the client and server connections after
/// one handshake (see [`retained`]).
static MEMORY: Mutex<BTreeMap<&'static str, (usize, usize)>> = Mutex::new(BTreeMap::new());

fn record(proto: &'static str, s: Split) {
    let mut stats = STATS.lock().unwrap();
    let acc = stats.entry(proto).or_default();
    acc.n += 1;
    acc.client += s.client;
    acc.server += s.server;
}

fn drain_client(c: &mut ClientConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut out).unwrap();
    }
    out
}

fn drain_server(s: &mut ServerConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while s.wants_write() {
        s.write_tls(&mut out).unwrap();
    }
    out
}

fn feed_client(c: &mut ClientConnection, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        c.read_tls(&mut bytes).unwrap();
        c.process_new_packets().unwrap();
    }
}

fn feed_server(s: &mut ServerConnection, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        s.read_tls(&mut bytes).unwrap();
        s.process_new_packets().unwrap();
    }
}

/// The server side of one handshake: either a plain rustls connection or
/// the accept path.
enum Server<'a> {
    Plain(&'a Arc<ServerConfig>),
    Acceptor(&'a MilagroAcceptor),
}

/// The server's connection: standard, or Milagro (finished through the
/// binding check).
enum Conn {
    Standard(ServerConnection),
    Milagro(MilagroConnection),
}

impl Conn {
    fn tls(&mut self) -> &mut ServerConnection {
        match self {
            Self::Standard(s) => s,
            Self::Milagro(m) => m.connection_mut(),
        }
    }
}

/// One full handshake; `client` makes the client connection (its key share).
fn handshake(client: impl FnOnce() -> ClientConnection, server: &Server<'_>) -> Split {
    handshake_keep(client, server).0
}

/// Heap bytes each side's connection keeps once the handshake is over (the
/// connection objects' own size included), as `(client, server)`: measured
/// around one handshake whose connections are then dropped one by one.
fn retained(client: &dyn Fn() -> ClientConnection, server: &Server<'_>) -> (usize, usize) {
    // A first handshake initialises every lazy static (prepared generator,
    // provider tables) so they are not counted as a connection's.
    handshake(client, server);
    let before = live();
    let (_, c, s) = handshake_keep(client, server);
    let both = live();
    drop(c);
    let server_only = live();
    drop(s);
    let client_bytes = both.saturating_sub(server_only) + std::mem::size_of::<ClientConnection>();
    let server_bytes = server_only.saturating_sub(before) + std::mem::size_of::<Conn>();
    (client_bytes, server_bytes)
}

/// [`handshake`], returning both connections too.
fn handshake_keep(
    client: impl FnOnce() -> ClientConnection,
    server: &Server<'_>,
) -> (Split, ClientConnection, Conn) {
    let t0 = Instant::now();
    let mut c = client();
    let hello = drain_client(&mut c);
    let t1 = Instant::now();
    // Server: ClientHello → first flight.
    let mut s = match server {
        Server::Plain(cfg) => {
            let mut s = ServerConnection::new((*cfg).clone()).unwrap();
            feed_server(&mut s, &hello);
            Conn::Standard(s)
        }
        Server::Acceptor(acceptor) => {
            let mut alert = Vec::new();
            match acceptor.accept(SOURCE, &mut &hello[..], &mut alert) {
                Ok(Accepted::Standard(s)) => Conn::Standard(s),
                Ok(Accepted::Milagro(m)) => Conn::Milagro(m),
                Err(e) => panic!("accept failed: {e}"),
            }
        }
    };
    let flight1 = drain_server(s.tls());
    let t2 = Instant::now();
    // Client: server flight → second flight.
    feed_client(&mut c, &flight1);
    let flight2 = drain_client(&mut c);
    assert!(!c.is_handshaking());
    let t3 = Instant::now();
    // Server: client's second flight, then the identity binding.
    feed_server(s.tls(), &flight2);
    match &mut s {
        Conn::Milagro(m) => {
            m.finish().unwrap();
        }
        Conn::Standard(s) => {
            assert!(!s.is_handshaking());
            assert!(s.peer_certificates().is_some());
        }
    }
    let t4 = Instant::now();
    let split = Split {
        client: (t1 - t0) + (t3 - t2),
        server: (t2 - t1) + (t4 - t3),
    };
    (split, c, s)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

// ---------------------------------------------------------------------------
// Setups
// ---------------------------------------------------------------------------

/// CS with permits required, 2 D-TAs, 4-digit PINs, a guard that never
/// throttles the bench's single source.
fn cs_setup() -> (MilagroClient, MilagroAcceptor) {
    let dep = CsDeployment::new(2, PermitPolicy::Required, &OsEntropy).unwrap();
    let dtas: Vec<_> = (0..2)
        .map(|_| MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap())
        .collect();
    let alice = id("alice@example.com");
    let ss = CsServerSecret::combine(
        &dtas
            .iter()
            .map(|d| d.issue_cs_server_secret().unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let cs = CsClientSecret::combine(
        &dtas
            .iter()
            .map(|d| d.issue_cs_client_secret(&alice).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let day = day_of(unix_now());
    let permit = CsTimePermit::combine(
        &dtas
            .iter()
            .map(|d| d.issue_cs_time_permit(&alice, day).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let digits = PinDigits::new(4).unwrap();
    let token = extract_pin(&cs, &Pin::parse("1234", digits).unwrap()).unwrap();
    let client = cs_tls::client(token, Pin::parse("1234", digits).unwrap(), Some(permit)).unwrap();
    let mut policy = GuardPolicy::default();
    policy.throttle.burst = u32::MAX / 2;
    policy.throttle.refill_per_sec = u32::MAX / 2;
    let acceptor = cs_tls::server(
        ss,
        ServerOptions::new(Guard::in_memory(policy), Classifier::new(1).unwrap())
            .pin_digits(digits),
    )
    .unwrap();
    (client, acceptor)
}

/// P2P, 2 D-TAs, 1-hour epochs.
fn p2p_setup() -> (MilagroClient, MilagroAcceptor) {
    let dep = P2pDeployment::new(2, 3600, &OsEntropy).unwrap();
    let dtas: Vec<_> = (0..2)
        .map(|_| MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap())
        .collect();
    let epoch = epoch_of(unix_now().saturating_sub(p2p_tls::DEFAULT_SKEW_SECS), 3600);
    let server_key = P2pServerKey::combine(
        &dtas
            .iter()
            .map(|d| d.issue_p2p_server_key(&id(SERVER), epoch).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let client_key = P2pClientKey::combine(
        &dtas
            .iter()
            .map(|d| {
                d.issue_p2p_client_key(&id("bob@example.com"), epoch)
                    .unwrap()
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let acceptor = p2p_tls::server(server_key, p2p_tls::ServerOptions::new()).unwrap();
    let client = p2p_tls::client(client_key, id(SERVER)).unwrap();
    (client, acceptor)
}

/// A CA with an ECDSA P-256 server leaf and client leaf (rcgen).
struct Pki {
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, Vec<u8>),
    client: (CertificateDer<'static>, Vec<u8>),
}

impl Pki {
    fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa,
            KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf = |name: &str, eku: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
            params.extended_key_usages = vec![eku];
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.der().clone(), key.serialize_der())
        };
        Self {
            server: leaf(SERVER, ExtendedKeyUsagePurpose::ServerAuth),
            client: leaf("client.example", ExtendedKeyUsagePurpose::ClientAuth),
            ca: ca.der().clone(),
        }
    }

    fn roots(&self) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        Arc::new(roots)
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        let mut p = rustls::crypto::ring::default_provider();
        p.kx_groups = vec![rustls::crypto::ring::kx_group::X25519];
        Arc::new(p)
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots(), Self::provider())
            .build()
            .unwrap();
        let mut cfg = ServerConfig::builder_with_provider(Self::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.server.0.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.1.clone())),
            )
            .unwrap();
        // Like the Milagro servers: no tickets, every handshake is full.
        cfg.send_tls13_tickets = 0;
        Arc::new(cfg)
    }

    fn client_config(&self) -> Arc<ClientConfig> {
        let mut cfg = ClientConfig::builder_with_provider(Self::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(self.roots())
            .with_client_auth_cert(
                vec![self.client.0.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client.1.clone())),
            )
            .unwrap();
        cfg.resumption = Resumption::disabled();
        Arc::new(cfg)
    }
}

// ---------------------------------------------------------------------------
// Benches
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Side {
    Full,
    Server,
    Client,
}

fn bench_proto(
    c: &mut Criterion,
    proto: &'static str,
    client: &dyn Fn() -> ClientConnection,
    server: &Server<'_>,
) {
    MEMORY
        .lock()
        .unwrap()
        .insert(proto, retained(client, server));
    let mut g = c.benchmark_group(proto);
    for (name, side) in [
        ("full", Side::Full),
        ("server", Side::Server),
        ("client", Side::Client),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let s = handshake(client, server);
                    record(proto, s);
                    total += match side {
                        Side::Full => s.client + s.server,
                        Side::Server => s.server,
                        Side::Client => s.client,
                    };
                }
                total
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let pki = Pki::new();
    let std_server = pki.server_config();
    let std_client = pki.client_config();
    let std_connect = || {
        ClientConnection::new(std_client.clone(), ServerName::try_from(SERVER).unwrap()).unwrap()
    };

    let (cs_client, cs_acceptor) = cs_setup();
    let (p2p_client, p2p_acceptor) = p2p_setup();
    let std_acceptor = cs_acceptor.with_standard(std_server.clone()).unwrap();

    bench_proto(
        &mut c,
        "standard",
        &std_connect,
        &Server::Plain(&std_server),
    );
    bench_proto(
        &mut c,
        "standard-via-acceptor",
        &std_connect,
        &Server::Acceptor(&std_acceptor),
    );
    bench_proto(
        &mut c,
        "cs",
        &|| cs_client.connect(SERVER).unwrap(),
        &Server::Acceptor(&cs_acceptor),
    );
    bench_proto(
        &mut c,
        "p2p",
        &|| p2p_client.connect(SERVER).unwrap(),
        &Server::Acceptor(&p2p_acceptor),
    );
    c.final_summary();
    summary();
}

/// The table over every timed handshake of the run (warm-up included).
fn summary() {
    let stats = STATS.lock().unwrap();
    let mean = |d: Duration, n: u32| d.as_secs_f64() * 1e3 / f64::from(n.max(1));
    let Some(std) = stats.get("standard") else {
        return;
    };
    let std_client = mean(std.client, std.n);
    let std_server = mean(std.server, std.n);
    let std_full = std_client + std_server;
    println!();
    println!(
        "| protocol | handshakes | client ms | server ms | full ms | full hs/s/core | server hs/s/core | client hs/s/core | full × std | server × std | client × std |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (proto, acc) in stats.iter() {
        let cl = mean(acc.client, acc.n);
        let sv = mean(acc.server, acc.n);
        let full = cl + sv;
        println!(
            "| {proto} | {} | {cl:.3} | {sv:.3} | {full:.3} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} |",
            acc.n,
            1e3 / full,
            1e3 / sv,
            1e3 / cl,
            full / std_full,
            sv / std_server,
            cl / std_client,
        );
    }
    println!(
        "(ms = mean time of that side per handshake on one core; \"× std\" = Milagro time / standard time, so handshakes/s/core ratio is its inverse)"
    );
    let memory = MEMORY.lock().unwrap();
    let Some(&(std_c, std_s)) = memory.get("standard") else {
        return;
    };
    println!();
    println!(
        "| protocol | client conn bytes after handshake | server conn bytes after handshake | client − std | server − std |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (proto, &(cb, sb)) in memory.iter() {
        println!(
            "| {proto} | {cb} | {sb} | {:+} | {:+} |",
            cb as i64 - std_c as i64,
            sb as i64 - std_s as i64
        );
    }
}
