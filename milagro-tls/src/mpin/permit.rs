//! Identity and permit points, and the day rules of the permit policy
//! (docs/protocol.md §5.4, §5.5).
//!
//! * `A = H1_cs-id(HID)`, `T = H1_cs-tp(be32(d) ‖ HID)` (RFC 9380 hash to G1
//!   under the CS DSTs).
//! * [`PermitPolicy::Off`]: `d` must be 0 and `A_d = A`.
//! * [`PermitPolicy::Required`]: `d ≠ 0` and `A_d = A + T`; the server accepts
//!   days within ±1 of its own today, so revocation (no more permits) takes
//!   effect up to two days late.
//! * A client in a permits-required deployment without a permit for its own
//!   today fails before anything is sent ([`client_day`]).

use crate::identity::{Hid, Identity};
use crate::keys::{CsDeployment, CsTimePermit, PermitPolicy, day_of};
use crate::pairing::G1;
use crate::points::cs_permit_point;

use super::CsError;

/// The effective point `A_d` for `day` under `policy`, given `a = A` for `hid`.
///
/// Fails with [`CsError::PermitNotAllowed`] for `day ≠ 0` under
/// [`PermitPolicy::Off`] and with [`CsError::PermitMissing`] for `day = 0`
/// under [`PermitPolicy::Required`]. Does not look at the calendar (see
/// [`check_day`]).
pub fn effective_point(policy: PermitPolicy, hid: &Hid, day: u32, a: &G1) -> Result<G1, CsError> {
    check_policy(policy, day)?;
    Ok(match policy {
        PermitPolicy::Off => a.clone(),
        PermitPolicy::Required => a + &cs_permit_point(day, hid),
    })
}

fn check_policy(policy: PermitPolicy, day: u32) -> Result<(), CsError> {
    match (policy, day) {
        (PermitPolicy::Off, 0) => Ok(()),
        (PermitPolicy::Off, d) => Err(CsError::PermitNotAllowed(d)),
        (PermitPolicy::Required, 0) => Err(CsError::PermitMissing),
        (PermitPolicy::Required, _) => Ok(()),
    }
}

/// Server side: `day` from a share is acceptable under `policy` on the server's
/// day `today` (`floor(now / 86400)`).
///
/// Off: `day` must be 0. Required: `day ≠ 0` and `|day − today| ≤ 1`, else
/// [`CsError::DayOutOfRange`].
pub fn check_day(policy: PermitPolicy, day: u32, today: u32) -> Result<(), CsError> {
    check_policy(policy, day)?;
    if policy == PermitPolicy::Required && day.abs_diff(today) > 1 {
        return Err(CsError::DayOutOfRange { day, today });
    }
    Ok(())
}

/// Client side: the day `d` the client must claim at unix time `now`, checking
/// the permit it holds (if any) before anything is sent.
///
/// Off: no permit may be supplied ([`CsError::UnexpectedPermit`]); `d = 0`.
/// Required: the permit must exist and be for the client's today
/// ([`CsError::NoPermitForToday`]) and belong to `deployment` and `identity`
/// ([`CsError::KeyMismatch`]); `d` is that day.
pub fn client_day(
    deployment: &CsDeployment,
    identity: &Identity,
    permit: Option<&CsTimePermit>,
    now: u64,
) -> Result<u32, CsError> {
    let today = day_of(now);
    match (deployment.permits, permit) {
        (PermitPolicy::Off, None) => Ok(0),
        (PermitPolicy::Off, Some(_)) => Err(CsError::UnexpectedPermit),
        (PermitPolicy::Required, None) => Err(CsError::NoPermitForToday {
            today,
            permit_day: None,
        }),
        (PermitPolicy::Required, Some(p)) => {
            if p.deployment != *deployment || p.identity != *identity {
                return Err(CsError::KeyMismatch {
                    what: "time permit",
                });
            }
            if p.day != today || today == 0 {
                return Err(CsError::NoPermitForToday {
                    today,
                    permit_day: Some(p.day),
                });
            }
            Ok(p.day)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DeploymentId;
    use crate::pairing::G1Domain;
    use crate::points::cs_identity_point;

    fn hid() -> Hid {
        Identity::new("alice@example.com").unwrap().cs_hid()
    }

    #[test]
    fn points_follow_the_formulas() {
        let h = hid();
        let a = cs_identity_point(&h);
        assert_eq!(a, G1::hash(G1Domain::CsIdentity, &[&h.0]));
        let mut msg = 20_000u32.to_be_bytes().to_vec();
        msg.extend_from_slice(&h.0);
        let t = cs_permit_point(20_000, &h);
        assert_eq!(t, G1::hash_with_dst(G1Domain::CsTimePermit.dst(), &msg));
        assert_ne!(t, cs_permit_point(20_001, &h));
        assert_eq!(
            effective_point(PermitPolicy::Required, &h, 20_000, &a).unwrap(),
            &a + &t
        );
        assert_eq!(effective_point(PermitPolicy::Off, &h, 0, &a).unwrap(), a);
    }

    #[test]
    fn policy_rules() {
        let h = hid();
        let a = cs_identity_point(&h);
        assert!(matches!(
            effective_point(PermitPolicy::Off, &h, 5, &a),
            Err(CsError::PermitNotAllowed(5))
        ));
        assert!(matches!(
            effective_point(PermitPolicy::Required, &h, 0, &a),
            Err(CsError::PermitMissing)
        ));
        assert!(check_day(PermitPolicy::Off, 0, 20_000).is_ok());
        assert!(matches!(
            check_day(PermitPolicy::Off, 20_000, 20_000),
            Err(CsError::PermitNotAllowed(20_000))
        ));
        assert!(matches!(
            check_day(PermitPolicy::Required, 0, 20_000),
            Err(CsError::PermitMissing)
        ));
        for d in [19_999, 20_000, 20_001] {
            assert!(check_day(PermitPolicy::Required, d, 20_000).is_ok());
        }
        for d in [19_998, 20_002, u32::MAX] {
            assert!(matches!(
                check_day(PermitPolicy::Required, d, 20_000),
                Err(CsError::DayOutOfRange { day, today: 20_000 }) if day == d
            ));
        }
    }

    #[test]
    fn client_needs_a_permit_for_today() {
        let dep = CsDeployment {
            id: DeploymentId([1; 16]),
            dta_count: 3,
            permits: PermitPolicy::Required,
        };
        let id = Identity::new("alice@example.com").unwrap();
        let now = 20_000 * 86_400 + 100;
        let permit = |day: u32, dep: CsDeployment, id: &Identity| CsTimePermit {
            deployment: dep,
            point: G1::generator(),
            identity: id.clone(),
            day,
        };
        assert_eq!(
            client_day(&dep, &id, Some(&permit(20_000, dep, &id)), now).unwrap(),
            20_000
        );
        assert!(matches!(
            client_day(&dep, &id, None, now),
            Err(CsError::NoPermitForToday {
                today: 20_000,
                permit_day: None
            })
        ));
        // An expired permit (yesterday's) is refused by the client itself.
        assert!(matches!(
            client_day(&dep, &id, Some(&permit(19_999, dep, &id)), now),
            Err(CsError::NoPermitForToday {
                today: 20_000,
                permit_day: Some(19_999)
            })
        ));
        let bob = Identity::new("bob@example.com").unwrap();
        assert!(matches!(
            client_day(&dep, &id, Some(&permit(20_000, dep, &bob)), now),
            Err(CsError::KeyMismatch { .. })
        ));
        let other = CsDeployment {
            id: DeploymentId([2; 16]),
            ..dep
        };
        assert!(matches!(
            client_day(&dep, &id, Some(&permit(20_000, other, &id)), now),
            Err(CsError::KeyMismatch { .. })
        ));
        let off = CsDeployment {
            permits: PermitPolicy::Off,
            ..dep
        };
        assert_eq!(client_day(&off, &id, None, now).unwrap(), 0);
        assert!(matches!(
            client_day(&off, &id, Some(&permit(20_000, off, &id)), now),
            Err(CsError::UnexpectedPermit)
        ));
    }
}
