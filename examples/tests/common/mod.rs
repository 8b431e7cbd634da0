//! A standard (X.509) TLS peer for the tests that check a server started
//! with `--cert/--key` still serves standard clients beside Milagro ones.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};

/// The name the certificate is issued for and the client asks for.
const SERVICE: &str = "service.example";

/// A fresh self-signed certificate for `service.example` written to `dir`
/// (`cert.pem`, `key.pem`, as the servers' `--cert/--key` read them); its
/// DER is the client's only root.
pub(crate) fn certificate(dir: &Path) -> CertificateDer<'static> {
    let ck = rcgen::generate_simple_self_signed(vec![SERVICE.to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    ck.cert.der().clone()
}

/// A standard rustls client (ring, webpki verification against `root`)
/// connected to `addr`, its handshake left to the first read or write.
pub(crate) fn standard_client(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(SERVICE).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}
