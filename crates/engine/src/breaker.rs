//! A circuit breaker per PBX endpoint (a tenant's webhook URL): after several failures in a row
//! the endpoint is left alone for a cooldown, then one delivery probes it; success closes the
//! breaker, failure opens it again for twice as long (up to a cap). While it is open, the
//! endpoint's deliveries wait without spending their retries, instead of each backing off on its
//! own and hammering a PBX that is down. Each opening and each recovery is an event for the tenant.
//! The state is per process: each instance finds a dead endpoint out by itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Failures in a row that open the breaker.
pub const THRESHOLD: u32 = 5;
/// The first cooldown; each failed probe doubles it.
pub const FIRST_COOLDOWN: Duration = Duration::from_secs(5);
/// The longest cooldown: a PBX down for hours is probed once a minute.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(60);

/// Whether a delivery may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// The breaker is closed.
    Go,
    /// The breaker is open but its cooldown is over: this delivery probes the endpoint.
    Probe,
    /// The breaker is open: wait until then, without spending a retry.
    Wait(DateTime<Utc>),
}

/// A change the tenant hears of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The endpoint failed `failures` times in a row; deliveries wait until `retry_at`.
    Opened { failures: u32, retry_at: DateTime<Utc> },
    /// A probe succeeded after the endpoint had been failing since `since`.
    Recovered { since: DateTime<Utc> },
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<DateTime<Utc>>,
    cooldown: Duration,
    probing: bool,
    since: Option<DateTime<Utc>>,
}

/// The breakers of every endpoint this process delivers to.
#[derive(Debug, Default)]
pub struct Breakers {
    states: Mutex<HashMap<(Uuid, String), State>>,
}

fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

/// An endpoint that is failing, as this process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// Failures in a row.
    pub failures: u32,
    /// Since the first of them.
    pub since: Option<DateTime<Utc>>,
    /// While the breaker is open: when the next delivery probes the endpoint.
    pub open_until: Option<DateTime<Utc>>,
}

impl Breakers {
    /// How the endpoint of `tenant` at `url` stands: `None` when its last delivery succeeded (or
    /// this process has not delivered to it).
    pub fn health(&self, tenant: Uuid, url: &str) -> Option<Failing> {
        let states = self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = states.get(&(tenant, url.to_owned()))?;
        Some(Failing { failures: s.failures, since: s.since, open_until: s.open_until })
    }

    /// Whether a delivery of `tenant` to `url` may go at `now`.
    pub fn admit(&self, tenant: Uuid, url: &str, now: DateTime<Utc>) -> Admit {
        let mut states = self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(s) = states.get_mut(&(tenant, url.to_owned())) else { return Admit::Go };
        match s.open_until {
            None => Admit::Go,
            Some(until) if now < until => Admit::Wait(until),
            // A probe is out: the others wait for its answer (a delivery's timeout at most; a
            // probe never heard of again, its process gone, is replaced after the longest cooldown).
            Some(until) if s.probing && now < later(until, MAX_COOLDOWN) => Admit::Wait(later(now, FIRST_COOLDOWN)),
            Some(_) => {
                s.probing = true;
                Admit::Probe
            }
        }
    }

    /// Records how a delivery of `tenant` to `url` went at `now`; a change of state is returned
    /// for the tenant to hear of.
    pub fn record(&self, tenant: Uuid, url: &str, ok: bool, now: DateTime<Utc>) -> Option<Transition> {
        let mut states = self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (tenant, url.to_owned());
        if ok {
            let s = states.remove(&key)?;
            return match (s.open_until, s.since) {
                (Some(_), Some(since)) => Some(Transition::Recovered { since }),
                _ => None,
            };
        }
        let s = states.entry(key).or_default();
        s.failures += 1;
        s.since.get_or_insert(now);
        if s.probing {
            // The probe failed: open again, for longer.
            s.probing = false;
            s.cooldown = (s.cooldown * 2).min(MAX_COOLDOWN);
            s.open_until = Some(later(now, s.cooldown));
            return None;
        }
        if s.open_until.is_none() && s.failures >= THRESHOLD {
            s.cooldown = FIRST_COOLDOWN;
            let retry_at = later(now, s.cooldown);
            s.open_until = Some(retry_at);
            return Some(Transition::Opened { failures: s.failures, retry_at });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_in_a_row_probes_and_recovers() {
        let b = Breakers::default();
        let (t, url) = (Uuid::from_u128(1), "https://pbx.example.com/hook");
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        // A success in between starts the count again.
        for _ in 0..THRESHOLD - 1 {
            assert_eq!(b.record(t, url, false, t0), None);
        }
        assert_eq!(b.record(t, url, true, t0), None);
        for _ in 0..THRESHOLD - 1 {
            assert_eq!(b.record(t, url, false, t0), None);
        }
        assert_eq!(b.admit(t, url, t0), Admit::Go);
        assert_eq!(b.health(t, url), Some(Failing { failures: THRESHOLD - 1, since: Some(t0), open_until: None }));
        let opened = b.record(t, url, false, t0);
        assert_eq!(opened, Some(Transition::Opened { failures: THRESHOLD, retry_at: at(5) }));
        assert_eq!(b.health(t, url).and_then(|f| f.open_until), Some(at(5)));
        assert_eq!(b.admit(t, url, at(1)), Admit::Wait(at(5)));
        assert_eq!(b.admit(Uuid::from_u128(2), url, at(1)), Admit::Go, "another tenant's endpoint");
        assert_eq!(b.admit(t, "https://other.example.com/", at(1)), Admit::Go, "a changed URL");
        // One probe after the cooldown; the rest wait for it.
        assert_eq!(b.admit(t, url, at(5)), Admit::Probe);
        assert!(matches!(b.admit(t, url, at(5)), Admit::Wait(_)));
        // It fails: open for twice as long, no new event.
        assert_eq!(b.record(t, url, false, at(6)), None);
        assert_eq!(b.admit(t, url, at(15)), Admit::Wait(at(16)));
        assert_eq!(b.admit(t, url, at(16)), Admit::Probe);
        assert_eq!(b.record(t, url, true, at(17)), Some(Transition::Recovered { since: t0 }));
        assert_eq!(b.health(t, url), None, "answering again");
        assert_eq!(b.admit(t, url, at(17)), Admit::Go);
    }

    #[test]
    fn the_cooldown_stops_growing() {
        let b = Breakers::default();
        let (t, url) = (Uuid::from_u128(1), "u");
        let mut now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        for _ in 0..THRESHOLD {
            b.record(t, url, false, now);
        }
        for _ in 0..20 {
            let Admit::Wait(until) = b.admit(t, url, now) else { panic!("not open") };
            assert!(until - now <= chrono::Duration::from_std(MAX_COOLDOWN).unwrap_or_default());
            now = until;
            assert_eq!(b.admit(t, url, now), Admit::Probe);
            b.record(t, url, false, now);
        }
    }
}
