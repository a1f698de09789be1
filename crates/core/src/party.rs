//! The other side of a conversation: a full telephone number, or a short code (five or six digits,
//! as US and Canadian carriers assign them) that may text a number but never receives from it.

use std::fmt;

use crate::e164::{E164, E164Error};

/// A remote party as Flowroute names it, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// A telephone number, with `+`.
    Number(E164),
    /// A short code: 5 or 6 digits, no `+`.
    ShortCode(String),
}

impl Party {
    /// Normalises what Flowroute sends: 11 digits (`12065550123`), the same with `+`, or a short code.
    pub fn from_provider(raw: &str) -> Result<Self, E164Error> {
        let trimmed = raw.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E164Error::Shape);
        }
        if !trimmed.starts_with('+') && (5..=6).contains(&digits.len()) {
            return Ok(Self::ShortCode(digits.to_owned()));
        }
        E164::from_provider(trimmed).map(Self::Number)
    }

    /// The text stored and shown: `+12065550123` or `22395`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Number(n) => n.as_str(),
            Self::ShortCode(s) => s,
        }
    }

    /// The number, when the party is one.
    pub fn number(&self) -> Option<&E164> {
        match self {
            Self::Number(n) => Some(n),
            Self::ShortCode(_) => None,
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("12065550123", "+12065550123")]
    #[case("+12065550123", "+12065550123")]
    #[case(" 12065550123 ", "+12065550123")]
    #[case("22395", "22395")]
    #[case("893274", "893274")]
    fn normalises(#[case] raw: &str, #[case] expected: &str) {
        assert_eq!(Party::from_provider(raw).map(|p| p.to_string()), Ok(expected.to_string()));
    }

    #[rstest]
    #[case("")]
    #[case("abc")]
    #[case("1206555012x")]
    #[case("+22395")]
    #[case("1234")]
    fn refuses(#[case] raw: &str) {
        assert!(Party::from_provider(raw).is_err(), "{raw}");
    }
}
