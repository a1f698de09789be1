//! Quiet hours: when an automated text (an auto-reply, an API send marked as not conversational)
//! may reach a North American number, in the recipient's local time. The recipient's area code
//! gives its time zones and its state (`data/area_codes.txt`, from libphonenumber); the federal
//! window (8:00 to 21:00) applies everywhere, a state's stricter one where it has one
//! (`data/quiet_hours.txt`), and a tenant may narrow it further. Where an area code spans several
//! zones, a text goes only when it is allowed in all of them. A human's reply in a conversation is
//! never held (the caller decides which texts this applies to).
//!
//! A number outside North America, or in an area code the data does not know, is not held: its
//! local time cannot be told.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::E164;

/// A daily window, local time: from `from` (included) until `until` (excluded), within one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: NaiveTime,
    pub until: NaiveTime,
}

impl Window {
    /// A window from `from` until `until`; `None` unless `from` comes first.
    pub fn new(from: NaiveTime, until: NaiveTime) -> Option<Self> {
        (from < until).then_some(Self { from, until })
    }

    /// A tenant's window for its automated texts, `HH:MM` to `HH:MM` in the recipient's local
    /// time: it must open before it closes and leave at least an hour of the federal 8:00 to
    /// 21:00 (a window outside it would hold every automated text for ever).
    pub fn parse(from: &str, until: &str) -> Result<Self, String> {
        if from.trim().is_empty() || until.trim().is_empty() {
            return Err("needs both ends, such as 09:00 and 18:00".into());
        }
        let time = |t: &str| {
            NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| format!("'{t}' is not a time of day such as 09:00"))
        };
        let window = Self::new(time(from)?, time(until)?).ok_or("must open before it closes")?;
        let federal = Self { from: hm(8), until: hm(21) };
        match window.meet(federal) {
            Some(w) if w.until - w.from >= chrono::Duration::hours(1) => Ok(window),
            _ => Err("must leave at least an hour between 08:00 and 21:00, when automated texts may be sent".into()),
        }
    }

    /// `HH:MM` of its opening and closing.
    pub fn as_text(self) -> (String, String) {
        (self.from.format("%H:%M").to_string(), self.until.format("%H:%M").to_string())
    }

    fn meet(self, other: Self) -> Option<Self> {
        Self::new(self.from.max(other.from), self.until.min(other.until))
    }

    fn holds(self, t: NaiveTime) -> bool {
        self.from <= t && t < self.until
    }
}

fn hm(hour: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// A place's window on some days of the week (Monday first).
#[derive(Debug, Clone, Copy)]
struct Rule {
    days: [bool; 7],
    window: Window,
}

/// An area code's zones and place.
#[derive(Debug)]
struct AreaCode {
    zones: Vec<Tz>,
    place: String,
}

static AREA_CODES: LazyLock<HashMap<String, AreaCode>> = LazyLock::new(|| {
    data_lines(include_str!("../data/area_codes.txt"))
        .filter_map(|fields| {
            let [code, zones, place] = fields[..] else { return None };
            let zones: Vec<Tz> = zones.split('&').filter_map(|z| z.parse().ok()).collect();
            (!zones.is_empty()).then(|| (code.to_owned(), AreaCode { zones, place: place.to_owned() }))
        })
        .collect()
});

/// Each place's rules; `*` is everyone's.
static RULES: LazyLock<HashMap<String, Vec<Rule>>> = LazyLock::new(|| {
    let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
    for fields in data_lines(include_str!("../data/quiet_hours.txt")) {
        let [place, days, from, until] = fields[..] else { continue };
        let (Some(days), Ok(from), Ok(until)) =
            (day_set(days), NaiveTime::parse_from_str(from, "%H:%M"), NaiveTime::parse_from_str(until, "%H:%M"))
        else {
            continue;
        };
        if let Some(window) = Window::new(from, until) {
            rules.entry(place.to_owned()).or_default().push(Rule { days, window });
        }
    }
    rules
});

/// The `|`-separated fields of each line that is not a comment.
fn data_lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| l.split('|').map(str::trim).collect())
}

/// `Mon-Sun`, `Mon-Sat`, `Sun`: the days named, Monday first.
fn day_set(text: &str) -> Option<[bool; 7]> {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let index = |d: &str| NAMES.iter().position(|n| *n == d);
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (index(a)?, index(b)?),
        None => (index(text)?, index(text)?),
    };
    let mut days = [false; 7];
    days.iter_mut().take(last + 1).skip(first).for_each(|d| *d = true);
    Some(days)
}

/// The zones and place of a North American number's area code.
fn area(to: &E164) -> Option<&'static AreaCode> {
    if !to.is_nanp() {
        return None;
    }
    to.digits().get(1..4).and_then(|code| AREA_CODES.get(code))
}

/// The window a text may arrive in on `date` in `place` (the tenant's narrowing it), or none.
fn window_on(place: &str, date: NaiveDate, tenant: Option<Window>) -> Option<Window> {
    let rules = RULES.get(place).or_else(|| RULES.get("*"))?;
    let weekday = date.weekday().num_days_from_monday() as usize;
    let rule = rules.iter().find(|r| r.days.get(weekday).copied().unwrap_or(false))?;
    match tenant {
        Some(t) => rule.window.meet(t),
        None => Some(rule.window),
    }
}

fn allowed(area: &AreaCode, at: DateTime<Utc>, tenant: Option<Window>) -> bool {
    area.zones.iter().all(|zone| {
        let local = at.with_timezone(zone);
        window_on(&area.place, local.date_naive(), tenant).is_some_and(|w| w.holds(local.time()))
    })
}

/// The instant `time` on `date` in `zone`; in a spring-forward gap, the first instant after it.
fn instant(zone: &Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    (0..=120)
        .find_map(|minutes| zone.from_local_datetime(&(local + chrono::Duration::minutes(minutes))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

/// When a text to `to` may go, at or after `at`: `None` if it may go now, or the first instant
/// when every zone of its area code is inside the window. With no such instant within a week
/// (zones too far apart for their windows to meet), the first window's opening in any of them.
pub fn held_until(to: &E164, at: DateTime<Utc>, tenant: Option<Window>) -> Option<DateTime<Utc>> {
    let area = area(to)?;
    if allowed(area, at, tenant) {
        return None;
    }
    let mut openings: Vec<DateTime<Utc>> = area
        .zones
        .iter()
        .flat_map(|zone| {
            let today = at.with_timezone(zone).date_naive();
            (0..8u64).filter_map(move |d| {
                let date = today.checked_add_days(Days::new(d))?;
                let window = window_on(&area.place, date, tenant)?;
                instant(zone, date, window.from)
            })
        })
        .filter(|t| *t > at)
        .collect();
    openings.sort_unstable();
    // No opening all the zones share within a week: the first in any of them, or (with no window
    // at all, which the tenant's window checks rule out) a day on, to look again.
    let first = openings.iter().find(|t| allowed(area, **t, tenant)).or(openings.first()).copied();
    Some(first.unwrap_or(at + chrono::Duration::days(1)))
}

/// The time zones of a North American number's area code (empty when unknown).
pub fn zones_of(to: &E164) -> Vec<Tz> {
    area(to).map(|a| a.zones.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn number(n: &str) -> E164 {
        E164::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    #[test]
    fn the_data_loads() {
        assert!(AREA_CODES.len() > 400, "{} area codes", AREA_CODES.len());
        assert_eq!(zones_of(&number("+12025550100")), [chrono_tz::America::New_York]);
        assert_eq!(AREA_CODES.get("305").map(|a| a.place.as_str()), Some("Florida"));
        assert!(RULES.contains_key("*") && RULES.contains_key("Texas"));
    }

    #[rstest]
    // Washington D.C. (New York's zone) in January (EST, UTC-5): 22:30 local waits until 8:00.
    #[case("+12025550100", "2026-01-15T03:30:00Z", Some("2026-01-15T13:00:00Z"))]
    // At 8:00 local exactly it goes; at 20:59 too; at 21:00 it waits for the next morning.
    #[case("+12025550100", "2026-01-15T13:00:00Z", None)]
    #[case("+12025550100", "2026-01-16T01:59:00Z", None)]
    #[case("+12025550100", "2026-01-16T02:00:00Z", Some("2026-01-16T13:00:00Z"))]
    // Summer (EDT, UTC-4): 23:00 local opens at 8:00 EDT, 12:00 UTC.
    #[case("+12025550100", "2026-07-15T03:00:00Z", Some("2026-07-15T12:00:00Z"))]
    // The night DST begins (8 March 2026): 23:00 EST waits until 8:00 EDT, only seven hours on.
    #[case("+12025550100", "2026-03-08T04:00:00Z", Some("2026-03-08T12:00:00Z"))]
    // The night DST ends (1 November 2026): 23:00 EDT waits until 8:00 EST, ten hours on.
    #[case("+12025550100", "2026-11-01T03:00:00Z", Some("2026-11-01T13:00:00Z"))]
    // Florida stops at 20:00: 20:30 EST waits; New York at 20:30 does not.
    #[case("+13055550100", "2026-01-16T01:30:00Z", Some("2026-01-16T13:00:00Z"))]
    #[case("+12125550100", "2026-01-16T01:30:00Z", None)]
    // Texas on a Sunday opens at noon (Houston, CST): 10:00 waits until 12:00; Saturday at 9:00.
    #[case("+17135550100", "2026-01-18T16:00:00Z", Some("2026-01-18T18:00:00Z"))]
    #[case("+17135550100", "2026-01-17T15:00:00Z", None)]
    // San Antonio (210) is named by its city in the data, and is in Texas all the same.
    #[case("+12105550100", "2026-01-18T16:00:00Z", Some("2026-01-18T18:00:00Z"))]
    // Toronto (416, EST): weekdays 9:00 to 21:30, weekends 10:00 to 18:00. 8:30 on a Thursday
    // waits until 9:00; 21:15 goes; 18:30 on a Saturday waits for Sunday 10:00.
    #[case("+14165550100", "2026-01-15T13:30:00Z", Some("2026-01-15T14:00:00Z"))]
    #[case("+14165550100", "2026-01-16T02:15:00Z", None)]
    #[case("+14165550100", "2026-01-17T23:30:00Z", Some("2026-01-18T15:00:00Z"))]
    // Idaho's 208 spans Mountain and Pacific time: 8:00 Mountain is 7:00 Pacific, so it waits
    // until 8:00 Pacific; and 20:30 Pacific is 21:30 Mountain, too late for the Mountain half.
    #[case("+12085550100", "2026-01-15T15:00:00Z", Some("2026-01-15T16:00:00Z"))]
    #[case("+12085550100", "2026-01-16T04:30:00Z", Some("2026-01-16T16:00:00Z"))]
    #[case("+12085550100", "2026-01-15T20:00:00Z", None)]
    // Outside North America, nothing is known of the recipient's local time: not held.
    #[case("+442071838750", "2026-01-15T03:30:00Z", None)]
    fn automated_texts_wait_for_the_recipients_window(#[case] to: &str, #[case] at: &str, #[case] until: Option<&str>) {
        assert_eq!(held_until(&number(to), utc(at), None), until.map(utc), "{to} at {at}");
    }

    #[test]
    fn a_tenant_may_narrow_the_window_but_not_widen_it() {
        let dc = number("+12025550100");
        // 9:00 to 17:00: at 8:30 EST it waits until 9:00.
        let office = Window::new(hm(9, 0), hm(17, 0));
        assert_eq!(held_until(&dc, utc("2026-01-15T13:30:00Z"), office), Some(utc("2026-01-15T14:00:00Z")));
        // 6:00 to 23:00 is wider than the federal window: 7:00 still waits until 8:00.
        let wide = Window::new(hm(6, 0), hm(23, 0));
        assert_eq!(held_until(&dc, utc("2026-01-15T12:00:00Z"), wide), Some(utc("2026-01-15T13:00:00Z")));
        assert!(Window::new(hm(17, 0), hm(9, 0)).is_none(), "a window must open before it closes");
    }

    #[rstest]
    #[case("09:00", "17:00", Ok(()))]
    #[case("06:00", "23:00", Ok(()))]
    #[case("20:00", "21:00", Ok(()))]
    #[case("20:30", "23:00", Err("must leave at least an hour between 08:00 and 21:00"))]
    #[case("22:00", "23:00", Err("must leave at least an hour"))]
    #[case("17:00", "09:00", Err("must open before it closes"))]
    #[case("9am", "17:00", Err("'9am' is not a time of day such as 09:00"))]
    #[case("", "17:00", Err("needs both ends"))]
    fn a_tenants_window_is_checked(#[case] from: &str, #[case] until: &str, #[case] expected: Result<(), &str>) {
        match (Window::parse(from, until), expected) {
            (Ok(w), Ok(())) => assert_eq!(w.as_text(), (from.to_owned(), until.to_owned())),
            (Err(e), Err(said)) => assert!(e.contains(said), "{e}"),
            (got, want) => panic!("{from}-{until}: {got:?}, wanted {want:?}"),
        }
    }

    #[test]
    fn a_held_text_always_gets_a_time_within_a_week() {
        // Every area code (with a number valid in it), at every hour of a day that crosses a DST
        // change.
        let mut checked = 0;
        for code in AREA_CODES.keys() {
            let Some(to) =
                ["5550100", "2345678", "4567890"].iter().find_map(|n| E164::parse(&format!("+1{code}{n}")).ok())
            else {
                continue;
            };
            checked += 1;
            for hour in 0..24 {
                let at = utc("2026-03-08T00:00:00Z") + chrono::Duration::hours(hour);
                if let Some(until) = held_until(&to, at, None) {
                    assert!(until > at && until < at + chrono::Duration::days(7), "{to} at {at}: {until}");
                }
            }
        }
        assert!(checked > 400, "only {checked} area codes had a valid number");
    }
}
