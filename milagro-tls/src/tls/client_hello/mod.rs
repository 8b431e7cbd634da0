//! Recording and parsing the first ClientHello of a connection, and
//! classifying its Milagro offer (docs/protocol.md §8.4.3, §8.4.4).
//!
//! rustls gives certificate verifiers no link to the key exchange, so the
//! accept path reads the client's first flight itself, parses the ClientHello
//! out of it, decides which `ServerConfig` serves the connection, and then
//! replays **every byte it read** into rustls. For that to be sound, the
//! ClientHello this module parses must be the one rustls will parse from the
//! same bytes, or rustls must refuse those bytes. Hence the rules, applied in
//! the order the bytes arrive:
//!
//! * Only TLS records of content type 22 (handshake) may come before the
//!   ClientHello is complete; any other type is refused.
//! * A record's version must be `0x03XX` (what rustls accepts) and its length
//!   1..=2^14. Empty handshake records are refused: RFC 8446 §5.1 forbids them
//!   and rustls 0.23 refuses them (`InvalidEmptyPayload`), so skipping them
//!   here would only let a ClientHello reach classification (and the cheap
//!   checks that reserve a login attempt) that rustls then drops.
//! * Handshake fragments are joined across records. The first handshake
//!   message must be a ClientHello (type 1); parsing stops at its own length.
//!   Whatever follows it (the rest of its record, a ChangeCipherSpec, anything)
//!   is not parsed but stays in [`ClientHelloRecorder::recorded`], so the
//!   accept path replays it to rustls unchanged.
//! * At most [`MAX_CLIENT_HELLO_BYTES`] bytes (record headers included) may be
//!   consumed to complete the ClientHello.
//! * Every length-delimited structure is parsed with exact lengths: short
//!   input, trailing bytes, empty vectors where TLS requires non-empty ones
//!   and odd-length `u16` vectors are all errors. Duplicate extensions,
//!   duplicate key-share groups and duplicate certificate-compression
//!   algorithms are refused here, because rustls 0.23 accepts them at
//!   `Acceptor::accept()` and only refuses them later, after the accept path
//!   would already have chosen a configuration (and run step 1) from them.
//!
//! [`classify`] adds the offer rules for a Milagro ClientHello, including
//! everything else rustls 0.23's TLS 1.3 server refuses between
//! `Acceptor::accept()` and the key exchange (docs/protocol.md §6.4, "refuse
//! before step 1"), so that once step 1 has reserved an attempt or charged a
//! source, the only thing that can end the attempt is the key exchange.

mod parse;
mod policy;
mod recorder;

pub use parse::{KeyShare, ParsedClientHello};
pub use policy::{Offer, OfferRefusal, classify};
pub use recorder::{ClientHelloRecorder, Progress};

/// The most bytes (record headers included) the recorder consumes to
/// complete one ClientHello: 70 KiB. Far above any real ClientHello
/// (a post-quantum hybrid share is about 1.2 KB), low enough that an
/// unauthenticated peer cannot make the accept path buffer much.
pub const MAX_CLIENT_HELLO_BYTES: usize = 70 * 1024;

/// Why the recorder refused the client's first bytes. Every variant is final:
/// the accept path writes [`HANDSHAKE_FAILURE_ALERT`](crate::tls::HANDSHAKE_FAILURE_ALERT)
/// and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientHelloError {
    /// A record that is not a handshake record arrived before the ClientHello
    /// was complete.
    #[error("record of content type {content_type} before the ClientHello was complete")]
    NotHandshakeRecord {
        /// The record's content type.
        content_type: u8,
    },
    /// A record's legacy version was not `0x03XX`.
    #[error("record version {version:#06x} is not TLS (0x03XX)")]
    BadRecordVersion {
        /// The version bytes, big-endian.
        version: u16,
    },
    /// A handshake record with no payload (forbidden by RFC 8446 §5.1,
    /// refused by rustls).
    #[error("empty handshake record")]
    EmptyRecord,
    /// A record longer than 2^14 bytes.
    #[error("record of {length} bytes exceeds 2^14")]
    RecordTooLong {
        /// The record's declared length.
        length: u16,
    },
    /// The first handshake message was not a ClientHello.
    #[error("first handshake message has type {handshake_type}, not ClientHello (1)")]
    NotClientHello {
        /// The handshake message type received.
        handshake_type: u8,
    },
    /// Completing the ClientHello would take more than
    /// [`MAX_CLIENT_HELLO_BYTES`] bytes.
    #[error("ClientHello exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A field ran past the end of its enclosing structure.
    #[error("ClientHello truncated in {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A length-delimited structure had bytes left after its last field.
    #[error("trailing bytes after {field}")]
    TrailingBytes {
        /// The structure with trailing bytes.
        field: &'static str,
    },
    /// A vector that TLS requires to be non-empty was empty.
    #[error("empty {field}")]
    EmptyVector {
        /// The vector.
        field: &'static str,
    },
    /// A vector of 16-bit values had an odd byte length.
    #[error("odd byte length in {field}")]
    OddLength {
        /// The vector.
        field: &'static str,
    },
    /// The legacy session id was longer than 32 bytes.
    #[error("legacy_session_id of {length} bytes exceeds 32")]
    SessionIdTooLong {
        /// The declared length.
        length: usize,
    },
    /// An extension type appeared twice.
    #[error("duplicate extension {extension_type}")]
    DuplicateExtension {
        /// The repeated extension type.
        extension_type: u16,
    },
    /// The compress_certificate extension (RFC 8879) named one algorithm
    /// twice.
    #[error("duplicate certificate compression algorithm {algorithm:#06x}")]
    DuplicateCertificateCompression {
        /// The repeated algorithm.
        algorithm: u16,
    },
    /// Two key shares named the same group.
    #[error("duplicate key share for group {group:#06x}")]
    DuplicateKeyShare {
        /// The repeated group.
        group: u16,
    },
    /// A key share with an empty key_exchange field.
    #[error("empty key share for group {group:#06x}")]
    EmptyKeyExchange {
        /// The share's group.
        group: u16,
    },
    /// The server_name extension named two host names (RFC 6066 §3).
    #[error("server_name lists more than one host_name")]
    DuplicateHostName,
    /// [`ClientHelloRecorder::feed`] was called after it had already returned
    /// the ClientHello.
    #[error("the ClientHello was already complete")]
    AlreadyComplete,
}
