//! E.164 telephone numbers, parsed and validated by the `phonenumber` crate (libphonenumber's data).

use std::fmt;
use std::sync::LazyLock;

/// Numbers already checked against the numbering plan, and whether they passed. libphonenumber's
/// check runs its regexes for every kind of number in the country (about 15 µs a number), and the
/// same numbers come again and again: a tenant's own on every text it receives, its customers'
/// on every reply. A few thousand entries, so the memory stays small with a million numbers loaded.
static CHECKED: LazyLock<moka::sync::Cache<Box<str>, bool>> = LazyLock::new(|| moka::sync::Cache::new(8_192));

/// Whether `input` (`+` and 8 to 15 digits) is a valid number, written canonically.
fn checked(input: &str) -> bool {
    if let Some(known) = CHECKED.get(input) {
        return known;
    }
    let valid = phonenumber::parse(None, input).is_ok_and(|number| {
        // Only a number already written canonically: the numbering plan may drop a digit (a trunk
        // `0` after the country code), and the shorter form could then fail this very check.
        phonenumber::is_valid(&number) && number.format().mode(phonenumber::Mode::E164).to_string() == input
    });
    CHECKED.insert(input.into(), valid);
    valid
}

/// A valid E.164 number, always stored and shown with its leading `+` (`+12025551234`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

/// Why a string is not an E.164 number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E164Error {
    /// The text does not have the E.164 shape.
    #[error("must be an E.164 number: '+' then 8 to 15 digits, such as +12025550100")]
    Shape,
    /// The number has the shape but no such number exists in the numbering plan.
    #[error("is not a valid telephone number in its country's numbering plan")]
    Invalid,
}

impl E164 {
    /// Parses `+` followed by digits, as the admin API requires.
    pub fn parse(input: &str) -> Result<Self, E164Error> {
        let digits = input.strip_prefix('+').ok_or(E164Error::Shape)?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(E164Error::Shape);
        }
        if !checked(input) {
            return Err(E164Error::Invalid);
        }
        Ok(Self(input.to_owned()))
    }

    /// Parses a number as PBX setups write a North American one: E.164 with its `+`, or 11 digits
    /// `1NPANXXXXXX`, or 10 digits `NPANXXXXXX` (1stream's default DID, say) read as `+1…`.
    pub fn parse_nanp(input: &str) -> Result<Self, E164Error> {
        let input = input.trim();
        let digits = input.bytes().all(|b| b.is_ascii_digit());
        match input.len() {
            10 if digits => Self::parse(&format!("+1{input}")),
            11 if digits && input.starts_with('1') => Self::parse(&format!("+{input}")),
            _ => Self::parse(input),
        }
    }

    /// Parses a number as a provider writes it: digits with or without the `+` (Flowroute sends
    /// `12025550100`).
    pub fn from_provider(input: &str) -> Result<Self, E164Error> {
        let input = input.trim();
        if input.starts_with('+') { Self::parse(input) } else { Self::parse(&format!("+{input}")) }
    }

    /// The number without its `+`, as Flowroute wants it (`12025550100`).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The number with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the North American Numbering Plan (`+1`), the only destinations Flowroute serves.
    pub fn is_nanp(&self) -> bool {
        self.0.starts_with("+1") && self.0.len() == 12
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_numbers_are_accepted() {
        // Found by the e164 fuzz target: libphonenumber reads the trunk 0 away, and "+4315597" has
        // too few digits to be read back.
        assert_eq!(E164::from_provider("43015597"), Err(E164Error::Invalid));
        assert_eq!(E164::parse("+43015597"), Err(E164Error::Invalid));
        assert_eq!(E164::parse("+12025550100").map(|n| n.to_string()), Ok("+12025550100".to_owned()));
        assert_eq!(E164::parse("+390612345678").map(|n| n.to_string()), Ok("+390612345678".to_owned()));
    }
    use rstest::rstest;

    #[rstest]
    #[case("+12025550100")]
    #[case("+12065550123")]
    #[case("+14155552671")]
    #[case("+442071838750")]
    fn accepts_valid_numbers(#[case] input: &str) {
        assert_eq!(E164::parse(input).map(|n| n.to_string()), Ok(input.to_string()));
    }

    #[rstest]
    #[case("12025550100", E164Error::Shape)]
    #[case("+1 202 555 0100", E164Error::Shape)]
    #[case("+1202555010a", E164Error::Shape)]
    #[case("+0123456789", E164Error::Shape)]
    #[case("+1234", E164Error::Shape)]
    #[case("+1234567890123456", E164Error::Shape)]
    #[case("", E164Error::Shape)]
    #[case("+11005550100", E164Error::Invalid)]
    fn refuses_malformed_and_invalid(#[case] input: &str, #[case] expected: E164Error) {
        assert_eq!(E164::parse(input), Err(expected));
    }

    #[rstest]
    #[case("12025550100", Ok("+12025550100"))]
    #[case("+12025550100", Ok("+12025550100"))]
    #[case("442071838750", Ok("+442071838750"))]
    #[case("2025550100", Err(E164Error::Invalid))]
    #[case("1-202-555-0100", Err(E164Error::Shape))]
    fn provider_numbers(#[case] input: &str, #[case] expected: Result<&str, E164Error>) {
        assert_eq!(E164::from_provider(input).map(|n| n.to_string()), expected.map(str::to_string));
    }

    #[test]
    fn a_number_checked_before_is_answered_alike() {
        for _ in 0..3 {
            assert_eq!(E164::parse("+12025550100").map(|n| n.to_string()), Ok("+12025550100".to_owned()));
            assert_eq!(E164::parse("+11005550100"), Err(E164Error::Invalid));
            assert_eq!(E164::parse("+43015597"), Err(E164Error::Invalid));
            assert_eq!(E164::from_provider("43015597"), Err(E164Error::Invalid));
        }
    }

    #[test]
    fn digits_drop_the_plus() {
        assert_eq!(E164::parse("+12025550100").map(|n| n.digits().to_owned()), Ok("12025550100".to_owned()));
    }

    #[test]
    fn nanp_is_plus_one_with_ten_digits() {
        assert!(E164::parse("+12025550100").is_ok_and(|n| n.is_nanp()));
        assert!(E164::parse("+442071838750").is_ok_and(|n| !n.is_nanp()));
    }

    #[test]
    fn north_american_numbers_are_read_as_setups_write_them() {
        for written in ["+12025550100", "12025550100", "2025550100", " 2025550100 "] {
            assert_eq!(E164::parse_nanp(written).unwrap().as_str(), "+12025550100", "{written}");
        }
        for refused in ["025550100", "22025550100", "+2025550100", "202555010a"] {
            assert!(E164::parse_nanp(refused).is_err(), "{refused}");
        }
    }
}
