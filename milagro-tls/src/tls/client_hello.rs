//! Recording and parsing the first ClientHello of a connection, and
//! classifying its Milagro offer (design §2a.3, §2a.4).
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

use std::collections::BTreeSet;

/// Named group `milagro_cs_bls12381`: the key share carries the one-pass
/// M-Pin proof and the M-Pin Full key agreement (design §5).
pub const MILAGRO_CS_GROUP: u16 = 0xFE4D;
/// Named group `milagro_p2p_bls12381`: the key share carries the Chow–Choo
/// key agreement (design §6).
pub const MILAGRO_P2P_GROUP: u16 = 0xFE50;
/// Signature scheme `milagro_implicit`: the empty CertificateVerify of both
/// Milagro suites (design §2).
pub const MILAGRO_IMPLICIT_SCHEME: u16 = 0xFE49;

/// The most bytes (record headers included) the recorder consumes to
/// complete one ClientHello: 70 KiB. Far above any real ClientHello
/// (a post-quantum hybrid share is about 1.2 KB), low enough that an
/// unauthenticated peer cannot make the accept path buffer much.
pub const MAX_CLIENT_HELLO_BYTES: usize = 70 * 1024;

/// Largest plaintext record payload (RFC 8446 §5.1).
const MAX_RECORD_PAYLOAD: usize = 1 << 14;
const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO: u8 = 1;
const MAX_SESSION_ID_LEN: usize = 32;
/// TLS 1.3 in `supported_versions`.
const TLS13: u16 = 0x0304;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_COMPRESS_CERTIFICATE: u16 = 27;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_KEY_SHARE: u16 = 51;
/// `legacy_compression_methods` value `null`, the only one TLS 1.3 allows.
const COMPRESSION_NULL: u8 = 0;
/// The TLS 1.3 cipher suites a Milagro server offers (ring's three:
/// `TLS_AES_128_GCM_SHA256`, `TLS_AES_256_GCM_SHA384`,
/// `TLS_CHACHA20_POLY1305_SHA256`). A Milagro offer must name one of them.
pub const MILAGRO_CIPHER_SUITES: [u16; 3] = [0x1301, 0x1302, 0x1303];
const SERVER_NAME_TYPE_HOST_NAME: u8 = 0;

/// Why the recorder refused the client's first bytes. Every variant is final:
/// the accept path writes [`HANDSHAKE_FAILURE_ALERT`](super::HANDSHAKE_FAILURE_ALERT)
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

/// One entry of the `key_share` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShare {
    group: u16,
    key_exchange: Vec<u8>,
}

impl KeyShare {
    /// The named group (code point) of this share.
    pub fn group(&self) -> u16 {
        self.group
    }
    /// The share's `key_exchange` bytes, never empty.
    pub fn key_exchange(&self) -> &[u8] {
        &self.key_exchange
    }
}

/// The fields of a ClientHello the accept path needs. Only
/// [`ClientHelloRecorder`] builds one, so every instance satisfies the rules
/// in the module documentation (no duplicate extensions, no duplicate
/// key-share groups, exact lengths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedClientHello {
    legacy_version: u16,
    random: [u8; 32],
    session_id: Vec<u8>,
    cipher_suites: Vec<u16>,
    compression_methods: Vec<u8>,
    extension_types: Vec<u16>,
    server_name: Option<Vec<u8>>,
    supported_groups: Vec<u16>,
    key_shares: Vec<KeyShare>,
    supported_versions: Vec<u16>,
    signature_algorithms: Vec<u16>,
}

impl ParsedClientHello {
    /// `legacy_version` (0x0303 for TLS 1.3 clients).
    pub fn legacy_version(&self) -> u16 {
        self.legacy_version
    }
    /// The 32-byte client random.
    pub fn random(&self) -> &[u8; 32] {
        &self.random
    }
    /// `legacy_session_id`, 0 to 32 bytes.
    pub fn session_id(&self) -> &[u8] {
        &self.session_id
    }
    /// The offered cipher suites, in the client's order (never empty).
    pub fn cipher_suites(&self) -> &[u16] {
        &self.cipher_suites
    }
    /// `legacy_compression_methods`, in the client's order (never empty).
    pub fn compression_methods(&self) -> &[u8] {
        &self.compression_methods
    }
    /// Every extension type, in the client's order, each at most once.
    pub fn extension_types(&self) -> &[u16] {
        &self.extension_types
    }
    /// The `host_name` of the server_name extension, as sent (non-empty, not
    /// validated or canonicalised as a DNS name); `None` when the extension
    /// is absent or names no host. Entries of other name types are ignored,
    /// as rustls does.
    pub fn server_name(&self) -> Option<&[u8]> {
        self.server_name.as_deref()
    }
    /// The `supported_groups` list in the client's order; empty exactly when
    /// the extension is absent (a present one must be non-empty).
    pub fn supported_groups(&self) -> &[u16] {
        &self.supported_groups
    }
    /// The `key_share` entries in the client's order, each group at most
    /// once; empty when the extension is absent or lists no share.
    pub fn key_shares(&self) -> &[KeyShare] {
        &self.key_shares
    }
    /// The share offered for `group`, if any.
    pub fn key_share(&self, group: u16) -> Option<&KeyShare> {
        self.key_shares.iter().find(|s| s.group == group)
    }
    /// The `supported_versions` list; empty exactly when the extension is
    /// absent.
    pub fn supported_versions(&self) -> &[u16] {
        &self.supported_versions
    }
    /// The `signature_algorithms` list; empty exactly when the extension is
    /// absent.
    pub fn signature_algorithms(&self) -> &[u16] {
        &self.signature_algorithms
    }
}

/// What one call to [`ClientHelloRecorder::feed`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
// Returned once per connection; boxing the ClientHello would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Progress {
    /// The ClientHello is not complete yet: read more bytes and feed them.
    NeedMore,
    /// The ClientHello is complete and well formed. Returned exactly once.
    Complete(ParsedClientHello),
}

#[derive(Debug, Clone)]
enum State {
    Reading,
    Complete,
    Failed(ClientHelloError),
}

/// Records every byte read from a new connection until the first
/// ClientHello is complete, and parses that ClientHello.
///
/// Feed it the socket's bytes in chunks of any size (byte by byte works).
/// When it returns [`Progress::Complete`], [`recorded`](Self::recorded) holds
/// every byte fed so far, including any that follow the ClientHello; the
/// accept path hands exactly those bytes to rustls before reading on. Bytes
/// after the ClientHello are bounded by the caller's last chunk: read with a
/// bounded buffer.
#[derive(Debug, Clone)]
pub struct ClientHelloRecorder {
    recorded: Vec<u8>,
    /// Bytes of `recorded` consumed by the record parser.
    pos: usize,
    /// Payload bytes of the current record not yet consumed.
    record_left: usize,
    /// The handshake message joined from record payloads.
    message: Vec<u8>,
    /// Total length of the handshake message, once its header is known.
    message_len: Option<usize>,
    state: State,
}

impl Default for ClientHelloRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientHelloRecorder {
    /// A recorder that has seen no bytes.
    pub fn new() -> Self {
        Self {
            recorded: Vec::new(),
            pos: 0,
            record_left: 0,
            message: Vec::new(),
            message_len: None,
            state: State::Reading,
        }
    }

    /// Records `bytes` and parses as far as they allow.
    ///
    /// Returns [`Progress::NeedMore`] until the ClientHello is complete, then
    /// [`Progress::Complete`] once. Fails with the first rule broken; after a
    /// failure every further call returns the same error, and after
    /// completion further calls fail with
    /// [`ClientHelloError::AlreadyComplete`] (the accept path gives later
    /// bytes to rustls, not to the recorder). Bytes passed to a failing call
    /// are still recorded; bytes passed after completion or failure are not.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, ClientHelloError> {
        match &self.state {
            State::Reading => {}
            State::Complete => return Err(ClientHelloError::AlreadyComplete),
            State::Failed(e) => return Err(e.clone()),
        }
        self.recorded.extend_from_slice(bytes);
        match self.advance() {
            Ok(Some(hello)) => {
                self.state = State::Complete;
                Ok(Progress::Complete(hello))
            }
            Ok(None) => Ok(Progress::NeedMore),
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Every byte fed so far (up to completion or failure), in order.
    pub fn recorded(&self) -> &[u8] {
        &self.recorded
    }

    /// Consumes the recorder, returning every byte fed so far.
    pub fn into_recorded(self) -> Vec<u8> {
        self.recorded
    }

    fn advance(&mut self) -> Result<Option<ParsedClientHello>, ClientHelloError> {
        const TOO_LARGE: ClientHelloError = ClientHelloError::TooLarge {
            limit: MAX_CLIENT_HELLO_BYTES,
        };
        loop {
            if self.record_left == 0 {
                // Refuse a wrong content type or version as soon as its byte
                // arrives, not only once the whole header is in.
                let partial = self.recorded.get(self.pos..).unwrap_or_default();
                if let Some(&content_type) = partial.first() {
                    if content_type != CONTENT_TYPE_HANDSHAKE {
                        return Err(ClientHelloError::NotHandshakeRecord { content_type });
                    }
                }
                if let Some(&[_, major, minor]) = partial.first_chunk::<3>() {
                    if major != 0x03 {
                        return Err(ClientHelloError::BadRecordVersion {
                            version: u16::from_be_bytes([major, minor]),
                        });
                    }
                }
                let end = self.pos.saturating_add(RECORD_HEADER_LEN);
                let Some(header) = self.recorded.get(self.pos..end) else {
                    return Ok(None);
                };
                if end > MAX_CLIENT_HELLO_BYTES {
                    return Err(TOO_LARGE);
                }
                let Ok([content_type, major, minor, len_hi, len_lo]) =
                    <[u8; RECORD_HEADER_LEN]>::try_from(header)
                else {
                    return Ok(None);
                };
                if content_type != CONTENT_TYPE_HANDSHAKE {
                    return Err(ClientHelloError::NotHandshakeRecord { content_type });
                }
                if major != 0x03 {
                    return Err(ClientHelloError::BadRecordVersion {
                        version: u16::from_be_bytes([major, minor]),
                    });
                }
                let length = u16::from_be_bytes([len_hi, len_lo]);
                if length == 0 {
                    return Err(ClientHelloError::EmptyRecord);
                }
                if usize::from(length) > MAX_RECORD_PAYLOAD {
                    return Err(ClientHelloError::RecordTooLong { length });
                }
                self.pos = end;
                self.record_left = usize::from(length);
            }

            let available = self.recorded.len().saturating_sub(self.pos);
            if available == 0 {
                return Ok(None);
            }
            let wanted = match self.message_len {
                None => HANDSHAKE_HEADER_LEN.saturating_sub(self.message.len()),
                Some(total) => total.saturating_sub(self.message.len()),
            };
            let n = available.min(self.record_left).min(wanted);
            let end = self.pos.saturating_add(n);
            if end > MAX_CLIENT_HELLO_BYTES {
                return Err(TOO_LARGE);
            }
            let Some(chunk) = self.recorded.get(self.pos..end) else {
                return Ok(None);
            };
            self.message.extend_from_slice(chunk);
            self.pos = end;
            self.record_left = self.record_left.saturating_sub(n);

            if let Some(&handshake_type) = self.message.first() {
                if handshake_type != HANDSHAKE_TYPE_CLIENT_HELLO {
                    return Err(ClientHelloError::NotClientHello { handshake_type });
                }
            }
            if self.message_len.is_none() {
                if let Some(&[_, a, b, c]) = self.message.first_chunk::<HANDSHAKE_HEADER_LEN>() {
                    let body_len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                    let total = HANDSHAKE_HEADER_LEN + body_len;
                    if total > MAX_CLIENT_HELLO_BYTES {
                        return Err(TOO_LARGE);
                    }
                    self.message_len = Some(total);
                }
            }
            if self.message_len == Some(self.message.len()) {
                let body = self.message.get(HANDSHAKE_HEADER_LEN..).unwrap_or_default();
                return parse_client_hello_body(body).map(Some);
            }
        }
    }
}

/// A cursor over a length-delimited structure; every read is checked.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ClientHelloError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(ClientHelloError::Truncated { field })?;
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ClientHelloError> {
        let (&b, tail) = self
            .rest
            .split_first()
            .ok_or(ClientHelloError::Truncated { field })?;
        self.rest = tail;
        Ok(b)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ClientHelloError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<2>()
            .ok_or(ClientHelloError::Truncated { field })?;
        self.rest = tail;
        Ok(u16::from_be_bytes(*head))
    }

    /// A vector with a one-byte length prefix.
    fn vec8(&mut self, field: &'static str) -> Result<Reader<'a>, ClientHelloError> {
        let n = self.u8(field)?;
        Ok(Reader::new(self.take(usize::from(n), field)?))
    }

    /// A vector with a two-byte length prefix.
    fn vec16(&mut self, field: &'static str) -> Result<Reader<'a>, ClientHelloError> {
        let n = self.u16(field)?;
        Ok(Reader::new(self.take(usize::from(n), field)?))
    }

    fn finish(&self, field: &'static str) -> Result<(), ClientHelloError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ClientHelloError::TrailingBytes { field })
        }
    }

    /// The whole remaining content as big-endian `u16` values.
    fn into_u16_list(
        self,
        field: &'static str,
        non_empty: bool,
    ) -> Result<Vec<u16>, ClientHelloError> {
        if !self.rest.len().is_multiple_of(2) {
            return Err(ClientHelloError::OddLength { field });
        }
        if non_empty && self.rest.is_empty() {
            return Err(ClientHelloError::EmptyVector { field });
        }
        Ok(self
            .rest
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect())
    }
}

fn parse_client_hello_body(body: &[u8]) -> Result<ParsedClientHello, ClientHelloError> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16("legacy_version")?;
    let random = r
        .take(32, "random")?
        .first_chunk::<32>()
        .copied()
        .ok_or(ClientHelloError::Truncated { field: "random" })?;
    let session_id = r.vec8("legacy_session_id")?.rest.to_vec();
    if session_id.len() > MAX_SESSION_ID_LEN {
        return Err(ClientHelloError::SessionIdTooLong {
            length: session_id.len(),
        });
    }
    let cipher_suites = r
        .vec16("cipher_suites")?
        .into_u16_list("cipher_suites", true)?;
    let compression_methods = r.vec8("legacy_compression_methods")?.rest.to_vec();
    if compression_methods.is_empty() {
        return Err(ClientHelloError::EmptyVector {
            field: "legacy_compression_methods",
        });
    }
    let mut hello = ParsedClientHello {
        legacy_version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        extension_types: Vec::new(),
        server_name: None,
        supported_groups: Vec::new(),
        key_shares: Vec::new(),
        supported_versions: Vec::new(),
        signature_algorithms: Vec::new(),
    };
    // A ClientHello may end after the compression methods (no extensions).
    if r.is_empty() {
        return Ok(hello);
    }
    let mut extensions = r.vec16("extensions")?;
    r.finish("ClientHello")?;
    let mut seen = BTreeSet::new();
    while !extensions.is_empty() {
        let extension_type = extensions.u16("extension_type")?;
        let data = extensions.vec16("extension_data")?;
        if !seen.insert(extension_type) {
            return Err(ClientHelloError::DuplicateExtension { extension_type });
        }
        hello.extension_types.push(extension_type);
        match extension_type {
            EXT_SERVER_NAME => hello.server_name = parse_server_name(data)?,
            EXT_SUPPORTED_GROUPS => {
                hello.supported_groups = exact_u16_vec16(data, "supported_groups")?;
            }
            EXT_SIGNATURE_ALGORITHMS => {
                hello.signature_algorithms = exact_u16_vec16(data, "signature_algorithms")?;
            }
            EXT_SUPPORTED_VERSIONS => {
                let mut data = data;
                let list = data.vec8("supported_versions")?;
                data.finish("supported_versions")?;
                hello.supported_versions = list.into_u16_list("supported_versions", true)?;
            }
            EXT_KEY_SHARE => hello.key_shares = parse_key_shares(data)?,
            EXT_COMPRESS_CERTIFICATE => check_compress_certificate(data)?,
            _ => {}
        }
    }
    Ok(hello)
}

/// An extension whose whole content is one non-empty `u16` vector.
fn exact_u16_vec16(
    mut data: Reader<'_>,
    field: &'static str,
) -> Result<Vec<u16>, ClientHelloError> {
    let list = data.vec16(field)?;
    data.finish(field)?;
    list.into_u16_list(field, true)
}

fn parse_server_name(mut data: Reader<'_>) -> Result<Option<Vec<u8>>, ClientHelloError> {
    let mut list = data.vec16("server_name_list")?;
    data.finish("server_name")?;
    let mut host_name = None;
    while !list.is_empty() {
        let name_type = list.u8("server_name name_type")?;
        if name_type != SERVER_NAME_TYPE_HOST_NAME {
            // The encoding of other name types is unknown, so the rest of the
            // list cannot be parsed; rustls stops here too.
            break;
        }
        let name = list.vec16("host_name")?;
        if name.is_empty() {
            return Err(ClientHelloError::EmptyVector { field: "host_name" });
        }
        if host_name.is_some() {
            return Err(ClientHelloError::DuplicateHostName);
        }
        host_name = Some(name.rest.to_vec());
    }
    Ok(host_name)
}

/// RFC 8879 `CertificateCompressionAlgorithm algorithms<2..2^8-2>`: exact
/// lengths and no algorithm twice (rustls refuses duplicates only after the
/// accept path's step 1).
fn check_compress_certificate(mut data: Reader<'_>) -> Result<(), ClientHelloError> {
    let list = data.vec8("compress_certificate")?;
    data.finish("compress_certificate")?;
    let algorithms = list.into_u16_list("compress_certificate", true)?;
    let mut seen = BTreeSet::new();
    for algorithm in algorithms {
        if !seen.insert(algorithm) {
            return Err(ClientHelloError::DuplicateCertificateCompression { algorithm });
        }
    }
    Ok(())
}

fn parse_key_shares(mut data: Reader<'_>) -> Result<Vec<KeyShare>, ClientHelloError> {
    let mut list = data.vec16("client_shares")?;
    data.finish("key_share")?;
    let mut shares: Vec<KeyShare> = Vec::new();
    while !list.is_empty() {
        let group = list.u16("key_share group")?;
        let key_exchange = list.vec16("key_exchange")?;
        if key_exchange.is_empty() {
            return Err(ClientHelloError::EmptyKeyExchange { group });
        }
        if shares.iter().any(|s| s.group == group) {
            return Err(ClientHelloError::DuplicateKeyShare { group });
        }
        shares.push(KeyShare {
            group,
            key_exchange: key_exchange.rest.to_vec(),
        });
    }
    Ok(shares)
}

/// One of the two Milagro key-exchange groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MilagroGroup {
    /// `milagro_cs_bls12381` ([`MILAGRO_CS_GROUP`]).
    Cs,
    /// `milagro_p2p_bls12381` ([`MILAGRO_P2P_GROUP`]).
    P2p,
}

impl MilagroGroup {
    /// The group's code point.
    pub const fn code_point(self) -> u16 {
        match self {
            Self::Cs => MILAGRO_CS_GROUP,
            Self::P2p => MILAGRO_P2P_GROUP,
        }
    }

    /// The Milagro group with this code point; `None` for every other value.
    pub const fn from_code_point(code_point: u16) -> Option<Self> {
        match code_point {
            MILAGRO_CS_GROUP => Some(Self::Cs),
            MILAGRO_P2P_GROUP => Some(Self::P2p),
            _ => None,
        }
    }
}

/// What a ClientHello asks for, as far as the accept path's choice of
/// `ServerConfig` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer<'a> {
    /// No Milagro group is named in `supported_groups` or `key_share`: serve
    /// with the standard configuration.
    Standard,
    /// A well-formed Milagro offer: `group` is the only group listed, the only
    /// key share is for it, TLS 1.3 and `milagro_implicit` are offered.
    Milagro {
        /// The Milagro group offered.
        group: MilagroGroup,
        /// The client's key share for that group (not yet checked in any
        /// way: its length and content are the suite's business).
        share: &'a [u8],
    },
}

/// Why a ClientHello that names a Milagro group was refused at accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferRefusal {
    /// Both Milagro groups are named (listed or shared).
    #[error("both Milagro groups offered")]
    BothMilagroGroups,
    /// A key share for a Milagro group that `supported_groups` does not list.
    #[error("key share for Milagro group {group:?}, which is not in supported_groups")]
    ShareForUnlistedGroup {
        /// The group of the stray share.
        group: MilagroGroup,
    },
    /// A Milagro group is listed without a key share for it: rustls would
    /// answer with a HelloRetryRequest, and the second ClientHello would
    /// never be seen by the accept path.
    #[error("Milagro group {group:?} listed without a key share for it")]
    MissingShare {
        /// The listed group.
        group: MilagroGroup,
    },
    /// `supported_groups` lists something besides the one Milagro group (a
    /// non-Milagro group, or the Milagro group twice).
    #[error("Milagro group {group:?} listed alongside other groups")]
    NotAlone {
        /// The Milagro group listed.
        group: MilagroGroup,
    },
    /// `key_share` carries a share for a group besides the Milagro group.
    #[error("Milagro offer for {group:?} carries key shares for other groups")]
    OtherShares {
        /// The Milagro group offered.
        group: MilagroGroup,
    },
    /// A Milagro group is offered without TLS 1.3 in `supported_versions`.
    #[error("Milagro group {group:?} offered without TLS 1.3")]
    NoTls13 {
        /// The Milagro group offered.
        group: MilagroGroup,
    },
    /// A Milagro group is offered without the `milagro_implicit` signature
    /// scheme, so the handshake could not complete.
    #[error("Milagro group {group:?} offered without the milagro_implicit signature scheme")]
    NoImplicitScheme {
        /// The Milagro group offered.
        group: MilagroGroup,
    },
    /// `legacy_compression_methods` is not exactly `[null]` (TLS 1.3,
    /// RFC 8446 §4.1.2; rustls refuses it before the key exchange).
    #[error("Milagro offer for {group:?} with compression methods other than exactly [null]")]
    Compression {
        /// The Milagro group offered.
        group: MilagroGroup,
    },
    /// No cipher suite of [`MILAGRO_CIPHER_SUITES`] is offered (rustls would
    /// refuse before the key exchange: no cipher suite in common).
    #[error("Milagro offer for {group:?} names no TLS 1.3 cipher suite this server supports")]
    NoCommonCipherSuite {
        /// The Milagro group offered.
        group: MilagroGroup,
    },
    /// A `pre_shared_key` extension: a Milagro client never resumes (and
    /// rustls checks the PSK offer's modes and binders before the key
    /// exchange).
    #[error("Milagro offer for {group:?} carries a pre_shared_key extension")]
    PreSharedKey {
        /// The Milagro group offered.
        group: MilagroGroup,
    },
}

/// Decides whether a ClientHello is a standard one, a well-formed Milagro
/// offer, or a Milagro offer the accept path must refuse (design §2a.3, §2a.4).
///
/// * [`Offer::Standard`] when neither Milagro group appears in
///   `supported_groups` nor in `key_share`. (Nothing else is checked: the
///   standard configuration and rustls judge the rest.)
/// * [`Offer::Milagro`] when `supported_groups` is exactly `[g]` for one
///   Milagro group `g`, `key_share` holds exactly one share and it is for `g`,
///   `supported_versions` contains TLS 1.3, `signature_algorithms`
///   contains [`MILAGRO_IMPLICIT_SCHEME`], the compression methods are
///   exactly `[null]`, a cipher suite of [`MILAGRO_CIPHER_SUITES`] is offered
///   and there is no `pre_shared_key` extension.
/// * Every other ClientHello naming a Milagro group is refused, checked in
///   this order: both groups ([`OfferRefusal::BothMilagroGroups`]), a Milagro
///   share whose group is not listed, the group listed without its share
///   (HelloRetryRequest bait), other groups listed, other shares present, no
///   TLS 1.3, no `milagro_implicit`, compression, no common cipher suite,
///   `pre_shared_key`.
///
/// The last three, with the parser's refusal of duplicate key shares and
/// certificate-compression algorithms, are everything rustls 0.23's TLS 1.3
/// server (with a Milagro configuration) refuses after `Acceptor::accept()`
/// and before it runs the key exchange. Refusing them here, before step 1,
/// matters for lockout (docs/protocol.md §6.4): an attempt that step 1
/// reserved (or silently refused and charged) must end only through the key
/// exchange's outcome, or the source's balance could differ between a locked
/// and an unlocked identity.
///
/// Why a Milagro group listed next to other groups is refused rather than
/// served: rule 2a.1 has a Milagro client offer exactly its one group,
/// because a client that also offers, say, X25519 accepts the empty
/// `milagro_implicit` signature over whatever group the server picks — and
/// rustls's server picks the *first* group in the client's list it supports,
/// with HelloRetryRequest able to move the client to any offered group. Such
/// a ClientHello therefore comes from a broken or hostile client. Serving it
/// with the standard config would hand an unauthenticated connection to a
/// client that believes it is authenticated (and return `Standard` to the
/// application for a client that asked for Milagro); serving it with the
/// Milagro config would hide the client's misconfiguration, which leaves it
/// open to any man in the middle. Refusing makes it fail loudly.
pub fn classify(hello: &ParsedClientHello) -> Result<Offer<'_>, OfferRefusal> {
    let listed = |g: MilagroGroup| hello.supported_groups.contains(&g.code_point());
    let shared = |g: MilagroGroup| hello.key_share(g.code_point()).is_some();
    let named = |g: MilagroGroup| listed(g) || shared(g);

    let group = match (named(MilagroGroup::Cs), named(MilagroGroup::P2p)) {
        (false, false) => return Ok(Offer::Standard),
        (true, true) => return Err(OfferRefusal::BothMilagroGroups),
        (true, false) => MilagroGroup::Cs,
        (false, true) => MilagroGroup::P2p,
    };
    if !listed(group) {
        return Err(OfferRefusal::ShareForUnlistedGroup { group });
    }
    let Some(share) = hello.key_share(group.code_point()) else {
        return Err(OfferRefusal::MissingShare { group });
    };
    if hello.supported_groups.len() != 1 {
        return Err(OfferRefusal::NotAlone { group });
    }
    if hello.key_shares.len() != 1 {
        return Err(OfferRefusal::OtherShares { group });
    }
    if !hello.supported_versions.contains(&TLS13) {
        return Err(OfferRefusal::NoTls13 { group });
    }
    if !hello
        .signature_algorithms
        .contains(&MILAGRO_IMPLICIT_SCHEME)
    {
        return Err(OfferRefusal::NoImplicitScheme { group });
    }
    if hello.compression_methods != [COMPRESSION_NULL] {
        return Err(OfferRefusal::Compression { group });
    }
    if !hello
        .cipher_suites
        .iter()
        .any(|s| MILAGRO_CIPHER_SUITES.contains(s))
    {
        return Err(OfferRefusal::NoCommonCipherSuite { group });
    }
    if hello.extension_types.contains(&EXT_PRE_SHARED_KEY) {
        return Err(OfferRefusal::PreSharedKey { group });
    }
    Ok(Offer::Milagro {
        group,
        share: share.key_exchange(),
    })
}
