//! The key material of a deployment, as typed values.
//!
//! Every key carries the metadata that decides where it may be used — suite,
//! deployment, identity, day or epoch, permit policy — so that a key from
//! another deployment, suite or identity is refused by type or by a checked
//! field, never silently combined or used. A D-TA's [`MasterShare`] and the
//! deployment types are made here, with the [`DtaError`] their constructors
//! return; [`crate::dta`] issues and combines keys, [`crate::keyfile`] stores
//! them, and the protocol modules use them.
//!
//! All secret values are zeroized on drop and never appear in `Debug` output.

use core::fmt;

use crate::identity::Identity;
use crate::pairing::{EntropySource, G1, G2, RandomError, Scalar};
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

/// The epoch a P2P client treats as current: `epoch_of(now − skew)`
/// (docs/protocol.md §7.2), the allowance capped at half an epoch so that a
/// short epoch is never skipped. A client whose clock runs ahead of the
/// server's then still picks an epoch the server accepts.
pub(crate) fn client_epoch_with_skew(unix_seconds: u64, epoch_seconds: u32, skew_secs: u64) -> u32 {
    let skew = skew_secs.min(u64::from(epoch_seconds / 2));
    epoch_of(unix_seconds.saturating_sub(skew), epoch_seconds)
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

/// One D-TA's master share `s_i` for one suite of one deployment.
pub struct MasterShare {
    pub(crate) deployment: Deployment,
    pub(crate) dta: DtaId,
    pub(crate) secret: Scalar,
}

impl fmt::Debug for MasterShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterShare")
            .field("deployment", &self.deployment)
            .field("dta", &self.dta)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Checks the invariants every deployment must keep (`dta_count ≥ 1`,
/// `epoch_seconds ≥ MIN_EPOCH_SECONDS`).
fn check_deployment(deployment: &Deployment) -> Result<(), DtaError> {
    if deployment.dta_count() == 0 {
        return Err(DtaError::NoDtas);
    }
    if let Deployment::P2p(d) = deployment {
        if d.epoch_seconds < MIN_EPOCH_SECONDS {
            return Err(DtaError::EpochTooShort(d.epoch_seconds));
        }
    }
    Ok(())
}

impl MasterShare {
    /// A new D-TA for `deployment`: a uniformly random non-zero master share
    /// `s_i` and a random [`DtaId`]. Fails if the deployment is invalid
    /// (`dta_count` 0, epoch too short) or the entropy source fails.
    pub fn generate(deployment: Deployment, rng: &dyn EntropySource) -> Result<Self, DtaError> {
        check_deployment(&deployment)?;
        Ok(Self {
            deployment,
            dta: DtaId::random(rng)?,
            secret: Scalar::random(rng)?,
        })
    }

    /// The deployment this share belongs to.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// This D-TA's identifier.
    pub fn dta(&self) -> DtaId {
        self.dta
    }

    /// The suite of this master share.
    pub fn suite(&self) -> Suite {
        self.deployment.suite()
    }
}

/// The shortest P2P epoch, in seconds. Shorter epochs would make clock skew
/// between peers reject most handshakes.
pub const MIN_EPOCH_SECONDS: u32 = 60;

/// Why a D-TA operation or a combination of shares was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtaError {
    /// A deployment needs at least one D-TA.
    #[error("a deployment needs at least one D-TA; dta_count is 0")]
    NoDtas,
    /// The P2P epoch length is below [`MIN_EPOCH_SECONDS`].
    #[error("the P2P epoch length must be at least {MIN_EPOCH_SECONDS} seconds; {0} given")]
    EpochTooShort(u32),
    /// The entropy source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The master share belongs to the other suite.
    #[error(
        "this master share is for the {found} suite; issuing a {expected} key needs a {expected} master share"
    )]
    WrongSuite {
        /// The suite the requested key belongs to.
        expected: Suite,
        /// The suite of the master share.
        found: Suite,
    },
    /// A time permit was requested in a deployment whose permit policy is off.
    #[error("this CS deployment does not use time permits (policy off); no permit can be issued")]
    PermitsOff,
    /// Day 0 is reserved for "no permit" and is refused when permits are required.
    #[error("day 0 means \"no permit\" and cannot carry a time permit")]
    DayZero,
    /// A time permit was requested for a day more than
    /// [`PERMIT_DAYS_AHEAD`](crate::dta::PERMIT_DAYS_AHEAD) day after the D-TA's today
    /// ([`check_permit_day`](crate::dta::check_permit_day)).
    #[error(
        "a D-TA issues a time permit at most one day ahead (day <= today + 1), so that revocation takes effect within two days: day {day} is {} days after today (day {today})",
        u64::from(*day) - u64::from(*today)
    )]
    PermitTooFarAhead {
        /// The day asked for.
        day: u32,
        /// The D-TA's today, `floor(unix_time / 86400)`.
        today: u32,
    },
    /// `combine` was given no shares.
    #[error("no shares given")]
    NoShares,
    /// The shares belong to different deployments (or differ in a deployment parameter).
    #[error("the shares belong to different deployments ({first} and {other})")]
    MixedDeployments {
        /// The deployment of the first share.
        first: DeploymentId,
        /// The first deployment that differs from it (equal ids mean a parameter differs).
        other: DeploymentId,
    },
    /// The shares were issued to different identities.
    #[error("the shares were issued to different identities ({first} and {other})")]
    MixedIdentities {
        /// The identity of the first share.
        first: Identity,
        /// The first identity that differs from it.
        other: Identity,
    },
    /// The permit shares are for different days.
    #[error("the time-permit shares are for different days ({first} and {other})")]
    MixedDays {
        /// The day of the first share.
        first: u32,
        /// The first day that differs from it.
        other: u32,
    },
    /// The P2P key shares are for different epochs.
    #[error("the key shares are for different epochs ({first} and {other})")]
    MixedEpochs {
        /// The epoch of the first share.
        first: u32,
        /// The first epoch that differs from it.
        other: u32,
    },
    /// Two shares come from the same D-TA.
    #[error("two shares come from the same D-TA {0}")]
    DuplicateDta(DtaId),
    /// The number of shares is not the deployment's number of D-TAs.
    #[error("this deployment has {expected} D-TAs; {got} shares given")]
    WrongShareCount {
        /// The deployment's `dta_count`.
        expected: u8,
        /// How many shares were given.
        got: usize,
    },
    /// The shares add up to the identity point (they cancel out): not a usable key.
    #[error("the shares add up to the identity point; refusing the key")]
    IdentityKey,
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
        // In an epoch's first `skew` seconds the client still uses the one before.
        assert_eq!(client_epoch_with_skew(3_600 * 5 + 29, 3_600, 30), 4);
        assert_eq!(client_epoch_with_skew(3_600 * 5 + 30, 3_600, 30), 5);
        // The allowance is at most half an epoch.
        assert_eq!(client_epoch_with_skew(60 * 5 + 30, 60, 45), 5);
        assert_eq!(client_epoch_with_skew(60 * 5 + 29, 60, 45), 4);
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
