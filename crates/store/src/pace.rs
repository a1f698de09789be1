//! Flowroute's per-key pace, shared by every instance on one PostgreSQL: a row per key holding the
//! earliest time its next request may leave (a generic cell rate algorithm with no burst). One
//! statement takes a batch's slots, so instances never count the same second twice. SQLite serves
//! one process, which paces in memory (`switchboard_engine`'s pacer).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Store, StoreError, sql};

/// Slots taken for a key: the first starts `first` from now (at `first_at` by the database's
/// clock), the next `gap` after it, and so on for `taken` slots; the key's next free slot starts
/// `next` from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paced {
    pub first: Duration,
    pub first_at: DateTime<Utc>,
    pub taken: u32,
    pub next: Duration,
}

/// For each key of `v` (`$3`, `$4`, … pairs of key and slots wanted), takes up to its `n` slots
/// `$2` seconds apart starting at the key's next free time (or now), those that start within `$1`
/// seconds; answers each key's first slot's distance from now (µs) and how many. The rows are
/// locked in key order, so instances taking overlapping keys at once queue rather than deadlock.
fn take_sql(keys: usize) -> String {
    let values: Vec<String> = (0..keys).map(|i| format!("(${}, ${}::bigint)", 3 + 2 * i, 4 + 2 * i)).collect();
    format!(
        "WITH v(key, n) AS (VALUES {}), \
         old AS (SELECT p.key, GREATEST(p.next_at, now()) AS start FROM send_pace p \
           WHERE p.key IN (SELECT key FROM v) ORDER BY p.key FOR UPDATE), \
         k AS (SELECT old.key, old.start, LEAST(v.n, GREATEST(0::bigint, \
           FLOOR(EXTRACT(EPOCH FROM (now() + make_interval(secs => $1) - old.start)) / $2)::bigint + 1)) AS k \
           FROM old JOIN v ON v.key = old.key) \
         UPDATE send_pace p SET next_at = k.start + make_interval(secs => $2 * k.k) FROM k WHERE p.key = k.key \
         RETURNING p.key, (EXTRACT(EPOCH FROM (k.start - now())) * 1000000)::bigint AS first_us, k.start AS first_at, \
         k.k AS taken",
        values.join(", ")
    )
}

fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

impl Store {
    /// The name under which a provider account is paced: its access key and a fingerprint of its
    /// secret keyed by the master key, so that only those who hold the account's secret share its
    /// pace (a tenant naming another's access key cannot take that tenant's slots), the same in
    /// every instance, and no use to anyone who reads the table.
    pub fn pace_key(&self, access_key: &str, secret_key: &str) -> String {
        let access: String = access_key.chars().take(150).collect();
        format!("{access}#{}", self.cipher().fingerprint(secret_key))
    }

    /// Takes up to `n` of `key`'s slots, `gap` apart, that start within `horizon` (PostgreSQL only).
    pub async fn take_pace(&self, key: &str, n: u32, gap: Duration, horizon: Duration) -> Result<Paced, StoreError> {
        let mut taken = self.take_paces(&[(key.to_owned(), n)], gap, horizon).await?;
        taken.remove(key).ok_or_else(|| StoreError::internal("the key's pace row vanished"))
    }

    /// [`Store::take_pace`] for many keys (each named once) at once: one statement per
    /// [`sql::CHUNK`] keys, where a round of the dispatcher with 1,000 tenants' keys ran 1,000
    /// (docs/BENCHMARKS.md). A key's first use writes its row, free now, first.
    pub async fn take_paces(
        &self,
        wants: &[(String, u32)],
        gap: Duration,
        horizon: Duration,
    ) -> Result<HashMap<String, Paced>, StoreError> {
        let mut paced = self.take_paces_of_rows(wants, gap, horizon).await?;
        let mut new: Vec<(String, u32)> = wants.iter().filter(|(key, _)| !paced.contains_key(key)).cloned().collect();
        if !new.is_empty() {
            // In key order, as the rows are locked: two callers writing the same new keys wait
            // for each other in one order, never in a circle.
            new.sort();
            for chunk in new.chunks(sql::CHUNK) {
                let values = chunk.iter().map(|(key, _)| key.as_str().into()).collect();
                let rows = (1..=chunk.len()).map(|i| format!("(${i})")).collect::<Vec<_>>().join(", ");
                sql::execute(
                    self.db(),
                    &format!(
                        "INSERT INTO send_pace (key, next_at) SELECT v.key, now() FROM (VALUES {rows}) AS v(key) \
                         ON CONFLICT (key) DO NOTHING"
                    ),
                    values,
                )
                .await?;
            }
            paced.extend(self.take_paces_of_rows(&new, gap, horizon).await?);
        }
        Ok(paced)
    }

    /// Slots of the keys in `wants` that have a row.
    async fn take_paces_of_rows(
        &self,
        wants: &[(String, u32)],
        gap: Duration,
        horizon: Duration,
    ) -> Result<HashMap<String, Paced>, StoreError> {
        let mut paced = HashMap::with_capacity(wants.len());
        for chunk in wants.chunks(sql::CHUNK) {
            let mut values: Vec<sea_orm::Value> = vec![horizon.as_secs_f64().into(), gap.as_secs_f64().into()];
            for (key, n) in chunk {
                values.push(key.as_str().into());
                values.push(i64::from(*n).into());
            }
            for row in sql::query(self.db(), &take_sql(chunk.len()), values).await? {
                let key: String = row.try_get("", "key")?;
                let first = micros(row.try_get("", "first_us")?);
                let first_at = row.try_get("", "first_at")?;
                let taken = u32::try_from(row.try_get::<i64>("", "taken")?).unwrap_or(0);
                paced.insert(key, Paced { first, first_at, taken, next: first + gap * taken });
            }
        }
        Ok(paced)
    }

    /// Flowroute turned one of `key`'s requests away with `429`: its next slot (in every instance)
    /// is no sooner than `wait` from now (PostgreSQL only).
    pub async fn slow_pace(&self, key: &str, wait: Duration) -> Result<(), StoreError> {
        self.db()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE send_pace SET next_at = GREATEST(next_at, now() + make_interval(secs => $2)) WHERE key = $1",
                [key.into(), wait.as_secs_f64().into()],
            ))
            .await?;
        Ok(())
    }
}
