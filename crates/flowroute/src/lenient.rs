//! Deserializers for the fields whose type varies between Flowroute payloads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A whole number given as a JSON number, a string of digits, or null.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A boolean given as `true`/`false`, `"true"`/`"false"`, `1`/`0`, or null.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Some(Value::Number(n)) => n.as_u64().map(|n| n != 0),
        _ => None,
    })
}

/// A string, or null, or a number or boolean written as its text; anything else is absent.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// An RFC 3339 timestamp with 0 to 6 (or more) fraction digits and `Z` or an offset; a timestamp
/// that cannot be read is treated as absent rather than failing the whole callback.
pub(crate) fn opt_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(opt_string(d)?.and_then(|s| parse_timestamp(&s)))
}

/// Parses a Flowroute timestamp.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc3339(&s.replacen(' ', "T", 1)))
        .map(|t| t.with_timezone(&Utc))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("2017-12-21T16:44:35+00:00", "2017-12-21T16:44:35Z")]
    #[case("2017-12-09T01:26:02.00Z", "2017-12-09T01:26:02Z")]
    #[case("2024-10-19T01:21:21.980000Z", "2024-10-19T01:21:21.980Z")]
    #[case("2024-10-19T01:21:21.9Z", "2024-10-19T01:21:21.900Z")]
    #[case("2024-10-19 01:21:21Z", "2024-10-19T01:21:21Z")]
    #[case("2024-10-19T03:21:21.123456+02:00", "2024-10-19T01:21:21.123456Z")]
    fn timestamps(#[case] raw: &str, #[case] expected: &str) {
        assert_eq!(parse_timestamp(raw), parse_timestamp(expected), "{raw}");
        assert!(parse_timestamp(raw).is_some());
    }

    #[test]
    fn unreadable_timestamps_are_absent() {
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
