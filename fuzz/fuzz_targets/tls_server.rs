//! Whole-connection fuzzing of the CS server: the sync accept path
//! (`cs_tls::server` → `MilagroAcceptor::accept`) over an in-memory reader,
//! then the resulting `ServerConnection` driven with further client records
//! and `MilagroConnection::finish`.
//!
//! Input: `mode`, then a 2-byte big-endian length `n`, `n` bytes of `head`,
//! and the rest (`records`):
//! * mode % 3 == 0: the accept stream is `head` alone (no prefix);
//! * mode % 3 == 1: a genuine CS ClientHello (recorded once per process)
//!   followed by `head` (bytes after the hello go to rustls with it);
//! * mode % 3 == 2: the genuine ClientHello with `head` as sparse XOR edits
//!   (`apply_edits`).
//!
//! `records` are then fed to the accepted connection as the client's next
//! flight. Invariants: no panic; `accept` never picks the standard
//! configuration (there is none); and `finish` never authenticates anyone.
//! The server's key share and nonces are fresh per connection (`OsEntropy`),
//! so no fuzz input — not even the genuine ClientHello followed by a
//! recorded genuine client flight — can be a genuine transcript of *this*
//! connection: an authenticated identity would be a forgery.

#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::Accepted;
use milagro_tls_fuzz::{TLS_SOURCE, apply_edits, cs_acceptor, drain, feed, split_len, tls};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (head, records) = split_len(rest);
    let genuine = tls().cs_hello.as_slice();
    let stream = match mode % 3 {
        0 => head.to_vec(),
        1 => [genuine, head].concat(),
        _ => apply_edits(genuine, head),
    };
    // A fresh acceptor (fresh guard: empty replay cache, no lockout, full
    // source budget) per input, so the genuine prefix is admitted each time.
    let acceptor = cs_acceptor();
    let mut alert = Vec::new();
    let accepted = acceptor.accept(TLS_SOURCE, &mut &stream[..], &mut alert);
    let mut milagro = match accepted {
        Err(_) => return,
        Ok(Accepted::Standard(_)) => panic!("standard connection without a standard config"),
        Ok(Accepted::Milagro(m)) => m,
    };
    let conn = milagro.connection_mut();
    drain(conn);
    let fed = feed(conn, records, &mut Vec::new());
    if let Ok(who) = milagro.finish() {
        panic!(
            "server authenticated {who:?} on fuzz input (records fed: {:?}, handshaking: {})",
            fed,
            milagro.connection().is_handshaking()
        );
    }
});
