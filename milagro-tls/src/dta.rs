//! Distributed Trust Authorities (D-TAs): master shares, issuing key shares,
//! and combining them into keys.
//!
//! A deployment of one suite has `n = dta_count` D-TAs. D-TA `i` holds a
//! master share `s_i`, a uniformly random non-zero scalar it generated itself;
//! the deployment's master secret is `s = s_1 + … + s_n` and is **never
//! assembled** anywhere. To issue a key `s·X` for a public point `X`, each D-TA
//! returns its share `s_i·X` ([`Share`]), and the key holder adds the `n`
//! shares ([`Combine`]): `Σ s_i·X = s·X`.
//!
//! | key | `X` | group |
//! |---|---|---|
//! | CS server secret | `Q` (the G2 generator) | G2 |
//! | CS client secret | `A = H_cs-id(HID)`, `HID = SHA-256(ID)` ([`cs_identity_point`]) | G1 |
//! | CS time permit, day d | `T = H_cs-tp(be32(d) ‖ HID)` ([`cs_permit_point`]) | G1 |
//! | P2P server key | `H1(HID_A)`, `HID_A = SHA-256(ID_A ‖ be32 epoch)` ([`p2p_server_point`]) | G1 |
//! | P2P client key | `H2(HID_B)` ([`p2p_client_point`]) | G2 |
//!
//! # Why a compromised subset of D-TAs learns nothing
//!
//! The sharing is additive and each `s_i` is drawn independently and uniformly
//! from the non-zero scalars. For any set of at most `n − 1` D-TAs, the missing
//! share(s) make `s` uniformly distributed whatever the known shares are: the
//! sum of the known shares plus one unknown uniform scalar is itself uniform.
//! So the shares a coalition holds, and the key shares `s_j·X` it can compute,
//! are independent of `s`; keys issued under `s` (`s·X`) stay as hard to forge
//! for the coalition as for an outsider (the discrete logarithm / co-CDH
//! assumptions on BLS12-381). A key combined from `n − 1` shares is
//! `(s − s_k)·X` for a missing `k`, which fails every protocol check (tested
//! below with the M-Pin relation `e(s·A, Q) = e(A, s·Q)` and the P2P relation
//! `e(D_A, H2(B)) = e(H1(A), D_B)`). This is why [`Combine::combine`] insists on
//! exactly `dta_count` shares from distinct D-TAs: fewer give a dead key, more
//! can only mean a duplicate or a foreign share.
//!
//! There is no threshold: every D-TA must take part in every issuance (the
//! original Milagro design). Note that `s_i·Q` is never published, so a client
//! cannot check one D-TA's share by itself.

use crate::identity::Identity;
use crate::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, Deployment, DeploymentId,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, Share,
};
pub use crate::keys::{DtaError, MIN_EPOCH_SECONDS, MasterShare};
use crate::pairing::G2;
pub use crate::points::{cs_identity_point, cs_permit_point, p2p_client_point, p2p_server_point};
use crate::suite::Suite;

/// How many days ahead of its own today a D-TA issues a time permit
/// (docs/protocol.md §5.5): one, so a client fetches tomorrow's permit during
/// today and switches to it when its day starts.
pub const PERMIT_DAYS_AHEAD: u32 = 1;

/// The issuance rule of docs/protocol.md §5.5: a D-TA issues the time permit
/// for `day` only if `day ≤ today + PERMIT_DAYS_AHEAD`, `today` being
/// `floor(unix_time / 86400)` by the D-TA's clock. A permit further ahead
/// would stretch revocation (= no more permits): the server accepts a permit
/// for day d through its day d + 1, so with at most one day ahead a
/// revocation decided during day D₀ takes effect by the end of day D₀ + 2,
/// within two days after the decision.
///
/// Fails with [`DtaError::PermitTooFarAhead`], whose message states the rule.
/// Days in the past are not refused here (the server refuses them once they
/// are out of its ±1 day range), nor is day 0
/// ([`MasterShare::issue_cs_time_permit`] refuses it). Every D-TA front end
/// (the key tool, a network service) calls this before issuing.
pub fn check_permit_day(day: u32, today: u32) -> Result<(), DtaError> {
    if u64::from(day) > u64::from(today) + u64::from(PERMIT_DAYS_AHEAD) {
        return Err(DtaError::PermitTooFarAhead { day, today });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Issuing
// ---------------------------------------------------------------------------

impl MasterShare {
    fn cs(&self) -> Result<CsDeployment, DtaError> {
        match self.deployment {
            Deployment::Cs(d) => Ok(d),
            Deployment::P2p(_) => Err(DtaError::WrongSuite {
                expected: Suite::Cs,
                found: Suite::P2p,
            }),
        }
    }

    fn p2p(&self) -> Result<P2pDeployment, DtaError> {
        match self.deployment {
            Deployment::P2p(d) => Ok(d),
            Deployment::Cs(_) => Err(DtaError::WrongSuite {
                expected: Suite::P2p,
                found: Suite::Cs,
            }),
        }
    }

    /// This D-TA's share `s_i·Q` of the CS server secret. Fails with
    /// [`DtaError::WrongSuite`] for a P2P master share.
    pub fn issue_cs_server_secret(&self) -> Result<Share<CsServerSecret>, DtaError> {
        let deployment = self.cs()?;
        Ok(Share {
            dta: self.dta,
            key: CsServerSecret {
                deployment,
                point: &G2::generator() * &self.secret,
            },
        })
    }

    /// This D-TA's share `s_i·A` of `identity`'s CS client secret. Fails with
    /// [`DtaError::WrongSuite`] for a P2P master share.
    pub fn issue_cs_client_secret(
        &self,
        identity: &Identity,
    ) -> Result<Share<CsClientSecret>, DtaError> {
        let deployment = self.cs()?;
        let a = cs_identity_point(&identity.cs_hid());
        Ok(Share {
            dta: self.dta,
            key: CsClientSecret {
                deployment,
                point: &a * &self.secret,
                identity: identity.clone(),
            },
        })
    }

    /// This D-TA's share `s_i·T` of `identity`'s time permit for `day`.
    /// Fails for a P2P master share ([`DtaError::WrongSuite`]), when the
    /// deployment's permit policy is off ([`DtaError::PermitsOff`]) and for
    /// day 0 ([`DtaError::DayZero`]).
    pub fn issue_cs_time_permit(
        &self,
        identity: &Identity,
        day: u32,
    ) -> Result<Share<CsTimePermit>, DtaError> {
        let deployment = self.cs()?;
        if deployment.permits == PermitPolicy::Off {
            return Err(DtaError::PermitsOff);
        }
        if day == 0 {
            return Err(DtaError::DayZero);
        }
        let t = cs_permit_point(day, &identity.cs_hid());
        Ok(Share {
            dta: self.dta,
            key: CsTimePermit {
                deployment,
                point: &t * &self.secret,
                identity: identity.clone(),
                day,
            },
        })
    }

    /// This D-TA's share `s_i·H1(HID_A)` of the P2P server key of `identity`
    /// for `epoch`. Fails with [`DtaError::WrongSuite`] for a CS master share.
    pub fn issue_p2p_server_key(
        &self,
        identity: &Identity,
        epoch: u32,
    ) -> Result<Share<P2pServerKey>, DtaError> {
        let deployment = self.p2p()?;
        let h1 = p2p_server_point(&identity.p2p_hid(epoch));
        Ok(Share {
            dta: self.dta,
            key: P2pServerKey {
                deployment,
                point: &h1 * &self.secret,
                identity: identity.clone(),
                epoch,
            },
        })
    }

    /// This D-TA's share `s_i·H2(HID_B)` of the P2P client key of `identity`
    /// for `epoch`. Fails with [`DtaError::WrongSuite`] for a CS master share.
    pub fn issue_p2p_client_key(
        &self,
        identity: &Identity,
        epoch: u32,
    ) -> Result<Share<P2pClientKey>, DtaError> {
        let deployment = self.p2p()?;
        let h2 = p2p_client_point(&identity.p2p_hid(epoch));
        Ok(Share {
            dta: self.dta,
            key: P2pClientKey {
                deployment,
                point: &h2 * &self.secret,
                identity: identity.clone(),
                epoch,
            },
        })
    }
}

// ---------------------------------------------------------------------------
// Combining
// ---------------------------------------------------------------------------

mod sealed {
    pub trait Sealed {}
}

/// Key types whose shares can be added: the issuable keys.
pub trait Combine: Sized + sealed::Sealed {
    /// Adds the shares of all D-TAs into the key.
    ///
    /// Refuses, in this order: no shares ([`DtaError::NoShares`]); shares of
    /// different deployments ([`DtaError::MixedDeployments`]), identities
    /// ([`DtaError::MixedIdentities`]), days ([`DtaError::MixedDays`]) or
    /// epochs ([`DtaError::MixedEpochs`]); two shares of one D-TA
    /// ([`DtaError::DuplicateDta`]); a number of shares other than the
    /// deployment's `dta_count` ([`DtaError::WrongShareCount`]); and a sum
    /// equal to the identity point ([`DtaError::IdentityKey`]).
    fn combine(shares: &[Share<Self>]) -> Result<Self, DtaError>;
}

/// What combining needs to know about a key type (crate-internal).
pub(crate) trait Shareable: Clone {
    fn dta_count(&self) -> u8;
    /// Checks that `other` has the same deployment, identity, day and epoch.
    fn same_metadata(&self, other: &Self) -> Result<(), DtaError>;
    /// `self.point += other.point`.
    fn add_point(&mut self, other: &Self);
    fn point_is_identity(&self) -> bool;
}

fn same_deployment<D: PartialEq>(
    a: &D,
    b: &D,
    id: impl Fn(&D) -> DeploymentId,
) -> Result<(), DtaError> {
    if a == b {
        Ok(())
    } else {
        Err(DtaError::MixedDeployments {
            first: id(a),
            other: id(b),
        })
    }
}

fn same_identity(a: &Identity, b: &Identity) -> Result<(), DtaError> {
    if a == b {
        Ok(())
    } else {
        Err(DtaError::MixedIdentities {
            first: a.clone(),
            other: b.clone(),
        })
    }
}

fn same_epoch(a: u32, b: u32) -> Result<(), DtaError> {
    if a == b {
        Ok(())
    } else {
        Err(DtaError::MixedEpochs { first: a, other: b })
    }
}

macro_rules! shareable {
    ($name:ident, $dep_id:expr, |$a:ident, $b:ident| $extra:expr) => {
        impl sealed::Sealed for $name {}

        impl Shareable for $name {
            fn dta_count(&self) -> u8 {
                self.deployment.dta_count
            }
            fn same_metadata(&self, other: &Self) -> Result<(), DtaError> {
                same_deployment(&self.deployment, &other.deployment, $dep_id)?;
                let ($a, $b) = (self, other);
                $extra
            }
            fn add_point(&mut self, other: &Self) {
                self.point = &self.point + &other.point;
            }
            fn point_is_identity(&self) -> bool {
                bool::from(self.point.is_identity())
            }
        }

        impl Combine for $name {
            fn combine(shares: &[Share<Self>]) -> Result<Self, DtaError> {
                combine_checked(shares)
            }
        }
    };
}

shareable!(CsServerSecret, |d: &CsDeployment| d.id, |_a, _b| Ok(()));
shareable!(CsClientSecret, |d: &CsDeployment| d.id, |a, b| {
    same_identity(&a.identity, &b.identity)
});
shareable!(CsTimePermit, |d: &CsDeployment| d.id, |a, b| {
    same_identity(&a.identity, &b.identity)?;
    if a.day == b.day {
        Ok(())
    } else {
        Err(DtaError::MixedDays {
            first: a.day,
            other: b.day,
        })
    }
});
shareable!(P2pServerKey, |d: &P2pDeployment| d.id, |a, b| {
    same_identity(&a.identity, &b.identity)?;
    same_epoch(a.epoch, b.epoch)
});
shareable!(P2pClientKey, |d: &P2pDeployment| d.id, |a, b| {
    same_identity(&a.identity, &b.identity)?;
    same_epoch(a.epoch, b.epoch)
});

fn combine_checked<K: Shareable>(shares: &[Share<K>]) -> Result<K, DtaError> {
    let (first, rest) = shares.split_first().ok_or(DtaError::NoShares)?;
    for share in rest {
        first.key.same_metadata(&share.key)?;
    }
    for (i, share) in shares.iter().enumerate() {
        if shares.iter().skip(i + 1).any(|s| s.dta == share.dta) {
            return Err(DtaError::DuplicateDta(share.dta));
        }
    }
    let expected = first.key.dta_count();
    if shares.len() != usize::from(expected) {
        return Err(DtaError::WrongShareCount {
            expected,
            got: shares.len(),
        });
    }
    let key = sum(first, rest);
    if key.point_is_identity() {
        return Err(DtaError::IdentityKey);
    }
    Ok(key)
}

fn sum<K: Shareable>(first: &Share<K>, rest: &[Share<K>]) -> K {
    let mut key = first.key.clone();
    for share in rest {
        key.add_point(&share.key);
    }
    key
}

/// Adds shares with no checks at all, so tests can show that a subset of the
/// D-TAs' shares gives a key that does not work. Never use outside tests.
#[cfg(test)]
pub(crate) fn combine_unchecked<K: Shareable>(shares: &[Share<K>]) -> Option<K> {
    let (first, rest) = shares.split_first()?;
    Some(sum(first, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DtaId;
    use crate::pairing::{G1, G1Domain, G2Domain, Scalar, SeededEntropy, pairing};

    fn cs_dep(n: u8, rng: &SeededEntropy) -> Deployment {
        Deployment::Cs(CsDeployment::new(n, PermitPolicy::Required, rng).unwrap())
    }

    fn p2p_dep(n: u8, rng: &SeededEntropy) -> Deployment {
        Deployment::P2p(P2pDeployment::new(n, 3_600, rng).unwrap())
    }

    fn dtas(dep: Deployment, rng: &SeededEntropy) -> Vec<MasterShare> {
        (0..dep.dta_count())
            .map(|_| MasterShare::generate(dep, rng).unwrap())
            .collect()
    }

    fn master_sum(masters: &[MasterShare]) -> Scalar {
        masters
            .iter()
            .fold(Scalar::zero(), |acc, m| &acc + &m.secret)
    }

    fn alice() -> Identity {
        Identity::new("alice@example.com").unwrap()
    }

    #[test]
    fn deployment_constructors_validate() {
        let rng = SeededEntropy::new(b"dep");
        assert_eq!(
            CsDeployment::new(0, PermitPolicy::Off, &rng),
            Err(DtaError::NoDtas)
        );
        assert_eq!(P2pDeployment::new(0, 3_600, &rng), Err(DtaError::NoDtas));
        assert_eq!(
            P2pDeployment::new(2, 59, &rng),
            Err(DtaError::EpochTooShort(59))
        );
        let a = CsDeployment::new(3, PermitPolicy::Off, &rng).unwrap();
        let b = CsDeployment::new(3, PermitPolicy::Off, &rng).unwrap();
        assert_ne!(a.id, b.id, "deployment ids are random");
        assert_eq!((a.dta_count, a.permits), (3, PermitPolicy::Off));
        let p = P2pDeployment::new(2, 60, &rng).unwrap();
        assert_eq!((p.dta_count, p.epoch_seconds), (2, 60));
    }

    #[test]
    fn master_shares_are_distinct_and_nonzero() {
        let rng = SeededEntropy::new(b"ms");
        let dep = cs_dep(3, &rng);
        let m = dtas(dep, &rng);
        assert_ne!(m[0].dta, m[1].dta);
        assert!(m[0].secret != m[1].secret);
        assert!(!bool::from(m[0].secret.is_zero()));
        assert_eq!(m[0].deployment, dep);
        assert_eq!(m[0].suite(), Suite::Cs);
        let bad = Deployment::P2p(P2pDeployment {
            id: DeploymentId([1; 16]),
            dta_count: 2,
            epoch_seconds: 10,
        });
        assert!(matches!(
            MasterShare::generate(bad, &rng),
            Err(DtaError::EpochTooShort(10))
        ));
    }

    #[test]
    fn issuing_follows_the_formulas() {
        let rng = SeededEntropy::new(b"formulas");
        let cs = dtas(cs_dep(2, &rng), &rng);
        let p2p = dtas(p2p_dep(2, &rng), &rng);
        let id = alice();
        let s = &cs[0].secret;
        let a = G1::hash(G1Domain::CsIdentity, &[&id.cs_hid().0]);
        let t = G1::hash(
            G1Domain::CsTimePermit,
            &[&[0, 0, 0x4f, 0xc0], &id.cs_hid().0],
        );
        assert_eq!(
            cs[0].issue_cs_server_secret().unwrap().key.point,
            &G2::generator() * s
        );
        let cs_share = cs[0].issue_cs_client_secret(&id).unwrap();
        assert_eq!(cs_share.key.point, &a * s);
        assert_eq!(cs_share.dta, cs[0].dta);
        assert_eq!(cs_share.key.identity, id);
        let tp = cs[0].issue_cs_time_permit(&id, 0x4fc0).unwrap();
        assert_eq!((tp.key.point.clone(), tp.key.day), (&t * s, 0x4fc0));
        let s = &p2p[0].secret;
        let hid = id.p2p_hid(7);
        let h1 = G1::hash(G1Domain::P2pIdentity, &[&hid.0]);
        let h2 = G2::hash(G2Domain::P2pIdentity, &[&hid.0]);
        let sk = p2p[0].issue_p2p_server_key(&id, 7).unwrap();
        assert_eq!((sk.key.point.clone(), sk.key.epoch), (&h1 * s, 7));
        let ck = p2p[0].issue_p2p_client_key(&id, 7).unwrap();
        assert_eq!((ck.key.point.clone(), ck.key.epoch), (&h2 * s, 7));
        // The public point helpers are the same hashes.
        assert_eq!(cs_identity_point(&id.cs_hid()), a);
        assert_eq!(cs_permit_point(0x4fc0, &id.cs_hid()), t);
        assert_eq!(p2p_server_point(&hid), h1);
        assert_eq!(p2p_client_point(&hid), h2);
    }

    #[test]
    fn issuing_refuses_the_wrong_suite_and_bad_permits() {
        let rng = SeededEntropy::new(b"suite");
        let cs = MasterShare::generate(cs_dep(1, &rng), &rng).unwrap();
        let p2p = MasterShare::generate(p2p_dep(1, &rng), &rng).unwrap();
        let id = alice();
        let want_cs = DtaError::WrongSuite {
            expected: Suite::Cs,
            found: Suite::P2p,
        };
        let want_p2p = DtaError::WrongSuite {
            expected: Suite::P2p,
            found: Suite::Cs,
        };
        assert_eq!(p2p.issue_cs_server_secret().unwrap_err(), want_cs);
        assert_eq!(p2p.issue_cs_client_secret(&id).unwrap_err(), want_cs);
        assert_eq!(p2p.issue_cs_time_permit(&id, 5).unwrap_err(), want_cs);
        assert_eq!(cs.issue_p2p_server_key(&id, 5).unwrap_err(), want_p2p);
        assert_eq!(cs.issue_p2p_client_key(&id, 5).unwrap_err(), want_p2p);
        assert_eq!(
            cs.issue_cs_time_permit(&id, 0).unwrap_err(),
            DtaError::DayZero
        );
        let off = Deployment::Cs(CsDeployment::new(1, PermitPolicy::Off, &rng).unwrap());
        let off = MasterShare::generate(off, &rng).unwrap();
        assert_eq!(
            off.issue_cs_time_permit(&id, 5).unwrap_err(),
            DtaError::PermitsOff
        );
    }

    #[test]
    fn combining_all_shares_gives_the_master_key() {
        let rng = SeededEntropy::new(b"combine");
        let m = dtas(cs_dep(3, &rng), &rng);
        let s = master_sum(&m);
        let shares: Vec<_> = m
            .iter()
            .map(|d| d.issue_cs_server_secret().unwrap())
            .collect();
        let ss = CsServerSecret::combine(&shares).unwrap();
        assert_eq!(ss.point, &G2::generator() * &s);
        let id = alice();
        let shares: Vec<_> = m
            .iter()
            .map(|d| d.issue_cs_time_permit(&id, 9).unwrap())
            .collect();
        let tp = CsTimePermit::combine(&shares).unwrap();
        assert_eq!(tp.point, &cs_permit_point(9, &id.cs_hid()) * &s);
        assert_eq!((tp.day, tp.identity), (9, id));
    }

    #[test]
    fn combine_error_cases() {
        let rng = SeededEntropy::new(b"errors");
        let dep = cs_dep(3, &rng);
        let m = dtas(dep, &rng);
        let id = alice();
        let bob = Identity::new("bob@example.com").unwrap();
        let cs = |i: usize, who: &Identity| m[i].issue_cs_client_secret(who).unwrap();

        assert_eq!(
            CsClientSecret::combine(&[]).unwrap_err(),
            DtaError::NoShares
        );
        let two = [cs(0, &id), cs(1, &id)];
        let err = CsClientSecret::combine(&two).unwrap_err();
        assert_eq!(
            err,
            DtaError::WrongShareCount {
                expected: 3,
                got: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "this deployment has 3 D-TAs; 2 shares given"
        );
        assert_eq!(
            CsClientSecret::combine(&[cs(0, &id), cs(1, &id), cs(0, &id)]).unwrap_err(),
            DtaError::DuplicateDta(m[0].dta)
        );
        assert_eq!(
            CsClientSecret::combine(&[cs(0, &id), cs(1, &bob), cs(2, &id)]).unwrap_err(),
            DtaError::MixedIdentities {
                first: id.clone(),
                other: bob.clone()
            }
        );
        // A share from another deployment (and its fourth D-TA).
        let other = MasterShare::generate(cs_dep(3, &rng), &rng).unwrap();
        let foreign = other.issue_cs_client_secret(&id).unwrap();
        assert_eq!(
            CsClientSecret::combine(&[cs(0, &id), foreign, cs(2, &id)]).unwrap_err(),
            DtaError::MixedDeployments {
                first: dep.id(),
                other: other.deployment.id()
            }
        );
        let tp = |i: usize, d: u32| m[i].issue_cs_time_permit(&id, d).unwrap();
        assert_eq!(
            CsTimePermit::combine(&[tp(0, 4), tp(1, 4), tp(2, 5)]).unwrap_err(),
            DtaError::MixedDays { first: 4, other: 5 }
        );
        let pm = dtas(p2p_dep(2, &rng), &rng);
        let sk = |i: usize, e: u32| pm[i].issue_p2p_server_key(&id, e).unwrap();
        assert_eq!(
            P2pServerKey::combine(&[sk(0, 1), sk(1, 2)]).unwrap_err(),
            DtaError::MixedEpochs { first: 1, other: 2 }
        );
        let ck = |i: usize, e: u32| pm[i].issue_p2p_client_key(&id, e).unwrap();
        assert_eq!(
            P2pClientKey::combine(&[ck(0, 1), ck(1, 2)]).unwrap_err(),
            DtaError::MixedEpochs { first: 1, other: 2 }
        );
        assert!(P2pClientKey::combine(&[ck(0, 1), ck(1, 1)]).is_ok());
    }

    #[test]
    fn shares_that_cancel_are_refused() {
        let rng = SeededEntropy::new(b"cancel");
        let dep = cs_dep(2, &rng);
        let m0 = MasterShare::generate(dep, &rng).unwrap();
        let m1 = MasterShare {
            deployment: dep,
            dta: DtaId([9; 8]),
            secret: -&m0.secret,
        };
        let shares = [
            m0.issue_cs_server_secret().unwrap(),
            m1.issue_cs_server_secret().unwrap(),
        ];
        assert_eq!(
            CsServerSecret::combine(&shares).unwrap_err(),
            DtaError::IdentityKey
        );
    }

    /// The M-Pin relation `e(CS, Q) == e(A, SS)` holds only with every D-TA's
    /// share; likewise for time permits `e(TP, Q) == e(T, SS)`.
    #[test]
    fn cs_keys_from_fewer_shares_do_not_verify() {
        let rng = SeededEntropy::new(b"mpin relation");
        let m = dtas(cs_dep(3, &rng), &rng);
        let id = alice();
        let a = cs_identity_point(&id.cs_hid());
        let q = G2::generator();
        let ss_shares: Vec<_> = m
            .iter()
            .map(|d| d.issue_cs_server_secret().unwrap())
            .collect();
        let ss = CsServerSecret::combine(&ss_shares).unwrap();
        let cs_shares: Vec<_> = m
            .iter()
            .map(|d| d.issue_cs_client_secret(&id).unwrap())
            .collect();
        let full = CsClientSecret::combine(&cs_shares).unwrap();
        assert_eq!(pairing(&full.point, &q), pairing(&a, &ss.point));
        let partial = combine_unchecked(&cs_shares[..2]).unwrap();
        assert_ne!(pairing(&partial.point, &q), pairing(&a, &ss.point));
        // A server secret missing a share does not accept the full client secret.
        let ss_partial = combine_unchecked(&ss_shares[1..]).unwrap();
        assert_ne!(pairing(&full.point, &q), pairing(&a, &ss_partial.point));

        let t = cs_permit_point(20_000, &id.cs_hid());
        let tp_shares: Vec<_> = m
            .iter()
            .map(|d| d.issue_cs_time_permit(&id, 20_000).unwrap())
            .collect();
        let tp = CsTimePermit::combine(&tp_shares).unwrap();
        assert_eq!(pairing(&tp.point, &q), pairing(&t, &ss.point));
        let tp_partial = combine_unchecked(&tp_shares[..2]).unwrap();
        assert_ne!(pairing(&tp_partial.point, &q), pairing(&t, &ss.point));
    }

    /// The P2P relation `e(D_A, H2(B)) == e(H1(A), D_B)` holds only with every
    /// D-TA's share.
    #[test]
    fn p2p_keys_from_fewer_shares_do_not_verify() {
        let rng = SeededEntropy::new(b"p2p relation");
        let m = dtas(p2p_dep(3, &rng), &rng);
        let server = Identity::new("server.example").unwrap();
        let client = alice();
        let h1 = p2p_server_point(&server.p2p_hid(42));
        let h2 = p2p_client_point(&client.p2p_hid(42));
        let da: Vec<_> = m
            .iter()
            .map(|d| d.issue_p2p_server_key(&server, 42).unwrap())
            .collect();
        let db: Vec<_> = m
            .iter()
            .map(|d| d.issue_p2p_client_key(&client, 42).unwrap())
            .collect();
        let d_a = P2pServerKey::combine(&da).unwrap();
        let d_b = P2pClientKey::combine(&db).unwrap();
        assert_eq!(pairing(&d_a.point, &h2), pairing(&h1, &d_b.point));
        let d_a2 = combine_unchecked(&da[..2]).unwrap();
        assert_ne!(pairing(&d_a2.point, &h2), pairing(&h1, &d_b.point));
        let d_b2 = combine_unchecked(&db[1..]).unwrap();
        assert_ne!(pairing(&d_a.point, &h2), pairing(&h1, &d_b2.point));
    }

    /// Issue 9 item 13: `time-permit --date 2030-01-01` must not be issued;
    /// tomorrow's permit may be (renewal before midnight), nothing further.
    #[test]
    fn permits_are_issued_at_most_one_day_ahead() {
        let today = 20_416;
        assert_eq!(check_permit_day(today, today), Ok(()));
        assert_eq!(check_permit_day(today + 1, today), Ok(()));
        assert_eq!(check_permit_day(today - 1, today), Ok(()));
        assert_eq!(check_permit_day(0, today), Ok(()));
        assert_eq!(
            check_permit_day(today + 2, today),
            Err(DtaError::PermitTooFarAhead {
                day: today + 2,
                today
            })
        );
        // 2030-01-01 is day 21915.
        let err = check_permit_day(21_915, today).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a D-TA issues a time permit at most one day ahead (day <= today + 1), so that \
             revocation takes effect within two days: day 21915 is 1499 days after today \
             (day 20416)"
        );
        assert!(check_permit_day(u32::MAX, u32::MAX - 1).is_ok());
        assert!(check_permit_day(u32::MAX, u32::MAX - 2).is_err());
    }
}
