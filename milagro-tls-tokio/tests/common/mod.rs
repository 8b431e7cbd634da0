//! Fixtures shared by the HTTP and gRPC adapter tests: a one-D-TA CS
//! deployment with ALPN on both sides, and a loopback server that counts
//! finished handshakes and serves any [`HttpService`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use milagro_tls::Classifier;
use milagro_tls::cs_tls;
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::pairing::OsEntropy;
use milagro_tls_tokio::http::{HttpService, serve_connection};
use milagro_tls_tokio::{MilagroConnector, TlsAcceptor};
use tokio::net::TcpListener;

/// alice's enrolled PIN.
pub(crate) const PIN: &str = "1234";
/// The longest any one step of a test may take.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// `s` as an identity (a valid literal).
pub(crate) fn id(s: &str) -> Identity {
    Identity::new(s).unwrap()
}

/// Four-digit PINs.
pub(crate) fn digits() -> PinDigits {
    PinDigits::new(4).unwrap()
}

/// A guard policy whose throttle never refuses a test's burst of
/// connections (the tests check adapters, not the throttle).
pub(crate) fn open_policy() -> GuardPolicy {
    let mut p = GuardPolicy::default();
    p.throttle.burst = 10_000;
    p.throttle.refill_per_sec = 10_000;
    p
}

/// A CS deployment of one D-TA: the server acceptor, offering the ALPN
/// protocols `server`, and alice's connector (with `pin`) offering
/// `offered`.
pub(crate) fn cs_alpn(
    pin: &str,
    server: &[&[u8]],
    offered: &[&[u8]],
) -> (TlsAcceptor, MilagroConnector) {
    let alpn = |list: &[&[u8]]| list.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
    let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
    let ss = CsServerSecret::combine(&[dta.issue_cs_server_secret().unwrap()]).unwrap();
    let server = cs_tls::server(
        ss,
        cs_tls::ServerOptions::new(Guard::in_memory(open_policy()), Classifier::new(1).unwrap())
            .pin_digits(digits()),
    )
    .unwrap()
    .with_alpn_protocols(alpn(server));
    let cs = CsClientSecret::combine(&[dta
        .issue_cs_client_secret(&id("alice@example.com"))
        .unwrap()])
    .unwrap();
    let token = extract_pin(&cs, &Pin::parse(PIN, digits()).unwrap()).unwrap();
    let client = cs_tls::client(token, Pin::parse(pin, digits()).unwrap(), None).unwrap();
    (
        TlsAcceptor::new(server),
        MilagroConnector::new(client).with_alpn_protocols(alpn(offered)),
    )
}

/// Serves `service` on 127.0.0.1:0 through `acceptor`; the counter holds
/// the handshakes that finished (Milagro or standard).
pub(crate) async fn start<S: HttpService>(
    acceptor: TlsAcceptor,
    service: S,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let count = handshakes.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let count = count.clone();
            let service = service.clone();
            tokio::spawn(async move {
                if let Ok(accepted) = acceptor.accept_io(tcp).await {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = serve_connection(accepted, peer, service).await;
                }
            });
        }
    });
    (addr, handshakes)
}

/// The first error of type `T` found walking `source()` from `e`.
#[allow(dead_code)] // used by some of the test binaries that include this module
pub(crate) fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}
