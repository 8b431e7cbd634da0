//! Helpers for the end-to-end tests in `tests/`: deployments, a loopback
//! server around the tokio acceptor, real ClientHellos and in-place
//! mutations of their key share.
//!
//! Everything here is test code: it panics on setup failures (never on the
//! bytes a peer sends back, which are returned for the test to assert).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use milagro_tls::Classifier;
use milagro_tls::MilagroAcceptor;
use milagro_tls::MilagroClient;
use milagro_tls::cs_tls;
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::Identity;
use milagro_tls::keyfile::KeyFile;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, day_of, epoch_of,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use milagro_tls::tls::{ClientHelloRecorder, ParsedClientHello, Progress};
use milagro_tls_tokio::{AcceptedStream, MilagroConnector, TlsAcceptError, TlsAcceptor};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// The PIN every test user registers.
pub const PIN: &str = "1234";

/// The plaintext `handshake_failure` alert the accept path writes for a
/// refused ClientHello (malformed, or an offer breaking the rules).
pub const HANDSHAKE_FAILURE: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
/// The plaintext `illegal_parameter` alert rustls writes when the server's
/// key exchange fails (before its ServerHello), and the accept path writes
/// when step 1 refuses a key share for its own bytes.
pub const ILLEGAL_PARAMETER: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x2f];
/// The plaintext `internal_error` alert the accept path writes when step 1
/// refuses for load (source throttled, classifier busy, full tables).
pub const INTERNAL_ERROR: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50];

/// The server name CS clients connect to.
pub const SERVICE: &str = "service.example";

/// A canonical identity (panics on a bad test literal).
pub fn id(s: &str) -> Identity {
    Identity::new(s).expect("test identity")
}

/// Four-digit PINs.
pub fn digits() -> PinDigits {
    PinDigits::new(4).expect("4 digits")
}

/// Unix time now, in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A guard policy whose throttle never bites in these tests, nor the
/// per-identity slow-down (some tests aim dozens of garbage shares at one
/// identity to measure other things; the slow-down has its own tests in
/// `milagro-tls/src/guard/tests.rs`).
pub fn open_policy() -> GuardPolicy {
    let mut p = GuardPolicy::default();
    p.throttle.burst = 100_000;
    p.throttle.refill_per_sec = 100_000;
    p.slowdown = milagro_tls::guard::SlowdownPolicy::disabled();
    p
}

/// A one-D-TA CS deployment.
pub struct Cs {
    /// The only D-TA's master share.
    pub dta: MasterShare,
    /// The deployment's permit policy.
    pub permits: PermitPolicy,
}

impl Cs {
    /// A fresh deployment with `permits`.
    pub fn new(permits: PermitPolicy) -> Self {
        let dep = CsDeployment::new(1, permits, &OsEntropy).expect("deployment");
        Self {
            dta: MasterShare::generate(Deployment::Cs(dep), &OsEntropy).expect("master share"),
            permits,
        }
    }

    /// `who`'s full client secret SEC = s·A.
    pub fn secret(&self, who: &str) -> CsClientSecret {
        CsClientSecret::combine(&[self.dta.issue_cs_client_secret(&id(who)).expect("issue")])
            .expect("combine")
    }

    /// A client for `who` (registered with [`PIN`]) entering `pin`; with
    /// permits required it holds today's permit.
    pub fn client(&self, who: &str, pin: &str) -> MilagroClient {
        let token =
            extract_pin(&self.secret(who), &Pin::parse(PIN, digits()).expect("pin")).unwrap();
        let permit = match self.permits {
            PermitPolicy::Required => Some(
                CsTimePermit::combine(&[self
                    .dta
                    .issue_cs_time_permit(&id(who), day_of(now()))
                    .expect("permit")])
                .expect("combine"),
            ),
            PermitPolicy::Off => None,
        };
        cs_tls::client(token, Pin::parse(pin, digits()).expect("pin"), permit).expect("client")
    }

    /// The server secret SS = s·Q.
    pub fn server_secret(&self) -> CsServerSecret {
        CsServerSecret::combine(&[self.dta.issue_cs_server_secret().expect("issue")])
            .expect("combine")
    }

    /// A sync CS acceptor guarded by `guard`.
    pub fn server_with(&self, guard: Guard) -> MilagroAcceptor {
        cs_tls::server(
            self.server_secret(),
            cs_tls::ServerOptions::new(guard, Classifier::new(1).expect("classifier"))
                .pin_digits(digits()),
        )
        .expect("server")
    }
}

/// P2P epoch length used by the tests.
pub const EPOCH_SECS: u32 = 3600;

/// A one-D-TA P2P deployment.
pub struct P2p {
    /// The only D-TA's master share.
    pub dta: MasterShare,
}

impl Default for P2p {
    fn default() -> Self {
        Self::new()
    }
}

impl P2p {
    /// A fresh deployment.
    pub fn new() -> Self {
        let dep = P2pDeployment::new(1, EPOCH_SECS, &OsEntropy).expect("deployment");
        Self {
            dta: MasterShare::generate(Deployment::P2p(dep), &OsEntropy).expect("master"),
        }
    }

    /// D_A for `who` in `epoch`.
    pub fn server_key(&self, who: &str, epoch: u32) -> P2pServerKey {
        P2pServerKey::combine(&[self
            .dta
            .issue_p2p_server_key(&id(who), epoch)
            .expect("issue")])
        .expect("combine")
    }

    /// D_B for `who` in `epoch`.
    pub fn client_key_for(&self, who: &str, epoch: u32) -> P2pClientKey {
        P2pClientKey::combine(&[self
            .dta
            .issue_p2p_client_key(&id(who), epoch)
            .expect("issue")])
        .expect("combine")
    }

    /// D_B for `who` in the epoch a client would use now.
    pub fn client_key(&self, who: &str) -> P2pClientKey {
        self.client_key_for(who, current_client_epoch())
    }

    /// A server for `who` holding the current and previous epoch's keys,
    /// with an open source throttle ([`open_policy`]: the load and fault
    /// tests send everything from 127.0.0.1).
    pub fn server(&self, who: &str) -> MilagroAcceptor {
        let e = epoch_of(now(), EPOCH_SECS);
        p2p_tls::server(
            self.server_key(who, e),
            p2p_tls::ServerOptions::new()
                .previous_key(self.server_key(who, e - 1))
                .guard(Guard::in_memory(open_policy())),
        )
        .expect("server")
    }
}

/// The epoch a P2P client picks now (default 30 s skew).
pub fn current_client_epoch() -> u32 {
    epoch_of(now().saturating_sub(30), EPOCH_SECS)
}

/// What the server reports for one connection: the authenticated identity
/// (or `"<standard>"`), or the typed error.
pub type Report = Result<String, TlsAcceptError>;

/// A listener on 127.0.0.1 accepting every connection in its own task: an
/// accepted connection echoes; exactly one report per connection is sent.
pub async fn serve(acceptor: TlsAcceptor) -> (SocketAddr, mpsc::UnboundedReceiver<Report>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match acceptor.accept_tcp(tcp).await {
                    Ok(AcceptedStream::Milagro(who, tls)) => {
                        let _ = tx.send(Ok(who.identity().as_str().to_owned()));
                        echo(tls).await;
                    }
                    Ok(AcceptedStream::Standard(tls)) => {
                        let _ = tx.send(Ok("<standard>".to_owned()));
                        echo(tls).await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        }
    });
    (addr, rx)
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// Writes `msg` and reads it back.
pub async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.expect("write");
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).await.expect("read");
    back
}

/// A TCP connection to `addr` from the loopback address `source`.
pub async fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(IpAddr::V4(source), 0))
        .expect("bind source");
    sock.connect(addr).await.expect("connect")
}

/// Sends `bytes` raw from `source` and returns everything the server writes
/// until it closes (bounded by 20 s).
pub async fn send_raw(source: Ipv4Addr, addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = connect_from(source, addr).await;
    tcp.write_all(bytes).await.expect("write");
    let mut reply = Vec::new();
    let _ = timeout(Duration::from_secs(20), tcp.read_to_end(&mut reply)).await;
    reply
}

/// Connects a good client and checks that an echo works; returns the
/// handshake's duration.
pub async fn good_connect(connector: &MilagroConnector, addr: SocketAddr, name: &str) -> Duration {
    let started = Instant::now();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut tls = timeout(Duration::from_secs(30), connector.connect(name, tcp))
        .await
        .expect("good client timed out")
        .expect("good client refused");
    let took = started.elapsed();
    assert_eq!(
        round_trip(&mut tls, b"still serving").await,
        b"still serving"
    );
    took
}

/// A real ClientHello from `client` (one record), parsed.
pub fn real_hello(client: &MilagroClient, server_name: &str) -> Hello {
    let mut conn = client.connect(server_name).expect("connect");
    let mut bytes = Vec::new();
    conn.write_tls(&mut bytes).expect("write_tls");
    Hello::parse(bytes)
}

/// A single-record ClientHello with one key share, and where that share is.
#[derive(Clone, Debug)]
pub struct Hello {
    /// The record bytes.
    pub bytes: Vec<u8>,
    /// Offset of the key share's `key_exchange` bytes.
    pub share_at: usize,
    /// Length of those bytes.
    pub share_len: usize,
    /// The share's group.
    pub group: u16,
}

/// Parses a complete ClientHello with [`ClientHelloRecorder`].
pub fn parse(bytes: &[u8]) -> ParsedClientHello {
    let mut rec = ClientHelloRecorder::new();
    match rec.feed(bytes) {
        Ok(Progress::Complete(hello)) => hello,
        other => panic!("not a complete ClientHello: {other:?}"),
    }
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn put16(b: &mut [u8], at: usize, v: usize) {
    let v = u16::try_from(v).expect("u16 length");
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

impl Hello {
    /// Locates the only key share (by the parser's view of its bytes) and
    /// checks the surrounding length fields are where a one-entry key_share
    /// extension puts them.
    pub fn parse(bytes: Vec<u8>) -> Self {
        let parsed = parse(&bytes);
        assert_eq!(parsed.key_shares().len(), 1, "one key share expected");
        let ks = &parsed.key_shares()[0];
        let share = ks.key_exchange();
        let at = bytes
            .windows(share.len())
            .position(|w| w == share)
            .expect("share bytes in the hello");
        // entry = group(2) len(2) share; list len(2); ext type(2) ext len(2)
        assert_eq!(be16(&bytes, at - 2), share.len());
        assert_eq!(be16(&bytes, at - 4), usize::from(ks.group()));
        assert_eq!(be16(&bytes, at - 6), share.len() + 4);
        assert_eq!(be16(&bytes, at - 8), share.len() + 6);
        assert_eq!(be16(&bytes, at - 10), 51, "key_share extension type");
        assert_eq!(be16(&bytes, 3), bytes.len() - 5, "one record");
        Self {
            share_len: share.len(),
            group: ks.group(),
            share_at: at,
            bytes,
        }
    }

    /// The key share bytes.
    pub fn share(&self) -> &[u8] {
        &self.bytes[self.share_at..self.share_at + self.share_len]
    }

    /// The same hello with the share's bytes `range` (relative to the share)
    /// overwritten by `with` (same length).
    pub fn with_field(&self, offset: usize, with: &[u8]) -> Vec<u8> {
        let mut b = self.bytes.clone();
        let at = self.share_at + offset;
        b[at..at + with.len()].copy_from_slice(with);
        b
    }

    /// The same hello with the whole key_share list replaced by `entries`
    /// (each `(group, key_exchange)`), every enclosing length fixed up.
    pub fn with_entries(&self, entries: &[(u16, &[u8])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (g, kx) in entries {
            list.extend_from_slice(&g.to_be_bytes());
            list.extend_from_slice(&u16::try_from(kx.len()).expect("len").to_be_bytes());
            list.extend_from_slice(kx);
        }
        let mut body = u16::try_from(list.len())
            .expect("len")
            .to_be_bytes()
            .to_vec();
        body.extend_from_slice(&list);
        replace_extension(&self.bytes, 51, &body)
    }

    /// The same hello with its share replaced by `share` (any length).
    pub fn with_share(&self, share: &[u8]) -> Vec<u8> {
        self.with_entries(&[(self.group, share)])
    }
}

/// Offset of the extensions' total length in a one-record ClientHello.
fn extensions_len_at(b: &[u8]) -> usize {
    let sid = 43;
    let cs = sid + 1 + usize::from(b[sid]);
    let comp = cs + 2 + be16(b, cs);
    comp + 1 + usize::from(b[comp])
}

/// A one-record ClientHello with extension `ext_type`'s body replaced by
/// `body` (record, handshake and extensions lengths fixed up).
pub fn replace_extension(bytes: &[u8], ext_type: u16, body: &[u8]) -> Vec<u8> {
    let ext_len_at = extensions_len_at(bytes);
    let mut at = ext_len_at + 2;
    let end = at + be16(bytes, ext_len_at);
    while at < end {
        let (t, len) = (be16(bytes, at), be16(bytes, at + 2));
        if t == usize::from(ext_type) {
            let mut b = bytes[..at + 2].to_vec();
            b.extend_from_slice(&u16::try_from(body.len()).expect("len").to_be_bytes());
            b.extend_from_slice(body);
            b.extend_from_slice(&bytes[at + 4 + len..]);
            let new_ext_len = be16(bytes, ext_len_at) + body.len() - len;
            put16(&mut b, ext_len_at, new_ext_len);
            let hs = u32::try_from(b.len() - 9).expect("len").to_be_bytes();
            b[6..9].copy_from_slice(&hs[1..]);
            let rec_len = b.len() - 5;
            put16(&mut b, 3, rec_len);
            return b;
        }
        at += 4 + len;
    }
    panic!("extension {ext_type} not in the hello")
}

/// The secret part (last `n` bytes of the PEM body) of a key file: how the
/// tests get at SEC or SS from outside the crate.
pub fn key_file_tail<K: KeyFile>(key: &K, n: usize) -> Vec<u8> {
    let pem = key.to_pem().expect("pem");
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let body = base64_decode(&b64);
    body[body.len() - n..].to_vec()
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Open file descriptors of this process (Linux `/proc/self/fd`).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Percentile `p` (0..=100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = (sorted.len() - 1) * p / 100;
    sorted[i]
}

/// A standard TLS 1.3 server config (a fresh self-signed ECDSA P-256
/// certificate for `localhost`, from rcgen) and a client config trusting
/// it, both on ring: the reference leg of the throughput test and the
/// handshake bench.
pub fn standard_configs() -> (rustls::ServerConfig, rustls::ClientConfig) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let der = cert.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).expect("root");
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, client)
}
