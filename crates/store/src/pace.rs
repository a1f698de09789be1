//! Flowroute's per-key pace, shared by every instance on one PostgreSQL: a row per key holding the
//! earliest time its next request may leave (a generic cell rate algorithm with no burst). One
//! statement takes a batch's slots, so instances never count the same second twice. SQLite serves
//! one process, which paces in memory (`switchboard_engine`'s pacer).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Store, StoreError};

/// Slots taken for a key: the first starts `first` from now, the next `gap` after it, and so on
/// for `taken` slots; the key's next free slot starts `next` from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paced {
    pub first: Duration,
    pub taken: u32,
    pub next: Duration,
}

/// Takes up to `$2` slots `$4` seconds apart starting at the key's next free time (or now), those
/// that start within `$3` seconds; answers the first's distance from now (µs) and how many.
const TAKE: &str = "WITH old AS (SELECT GREATEST(next_at, now()) AS start FROM send_pace WHERE key = $1 FOR UPDATE), \
     n AS (SELECT start, LEAST($2::bigint, GREATEST(0::bigint, \
        FLOOR(EXTRACT(EPOCH FROM (now() + make_interval(secs => $3) - start)) / $4)::bigint + 1)) AS k FROM old) \
     UPDATE send_pace p SET next_at = n.start + make_interval(secs => $4 * n.k) FROM n WHERE p.key = $1 \
     RETURNING (EXTRACT(EPOCH FROM (n.start - now())) * 1000000)::bigint, n.k";

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
        let statement = || {
            Statement::from_sql_and_values(
                DbBackend::Postgres,
                TAKE,
                [key.into(), i64::from(n).into(), horizon.as_secs_f64().into(), gap.as_secs_f64().into()],
            )
        };
        let mut row = self.db().query_one_raw(statement()).await?;
        if row.is_none() {
            // The key's first send: its row starts free now.
            self.db()
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "INSERT INTO send_pace (key, next_at) VALUES ($1, now()) ON CONFLICT (key) DO NOTHING",
                    [key.into()],
                ))
                .await?;
            row = self.db().query_one_raw(statement()).await?;
        }
        let row = row.ok_or_else(|| StoreError::internal("the key's pace row vanished"))?;
        let first = micros(row.try_get_by_index::<i64>(0)?);
        let taken = u32::try_from(row.try_get_by_index::<i64>(1)?).unwrap_or(0);
        Ok(Paced { first, taken, next: first + gap * taken })
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
