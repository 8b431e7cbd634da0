//! An application using rustls with its default features (the aws-lc-rs
//! provider) and milagro-tls in one process: the application's plain
//! `ClientConfig::builder()` works before and after Milagro configurations
//! are made and used, and Milagro never installs a process-wide default
//! provider.

use std::sync::Arc;

use milagro_tls::Accepted;
use milagro_tls::dta::Combine;
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    Deployment, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey, epoch_of,
};
use milagro_tls::p2p_tls;
use milagro_tls::pairing::OsEntropy;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};

fn pump(c: &mut ClientConnection, s: &mut ServerConnection) {
    for _ in 0..10 {
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets().unwrap();
        }
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
            s.process_new_packets().unwrap();
        }
    }
}

/// What the application does with its own rustls: the crate-default
/// provider, no explicit choice.
fn application_config() -> ClientConfig {
    ClientConfig::builder()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth()
}

/// A Milagro P2P handshake in memory; both sides authenticated.
fn milagro_handshake() {
    let dep = P2pDeployment::new(1, 3600, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::P2p(dep), &OsEntropy).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let epoch = epoch_of(now.saturating_sub(p2p_tls::DEFAULT_SKEW_SECS), 3600);
    let server_id = Identity::new("server.example").unwrap();
    let bob = Identity::new("bob@example.com").unwrap();
    let server_key =
        P2pServerKey::combine(&[dta.issue_p2p_server_key(&server_id, epoch).unwrap()]).unwrap();
    let client_key =
        P2pClientKey::combine(&[dta.issue_p2p_client_key(&bob, epoch).unwrap()]).unwrap();
    let client = p2p_tls::client(client_key, server_id).unwrap();
    let acceptor = p2p_tls::server(server_key, p2p_tls::ServerOptions::new()).unwrap();
    let mut conn = client.connect("server.example").unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let source = std::net::IpAddr::from([127, 0, 0, 1]);
    match acceptor
        .accept(source, &mut &hello[..], &mut Vec::new())
        .unwrap()
    {
        Accepted::Milagro(mut server) => {
            pump(&mut conn, server.connection_mut());
            assert_eq!(server.finish().unwrap().as_str(), "bob@example.com");
        }
        Accepted::Standard(_) => panic!("a Milagro ClientHello was taken for a standard one"),
    }
    assert_eq!(client.finish(&conn).unwrap().as_str(), "server.example");
}

// One test (one thread) so the order of the steps is fixed: the
// process-wide default is global.
#[test]
fn application_rustls_and_milagro_share_a_process() {
    // Milagro first: it neither needs nor installs a process-wide default.
    assert!(CryptoProvider::get_default().is_none());
    milagro_handshake();
    assert!(CryptoProvider::get_default().is_none());

    // The application's plain builder resolves rustls's one crate-feature
    // provider (aws-lc-rs) and installs it as the default, as rustls does.
    // With a second provider feature in the build it would panic here.
    let config = application_config();
    let installed = CryptoProvider::get_default().expect("rustls installed its crate default");
    assert!(Arc::ptr_eq(installed, config.crypto_provider()));
    assert!(
        config
            .crypto_provider()
            .kx_groups
            .iter()
            .any(|g| g.name() == rustls::NamedGroup::X25519)
    );

    // Milagro again, with a default installed: it works and leaves the
    // application's default as it was.
    milagro_handshake();
    let after = CryptoProvider::get_default().expect("still installed");
    assert!(Arc::ptr_eq(installed, after));
    let again = application_config();
    assert!(Arc::ptr_eq(installed, again.crypto_provider()));
}
