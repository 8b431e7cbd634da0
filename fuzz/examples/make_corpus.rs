//! Writes the checked-in seed corpus `fuzz/corpus/<target>/` from real values:
//! ClientHellos written by a rustls 0.23 client (as `tls::tests` does),
//! the fixtures' genuine CS and P2P shares, real PEM key files and identity
//! blobs. Deterministic except for the ClientHellos' random fields.
//!
//! Run from `fuzz/`: `cargo run --release --example make_corpus`.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use milagro_tls::identity::Identity;
use milagro_tls::identity_blob::{IdentityBlob, Role};
use milagro_tls::keyfile::KeyFile;
use milagro_tls::pairing::{G1, G2, Scalar};
use milagro_tls::suite::Suite;
use milagro_tls::suite::{CS_GROUP, IMPLICIT_SCHEME, P2P_GROUP};
use milagro_tls_fuzz::{cs, p2p, tls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, NamedGroup, RootCertStore,
    SignatureScheme,
};

/// A kx group that offers a share of `len` bytes (the real Milagro engines
/// are not wired into rustls yet; the share content is irrelevant to the
/// ClientHello parser).
#[derive(Debug)]
struct FixedGroup(u16, Vec<u8>);

struct FixedActive(u16, Vec<u8>);

impl SupportedKxGroup for FixedGroup {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        Ok(Box::new(FixedActive(self.0, self.1.clone())))
    }
    fn name(&self) -> NamedGroup {
        NamedGroup::from(self.0)
    }
}

impl ActiveKeyExchange for FixedActive {
    fn complete(self: Box<Self>, _: &[u8]) -> Result<SharedSecret, rustls::Error> {
        Err(rustls::Error::General("corpus only".into()))
    }
    fn pub_key(&self) -> &[u8] {
        &self.1
    }
    fn group(&self) -> NamedGroup {
        NamedGroup::from(self.0)
    }
}

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
        Err(rustls::Error::General("corpus only".into()))
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("corpus only".into()))
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("corpus only".into()))
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

fn rustls_client_hello(
    groups: Vec<&'static dyn SupportedKxGroup>,
    implicit: bool,
    name: &str,
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
    let mut conn = ClientConnection::new(
        Arc::new(config),
        ServerName::try_from(name.to_string()).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(bytes);
    v
}

fn main() {
    let leak = |g: FixedGroup| -> &'static dyn SupportedKxGroup { Box::leak(Box::new(g)) };
    let cs_f = cs();
    let p2p_f = p2p();

    // ClientHellos: chunking header [k, n] then the bytes.
    let x25519 = rustls::crypto::ring::kx_group::X25519;
    let hellos = [
        (
            "standard",
            rustls_client_hello(vec![x25519], false, "example.com"),
        ),
        (
            "milagro_cs",
            rustls_client_hello(
                vec![leak(FixedGroup(CS_GROUP, cs_f.client.share().to_vec()))],
                true,
                "server.example",
            ),
        ),
        (
            "milagro_p2p",
            rustls_client_hello(
                vec![leak(FixedGroup(
                    P2P_GROUP,
                    p2p_f.genuine_client_share.to_vec(),
                ))],
                true,
                "server.example",
            ),
        ),
        (
            "milagro_cs_and_x25519",
            rustls_client_hello(
                vec![leak(FixedGroup(CS_GROUP, vec![1; 16])), x25519],
                true,
                "a.example",
            ),
        ),
    ];
    for (i, (name, hello)) in hellos.iter().enumerate() {
        let mut v = vec![(i * 37) as u8, (i * 11) as u8];
        v.extend_from_slice(hello);
        write("client_hello", name, &v);
    }

    // CS server side: raw genuine share, wrong-PIN share, mutation seeds.
    write(
        "cs_server_share",
        "genuine",
        &with_mode(0, cs_f.client.share()),
    );
    write(
        "cs_server_share",
        "wrong_pin",
        &with_mode(0, cs_f.wrong_pin_client.share()),
    );
    write(
        "cs_server_share",
        "xor_genuine_flip_v",
        &with_mode(1, &{
            let mut m = vec![0u8; 205];
            m[204] = 1;
            m
        }),
    );
    write("cs_server_share", "xor_wrong_pin_none", &with_mode(2, &[]));

    write(
        "cs_client_finish",
        "genuine_w",
        &with_mode(0, &cs_f.genuine_w),
    );
    write(
        "cs_client_finish",
        "xor_w_last",
        &with_mode(1, &{
            let mut m = vec![0u8; 48];
            m[47] = 0x80;
            m
        }),
    );

    write(
        "p2p_shares",
        "client_share",
        &with_mode(0, &p2p_f.genuine_client_share),
    );
    write(
        "p2p_shares",
        "client_share_xor_epoch",
        &with_mode(1, &[0, 0, 0, 1]),
    );
    write(
        "p2p_shares",
        "server_share",
        &with_mode(2, &p2p_f.genuine_server_share),
    );
    write("p2p_shares", "server_share_xor", &with_mode(3, &[0, 4]));

    // Key files: one of every kind.
    let pems: Vec<(&str, String)> = vec![
        (
            "master_share",
            cs_f.masters[0].to_pem().unwrap().to_string(),
        ),
        (
            "p2p_master_share",
            p2p_f.masters[1].to_pem().unwrap().to_string(),
        ),
        (
            "cs_server_secret",
            cs_f.server_secret.to_pem().unwrap().to_string(),
        ),
        (
            "cs_server_secret_share",
            cs_f.server_secret_shares[0].to_pem().unwrap().to_string(),
        ),
        (
            "cs_client_secret",
            cs_f.client_secret.to_pem().unwrap().to_string(),
        ),
        ("cs_time_permit", cs_f.permit.to_pem().unwrap().to_string()),
        (
            "p2p_server_key",
            p2p_f.server_key.to_pem().unwrap().to_string(),
        ),
        (
            "p2p_client_key",
            p2p_f.client_key.to_pem().unwrap().to_string(),
        ),
    ];
    for (name, pem) in &pems {
        write("keyfile", name, pem.as_bytes());
    }

    for (name, id) in [
        ("email", "alice@example.com"),
        ("host", "server.example"),
        ("idna", "xn--bcher-kva.example"),
        ("unicode_local", "Jos\u{e9}@xn--bcher-kva.example"),
        ("not_dns", "user:42"),
        ("upper", "Alice@Example.COM."),
        ("decomposed", "Jose\u{301}@B\u{fc}cher.example"),
    ] {
        write("identity", name, id.as_bytes());
    }

    // Points: mode 0 G1, 1 G2, 2 scalar.
    let s = Scalar::from_u64(0x1234_5678);
    write(
        "point_decode",
        "g1",
        &with_mode(0, &(&G1::generator() * &s).to_bytes()),
    );
    write(
        "point_decode",
        "g2",
        &with_mode(1, &(&G2::generator() * &s).to_bytes()),
    );
    write("point_decode", "scalar", &with_mode(2, &s.to_be_bytes()));
    write(
        "point_decode",
        "scalar_minus_one",
        &with_mode(2, &(-&Scalar::one()).to_be_bytes()),
    );

    for (name, suite, role, period, id) in [
        (
            "cs_client",
            Suite::Cs,
            Role::Client,
            milagro_tls::keys::day_of(milagro_tls_fuzz::NOW),
            "alice@example.com",
        ),
        ("cs_server", Suite::Cs, Role::Server, 0, "server.example"),
        (
            "p2p_client",
            Suite::P2p,
            Role::Client,
            487_000,
            "bob@example.org",
        ),
        (
            "p2p_server",
            Suite::P2p,
            Role::Server,
            487_000,
            "server.example",
        ),
    ] {
        let blob = IdentityBlob {
            suite,
            role,
            period,
            identity: Identity::new(id).unwrap(),
        };
        write("identity_blob", name, &with_mode(0, &blob.encode()));
    }
    let mut build = vec![1u8, 3, 0, 7, 0x6e, 0x18];
    build.extend_from_slice("Bob@Example.ORG".as_bytes());
    write("identity_blob", "build_p2p_client", &build);

    whole_connection_seeds();
    println!("corpus written");
}

/// A change_cipher_spec record followed by a 64-byte application_data
/// record (what a client's encrypted second flight looks like on the wire).
fn ccs_and_ciphertext() -> Vec<u8> {
    let mut v = vec![
        0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x40,
    ];
    v.extend((0u8..64).map(|i| i.wrapping_mul(37)));
    v
}

/// `[mode, len_hi, len_lo, head.., tail..]` as `split_len` reads it.
fn with_head(mode: u8, head: &[u8], tail: &[u8]) -> Vec<u8> {
    let n = u16::try_from(head.len()).unwrap();
    let mut v = vec![mode];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend_from_slice(head);
    v.extend_from_slice(tail);
    v
}

/// Seeds of `tls_server` and `tls_client` (genuine material recorded by
/// the fixtures at generation time; the modes re-record it per process).
fn whole_connection_seeds() {
    let fx = tls();
    let rec = ccs_and_ciphertext();
    // tls_server: mode 0 raw stream, 1 genuine + appended, 2 genuine + edits.
    write(
        "tls_server",
        "raw_genuine_hello",
        &with_head(0, &fx.cs_hello, &[]),
    );
    write("tls_server", "genuine_hello", &with_head(1, &[], &[]));
    write(
        "tls_server",
        "genuine_hello_then_records",
        &with_head(1, &[], &rec),
    );
    write(
        "tls_server",
        "genuine_hello_appended_ccs",
        &with_head(1, &rec[..6], &rec[6..]),
    );
    // One edit inside the 300-byte CS key share, one in the client random.
    write(
        "tls_server",
        "genuine_hello_edited",
        &with_head(2, &[0, 200, 1, 0, 20, 0x80], &rec),
    );
    // tls_client: bit 0 suite (CS, P2P), bits 1-2 mode.
    for (suite, tag, flight) in [(0u8, "cs", &fx.cs_flight), (1, "p2p", &fx.p2p_flight)] {
        write(
            "tls_client",
            &format!("{tag}_raw_flight"),
            &with_mode(suite, flight),
        );
        write("tls_client", &format!("{tag}_genuine_flight"), &[suite | 2]);
        write(
            "tls_client",
            &format!("{tag}_edited_flight"),
            &with_head(suite | 4, &[0, 80, 1], &[]),
        );
        write(
            "tls_client",
            &format!("{tag}_server_hello_then_records"),
            &with_mode(suite | 6, &rec),
        );
    }
}
