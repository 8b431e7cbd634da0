//! PEM framing: RFC 7468 strict, LF only, nothing before the BEGIN line.

use zeroize::Zeroizing;

use super::KeyFileError;
use super::body::MAX_BODY;

pub(super) fn encode_pem(
    label: &'static str,
    body: &[u8],
) -> Result<Zeroizing<String>, KeyFileError> {
    use pem_rfc7468::LineEnding;
    let len = pem_rfc7468::encoded_len(label, LineEnding::LF, body).map_err(KeyFileError::Pem)?;
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let text =
        pem_rfc7468::encode(label, LineEnding::LF, body, &mut buf).map_err(KeyFileError::Pem)?;
    Ok(Zeroizing::new(text.to_owned()))
}

pub(super) fn check_begins_with_pem(pem: &str) -> Result<(), KeyFileError> {
    if pem.starts_with("-----BEGIN ") {
        Ok(())
    } else {
        Err(KeyFileError::NotPem)
    }
}

/// The label of a PEM document (framing checked, body not decoded).
pub(super) fn pem_label(pem: &str) -> Result<&str, KeyFileError> {
    check_begins_with_pem(pem)?;
    if pem.contains('\r') {
        return Err(KeyFileError::CarriageReturn);
    }
    pem_rfc7468::decode_label(pem.as_bytes()).map_err(KeyFileError::Pem)
}

pub(super) fn decode_pem(
    pem: &str,
    expected: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let found = pem_label(pem)?;
    if found != expected {
        return Err(KeyFileError::WrongLabel {
            found: found.to_owned(),
            expected,
        });
    }
    let mut buf = Zeroizing::new(vec![0u8; MAX_BODY]);
    let (_, body) = pem_rfc7468::decode(pem.as_bytes(), &mut buf).map_err(KeyFileError::Pem)?;
    let len = body.len();
    buf.truncate(len);
    Ok(buf)
}
