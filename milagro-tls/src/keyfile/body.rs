//! The binary body: kind bytes, the common header, and reading and writing
//! its fields with every check.

use zeroize::Zeroizing;

use super::{FORMAT_VERSION, KeyFileError};
use crate::identity::{Identity, IdentityError};
use crate::keys::MIN_EPOCH_SECONDS;
use crate::keys::{CsDeployment, Deployment, DeploymentId, P2pDeployment, PermitPolicy};
use crate::pairing::{G1, G1_BYTES, G2, G2_BYTES};
use crate::suite::Suite;

pub(super) const KIND_MASTER_SHARE: u8 = 0x01;
pub(super) const KIND_CS_SERVER_SECRET: u8 = 0x02;
pub(super) const KIND_CS_CLIENT_SECRET: u8 = 0x03;
pub(super) const KIND_CS_TOKEN: u8 = 0x04;
pub(super) const KIND_CS_TIME_PERMIT: u8 = 0x05;
pub(super) const KIND_P2P_SERVER_KEY: u8 = 0x06;
pub(super) const KIND_P2P_CLIENT_KEY: u8 = 0x07;
pub(super) const SHARE_FLAG: u8 = 0x80;

/// Largest body of any kind (P2P client key share with a 255-byte identity is
/// 24 + 8 + 256 + 4 + 96 = 388 bytes); larger PEM payloads are refused.
pub(super) const MAX_BODY: usize = 512;

pub(super) fn new_body() -> Zeroizing<Vec<u8>> {
    // Sized once so that no reallocation leaves an un-wiped copy behind.
    Zeroizing::new(Vec::with_capacity(MAX_BODY))
}

pub(super) struct Reader<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], KeyFileError> {
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

    pub(super) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], KeyFileError> {
        let remaining = self.rest.len();
        self.take(N, field)?
            .try_into()
            .map_err(|_| KeyFileError::Truncated {
                field,
                needed: N,
                remaining,
            })
    }

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, KeyFileError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    pub(super) fn be32(&mut self, field: &'static str) -> Result<u32, KeyFileError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(super) fn identity(&mut self) -> Result<Identity, KeyFileError> {
        let len = self.u8("identity length")?;
        if len == 0 {
            return Err(KeyFileError::Identity(IdentityError::Empty));
        }
        let bytes = self.take(usize::from(len), "identity")?;
        Identity::from_canonical_bytes(bytes).map_err(KeyFileError::Identity)
    }

    pub(super) fn g1(&mut self) -> Result<G1, KeyFileError> {
        G1::from_bytes(self.take(G1_BYTES, "G1 point")?).map_err(KeyFileError::BadPoint)
    }

    pub(super) fn g2(&mut self) -> Result<G2, KeyFileError> {
        G2::from_bytes(self.take(G2_BYTES, "G2 point")?).map_err(KeyFileError::BadPoint)
    }

    pub(super) fn finish(self) -> Result<(), KeyFileError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(KeyFileError::TrailingBytes(self.rest.len()))
        }
    }
}

pub(super) fn write_identity(out: &mut Vec<u8>, identity: &Identity) -> Result<(), KeyFileError> {
    let bytes = identity.as_bytes();
    let len = u8::try_from(bytes.len())
        .map_err(|_| KeyFileError::Identity(IdentityError::TooLong(bytes.len())))?;
    out.push(len);
    out.extend_from_slice(bytes);
    Ok(())
}

pub(super) fn write_g1(out: &mut Vec<u8>, p: &G1) {
    out.extend_from_slice(&Zeroizing::new(p.to_bytes())[..]);
}

pub(super) fn write_g2(out: &mut Vec<u8>, p: &G2) {
    out.extend_from_slice(&Zeroizing::new(p.to_bytes())[..]);
}

pub(super) fn write_header(out: &mut Vec<u8>, kind: u8, deployment: &Deployment) {
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

pub(super) fn read_header(
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

pub(super) fn cs_deployment(d: Deployment) -> Result<CsDeployment, KeyFileError> {
    match d {
        Deployment::Cs(d) => Ok(d),
        Deployment::P2p(_) => Err(KeyFileError::WrongSuite {
            expected: Suite::Cs,
            found: Suite::P2p,
        }),
    }
}

pub(super) fn p2p_deployment(d: Deployment) -> Result<P2pDeployment, KeyFileError> {
    match d {
        Deployment::P2p(d) => Ok(d),
        Deployment::Cs(_) => Err(KeyFileError::WrongSuite {
            expected: Suite::P2p,
            found: Suite::Cs,
        }),
    }
}
