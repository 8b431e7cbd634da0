//! PEM key files for every kind of key (RFC 7468 "strict" grammar, LF line
//! endings, 64-column base64, **no headers**, nothing before the BEGIN line).
//!
//! Each kind has its own label, and its binary body a fixed, versioned layout
//! that carries everything that decides where the key may be used: suite,
//! deployment, permit policy or epoch length, D-TA, identity, day or epoch.
//! Loading checks every field and fails with a [`KeyFileError`] naming the
//! problem; nothing is ever "fixed up". Bodies are held in
//! [`Zeroizing`] buffers and encoded files are returned as `Zeroizing<String>`.
//!
//! # Labels and kind bytes
//!
//! | kind | label | kind byte | suite | secret |
//! |---|---|---|---|---|
//! | D-TA master share `s_i` | `MILAGRO DTA MASTER SHARE` | `0x01` | CS or P2P | scalar |
//! | CS server secret `s·Q` | `MILAGRO CS SERVER SECRET` | `0x02` | CS | G2 |
//! | CS client secret `s·A` | `MILAGRO CS CLIENT SECRET` | `0x03` | CS | G1 |
//! | CS token `s·A − PIN·A` | `MILAGRO CS TOKEN` | `0x04` | CS | G1 |
//! | CS time permit `s·T` | `MILAGRO CS TIME PERMIT` | `0x05` | CS | G1 |
//! | P2P server key `s·H1` | `MILAGRO P2P SERVER KEY` | `0x06` | P2P | G1 |
//! | P2P client key `s·H2` | `MILAGRO P2P CLIENT KEY` | `0x07` | P2P | G2 |
//! | one D-TA's share of kind `k` (k = 0x02, 0x03, 0x05, 0x06, 0x07) | the kind's label + ` SHARE` (e.g. `MILAGRO CS SERVER SECRET SHARE`) | `0x80 \| k` | as the kind | as the kind |
//!
//! The kind byte repeats the label inside the body, so a file relabelled by
//! hand (a client secret renamed "token", a share renamed as a combined key)
//! is refused with [`KeyFileError::KindMismatch`].
//!
//! # Body layout (format version 1)
//!
//! All integers are big-endian. Every body starts with the header:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | format version, `0x01` |
//! | 1 | 1 | kind byte (table above) |
//! | 2 | 1 | suite tag: `0x01` CS, `0x02` P2P |
//! | 3 | 16 | deployment id |
//! | 19 | 1 | `dta_count`, ≥ 1 |
//! | 20 | 1 | CS only: permit policy, `0x01` required, `0x00` off |
//! | 20 | 4 | P2P only: `epoch_seconds` (u32), ≥ 60 |
//!
//! so the header is 21 bytes (CS) or 24 bytes (P2P). Then, in this order, the
//! fields the kind has:
//!
//! | field | size | present in |
//! |---|---|---|
//! | D-TA id | 8 | master share and every share |
//! | identity: length `n` (u8, 1–255) ‖ `n` bytes of the canonical identity | 1 + n | client secret, token, time permit, P2P keys (and their shares) |
//! | day `d` (u32; ≠ 0, and the policy must be "required") | 4 | time permit (and share) |
//! | epoch (u32) | 4 | P2P keys (and shares) |
//! | secret | 32 / 48 / 96 | all: scalar 32 B big-endian in `1..r` (master share); compressed G1 48 B (client secret, token, permit, P2P server key); compressed G2 96 B (server secret, P2P client key) |
//!
//! The body ends exactly after the secret. For example a CS client secret for
//! `alice@example.com` (17 bytes) is `21 + 1 + 17 + 48 = 87` bytes, its share
//! `21 + 8 + 1 + 17 + 48 = 95` bytes, and a P2P master share `24 + 8 + 32 = 64`.
//!
//! Points must decode as compressed points of the prime-order subgroup other
//! than the identity; identities must already be canonical
//! ([`Identity::from_canonical_bytes`]).

use zeroize::Zeroizing;

mod load;
pub use load::{LoadError, MAX_KEY_FILE_BYTES, from_pem_any_file};

use crate::dta::MIN_EPOCH_SECONDS;
use crate::identity::{Identity, IdentityError};
use crate::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, CsToken, Deployment, DeploymentId,
    DtaId, MasterShare, P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, Share, Suite,
};
use crate::pairing::{DecodeError, G1, G1_BYTES, G2, G2_BYTES, SCALAR_BYTES, Scalar};

/// The body format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Label of a D-TA master share file.
pub const LABEL_MASTER_SHARE: &str = "MILAGRO DTA MASTER SHARE";
/// Label of a CS server secret file.
pub const LABEL_CS_SERVER_SECRET: &str = "MILAGRO CS SERVER SECRET";
/// Label of a file holding one D-TA's share of a CS server secret.
pub const LABEL_CS_SERVER_SECRET_SHARE: &str = "MILAGRO CS SERVER SECRET SHARE";
/// Label of a CS client secret file.
pub const LABEL_CS_CLIENT_SECRET: &str = "MILAGRO CS CLIENT SECRET";
/// Label of a file holding one D-TA's share of a CS client secret.
pub const LABEL_CS_CLIENT_SECRET_SHARE: &str = "MILAGRO CS CLIENT SECRET SHARE";
/// Label of a CS token file.
pub const LABEL_CS_TOKEN: &str = "MILAGRO CS TOKEN";
/// Label of a CS time permit file.
pub const LABEL_CS_TIME_PERMIT: &str = "MILAGRO CS TIME PERMIT";
/// Label of a file holding one D-TA's share of a CS time permit.
pub const LABEL_CS_TIME_PERMIT_SHARE: &str = "MILAGRO CS TIME PERMIT SHARE";
/// Label of a P2P server key file.
pub const LABEL_P2P_SERVER_KEY: &str = "MILAGRO P2P SERVER KEY";
/// Label of a file holding one D-TA's share of a P2P server key.
pub const LABEL_P2P_SERVER_KEY_SHARE: &str = "MILAGRO P2P SERVER KEY SHARE";
/// Label of a P2P client key file.
pub const LABEL_P2P_CLIENT_KEY: &str = "MILAGRO P2P CLIENT KEY";
/// Label of a file holding one D-TA's share of a P2P client key.
pub const LABEL_P2P_CLIENT_KEY_SHARE: &str = "MILAGRO P2P CLIENT KEY SHARE";

const KIND_MASTER_SHARE: u8 = 0x01;
const KIND_CS_SERVER_SECRET: u8 = 0x02;
const KIND_CS_CLIENT_SECRET: u8 = 0x03;
const KIND_CS_TOKEN: u8 = 0x04;
const KIND_CS_TIME_PERMIT: u8 = 0x05;
const KIND_P2P_SERVER_KEY: u8 = 0x06;
const KIND_P2P_CLIENT_KEY: u8 = 0x07;
const SHARE_FLAG: u8 = 0x80;

/// Largest body of any kind (P2P client key share with a 255-byte identity is
/// 24 + 8 + 256 + 4 + 96 = 388 bytes); larger PEM payloads are refused.
const MAX_BODY: usize = 512;

/// Why a key file could not be loaded (or, for a key that cannot exist, written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The text does not start with a `-----BEGIN ` line (empty input, other
    /// text, or explanatory text before the PEM block, which is not allowed).
    #[error("not a Milagro key file: it must start with a \"-----BEGIN \" line")]
    NotPem,
    /// The file has a carriage return: key files use LF line endings only, so
    /// that each key has exactly one file encoding (found by fuzzing: CR and
    /// CRLF files were accepted and re-encoded differently).
    #[error("key file has CR (Windows) line endings; convert it to LF line endings")]
    CarriageReturn,
    /// The PEM framing or base64 is invalid, or headers are present.
    #[error("invalid PEM (RFC 7468 strict, no headers): {0}")]
    Pem(pem_rfc7468::Error),
    /// The file is another kind of key.
    #[error("wrong key file: its label is {found:?} but {expected:?} is needed")]
    WrongLabel {
        /// The label in the file.
        found: String,
        /// The label the caller asked for.
        expected: &'static str,
    },
    /// The label is none of this crate's labels.
    #[error("unknown key file label {0:?}")]
    UnknownLabel(String),
    /// The body's format version is not [`FORMAT_VERSION`].
    #[error("unsupported key file format version {0} (this build reads version 1)")]
    BadVersion(u8),
    /// The body's kind byte disagrees with the PEM label.
    #[error("the key file body is of kind {found:#04x}, which does not match its label {label:?}")]
    KindMismatch {
        /// The label of the file.
        label: &'static str,
        /// The kind byte found in the body.
        found: u8,
    },
    /// The suite tag is neither CS (1) nor P2P (2).
    #[error("unknown suite tag {0}")]
    UnknownSuite(u8),
    /// The key belongs to the other suite.
    #[error("the key file is for the {found} suite; a {expected} key is needed")]
    WrongSuite {
        /// The suite this kind of key belongs to.
        expected: Suite,
        /// The suite tag in the file.
        found: Suite,
    },
    /// The permit-policy tag is neither 0 (off) nor 1 (required).
    #[error("unknown permit policy tag {0}")]
    BadPolicy(u8),
    /// The deployment's `dta_count` is 0.
    #[error("the deployment's D-TA count is 0")]
    NoDtas,
    /// The P2P epoch length is below [`MIN_EPOCH_SECONDS`].
    #[error("the P2P epoch length is {0} s; at least 60 s is required")]
    EpochTooShort(u32),
    /// The body ends before a field.
    #[error("key file body too short: {field} needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Its size.
        needed: usize,
        /// The bytes that were left.
        remaining: usize,
    },
    /// Bytes follow the secret.
    #[error("{0} unexpected bytes after the key")]
    TrailingBytes(usize),
    /// The identity is empty, not UTF-8, not canonical, or too long.
    #[error("bad identity in key file: {0}")]
    Identity(IdentityError),
    /// A time permit for day 0 (which means "no permit").
    #[error("a time permit cannot be for day 0")]
    DayZero,
    /// A time permit in a deployment whose permit policy is off.
    #[error("a time permit in a deployment whose permit policy is off")]
    PermitsOff,
    /// The point is not a valid compressed point of the prime-order subgroup,
    /// or is the identity.
    #[error("bad point in key file: {0}")]
    BadPoint(DecodeError),
    /// The scalar is not below the group order, or is zero.
    #[error("bad scalar in key file: {0}")]
    BadScalar(DecodeError),
}

/// A key type with a PEM file format.
pub trait KeyFile: Sized {
    /// The PEM label of this kind.
    const LABEL: &'static str;

    /// Encodes the key as a PEM document (LF line endings, trailing newline).
    /// Fails only for a key that no valid file can hold (which the typed
    /// constructors never produce).
    fn to_pem(&self) -> Result<Zeroizing<String>, KeyFileError>;

    /// Decodes and checks a PEM document of this kind (see the module docs
    /// for every check and the error each failure gives).
    fn from_pem(pem: &str) -> Result<Self, KeyFileError>;

    /// Reads and decodes the key file at `path` as [`from_pem`](Self::from_pem)
    /// does, in memory wiped afterwards. Fails with a [`LoadError`] that names
    /// the file: unreadable, too large or not text, or invalid contents (the
    /// [`KeyFileError`] as its source).
    fn from_pem_file(path: impl AsRef<std::path::Path>) -> Result<Self, LoadError> {
        load::load(path.as_ref())
    }
}

// ---------------------------------------------------------------------------
// Byte reading and writing
// ---------------------------------------------------------------------------

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], KeyFileError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(KeyFileError::Truncated {
                field,
                needed: n,
                remaining: self.rest.len(),
            })?;
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], KeyFileError> {
        let remaining = self.rest.len();
        self.take(N, field)?
            .try_into()
            .map_err(|_| KeyFileError::Truncated {
                field,
                needed: N,
                remaining,
            })
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, KeyFileError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    fn be32(&mut self, field: &'static str) -> Result<u32, KeyFileError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn identity(&mut self) -> Result<Identity, KeyFileError> {
        let len = self.u8("identity length")?;
        if len == 0 {
            return Err(KeyFileError::Identity(IdentityError::Empty));
        }
        let bytes = self.take(usize::from(len), "identity")?;
        Identity::from_canonical_bytes(bytes).map_err(KeyFileError::Identity)
    }

    fn g1(&mut self) -> Result<G1, KeyFileError> {
        G1::from_bytes(self.take(G1_BYTES, "G1 point")?).map_err(KeyFileError::BadPoint)
    }

    fn g2(&mut self) -> Result<G2, KeyFileError> {
        G2::from_bytes(self.take(G2_BYTES, "G2 point")?).map_err(KeyFileError::BadPoint)
    }

    fn finish(self) -> Result<(), KeyFileError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(KeyFileError::TrailingBytes(self.rest.len()))
        }
    }
}

fn write_identity(out: &mut Vec<u8>, identity: &Identity) -> Result<(), KeyFileError> {
    let bytes = identity.as_bytes();
    let len = u8::try_from(bytes.len())
        .map_err(|_| KeyFileError::Identity(IdentityError::TooLong(bytes.len())))?;
    out.push(len);
    out.extend_from_slice(bytes);
    Ok(())
}

fn write_g1(out: &mut Vec<u8>, p: &G1) {
    out.extend_from_slice(&Zeroizing::new(p.to_bytes())[..]);
}

fn write_g2(out: &mut Vec<u8>, p: &G2) {
    out.extend_from_slice(&Zeroizing::new(p.to_bytes())[..]);
}

fn write_header(out: &mut Vec<u8>, kind: u8, deployment: &Deployment) {
    out.push(FORMAT_VERSION);
    out.push(kind);
    out.push(deployment.suite().tag());
    out.extend_from_slice(&deployment.id().0);
    out.push(deployment.dta_count());
    match deployment {
        Deployment::Cs(d) => out.push(d.permits.tag()),
        Deployment::P2p(d) => out.extend_from_slice(&d.epoch_seconds.to_be_bytes()),
    }
}

fn read_header(
    r: &mut Reader<'_>,
    label: &'static str,
    kind: u8,
    suite: Option<Suite>,
) -> Result<Deployment, KeyFileError> {
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(KeyFileError::BadVersion(version));
    }
    let found = r.u8("kind")?;
    if found != kind {
        return Err(KeyFileError::KindMismatch { label, found });
    }
    let tag = r.u8("suite tag")?;
    let found = Suite::from_tag(tag).ok_or(KeyFileError::UnknownSuite(tag))?;
    if let Some(expected) = suite {
        if expected != found {
            return Err(KeyFileError::WrongSuite { expected, found });
        }
    }
    let id = DeploymentId(r.array("deployment id")?);
    let dta_count = r.u8("D-TA count")?;
    if dta_count == 0 {
        return Err(KeyFileError::NoDtas);
    }
    Ok(match found {
        Suite::Cs => {
            let tag = r.u8("permit policy")?;
            let permits = PermitPolicy::from_tag(tag).ok_or(KeyFileError::BadPolicy(tag))?;
            Deployment::Cs(CsDeployment {
                id,
                dta_count,
                permits,
            })
        }
        Suite::P2p => {
            let epoch_seconds = r.be32("epoch length")?;
            if epoch_seconds < MIN_EPOCH_SECONDS {
                return Err(KeyFileError::EpochTooShort(epoch_seconds));
            }
            Deployment::P2p(P2pDeployment {
                id,
                dta_count,
                epoch_seconds,
            })
        }
    })
}

fn cs_deployment(d: Deployment) -> Result<CsDeployment, KeyFileError> {
    match d {
        Deployment::Cs(d) => Ok(d),
        Deployment::P2p(_) => Err(KeyFileError::WrongSuite {
            expected: Suite::Cs,
            found: Suite::P2p,
        }),
    }
}

fn p2p_deployment(d: Deployment) -> Result<P2pDeployment, KeyFileError> {
    match d {
        Deployment::P2p(d) => Ok(d),
        Deployment::Cs(_) => Err(KeyFileError::WrongSuite {
            expected: Suite::P2p,
            found: Suite::Cs,
        }),
    }
}

// ---------------------------------------------------------------------------
// PEM framing
// ---------------------------------------------------------------------------

fn new_body() -> Zeroizing<Vec<u8>> {
    // Sized once so that no reallocation leaves an un-wiped copy behind.
    Zeroizing::new(Vec::with_capacity(MAX_BODY))
}

fn encode_pem(label: &'static str, body: &[u8]) -> Result<Zeroizing<String>, KeyFileError> {
    use pem_rfc7468::LineEnding;
    let len = pem_rfc7468::encoded_len(label, LineEnding::LF, body).map_err(KeyFileError::Pem)?;
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let text =
        pem_rfc7468::encode(label, LineEnding::LF, body, &mut buf).map_err(KeyFileError::Pem)?;
    Ok(Zeroizing::new(text.to_owned()))
}

fn check_begins_with_pem(pem: &str) -> Result<(), KeyFileError> {
    if pem.starts_with("-----BEGIN ") {
        Ok(())
    } else {
        Err(KeyFileError::NotPem)
    }
}

/// The label of a PEM document (framing checked, body not decoded).
fn pem_label(pem: &str) -> Result<&str, KeyFileError> {
    check_begins_with_pem(pem)?;
    if pem.contains('\r') {
        return Err(KeyFileError::CarriageReturn);
    }
    pem_rfc7468::decode_label(pem.as_bytes()).map_err(KeyFileError::Pem)
}

fn decode_pem(pem: &str, expected: &'static str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
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

// ---------------------------------------------------------------------------
// Per-kind formats
// ---------------------------------------------------------------------------

/// A key kind's fields after the header (and after the D-TA id of a share).
trait KeyBody: Sized {
    const LABEL: &'static str;
    const KIND: u8;
    const SUITE: Suite;
    fn deployment_any(&self) -> Deployment;
    fn write_rest(&self, out: &mut Vec<u8>) -> Result<(), KeyFileError>;
    fn read_rest(r: &mut Reader<'_>, deployment: Deployment) -> Result<Self, KeyFileError>;
}

/// Kinds that D-TAs issue in shares.
trait ShareBody: KeyBody {
    const SHARE_LABEL: &'static str;
}

fn key_to_pem<K: KeyBody>(key: &K) -> Result<Zeroizing<String>, KeyFileError> {
    let mut body = new_body();
    write_header(&mut body, K::KIND, &key.deployment_any());
    key.write_rest(&mut body)?;
    encode_pem(K::LABEL, &body)
}

fn key_from_pem<K: KeyBody>(pem: &str) -> Result<K, KeyFileError> {
    let body = decode_pem(pem, K::LABEL)?;
    let mut r = Reader { rest: &body };
    let deployment = read_header(&mut r, K::LABEL, K::KIND, Some(K::SUITE))?;
    let key = K::read_rest(&mut r, deployment)?;
    r.finish()?;
    Ok(key)
}

fn share_to_pem<K: ShareBody>(share: &Share<K>) -> Result<Zeroizing<String>, KeyFileError> {
    let mut body = new_body();
    write_header(&mut body, K::KIND | SHARE_FLAG, &share.key.deployment_any());
    body.extend_from_slice(&share.dta.0);
    share.key.write_rest(&mut body)?;
    encode_pem(K::SHARE_LABEL, &body)
}

fn share_from_pem<K: ShareBody>(pem: &str) -> Result<Share<K>, KeyFileError> {
    let body = decode_pem(pem, K::SHARE_LABEL)?;
    let mut r = Reader { rest: &body };
    let deployment = read_header(&mut r, K::SHARE_LABEL, K::KIND | SHARE_FLAG, Some(K::SUITE))?;
    let dta = DtaId(r.array("D-TA id")?);
    let key = K::read_rest(&mut r, deployment)?;
    r.finish()?;
    Ok(Share { dta, key })
}

impl KeyBody for CsServerSecret {
    const LABEL: &'static str = LABEL_CS_SERVER_SECRET;
    const KIND: u8 = KIND_CS_SERVER_SECRET;
    const SUITE: Suite = Suite::Cs;
    fn deployment_any(&self) -> Deployment {
        Deployment::Cs(self.deployment)
    }
    fn write_rest(&self, out: &mut Vec<u8>) -> Result<(), KeyFileError> {
        write_g2(out, &self.point);
        Ok(())
    }
    fn read_rest(r: &mut Reader<'_>, deployment: Deployment) -> Result<Self, KeyFileError> {
        Ok(Self {
            deployment: cs_deployment(deployment)?,
            point: r.g2()?,
        })
    }
}

/// The CS client secret and the token share one body layout (identity, then
/// a G1 point); only their label and kind byte differ.
macro_rules! cs_identity_g1_body {
    ($key:ty, $label:expr, $kind:expr) => {
        impl KeyBody for $key {
            const LABEL: &'static str = $label;
            const KIND: u8 = $kind;
            const SUITE: Suite = Suite::Cs;
            fn deployment_any(&self) -> Deployment {
                Deployment::Cs(self.deployment)
            }
            fn write_rest(&self, out: &mut Vec<u8>) -> Result<(), KeyFileError> {
                write_identity(out, &self.identity)?;
                write_g1(out, &self.point);
                Ok(())
            }
            fn read_rest(r: &mut Reader<'_>, deployment: Deployment) -> Result<Self, KeyFileError> {
                let deployment = cs_deployment(deployment)?;
                let identity = r.identity()?;
                Ok(Self {
                    deployment,
                    identity,
                    point: r.g1()?,
                })
            }
        }
    };
}
cs_identity_g1_body!(
    CsClientSecret,
    LABEL_CS_CLIENT_SECRET,
    KIND_CS_CLIENT_SECRET
);
cs_identity_g1_body!(CsToken, LABEL_CS_TOKEN, KIND_CS_TOKEN);

impl KeyBody for CsTimePermit {
    const LABEL: &'static str = LABEL_CS_TIME_PERMIT;
    const KIND: u8 = KIND_CS_TIME_PERMIT;
    const SUITE: Suite = Suite::Cs;
    fn deployment_any(&self) -> Deployment {
        Deployment::Cs(self.deployment)
    }
    fn write_rest(&self, out: &mut Vec<u8>) -> Result<(), KeyFileError> {
        write_identity(out, &self.identity)?;
        out.extend_from_slice(&self.day.to_be_bytes());
        write_g1(out, &self.point);
        Ok(())
    }
    fn read_rest(r: &mut Reader<'_>, deployment: Deployment) -> Result<Self, KeyFileError> {
        let deployment = cs_deployment(deployment)?;
        if deployment.permits == PermitPolicy::Off {
            return Err(KeyFileError::PermitsOff);
        }
        let identity = r.identity()?;
        let day = r.be32("day")?;
        if day == 0 {
            return Err(KeyFileError::DayZero);
        }
        Ok(Self {
            deployment,
            identity,
            day,
            point: r.g1()?,
        })
    }
}

impl KeyBody for P2pServerKey {
    const LABEL: &'static str = LABEL_P2P_SERVER_KEY;
    const KIND: u8 = KIND_P2P_SERVER_KEY;
    const SUITE: Suite = Suite::P2p;
    fn deployment_any(&self) -> Deployment {
        Deployment::P2p(self.deployment)
    }
    fn write_rest(&self, out: &mut Vec<u8>) -> Result<(), KeyFileError> {
        write_identity(out, &self.identity)?;
        out.extend_from_slice(&self.epoch.to_be_bytes());
        write_g1(out, &self.point);
        Ok(())
    }
    fn read_rest(r: &mut Reader<'_>, deployment: Deployment) -> Result<Self, KeyFileError> {
        let deployment = p2p_deployment(deployment)?;
        let identity = r.identity()?;
        let epoch = r.be32("epoch")?;
        Ok(Self {
            deployment,
            identity,
            epoch,
            point: r.g1()?,
        })
    }
}

impl KeyBody for P2pClientKey {
    const LABEL: &'static str = LABEL_P2P_CLIENT_KEY;
    const KIND: u8 = KIND_P2P_CLIENT_KEY;
    const SUITE: Suite = Suite::P2p;
    fn deployment_any(&self) -> Deployment {
        Deployment::P2p(self.deployment)
    }
    fn write_rest(&self, out: &mut Vec<u8>) -> Result<(), KeyFileError> {
        write_identity(out, &self.identity)?;
        out.extend_from_slice(&self.epoch.to_be_bytes());
        write_g2(out, &self.point);
        Ok(())
    }
    fn read_rest(r: &mut Reader<'_>, deployment: Deployment) -> Result<Self, KeyFileError> {
        let deployment = p2p_deployment(deployment)?;
        let identity = r.identity()?;
        let epoch = r.be32("epoch")?;
        Ok(Self {
            deployment,
            identity,
            epoch,
            point: r.g2()?,
        })
    }
}

macro_rules! key_file {
    ($($key:ty => $share_label:expr),* ; $($plain:ty),*) => {
        $(
            impl ShareBody for $key {
                const SHARE_LABEL: &'static str = $share_label;
            }
            impl KeyFile for Share<$key> {
                const LABEL: &'static str = $share_label;
                fn to_pem(&self) -> Result<Zeroizing<String>, KeyFileError> {
                    share_to_pem(self)
                }
                fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
                    share_from_pem(pem)
                }
            }
        )*
        $(
            impl KeyFile for $plain {
                const LABEL: &'static str = <$plain as KeyBody>::LABEL;
                fn to_pem(&self) -> Result<Zeroizing<String>, KeyFileError> {
                    key_to_pem(self)
                }
                fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
                    key_from_pem(pem)
                }
            }
        )*
    };
}

key_file!(
    CsServerSecret => LABEL_CS_SERVER_SECRET_SHARE,
    CsClientSecret => LABEL_CS_CLIENT_SECRET_SHARE,
    CsTimePermit => LABEL_CS_TIME_PERMIT_SHARE,
    P2pServerKey => LABEL_P2P_SERVER_KEY_SHARE,
    P2pClientKey => LABEL_P2P_CLIENT_KEY_SHARE
    ;
    CsServerSecret, CsClientSecret, CsToken, CsTimePermit, P2pServerKey, P2pClientKey
);

impl KeyFile for MasterShare {
    const LABEL: &'static str = LABEL_MASTER_SHARE;

    fn to_pem(&self) -> Result<Zeroizing<String>, KeyFileError> {
        let mut body = new_body();
        write_header(&mut body, KIND_MASTER_SHARE, &self.deployment);
        body.extend_from_slice(&self.dta.0);
        body.extend_from_slice(&Zeroizing::new(self.secret.to_be_bytes())[..]);
        encode_pem(LABEL_MASTER_SHARE, &body)
    }

    fn from_pem(pem: &str) -> Result<Self, KeyFileError> {
        let body = decode_pem(pem, LABEL_MASTER_SHARE)?;
        let mut r = Reader { rest: &body };
        let deployment = read_header(&mut r, LABEL_MASTER_SHARE, KIND_MASTER_SHARE, None)?;
        let dta = DtaId(r.array("D-TA id")?);
        let secret = Scalar::from_be_bytes_nonzero(r.take(SCALAR_BYTES, "scalar")?)
            .map_err(KeyFileError::BadScalar)?;
        r.finish()?;
        Ok(Self {
            deployment,
            dta,
            secret,
        })
    }
}

// ---------------------------------------------------------------------------
// Any kind
// ---------------------------------------------------------------------------

/// A key file of any kind, as returned by [`from_pem_any`].
#[derive(Debug)]
pub enum AnyKey {
    /// `MILAGRO DTA MASTER SHARE`.
    MasterShare(MasterShare),
    /// `MILAGRO CS SERVER SECRET`.
    CsServerSecret(CsServerSecret),
    /// `MILAGRO CS SERVER SECRET SHARE`.
    CsServerSecretShare(Share<CsServerSecret>),
    /// `MILAGRO CS CLIENT SECRET`.
    CsClientSecret(CsClientSecret),
    /// `MILAGRO CS CLIENT SECRET SHARE`.
    CsClientSecretShare(Share<CsClientSecret>),
    /// `MILAGRO CS TOKEN`.
    CsToken(CsToken),
    /// `MILAGRO CS TIME PERMIT`.
    CsTimePermit(CsTimePermit),
    /// `MILAGRO CS TIME PERMIT SHARE`.
    CsTimePermitShare(Share<CsTimePermit>),
    /// `MILAGRO P2P SERVER KEY`.
    P2pServerKey(P2pServerKey),
    /// `MILAGRO P2P SERVER KEY SHARE`.
    P2pServerKeyShare(Share<P2pServerKey>),
    /// `MILAGRO P2P CLIENT KEY`.
    P2pClientKey(P2pClientKey),
    /// `MILAGRO P2P CLIENT KEY SHARE`.
    P2pClientKeyShare(Share<P2pClientKey>),
}

impl AnyKey {
    /// The PEM label of the key's kind.
    pub fn label(&self) -> &'static str {
        match self {
            Self::MasterShare(_) => LABEL_MASTER_SHARE,
            Self::CsServerSecret(_) => LABEL_CS_SERVER_SECRET,
            Self::CsServerSecretShare(_) => LABEL_CS_SERVER_SECRET_SHARE,
            Self::CsClientSecret(_) => LABEL_CS_CLIENT_SECRET,
            Self::CsClientSecretShare(_) => LABEL_CS_CLIENT_SECRET_SHARE,
            Self::CsToken(_) => LABEL_CS_TOKEN,
            Self::CsTimePermit(_) => LABEL_CS_TIME_PERMIT,
            Self::CsTimePermitShare(_) => LABEL_CS_TIME_PERMIT_SHARE,
            Self::P2pServerKey(_) => LABEL_P2P_SERVER_KEY,
            Self::P2pServerKeyShare(_) => LABEL_P2P_SERVER_KEY_SHARE,
            Self::P2pClientKey(_) => LABEL_P2P_CLIENT_KEY,
            Self::P2pClientKeyShare(_) => LABEL_P2P_CLIENT_KEY_SHARE,
        }
    }

    /// The deployment the key belongs to.
    pub fn deployment(&self) -> Deployment {
        match self {
            Self::MasterShare(k) => k.deployment,
            Self::CsServerSecret(k) => k.deployment_any(),
            Self::CsServerSecretShare(k) => k.key.deployment_any(),
            Self::CsClientSecret(k) => k.deployment_any(),
            Self::CsClientSecretShare(k) => k.key.deployment_any(),
            Self::CsToken(k) => k.deployment_any(),
            Self::CsTimePermit(k) => k.deployment_any(),
            Self::CsTimePermitShare(k) => k.key.deployment_any(),
            Self::P2pServerKey(k) => k.deployment_any(),
            Self::P2pServerKeyShare(k) => k.key.deployment_any(),
            Self::P2pClientKey(k) => k.deployment_any(),
            Self::P2pClientKeyShare(k) => k.key.deployment_any(),
        }
    }

    /// The issuing D-TA, for a master share or a share.
    pub fn dta(&self) -> Option<DtaId> {
        match self {
            Self::MasterShare(k) => Some(k.dta),
            Self::CsServerSecretShare(k) => Some(k.dta),
            Self::CsClientSecretShare(k) => Some(k.dta),
            Self::CsTimePermitShare(k) => Some(k.dta),
            Self::P2pServerKeyShare(k) => Some(k.dta),
            Self::P2pClientKeyShare(k) => Some(k.dta),
            _ => None,
        }
    }

    /// The identity the key was issued to, for the kinds that have one.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Self::CsClientSecret(k) => Some(&k.identity),
            Self::CsClientSecretShare(k) => Some(&k.key.identity),
            Self::CsToken(k) => Some(&k.identity),
            Self::CsTimePermit(k) => Some(&k.identity),
            Self::CsTimePermitShare(k) => Some(&k.key.identity),
            Self::P2pServerKey(k) => Some(&k.identity),
            Self::P2pServerKeyShare(k) => Some(&k.key.identity),
            Self::P2pClientKey(k) => Some(&k.identity),
            Self::P2pClientKeyShare(k) => Some(&k.key.identity),
            _ => None,
        }
    }
}

/// Decodes a key file of any kind, dispatching on its label, with the same
/// checks as the kind's [`KeyFile::from_pem`]. An unknown label gives
/// [`KeyFileError::UnknownLabel`].
pub fn from_pem_any(pem: &str) -> Result<AnyKey, KeyFileError> {
    Ok(match pem_label(pem)? {
        LABEL_MASTER_SHARE => AnyKey::MasterShare(MasterShare::from_pem(pem)?),
        LABEL_CS_SERVER_SECRET => AnyKey::CsServerSecret(KeyFile::from_pem(pem)?),
        LABEL_CS_SERVER_SECRET_SHARE => AnyKey::CsServerSecretShare(KeyFile::from_pem(pem)?),
        LABEL_CS_CLIENT_SECRET => AnyKey::CsClientSecret(KeyFile::from_pem(pem)?),
        LABEL_CS_CLIENT_SECRET_SHARE => AnyKey::CsClientSecretShare(KeyFile::from_pem(pem)?),
        LABEL_CS_TOKEN => AnyKey::CsToken(KeyFile::from_pem(pem)?),
        LABEL_CS_TIME_PERMIT => AnyKey::CsTimePermit(KeyFile::from_pem(pem)?),
        LABEL_CS_TIME_PERMIT_SHARE => AnyKey::CsTimePermitShare(KeyFile::from_pem(pem)?),
        LABEL_P2P_SERVER_KEY => AnyKey::P2pServerKey(KeyFile::from_pem(pem)?),
        LABEL_P2P_SERVER_KEY_SHARE => AnyKey::P2pServerKeyShare(KeyFile::from_pem(pem)?),
        LABEL_P2P_CLIENT_KEY => AnyKey::P2pClientKey(KeyFile::from_pem(pem)?),
        LABEL_P2P_CLIENT_KEY_SHARE => AnyKey::P2pClientKeyShare(KeyFile::from_pem(pem)?),
        other => return Err(KeyFileError::UnknownLabel(other.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dta::Combine;
    use crate::pairing::SeededEntropy;

    struct Fixture {
        cs: Vec<MasterShare>,
        p2p: Vec<MasterShare>,
        id: Identity,
    }

    fn fixture() -> Fixture {
        let rng = SeededEntropy::new(b"keyfile");
        let cs = Deployment::Cs(CsDeployment::new(2, PermitPolicy::Required, &rng).unwrap());
        let p2p = Deployment::P2p(P2pDeployment::new(2, 3_600, &rng).unwrap());
        Fixture {
            cs: (0..2)
                .map(|_| MasterShare::generate(cs, &rng).unwrap())
                .collect(),
            p2p: (0..2)
                .map(|_| MasterShare::generate(p2p, &rng).unwrap())
                .collect(),
            id: Identity::new("alice@example.com").unwrap(),
        }
    }

    fn body_of(pem: &str) -> Vec<u8> {
        pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1
    }

    fn pem_of(label: &str, body: &[u8]) -> String {
        pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, body).unwrap()
    }

    /// Re-encodes `pem` under `label` after `edit` changed its body.
    fn edited(pem: &str, label: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut body = body_of(pem);
        edit(&mut body);
        pem_of(label, &body)
    }

    fn client_secret_share(f: &Fixture, i: usize) -> Share<CsClientSecret> {
        f.cs[i].issue_cs_client_secret(&f.id).unwrap()
    }

    #[test]
    fn every_kind_round_trips() {
        let f = fixture();
        let id = &f.id;

        for m in f.cs.iter().chain(&f.p2p) {
            let back = MasterShare::from_pem(&m.to_pem().unwrap()).unwrap();
            assert_eq!(
                (back.deployment, back.dta, back.secret.to_be_bytes()),
                (m.deployment, m.dta, m.secret.to_be_bytes())
            );
        }

        macro_rules! round_trip {
            ($ty:ty, $shares:expr, $label:expr, $share_label:expr, |$k:ident| $meta:expr) => {{
                let shares: Vec<Share<$ty>> = $shares;
                for s in &shares {
                    let pem = s.to_pem().unwrap();
                    assert!(pem.starts_with(concat!("-----BEGIN ", $share_label, "-----\n")));
                    let back = Share::<$ty>::from_pem(&pem).unwrap();
                    assert_eq!(back.dta, s.dta);
                    let ($k, k2) = (&back.key, &s.key);
                    assert_eq!($meta, {
                        let $k = k2;
                        $meta
                    });
                    assert!(back.key.point == s.key.point);
                }
                let key = <$ty>::combine(&shares).unwrap();
                let pem = key.to_pem().unwrap();
                assert!(pem.starts_with(concat!("-----BEGIN ", $label, "-----\n")));
                let back = <$ty>::from_pem(&pem).unwrap();
                let ($k, k2) = (&back, &key);
                assert_eq!($meta, {
                    let $k = k2;
                    $meta
                });
                assert!(back.point == key.point);
            }};
        }

        round_trip!(
            CsServerSecret,
            f.cs.iter()
                .map(|m| m.issue_cs_server_secret().unwrap())
                .collect(),
            "MILAGRO CS SERVER SECRET",
            "MILAGRO CS SERVER SECRET SHARE",
            |k| k.deployment
        );
        round_trip!(
            CsClientSecret,
            f.cs.iter()
                .map(|m| m.issue_cs_client_secret(id).unwrap())
                .collect(),
            "MILAGRO CS CLIENT SECRET",
            "MILAGRO CS CLIENT SECRET SHARE",
            |k| (k.deployment, k.identity.clone())
        );
        round_trip!(
            CsTimePermit,
            f.cs.iter()
                .map(|m| m.issue_cs_time_permit(id, 20_416).unwrap())
                .collect(),
            "MILAGRO CS TIME PERMIT",
            "MILAGRO CS TIME PERMIT SHARE",
            |k| (k.deployment, k.identity.clone(), k.day)
        );
        round_trip!(
            P2pServerKey,
            f.p2p
                .iter()
                .map(|m| m.issue_p2p_server_key(id, 77).unwrap())
                .collect(),
            "MILAGRO P2P SERVER KEY",
            "MILAGRO P2P SERVER KEY SHARE",
            |k| (k.deployment, k.identity.clone(), k.epoch)
        );
        round_trip!(
            P2pClientKey,
            f.p2p
                .iter()
                .map(|m| m.issue_p2p_client_key(id, 77).unwrap())
                .collect(),
            "MILAGRO P2P CLIENT KEY",
            "MILAGRO P2P CLIENT KEY SHARE",
            |k| (k.deployment, k.identity.clone(), k.epoch)
        );

        let cs = CsClientSecret::combine(&[client_secret_share(&f, 0), client_secret_share(&f, 1)])
            .unwrap();
        let token = CsToken {
            deployment: cs.deployment,
            point: &cs.point
                - &(&crate::dta::cs_identity_point(&id.cs_hid()) * &Scalar::from_u64(1234)),
            identity: id.clone(),
        };
        let back = CsToken::from_pem(&token.to_pem().unwrap()).unwrap();
        assert_eq!((back.deployment, &back.identity), (token.deployment, id));
        assert!(back.point == token.point);
    }

    #[test]
    fn layout_is_as_documented() {
        let f = fixture();
        let share = client_secret_share(&f, 0);
        let body = body_of(&share.to_pem().unwrap());
        let dep = share.key.deployment;
        let mut want = vec![1, 0x83, 1];
        want.extend_from_slice(&dep.id.0);
        want.extend_from_slice(&[2, 1]);
        want.extend_from_slice(&share.dta.0);
        want.push(17);
        want.extend_from_slice(b"alice@example.com");
        want.extend_from_slice(&share.key.point.to_bytes());
        assert_eq!(body, want);
        assert_eq!(body.len(), 95);

        let m = &f.p2p[0];
        let body = body_of(&m.to_pem().unwrap());
        let Deployment::P2p(p) = m.deployment else {
            panic!("fixture is P2P")
        };
        let mut want = vec![1, 0x01, 2];
        want.extend_from_slice(&p.id.0);
        want.push(2);
        want.extend_from_slice(&3_600u32.to_be_bytes());
        want.extend_from_slice(&m.dta.0);
        want.extend_from_slice(&m.secret.to_be_bytes());
        assert_eq!(body, want);
        assert_eq!(body.len(), 64);
    }

    #[test]
    fn wrong_label_names_both() {
        let f = fixture();
        let cs = CsClientSecret::combine(&[client_secret_share(&f, 0), client_secret_share(&f, 1)])
            .unwrap();
        let err = CsToken::from_pem(&cs.to_pem().unwrap()).unwrap_err();
        assert_eq!(
            err,
            KeyFileError::WrongLabel {
                found: "MILAGRO CS CLIENT SECRET".into(),
                expected: "MILAGRO CS TOKEN"
            }
        );
        assert!(err.to_string().contains("\"MILAGRO CS CLIENT SECRET\""));
        assert!(err.to_string().contains("\"MILAGRO CS TOKEN\""));
    }

    #[test]
    fn shares_and_combined_keys_are_not_interchangeable() {
        let f = fixture();
        let share = client_secret_share(&f, 0);
        let share_pem = share.to_pem().unwrap();
        assert_eq!(
            CsClientSecret::from_pem(&share_pem).unwrap_err(),
            KeyFileError::WrongLabel {
                found: LABEL_CS_CLIENT_SECRET_SHARE.into(),
                expected: LABEL_CS_CLIENT_SECRET
            }
        );
        let key = CsClientSecret::combine(&[share.clone(), client_secret_share(&f, 1)]).unwrap();
        let key_pem = key.to_pem().unwrap();
        assert_eq!(
            Share::<CsClientSecret>::from_pem(&key_pem).unwrap_err(),
            KeyFileError::WrongLabel {
                found: LABEL_CS_CLIENT_SECRET.into(),
                expected: LABEL_CS_CLIENT_SECRET_SHARE
            }
        );
        // Relabelled by hand: the kind byte inside the body catches it.
        let relabelled = edited(&share_pem, LABEL_CS_CLIENT_SECRET, |_| {});
        assert_eq!(
            CsClientSecret::from_pem(&relabelled).unwrap_err(),
            KeyFileError::KindMismatch {
                label: LABEL_CS_CLIENT_SECRET,
                found: 0x83
            }
        );
        let relabelled = edited(&key_pem, LABEL_CS_CLIENT_SECRET_SHARE, |_| {});
        assert_eq!(
            Share::<CsClientSecret>::from_pem(&relabelled).unwrap_err(),
            KeyFileError::KindMismatch {
                label: LABEL_CS_CLIENT_SECRET_SHARE,
                found: 0x03
            }
        );
        // A client secret relabelled as a token.
        let relabelled = edited(&key_pem, LABEL_CS_TOKEN, |_| {});
        assert_eq!(
            CsToken::from_pem(&relabelled).unwrap_err(),
            KeyFileError::KindMismatch {
                label: LABEL_CS_TOKEN,
                found: 0x03
            }
        );
    }

    #[test]
    fn suite_tags_are_enforced() {
        let f = fixture();
        // A P2P server key body whose kind byte claims a CS client secret: the
        // suite tag (2) is refused for a CS kind.
        let p2p = f.p2p[0].issue_p2p_server_key(&f.id, 5).unwrap();
        let pem = edited(&p2p.to_pem().unwrap(), LABEL_CS_CLIENT_SECRET_SHARE, |b| {
            b[1] = 0x83
        });
        assert_eq!(
            Share::<CsClientSecret>::from_pem(&pem).unwrap_err(),
            KeyFileError::WrongSuite {
                expected: Suite::Cs,
                found: Suite::P2p
            }
        );
        let ss = f.cs[0].issue_cs_server_secret().unwrap();
        let pem = edited(&ss.to_pem().unwrap(), LABEL_P2P_CLIENT_KEY_SHARE, |b| {
            b[1] = 0x87
        });
        assert_eq!(
            Share::<P2pClientKey>::from_pem(&pem).unwrap_err(),
            KeyFileError::WrongSuite {
                expected: Suite::P2p,
                found: Suite::Cs
            }
        );
        let pem = edited(&ss.to_pem().unwrap(), LABEL_CS_SERVER_SECRET_SHARE, |b| {
            b[2] = 9
        });
        assert_eq!(
            Share::<CsServerSecret>::from_pem(&pem).unwrap_err(),
            KeyFileError::UnknownSuite(9)
        );
        // A master share keeps its own suite.
        let back = MasterShare::from_pem(&f.p2p[0].to_pem().unwrap()).unwrap();
        assert_eq!(back.suite(), Suite::P2p);
    }

    #[test]
    fn header_fields_are_checked() {
        let f = fixture();
        let pem = client_secret_share(&f, 0).to_pem().unwrap();
        let label = LABEL_CS_CLIENT_SECRET_SHARE;
        let load = |edit: fn(&mut Vec<u8>)| {
            Share::<CsClientSecret>::from_pem(&edited(&pem, label, edit)).unwrap_err()
        };
        assert_eq!(load(|b| b[0] = 2), KeyFileError::BadVersion(2));
        assert_eq!(load(|b| b[19] = 0), KeyFileError::NoDtas);
        assert_eq!(load(|b| b[20] = 7), KeyFileError::BadPolicy(7));
        assert_eq!(
            load(|b| b.truncate(15)),
            KeyFileError::Truncated {
                field: "deployment id",
                needed: 16,
                remaining: 12
            }
        );
        assert_eq!(
            load(|b| b.truncate(1)),
            KeyFileError::Truncated {
                field: "kind",
                needed: 1,
                remaining: 0
            }
        );

        let p2p = f.p2p[0].issue_p2p_client_key(&f.id, 5).unwrap();
        let pem = edited(&p2p.to_pem().unwrap(), LABEL_P2P_CLIENT_KEY_SHARE, |b| {
            b[20..24].copy_from_slice(&59u32.to_be_bytes())
        });
        assert_eq!(
            Share::<P2pClientKey>::from_pem(&pem).unwrap_err(),
            KeyFileError::EpochTooShort(59)
        );
    }

    #[test]
    fn lengths_are_exact() {
        let f = fixture();
        let pem = client_secret_share(&f, 0).to_pem().unwrap();
        let label = LABEL_CS_CLIENT_SECRET_SHARE;
        let load = |edit: fn(&mut Vec<u8>)| {
            Share::<CsClientSecret>::from_pem(&edited(&pem, label, edit)).unwrap_err()
        };
        assert_eq!(
            load(|b| {
                b.pop();
            }),
            KeyFileError::Truncated {
                field: "G1 point",
                needed: 48,
                remaining: 47
            }
        );
        assert_eq!(
            load(|b| b.extend_from_slice(&[0, 0])),
            KeyFileError::TrailingBytes(2)
        );
        // An identity length running past the end.
        assert_eq!(
            load(|b| b[29] = 200),
            KeyFileError::Truncated {
                field: "identity",
                needed: 200,
                remaining: 17 + 48
            }
        );
        let m = f.cs[0].to_pem().unwrap();
        let err = MasterShare::from_pem(&edited(&m, LABEL_MASTER_SHARE, |b| b.push(1)));
        assert_eq!(err.unwrap_err(), KeyFileError::TrailingBytes(1));
    }

    #[test]
    fn identities_must_be_canonical() {
        let f = fixture();
        let pem = client_secret_share(&f, 0).to_pem().unwrap();
        let label = LABEL_CS_CLIENT_SECRET_SHARE;
        // Identity bytes start at 21 + 8 + 1 = 30; "example" is at 30 + 6.
        let err = Share::<CsClientSecret>::from_pem(&edited(&pem, label, |b| {
            b[36..43].copy_from_slice(b"EXAMPLE")
        }));
        assert_eq!(
            err.unwrap_err(),
            KeyFileError::Identity(IdentityError::NotCanonical("alice@EXAMPLE.com".into()))
        );
        let err = Share::<CsClientSecret>::from_pem(&edited(&pem, label, |b| b[30] = 0xff));
        assert_eq!(
            err.unwrap_err(),
            KeyFileError::Identity(IdentityError::NotUtf8)
        );
        let err = Share::<CsClientSecret>::from_pem(&edited(&pem, label, |b| {
            b.splice(29..30 + 17, [0u8]);
        }));
        assert_eq!(
            err.unwrap_err(),
            KeyFileError::Identity(IdentityError::Empty)
        );
    }

    #[test]
    fn points_and_scalars_are_checked() {
        let f = fixture();
        let cs_pem =
            CsClientSecret::combine(&[client_secret_share(&f, 0), client_secret_share(&f, 1)])
                .unwrap()
                .to_pem()
                .unwrap();
        let label = LABEL_CS_CLIENT_SECRET;
        let point_at = 21 + 1 + 17;
        let with_point = |p: &[u8]| {
            CsClientSecret::from_pem(&edited(&cs_pem, label, |b| {
                b.truncate(point_at);
                b.extend_from_slice(p);
            }))
            .unwrap_err()
        };
        assert_eq!(
            with_point(&G1::identity().to_bytes()),
            KeyFileError::BadPoint(DecodeError::IdentityPoint("G1 point"))
        );
        assert_eq!(
            with_point(&[0xff; 48]),
            KeyFileError::BadPoint(DecodeError::InvalidPoint("G1 point"))
        );
        // (0, 2) is on the curve y² = x³ + 4 but not in the prime-order
        // subgroup (the cofactor is not 1): the subgroup check refuses it.
        let mut off_subgroup = [0u8; 48];
        off_subgroup[0] = 0x80;
        assert_eq!(
            with_point(&off_subgroup),
            KeyFileError::BadPoint(DecodeError::InvalidPoint("G1 point"))
        );

        let ss_pem = f.cs[0].issue_cs_server_secret().unwrap().to_pem().unwrap();
        let err = Share::<CsServerSecret>::from_pem(&edited(
            &ss_pem,
            LABEL_CS_SERVER_SECRET_SHARE,
            |b| {
                b.truncate(29);
                b.extend_from_slice(&G2::identity().to_bytes());
            },
        ));
        assert_eq!(
            err.unwrap_err(),
            KeyFileError::BadPoint(DecodeError::IdentityPoint("G2 point"))
        );

        let m = f.cs[0].to_pem().unwrap();
        let with_scalar = |s: [u8; 32]| {
            MasterShare::from_pem(&edited(&m, LABEL_MASTER_SHARE, |b| {
                b.truncate(29);
                b.extend_from_slice(&s);
            }))
            .unwrap_err()
        };
        assert_eq!(
            with_scalar([0xff; 32]),
            KeyFileError::BadScalar(DecodeError::ScalarOutOfRange)
        );
        // r itself (the group order, big-endian) is refused too.
        let r = hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
            .unwrap();
        assert_eq!(
            with_scalar(r.try_into().unwrap()),
            KeyFileError::BadScalar(DecodeError::ScalarOutOfRange)
        );
        assert_eq!(
            with_scalar([0; 32]),
            KeyFileError::BadScalar(DecodeError::ZeroScalar)
        );
    }

    #[test]
    fn permits_are_checked() {
        let f = fixture();
        let tp = f.cs[0].issue_cs_time_permit(&f.id, 9).unwrap();
        let pem = tp.to_pem().unwrap();
        let label = LABEL_CS_TIME_PERMIT_SHARE;
        // Day sits after the header (21), the D-TA id (8) and the identity (18).
        let day_at = 21 + 8 + 18;
        let err = Share::<CsTimePermit>::from_pem(&edited(&pem, label, |b| {
            b[day_at..day_at + 4].copy_from_slice(&[0; 4])
        }));
        assert_eq!(err.unwrap_err(), KeyFileError::DayZero);
        let err = Share::<CsTimePermit>::from_pem(&edited(&pem, label, |b| b[20] = 0));
        assert_eq!(err.unwrap_err(), KeyFileError::PermitsOff);
        let back = Share::<CsTimePermit>::from_pem(&pem).unwrap();
        assert_eq!(back.key.day, 9);
    }

    #[test]
    fn pem_framing_is_strict() {
        let f = fixture();
        let pem = f.cs[0].to_pem().unwrap();
        assert_eq!(
            MasterShare::from_pem(&format!("comment\n{}", &*pem)).unwrap_err(),
            KeyFileError::NotPem
        );
        assert_eq!(MasterShare::from_pem("").unwrap_err(), KeyFileError::NotPem);
        // Regression (fuzz/regressions/keyfile): CR and CRLF line endings.
        assert_eq!(
            MasterShare::from_pem(&pem.replace('\n', "\r\n")).unwrap_err(),
            KeyFileError::CarriageReturn
        );
        assert_eq!(
            MasterShare::from_pem(&pem.replacen('\n', "\r", 2)).unwrap_err(),
            KeyFileError::CarriageReturn
        );
        assert!(matches!(
            from_pem_any(&pem.replace('\n', "\r\n")),
            Err(KeyFileError::CarriageReturn)
        ));
        // Headers (RFC 1421 style) are refused.
        let with_header = pem.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1);
        assert_eq!(
            MasterShare::from_pem(&with_header).unwrap_err(),
            KeyFileError::Pem(pem_rfc7468::Error::HeaderDisallowed)
        );
        // A character outside the base64 alphabet.
        let lines: Vec<&str> = pem.lines().collect();
        let mut bad = lines[1].to_owned();
        bad.replace_range(3..4, "*");
        let bad_b64 = pem.replacen(lines[1], &bad, 1);
        assert!(matches!(
            MasterShare::from_pem(&bad_b64).unwrap_err(),
            KeyFileError::Pem(pem_rfc7468::Error::Base64(_))
        ));
        // END label different from BEGIN.
        let mismatched = pem.replace(
            "-----END MILAGRO DTA MASTER SHARE",
            "-----END MILAGRO CS TOKEN",
        );
        assert_eq!(
            MasterShare::from_pem(&mismatched).unwrap_err(),
            KeyFileError::Pem(pem_rfc7468::Error::PostEncapsulationBoundary)
        );
        // An oversized body.
        let huge = pem_of(LABEL_MASTER_SHARE, &[0u8; MAX_BODY + 1]);
        assert!(matches!(
            MasterShare::from_pem(&huge).unwrap_err(),
            KeyFileError::Pem(_)
        ));
    }

    #[test]
    fn any_dispatches_on_the_label() {
        let f = fixture();
        let id = &f.id;
        let cases: Vec<(Zeroizing<String>, &str)> = vec![
            (f.cs[0].to_pem().unwrap(), LABEL_MASTER_SHARE),
            (
                f.cs[0].issue_cs_server_secret().unwrap().to_pem().unwrap(),
                LABEL_CS_SERVER_SECRET_SHARE,
            ),
            (
                client_secret_share(&f, 0).to_pem().unwrap(),
                LABEL_CS_CLIENT_SECRET_SHARE,
            ),
            (
                f.cs[0]
                    .issue_cs_time_permit(id, 3)
                    .unwrap()
                    .to_pem()
                    .unwrap(),
                LABEL_CS_TIME_PERMIT_SHARE,
            ),
            (
                f.p2p[0]
                    .issue_p2p_server_key(id, 3)
                    .unwrap()
                    .to_pem()
                    .unwrap(),
                LABEL_P2P_SERVER_KEY_SHARE,
            ),
            (
                f.p2p[0]
                    .issue_p2p_client_key(id, 3)
                    .unwrap()
                    .to_pem()
                    .unwrap(),
                LABEL_P2P_CLIENT_KEY_SHARE,
            ),
            (
                CsServerSecret::combine(&[
                    f.cs[0].issue_cs_server_secret().unwrap(),
                    f.cs[1].issue_cs_server_secret().unwrap(),
                ])
                .unwrap()
                .to_pem()
                .unwrap(),
                LABEL_CS_SERVER_SECRET,
            ),
        ];
        for (pem, label) in &cases {
            let any = from_pem_any(pem).unwrap();
            assert_eq!(any.label(), *label);
        }
        let any = from_pem_any(&cases[2].0).unwrap();
        assert_eq!(any.identity(), Some(id));
        assert_eq!(any.dta(), Some(f.cs[0].dta));
        assert_eq!(any.deployment(), f.cs[0].deployment);
        assert!(matches!(any, AnyKey::CsClientSecretShare(_)));
        assert_eq!(
            from_pem_any(&pem_of("MILAGRO SOMETHING", &[1, 2, 3])).unwrap_err(),
            KeyFileError::UnknownLabel("MILAGRO SOMETHING".into())
        );
        // The per-kind checks still apply.
        let broken = edited(&cases[0].0, LABEL_MASTER_SHARE, |b| b[0] = 9);
        assert_eq!(
            from_pem_any(&broken).unwrap_err(),
            KeyFileError::BadVersion(9)
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let f = fixture();
        let any = from_pem_any(&f.cs[0].to_pem().unwrap()).unwrap();
        let shown = format!("{any:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&hex::encode(f.cs[0].secret.to_be_bytes())));
    }
}
