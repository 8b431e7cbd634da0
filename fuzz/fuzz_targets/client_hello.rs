//! `tls::ClientHelloRecorder` + `tls::classify` on arbitrary bytes.
//!
//! Input: `[k][n] ‖ stream`. The stream is fed once whole and once in chunks
//! whose sizes cycle through `1 + (n >> i) % (k+1)`-ish values derived from
//! the two header bytes. Invariants:
//! * the outcome (NeedMore / Complete(hello) / Err(e)) does not depend on
//!   the chunking, and neither does `classify` on the hello;
//! * `recorded()` is exactly the bytes fed up to and including the call that
//!   completed or failed (and all of them while NeedMore);
//! * a completed hello and its Milagro offer are consistent with the parse
//!   (the share is the key share of the offered group);
//! * differential: when rustls's own `Acceptor` also accepts the same bytes,
//!   it parsed the same cipher suites, supported groups and server name
//!   (docs/protocol.md §8.4.4: the recorder's ClientHello must be the one rustls sees,
//!   or rustls must refuse the bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::tls::{ClientHelloRecorder, Offer, ParsedClientHello, Progress, classify};

#[derive(Debug, PartialEq)]
enum Outcome {
    NeedMore,
    // Boxed: a parsed ClientHello is far larger than the other outcomes.
    Complete(Box<ParsedClientHello>),
    Failed(milagro_tls::tls::ClientHelloError),
}

/// Feeds `stream` in the given chunk sizes; returns the outcome and checks
/// the recorded bytes.
fn run(stream: &[u8], sizes: &mut dyn Iterator<Item = usize>) -> Outcome {
    let mut rec = ClientHelloRecorder::new();
    let mut fed = 0usize;
    loop {
        if fed == stream.len() {
            assert_eq!(rec.recorded(), stream, "NeedMore records everything fed");
            return Outcome::NeedMore;
        }
        let n = sizes
            .next()
            .unwrap_or(usize::MAX)
            .max(1)
            .min(stream.len() - fed);
        let res = rec.feed(&stream[fed..fed + n]);
        fed += n;
        match res {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Complete(h)) => {
                assert_eq!(rec.recorded(), &stream[..fed]);
                assert_eq!(
                    rec.feed(b"\x16"),
                    Err(milagro_tls::tls::ClientHelloError::AlreadyComplete)
                );
                assert_eq!(
                    rec.recorded(),
                    &stream[..fed],
                    "bytes after completion are not recorded"
                );
                return Outcome::Complete(Box::new(h));
            }
            Err(e) => {
                assert_eq!(rec.recorded(), &stream[..fed]);
                assert_eq!(rec.feed(b"\x16"), Err(e.clone()), "failure is sticky");
                assert_eq!(rec.recorded(), &stream[..fed]);
                return Outcome::Failed(e);
            }
        }
    }
}

fn check_offer(hello: &ParsedClientHello) {
    match classify(hello) {
        Ok(Offer::Milagro { group, share }) => {
            assert_eq!(hello.supported_groups(), &[group.group()]);
            assert_eq!(hello.key_shares().len(), 1);
            assert_eq!(
                hello.key_share(group.group()).map(|s| s.key_exchange()),
                Some(share)
            );
            assert!(!share.is_empty());
        }
        Ok(Offer::Standard) => {
            for g in [milagro_tls::suite::CS_GROUP, milagro_tls::suite::P2P_GROUP] {
                assert!(!hello.supported_groups().contains(&g));
                assert!(hello.key_share(g).is_none());
            }
        }
        Err(_) => {}
    }
}

/// rustls's view of the same bytes, if its Acceptor accepts them.
fn rustls_view(stream: &[u8], ours: &Outcome) {
    let mut acceptor = rustls::server::Acceptor::default();
    let mut rd = stream;
    let accepted = loop {
        match acceptor.read_tls(&mut rd) {
            Ok(0) => match acceptor.accept() {
                Ok(Some(a)) => break a,
                _ => return,
            },
            Ok(_) => match acceptor.accept() {
                Ok(Some(a)) => break a,
                Ok(None) => {}
                Err(_) => return,
            },
            Err(_) => return,
        }
    };
    let theirs = accepted.client_hello();
    // Only compare when our recorder completed on the same bytes.
    let Outcome::Complete(ours) = ours else {
        return;
    };
    let suites: Vec<u16> = theirs
        .cipher_suites()
        .iter()
        .map(|s| u16::from(*s))
        .collect();
    assert_eq!(
        ours.cipher_suites(),
        suites.as_slice(),
        "cipher suites differ from rustls"
    );
    let groups: Vec<u16> = theirs
        .named_groups()
        .unwrap_or_default()
        .iter()
        .map(|g| u16::from(*g))
        .collect();
    assert_eq!(
        ours.supported_groups(),
        groups.as_slice(),
        "supported groups differ from rustls"
    );
    if let Some(name) = theirs.server_name() {
        let ours_name = ours
            .server_name()
            .expect("rustls saw an SNI host name, we did not");
        assert!(
            ours_name.eq_ignore_ascii_case(name.as_bytes())
                || ours_name
                    .strip_suffix(b".")
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes())),
            "server name differs from rustls: {:?} vs {name:?}",
            String::from_utf8_lossy(ours_name)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (k, n, stream) = match data {
        [k, n, rest @ ..] => (*k, *n, rest),
        _ => return,
    };
    let whole = run(stream, &mut std::iter::empty());
    // Chunk sizes: a cycle of up to 8 sizes in 1..=k+1, picked by n's bits.
    let period = usize::from(n % 8) + 1;
    let sizes: Vec<usize> = (0..period)
        .map(|i| {
            1 + (usize::from(k).wrapping_mul(i + 1) ^ usize::from(n >> 3)) % (usize::from(k) + 1)
        })
        .collect();
    let chunked = run(stream, &mut sizes.iter().copied().cycle());
    let bytewise = run(stream, &mut std::iter::repeat(1));
    assert_eq!(whole, chunked, "outcome depends on chunking ({sizes:?})");
    assert_eq!(whole, bytewise, "outcome depends on chunking (bytewise)");
    if let Outcome::Complete(h) = &whole {
        let Outcome::Complete(hc) = &chunked else {
            unreachable!()
        };
        assert_eq!(classify(h), classify(hc));
        check_offer(h);
    }
    rustls_view(stream, &whole);
});
