//! Housekeeping: what is old enough goes, in small batches that never hold a lock for long, and
//! jobs an instance claimed and never finished go back to the queue. Run by one instance at a
//! time, the holder of a lease whose fencing number every batch checks: an instance that paused
//! past its lease (and lost it to another) changes nothing when it wakes.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DbBackend;
use uuid::Uuid;

use crate::{Store, StoreError, now, sql};

/// A lease held: its name, holder and fencing number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: Uuid,
    /// Grows with every change of holder.
    pub fence: i64,
}

/// What can be pruned, each older than its own cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prunable {
    /// Done and dead jobs (their delivery attempts go with them), by when they finished.
    FinishedJobs,
    /// Numbered events no unfinished job delivers, by when they were written.
    Events,
    /// Sends' attempts no longer open, by when they were made.
    SendAttempts,
}

impl Prunable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FinishedJobs => "finished jobs",
            Self::Events => "events",
            Self::SendAttempts => "send attempts",
        }
    }

    /// The ids of one batch (`$1` the cutoff, `$2` the batch size), locked on PostgreSQL so that
    /// nothing else waits on them and no other pruner takes them.
    fn batch(self, backend: DbBackend) -> String {
        let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        match self {
            Self::FinishedJobs => {
                format!("SELECT id FROM job WHERE state IN ('done', 'dead') AND updated_at < $1 LIMIT $2{lock}")
            }
            Self::Events => format!(
                "SELECT e.id FROM event e WHERE e.created_at < $1 AND e.seq IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM job j WHERE j.event_id = e.id AND j.state IN ('pending', 'running')) \
                 LIMIT $2{lock}"
            ),
            // An attempt with no answer yet decides whether its text is looked up: it stays.
            Self::SendAttempts => format!(
                "SELECT id FROM send_attempt WHERE attempted_at < $1 AND outcome NOT IN ('in_flight', 'unknown') \
                 LIMIT $2{lock}"
            ),
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::FinishedJobs => "job",
            Self::Events => "event",
            Self::SendAttempts => "send_attempt",
        }
    }
}

/// The statement's condition that the lease `$3`/`$4`/`$5` (name, holder, fence) is still held.
const FENCED: &str = "EXISTS (SELECT 1 FROM lease WHERE name = $3 AND holder = $4 AND fence = $5 AND expires_at > $6)";

impl Store {
    /// Takes the lease `name` for `holder` until `ttl` from now, or renews it: answered when it is
    /// free, lapsed or already the holder's; `None` while another holds it. A new holder gets a
    /// fencing number above every earlier one; a renewal keeps it.
    pub async fn take_lease(&self, name: &str, holder: Uuid, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let at = now();
        let rows = sql::query(
            self.db(),
            "INSERT INTO lease (name, holder, fence, expires_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO UPDATE SET \
               fence = CASE WHEN lease.holder = excluded.holder THEN lease.fence ELSE lease.fence + 1 END, \
               holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE lease.holder = excluded.holder OR lease.expires_at <= $4 \
             RETURNING fence",
            vec![name.into(), holder.into(), (at + ttl).into(), at.into()],
        )
        .await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(Lease { name: name.to_owned(), holder, fence: row.try_get("", "fence")? }))
    }

    /// Gives the lease up (another instance may take it at once); nothing if it is no longer held.
    pub async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        sql::execute(
            self.db(),
            "DELETE FROM lease WHERE name = $1 AND holder = $2 AND fence = $3",
            vec![lease.name.as_str().into(), lease.holder.into(), lease.fence.into()],
        )
        .await?;
        Ok(())
    }

    /// Deletes one batch of at most `batch` rows of `what` older than `cutoff`, while `lease` is
    /// held; answers how many went (fewer than `batch`: nothing more is due).
    pub async fn prune_batch(
        &self,
        what: Prunable,
        cutoff: DateTime<Utc>,
        batch: u32,
        lease: &Lease,
    ) -> Result<u64, StoreError> {
        let backend = self.db().get_database_backend();
        let sql = format!(
            "DELETE FROM {table} WHERE id IN ({ids}) AND {FENCED}",
            table = what.table(),
            ids = what.batch(backend)
        );
        let txn = self.write_txn().await?;
        let n = sql::execute(&txn, &sql, fenced(cutoff.into(), batch, lease)).await?;
        txn.commit().await?;
        Ok(n)
    }

    /// Puts back up to `batch` jobs whose lease ended `grace` ago unfinished (the instance that
    /// claimed them stopped or died), while `lease` is held: they are claimed again at once, by any
    /// instance. Their attempt counts stay as they are. Answers how many.
    pub async fn rescue_jobs(&self, grace: Duration, batch: u32, lease: &Lease) -> Result<u64, StoreError> {
        let backend = self.db().get_database_backend();
        let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE job SET state = 'pending', locked_until = NULL, next_attempt_at = $7, updated_at = $7, \
               last_error = 'claimed by an instance that stopped before finishing it' \
             WHERE id IN (SELECT id FROM job WHERE state = 'running' AND locked_until < $1 LIMIT $2{lock}) AND {FENCED}"
        );
        let at = now();
        let mut values = fenced((at - grace).into(), batch, lease);
        values.push(at.into());
        let txn = self.write_txn().await?;
        let n = sql::execute(&txn, &sql, values).await?;
        txn.commit().await?;
        Ok(n)
    }

    /// Hands back jobs this process claimed and will not run (it is stopping): due now, for any
    /// instance, with the claim's attempt not counted. Only jobs still under the claim's lease are
    /// touched, so one another instance took over meanwhile stays as it is.
    pub async fn hand_back_jobs(&self, ids: &[Uuid]) -> Result<u64, StoreError> {
        let mut n = 0;
        for chunk in ids.chunks(sql::CHUNK) {
            let mut values: Vec<sea_orm::Value> = chunk.iter().map(|id| (*id).into()).collect();
            let at = chunk.len() + 1;
            values.push(now().into());
            n += sql::execute(
                self.db(),
                &format!(
                    "UPDATE job SET state = 'pending', locked_until = NULL, next_attempt_at = ${at}, \
                       attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
                     WHERE id IN {} AND state = 'running' AND locked_until >= ${at}",
                    sql::tuples(1, chunk.len())
                ),
                values,
            )
            .await?;
        }
        Ok(n)
    }
}

fn fenced(cutoff: sea_orm::Value, batch: u32, lease: &Lease) -> Vec<sea_orm::Value> {
    vec![
        cutoff,
        i64::from(batch).into(),
        lease.name.as_str().into(),
        lease.holder.into(),
        lease.fence.into(),
        now().into(),
    ]
}
