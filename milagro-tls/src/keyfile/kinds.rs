//! Each kind's layout after the header, and the [`KeyFile`] impls built on
//! them.

use zeroize::Zeroizing;

use super::body::{
    KIND_CS_CLIENT_SECRET, KIND_CS_SERVER_SECRET, KIND_CS_TIME_PERMIT, KIND_CS_TOKEN,
    KIND_MASTER_SHARE, KIND_P2P_CLIENT_KEY, KIND_P2P_SERVER_KEY, Reader, SHARE_FLAG, cs_deployment,
    new_body, p2p_deployment, read_header, write_g1, write_g2, write_header, write_identity,
};
use super::pem::{decode_pem, encode_pem};
use super::*;
use crate::keys::{
    CsClientSecret, CsServerSecret, CsTimePermit, CsToken, Deployment, DtaId, MasterShare,
    P2pClientKey, P2pServerKey, PermitPolicy, Share,
};
use crate::pairing::{SCALAR_BYTES, Scalar};
use crate::suite::Suite;

/// A key kind's fields after the header (and after the D-TA id of a share).
pub(super) trait KeyBody: Sized {
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
