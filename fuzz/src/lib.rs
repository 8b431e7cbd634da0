//! Shared, deterministic fixtures for the fuzz targets and the corpus writer.
//!
//! Every key here is issued once through the public D-TA API
//! ([`MasterShare::issue_*`](milagro_tls::keys::MasterShare) and
//! [`Combine`]) from [`SeededEntropy`], so every run — and the seed corpus
//! written by `examples/make_corpus.rs` — sees the same deployment, the same
//! genuine shares and the same secrets. Nothing here is secret: these are
//! test keys.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use milagro_tls::Classifier;
use milagro_tls::MilagroClient;
use milagro_tls::cs_tls::{self, ServerOptions};
use milagro_tls::guard::{Guard, GuardPolicy, GuardTime, ManualClock, MemoryGuard, NoopObserver};
use milagro_tls::p2p_tls;
use milagro_tls::{Accepted, MilagroAcceptor};
use rustls::{ConnectionCommon, SideData};

use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, Share, day_of, epoch_of,
};
use milagro_tls::mpin::full::respond_with_fresh;
use milagro_tls::mpin::{
    ClientState, Pin, PinDigits, PreparedServerSecret, ServerNonceKey, extract_pin, precheck,
    verify,
};
use milagro_tls::p2p::{CLIENT_SHARE_BYTES, P2pClient, P2pClientHandshake, P2pServer};
use milagro_tls::pairing::SeededEntropy;

/// The fixed server clock: 2025-11-24 12:00 UTC (day 20 416).
pub const NOW: u64 = 20_416 * 86_400 + 43_200;
/// The P2P deployment's epoch length.
pub const P2P_EPOCH_SECONDS: u32 = 3_600;
/// Number of D-TAs in both deployments.
pub const DTA_COUNT: u8 = 3;

/// The CS client's identity.
pub const CS_CLIENT_ID: &str = "alice@example.com";
/// The CS client's PIN.
pub const CS_PIN: u32 = 123_456;
/// The P2P server identity.
pub const P2P_SERVER_ID: &str = "server.example";
/// The P2P client identity.
pub const P2P_CLIENT_ID: &str = "bob@example.org";

const CS_FRESH: [u8; 32] = [0xC5; 32];
const CS_SERVER_FRESH: [u8; 32] = [0x5E; 32];
const P2P_PRE_FRESH: [u8; 32] = [0x9B; 32];
const P2P_CLIENT_FRESH: [u8; 32] = [0xB9; 32];
const P2P_SERVER_FRESH: [u8; 32] = [0xA5; 32];

fn combine<K: Combine>(shares: Vec<Share<K>>) -> K {
    K::combine(&shares).expect("fixture shares combine")
}

/// The CS deployment (permits required) with one genuine exchange at [`NOW`].
pub struct Cs {
    /// The D-TA master shares.
    pub masters: Vec<MasterShare>,
    /// The per-D-TA shares of the server secret (for key-file corpus).
    pub server_secret_shares: Vec<Share<CsServerSecret>>,
    /// The combined server secret.
    pub server_secret: CsServerSecret,
    /// The combined client secret of [`CS_CLIENT_ID`].
    pub client_secret: CsClientSecret,
    /// Today's combined time permit of [`CS_CLIENT_ID`].
    pub permit: CsTimePermit,
    /// The server secret, prepared.
    pub server: PreparedServerSecret,
    /// The server's nonce key.
    pub nonce_key: ServerNonceKey,
    /// A client with the right PIN and today's permit.
    pub client: ClientState,
    /// A client with a wrong PIN (its share passes the DLEQ, fails the proof).
    pub wrong_pin_client: ClientState,
    /// The server's genuine reply `W` to `client`'s share.
    pub genuine_w: [u8; 48],
    /// The secret both sides derive from the genuine exchange.
    pub genuine_secret: [u8; 32],
}

/// The CS fixture, built once.
pub fn cs() -> &'static Cs {
    static CS: OnceLock<Cs> = OnceLock::new();
    CS.get_or_init(|| {
        let rng = SeededEntropy::new(b"milagro-tls fuzz cs");
        let dep = CsDeployment::new(DTA_COUNT, PermitPolicy::Required, &rng).unwrap();
        let masters: Vec<MasterShare> = (0..DTA_COUNT)
            .map(|_| MasterShare::generate(Deployment::Cs(dep), &rng).unwrap())
            .collect();
        let id = Identity::new(CS_CLIENT_ID).unwrap();
        let server_secret_shares: Vec<_> = masters
            .iter()
            .map(|m| m.issue_cs_server_secret().unwrap())
            .collect();
        let server_secret = combine(server_secret_shares.clone());
        let client_secret = combine(
            masters
                .iter()
                .map(|m| m.issue_cs_client_secret(&id).unwrap())
                .collect(),
        );
        let permit: CsTimePermit = combine(
            masters
                .iter()
                .map(|m| m.issue_cs_time_permit(&id, day_of(NOW)).unwrap())
                .collect(),
        );
        let digits = PinDigits::DEFAULT;
        let pin = Pin::from_u32(CS_PIN, digits).unwrap();
        let token = extract_pin(&client_secret, &pin).expect("the fixture PIN is not 0");
        let client = ClientState::with_fresh(&token, &pin, Some(&permit), NOW, &CS_FRESH).unwrap();
        let wrong = Pin::from_u32(CS_PIN - 1, digits).unwrap();
        let wrong_pin_client =
            ClientState::with_fresh(&token, &wrong, Some(&permit), NOW, &CS_FRESH).unwrap();

        let server = PreparedServerSecret::new(&server_secret);
        let nonce_key = ServerNonceKey::from_bytes([0x4E; 32]);
        let pre = precheck(client.share(), &server.checks(), NOW).unwrap();
        let verified = verify(&pre, &server).unwrap();
        let resp = respond_with_fresh(&verified, &server, &nonce_key, &CS_SERVER_FRESH);
        let client_secret_value = client.finish(&resp.share).unwrap();
        assert!(
            client_secret_value == resp.secret,
            "fixture CS exchange agrees"
        );
        Cs {
            masters,
            server_secret_shares,
            server_secret,
            client_secret,
            permit,
            server,
            nonce_key,
            client,
            wrong_pin_client,
            genuine_w: resp.share,
            genuine_secret: *resp.secret.as_bytes(),
        }
    })
}

/// The P2P deployment: a server holding the current and previous epoch's
/// keys, a client for the current epoch, and one genuine exchange.
pub struct P2p {
    /// The D-TA master shares.
    pub masters: Vec<MasterShare>,
    /// The server's current key.
    pub server_key: P2pServerKey,
    /// The client's key.
    pub client_key: P2pClientKey,
    /// The server.
    pub server: P2pServer,
    /// The client.
    pub client: P2pClient,
    /// The genuine client share ([`P2p::handshake`]'s share).
    pub genuine_client_share: [u8; CLIENT_SHARE_BYTES],
    /// The server's genuine reply `Pa` to it.
    pub genuine_server_share: [u8; 48],
    /// The secret both sides derive from the genuine exchange.
    pub genuine_secret: [u8; 32],
}

impl P2p {
    /// A fresh copy of the genuine client handshake (deterministic: same
    /// nonces, same share every time; `finish` consumes it).
    pub fn handshake(&self) -> P2pClientHandshake {
        let pre = self.client.precompute_with_fresh(&P2P_PRE_FRESH);
        self.client
            .start_with_fresh(pre, &P2P_CLIENT_FRESH)
            .expect("fixture handshake starts")
    }

    /// The fixed server nonce bytes used by the targets.
    pub fn server_fresh(&self) -> &'static [u8; 32] {
        &P2P_SERVER_FRESH
    }
}

/// The P2P fixture, built once.
pub fn p2p() -> &'static P2p {
    static P2P: OnceLock<P2p> = OnceLock::new();
    P2P.get_or_init(|| {
        let rng = SeededEntropy::new(b"milagro-tls fuzz p2p");
        let dep = P2pDeployment::new(DTA_COUNT, P2P_EPOCH_SECONDS, &rng).unwrap();
        let masters: Vec<MasterShare> = (0..DTA_COUNT)
            .map(|_| MasterShare::generate(Deployment::P2p(dep), &rng).unwrap())
            .collect();
        let server_id = Identity::new(P2P_SERVER_ID).unwrap();
        let client_id = Identity::new(P2P_CLIENT_ID).unwrap();
        let epoch = epoch_of(NOW, P2P_EPOCH_SECONDS);
        let server_key_for = |e: u32| -> P2pServerKey {
            combine(
                masters
                    .iter()
                    .map(|m| m.issue_p2p_server_key(&server_id, e).unwrap())
                    .collect(),
            )
        };
        let server_key = server_key_for(epoch);
        let server = P2pServer::new(server_key.clone(), Some(server_key_for(epoch - 1))).unwrap();
        let client_key: P2pClientKey = combine(
            masters
                .iter()
                .map(|m| m.issue_p2p_client_key(&client_id, epoch).unwrap())
                .collect(),
        );
        let client = P2pClient::new(client_key.clone(), server_id, Some(dep.id)).unwrap();
        let mut fixture = P2p {
            masters,
            server_key,
            client_key,
            server,
            client,
            genuine_client_share: [0; CLIENT_SHARE_BYTES],
            genuine_server_share: [0; 48],
            genuine_secret: [0; 32],
        };
        let hs = fixture.handshake();
        fixture.genuine_client_share = *hs.share();
        let decoded = fixture
            .server
            .decode_client_share(hs.share())
            .expect("genuine share decodes");
        let resp = fixture
            .server
            .respond_with_fresh(&decoded, &P2P_SERVER_FRESH)
            .unwrap();
        let secret = hs.finish(&fixture.client, resp.share()).unwrap();
        assert!(&secret == resp.secret(), "fixture P2P exchange agrees");
        fixture.genuine_server_share = *resp.share();
        fixture.genuine_secret = *secret.as_bytes();
        fixture
    })
}

/// `base` with `mask` XORed over its start (a mask longer than `base` is
/// truncated). Lets the fuzzer explore small edits of a genuine value.
pub fn xor_mutate(base: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for (o, m) in out.iter_mut().zip(mask) {
        *o ^= m;
    }
    out
}

// ---------------------------------------------------------------------------
// Whole-connection fixtures (targets `tls_server` and `tls_client`).
// ---------------------------------------------------------------------------

/// The source address every fuzzed connection comes from.
pub const TLS_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// The server name the CS client connects to (informational for CS).
pub const CS_SERVER_NAME: &str = "service.example";

/// Genuine whole-connection material, recorded once per process.
///
/// The public builders (`cs_tls::client`, `cs_tls::server`, `p2p_tls::*`)
/// read the wall clock and the key-exchange engines draw their nonces from
/// `OsEntropy` (not from rustls's provider `SecureRandom`), so a genuine
/// ClientHello / server flight cannot be re-created deterministically: it is
/// recorded once here and reused by every fuzz iteration. The time permit
/// and the P2P keys are issued for the wall clock's day / epoch at that
/// moment (from the deterministic D-TAs of [`cs`] and [`p2p`]).
pub struct Tls {
    /// The CS client (fixture PIN, today's permit).
    pub cs_client: MilagroClient,
    /// The P2P client (talks to [`P2P_SERVER_ID`]).
    pub p2p_client: MilagroClient,
    /// A genuine CS ClientHello (as written by `cs_client`), which a fresh
    /// [`cs_acceptor`] accepts.
    pub cs_hello: Vec<u8>,
    /// The CS server's genuine first flight (ServerHello … Finished) in
    /// reply to `cs_hello`.
    pub cs_flight: Vec<u8>,
    /// A genuine P2P ClientHello.
    pub p2p_hello: Vec<u8>,
    /// The P2P server's genuine first flight in reply to `p2p_hello`.
    pub p2p_flight: Vec<u8>,
}

fn wall_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The classifier shared by every CS acceptor of the process (it owns a
/// worker thread, so it is not re-created per iteration).
pub fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::new(1).expect("classifier"))
}

/// A fresh in-memory guard on a fixed [`ManualClock`]: default policy, no
/// observer. A fresh guard per iteration means the replay cache never
/// refuses the recorded genuine ClientHello, so deep states stay reachable.
pub fn fresh_guard() -> Guard {
    let policy = GuardPolicy::default().with_clock_window(Duration::from_secs(FUZZ_WINDOW_SECS));
    Guard::new(
        Arc::new(MemoryGuard::new(policy)),
        Arc::new(ManualClock::new(GuardTime::from_millis(1_000))),
        Arc::new(NoopObserver),
    )
}

/// The CS time window of the fuzz acceptor: a century, so the recorded
/// hello's timestamp never goes stale during a run (the guard's replay
/// window is built to cover it, as the server requires).
pub const FUZZ_WINDOW_SECS: u64 = 100 * 365 * 86_400;

/// A fresh CS acceptor for the fixture's server secret, with a fresh guard,
/// the shared classifier and a century-long time window.
pub fn cs_acceptor() -> MilagroAcceptor {
    let opts =
        ServerOptions::new(fresh_guard(), classifier().clone()).time_window(FUZZ_WINDOW_SECS);
    cs_tls::server(cs().server_secret.clone(), opts).expect("CS acceptor")
}

/// Every byte `conn` wants to write.
pub fn drain<S: SideData>(conn: &mut ConnectionCommon<S>) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        match conn.write_tls(&mut out) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

/// Why [`feed`] stopped before the end of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStopped {
    /// The connection took no more bytes (or its reader failed).
    NotRead,
    /// The connection refused what it had read.
    Refused,
}

/// Feeds `bytes` to `conn` (as much as it takes per `read_tls`), processing
/// after each read and appending what it writes to `out`. Stops at the
/// first error.
pub fn feed<S: SideData>(
    conn: &mut ConnectionCommon<S>,
    mut bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FeedStopped> {
    while !bytes.is_empty() {
        match conn.read_tls(&mut bytes) {
            Ok(0) | Err(_) => return Err(FeedStopped::NotRead),
            Ok(_) => {}
        }
        let r = conn.process_new_packets();
        out.extend(drain(conn));
        if r.is_err() {
            return Err(FeedStopped::Refused);
        }
    }
    Ok(())
}

/// Runs one genuine handshake of `client` against `acceptor` and returns
/// the ClientHello and the server's first flight, after checking that both
/// sides complete and the server authenticates `expected`.
fn record(
    client: &MilagroClient,
    name: &str,
    acceptor: &MilagroAcceptor,
    expected: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut conn = client.connect(name).expect("fixture client connects");
    let hello = drain(&mut conn);
    let mut alert = Vec::new();
    let accepted = acceptor
        .accept(TLS_SOURCE, &mut &hello[..], &mut alert)
        .expect("genuine ClientHello accepted");
    let Accepted::Milagro(mut server) = accepted else {
        panic!("genuine ClientHello taken as standard");
    };
    let flight = drain(server.connection_mut());
    let mut answer = Vec::new();
    feed(&mut conn, &flight, &mut answer).expect("client takes the genuine flight");
    assert!(
        !conn.is_handshaking(),
        "client completes on the genuine flight"
    );
    answer.extend(drain(&mut conn));
    feed(server.connection_mut(), &answer, &mut Vec::new())
        .expect("server takes the client's flight");
    let who = server
        .finish()
        .expect("server authenticates the genuine client");
    assert_eq!(who.as_str(), expected);
    (hello, flight)
}

/// The whole-connection fixture, built (and checked) once per process.
pub fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let now = wall_clock();
        let cs = cs();
        let alice = Identity::new(CS_CLIENT_ID).unwrap();
        let permit: CsTimePermit = combine(
            cs.masters
                .iter()
                .map(|m| m.issue_cs_time_permit(&alice, day_of(now)).unwrap())
                .collect(),
        );
        let pin = || Pin::from_u32(CS_PIN, PinDigits::DEFAULT).unwrap();
        let token = extract_pin(&cs.client_secret, &pin()).expect("the fixture PIN is not 0");
        let cs_client = cs_tls::client(token, pin(), Some(permit)).expect("CS client");
        let (cs_hello, cs_flight) =
            record(&cs_client, CS_SERVER_NAME, &cs_acceptor(), CS_CLIENT_ID);

        let p2p = p2p();
        let server_id = Identity::new(P2P_SERVER_ID).unwrap();
        let client_id = Identity::new(P2P_CLIENT_ID).unwrap();
        let epoch = epoch_of(now, P2P_EPOCH_SECONDS);
        let server_key: P2pServerKey = combine(
            p2p.masters
                .iter()
                .map(|m| m.issue_p2p_server_key(&server_id, epoch).unwrap())
                .collect(),
        );
        let client_key: P2pClientKey = combine(
            p2p.masters
                .iter()
                .map(|m| m.issue_p2p_client_key(&client_id, epoch).unwrap())
                .collect(),
        );
        let p2p_server =
            p2p_tls::server(server_key, p2p_tls::ServerOptions::new()).expect("P2P acceptor");
        let p2p_client = p2p_tls::client(client_key, server_id).expect("P2P client");
        let (p2p_hello, p2p_flight) =
            record(&p2p_client, P2P_SERVER_ID, &p2p_server, P2P_CLIENT_ID);
        Tls {
            cs_client,
            p2p_client,
            cs_hello,
            cs_flight,
            p2p_hello,
            p2p_flight,
        }
    })
}

/// Splits `data` at a 2-byte big-endian length prefix: `(head, tail)` where
/// `head` is the next `len` bytes (or all that is left).
pub fn split_len(data: &[u8]) -> (&[u8], &[u8]) {
    match data {
        [hi, lo, rest @ ..] => {
            let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
            rest.split_at(n)
        }
        _ => (data, &[]),
    }
}

/// `base` with sparse XOR edits: each 3-byte group `(hi, lo, x)` of `edits`
/// flips `x` (0 counts as `0xFF`) into the byte at `u16(hi, lo) % len`.
/// Every complete group changes the output, so `base == result` only when
/// the edits cancel out.
pub fn apply_edits(base: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    if out.is_empty() {
        return out;
    }
    for e in edits.chunks_exact(3) {
        let off = usize::from(u16::from_be_bytes([e[0], e[1]])) % out.len();
        out[off] ^= if e[2] == 0 { 0xFF } else { e[2] };
    }
    out
}

/// Offset of `legacy_session_id`'s length byte in a ClientHello or
/// ServerHello record (record header 5, handshake header 4, version 2,
/// random 32).
const SESSION_ID_AT: usize = 43;

/// `flight` with the legacy session id of the ServerHello at its start
/// replaced by `hello`'s (the server echoes it; rustls's client checks the
/// echo), when both carry ids of the same length. Lets a recorded genuine
/// flight get past the echo check of a new connection.
pub fn echo_session_id(flight: &[u8], hello: &[u8]) -> Vec<u8> {
    let mut out = flight.to_vec();
    if let (Some(&a), Some(&b)) = (hello.get(SESSION_ID_AT), out.get(SESSION_ID_AT)) {
        let n = usize::from(a);
        let range = SESSION_ID_AT + 1..SESSION_ID_AT + 1 + n;
        if a == b
            && let (Some(src), Some(_)) = (hello.get(range.clone()), out.get(range.clone()))
        {
            let src = src.to_vec();
            out[range].copy_from_slice(&src);
        }
    }
    out
}

/// The length of the first TLS record of `bytes` (header included), capped
/// at `bytes.len()`.
pub fn first_record_len(bytes: &[u8]) -> usize {
    match bytes {
        [_, _, _, hi, lo, ..] => (5 + usize::from(u16::from_be_bytes([*hi, *lo]))).min(bytes.len()),
        _ => bytes.len(),
    }
}
