//! A loopback echo server on milagro-tls's synchronous accept path, for the
//! tests against outside TLS implementations (OpenSSL, curl).
//!
//! [`EchoServer::spawn`] binds `127.0.0.1:0` and serves one connection at a
//! time in a thread through [`MilagroAcceptor::accept`] (docs/protocol.md §8.4.3: one
//! listener for standard and Milagro clients). After the handshake (and, for
//! Milagro clients, [`MilagroConnection::finish`]) it reads one request and
//! answers it:
//!
//! * an HTTP/1.x request (`GET`/`HEAD`/`POST` … ` HTTP/1.`): read up to the
//!   blank line, answer `HTTP/1.1 200 OK` with the body
//!   `echo:<request line>\n` and `Connection: close`;
//! * anything else: read up to the first `\n` (or the client's close) and
//!   answer `echo:<those bytes>`.
//!
//! Then it sends `close_notify` and closes. Every connection, served or
//! refused, is reported once through [`EchoServer::next_report`], with the
//! typed error of a refusal. Each socket has 10-second read and write
//! timeouts, so a stuck peer cannot hang a test.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use milagro_tls::identity::Identity;
use milagro_tls::{AcceptError, Accepted, FinishError, MilagroAcceptor, MilagroConnection};
use rustls::{ProtocolVersion, ServerConnection};

/// The read and write timeout of every accepted socket.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request the server reads before answering.
pub const MAX_REQUEST: usize = 8 * 1024;

/// What the server did with one connection.
#[derive(Debug)]
pub struct Report {
    /// The connection's source address (always loopback here).
    pub source: IpAddr,
    /// The served session, or why the connection was refused or broke.
    pub outcome: Result<Session, ServeError>,
}

/// A connection that completed its handshake and got its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// A standard TLS client, served with the standard configuration.
    Standard {
        /// The negotiated protocol version.
        version: Option<ProtocolVersion>,
        /// The bytes of the request the server answered.
        request: Vec<u8>,
    },
    /// A Milagro client whose identity `finish` established.
    Milagro {
        /// The authenticated client identity.
        identity: Identity,
        /// The bytes of the request the server answered.
        request: Vec<u8>,
    },
}

/// Why a connection was not served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The accept path refused the connection (its alert was sent).
    #[error("accept refused the connection: {0}")]
    Accept(#[from] AcceptError),
    /// The Milagro handshake completed but `finish` refused it.
    #[error("finish refused the Milagro connection: {0}")]
    Finish(#[from] FinishError),
    /// The handshake or the exchange failed after accept.
    #[error("I/O or TLS error after accept: {0}")]
    Io(#[from] io::Error),
}

/// A loopback listener serving [`MilagroAcceptor`] connections one at a time
/// in a background thread; stopped and joined on drop.
pub struct EchoServer {
    addr: SocketAddr,
    reports: Receiver<Report>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Binds `127.0.0.1:0` and starts serving with `acceptor`. Fails only if
    /// the socket cannot be bound or the thread cannot start.
    pub fn spawn(acceptor: MilagroAcceptor) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, reports) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("milagro-echo".into())
            .spawn({
                let stop = stop.clone();
                move || serve_loop(listener, acceptor, stop, tx)
            })?;
        Ok(Self {
            addr,
            reports,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The report of the next connection, or `None` if none arrives within
    /// `timeout`.
    pub fn next_report(&self, timeout: Duration) -> Option<Report> {
        self.reports.recv_timeout(timeout).ok()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking `accept` so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_loop(
    listener: TcpListener,
    acceptor: MilagroAcceptor,
    stop: Arc<AtomicBool>,
    tx: Sender<Report>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let source = match stream.peer_addr() {
            Ok(a) => a.ip(),
            Err(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let outcome = serve_one(&acceptor, source, stream);
        if tx.send(Report { source, outcome }).is_err() {
            return;
        }
    }
}

fn serve_one(
    acceptor: &MilagroAcceptor,
    source: IpAddr,
    mut tcp: TcpStream,
) -> Result<Session, ServeError> {
    tcp.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    tcp.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    let mut reader = tcp.try_clone()?;
    let accepted = acceptor.accept(source, &mut reader, &mut tcp);
    let result = match accepted? {
        Accepted::Standard(mut conn) => {
            handshake(&mut conn, &mut tcp)?;
            let version = conn.protocol_version();
            let request = answer(&mut conn, &mut tcp)?;
            Ok(Session::Standard { version, request })
        }
        Accepted::Milagro(mut m) => serve_milagro(&mut m, &mut tcp),
    };
    let _ = tcp.shutdown(std::net::Shutdown::Both);
    result
}

fn serve_milagro(m: &mut MilagroConnection, tcp: &mut TcpStream) -> Result<Session, ServeError> {
    handshake(m.connection_mut(), tcp)?;
    let identity = m.finish()?;
    let request = answer(m.connection_mut(), tcp)?;
    Ok(Session::Milagro { identity, request })
}

/// Writes the queued first flight and runs the handshake to completion.
fn handshake(conn: &mut ServerConnection, tcp: &mut TcpStream) -> io::Result<()> {
    while conn.is_handshaking() {
        conn.complete_io(tcp)?;
    }
    // Flush the last handshake messages (and any tickets).
    while conn.wants_write() {
        conn.write_tls(tcp)?;
    }
    Ok(())
}

/// Reads one request, writes its answer, then `close_notify`.
fn answer(conn: &mut ServerConnection, tcp: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut stream = rustls::Stream::new(conn, tcp);
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if request_complete(&request) || request.len() >= MAX_REQUEST {
            break;
        }
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            // The client closed without close_notify: answer what came.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        request.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let reply = reply_to(&request);
    stream.write_all(&reply)?;
    stream.flush()?;
    stream.conn.send_close_notify();
    while stream.conn.wants_write() {
        stream.conn.write_tls(stream.sock)?;
    }
    Ok(request)
}

/// The first line of `request`, without its line ending.
fn first_line(request: &[u8]) -> &[u8] {
    let end = request
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(request.len());
    let line = request.get(..end).unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `request` starts like an HTTP/1.x request line.
fn is_http(request: &[u8]) -> bool {
    let line = first_line(request);
    let methods: [&[u8]; 4] = [b"GET ", b"HEAD ", b"POST ", b"PUT "];
    methods.iter().any(|m| line.starts_with(m)) && line.windows(7).any(|w| w == b" HTTP/1")
}

fn request_complete(request: &[u8]) -> bool {
    if !request.contains(&b'\n') {
        return false;
    }
    if is_http(request) {
        request.windows(4).any(|w| w == b"\r\n\r\n")
    } else {
        true
    }
}

/// The server's answer to `request` (see the module documentation).
pub fn reply_to(request: &[u8]) -> Vec<u8> {
    if is_http(request) {
        let mut body = b"echo:".to_vec();
        body.extend_from_slice(first_line(request));
        body.push(b'\n');
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    } else {
        let end = request
            .iter()
            .position(|&b| b == b'\n')
            .map_or(request.len(), |i| i + 1);
        let mut out = b"echo:".to_vec();
        out.extend_from_slice(request.get(..end).unwrap_or_default());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line is echoed with the prefix, nothing after its newline.
    #[test]
    fn a_line_is_echoed_with_the_prefix() {
        assert!(request_complete(b"ping-1\nrest"));
        assert!(!request_complete(b"ping-1"));
        assert_eq!(reply_to(b"ping-1\nrest"), b"echo:ping-1\n".to_vec());
    }

    /// An HTTP request waits for its blank line and gets a sized response
    /// whose body echoes the request line.
    #[test]
    fn an_http_request_gets_a_sized_response() {
        let req = b"GET /x-7 HTTP/1.1\r\nHost: localhost\r\n";
        assert!(!request_complete(req));
        let full = b"GET /x-7 HTTP/1.1\r\nHost: localhost\r\n\r\n";
        assert!(request_complete(full));
        let reply = String::from_utf8(reply_to(full)).unwrap();
        assert_eq!(
            reply,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\
             Connection: close\r\n\r\necho:GET /x-7 HTTP/1.1\n"
        );
    }
}
