//! The recorder: keeps every byte of a connection's first flight and joins
//! handshake fragments across records until the ClientHello is complete.

use super::parse::parse_client_hello_body;
use super::{ClientHelloError, MAX_CLIENT_HELLO_BYTES, ParsedClientHello};

/// Largest plaintext record payload (RFC 8446 §5.1).
const MAX_RECORD_PAYLOAD: usize = 1 << 14;
const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO: u8 = 1;

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
