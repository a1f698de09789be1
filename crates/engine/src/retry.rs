//! The retry schedule every worker shares: waits with jitter, a `Retry-After` honoured within bounds.

use std::time::Duration;

use rand::Rng;

/// When failed work (a PBX delivery, a send, a media fetch) is tried again: after the first
/// attempt, wait `schedule[0]`, then `schedule[1]`, …; each wait varies by ±`jitter`. After the last
/// wait's attempt fails, the job is dead.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub schedule: Vec<Duration>,
    /// Fraction of each wait to vary by, 0.0 to 1.0.
    pub jitter: f64,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ±20 %.
    fn default() -> Self {
        let m = 60;
        let h = 3600;
        Self {
            schedule: [5, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h].map(Duration::from_secs).to_vec(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(10 * h),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` failed ones, or `None` when none is left.
    pub fn next_delay(&self, attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.schedule.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
        if let Some(after) = retry_after {
            return Some(after.clamp(Duration::from_secs(1), self.max_retry_after).max(base.min(self.max_retry_after)));
        }
        let spread = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + rand::rng().random_range(-spread..=spread);
        Some(base.mul_f64(factor.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_with_jitter_then_none() {
        let p = RetryPolicy::default();
        for (attempts, base) in [(1u32, 5u64), (2, 300), (3, 1800), (4, 7200), (5, 18000), (6, 36000), (7, 36000)] {
            for _ in 0..50 {
                let d = p.next_delay(attempts, None).map(|d| d.as_secs_f64()).unwrap_or_default();
                let b = base as f64;
                assert!(d >= b * 0.8 - 1e-9 && d <= b * 1.2 + 1e-9, "attempt {attempts}: {d}");
            }
        }
        assert_eq!(p.next_delay(8, None), None, "seven retries, then dead");
        assert_eq!(p.next_delay(0, None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(120))), Some(Duration::from_secs(120)));
        assert_eq!(
            p.next_delay(1, Some(Duration::from_secs(0))),
            Some(Duration::from_secs(5)),
            "never sooner than the schedule"
        );
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(999_999))), Some(Duration::from_secs(36_000)), "capped");
        assert_eq!(p.next_delay(8, Some(Duration::from_secs(1))), None);
    }
}
