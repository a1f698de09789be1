//! The read-through routing cache: prefix → tenant and provider, number → tenant, destinations
//! and policy. Every admin write that could change a route empties it, and entries expire after
//! a minute in any case; unknown keys are cached too, so guessing costs no queries (concurrent
//! misses for one prefix load it once).
//!
//! Numbers are the big set (a platform may hold millions), so they live in a compact table of
//! their own: the key is the E.164 number as an integer, the value one pointer to a route shared
//! by every number routed alike (same tenant, destinations, extensions and policy) and the time
//! it was loaded — a 16-byte slot a number, where a general-purpose cache entry holding its own copy
//! of the route took over a kilobyte (docs/BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use moka::future::Cache;
use switchboard_core::PolicySpec;
use switchboard_store::routes::{NumberRoute, PrefixRoute};
use switchboard_store::{Store, StoreError};
use uuid::Uuid;

const TTL: Duration = Duration::from_secs(60);
const PREFIX_CAPACITY: u64 = 100_000;
/// Most numbers held; past it, numbers that do not exist are forgotten first.
const NUMBER_CAPACITY: usize = 4_000_000;

/// Where a number's texts go: shared by every number routed alike.
#[derive(Debug, PartialEq, Eq)]
pub struct NumberRouting {
    pub tenant_id: Uuid,
    /// The prefix its texts come through.
    pub prefix: Arc<str>,
    /// The number's destinations that are enabled, in order.
    pub destinations: Vec<String>,
    /// Every enabled extension of the tenant that a policy may name.
    pub enabled_extensions: Vec<String>,
    pub policy: Option<Arc<PolicySpec>>,
}

#[derive(Clone, Copy)]
struct Slot {
    /// Index into the shapes; `u32::MAX` for a number that does not exist.
    shape: u32,
    /// Seconds since the table began, when this was loaded.
    loaded: u32,
}

const ABSENT: u32 = u32::MAX;

#[derive(Default)]
struct NumberTable {
    slots: HashMap<u64, Slot>,
    shapes: Vec<Arc<NumberRouting>>,
    /// Shape → its index, so numbers routed alike share one.
    index: HashMap<Arc<NumberRouting>, u32>,
}

impl std::hash::Hash for NumberRouting {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Policies are compared in full by `Eq`; hashing the rest spreads shapes well enough.
        self.tenant_id.hash(state);
        self.destinations.hash(state);
        self.enabled_extensions.hash(state);
        self.policy.as_ref().map(|p| p.name.as_str()).hash(state);
    }
}

/// An E.164 number (`+` and up to 15 digits) as an integer; `None` for anything else.
fn number_key(e164: &str) -> Option<u64> {
    let digits = e164.strip_prefix('+')?;
    if digits.is_empty() || digits.len() > 15 || digits.starts_with('0') {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

/// Cached routes.
#[derive(Clone)]
pub struct RoutingCache {
    prefixes: Cache<String, Option<Arc<PrefixRoute>>>,
    numbers: Arc<RwLock<NumberTable>>,
    epoch: Instant,
}

impl std::fmt::Debug for RoutingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingCache").finish_non_exhaustive()
    }
}

impl Default for RoutingCache {
    fn default() -> Self {
        Self::new()
    }
}

impl RoutingCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            prefixes: Cache::builder().max_capacity(PREFIX_CAPACITY).time_to_live(TTL).build(),
            numbers: Arc::default(),
            epoch: Instant::now(),
        }
    }

    /// The route of a prefix, loaded once per key on a miss.
    pub async fn prefix(&self, store: &Store, prefix: &str) -> Result<Option<Arc<PrefixRoute>>, Arc<StoreError>> {
        let key = prefix.to_ascii_lowercase();
        self.prefixes
            .try_get_with(key.clone(), async move { store.prefix_route(&key).await.map(|r| r.map(Arc::new)) })
            .await
    }

    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX - 1)
    }

    /// The cached answer for a number: `Some(None)` when it is known not to exist.
    fn cached(&self, key: u64) -> Option<Option<Arc<NumberRouting>>> {
        let table = self.numbers.read().unwrap_or_else(PoisonError::into_inner);
        let slot = table.slots.get(&key)?;
        if self.now().saturating_sub(slot.loaded) >= u32::try_from(TTL.as_secs()).unwrap_or(60) {
            return None;
        }
        if slot.shape == ABSENT {
            return Some(None);
        }
        table.shapes.get(usize::try_from(slot.shape).ok()?).map(|s| Some(s.clone()))
    }

    /// The routing of a number (E.164), loaded on a miss.
    pub async fn number(&self, store: &Store, e164: &str) -> Result<Option<Arc<NumberRouting>>, Arc<StoreError>> {
        let Some(key) = number_key(e164) else {
            // Not an E.164 number: nothing to cache, and nothing will match.
            return Ok(store.number_route(e164).await.map_err(Arc::new)?.map(|r| Arc::new(shape(r))));
        };
        if let Some(hit) = self.cached(key) {
            return Ok(hit);
        }
        // Concurrent misses for one number may each load it: the same answer, a query more.
        let loaded = store.number_route(e164).await.map_err(Arc::new)?;
        Ok(self.insert(key, loaded.map(shape)))
    }

    fn insert(&self, key: u64, routing: Option<NumberRouting>) -> Option<Arc<NumberRouting>> {
        let loaded = self.now();
        let mut table = self.numbers.write().unwrap_or_else(PoisonError::into_inner);
        if table.slots.len() >= NUMBER_CAPACITY && !table.slots.contains_key(&key) {
            table.slots.retain(|_, s| s.shape != ABSENT);
            if table.slots.len() >= NUMBER_CAPACITY {
                *table = NumberTable::default();
            }
        }
        let Some(routing) = routing else {
            table.slots.insert(key, Slot { shape: ABSENT, loaded });
            return None;
        };
        let routing = Arc::new(routing);
        let (index, shared) = match table.index.get(&routing) {
            Some(&i) => (i, table.shapes.get(usize::try_from(i).unwrap_or(usize::MAX)).cloned().unwrap_or(routing)),
            None => {
                let i = u32::try_from(table.shapes.len()).unwrap_or(ABSENT);
                table.shapes.push(routing.clone());
                table.index.insert(routing.clone(), i);
                (i, routing)
            }
        };
        table.slots.insert(key, Slot { shape: index, loaded });
        Some(shared)
    }

    /// Puts a number's route in the cache as a load would (for benchmarks of the lookup).
    #[doc(hidden)]
    pub fn insert_number(&self, route: NumberRoute) {
        if let Some(key) = number_key(&route.e164) {
            self.insert(key, Some(shape(route)));
        }
    }

    /// Forgets everything: called after every admin write that can change a route.
    pub fn invalidate(&self) {
        self.prefixes.invalidate_all();
        *self.numbers.write().unwrap_or_else(PoisonError::into_inner) = NumberTable::default();
    }
}

fn shape(r: NumberRoute) -> NumberRouting {
    NumberRouting {
        tenant_id: r.tenant_id,
        prefix: r.prefix,
        destinations: r.destinations,
        enabled_extensions: r.enabled_extensions,
        policy: r.policy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_keys_are_e164_only() {
        assert_eq!(number_key("+12025550100"), Some(12_025_550_100));
        assert_eq!(number_key("+999999999999999"), Some(999_999_999_999_999));
        for bad in ["12025550100", "+", "+0123", "+1202555010a", "+1234567890123456", "+1 202"] {
            assert_eq!(number_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_routed_alike_share_one_route() {
        let cache = RoutingCache::new();
        let tenant = Uuid::new_v4();
        let route = |e164: &str, dest: &str| NumberRoute {
            number_id: Uuid::new_v4(),
            tenant_id: tenant,
            e164: e164.into(),
            prefix: "acmein".into(),
            destinations: vec![dest.into()],
            enabled_extensions: vec!["101".into(), "102".into()],
            policy: None,
        };
        let a = cache.insert(number_key("+12025550100").unwrap(), Some(shape(route("+12025550100", "101")))).unwrap();
        let b = cache.insert(number_key("+12025550101").unwrap(), Some(shape(route("+12025550101", "101")))).unwrap();
        let c = cache.insert(number_key("+12025550102").unwrap(), Some(shape(route("+12025550102", "102")))).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one shape for two numbers routed alike");
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.destinations, vec!["102".to_owned()]);
        assert_eq!(cache.cached(number_key("+12025550101").unwrap()).flatten().as_deref(), Some(&*a));
        assert!(cache.cached(number_key("+12025550199").unwrap()).is_none(), "never loaded: a miss");
        cache.insert(number_key("+12025550199").unwrap(), None);
        assert_eq!(cache.cached(number_key("+12025550199").unwrap()), Some(None), "known not to exist");
        cache.invalidate();
        assert!(cache.cached(number_key("+12025550100").unwrap()).is_none(), "emptied by an admin write");
    }
}
