//! Handshake tracing (its own test binary: `tracing` caches callsite
//! interest per process, so the subscriber must be the only one).

use std::net::SocketAddr;
use std::sync::Arc;

use milagro_tls::Classifier;
use milagro_tls::MilagroClient;
use milagro_tls::cs_tls;
use milagro_tls::dta::Combine;
use milagro_tls::guard::{Guard, GuardPolicy};
use milagro_tls::identity::Identity;
use milagro_tls::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy,
};
use milagro_tls::mpin::{Pin, PinDigits, extract_pin};
use milagro_tls::pairing::OsEntropy;
use milagro_tls_tokio::{MilagroConnector, TlsAcceptor};
use tokio::net::{TcpListener, TcpStream};

const PIN: &str = "1234";

struct Cs {
    dta: MasterShare,
}

impl Cs {
    fn new() -> Self {
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        Self {
            dta: MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap(),
        }
    }
    fn client(&self, who: &str, pin: &str) -> MilagroClient {
        let digits = PinDigits::new(4).unwrap();
        let who = Identity::new(who).unwrap();
        let cs =
            CsClientSecret::combine(&[self.dta.issue_cs_client_secret(&who).unwrap()]).unwrap();
        let token = extract_pin(&cs, &Pin::parse(PIN, digits).unwrap()).unwrap();
        cs_tls::client(token, Pin::parse(pin, digits).unwrap(), None).unwrap()
    }
    fn server(&self) -> TlsAcceptor {
        let ss = CsServerSecret::combine(&[self.dta.issue_cs_server_secret().unwrap()]).unwrap();
        let mut policy = GuardPolicy::default();
        policy.throttle.burst = 1000;
        TlsAcceptor::new(
            cs_tls::server(
                ss,
                cs_tls::ServerOptions::new(Guard::in_memory(policy), Classifier::new(1).unwrap())
                    .pin_digits(PinDigits::new(4).unwrap()),
            )
            .unwrap(),
        )
    }
}

async fn serve_twice(server: TlsAcceptor) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = server.accept_tcp(tcp).await;
        }
    });
    (addr, task)
}

/// A `MakeWriter` collecting the log output.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[test]
fn handshake_spans_name_the_identity_only_after_authentication() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let cs = Cs::new();
    let server = cs.server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (addr, task) = serve_twice(server).await;
        for pin in ["1299", PIN] {
            let client = MilagroConnector::new(cs.client("alice@example.com", pin));
            let _ = client
                .connect("service.example", TcpStream::connect(addr).await.unwrap())
                .await;
        }
        task.await.unwrap();
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("milagro_accept"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("handshake refused"), "{}", lines[0]);
    assert!(
        lines[0].contains("M-Pin proof does not verify"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("identity="), "{}", lines[0]);
    assert!(lines[1].contains("handshake finished"), "{}", lines[1]);
    assert!(lines[1].contains("suite=\"milagro-cs\""), "{}", lines[1]);
    assert!(
        lines[1].contains("identity=\"alice@example.com\""),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("duration_ms="), "{}", lines[1]);
    // No δ (the wrong PIN is off by 65): never a field, never a value.
    assert!(!text.contains("delta") && !text.contains('δ'), "{text}");
}
