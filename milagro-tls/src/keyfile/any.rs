//! Loading a key file of any kind, dispatching on its label.

use super::kinds::KeyBody;
use super::pem::pem_label;
use super::*;
use crate::identity::Identity;
use crate::keys::{
    CsClientSecret, CsServerSecret, CsTimePermit, CsToken, Deployment, DtaId, MasterShare,
    P2pClientKey, P2pServerKey, Share,
};

/// A key file of any kind, as returned by [`from_pem_any`].
#[derive(Debug)]
#[non_exhaustive]
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
