//! Tests for the ClientHello recorder, parser and classifier, with real
//! ClientHellos written by a rustls 0.23 client (ring provider, TLS 1.3) and
//! handcrafted malformed inputs.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, NamedGroup, RootCertStore,
    SignatureScheme,
};

use super::*;
use crate::suite::{CIPHER_SUITES, CS_GROUP, IMPLICIT_SCHEME, P2P_GROUP, Suite};

// ---------------------------------------------------------------- rustls side

/// The dummy Milagro share: 300 bytes that depend on the group, so a share
/// attributed to the wrong group is caught.
fn dummy_share(group: u16) -> Vec<u8> {
    (0..300u16)
        .map(|i| (i as u8) ^ (group as u8) ^ ((i >> 8) as u8))
        .collect()
}

#[derive(Debug)]
struct DummyGroup(u16);

struct DummyActive {
    group: u16,
    share: Vec<u8>,
}

impl SupportedKxGroup for DummyGroup {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        Ok(Box::new(DummyActive {
            group: self.0,
            share: dummy_share(self.0),
        }))
    }
    fn name(&self) -> NamedGroup {
        NamedGroup::from(self.0)
    }
}

impl ActiveKeyExchange for DummyActive {
    fn complete(self: Box<Self>, _peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        Err(rustls::Error::General("dummy group".into()))
    }
    fn pub_key(&self) -> &[u8] {
        &self.share
    }
    fn group(&self) -> NamedGroup {
        NamedGroup::from(self.group)
    }
}

static CS: DummyGroup = DummyGroup(CS_GROUP);
static P2P: DummyGroup = DummyGroup(P2P_GROUP);

fn x25519() -> &'static dyn SupportedKxGroup {
    rustls::crypto::ring::kx_group::X25519
}

/// A server verifier that refuses everything but advertises `schemes`, so the
/// client's `signature_algorithms` can carry `milagro_implicit`.
#[derive(Debug)]
struct SchemesOnly(Vec<SignatureScheme>);

impl ServerCertVerifier for SchemesOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General("test verifier".into()))
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("test verifier".into()))
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("test verifier".into()))
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// The bytes a rustls TLS 1.3 client writes first, with `groups` as its
/// provider's kx groups. With `implicit`, its verifier advertises only
/// `milagro_implicit`; otherwise it is the webpki verifier (ring's schemes).
fn rustls_client_hello(
    groups: Vec<&'static dyn SupportedKxGroup>,
    implicit: bool,
    server_name: &str,
) -> Vec<u8> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = groups;
    let builder = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap();
    let config = if implicit {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SchemesOnly(vec![SignatureScheme::from(
                IMPLICIT_SCHEME,
            )])))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth()
    };
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn complete(bytes: &[u8]) -> Result<ParsedClientHello, ClientHelloError> {
    let mut rec = ClientHelloRecorder::new();
    match rec.feed(bytes)? {
        Progress::Complete(h) => Ok(h),
        Progress::NeedMore => panic!("expected a complete ClientHello"),
    }
}

fn feed_bytewise(bytes: &[u8]) -> ParsedClientHello {
    let mut rec = ClientHelloRecorder::new();
    let (last, init) = bytes.split_last().unwrap();
    for b in init {
        assert_eq!(rec.feed(&[*b]), Ok(Progress::NeedMore));
    }
    let Ok(Progress::Complete(h)) = rec.feed(&[*last]) else {
        panic!("last byte did not complete the ClientHello")
    };
    assert_eq!(rec.recorded(), bytes);
    h
}

/// Feeds `bytes` byte by byte and returns the first error and how many bytes
/// had been fed when it came.
fn bytewise_error(bytes: &[u8]) -> (ClientHelloError, usize) {
    let mut rec = ClientHelloRecorder::new();
    for (i, b) in bytes.iter().enumerate() {
        match rec.feed(&[*b]) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Complete(_)) => panic!("unexpectedly complete"),
            Err(e) => return (e, i + 1),
        }
    }
    panic!("no error after {} bytes", bytes.len())
}

// ----------------------------------------------------------- handcrafted side

fn vec8(b: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::try_from(b.len()).unwrap()];
    v.extend_from_slice(b);
    v
}

fn vec16(b: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(b.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

fn u16s(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn ext(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut v = typ.to_be_bytes().to_vec();
    v.extend(vec16(data));
    v
}

fn ext_sni(name: &[u8]) -> Vec<u8> {
    let mut entry = vec![0u8];
    entry.extend(vec16(name));
    ext(0, &vec16(&entry))
}

fn ext_groups(groups: &[u16]) -> Vec<u8> {
    ext(10, &vec16(&u16s(groups)))
}

fn ext_sigs(schemes: &[u16]) -> Vec<u8> {
    ext(13, &vec16(&u16s(schemes)))
}

fn ext_versions(versions: &[u16]) -> Vec<u8> {
    ext(43, &vec8(&u16s(versions)))
}

fn ext_key_share(shares: &[(u16, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (g, k) in shares {
        list.extend(g.to_be_bytes());
        list.extend(vec16(k));
    }
    ext(51, &vec16(&list))
}

const RANDOM: [u8; 32] = [0xA5; 32];

/// A ClientHello body with the given raw extension bytes (already
/// concatenated); `None` omits the extensions block.
fn body_with(extensions: Option<&[u8]>) -> Vec<u8> {
    body_padded(0, extensions)
}

/// As [`body_with`], with `extra` more bytes (even) of cipher suites.
fn body_padded(extra: usize, extensions: Option<&[u8]>) -> Vec<u8> {
    let mut suites = u16s(&[0x1301, 0x1302]);
    suites.resize(4 + extra, 0x0A);
    let mut b = vec![0x03, 0x03];
    b.extend(RANDOM);
    b.extend(vec8(&[7u8; 32]));
    b.extend(vec16(&suites));
    b.extend(vec8(&[0]));
    if let Some(e) = extensions {
        b.extend(vec16(e));
    }
    b
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut m = vec![typ, len[1], len[2], len[3]];
    m.extend_from_slice(body);
    m
}

/// `payload` as handshake records of at most `frag` bytes each.
fn records(payload: &[u8], frag: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in payload.chunks(frag) {
        out.extend([22, 3, 3]);
        out.extend(vec16(chunk));
    }
    out
}

fn record(content_type: u8, version: [u8; 2], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, version[0], version[1]];
    out.extend(vec16(payload));
    out
}

/// A well-formed Milagro CS ClientHello, handcrafted.
fn milagro_exts(group: u16, share: &[u8]) -> Vec<u8> {
    [
        ext_sni(b"svc.example"),
        ext_versions(&[0x0304]),
        ext_groups(&[group]),
        ext_sigs(&[IMPLICIT_SCHEME]),
        ext_key_share(&[(group, share)]),
    ]
    .concat()
}

fn hello_from_exts(exts: &[u8]) -> Result<ParsedClientHello, ClientHelloError> {
    complete(&records(&handshake(1, &body_with(Some(exts))), 16384))
}

// ------------------------------------------------------------ real rustls tests

#[test]
fn standard_rustls_hello_parses_exactly() {
    let bytes = rustls_client_hello(
        rustls::crypto::ring::default_provider().kx_groups,
        false,
        "example.com",
    );
    let h = complete(&bytes).unwrap();
    // Offsets of the single record rustls writes: 5-byte record header,
    // 4-byte handshake header, 2-byte legacy_version, then the random.
    assert_eq!(bytes[0], 22);
    assert_eq!(h.random()[..], bytes[11..43]);
    assert_eq!(h.legacy_version(), 0x0303);
    assert_eq!(h.session_id().len(), 32);
    assert_eq!(h.server_name(), Some(&b"example.com"[..]));
    let expected_groups: Vec<u16> = rustls::crypto::ring::default_provider()
        .kx_groups
        .iter()
        .map(|g| u16::from(g.name()))
        .collect();
    assert_eq!(h.supported_groups(), &expected_groups[..]);
    assert_eq!(h.key_shares().len(), 1);
    assert_eq!(h.key_shares()[0].group(), expected_groups[0]);
    assert_eq!(h.key_shares()[0].group(), 0x001D);
    assert_eq!(h.key_shares()[0].key_exchange().len(), 32);
    assert_eq!(h.supported_versions(), &[0x0304]);
    assert!(h.signature_algorithms().contains(&0x0403)); // ecdsa_secp256r1_sha256
    assert!(!h.signature_algorithms().contains(&IMPLICIT_SCHEME));
    for suite in [0x1301, 0x1302, 0x1303] {
        assert!(h.cipher_suites().contains(&suite));
    }
    for e in [0u16, 10, 13, 43, 51] {
        assert!(h.extension_types().contains(&e));
    }
    assert_eq!(classify(&h), Ok(Offer::Standard));
}

#[test]
fn rustls_hello_fed_bytewise_and_split_everywhere() {
    let bytes = rustls_client_hello(vec![&CS], true, "svc.example");
    let whole = complete(&bytes).unwrap();
    assert_eq!(feed_bytewise(&bytes), whole);
    for i in 1..bytes.len() {
        let mut rec = ClientHelloRecorder::new();
        assert_eq!(
            rec.feed(&bytes[..i]),
            Ok(Progress::NeedMore),
            "split at {i}"
        );
        assert_eq!(
            rec.feed(&bytes[i..]),
            Ok(Progress::Complete(whole.clone())),
            "split at {i}"
        );
        assert_eq!(rec.recorded(), &bytes[..]);
    }
}

#[test]
fn rustls_hello_refragmented_into_many_records() {
    let bytes = rustls_client_hello(vec![&CS], true, "svc.example");
    let whole = complete(&bytes).unwrap();
    let message = &bytes[5..];
    assert_eq!(
        usize::from(u16::from_be_bytes([bytes[3], bytes[4]])),
        message.len()
    );
    for frag in [1, 2, 3, 4, 5, 7, 64, 299, 300, 301] {
        let refragmented = records(message, frag);
        assert_eq!(
            complete(&refragmented).as_ref(),
            Ok(&whole),
            "fragments of {frag}"
        );
    }
    assert_eq!(feed_bytewise(&records(message, 3)), whole);
}

#[test]
fn milagro_cs_hello_from_rustls() {
    let bytes = rustls_client_hello(vec![&CS], true, "svc.example");
    let h = complete(&bytes).unwrap();
    assert_eq!(h.supported_groups(), &[CS_GROUP]);
    assert_eq!(h.key_shares().len(), 1);
    assert_eq!(h.signature_algorithms(), &[IMPLICIT_SCHEME]);
    let share = dummy_share(CS_GROUP);
    assert_eq!(
        classify(&h),
        Ok(Offer::Milagro {
            group: Suite::Cs,
            share: &share
        })
    );
}

#[test]
fn milagro_p2p_hello_from_rustls() {
    let bytes = rustls_client_hello(vec![&P2P], true, "peer.example");
    let h = complete(&bytes).unwrap();
    assert_eq!(h.server_name(), Some(&b"peer.example"[..]));
    let share = dummy_share(P2P_GROUP);
    assert_eq!(
        classify(&h),
        Ok(Offer::Milagro {
            group: Suite::P2p,
            share: &share
        })
    );
}

#[test]
fn rustls_hello_with_both_milagro_groups_is_refused() {
    let h = complete(&rustls_client_hello(vec![&CS, &P2P], true, "svc.example")).unwrap();
    // rustls sends a share for the first group only.
    assert_eq!(h.supported_groups(), &[CS_GROUP, P2P_GROUP]);
    assert_eq!(h.key_shares().len(), 1);
    assert_eq!(classify(&h), Err(OfferRefusal::BothMilagroGroups));
}

#[test]
fn rustls_hello_listing_milagro_without_share_is_refused() {
    let h = complete(&rustls_client_hello(
        vec![x25519(), &CS],
        true,
        "svc.example",
    ))
    .unwrap();
    assert_eq!(h.supported_groups(), &[0x001D, CS_GROUP]);
    assert!(h.key_share(CS_GROUP).is_none());
    assert_eq!(
        classify(&h),
        Err(OfferRefusal::MissingShare { group: Suite::Cs })
    );
}

#[test]
fn rustls_hello_with_milagro_and_other_group_is_refused() {
    let h = complete(&rustls_client_hello(
        vec![&CS, x25519()],
        true,
        "svc.example",
    ))
    .unwrap();
    assert!(h.key_share(CS_GROUP).is_some());
    assert_eq!(
        classify(&h),
        Err(OfferRefusal::NotAlone { group: Suite::Cs })
    );
}

#[test]
fn rustls_milagro_hello_without_implicit_scheme_is_refused() {
    let h = complete(&rustls_client_hello(vec![&CS], false, "svc.example")).unwrap();
    assert_eq!(
        classify(&h),
        Err(OfferRefusal::NoImplicitScheme { group: Suite::Cs })
    );
}

// ---------------------------------------------------------- record-layer rules

#[test]
fn bytes_after_the_message_are_recorded_not_parsed() {
    let bytes = rustls_client_hello(vec![&CS], true, "svc.example");
    let whole = complete(&bytes).unwrap();
    // A ChangeCipherSpec and junk in the same read.
    let mut with_ccs = bytes.clone();
    with_ccs.extend([20, 3, 3, 0, 1, 1, 0xde, 0xad]);
    let mut rec = ClientHelloRecorder::new();
    assert_eq!(rec.feed(&with_ccs), Ok(Progress::Complete(whole.clone())));
    assert_eq!(rec.recorded(), &with_ccs[..]);
    // Garbage inside the same record, after the message: the record claims
    // more bytes than the message, the rest belongs to rustls.
    let mut message = bytes[5..].to_vec();
    message.extend([0xff, 0xfe, 0xfd]);
    let long_record = records(&message, 16384);
    let mut rec = ClientHelloRecorder::new();
    assert_eq!(
        rec.feed(&long_record),
        Ok(Progress::Complete(whole.clone()))
    );
    assert_eq!(rec.recorded(), &long_record[..]);
    // Byte by byte, completion comes at the message's last byte, before the
    // extra bytes of its record arrive.
    let mut rec = ClientHelloRecorder::new();
    let msg_end = 5 + bytes.len() - 5;
    for b in &long_record[..msg_end - 1] {
        assert_eq!(rec.feed(&[*b]), Ok(Progress::NeedMore));
    }
    assert_eq!(
        rec.feed(&long_record[msg_end - 1..msg_end]),
        Ok(Progress::Complete(whole))
    );
    // After completion the recorder takes nothing more.
    assert_eq!(rec.feed(&[1, 2]), Err(ClientHelloError::AlreadyComplete));
    assert_eq!(rec.into_recorded(), long_record[..msg_end].to_vec());
}

#[test]
fn non_handshake_record_first_is_refused() {
    let alert = record(21, [3, 3], &[2, 40]);
    assert_eq!(
        complete(&alert),
        Err(ClientHelloError::NotHandshakeRecord { content_type: 21 })
    );
    let mut ccs_first = record(20, [3, 3], &[1]);
    ccs_first.extend(rustls_client_hello(vec![&CS], true, "svc.example"));
    assert_eq!(
        complete(&ccs_first),
        Err(ClientHelloError::NotHandshakeRecord { content_type: 20 })
    );
    // Refused as soon as the content type byte arrives.
    assert_eq!(
        bytewise_error(&ccs_first),
        (ClientHelloError::NotHandshakeRecord { content_type: 20 }, 1)
    );
}

#[test]
fn non_handshake_record_between_fragments_is_refused() {
    let message = handshake(1, &body_with(Some(&milagro_exts(CS_GROUP, &[9; 300]))));
    let (first, rest) = message.split_at(10);
    let mut bytes = records(first, 16384);
    bytes.extend(record(23, [3, 3], &[0; 20]));
    bytes.extend(records(rest, 16384));
    assert_eq!(
        complete(&bytes),
        Err(ClientHelloError::NotHandshakeRecord { content_type: 23 })
    );
}

#[test]
fn empty_handshake_record_is_refused_as_rustls_does() {
    let message = handshake(1, &body_with(None));
    let mut bytes = record(22, [3, 1], &[]);
    bytes.extend(records(&message, 16384));
    assert_eq!(complete(&bytes), Err(ClientHelloError::EmptyRecord));
    // Also between fragments.
    let (a, b) = message.split_at(6);
    let bytes = [records(a, 100), record(22, [3, 3], &[]), records(b, 100)].concat();
    assert_eq!(complete(&bytes), Err(ClientHelloError::EmptyRecord));
}

#[test]
fn record_versions() {
    let message = handshake(1, &body_with(None));
    for ok in [[3, 1], [3, 3], [3, 0], [3, 4]] {
        assert!(complete(&record(22, ok, &message)).is_ok(), "{ok:?}");
    }
    assert_eq!(
        complete(&record(22, [2, 3], &message)),
        Err(ClientHelloError::BadRecordVersion { version: 0x0203 })
    );
    assert_eq!(
        complete(&record(22, [0x7f, 0x1c], &message)),
        Err(ClientHelloError::BadRecordVersion { version: 0x7f1c })
    );
    // Refused once the version bytes are in, before the length.
    assert_eq!(
        bytewise_error(&record(22, [2, 3], &message)),
        (ClientHelloError::BadRecordVersion { version: 0x0203 }, 3)
    );
}

#[test]
fn record_length_limit_is_2_pow_14() {
    // A ClientHello of ~20 KB (a large unknown extension), in records of
    // exactly 2^14 bytes: accepted.
    let exts = [ext_groups(&[0x001D]), ext(0xFFAA, &[0x55; 20_000])].concat();
    let message = handshake(1, &body_with(Some(&exts)));
    let h = complete(&records(&message, 16384)).unwrap();
    assert_eq!(h.extension_types(), &[10, 0xFFAA]);
    // One record of 2^14 + 1 bytes: refused from its header alone.
    let mut big = vec![22, 3, 3, 0x40, 0x01];
    big.extend(&message[..16385]);
    assert_eq!(
        complete(&big),
        Err(ClientHelloError::RecordTooLong { length: 16385 })
    );
    assert_eq!(
        bytewise_error(&big),
        (ClientHelloError::RecordTooLong { length: 16385 }, 5)
    );
}

#[test]
fn first_handshake_message_must_be_client_hello() {
    let server_hello = handshake(2, &body_with(None));
    assert_eq!(
        complete(&records(&server_hello, 16384)),
        Err(ClientHelloError::NotClientHello { handshake_type: 2 })
    );
    // Refused at the first payload byte.
    assert_eq!(
        bytewise_error(&records(&server_hello, 16384)),
        (ClientHelloError::NotClientHello { handshake_type: 2 }, 6)
    );
}

/// A well-formed ClientHello message of exactly `len` bytes (at least 200):
/// padded cipher suites (up to 60,000 bytes) and one unknown extension.
fn message_of_len(len: usize) -> Vec<u8> {
    let base = handshake(1, &body_with(Some(&[]))).len();
    let extra = len - base - 4;
    let suites = extra.min(60_000) & !1;
    let exts = ext(0xFFAA, &vec![0x55; extra - suites]);
    let message = handshake(1, &body_padded(suites, Some(&exts)));
    assert_eq!(message.len(), len);
    message
}

#[test]
fn oversized_client_hello_is_refused() {
    // Declared handshake length alone over the cap: refused after its header.
    let declared = MAX_CLIENT_HELLO_BYTES - 3; // 4 + declared > cap
    let len = u32::try_from(declared).unwrap().to_be_bytes();
    let header = [22, 3, 3, 0x40, 0x00, 1, len[1], len[2], len[3]];
    assert_eq!(
        bytewise_error(&header),
        (
            ClientHelloError::TooLarge {
                limit: MAX_CLIENT_HELLO_BYTES
            },
            9
        )
    );
    // A handshake message exactly at the cap minus record headers is fine...
    let frag = 16384;
    let records_needed = (MAX_CLIENT_HELLO_BYTES - 1) / (frag + 5) + 1;
    let message_len = MAX_CLIENT_HELLO_BYTES - 5 * records_needed;
    let message = message_of_len(message_len);
    let bytes = records(&message, frag);
    assert_eq!(bytes.len(), MAX_CLIENT_HELLO_BYTES);
    assert!(complete(&bytes).is_ok());
    // ...one byte more is not.
    let bytes = records(&message_of_len(message_len + 1), frag);
    assert_eq!(bytes.len(), MAX_CLIENT_HELLO_BYTES + 1);
    assert_eq!(
        complete(&bytes),
        Err(ClientHelloError::TooLarge {
            limit: MAX_CLIENT_HELLO_BYTES
        })
    );
    // Record headers count: a 12,000-byte message in 1-byte records needs
    // 72,000 bytes.
    let message = message_of_len(12_000);
    assert!(complete(&records(&message, 1000)).is_ok());
    assert_eq!(
        complete(&records(&message, 1)),
        Err(ClientHelloError::TooLarge {
            limit: MAX_CLIENT_HELLO_BYTES
        })
    );
}

#[test]
fn errors_are_sticky_and_recorded() {
    let mut rec = ClientHelloRecorder::new();
    let bad = record(21, [3, 3], &[2, 40]);
    let err = ClientHelloError::NotHandshakeRecord { content_type: 21 };
    assert_eq!(rec.feed(&bad), Err(err.clone()));
    assert_eq!(rec.feed(&[22, 3, 3]), Err(err));
    assert_eq!(rec.recorded(), &bad[..]);
}

// ------------------------------------------------------- message-level rules

#[test]
fn hello_without_extensions_is_standard() {
    let h = complete(&records(&handshake(1, &body_with(None)), 16384)).unwrap();
    assert_eq!(h.random(), &RANDOM);
    assert_eq!(h.session_id(), &[7u8; 32]);
    assert_eq!(h.cipher_suites(), &[0x1301, 0x1302]);
    assert!(h.extension_types().is_empty() && h.supported_groups().is_empty());
    assert_eq!(classify(&h), Ok(Offer::Standard));
}

#[test]
fn handcrafted_milagro_hello_parses_and_classifies() {
    let share = [0x42u8; 300];
    let h = hello_from_exts(&milagro_exts(CS_GROUP, &share)).unwrap();
    assert_eq!(h.server_name(), Some(&b"svc.example"[..]));
    assert_eq!(h.extension_types(), &[0, 43, 10, 13, 51]);
    assert_eq!(
        classify(&h),
        Ok(Offer::Milagro {
            group: Suite::Cs,
            share: &share
        })
    );
}

#[test]
fn truncated_fields_are_refused() {
    let full = body_with(Some(&milagro_exts(CS_GROUP, &[1; 300])));
    // Body cut inside the random.
    assert_eq!(
        complete(&records(&handshake(1, &full[..20]), 16384)),
        Err(ClientHelloError::Truncated { field: "random" })
    );
    // cipher_suites claims 6 bytes but the body ends after 2.
    let mut b = vec![3, 3];
    b.extend(RANDOM);
    b.extend(vec8(&[]));
    b.extend([0, 6, 0x13, 0x01]);
    assert_eq!(
        complete(&records(&handshake(1, &b), 16384)),
        Err(ClientHelloError::Truncated {
            field: "cipher_suites"
        })
    );
    // A key share whose key_exchange claims more than the share list holds.
    let mut list = CS_GROUP.to_be_bytes().to_vec();
    list.extend([0x01, 0x2c]); // 300
    list.extend([0u8; 299]);
    let exts = [ext_groups(&[CS_GROUP]), ext(51, &vec16(&list))].concat();
    assert_eq!(
        hello_from_exts(&exts),
        Err(ClientHelloError::Truncated {
            field: "key_exchange"
        })
    );
    // Empty handshake body.
    assert_eq!(
        complete(&records(&handshake(1, &[]), 16384)),
        Err(ClientHelloError::Truncated {
            field: "legacy_version"
        })
    );
}

#[test]
fn trailing_bytes_are_refused() {
    // Inside an extension, after its vector.
    let mut data = vec16(&u16s(&[CS_GROUP]));
    data.push(0);
    assert_eq!(
        hello_from_exts(&ext(10, &data)),
        Err(ClientHelloError::TrailingBytes {
            field: "supported_groups"
        })
    );
    let mut data = vec16(&[0, 29, 0, 1, 7]);
    data.extend([0, 0]);
    assert_eq!(
        hello_from_exts(&ext(51, &data)),
        Err(ClientHelloError::TrailingBytes { field: "key_share" })
    );
    // After the extensions block, inside the ClientHello.
    let mut body = body_with(Some(&ext_groups(&[0x001D])));
    body.push(0);
    assert_eq!(
        complete(&records(&handshake(1, &body), 16384)),
        Err(ClientHelloError::TrailingBytes {
            field: "ClientHello"
        })
    );
}

#[test]
fn malformed_vectors_are_refused() {
    assert_eq!(
        hello_from_exts(&ext(10, &vec16(&[0, 29, 0]))),
        Err(ClientHelloError::OddLength {
            field: "supported_groups"
        })
    );
    assert_eq!(
        hello_from_exts(&ext(10, &vec16(&[]))),
        Err(ClientHelloError::EmptyVector {
            field: "supported_groups"
        })
    );
    assert_eq!(
        hello_from_exts(&ext(43, &vec8(&[]))),
        Err(ClientHelloError::EmptyVector {
            field: "supported_versions"
        })
    );
    assert_eq!(
        hello_from_exts(&ext_key_share(&[(CS_GROUP, &[])])),
        Err(ClientHelloError::EmptyKeyExchange { group: CS_GROUP })
    );
    assert_eq!(
        hello_from_exts(&ext_sni(b"")),
        Err(ClientHelloError::EmptyVector { field: "host_name" })
    );
    // Empty cipher suites and compression methods, oversized session id.
    let mut b = vec![3, 3];
    b.extend(RANDOM);
    b.extend(vec8(&[]));
    let mut no_suites = b.clone();
    no_suites.extend(vec16(&[]));
    no_suites.extend(vec8(&[0]));
    assert_eq!(
        complete(&records(&handshake(1, &no_suites), 16384)),
        Err(ClientHelloError::EmptyVector {
            field: "cipher_suites"
        })
    );
    let mut no_compression = b.clone();
    no_compression.extend(vec16(&[0x13, 0x01]));
    no_compression.extend(vec8(&[]));
    assert_eq!(
        complete(&records(&handshake(1, &no_compression), 16384)),
        Err(ClientHelloError::EmptyVector {
            field: "legacy_compression_methods"
        })
    );
    let mut long_session = vec![3, 3];
    long_session.extend(RANDOM);
    long_session.extend(vec8(&[0; 33]));
    long_session.extend(vec16(&[0x13, 0x01]));
    long_session.extend(vec8(&[0]));
    assert_eq!(
        complete(&records(&handshake(1, &long_session), 16384)),
        Err(ClientHelloError::SessionIdTooLong { length: 33 })
    );
}

#[test]
fn duplicate_extensions_are_refused() {
    let exts = [
        ext_groups(&[0x001D]),
        ext_sigs(&[0x0403]),
        ext_groups(&[0x0017]),
    ]
    .concat();
    assert_eq!(
        hello_from_exts(&exts),
        Err(ClientHelloError::DuplicateExtension { extension_type: 10 })
    );
    // Unknown extensions too.
    let exts = [ext(0xFFAA, &[1]), ext(0xFFAA, &[2])].concat();
    assert_eq!(
        hello_from_exts(&exts),
        Err(ClientHelloError::DuplicateExtension {
            extension_type: 0xFFAA
        })
    );
}

#[test]
fn duplicate_key_share_groups_are_refused() {
    let exts = [
        ext_groups(&[CS_GROUP]),
        ext_key_share(&[(CS_GROUP, &[1; 300]), (CS_GROUP, &[2; 300])]),
    ]
    .concat();
    assert_eq!(
        hello_from_exts(&exts),
        Err(ClientHelloError::DuplicateKeyShare { group: CS_GROUP })
    );
}

#[test]
fn server_name_rules() {
    let mut two = vec![0u8];
    two.extend(vec16(b"a.example"));
    two.push(0);
    two.extend(vec16(b"b.example"));
    assert_eq!(
        hello_from_exts(&ext(0, &vec16(&two))),
        Err(ClientHelloError::DuplicateHostName)
    );
    // An entry of an unknown name type ends the list, as in rustls.
    let mut other = vec![0u8];
    other.extend(vec16(b"a.example"));
    other.extend([7, 0xff, 0xff, 0xff]);
    let h = hello_from_exts(&ext(0, &vec16(&other))).unwrap();
    assert_eq!(h.server_name(), Some(&b"a.example"[..]));
}

// ----------------------------------------------------- classification rules

#[test]
fn milagro_share_for_unlisted_group_is_refused() {
    let exts = [
        ext_versions(&[0x0304]),
        ext_groups(&[0x001D]),
        ext_sigs(&[IMPLICIT_SCHEME]),
        ext_key_share(&[(CS_GROUP, &[1; 300])]),
    ]
    .concat();
    assert_eq!(
        classify(&hello_from_exts(&exts).unwrap()),
        Err(OfferRefusal::ShareForUnlistedGroup { group: Suite::Cs })
    );
    // No supported_groups at all.
    let exts = [
        ext_versions(&[0x0304]),
        ext_key_share(&[(P2P_GROUP, &[1; 180])]),
    ]
    .concat();
    assert_eq!(
        classify(&hello_from_exts(&exts).unwrap()),
        Err(OfferRefusal::ShareForUnlistedGroup { group: Suite::P2p })
    );
}

#[test]
fn both_groups_named_anywhere_is_refused() {
    // CS listed and shared, P2P only shared.
    let exts = [
        ext_groups(&[CS_GROUP]),
        ext_key_share(&[(CS_GROUP, &[1; 300]), (P2P_GROUP, &[2; 180])]),
    ]
    .concat();
    assert_eq!(
        classify(&hello_from_exts(&exts).unwrap()),
        Err(OfferRefusal::BothMilagroGroups)
    );
}

#[test]
fn other_shares_and_duplicate_listing_are_refused() {
    let exts = [
        ext_versions(&[0x0304]),
        ext_groups(&[CS_GROUP]),
        ext_sigs(&[IMPLICIT_SCHEME]),
        ext_key_share(&[(CS_GROUP, &[1; 300]), (0x001D, &[2; 32])]),
    ]
    .concat();
    assert_eq!(
        classify(&hello_from_exts(&exts).unwrap()),
        Err(OfferRefusal::OtherShares { group: Suite::Cs })
    );
    let exts = [
        ext_versions(&[0x0304]),
        ext_groups(&[P2P_GROUP, P2P_GROUP]),
        ext_sigs(&[IMPLICIT_SCHEME]),
        ext_key_share(&[(P2P_GROUP, &[1; 180])]),
    ]
    .concat();
    assert_eq!(
        classify(&hello_from_exts(&exts).unwrap()),
        Err(OfferRefusal::NotAlone { group: Suite::P2p })
    );
}

#[test]
fn milagro_without_tls13_is_refused() {
    let exts = [
        ext_versions(&[0x0303]),
        ext_groups(&[CS_GROUP]),
        ext_sigs(&[IMPLICIT_SCHEME]),
        ext_key_share(&[(CS_GROUP, &[1; 300])]),
    ]
    .concat();
    assert_eq!(
        classify(&hello_from_exts(&exts).unwrap()),
        Err(OfferRefusal::NoTls13 { group: Suite::Cs })
    );
}

// ------------------------------------------------------------------- alert

#[test]
fn handshake_failure_alert_matches_rustls_code_points() {
    let a = HANDSHAKE_FAILURE_ALERT;
    assert_eq!(a[0], u8::from(rustls::ContentType::Alert));
    assert_eq!(
        u16::from_be_bytes([a[1], a[2]]),
        u16::from(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(usize::from(u16::from_be_bytes([a[3], a[4]])), a.len() - 5);
    assert_eq!(a[5], 2); // fatal (RFC 8446 §6)
    assert_eq!(a[6], u8::from(rustls::AlertDescription::HandshakeFailure));
}

// ------------------------------------------------------------- properties

/// The outcome of feeding `bytes` in the given chunk sizes: the first error
/// or the completed ClientHello, and how many bytes were recorded.
fn outcome(
    bytes: &[u8],
    chunks: &[usize],
) -> (Option<Result<ParsedClientHello, ClientHelloError>>, usize) {
    let mut rec = ClientHelloRecorder::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        match rec.feed(chunk) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Complete(h)) => return (Some(Ok(h)), rec.recorded().len()),
            Err(e) => return (Some(Err(e)), rec.recorded().len()),
        }
    }
    (None, rec.recorded().len())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// However the bytes are chunked, the verdict is the one for the whole
    /// input, for mutated real ClientHellos (any byte changed, or cut short).
    #[test]
    fn chunking_never_changes_the_verdict(
        pos in 0usize..2000,
        value in proptest::prelude::any::<u8>(),
        cut in 0usize..2000,
        chunks in proptest::collection::vec(1usize..40, 1..8),
    ) {
        let mut bytes = rustls_client_hello(vec![&CS], true, "svc.example");
        let pos = pos % bytes.len();
        bytes[pos] = value;
        bytes.truncate(bytes.len() - cut % 50);
        let (whole, _) = outcome(&bytes, &[bytes.len()]);
        let (chunked, _) = outcome(&bytes, &chunks);
        proptest::prop_assert_eq!(whole, chunked);
    }

    /// Arbitrary bytes after a handshake record header never panic and give
    /// the same verdict byte by byte as whole.
    #[test]
    fn arbitrary_bytes_same_verdict_bytewise(
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
    ) {
        let mut bytes = vec![22, 3, 3, 0x02, 0x00, 1, 0, 1, 0xfc];
        bytes.extend(tail);
        proptest::prop_assert_eq!(outcome(&bytes, &[bytes.len()]).0, outcome(&bytes, &[1]).0);
    }
}

// ------------------------------------- what rustls refuses before the kx

/// A one-record ClientHello with these cipher suites, compression methods
/// and extensions.
fn hello_with(suites: &[u16], compression: &[u8], exts: &[u8]) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend(RANDOM);
    b.extend(vec8(&[7u8; 32]));
    b.extend(vec16(&u16s(suites)));
    b.extend(vec8(compression));
    b.extend(vec16(exts));
    records(&handshake(1, &b), 16384)
}

#[test]
fn milagro_offers_rustls_would_refuse_before_the_kx_are_refused_here() {
    let good = milagro_exts(CS_GROUP, &[1; 300]);
    let g = Suite::Cs;
    let ok = complete(&hello_with(&[0x1301], &[0], &good)).unwrap();
    assert!(matches!(classify(&ok), Ok(Offer::Milagro { .. })));
    assert_eq!(ok.compression_methods(), &[0]);
    // Compression methods other than exactly [null].
    for comp in [&[0u8, 1][..], &[1, 0], &[0, 0], &[1]] {
        let h = complete(&hello_with(&[0x1301], comp, &good)).unwrap();
        assert_eq!(h.compression_methods(), comp);
        assert_eq!(classify(&h), Err(OfferRefusal::Compression { group: g }));
    }
    // No TLS 1.3 cipher suite this server has.
    for suites in [&[0x00FFu16][..], &[0xC02F, 0x1304], &[0x1305]] {
        let h = complete(&hello_with(suites, &[0], &good)).unwrap();
        assert_eq!(
            classify(&h),
            Err(OfferRefusal::NoCommonCipherSuite { group: g })
        );
    }
    for suite in CIPHER_SUITES {
        let h = complete(&hello_with(&[0x00FF, suite], &[0], &good)).unwrap();
        assert!(matches!(classify(&h), Ok(Offer::Milagro { .. })));
    }
    // A pre_shared_key offer (with or without psk_key_exchange_modes).
    let psk = ext(41, &[0, 0, 0, 0]);
    let modes = ext(45, &vec8(&[1]));
    for extra in [psk.clone(), [modes, psk].concat()] {
        let h = complete(&hello_with(
            &[0x1301],
            &[0],
            &[good.clone(), extra].concat(),
        ))
        .unwrap();
        assert_eq!(classify(&h), Err(OfferRefusal::PreSharedKey { group: g }));
    }
}

#[test]
fn duplicate_certificate_compression_algorithms_are_refused() {
    let good = milagro_exts(CS_GROUP, &[1; 300]);
    let cc = |algs: &[u16]| ext(27, &vec8(&u16s(algs)));
    let h = complete(&hello_with(
        &[0x1301],
        &[0],
        &[good.clone(), cc(&[1, 2])].concat(),
    ));
    assert!(matches!(classify(&h.unwrap()), Ok(Offer::Milagro { .. })));
    assert_eq!(
        complete(&hello_with(
            &[0x1301],
            &[0],
            &[good.clone(), cc(&[2, 1, 2])].concat()
        )),
        Err(ClientHelloError::DuplicateCertificateCompression { algorithm: 2 })
    );
    assert_eq!(
        complete(&hello_with(
            &[0x1301],
            &[0],
            &[good.clone(), cc(&[])].concat()
        )),
        Err(ClientHelloError::EmptyVector {
            field: "compress_certificate"
        })
    );
    assert_eq!(
        complete(&hello_with(
            &[0x1301],
            &[0],
            &[good, ext(27, &[3, 0, 1, 0])].concat()
        )),
        Err(ClientHelloError::OddLength {
            field: "compress_certificate"
        })
    );
}
