//! Slows down whoever guesses at the ingress: a source whose callbacks name unknown prefixes, or
//! miss a prefix's token or allow-list, more than `limit` times in a minute is answered `429` for a
//! while, whatever it posts. Callbacks that succeed never count, and Flowroute's own addresses are
//! never blocked, so a tenant's real traffic is not slowed by someone else's guessing.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use switchboard_core::sources::{is_flowroute, source_key};

/// How many sources are tracked at once; beyond it the least recent are forgotten, so a flood of
/// addresses costs bounded memory.
const TRACKED: u64 = 100_000;
/// The window failures are counted in.
const WINDOW: Duration = Duration::from_secs(60);

pub struct IngressGuard {
    limit: u32,
    block: Duration,
    failures: Cache<IpAddr, Arc<AtomicU32>>,
    blocked: Cache<IpAddr, ()>,
}

impl std::fmt::Debug for IngressGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngressGuard").field("limit", &self.limit).field("block", &self.block).finish_non_exhaustive()
    }
}

impl IngressGuard {
    /// `limit` failures a minute per source before it is blocked for `block`; 0 turns it off.
    pub fn new(limit: u32, block: Duration) -> Self {
        Self {
            limit,
            block,
            failures: Cache::builder().max_capacity(TRACKED).time_to_live(WINDOW).build(),
            blocked: Cache::builder().max_capacity(TRACKED).time_to_live(block.max(Duration::from_secs(1))).build(),
        }
    }

    /// How long `ip` must wait, if it is blocked.
    pub fn blocked(&self, ip: Option<IpAddr>) -> Option<Duration> {
        let ip = ip?;
        (self.limit > 0 && self.blocked.contains_key(&source_key(ip))).then_some(self.block)
    }

    /// Counts a guess from `ip`; blocks it once it passes the limit.
    pub fn failed(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        if self.limit == 0 || is_flowroute(ip) {
            return;
        }
        let key = source_key(ip);
        let count = self.failures.get_with(key, || Arc::new(AtomicU32::new(0))).fetch_add(1, Ordering::Relaxed) + 1;
        if count > self.limit {
            tracing::warn!(source = %key, failures = count, block_secs = self.block.as_secs(),
                "a source guessing at the ingress is blocked");
            self.blocked.insert(key, ());
            self.failures.invalidate(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn a_source_is_blocked_after_the_limit_and_others_are_not() {
        let g = IngressGuard::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            g.failed(ip("203.0.113.9"));
            assert_eq!(g.blocked(ip("203.0.113.9")), None);
        }
        g.failed(ip("203.0.113.9"));
        assert_eq!(g.blocked(ip("203.0.113.9")), Some(Duration::from_secs(60)));
        assert_eq!(g.blocked(ip("203.0.113.10")), None, "a neighbour is not blocked");
        assert_eq!(g.blocked(None), None);
    }

    #[test]
    fn one_ipv6_host_cannot_escape_by_changing_its_address() {
        let g = IngressGuard::new(2, Duration::from_secs(60));
        for i in 1..=3 {
            g.failed(ip(&format!("2001:db8:0:7::{i}")));
        }
        assert!(g.blocked(ip("2001:db8:0:7::99")).is_some());
        assert!(g.blocked(ip("2001:db8:0:8::1")).is_none());
    }

    #[test]
    fn flowroute_and_a_zero_limit_are_never_blocked() {
        let g = IngressGuard::new(1, Duration::from_secs(60));
        for _ in 0..10 {
            g.failed(ip("52.88.246.140"));
        }
        assert!(g.blocked(ip("52.88.246.140")).is_none());
        let off = IngressGuard::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            off.failed(ip("203.0.113.9"));
        }
        assert!(off.blocked(ip("203.0.113.9")).is_none());
    }
}
