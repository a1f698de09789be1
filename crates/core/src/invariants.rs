//! Properties that hold for every input, as assertions: the fuzz targets (`fuzz/`) and the
//! property tests (`tests/invariants.rs`) both run them, so CI's short proptest run and a long
//! fuzzing session check the same thing. A failed property panics; nothing else here may.

use chrono::{TimeZone, Utc};

use crate::compliance::{Compliance, classify};
use crate::routing::{RouteInput, route};
use crate::{AfterHours, BusinessWindow, E164, KeywordRule, Party, PolicySpec, Weekday};

/// A policy with every feature on: office hours, an after-hours reply, a keyword rule, HELP.
fn busy_policy() -> PolicySpec {
    PolicySpec {
        name: "Front desk".into(),
        timezone: "America/New_York".into(),
        business_hours: vec![BusinessWindow {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            start: "09:00".into(),
            end: "17:00".into(),
        }],
        holidays: vec![],
        after_hours: Some(AfterHours { destinations: vec![], auto_reply: Some("We are closed.".into()) }),
        keywords: vec![KeywordRule { keyword: "SALES".into(), destinations: vec!["200".into()] }],
        auto_reply_interval_minutes: 1440,
        outbound_per_minute: 60,
        help_reply: Some("Acme: reply STOP to opt out.".into()),
        opt_out_handling: true,
    }
}

/// E.164 parsing: never panics; what it accepts is canonical (`+`, 8–15 digits, no leading 0)
/// and reads back as itself, with or without its `+`.
pub fn e164(input: &str) {
    for parsed in [E164::parse(input), E164::from_provider(input)] {
        let Ok(n) = parsed else { continue };
        let s = n.as_str();
        assert!(s.starts_with('+'), "{input:?} → {s:?}: no '+'");
        assert!((9..=16).contains(&s.len()), "{input:?} → {s:?}: wrong length");
        assert!(s[1..].bytes().all(|b| b.is_ascii_digit()) && !s[1..].starts_with('0'), "{input:?} → {s:?}");
        assert_eq!(E164::parse(s).as_ref(), Ok(&n), "{input:?} → {s:?} does not parse to itself");
        assert_eq!(E164::from_provider(n.digits()).as_ref(), Ok(&n), "{s:?} without its '+'");
        assert_eq!(n.is_nanp(), s.starts_with("+1") && s.len() == 12);
    }
    if let Ok(p) = Party::from_provider(input) {
        assert!(!p.as_str().is_empty(), "{input:?}: an empty party");
    }
}

/// Compliance keywords: a keyword is the whole trimmed body, in any case; padding and case never
/// change the answer; and routing always reports the keyword the text carried and sends an
/// opt-out's text to the number's own destinations, never dropping it.
pub fn keywords(body: &str) {
    let found = classify(Some(body));
    if let Some((word, _)) = found {
        assert_eq!(word, body.trim().to_ascii_uppercase(), "{body:?} matched {word}");
    }
    let padded = format!(" \t{}\n ", body.to_ascii_lowercase());
    assert_eq!(classify(Some(&padded)), found, "{body:?}: case or padding changed the keyword");
    let destinations = vec!["101".to_owned(), "102".to_owned()];
    let now = Utc.with_ymd_and_hms(2026, 3, 8, 6, 30, 0).single().unwrap_or_default();
    for policy in [None, Some(busy_policy())] {
        let decision = route(RouteInput {
            number_destinations: &destinations,
            policy: policy.as_ref(),
            body: Some(body),
            now,
            last_auto_reply: None,
        });
        assert_eq!(decision.keyword, found.map(|(w, _)| w), "{body:?}: routing lost the keyword");
        if matches!(found, Some((_, Compliance::OptOut { .. }))) {
            assert_eq!(decision.destinations, destinations, "{body:?}: an opt-out text was not delivered");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(decision.destinations.iter().all(|d| seen.insert(d)), "{body:?}: a destination twice");
    }
}
