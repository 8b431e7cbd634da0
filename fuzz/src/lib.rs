//! Shared, deterministic fixtures for the fuzz targets and the corpus writer.
//!
//! Every key here is issued once through the public D-TA API
//! ([`MasterShare::issue_*`](milagro_tls::keys::MasterShare) and
//! [`Combine`]) from [`SeededEntropy`], so every run — and the seed corpus
//! written by `examples/make_corpus.rs` — sees the same deployment, the same
//! genuine shares and the same secrets. Nothing here is secret: these are
//! test keys.

use std::sync::OnceLock;

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
        let token = extract_pin(&client_secret, &pin);
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
