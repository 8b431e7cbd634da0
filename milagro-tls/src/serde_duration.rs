//! The duration format of the configuration types (cargo feature `serde`):
//! a string of a whole number and a unit, `"250ms"`, `"30s"`, `"5m"` or
//! `"1h"`, or a bare number of seconds (`30`). Use it for a `Duration` field
//! of your own configuration with
//! `#[serde(deserialize_with = "milagro_tls::serde_duration::deserialize")]`.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// Deserializes a [`Duration`] written as `"<n>ms"`, `"<n>s"`, `"<n>m"`,
/// `"<n>h"` or a bare number of seconds. Fails (naming the value) for
/// anything else: a fraction, a negative number, an unknown unit, or an
/// amount that does not fit in a `Duration`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// Parses the string form, `None` when it is not one.
fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let per_unit = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    n.checked_mul(per_unit).map(Duration::from_secs)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration such as \"250ms\", \"30s\", \"5m\", \"1h\", or a number of seconds")
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(secs))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Duration, E> {
        u64::try_from(secs)
            .map(Duration::from_secs)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(secs), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn a_guard_policy_comes_from_a_config_file() {
        use crate::guard::{GuardPolicy, SlowdownPolicy, ThrottlePolicy};
        let policy: GuardPolicy = serde_json::from_str(
            r#"{
                "lockout": { "max_failures": 3, "max_in_flight": 1, "reservation_ttl": "20s" },
                "replay": { "window": "2m", "capacity": 5000 },
                "throttle": { "refill_per_sec": 10, "burst": 40 },
                "slowdown": { "burst": 4, "interval": "1500ms" }
            }"#,
        )
        .unwrap();
        assert_eq!(policy.lockout.max_failures, 3);
        assert_eq!(policy.lockout.max_in_flight, 1);
        assert_eq!(policy.lockout.reservation_ttl, Duration::from_secs(20));
        assert_eq!(policy.replay.window, Duration::from_secs(120));
        assert_eq!(policy.replay.capacity, 5000);
        let throttle = ThrottlePolicy {
            refill_per_sec: 10,
            burst: 40,
            ..ThrottlePolicy::default()
        };
        assert_eq!(policy.throttle, throttle);
        assert_eq!(
            policy.slowdown,
            SlowdownPolicy {
                burst: 4,
                interval: Duration::from_millis(1500)
            }
        );
        // Everything left out keeps its default.
        let empty: GuardPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, GuardPolicy::default());
        // A misspelt field and an unreadable duration are refused, naming them.
        let typo = serde_json::from_str::<GuardPolicy>(r#"{"lockout": {"max_failure": 3}}"#)
            .unwrap_err()
            .to_string();
        assert!(typo.contains("max_failure"), "{typo}");
        // There is no expiry for a failed proof awaiting classification, so a
        // configuration that sets one is refused rather than silently ignored.
        let ttl =
            serde_json::from_str::<GuardPolicy>(r#"{"lockout": {"classification_ttl": "2m"}}"#)
                .unwrap_err()
                .to_string();
        assert!(ttl.contains("classification_ttl"), "{ttl}");
        let bad = serde_json::from_str::<GuardPolicy>(r#"{"replay": {"window": "2 weeks"}}"#)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("2 weeks"), "{bad}");
    }

    #[test]
    fn units_and_refusals() {
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse(" 2 s "), Some(Duration::from_secs(2)));
        for bad in [
            "",
            "s",
            "30",
            "1.5s",
            "-3s",
            "3d",
            "30 seconds",
            "99999999999999999999h",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
