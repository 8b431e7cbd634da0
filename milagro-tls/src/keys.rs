//! The key material of a deployment, as typed values.
//!
//! Every key carries the metadata that decides where it may be used — suite,
//! deployment, identity, day or epoch, permit policy — so that a key from
//! another deployment, suite or identity is refused by type or by a checked
//! field, never silently combined or used. [`crate::dta`] issues and combines
//! these, [`crate::keyfile`] stores them, and the protocol modules use them.
//!
//! All secret values are zeroized on drop and never appear in `Debug` output.

use core::fmt;

pub use crate::dta::MasterShare;
use crate::dta::{DtaError, MIN_EPOCH_SECONDS};
use crate::identity::Identity;
use crate::pairing::{EntropySource, G1, G2, RandomError};
use crate::suite::Suite;

/// Seconds in a time-permit day.
pub const SECONDS_PER_DAY: u64 = 86_400;

/// The permit day of a unix time: `floor(unix / 86400)`.
pub fn day_of(unix_seconds: u64) -> u32 {
    u32::try_from(unix_seconds / SECONDS_PER_DAY).unwrap_or(u32::MAX)
}

/// The P2P epoch of a unix time: `floor(unix / epoch_seconds)`.
/// `epoch_seconds` is never zero in a valid [`P2pDeployment`].
pub fn epoch_of(unix_seconds: u64, epoch_seconds: u32) -> u32 {
    u32::try_from(unix_seconds / u64::from(epoch_seconds.max(1))).unwrap_or(u32::MAX)
}

/// A deployment's identifier: 16 random bytes chosen when the D-TAs are set up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentId(pub [u8; 16]);

impl DeploymentId {
    /// A fresh random identifier. Fails only if the entropy source fails.
    pub(crate) fn random(rng: &dyn EntropySource) -> Result<Self, RandomError> {
        let mut b = [0u8; 16];
        rng.fill(&mut b)?;
        Ok(Self(b))
    }
}

impl fmt::Debug for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeploymentId({})", hex::encode(self.0))
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A D-TA's identifier within a deployment (8 random bytes chosen at
/// `dta init`), so that the same D-TA's share cannot be added twice.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DtaId(pub [u8; 8]);

impl DtaId {
    /// A fresh random identifier. Fails only if the entropy source fails.
    pub(crate) fn random(rng: &dyn EntropySource) -> Result<Self, RandomError> {
        let mut b = [0u8; 8];
        rng.fill(&mut b)?;
        Ok(Self(b))
    }
}

impl fmt::Debug for DtaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DtaId({})", hex::encode(self.0))
    }
}

impl fmt::Display for DtaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Whether a CS deployment uses daily time permits. Fixed when the D-TAs are
/// set up and recorded in every key file and the server config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermitPolicy {
    /// Clients must present a permit for the day (d ≠ 0); d = 0 is refused, so a
    /// revoked client cannot escape revocation by claiming "no permit".
    Required,
    /// Permits are not used: d must be 0 and `A_d = A`.
    Off,
}

impl PermitPolicy {
    /// The policy's tag byte (`1` required, `0` off).
    pub const fn tag(self) -> u8 {
        match self {
            Self::Required => 1,
            Self::Off => 0,
        }
    }

    /// The policy for a tag byte.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Required),
            0 => Some(Self::Off),
            _ => None,
        }
    }
}

/// The public parameters of a CS deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CsDeployment {
    /// The deployment's identifier.
    pub id: DeploymentId,
    /// How many D-TAs issue shares (every key needs all of them).
    pub dta_count: u8,
    /// The time-permit policy.
    pub permits: PermitPolicy,
}

impl CsDeployment {
    /// A new CS deployment with a random [`DeploymentId`]. Fails if
    /// `dta_count` is 0 or the entropy source fails.
    pub fn new(
        dta_count: u8,
        permits: PermitPolicy,
        rng: &dyn EntropySource,
    ) -> Result<Self, DtaError> {
        if dta_count == 0 {
            return Err(DtaError::NoDtas);
        }
        Ok(Self {
            id: DeploymentId::random(rng)?,
            dta_count,
            permits,
        })
    }
}

/// The public parameters of a P2P deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct P2pDeployment {
    /// The deployment's identifier.
    pub id: DeploymentId,
    /// How many D-TAs issue shares (every key needs all of them).
    pub dta_count: u8,
    /// The epoch length L in seconds (`epoch = floor(unix / L)`); never zero.
    pub epoch_seconds: u32,
}

impl P2pDeployment {
    /// A new P2P deployment with a random [`DeploymentId`]. Fails if
    /// `dta_count` is 0, `epoch_seconds` is below [`MIN_EPOCH_SECONDS`], or the
    /// entropy source fails.
    pub fn new(
        dta_count: u8,
        epoch_seconds: u32,
        rng: &dyn EntropySource,
    ) -> Result<Self, DtaError> {
        if dta_count == 0 {
            return Err(DtaError::NoDtas);
        }
        if epoch_seconds < MIN_EPOCH_SECONDS {
            return Err(DtaError::EpochTooShort(epoch_seconds));
        }
        Ok(Self {
            id: DeploymentId::random(rng)?,
            dta_count,
            epoch_seconds,
        })
    }
}

/// The public parameters of a deployment of either suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deployment {
    /// A CS deployment.
    Cs(CsDeployment),
    /// A P2P deployment.
    P2p(P2pDeployment),
}

impl Deployment {
    /// The suite.
    pub fn suite(&self) -> Suite {
        match self {
            Self::Cs(_) => Suite::Cs,
            Self::P2p(_) => Suite::P2p,
        }
    }

    /// The deployment identifier.
    pub fn id(&self) -> DeploymentId {
        match self {
            Self::Cs(d) => d.id,
            Self::P2p(d) => d.id,
        }
    }

    /// The number of D-TAs.
    pub fn dta_count(&self) -> u8 {
        match self {
            Self::Cs(d) => d.dta_count,
            Self::P2p(d) => d.dta_count,
        }
    }
}

macro_rules! secret_key {
    (
        $(#[$doc:meta])*
        $name:ident { deployment: $dep:ty, point: $pt:ty $(, $field:ident : $fty:ty)* }
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            pub(crate) deployment: $dep,
            $(pub(crate) $field: $fty,)*
            pub(crate) point: $pt,
        }

        impl $name {
            /// The deployment the key belongs to.
            pub fn deployment(&self) -> &$dep {
                &self.deployment
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("deployment", &self.deployment)
                    $(.field(stringify!($field), &self.$field))*
                    .field("point", &"<redacted>")
                    .finish()
            }
        }
    };
}

secret_key! {
    /// The CS server secret `SS = s·Q` ∈ G2 (or one D-TA's share `s_i·Q`).
    CsServerSecret { deployment: CsDeployment, point: G2 }
}
secret_key! {
    /// A CS client secret `CS = s·A` ∈ G1 for one identity (or a share of it).
    /// Exists only during enrolment: the client keeps a [`CsToken`] and a PIN.
    CsClientSecret { deployment: CsDeployment, point: G1, identity: Identity }
}
secret_key! {
    /// A CS token `CS − PIN·A` ∈ G1: useless without the PIN.
    CsToken { deployment: CsDeployment, point: G1, identity: Identity }
}
secret_key! {
    /// A CS time permit `s·H_T(be32(d) ‖ HID)` ∈ G1 for one identity and day
    /// (or a share of it).
    CsTimePermit { deployment: CsDeployment, point: G1, identity: Identity, day: u32 }
}
secret_key! {
    /// A P2P server key `D_A = s·H1(ID_A, epoch)` ∈ G1 (or a share of it).
    P2pServerKey { deployment: P2pDeployment, point: G1, identity: Identity, epoch: u32 }
}
secret_key! {
    /// A P2P client key `D_B = s·H2(ID_B, epoch)` ∈ G2 (or a share of it).
    P2pClientKey { deployment: P2pDeployment, point: G2, identity: Identity, epoch: u32 }
}

macro_rules! identity_accessor {
    ($($name:ident),*) => {$(
        impl $name {
            /// The identity the key was issued to.
            pub fn identity(&self) -> &Identity {
                &self.identity
            }
        }
    )*};
}
identity_accessor!(
    CsClientSecret,
    CsToken,
    CsTimePermit,
    P2pServerKey,
    P2pClientKey
);

impl CsTimePermit {
    /// The permit's day (`floor(unix / 86400)`).
    pub fn day(&self) -> u32 {
        self.day
    }
}

impl P2pServerKey {
    /// The key's epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
}

impl P2pClientKey {
    /// The key's epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
}

/// One D-TA's share of a key: the key's type with the partial point, tagged
/// with the issuing D-TA so that a share cannot be counted twice.
#[derive(Clone)]
pub struct Share<K> {
    pub(crate) dta: DtaId,
    pub(crate) key: K,
}

impl<K> Share<K> {
    /// The D-TA that issued the share.
    pub fn dta(&self) -> DtaId {
        self.dta
    }
    /// The partial key (its metadata is the combined key's).
    pub fn partial(&self) -> &K {
        &self.key
    }
}

impl<K: fmt::Debug> fmt::Debug for Share<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("dta", &self.dta)
            .field("key", &self.key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_epochs() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(1_764_000_000), 20_416);
        assert_eq!(epoch_of(3_600 * 5 + 1, 3_600), 5);
    }

    #[test]
    fn debug_redacts_points() {
        let key = CsToken {
            deployment: CsDeployment {
                id: DeploymentId([7; 16]),
                dta_count: 3,
                permits: PermitPolicy::Required,
            },
            point: G1::generator(),
            identity: Identity::new("alice@example.com").unwrap(),
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&hex::encode(G1::generator().to_bytes())));
    }
}
