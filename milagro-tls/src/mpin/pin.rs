//! PINs and PIN extraction (docs/protocol.md §5.7): `token = CS − PIN·A`, and back.
//!
//! A PIN is an integer below `10^digits` (leading zeros carry no meaning:
//! `"0042"` and `"42"` are the same PIN). `digits` is a deployment setting
//! between 1 and [`PinDigits::MAX`] (default [`PinDigits::DEFAULT`]); the
//! server's failure classification searches `δ ∈ ±(10^digits − 1)`, so its
//! cost grows with it (see [`classify`](mod@super::classify)).

use core::fmt;
use core::str::FromStr;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::{CsClientSecret, CsToken};
use crate::pairing::Scalar;

use crate::points::cs_identity_point;

/// Why a PIN or a PIN length was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The PIN string is empty.
    #[error("the PIN is empty")]
    Empty,
    /// The PIN string contains something other than the ASCII digits 0–9.
    #[error("the PIN may contain only the digits 0-9")]
    NotDigits,
    /// The PIN has more digits than the deployment allows.
    #[error("the PIN has {got} digits; at most {max} are allowed")]
    TooLong {
        /// The number of characters supplied.
        got: usize,
        /// The deployment's maximum.
        max: u8,
    },
    /// A numeric PIN is not below `10^digits`.
    #[error("the PIN must be below 10^{max}")]
    TooLarge {
        /// The deployment's maximum number of digits.
        max: u8,
    },
    /// The number of PIN digits is outside `1..=PinDigits::MAX`.
    #[error("PIN length must be between 1 and {max} digits, got {0}", max = PinDigits::MAX)]
    BadDigits(u8),
    /// PIN 0 (all zeros, in any number of digits) cannot be enrolled: the
    /// token `CS − 0·A` would equal the client secret, a credential that
    /// works without any PIN (docs/protocol.md §5.7).
    #[error(
        "PIN 0 (all zeros) cannot be enrolled: the token would equal the client secret and work without any PIN; choose another PIN"
    )]
    ZeroPin,
}

/// The maximum number of PIN digits of a deployment (1 to [`PinDigits::MAX`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PinDigits(u8);

impl PinDigits {
    /// The largest supported PIN length. Classification cost grows with
    /// `sqrt(10^digits)`: ≈11 ms at 6 digits.
    pub const MAX: u8 = 6;
    /// The default PIN length (6 digits).
    pub const DEFAULT: Self = Self(6);

    /// A PIN length; fails with [`PinError::BadDigits`] outside `1..=MAX`.
    pub const fn new(digits: u8) -> Result<Self, PinError> {
        if digits == 0 || digits > Self::MAX {
            return Err(PinError::BadDigits(digits));
        }
        Ok(Self(digits))
    }

    /// The number of digits.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The largest PIN, `10^digits − 1` (also the largest |δ| classified).
    pub const fn max_value(self) -> u32 {
        10u32.pow(self.0 as u32) - 1
    }
}

impl Default for PinDigits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A PIN: an integer below `10^digits`. Zeroized on drop; `Debug` shows no
/// digits.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    value: u32,
}

impl Pin {
    /// Parses a string of 1 to `digits` ASCII digits.
    pub fn parse(s: &str, digits: PinDigits) -> Result<Self, PinError> {
        if s.is_empty() {
            return Err(PinError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinError::NotDigits);
        }
        if s.len() > usize::from(digits.0) {
            return Err(PinError::TooLong {
                got: s.len(),
                max: digits.0,
            });
        }
        // At most 6 digits: no overflow.
        let value = s
            .bytes()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        Ok(Self { value })
    }

    /// A PIN from its integer value; fails if `value ≥ 10^digits`.
    pub fn from_u32(value: u32, digits: PinDigits) -> Result<Self, PinError> {
        if value > digits.max_value() {
            return Err(PinError::TooLarge { max: digits.0 });
        }
        Ok(Self { value })
    }

    /// The PIN as a scalar.
    pub(crate) fn to_scalar(&self) -> Scalar {
        Scalar::from_u64(u64::from(self.value))
    }
}

impl FromStr for Pin {
    type Err = PinError;
    /// Parses with the default length ([`PinDigits::DEFAULT`]).
    fn from_str(s: &str) -> Result<Self, PinError> {
        Self::parse(s, PinDigits::DEFAULT)
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// Extracts `pin` from a client secret (enrolment): `token = CS − PIN·A`,
/// `A` the identity point of the secret's identity. The token alone proves
/// nothing.
///
/// Fails with [`PinError::ZeroPin`] for PIN 0 (`"0"`, `"0000"`, …): its
/// token would be the client secret itself, usable without any PIN
/// (docs/protocol.md §5.7). A PIN of 0 *entered at login* is not refused
/// anywhere: it is simply a wrong PIN.
pub fn extract_pin(secret: &CsClientSecret, pin: &Pin) -> Result<CsToken, PinError> {
    if pin.value == 0 {
        return Err(PinError::ZeroPin);
    }
    let a = cs_identity_point(&secret.identity.cs_hid());
    Ok(CsToken {
        deployment: secret.deployment,
        point: &secret.point - &(&a * &pin.to_scalar()),
        identity: secret.identity.clone(),
    })
}

/// Restores the client secret `CS = token + PIN·A` (the inverse of
/// [`extract_pin`]). A wrong PIN gives a wrong secret, never an error: only the
/// server can tell.
pub fn restore(token: &CsToken, pin: &Pin) -> CsClientSecret {
    let a = cs_identity_point(&token.identity.cs_hid());
    CsClientSecret {
        deployment: token.deployment,
        point: &token.point + &(&a * &pin.to_scalar()),
        identity: token.identity.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::keys::{CsDeployment, DeploymentId, PermitPolicy};
    use crate::pairing::G1;

    #[test]
    fn parsing() {
        let d4 = PinDigits::new(4).unwrap();
        assert_eq!(Pin::parse("0042", d4).unwrap().value, 42);
        assert_eq!(Pin::parse("42", d4).unwrap().value, 42);
        assert_eq!(Pin::parse("9999", d4).unwrap().value, 9999);
        assert_eq!("999999".parse::<Pin>().unwrap().value, 999_999);
        assert_eq!(Pin::parse("", d4).unwrap_err(), PinError::Empty);
        assert_eq!(Pin::parse("12a4", d4).unwrap_err(), PinError::NotDigits);
        assert_eq!(Pin::parse("-123", d4).unwrap_err(), PinError::NotDigits);
        assert_eq!(Pin::parse("１２", d4).unwrap_err(), PinError::NotDigits);
        assert_eq!(
            Pin::parse("12345", d4).unwrap_err(),
            PinError::TooLong { got: 5, max: 4 }
        );
        assert_eq!(
            Pin::from_u32(10_000, d4).unwrap_err(),
            PinError::TooLarge { max: 4 }
        );
        assert_eq!(Pin::from_u32(9_999, d4).unwrap().value, 9_999);
        assert_eq!(PinDigits::new(0), Err(PinError::BadDigits(0)));
        assert_eq!(PinDigits::new(7), Err(PinError::BadDigits(7)));
        assert_eq!(PinDigits::default().max_value(), 999_999);
        assert_eq!(d4.max_value(), 9_999);
    }

    /// Issue 9 item 12: PIN 0 would make the token equal the client secret
    /// (a one-factor credential). Enrolment refuses it in every spelling; a
    /// PIN of 0 entered at login stays possible (it is just wrong).
    #[test]
    fn enrolment_refuses_pin_zero() {
        let identity = Identity::new("alice@example.com").unwrap();
        let a = cs_identity_point(&identity.cs_hid());
        let secret = CsClientSecret {
            deployment: CsDeployment {
                id: DeploymentId([3; 16]),
                dta_count: 1,
                permits: PermitPolicy::Off,
            },
            point: &a * &Scalar::from_u64(77),
            identity,
        };
        for spelling in ["0", "0000"] {
            let zero = Pin::parse(spelling, PinDigits::new(4).unwrap()).unwrap();
            assert_eq!(extract_pin(&secret, &zero).unwrap_err(), PinError::ZeroPin);
        }
        let zero = Pin::from_u32(0, PinDigits::DEFAULT).unwrap();
        assert_eq!(extract_pin(&secret, &zero).unwrap_err(), PinError::ZeroPin);
        assert!(
            PinError::ZeroPin
                .to_string()
                .contains("the token would equal the client secret")
        );
        // The smallest allowed PIN is 1.
        let one = Pin::parse("0001", PinDigits::new(4).unwrap()).unwrap();
        assert_eq!(
            extract_pin(&secret, &one).unwrap().point,
            &a * &Scalar::from_u64(76)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let pin = Pin::parse("1234", PinDigits::DEFAULT).unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
    }

    #[test]
    fn extract_and_restore_are_inverse_and_follow_the_formula() {
        let identity = Identity::new("alice@example.com").unwrap();
        let a = cs_identity_point(&identity.cs_hid());
        let s = Scalar::from_u64(0xdead_beef);
        let secret = CsClientSecret {
            deployment: CsDeployment {
                id: DeploymentId([3; 16]),
                dta_count: 2,
                permits: PermitPolicy::Off,
            },
            point: &a * &s,
            identity,
        };
        let pin = Pin::parse("1234", PinDigits::DEFAULT).unwrap();
        let token = extract_pin(&secret, &pin).unwrap();
        // token = (s − 1234)·A, computed independently in the exponent.
        let expected: G1 = &a * &(&s - &Scalar::from_u64(1234));
        assert_eq!(token.point, expected);
        assert_eq!(restore(&token, &pin).point, secret.point);
        let wrong = Pin::parse("1235", PinDigits::DEFAULT).unwrap();
        assert_ne!(restore(&token, &wrong).point, secret.point);
        assert_eq!(
            restore(&token, &wrong).point,
            &secret.point + &a,
            "a PIN off by +1 adds exactly A"
        );
    }
}
