//! The read-through routing cache: prefix → tenant and provider, number → tenant, destinations
//! and policy. Concurrent misses for one key load once (moka's `try_get_with`); every admin write
//! that could change a route empties it, and entries expire after a minute in any case.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use switchboard_store::routes::{NumberRoute, PrefixRoute};
use switchboard_store::{Store, StoreError};

const TTL: Duration = Duration::from_secs(60);
const CAPACITY: u64 = 1_000_000;

/// Cached routes; unknown keys are cached too (as `None`), so guessing prefixes costs no queries.
#[derive(Debug, Clone)]
pub struct RoutingCache {
    prefixes: Cache<String, Option<Arc<PrefixRoute>>>,
    numbers: Cache<String, Option<Arc<NumberRoute>>>,
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
            prefixes: Cache::builder().max_capacity(CAPACITY).time_to_live(TTL).build(),
            numbers: Cache::builder().max_capacity(CAPACITY).time_to_live(TTL).build(),
        }
    }

    /// The route of a prefix, loaded once per key on a miss.
    pub async fn prefix(&self, store: &Store, prefix: &str) -> Result<Option<Arc<PrefixRoute>>, Arc<StoreError>> {
        let key = prefix.to_ascii_lowercase();
        self.prefixes
            .try_get_with(key.clone(), async move { store.prefix_route(&key).await.map(|r| r.map(Arc::new)) })
            .await
    }

    /// The route of a number (E.164), loaded once per key on a miss.
    pub async fn number(&self, store: &Store, e164: &str) -> Result<Option<Arc<NumberRoute>>, Arc<StoreError>> {
        let key = e164.to_owned();
        self.numbers
            .try_get_with(key.clone(), async move { store.number_route(&key).await.map(|r| r.map(Arc::new)) })
            .await
    }

    /// Forgets everything: called after every admin write that can change a route.
    pub fn invalidate(&self) {
        self.prefixes.invalidate_all();
        self.numbers.invalidate_all();
    }
}
