//! The ClientHello parser: exact lengths, no duplicates, only the fields the
//! accept path needs.

use std::collections::BTreeSet;

use super::ClientHelloError;

const MAX_SESSION_ID_LEN: usize = 32;
/// TLS 1.3 in `supported_versions`.
pub(super) const TLS13: u16 = 0x0304;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_COMPRESS_CERTIFICATE: u16 = 27;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
pub(super) const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_KEY_SHARE: u16 = 51;
/// `legacy_compression_methods` value `null`, the only one TLS 1.3 allows.
pub(super) const COMPRESSION_NULL: u8 = 0;
const SERVER_NAME_TYPE_HOST_NAME: u8 = 0;

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
/// [`ClientHelloRecorder`](super::ClientHelloRecorder) builds one, so every instance satisfies the rules
/// in the module documentation (no duplicate extensions, no duplicate
/// key-share groups, exact lengths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedClientHello {
    legacy_version: u16,
    random: [u8; 32],
    session_id: Vec<u8>,
    pub(super) cipher_suites: Vec<u16>,
    pub(super) compression_methods: Vec<u8>,
    pub(super) extension_types: Vec<u16>,
    server_name: Option<Vec<u8>>,
    pub(super) supported_groups: Vec<u16>,
    pub(super) key_shares: Vec<KeyShare>,
    pub(super) supported_versions: Vec<u16>,
    pub(super) signature_algorithms: Vec<u16>,
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

pub(super) fn parse_client_hello_body(body: &[u8]) -> Result<ParsedClientHello, ClientHelloError> {
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
