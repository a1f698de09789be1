//! The routing decision for one inbound text: a pure function of the number, its policy, the text,
//! the current time and when this party last got an auto-reply.
//!
//! Order (docs/routing.md): compliance keyword (flags the text, changes opt-outs, may answer HELP)
//! → the first keyword rule whose keyword is the text's first word → outside business hours, the
//! after-hours destinations and auto-reply → the number's destinations. Without a policy, the
//! number's destinations.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday as ChronoWeekday};
use serde::Serialize;

use crate::compliance::{Compliance, classify};
use crate::policy::{PolicySpec, Weekday, parse_clock, parse_date};

/// The least time between two automatic replies (HELP's or after hours') from one number to one
/// remote: a day.
pub const MIN_REPLY_INTERVAL_MINUTES: i64 = 24 * 60;

/// What routing needs to know about one inbound text.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    /// The number's own destinations, in order.
    pub number_destinations: &'a [String],
    pub policy: Option<&'a PolicySpec>,
    pub body: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// When this number last replied automatically (HELP or after hours) to this party, if ever.
    pub last_auto_reply: Option<DateTime<Utc>>,
}

/// Why the text went where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteReason {
    /// A keyword rule matched.
    Keyword { keyword: String },
    /// Outside business hours.
    AfterHours,
    /// The number's own destinations (inside business hours, or no policy).
    Default,
}

/// A text Switchboard sends back to the party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The after-hours auto-reply.
    AutoReply { body: String },
    /// The answer to HELP or INFO.
    Help { body: String },
}

/// Where a text goes and what follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDecision {
    /// Extensions to deliver to, in order, without repeats.
    pub destinations: Vec<String>,
    pub reason: RouteReason,
    /// The compliance keyword the text carried, upper case.
    pub keyword: Option<&'static str>,
    /// The opt-out change to record, when opt-out handling is on.
    pub opt_out: Option<OptOutChange>,
    /// Replies to queue.
    pub replies: Vec<Reply>,
}

/// A change to the opt-out list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptOutChange {
    /// Opt the party out of this number, or of all the tenant's numbers.
    OptOut { all_numbers: bool },
    /// Lift the party's opt-outs of this number and its tenant-wide one.
    OptIn,
}

fn weekday(d: ChronoWeekday) -> Weekday {
    match d {
        ChronoWeekday::Mon => Weekday::Mon,
        ChronoWeekday::Tue => Weekday::Tue,
        ChronoWeekday::Wed => Weekday::Wed,
        ChronoWeekday::Thu => Weekday::Thu,
        ChronoWeekday::Fri => Weekday::Fri,
        ChronoWeekday::Sat => Weekday::Sat,
        ChronoWeekday::Sun => Weekday::Sun,
    }
}

/// True when `now` falls in one of the policy's windows, read in its time zone. No windows means
/// always open; an unknown time zone (which validation refuses) is read as UTC.
pub fn is_open(policy: &PolicySpec, now: DateTime<Utc>) -> bool {
    if policy.business_hours.is_empty() && policy.holidays.is_empty() {
        return true;
    }
    let local = match chrono_tz::Tz::from_str(&policy.timezone) {
        Ok(tz) => now.with_timezone(&tz).naive_local(),
        Err(_) => now.naive_utc(),
    };
    let today = local.date();
    if policy.holidays.iter().any(|h| parse_date(&h.date).is_ok_and(|d| d == today)) {
        return false;
    }
    if policy.business_hours.is_empty() {
        return true;
    }
    let day = weekday(local.weekday());
    let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(0);
    policy.business_hours.iter().any(|w| {
        w.days.contains(&day)
            && matches!(
                (parse_clock(&w.start, false), parse_clock(&w.end, true)),
                (Ok(start), Ok(end)) if start <= minute && minute < end
            )
    })
}

/// The first word of a text, without punctuation around it ("Sales?" and "sales:" are "sales").
fn first_word(body: Option<&str>) -> Option<&str> {
    let word = body?.split_whitespace().next()?.trim_matches(|c: char| !c.is_alphanumeric());
    (!word.is_empty()).then_some(word)
}

fn dedup(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// Decides where an inbound text goes.
pub fn route(input: RouteInput<'_>) -> RouteDecision {
    let compliance = classify(input.body);
    let keyword = compliance.map(|(k, _)| k);
    let Some(policy) = input.policy else {
        return RouteDecision {
            destinations: dedup(input.number_destinations),
            reason: RouteReason::Default,
            keyword,
            opt_out: compliance.and_then(|(_, c)| change_of(c)),
            replies: Vec::new(),
        };
    };
    let mut replies = Vec::new();
    let opt_out = if policy.opt_out_handling { compliance.and_then(|(_, c)| change_of(c)) } else { None };
    // Automatic replies (HELP's and after hours') go at most once a day to one remote from one
    // number: texts from forged or pumped senders cannot turn into a stream of paid replies.
    let replied_today =
        input.last_auto_reply.is_some_and(|last| input.now - last < Duration::minutes(MIN_REPLY_INTERVAL_MINUTES));
    if let Some((_, Compliance::Help)) = compliance
        && let Some(help) = &policy.help_reply
        && !replied_today
    {
        replies.push(Reply::Help { body: help.clone() });
    }
    // A compliance text never matches a keyword rule (rules may not use those words).
    if compliance.is_none()
        && let Some(word) = first_word(input.body)
        && let Some(rule) = policy.keywords.iter().find(|r| r.keyword.eq_ignore_ascii_case(word))
    {
        return RouteDecision {
            destinations: dedup(&rule.destinations),
            reason: RouteReason::Keyword { keyword: rule.keyword.to_ascii_uppercase() },
            keyword,
            opt_out,
            replies,
        };
    }
    if is_open(policy, input.now) {
        return RouteDecision {
            destinations: dedup(input.number_destinations),
            reason: RouteReason::Default,
            keyword,
            opt_out,
            replies,
        };
    }
    let after = policy.after_hours.as_ref();
    let destinations = match after {
        Some(a) if !a.destinations.is_empty() => dedup(&a.destinations),
        _ => dedup(input.number_destinations),
    };
    // No "we are closed" to someone who just said STOP, START or HELP.
    if compliance.is_none()
        && let Some(text) = after.and_then(|a| a.auto_reply.as_ref())
    {
        // A stored interval below a day (allowed once) counts as a day.
        let interval = Duration::minutes(i64::from(policy.auto_reply_interval_minutes).max(MIN_REPLY_INTERVAL_MINUTES));
        if input.last_auto_reply.is_none_or(|last| input.now - last >= interval) {
            replies.push(Reply::AutoReply { body: text.clone() });
        }
    }
    RouteDecision { destinations, reason: RouteReason::AfterHours, keyword, opt_out, replies }
}

fn change_of(c: Compliance) -> Option<OptOutChange> {
    match c {
        Compliance::OptOut { all_numbers } => Some(OptOutChange::OptOut { all_numbers }),
        Compliance::OptIn => Some(OptOutChange::OptIn),
        Compliance::Help => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{AfterHours, BusinessWindow, Holiday, KeywordRule};
    use rstest::rstest;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn policy() -> PolicySpec {
        PolicySpec {
            name: "Front desk".into(),
            timezone: "America/New_York".into(),
            business_hours: vec![BusinessWindow {
                days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
                start: "09:00".into(),
                end: "17:00".into(),
            }],
            holidays: vec![],
            after_hours: Some(AfterHours {
                destinations: vec!["200".into()],
                auto_reply: Some("We are closed.".into()),
            }),
            keywords: vec![KeywordRule { keyword: "SALES".into(), destinations: vec!["300".into(), "301".into()] }],
            auto_reply_interval_minutes: 1440,
            outbound_per_minute: 60,
            help_reply: Some("Acme: reply STOP to opt out.".into()),
            opt_out_handling: true,
        }
    }

    fn number() -> Vec<String> {
        vec!["101".into(), "102".into()]
    }

    fn decide(p: Option<&PolicySpec>, body: Option<&str>, now: &str, last: Option<&str>) -> RouteDecision {
        let dests = number();
        route(RouteInput { number_destinations: &dests, policy: p, body, now: at(now), last_auto_reply: last.map(at) })
    }

    // Monday 2026-11-23: 14:00Z is 09:00 EST (open), 13:59Z is 08:59 (closed), 22:00Z is 17:00 (closed).
    #[rstest]
    #[case::open_at_nine("2026-11-23T14:00:00Z", true)]
    #[case::closed_a_minute_before("2026-11-23T13:59:59Z", false)]
    #[case::closed_at_five("2026-11-23T22:00:00Z", false)]
    #[case::open_at_four_fifty_nine("2026-11-23T21:59:00Z", true)]
    #[case::closed_saturday("2026-11-28T15:00:00Z", false)]
    #[case::utc_monday_is_local_sunday("2026-11-23T03:00:00Z", false)]
    fn business_hours_in_the_policy_zone(#[case] now: &str, #[case] open: bool) {
        assert_eq!(is_open(&policy(), at(now)), open);
    }

    #[rstest]
    // 2026-03-08 (Sunday) New York springs forward at 02:00 EST → 03:00 EDT.
    #[case::spring_forward_uses_edt("2026-03-08T13:30:00Z", true)] // 09:30 EDT, but 08:30 EST
    #[case::spring_forward_before_open("2026-03-08T12:59:00Z", false)] // 08:59 EDT
    // 2026-11-01 (Sunday) New York falls back at 02:00 EDT → 01:00 EST.
    #[case::fall_back_uses_est("2026-11-01T13:30:00Z", false)] // 08:30 EST, but 09:30 EDT
    #[case::fall_back_open("2026-11-01T14:00:00Z", true)] // 09:00 EST
    #[case::fall_back_closing("2026-11-01T21:59:00Z", true)] // 16:59 EST
    #[case::fall_back_closed("2026-11-01T22:00:00Z", false)] // 17:00 EST
    fn daylight_saving_edges(#[case] now: &str, #[case] open: bool) {
        let mut p = policy();
        p.business_hours[0].days = vec![Weekday::Sun];
        assert_eq!(is_open(&p, at(now)), open, "{now}");
    }

    #[rstest]
    #[case::midnight_end_includes_the_last_minute("2026-11-23T04:59:00Z", true)] // 23:59 EST Sunday
    #[case::midnight_end_excludes_next_day("2026-11-23T05:00:00Z", false)] // 00:00 EST Monday
    fn windows_that_end_at_midnight(#[case] now: &str, #[case] open: bool) {
        let mut p = policy();
        p.business_hours =
            vec![BusinessWindow { days: vec![Weekday::Sun], start: "18:00".into(), end: "24:00".into() }];
        assert_eq!(is_open(&p, at(now)), open);
    }

    // Thursday 2026-12-24 and Friday 2026-12-25 in New York; a holiday closes its whole local day.
    #[rstest]
    #[case::the_day_before_is_open("2026-12-24T15:00:00Z", true)]
    #[case::closed_in_hours("2026-12-25T15:00:00Z", false)]
    #[case::closed_from_local_midnight("2026-12-25T05:00:00Z", false)]
    #[case::utc_holiday_is_local_eve("2026-12-25T04:59:00Z", true)] // 23:59 on the 24th
    #[case::open_the_next_monday("2026-12-28T15:00:00Z", true)]
    fn holidays_close_their_local_day(#[case] now: &str, #[case] open: bool) {
        let mut p = policy();
        p.business_hours[0] = BusinessWindow {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            start: "00:00".into(),
            end: "24:00".into(),
        };
        p.holidays = vec![Holiday { date: "2026-12-25".into(), name: Some("Christmas Day".into()) }];
        assert_eq!(is_open(&p, at(now)), open, "{now}");
    }

    #[test]
    fn a_holiday_closes_a_policy_without_hours() {
        let mut p = policy();
        p.business_hours.clear();
        p.holidays = vec![Holiday { date: "2026-11-26".into(), name: None }];
        assert!(!is_open(&p, at("2026-11-26T18:00:00Z")));
        assert!(is_open(&p, at("2026-11-27T18:00:00Z")));
        let d = decide(Some(&p), Some("hello"), "2026-11-26T18:00:00Z", None);
        assert_eq!(d.reason, RouteReason::AfterHours);
        assert_eq!(d.replies.len(), 1, "the after-hours auto-reply goes out on a holiday");
    }

    #[test]
    fn no_windows_means_always_open() {
        let mut p = policy();
        p.business_hours.clear();
        assert!(is_open(&p, at("2026-11-28T03:00:00Z")));
    }

    const OPEN: &str = "2026-11-23T15:00:00Z";
    const CLOSED: &str = "2026-11-23T23:30:00Z";

    #[rstest]
    #[case::open_goes_to_the_number(Some("hello"), OPEN, &["101", "102"], RouteReason::Default)]
    #[case::closed_goes_after_hours(Some("hello"), CLOSED, &["200"], RouteReason::AfterHours)]
    #[case::keyword_first_word(Some("sales: how much?"), OPEN, &["300", "301"], RouteReason::Keyword { keyword: "SALES".into() })]
    #[case::keyword_beats_after_hours(Some("Sales please"), CLOSED, &["300", "301"], RouteReason::Keyword { keyword: "SALES".into() })]
    #[case::keyword_must_be_the_first_word(Some("I want sales"), OPEN, &["101", "102"], RouteReason::Default)]
    #[case::keyword_whole_word_only(Some("salesman here"), OPEN, &["101", "102"], RouteReason::Default)]
    #[case::keyword_with_punctuation(Some("¿SALES?"), OPEN, &["300", "301"], RouteReason::Keyword { keyword: "SALES".into() })]
    #[case::mms_without_body(None, OPEN, &["101", "102"], RouteReason::Default)]
    #[case::only_punctuation(Some("?!"), OPEN, &["101", "102"], RouteReason::Default)]
    #[case::stop_is_routed_too(Some("STOP"), CLOSED, &["200"], RouteReason::AfterHours)]
    fn destinations(
        #[case] body: Option<&str>,
        #[case] now: &str,
        #[case] expected: &[&str],
        #[case] reason: RouteReason,
    ) {
        let p = policy();
        let d = decide(Some(&p), body, now, None);
        assert_eq!(d.destinations, expected.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(d.reason, reason);
    }

    #[rstest]
    #[case::first_time(None, true)]
    #[case::within_the_interval(Some("2026-11-23T00:00:00Z"), false)]
    #[case::exactly_the_interval_later(Some("2026-11-22T23:30:00Z"), true)]
    #[case::long_ago(Some("2026-01-01T00:00:00Z"), true)]
    fn auto_reply_at_most_once_per_interval(#[case] last: Option<&str>, #[case] replies: bool) {
        let p = policy();
        let d = decide(Some(&p), Some("anyone there?"), CLOSED, last);
        assert_eq!(d.replies == vec![Reply::AutoReply { body: "We are closed.".into() }], replies, "{d:?}");
    }

    /// HELP's answer and the after-hours text share one allowance: once a day per remote and number,
    /// whatever a (stored, older) policy says.
    #[test]
    fn automatic_replies_go_at_most_once_a_day() {
        let help = || vec![Reply::Help { body: "Acme: reply STOP to opt out.".into() }];
        let p = policy();
        let hour_ago = "2026-11-23T12:59:59Z";
        let day_ago = "2026-11-22T13:59:59Z";
        assert_eq!(decide(Some(&p), Some("HELP"), CLOSED, Some(hour_ago)).replies, vec![]);
        assert_eq!(decide(Some(&p), Some("HELP"), OPEN, Some(hour_ago)).replies, vec![]);
        assert_eq!(decide(Some(&p), Some("HELP"), CLOSED, Some(day_ago)).replies, help());
        assert_eq!(decide(Some(&p), Some("HELP"), OPEN, None).replies, help());
        let mut short = policy();
        short.auto_reply_interval_minutes = 5;
        assert_eq!(
            decide(Some(&short), Some("hi"), CLOSED, Some(hour_ago)).replies,
            vec![],
            "an interval under a day counts as a day"
        );
        assert_eq!(decide(Some(&short), Some("hi"), CLOSED, Some(day_ago)).replies.len(), 1);
    }

    #[test]
    fn no_auto_reply_inside_hours_or_without_text() {
        let p = policy();
        assert!(decide(Some(&p), Some("hi"), OPEN, None).replies.is_empty());
        let mut p = policy();
        p.after_hours = Some(AfterHours { destinations: vec![], auto_reply: None });
        let d = decide(Some(&p), Some("hi"), CLOSED, None);
        assert!(d.replies.is_empty());
        assert_eq!(d.destinations, number(), "after hours without its own destinations uses the number's");
    }

    #[rstest]
    #[case::stop(Some("stop"), Some("STOP"), Some(OptOutChange::OptOut { all_numbers: false }), vec![])]
    #[case::stopall(Some("STOPALL"), Some("STOPALL"), Some(OptOutChange::OptOut { all_numbers: true }), vec![])]
    #[case::start(Some("Start"), Some("START"), Some(OptOutChange::OptIn), vec![])]
    #[case::help(Some("help"), Some("HELP"), None, vec![Reply::Help { body: "Acme: reply STOP to opt out.".into() }])]
    #[case::plain(Some("hello"), None, None, vec![Reply::AutoReply { body: "We are closed.".into() }])]
    fn compliance_after_hours(
        #[case] body: Option<&str>,
        #[case] keyword: Option<&str>,
        #[case] change: Option<OptOutChange>,
        #[case] replies: Vec<Reply>,
    ) {
        let p = policy();
        let d = decide(Some(&p), body, CLOSED, None);
        assert_eq!(d.keyword, keyword);
        assert_eq!(d.opt_out, change);
        assert_eq!(d.replies, replies, "no auto-reply to a compliance keyword");
    }

    #[test]
    fn help_without_a_help_reply_sends_nothing() {
        let mut p = policy();
        p.help_reply = None;
        let d = decide(Some(&p), Some("INFO"), OPEN, None);
        assert_eq!(d.keyword, Some("INFO"));
        assert!(d.replies.is_empty());
    }

    #[test]
    fn opt_out_handling_off_flags_but_changes_nothing() {
        let mut p = policy();
        p.opt_out_handling = false;
        let d = decide(Some(&p), Some("STOP"), OPEN, None);
        assert_eq!((d.keyword, d.opt_out), (Some("STOP"), None));
    }

    #[test]
    fn without_a_policy_the_number_decides_and_stop_still_counts() {
        let d = decide(None, Some("sales"), CLOSED, None);
        assert_eq!((d.destinations, d.reason), (number(), RouteReason::Default));
        let d = decide(None, Some("stop"), OPEN, None);
        assert_eq!(d.opt_out, Some(OptOutChange::OptOut { all_numbers: false }));
        assert!(d.replies.is_empty());
    }

    #[test]
    fn destinations_are_deduplicated_in_order() {
        let dests: Vec<String> = vec!["101".into(), "102".into(), "101".into()];
        let d = route(RouteInput {
            number_destinations: &dests,
            policy: None,
            body: None,
            now: at(OPEN),
            last_auto_reply: None,
        });
        assert_eq!(d.destinations, vec!["101".to_string(), "102".to_string()]);
    }
}
