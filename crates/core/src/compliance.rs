//! Compliance keywords (CTIA/carrier rules): STOP and its family opt a party out, START and its
//! family opt it back in, HELP and INFO ask who is texting. Matched on the whole trimmed body,
//! case-insensitively, so "Stop" opts out and "stop texting me at night" does not.

use serde::Serialize;

/// A compliance keyword a text carried, and what it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compliance {
    /// Opt out of this number, or of every number of the tenant for `STOPALL`.
    OptOut { all_numbers: bool },
    /// Lift an opt-out.
    OptIn,
    /// Ask for the help text.
    Help,
}

/// The keyword as matched, upper case, and its meaning.
pub fn classify(body: Option<&str>) -> Option<(&'static str, Compliance)> {
    let word = body?.trim();
    if word.is_empty() || word.len() > 11 {
        return None;
    }
    let upper = word.to_ascii_uppercase();
    let found = match upper.as_str() {
        "STOP" => ("STOP", Compliance::OptOut { all_numbers: false }),
        "STOPALL" => ("STOPALL", Compliance::OptOut { all_numbers: true }),
        "UNSUBSCRIBE" => ("UNSUBSCRIBE", Compliance::OptOut { all_numbers: false }),
        "CANCEL" => ("CANCEL", Compliance::OptOut { all_numbers: false }),
        "END" => ("END", Compliance::OptOut { all_numbers: false }),
        "QUIT" => ("QUIT", Compliance::OptOut { all_numbers: false }),
        "START" => ("START", Compliance::OptIn),
        "UNSTOP" => ("UNSTOP", Compliance::OptIn),
        "YES" => ("YES", Compliance::OptIn),
        "HELP" => ("HELP", Compliance::Help),
        "INFO" => ("INFO", Compliance::Help),
        _ => return None,
    };
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("STOP", Some(("STOP", Compliance::OptOut { all_numbers: false })))]
    #[case("  stop \n", Some(("STOP", Compliance::OptOut { all_numbers: false })))]
    #[case("StopAll", Some(("STOPALL", Compliance::OptOut { all_numbers: true })))]
    #[case("unsubscribe", Some(("UNSUBSCRIBE", Compliance::OptOut { all_numbers: false })))]
    #[case("Cancel", Some(("CANCEL", Compliance::OptOut { all_numbers: false })))]
    #[case("end", Some(("END", Compliance::OptOut { all_numbers: false })))]
    #[case("QUIT", Some(("QUIT", Compliance::OptOut { all_numbers: false })))]
    #[case("start", Some(("START", Compliance::OptIn)))]
    #[case("UNSTOP", Some(("UNSTOP", Compliance::OptIn)))]
    #[case("yes", Some(("YES", Compliance::OptIn)))]
    #[case("help", Some(("HELP", Compliance::Help)))]
    #[case("Info", Some(("INFO", Compliance::Help)))]
    #[case("stop texting me", None)]
    #[case("STOP.", None)]
    #[case("yes please", None)]
    #[case("", None)]
    #[case("ＳＴＯＰ", None)]
    fn keywords(#[case] body: &str, #[case] expected: Option<(&str, Compliance)>) {
        assert_eq!(classify(Some(body)), expected);
    }

    #[test]
    fn no_body_no_keyword() {
        assert_eq!(classify(None), None);
    }
}
