//! A number's routing policy as tenant admins write it, and the checks that need no store.

use std::collections::HashSet;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::check_extension;
use crate::validation::{FieldErrors, text};

/// Longest auto-reply or HELP reply accepted (ten 160-character segments).
pub const MAX_REPLY_CHARS: usize = 1600;

/// Compliance keywords that Switchboard handles itself; keyword rules may not use them.
pub const COMPLIANCE_KEYWORDS: &[&str] =
    &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "START", "UNSTOP", "YES", "HELP", "INFO"];

/// A day of the week, as `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Open hours on the given days, `start` inclusive to `end` exclusive, in the policy's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessWindow {
    /// Days the window applies to.
    pub days: Vec<Weekday>,
    /// Opening time, `HH:MM` (24-hour).
    #[schema(example = "09:00")]
    pub start: String,
    /// Closing time, `HH:MM`, after `start`; `24:00` means midnight at the end of the day.
    #[schema(example = "17:00")]
    pub end: String,
}

/// Where texts go outside business hours, and the reply the sender gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AfterHours {
    /// Extensions that receive texts after hours; empty means the number's own destinations.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// Text sent back to the sender, at most once per `auto_reply_interval_minutes` (a day or more).
    #[serde(default)]
    pub auto_reply: Option<String>,
}

/// Texts whose first word is `keyword` (case-insensitive) go to `destinations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// One word of letters and digits.
    #[schema(example = "SALES")]
    pub keyword: String,
    /// Extensions that receive matching texts.
    pub destinations: Vec<String>,
}

/// A day the number is closed from midnight to midnight in the policy's time zone: texts are
/// handled as after hours whatever the business hours say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The day, `YYYY-MM-DD`.
    #[schema(example = "2026-12-25")]
    pub date: String,
    /// What the day is, for people reading the policy.
    #[serde(default)]
    #[schema(example = "Christmas Day")]
    pub name: Option<String>,
}

/// Most holidays one policy may list.
pub const MAX_HOLIDAYS: usize = 400;

/// Parses a holiday's `YYYY-MM-DD`.
pub fn parse_date(value: &str) -> Result<chrono::NaiveDate, String> {
    let err = || "must be a date YYYY-MM-DD, such as 2026-12-25".to_owned();
    if value.len() != 10 {
        return Err(err());
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| err())
}

fn default_interval() -> u32 {
    1440
}
fn default_per_minute() -> u32 {
    60
}
fn default_true() -> bool {
    true
}

/// A routing policy: time zone, business hours, after-hours handling, keyword rules and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Display name.
    #[schema(example = "Front desk")]
    pub name: String,
    /// IANA time zone name in which business hours are read.
    #[schema(example = "America/New_York")]
    pub timezone: String,
    /// Open windows; empty means always open.
    #[serde(default)]
    pub business_hours: Vec<BusinessWindow>,
    /// Days closed all day, in the policy's time zone (handled as after hours).
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    /// Handling outside business hours.
    #[serde(default)]
    pub after_hours: Option<AfterHours>,
    /// Keyword rules, first match wins.
    #[serde(default)]
    pub keywords: Vec<KeywordRule>,
    /// Minimum minutes between two auto-replies to the same remote party (1 to 525600).
    #[serde(default = "default_interval")]
    pub auto_reply_interval_minutes: u32,
    /// Outbound texts per minute allowed from each number using this policy (1 to 6000).
    #[serde(default = "default_per_minute")]
    pub outbound_per_minute: u32,
    /// Reply to HELP and INFO; none sends no reply.
    #[serde(default)]
    pub help_reply: Option<String>,
    /// Whether STOP/START keywords change the opt-out list.
    #[serde(default = "default_true")]
    pub opt_out_handling: bool,
}

/// Parses `HH:MM` into minutes after midnight; `24:00` is allowed only where `allow_24` says.
pub fn parse_clock(value: &str, allow_24: bool) -> Result<u16, String> {
    let err = || format!("must be a time HH:MM between 00:00 and {}", if allow_24 { "24:00" } else { "23:59" });
    let (h, m) = value.split_once(':').ok_or_else(err)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(err());
    }
    let h: u16 = h.parse().map_err(|_| err())?;
    let m: u16 = m.parse().map_err(|_| err())?;
    match (h, m) {
        (0..=23, 0..=59) => Ok(h * 60 + m),
        (24, 0) if allow_24 => Ok(1440),
        _ => Err(err()),
    }
}

fn check_destinations(errors: &mut FieldErrors, field: &str, list: &[String], required: bool) {
    if required && list.is_empty() {
        errors.add(field, "must name at least one extension");
    }
    let mut seen = HashSet::new();
    for (i, ext) in list.iter().enumerate() {
        if let Err(e) = check_extension(ext) {
            errors.add(format!("{field}[{i}]"), e);
        } else if !seen.insert(ext) {
            errors.add(format!("{field}[{i}]"), format!("extension '{ext}' is listed twice"));
        }
    }
}

/// Checks an optional reply text.
fn check_reply(errors: &mut FieldErrors, field: &str, reply: Option<&String>) {
    if let Some(reply) = reply {
        text(errors, field, reply, MAX_REPLY_CHARS);
    }
}

/// Checks an IANA time zone name.
pub fn check_timezone(name: &str) -> Result<(), String> {
    chrono_tz::Tz::from_str(name)
        .map(|_| ())
        .map_err(|_| "must be an IANA time zone name, such as America/New_York".to_owned())
}

impl PolicySpec {
    /// Every check that needs no store; extensions' existence is checked by the store.
    pub fn validate(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        text(&mut errors, "name", &self.name, 200);
        errors.check("timezone", check_timezone(&self.timezone));
        for (i, w) in self.business_hours.iter().enumerate() {
            let f = format!("business_hours[{i}]");
            if w.days.is_empty() {
                errors.add(format!("{f}.days"), "must name at least one day");
            }
            let mut days = HashSet::new();
            if w.days.iter().any(|d| !days.insert(d)) {
                errors.add(format!("{f}.days"), "must not name a day twice");
            }
            let start = errors.check(&format!("{f}.start"), parse_clock(&w.start, false));
            let end = errors.check(&format!("{f}.end"), parse_clock(&w.end, true));
            if let (Some(s), Some(e)) = (start, end)
                && e <= s
            {
                errors.add(format!("{f}.end"), "must be after start; split a window that crosses midnight in two");
            }
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            errors.add("holidays", format!("must list at most {MAX_HOLIDAYS} days"));
        }
        let mut dates = HashSet::new();
        for (i, h) in self.holidays.iter().enumerate() {
            let f = format!("holidays[{i}]");
            if errors.check(&format!("{f}.date"), parse_date(&h.date)).is_some() && !dates.insert(&h.date) {
                errors.add(format!("{f}.date"), format!("{} is listed twice", h.date));
            }
            if let Some(name) = &h.name {
                text(&mut errors, &format!("{f}.name"), name, 100);
            }
        }
        if let Some(after) = &self.after_hours {
            check_destinations(&mut errors, "after_hours.destinations", &after.destinations, false);
            check_reply(&mut errors, "after_hours.auto_reply", after.auto_reply.as_ref());
        }
        let mut words = HashSet::new();
        for (i, rule) in self.keywords.iter().enumerate() {
            let f = format!("keywords[{i}]");
            let upper = rule.keyword.to_ascii_uppercase();
            if rule.keyword.is_empty()
                || rule.keyword.len() > 32
                || !rule.keyword.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                errors.add(format!("{f}.keyword"), "must be one word of 1 to 32 letters and digits");
            } else if COMPLIANCE_KEYWORDS.contains(&upper.as_str()) {
                errors.add(
                    format!("{f}.keyword"),
                    format!("'{upper}' is a compliance keyword that Switchboard handles itself"),
                );
            } else if !words.insert(upper.clone()) {
                errors.add(format!("{f}.keyword"), format!("'{upper}' appears twice (keywords are case-insensitive)"));
            }
            check_destinations(&mut errors, &format!("{f}.destinations"), &rule.destinations, true);
        }
        if !(1440..=525_600).contains(&self.auto_reply_interval_minutes) {
            errors.add(
                "auto_reply_interval_minutes",
                "must be between 1440 (a day: automatic replies go at most once a day to one sender) and 525600 (a year)",
            );
        }
        if !(1..=6000).contains(&self.outbound_per_minute) {
            errors.add("outbound_per_minute", "must be between 1 and 6000");
        }
        check_reply(&mut errors, "help_reply", self.help_reply.as_ref());
        errors
    }

    /// Every extension the policy names, each once.
    pub fn referenced_extensions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let after = self.after_hours.iter().flat_map(|a| a.destinations.iter());
        for ext in after.chain(self.keywords.iter().flat_map(|k| k.destinations.iter())) {
            if !out.contains(ext) {
                out.push(ext.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn spec() -> PolicySpec {
        PolicySpec {
            name: "Front desk".into(),
            timezone: "America/New_York".into(),
            business_hours: vec![BusinessWindow {
                days: vec![Weekday::Mon, Weekday::Fri],
                start: "09:00".into(),
                end: "17:00".into(),
            }],
            holidays: vec![Holiday { date: "2026-12-25".into(), name: Some("Christmas Day".into()) }],
            after_hours: Some(AfterHours { destinations: vec!["200".into()], auto_reply: Some("Closed".into()) }),
            keywords: vec![KeywordRule { keyword: "SALES".into(), destinations: vec!["300".into()] }],
            auto_reply_interval_minutes: 1440,
            outbound_per_minute: 60,
            help_reply: None,
            opt_out_handling: true,
        }
    }

    fn fields(spec: &PolicySpec) -> Vec<String> {
        spec.validate().into_vec().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_complete_policy_is_valid() {
        assert!(spec().validate().is_empty());
        assert_eq!(spec().referenced_extensions(), vec!["200".to_string(), "300".to_string()]);
    }

    #[rstest]
    #[case::bad_zone(|s: &mut PolicySpec| s.timezone = "Mars/Olympus".into(), "timezone")]
    #[case::bad_start(|s: &mut PolicySpec| s.business_hours[0].start = "9:00".into(), "business_hours[0].start")]
    #[case::start_24(|s: &mut PolicySpec| s.business_hours[0].start = "24:00".into(), "business_hours[0].start")]
    #[case::end_before_start(|s: &mut PolicySpec| s.business_hours[0].end = "08:00".into(), "business_hours[0].end")]
    #[case::no_days(|s: &mut PolicySpec| s.business_hours[0].days.clear(), "business_hours[0].days")]
    #[case::compliance_keyword(|s: &mut PolicySpec| s.keywords[0].keyword = "stop".into(), "keywords[0].keyword")]
    #[case::two_words(|s: &mut PolicySpec| s.keywords[0].keyword = "two words".into(), "keywords[0].keyword")]
    #[case::no_destinations(|s: &mut PolicySpec| s.keywords[0].destinations.clear(), "keywords[0].destinations")]
    #[case::bad_ext(|s: &mut PolicySpec| s.after_hours = Some(AfterHours { destinations: vec!["a b".into()], auto_reply: None }), "after_hours.destinations[0]")]
    #[case::zero_interval(|s: &mut PolicySpec| s.auto_reply_interval_minutes = 0, "auto_reply_interval_minutes")]
    #[case::huge_rate(|s: &mut PolicySpec| s.outbound_per_minute = 6001, "outbound_per_minute")]
    #[case::empty_help(|s: &mut PolicySpec| s.help_reply = Some("  ".into()), "help_reply")]
    #[case::long_help(|s: &mut PolicySpec| s.help_reply = Some("x".repeat(1601)), "help_reply")]
    #[case::empty_name(|s: &mut PolicySpec| s.name = "".into(), "name")]
    #[case::bad_date(|s: &mut PolicySpec| s.holidays[0].date = "2026-02-30".into(), "holidays[0].date")]
    #[case::short_date(|s: &mut PolicySpec| s.holidays[0].date = "2026-1-5".into(), "holidays[0].date")]
    #[case::twice(|s: &mut PolicySpec| s.holidays.push(s.holidays[0].clone()), "holidays[1].date")]
    #[case::blank_holiday_name(|s: &mut PolicySpec| s.holidays[0].name = Some(" ".into()), "holidays[0].name")]
    fn each_rule_names_its_field(#[case] change: fn(&mut PolicySpec), #[case] field: &str) {
        let mut s = spec();
        change(&mut s);
        assert_eq!(fields(&s), vec![field.to_string()]);
    }

    #[test]
    fn duplicate_keywords_are_case_insensitive() {
        let mut s = spec();
        s.keywords.push(KeywordRule { keyword: "sales".into(), destinations: vec!["301".into()] });
        assert_eq!(fields(&s), vec!["keywords[1].keyword".to_string()]);
    }

    #[rstest]
    #[case("00:00", true, Ok(0))]
    #[case("23:59", false, Ok(1439))]
    #[case("24:00", true, Ok(1440))]
    #[case("24:00", false, Err(()))]
    #[case("12:60", true, Err(()))]
    #[case("1200", true, Err(()))]
    fn clocks(#[case] v: &str, #[case] allow_24: bool, #[case] expected: Result<u16, ()>) {
        assert_eq!(parse_clock(v, allow_24).map_err(|_| ()), expected);
    }
}
