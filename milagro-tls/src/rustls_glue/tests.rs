//! End-to-end, in-memory handshakes through the glue with the toy engine:
//! one test per rule of docs/protocol.md §8.4.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, Error, HandshakeKind,
    ServerConfig, ServerConnection,
};

use super::accept::{Accepted, MilagroAcceptor, check_finished as finish};
use super::config::{MilagroClient, MilagroServer};
use super::engine::toy::{TOY_SHARE_LEN, ToyDeployment};
use super::engine::{Binding, KxError};
use super::error::{AcceptError, AcceptRefusal};
use super::error::{FinishError, MilagroError, map_client_error};
use super::identity_blob::{IdentityBlob, Role};
use super::kx::named_group;
use super::verify::{ServerIdentityVerifier, check_client_blob};
use crate::identity::Identity;
use crate::suite::Suite;
use crate::tls::HANDSHAKE_FAILURE_ALERT;
use crate::tls::{ClientHelloRecorder, Offer, OfferRefusal, Progress, classify};

const SERVER_ID: &str = "server.example";

pub(crate) const SOURCE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The Milagro group and share of a recorded ClientHello (via `crate::tls`).
pub(crate) fn find_milagro_share(hello: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut rec = ClientHelloRecorder::new();
    let Ok(Progress::Complete(h)) = rec.feed(hello) else {
        return None;
    };
    match classify(&h) {
        Ok(Offer::Milagro { group, share }) => Some((group.group(), share.to_vec())),
        _ => None,
    }
}

fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

/// A CS or P2P setup: deployment, server, acceptor.
struct Setup {
    d: ToyDeployment,
    acceptor: MilagroAcceptor,
}

fn setup(suite: Suite, standard: Option<Arc<ServerConfig>>) -> Setup {
    let d = ToyDeployment::random(suite);
    let period = if suite == Suite::P2p { 42 } else { 0 };
    let server = MilagroServer::new(d.server(), id(SERVER_ID), period).unwrap();
    let acceptor = MilagroAcceptor::new(Arc::new(server), standard).unwrap();
    Setup { d, acceptor }
}

fn client(d: &ToyDeployment, key_id: &str, blob_id: &str, period: u32) -> MilagroClient {
    MilagroClient::new(
        d.client(key_id, period),
        id(blob_id),
        period,
        Some(id(SERVER_ID)),
    )
    .unwrap()
}

fn period(suite: Suite) -> u32 {
    if suite == Suite::P2p { 42 } else { 19_000 }
}

fn flight(conn: &mut dyn FnMut(&mut Vec<u8>)) -> Vec<u8> {
    let mut buf = Vec::new();
    conn(&mut buf);
    buf
}

pub(super) fn client_out(c: &mut ClientConnection) -> Vec<u8> {
    flight(&mut |b| {
        while c.wants_write() {
            c.write_tls(b).unwrap();
        }
    })
}

pub(super) fn server_out(s: &mut ServerConnection) -> Vec<u8> {
    flight(&mut |b| {
        while s.wants_write() {
            s.write_tls(b).unwrap();
        }
    })
}

fn client_in(c: &mut ClientConnection, bytes: &[u8]) -> Result<(), Error> {
    let mut rd = bytes;
    while !rd.is_empty() {
        c.read_tls(&mut rd).unwrap();
        c.process_new_packets()?;
    }
    Ok(())
}

fn server_in(s: &mut ServerConnection, bytes: &[u8]) -> Result<(), Error> {
    let mut rd = bytes;
    while !rd.is_empty() {
        s.read_tls(&mut rd).unwrap();
        s.process_new_packets()?;
    }
    Ok(())
}

/// Outcome of a handshake driven through the accept path.
pub(super) struct Run {
    pub(super) client: ClientConnection,
    pub(super) accept: Result<Accepted, AcceptError>,
    pub(super) client_err: Option<Error>,
    pub(super) server_err: Option<Error>,
    /// What the accept path wrote before returning (an alert, if any).
    pub(super) alert: Vec<u8>,
    /// The client's first flight as sent (after tampering).
    pub(super) hello: Vec<u8>,
}

/// Sends the client's first flight through the acceptor, then pumps both
/// sides until the handshake ends or fails. `tamper` may change the client's
/// first flight.
fn run(
    acceptor: &MilagroAcceptor,
    client: ClientConnection,
    tamper: impl FnOnce(&mut Vec<u8>),
) -> Run {
    run_full(acceptor, SOURCE, client, tamper, |_| {})
}

/// [`run`] from `source`, with `tamper2` applied to the client's second
/// flight (Certificate, CertificateVerify, Finished: encrypted).
pub(super) fn run_full(
    acceptor: &MilagroAcceptor,
    source: std::net::IpAddr,
    client: ClientConnection,
    tamper: impl FnOnce(&mut Vec<u8>),
    tamper2: impl FnMut(&mut Vec<u8>),
) -> Run {
    run_tampered(acceptor, source, client, tamper, |_| {}, tamper2)
}

/// [`run_full`], with `tamper_server` also applied to every non-empty flight
/// the server sends after the accept path (the first one: ServerHello, then
/// the encrypted EncryptedExtensions … Finished).
pub(super) fn run_tampered(
    acceptor: &MilagroAcceptor,
    source: std::net::IpAddr,
    mut client: ClientConnection,
    tamper: impl FnOnce(&mut Vec<u8>),
    mut tamper_server: impl FnMut(&mut Vec<u8>),
    mut tamper2: impl FnMut(&mut Vec<u8>),
) -> Run {
    let mut hello = client_out(&mut client);
    tamper(&mut hello);
    let mut alert = Vec::new();
    let mut accept = acceptor.accept(source, &mut &hello[..], &mut alert);
    let mut client_err = client_in(&mut client, &alert).err();
    let mut server_err = None;
    let server = match &mut accept {
        Ok(Accepted::Standard(s)) => Some(s),
        Ok(Accepted::Milagro(m)) => Some(m.connection_mut()),
        Err(_) => None,
    };
    if let Some(server) = server {
        for _ in 0..10 {
            let mut out = server_out(server);
            if !out.is_empty() {
                tamper_server(&mut out);
            }
            if client_err.is_none() {
                client_err = client_in(&mut client, &out).err();
            }
            let mut out = client_out(&mut client);
            if !out.is_empty() {
                tamper2(&mut out);
            }
            if server_err.is_none() {
                server_err = server_in(server, &out).err();
            }
            let mut out = server_out(server);
            if !out.is_empty() {
                tamper_server(&mut out);
            }
            if client_err.is_none() {
                client_err = client_in(&mut client, &out).err();
            }
            if (!client.is_handshaking() && !server.is_handshaking())
                || client_err.is_some()
                || server_err.is_some()
            {
                break;
            }
        }
    }
    Run {
        client,
        accept,
        client_err,
        server_err,
        alert,
        hello,
    }
}

/// The TLS records of a flight: (content type, start of the record header,
/// payload range). `None` if the flight is not a whole number of records.
pub(super) fn records(flight: &[u8]) -> Option<Vec<(u8, usize, std::ops::Range<usize>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < flight.len() {
        let header = flight.get(at..at + 5)?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let body = at + 5..at + 5 + len;
        flight.get(body.clone())?;
        out.push((header[0], at, body.clone()));
        at = body.end;
    }
    Some(out)
}

/// Where the server's key share (its `key_share` extension's key) sits in a
/// flight that starts with the ServerHello record.
pub(super) fn server_share_range(flight: &[u8]) -> Option<std::ops::Range<usize>> {
    let (kind, _, body) = records(flight)?.into_iter().next()?;
    if kind != 22 || flight.get(body.start) != Some(&2) {
        return None; // not a ServerHello
    }
    // handshake header 4, legacy_version 2, random 32.
    let mut at = body.start + 4 + 2 + 32;
    at += 1 + usize::from(*flight.get(at)?); // legacy_session_id
    at += 2 + 1; // cipher_suite, legacy_compression_method
    let ext_len = usize::from(u16::from_be_bytes([*flight.get(at)?, *flight.get(at + 1)?]));
    at += 2;
    let end = at + ext_len;
    while at + 4 <= end {
        let ty = u16::from_be_bytes([*flight.get(at)?, *flight.get(at + 1)?]);
        let len = usize::from(u16::from_be_bytes([
            *flight.get(at + 2)?,
            *flight.get(at + 3)?,
        ]));
        if ty == 0x0033 {
            // group (2), key length (2), key.
            let klen = usize::from(u16::from_be_bytes([
                *flight.get(at + 6)?,
                *flight.get(at + 7)?,
            ]));
            return Some(at + 8..at + 8 + klen);
        }
        at += 4 + len;
    }
    None
}

fn milagro(run: &Run) -> (&Binding, &ServerConnection) {
    match &run.accept {
        Ok(Accepted::Milagro(m)) => (m.binding(), m.connection()),
        other => panic!("expected a Milagro connection, got {other:?}"),
    }
}

fn server_blob(c: &ClientConnection) -> IdentityBlob {
    IdentityBlob::decode(c.peer_certificates().unwrap()[0].as_ref()).unwrap()
}

#[test]
fn handshake_completes_and_both_sides_see_the_right_identities() {
    for suite in [Suite::Cs, Suite::P2p] {
        let s = setup(suite, None);
        let p = period(suite);
        let c = client(&s.d, "alice@example.com", "alice@example.com", p);
        let r = run(&s.acceptor, c.connect("Server.Example.").unwrap(), |_| {});
        assert!(r.client_err.is_none(), "{suite}: {:?}", r.client_err);
        assert!(r.server_err.is_none(), "{suite}: {:?}", r.server_err);
        let (binding, conn) = milagro(&r);
        assert_eq!(binding.hid(), s.d.hid("alice@example.com", p));
        assert_eq!(binding.period(), p);
        assert_eq!(finish(binding, conn), Ok(id("alice@example.com")));
        assert_eq!(c.finish(&r.client), Ok(id(SERVER_ID)));
        let blob = server_blob(&r.client);
        assert_eq!(blob.identity, id(SERVER_ID));
        assert_eq!((blob.suite, blob.role), (suite, Role::Server));
        assert_eq!(
            r.client.negotiated_key_exchange_group().unwrap().name(),
            named_group(suite)
        );
        assert_eq!(r.client.handshake_kind(), Some(HandshakeKind::Full));
        assert_eq!(
            r.client.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
    }
}

#[test]
fn application_data_flows_both_ways() {
    use std::io::{Read, Write};
    let s = setup(Suite::Cs, None);
    let c = client(&s.d, "alice@example.com", "alice@example.com", 1);
    let mut r = run(&s.acceptor, c.connect(SERVER_ID).unwrap(), |_| {});
    let Ok(Accepted::Milagro(m)) = &mut r.accept else {
        panic!("not Milagro")
    };
    let server = m.connection_mut();
    r.client.writer().write_all(b"ping").unwrap();
    let out = client_out(&mut r.client);
    server_in(server, &out).unwrap();
    let mut got = [0u8; 4];
    server.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

#[test]
fn client_offers_exactly_its_one_milagro_group() {
    for suite in [Suite::Cs, Suite::P2p] {
        let group = suite.group();
        let d = ToyDeployment::random(suite);
        let c = client(&d, "alice@example.com", "alice@example.com", period(suite));
        let provider = c.rustls_config().crypto_provider();
        assert_eq!(provider.kx_groups.len(), 1);
        assert_eq!(u16::from(provider.kx_groups[0].name()), group);
        let hello = client_out(&mut c.connect(SERVER_ID).unwrap());
        let mut rec = ClientHelloRecorder::new();
        let Ok(Progress::Complete(parsed)) = rec.feed(&hello) else {
            panic!("incomplete ClientHello")
        };
        assert_eq!(parsed.supported_groups(), &[group]);
        assert_eq!(parsed.key_shares().len(), 1);
        assert_eq!(parsed.key_shares()[0].group(), group);
        assert_eq!(parsed.key_shares()[0].key_exchange().len(), TOY_SHARE_LEN);
        assert_eq!(find_milagro_share(&hello).map(|(g, _)| g), Some(group));
    }
}

/// A test PKI made with rcgen: one CA (ECDSA P-256) issuing a server leaf
/// for [`SERVER_ID`] and a client leaf, all verified by rustls's webpki.
pub(super) struct Pki {
    pub(super) ca: CertificateDer<'static>,
    pub(super) server: (CertificateDer<'static>, Vec<u8>),
    pub(super) client: (CertificateDer<'static>, Vec<u8>),
}

impl Pki {
    pub(super) fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        // Each PKI's CA has its own name, as distinct real CAs do.
        static CAS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = CAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("milagro-tls test CA {n}"));
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf = |name: &str, eku: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
            params.extended_key_usages = vec![eku];
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.der().clone(), key.serialize_der())
        };
        Self {
            server: leaf(SERVER_ID, ExtendedKeyUsagePurpose::ServerAuth),
            client: leaf("client.example", ExtendedKeyUsagePurpose::ClientAuth),
            ca: ca.der().clone(),
        }
    }

    fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        Arc::new(roots)
    }

    fn key(der: &[u8]) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()))
    }

    /// A standard, Milagro-free server: ring with X25519 only, the server
    /// leaf, and client certificates required and verified against the CA.
    pub(super) fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(ring_x25519());
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots(), provider.clone())
            .build()
            .unwrap();
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS13])
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(vec![self.server.0.clone()], Self::key(&self.server.1))
                .unwrap(),
        )
    }

    /// A standard client with `groups`, trusting `trust`'s CA, presenting
    /// this PKI's client leaf, connecting to `server_name`.
    pub(super) fn client_trusting(
        &self,
        trust: &Pki,
        groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
        server_name: &str,
    ) -> ClientConnection {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.kx_groups = groups;
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(trust.roots())
            .with_client_auth_cert(vec![self.client.0.clone()], Self::key(&self.client.1))
            .unwrap();
        ClientConnection::new(
            Arc::new(config),
            ServerName::try_from(server_name.to_string()).unwrap(),
        )
        .unwrap()
    }

    /// [`Self::client_trusting`] this PKI's own CA.
    pub(super) fn client(
        &self,
        groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
        server_name: &str,
    ) -> ClientConnection {
        self.client_trusting(self, groups, server_name)
    }
}

fn ring_x25519() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![rustls::crypto::ring::kx_group::X25519];
    provider
}

/// The shared test PKI (made once per test process).
pub(super) fn pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(Pki::new)
}

/// The standard server config of the shared test PKI.
fn standard_server() -> Arc<ServerConfig> {
    pki().server_config()
}

/// A standard client of the shared test PKI, connecting to [`SERVER_ID`].
fn standard_client(groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>) -> ClientConnection {
    pki().client(groups, SERVER_ID)
}

#[test]
fn standard_x509_client_and_milagro_client_share_one_accept_path() {
    let s = setup(Suite::Cs, Some(standard_server()));
    let x25519 = rustls::crypto::ring::kx_group::X25519;
    // A standard client with a CA-issued certificate, full webpki checks on
    // both sides.
    let r = run(&s.acceptor, standard_client(vec![x25519]), |_| {});
    assert_eq!((&r.client_err, &r.server_err), (&None, &None));
    let Ok(Accepted::Standard(conn)) = &r.accept else {
        panic!("expected Standard, got {:?}", r.accept)
    };
    assert!(!conn.is_handshaking() && !r.client.is_handshaking());
    assert_eq!(
        conn.peer_certificates(),
        Some(&[pki().client.0.clone()][..])
    );
    assert_eq!(
        r.client.peer_certificates(),
        Some(&[pki().server.0.clone()][..])
    );
    assert_eq!(
        conn.negotiated_key_exchange_group().unwrap().name(),
        rustls::NamedGroup::X25519
    );
    assert_eq!(conn.handshake_kind(), Some(HandshakeKind::Full));
    // finish() never turns an X25519 connection into a Milagro identity, and
    // a Milagro client's backstop refuses it too.
    let binding = Binding::new(Suite::Cs, id("alice@example.com").cs_hid(), 0);
    assert_eq!(finish(&binding, conn), Err(FinishError::WrongGroup));
    let mc = client(&s.d, "alice@example.com", "alice@example.com", 1);
    assert_eq!(mc.finish(&r.client), Err(FinishError::WrongGroup));

    // A Milagro client on the same acceptor gets Milagro and its identity.
    let mut r = run(&s.acceptor, mc.connect(SERVER_ID).unwrap(), |_| {});
    assert_eq!((&r.client_err, &r.server_err), (&None, &None));
    let Ok(Accepted::Milagro(m)) = &mut r.accept else {
        panic!("expected Milagro, got {:?}", r.accept)
    };
    assert_eq!(m.finish(), Ok(id("alice@example.com")));
    assert_eq!(mc.finish(&r.client), Ok(id(SERVER_ID)));
}

#[test]
fn standard_clients_failing_x509_checks_are_refused_on_the_standard_path() {
    let s = setup(Suite::Cs, Some(standard_server()));
    let x25519 = rustls::crypto::ring::kx_group::X25519;
    let stranger = Pki::new();
    // A client certificate from another CA: the server's webpki refuses it.
    let c = stranger.client_trusting(pki(), vec![x25519], SERVER_ID);
    let r = run(&s.acceptor, c, |_| {});
    assert!(matches!(r.accept, Ok(Accepted::Standard(_))));
    assert_eq!(
        r.server_err,
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer))
    );
    // A client that does not trust the server's CA refuses the server.
    let r = run(
        &s.acceptor,
        stranger.client(vec![x25519], SERVER_ID),
        |_| {},
    );
    assert_eq!(
        r.client_err,
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer))
    );
    // A name the server's certificate does not cover.
    let r = run(
        &s.acceptor,
        pki().client(vec![x25519], "other.example"),
        |_| {},
    );
    assert!(
        matches!(
            r.client_err,
            Some(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{:?}",
        r.client_err
    );
}

#[test]
fn standard_client_on_a_milagro_only_listener_is_refused_plainly() {
    let s = setup(Suite::Cs, None);
    let x25519 = rustls::crypto::ring::kx_group::X25519;
    let mut c = standard_client(vec![x25519]);
    let hello = client_out(&mut c);
    let mut alert = Vec::new();
    let err = s
        .acceptor
        .accept(SOURCE, &mut &hello[..], &mut alert)
        .unwrap_err();
    assert!(matches!(
        err,
        AcceptError::Refused(AcceptRefusal::NoStandardConfig)
    ));
    assert_eq!(alert, HANDSHAKE_FAILURE_ALERT);
    assert_eq!(
        client_in(&mut c, &alert),
        Err(Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn a_standard_config_with_a_milagro_group_is_not_accepted() {
    let d = ToyDeployment::random(Suite::Cs);
    let server = Arc::new(MilagroServer::new(d.server(), id(SERVER_ID), 0).unwrap());
    let other =
        MilagroServer::new(ToyDeployment::random(Suite::Cs).server(), id(SERVER_ID), 0).unwrap();
    let binding = Binding::new(Suite::Cs, id("a@example.com").cs_hid(), 0);
    let milagro_cfg = other.config_for(binding).unwrap();
    assert!(MilagroAcceptor::new(server.clone(), Some(milagro_cfg)).is_none());
    assert!(MilagroAcceptor::new(server, Some(standard_server())).is_some());
}

#[test]
fn a_client_listing_x25519_first_and_milagro_without_share_is_refused() {
    // Not buildable through MilagroClient: a raw provider with two groups.
    let s = setup(Suite::Cs, Some(standard_server()));
    let mc = client(&s.d, "alice@example.com", "alice@example.com", 1);
    let milagro_group = mc.rustls_config().crypto_provider().kx_groups[0];
    let x25519 = rustls::crypto::ring::kx_group::X25519;
    let r = run(
        &s.acceptor,
        standard_client(vec![x25519, milagro_group]),
        |_| {},
    );
    assert!(matches!(
        r.accept,
        Err(AcceptError::Refused(AcceptRefusal::Offer(
            OfferRefusal::MissingShare { group: Suite::Cs }
        )))
    ));
    assert_eq!(
        r.client_err,
        Some(Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn a_p2p_client_on_a_cs_listener_is_refused() {
    let s = setup(Suite::Cs, Some(standard_server()));
    let p2p = ToyDeployment::random(Suite::P2p);
    let c = client(&p2p, "alice@example.com", "alice@example.com", 42);
    let r = run(&s.acceptor, c.connect(SERVER_ID).unwrap(), |_| {});
    assert!(matches!(
        r.accept,
        Err(AcceptError::Refused(AcceptRefusal::WrongSuite))
    ));
}

#[test]
fn no_tickets_and_a_second_connection_is_a_full_handshake() {
    let s = setup(Suite::Cs, None);
    let c = client(&s.d, "alice@example.com", "alice@example.com", 1);
    // Even a client that *would* resume (test-only clone) gets no ticket.
    let mut cfg = (**c.rustls_config()).clone();
    cfg.resumption = rustls::client::Resumption::in_memory_sessions(8);
    let cfg = Arc::new(cfg);
    for _ in 0..2 {
        let conn =
            ClientConnection::new(cfg.clone(), ServerName::try_from(SERVER_ID).unwrap()).unwrap();
        let mut r = run(&s.acceptor, conn, |_| {});
        assert!(r.client_err.is_none() && r.server_err.is_none());
        let Ok(Accepted::Milagro(m)) = &mut r.accept else {
            panic!("not Milagro")
        };
        let binding = *m.binding();
        let conn = m.connection_mut();
        let binding = &binding;
        // Nothing more to send: no NewSessionTicket after the handshake.
        assert!(server_out(conn).is_empty());
        assert_eq!(r.client.tls13_tickets_received(), 0);
        assert_eq!(conn.handshake_kind(), Some(HandshakeKind::Full));
        assert_eq!(r.client.handshake_kind(), Some(HandshakeKind::Full));
        assert_eq!(finish(binding, conn), Ok(id("alice@example.com")));
    }
}

#[test]
fn a_client_certificate_naming_another_identity_is_refused_with_access_denied() {
    for suite in [Suite::Cs, Suite::P2p] {
        let s = setup(suite, None);
        let p = period(suite);
        // Alice's key, Mallory's name in the certificate.
        let c = client(&s.d, "alice@example.com", "mallory@example.com", p);
        let r = run(&s.acceptor, c.connect(SERVER_ID).unwrap(), |_| {});
        assert_eq!(
            r.server_err,
            Some(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure
            )),
            "{suite}"
        );
        // The client learns it on its next read.
        assert_eq!(
            r.client_err,
            Some(Error::AlertReceived(AlertDescription::AccessDenied))
        );
        // Same identity, wrong period in the blob: also refused.
        let c = client(&s.d, "alice@example.com", "alice@example.com", p);
        let wrong_period = MilagroClient::new(
            s.d.client("alice@example.com", p),
            id("alice@example.com"),
            p + 1,
            Some(id(SERVER_ID)),
        )
        .unwrap();
        drop(c);
        let r = run(
            &s.acceptor,
            wrong_period.connect(SERVER_ID).unwrap(),
            |_| {},
        );
        assert_eq!(
            r.server_err,
            Some(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure
            ))
        );
    }
}

#[test]
fn a_cs_server_with_the_wrong_key_fails_with_credential_refused() {
    let s = setup(Suite::Cs, None);
    let other = ToyDeployment::random(Suite::Cs);
    let c = client(&other, "alice@example.com", "alice@example.com", 1);
    let r = run(&s.acceptor, c.connect(SERVER_ID).unwrap(), |_| {});
    assert!(matches!(
        r.accept,
        Err(AcceptError::KeyExchange(KxError::CredentialRefused))
    ));
    let err = r.client_err.clone().unwrap();
    assert_eq!(
        err,
        Error::AlertReceived(AlertDescription::IllegalParameter)
    );
    let mapped = map_client_error(&r.client, err);
    assert!(matches!(mapped, MilagroError::CredentialRefused));
    assert_eq!(
        mapped.to_string(),
        "Milagro credential refused (PIN, permit, lockout or clock)"
    );
}

#[test]
fn a_p2p_server_with_the_wrong_key_cannot_complete() {
    let s = setup(Suite::P2p, None);
    let other = ToyDeployment::random(Suite::P2p);
    let c = client(&other, "alice@example.com", "alice@example.com", 42);
    let r = run(&s.acceptor, c.connect(SERVER_ID).unwrap(), |_| {});
    milagro(&r); // the toy P2P server cannot tell: the keys just differ
    assert_eq!(r.client_err, Some(Error::DecryptError));
    // A later alert is not mistaken for a credential refusal.
    let mapped = map_client_error(
        &r.client,
        Error::AlertReceived(AlertDescription::IllegalParameter),
    );
    assert!(matches!(mapped, MilagroError::Tls(_)));
}

#[test]
fn p2p_client_refuses_a_server_name_other_than_its_configured_identity() {
    let d = ToyDeployment::random(Suite::P2p);
    let c = client(&d, "alice@example.com", "alice@example.com", 42);
    match c.connect("other.example") {
        Err(MilagroError::ServerNameMismatch { expected, got }) => {
            assert_eq!(
                (expected.as_str(), got.as_str()),
                (SERVER_ID, "other.example")
            );
        }
        other => panic!("expected ServerNameMismatch, got {other:?}"),
    }
    assert!(c.connect("SERVER.example.").is_ok());
    assert!(matches!(
        MilagroClient::new(d.client("a@example.com", 42), id("a@example.com"), 42, None),
        Err(MilagroError::MissingServerIdentity)
    ));
}

#[test]
fn p2p_client_refuses_a_server_blob_naming_another_identity() {
    let d = ToyDeployment::random(Suite::P2p);
    let server = MilagroServer::new(d.server(), id("other.example"), 42).unwrap();
    let acceptor = MilagroAcceptor::new(Arc::new(server), None).unwrap();
    let c = client(&d, "alice@example.com", "alice@example.com", 42);
    let r = run(&acceptor, c.connect(SERVER_ID).unwrap(), |_| {});
    assert_eq!(
        r.client_err,
        Some(Error::InvalidCertificate(CertificateError::NotValidForName))
    );
}

#[test]
fn every_bit_flip_in_the_key_share_fails_the_handshake() {
    let s = setup(Suite::Cs, None);
    let c = client(&s.d, "alice@example.com", "alice@example.com", 1);
    for bit in 0..TOY_SHARE_LEN * 8 {
        let conn = c.connect(SERVER_ID).unwrap();
        let r = run(&s.acceptor, conn, |h| {
            // rustls shuffles extensions and each connection has its own
            // share: find this one's.
            let (_, share) = find_milagro_share(h).unwrap();
            let at = h
                .windows(share.len())
                .position(|w| w == &share[..])
                .unwrap();
            h[at + bit / 8] ^= 1 << (bit % 8);
        });
        assert!(
            matches!(
                r.accept,
                Err(AcceptError::KeyExchange(KxError::CredentialRefused))
            ),
            "bit {bit}: {:?}",
            r.accept
        );
        assert!(matches!(
            map_client_error(&r.client, r.client_err.clone().unwrap()),
            MilagroError::CredentialRefused
        ));
    }
}

#[test]
fn every_bit_flip_in_the_client_hello_is_handled_without_panic() {
    let s = setup(Suite::Cs, Some(standard_server()));
    let c = client(&s.d, "alice@example.com", "alice@example.com", 1);
    let expected = s.d.hid("alice@example.com", 0);
    let len = client_out(&mut c.connect(SERVER_ID).unwrap()).len();
    for bit in 0..len * 8 {
        let r = run(&s.acceptor, c.connect(SERVER_ID).unwrap(), |h| {
            h[bit / 8] ^= 1 << (bit % 8)
        });
        if let Ok(Accepted::Milagro(m)) = &r.accept {
            let (binding, conn) = (m.binding(), m.connection());
            // Either a harmless flip (random, cipher list …) and the right
            // binding, or the handshake fails.
            if r.client_err.is_none() && r.server_err.is_none() {
                assert_eq!(binding.hid(), expected, "bit {bit}");
                assert_eq!(finish(binding, conn), Ok(id("alice@example.com")));
            }
        }
    }
}

#[test]
fn bit_flips_in_identity_blobs_are_refused_by_both_verifiers() {
    let binding = Binding::new(Suite::P2p, id("alice@example.com").p2p_hid(42), 42);
    let blob = IdentityBlob {
        suite: Suite::P2p,
        role: Role::Client,
        period: 42,
        identity: id("alice@example.com"),
    }
    .encode();
    assert_eq!(
        check_client_blob(&binding, &CertificateDer::from(blob.clone()), &[]),
        Ok(id("alice@example.com"))
    );
    for bit in 0..blob.len() * 8 {
        let mut b = blob.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let err = check_client_blob(&binding, &CertificateDer::from(b), &[]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidCertificate(
                    CertificateError::BadEncoding
                        | CertificateError::ApplicationVerificationFailure
                )
            ),
            "bit {bit}: {err:?}"
        );
    }
    // Intermediates are refused.
    assert_eq!(
        check_client_blob(
            &binding,
            &CertificateDer::from(blob.clone()),
            &[CertificateDer::from(blob.clone())]
        ),
        Err(Error::InvalidCertificate(CertificateError::BadEncoding))
    );

    let d = ToyDeployment::random(Suite::P2p);
    let verifier = ServerIdentityVerifier {
        suite: Suite::P2p,
        expected: Some(id(SERVER_ID)),
        _key: d.client("alice@example.com", 42),
    };
    let server = IdentityBlob {
        suite: Suite::P2p,
        role: Role::Server,
        period: 42,
        identity: id(SERVER_ID),
    }
    .encode();
    let name = ServerName::try_from(SERVER_ID).unwrap();
    let verify = |b: &[u8]| {
        verifier.verify_server_cert(
            &CertificateDer::from(b.to_vec()),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
    };
    assert!(verify(&server).is_ok());
    let mut changed_period_ok = 0;
    for bit in 0..server.len() * 8 {
        let mut b = server.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        match verify(&b) {
            Err(Error::InvalidCertificate(_)) => {}
            // The server's period is informational for the client.
            Ok(_) if (7 * 8..11 * 8).contains(&bit) => changed_period_ok += 1,
            other => panic!("bit {bit}: {other:?}"),
        }
    }
    assert_eq!(changed_period_ok, 32);
    // A client blob presented as the server's is refused.
    let as_client = IdentityBlob {
        suite: Suite::P2p,
        role: Role::Client,
        period: 42,
        identity: id(SERVER_ID),
    }
    .encode();
    assert_eq!(
        verify(&as_client).unwrap_err(),
        Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
    );
}

#[test]
fn finish_refuses_an_unfinished_handshake() {
    let s = setup(Suite::Cs, None);
    let c = client(&s.d, "alice@example.com", "alice@example.com", 1);
    let hello = client_out(&mut c.connect(SERVER_ID).unwrap());
    let Ok(Accepted::Milagro(mut m)) = s.acceptor.accept(SOURCE, &mut &hello[..], &mut Vec::new())
    else {
        panic!("not Milagro")
    };
    assert_eq!(m.finish(), Err(FinishError::StillHandshaking));
    let pending = c.connect(SERVER_ID).unwrap();
    assert_eq!(c.finish(&pending), Err(FinishError::StillHandshaking));
}

#[test]
fn a_malformed_share_is_refused_at_accept_with_illegal_parameter() {
    let s = setup(Suite::Cs, None);
    let c = client(&s.d, "alice@example.com", "alice@example.com", 1);
    let hello = client_out(&mut c.connect(SERVER_ID).unwrap());
    // Shorten the share by one byte: fix up every length on the way.
    let (_, share) = find_milagro_share(&hello).unwrap();
    let at = hello
        .windows(share.len())
        .position(|w| w == &share[..])
        .unwrap();
    let mut h = hello.clone();
    h.remove(at);
    let dec16 = |h: &mut Vec<u8>, i: usize| {
        let v = u16::from_be_bytes([h[i], h[i + 1]]) - 1;
        h[i..i + 2].copy_from_slice(&v.to_be_bytes());
    };
    dec16(&mut h, at - 2); // share length
    dec16(&mut h, at - 6); // client_shares length
    dec16(&mut h, at - 8); // extension length
    dec16(&mut h, 3); // record length
    let hs = u32::from_be_bytes([0, h[6], h[7], h[8]]) - 1;
    h[6..9].copy_from_slice(&hs.to_be_bytes()[1..]);
    // Extensions block length: walk the hello to find it.
    let sid = usize::from(h[5 + 4 + 34]);
    let cs_at = 5 + 4 + 35 + sid;
    let cs = usize::from(u16::from_be_bytes([h[cs_at], h[cs_at + 1]]));
    let comp_at = cs_at + 2 + cs;
    let ext_at = comp_at + 1 + usize::from(h[comp_at]);
    dec16(&mut h, ext_at);
    let mut alert = Vec::new();
    let err = s
        .acceptor
        .accept(SOURCE, &mut &h[..], &mut alert)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcceptError::KeyExchange(KxError::WrongShareLength {
                expected: 100,
                actual: 99
            })
        ),
        "{err:?}"
    );
    // A share that cannot even be bound is a refused share.
    assert_eq!(alert, crate::tls::ILLEGAL_PARAMETER_ALERT);
}

/// A one-record ClientHello with its cipher suites and/or compression
/// methods replaced and `extra` (whole extensions) appended to its
/// extensions; every length fixed up.
pub(super) fn mutate_hello(
    hello: &[u8],
    suites: Option<&[u16]>,
    compression: Option<&[u8]>,
    extra: &[u8],
) -> Vec<u8> {
    let be16 = |at: usize| usize::from(u16::from_be_bytes([hello[at], hello[at + 1]]));
    let sid = 5 + 4 + 2 + 32;
    let cs = sid + 1 + usize::from(hello[sid]);
    let comp = cs + 2 + be16(cs);
    let exts = comp + 1 + usize::from(hello[comp]);
    let mut body = hello[9..cs].to_vec();
    match suites {
        Some(s) => {
            body.extend(u16::try_from(2 * s.len()).unwrap().to_be_bytes());
            body.extend(s.iter().flat_map(|v| v.to_be_bytes()));
        }
        None => body.extend(&hello[cs..comp]),
    }
    match compression {
        Some(c) => {
            body.push(u8::try_from(c.len()).unwrap());
            body.extend(c);
        }
        None => body.extend(&hello[comp..exts]),
    }
    let old_exts = &hello[exts + 2..exts + 2 + be16(exts)];
    body.extend(
        u16::try_from(old_exts.len() + extra.len())
            .unwrap()
            .to_be_bytes(),
    );
    body.extend(old_exts);
    body.extend(extra);
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut msg = vec![1, len[1], len[2], len[3]];
    msg.extend(body);
    let mut out = vec![22, 3, 1];
    out.extend(u16::try_from(msg.len()).unwrap().to_be_bytes());
    out.extend(msg);
    out
}
