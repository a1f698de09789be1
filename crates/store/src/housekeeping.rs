//! Housekeeping: what is old enough goes, in small batches that never hold a lock for long, and
//! jobs an instance claimed and never finished go back to the queue. Run by one instance at a
//! time, the holder of a lease whose fencing number every batch checks: an instance that paused
//! past its lease (and lost it to another) changes nothing when it wakes.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend};
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
    /// nothing else waits on them and no other pruner takes them. Ids grow with time (UUIDv7, or a
    /// sequence), so the oldest rows are the first few of the primary key: a batch looks only at
    /// those, and needs no index of its own (one would cost every write).
    fn batch(self, backend: DbBackend) -> String {
        let (table, due) = match self {
            Self::FinishedJobs => ("job", "state IN ('done', 'dead') AND updated_at < $1"),
            Self::Events => (
                "event",
                "created_at < $1 AND seq IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM job j WHERE j.event_id = event.id AND j.state IN ('pending', 'running'))",
            ),
            // An attempt with no answer yet decides whether its text is looked up: it stays.
            Self::SendAttempts => ("send_attempt", "attempted_at < $1 AND outcome NOT IN ('in_flight', 'unknown')"),
        };
        oldest(table, "id", due, skip_locked(backend))
    }

    fn table(self) -> &'static str {
        match self {
            Self::FinishedJobs => "job",
            Self::Events => "event",
            Self::SendAttempts => "send_attempt",
        }
    }
}

/// Of the oldest rows of `table` (four batches' worth, by primary key), those that are `due`: at
/// most a batch (`$2`), with their `columns`.
fn oldest(table: &str, columns: &str, due: &str, lock: &str) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT $2 * 4) AND {due} \
         ORDER BY id LIMIT $2{lock}"
    )
}

/// How a batch's rows are locked: on PostgreSQL so that nothing else waits on them and no other
/// pruner takes them; SQLite has one writer anyway.
fn skip_locked(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" }
}

/// Whether `lease` is still held, checked first in every batch's transaction; on PostgreSQL the
/// lease row is share-locked to the commit, so no new holder takes it while the batch runs.
async fn still_held<C: sea_orm::ConnectionTrait>(txn: &C, lease: &Lease) -> Result<bool, StoreError> {
    let lock = if txn.get_database_backend() == DbBackend::Postgres { " FOR SHARE" } else { "" };
    let rows = sql::query(
        txn,
        &format!("SELECT fence FROM lease WHERE name = $1 AND holder = $2 AND fence = $3 AND expires_at > $4{lock}"),
        vec![lease.name.as_str().into(), lease.holder.into(), lease.fence.into(), now().into()],
    )
    .await?;
    Ok(!rows.is_empty())
}

/// Ids as bound values, and their placeholders from `$from`.
fn id_list(ids: &[Uuid], from: usize) -> (String, Vec<sea_orm::Value>) {
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", from + i)).collect();
    (marks.join(", "), ids.iter().map(|id| (*id).into()).collect())
}

impl Store {
    /// Forgets up to `batch` stored attachments (fetched or sent) kept since before `cutoff`, while
    /// `lease` is held: each row becomes `expired` and names no bytes, which frees the tenant's
    /// quota and ends a sent picture's link. Answers how many, and the keys whose bytes the caller removes
    /// (after the commit: a crash in between leaves bytes nothing names, never a row naming
    /// nothing).
    pub async fn expire_media(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
        lease: &Lease,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let txn = self.write_txn().await?;
        if !still_held(&txn, lease).await? {
            return Ok((0, Vec::new()));
        }
        let lock = skip_locked(txn.get_database_backend());
        let rows = sql::query(
            &txn,
            &oldest("media", "id, storage_path", "state = 'stored' AND created_at < $1", lock),
            vec![cutoff.into(), i64::from(batch).into()],
        )
        .await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            ids.push(row.try_get::<Uuid>("", "id")?);
            if let Some(key) = row.try_get::<Option<String>>("", "storage_path")? {
                keys.push(key);
            }
        }
        let mut n = 0;
        if !ids.is_empty() {
            let (marks, values) = id_list(&ids, 1);
            n = sql::execute(
                &txn,
                &format!("UPDATE media SET state = 'expired', storage_path = NULL WHERE id IN ({marks})"),
                values,
            )
            .await?;
        }
        txn.commit().await?;
        Ok((n, keys))
    }

    /// Deletes up to `batch` texts written before `cutoff` (with their attachments' rows, routed
    /// extensions and send attempts), except those a job still works on, while `lease` is held;
    /// a conversation whose last text is older than `cutoff` goes with them. Answers how many texts
    /// went and the keys of their stored attachments, whose bytes the caller removes.
    pub async fn prune_messages(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
        lease: &Lease,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let txn = self.write_txn().await?;
        if !still_held(&txn, lease).await? {
            return Ok((0, Vec::new()));
        }
        let lock = skip_locked(txn.get_database_backend());
        let due = "created_at < $1 AND NOT EXISTS (SELECT 1 FROM job j WHERE j.message_id = message.id \
                   AND j.state IN ('pending', 'running'))";
        let picked =
            sql::query(&txn, &oldest("message", "id", due, lock), vec![cutoff.into(), i64::from(batch).into()]).await?;
        let ids = picked.iter().map(|r| r.try_get::<Uuid>("", "id")).collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            txn.commit().await?;
            return Ok((0, Vec::new()));
        }
        let (marks, values) = id_list(&ids, 1);
        let keys = sql::query(
            &txn,
            &format!("SELECT storage_path FROM media WHERE message_id IN ({marks}) AND storage_path IS NOT NULL"),
            values.clone(),
        )
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "storage_path"))
        .collect::<Result<Vec<_>, _>>()?;
        let parties = sql::query(
            &txn,
            &format!("SELECT DISTINCT tenant_id, number, remote FROM message WHERE id IN ({marks})"),
            values.clone(),
        )
        .await?;
        let n = sql::execute(&txn, &format!("DELETE FROM message WHERE id IN ({marks})"), values).await?;
        for party in &parties {
            let (tenant, number, remote): (Uuid, String, String) =
                (party.try_get("", "tenant_id")?, party.try_get("", "number")?, party.try_get("", "remote")?);
            sql::execute(
                &txn,
                "DELETE FROM conversation WHERE tenant_id = $1 AND number = $2 AND remote = $3 AND last_message_at < $4",
                vec![tenant.into(), number.into(), remote.into(), cutoff.into()],
            )
            .await?;
        }
        txn.commit().await?;
        Ok((n, keys))
    }

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
        let txn = self.write_txn().await?;
        if !still_held(&txn, lease).await? {
            return Ok(0);
        }
        let sql = format!("DELETE FROM {} WHERE id IN ({})", what.table(), what.batch(txn.get_database_backend()));
        let n = sql::execute(&txn, &sql, vec![cutoff.into(), i64::from(batch).into()]).await?;
        txn.commit().await?;
        Ok(n)
    }

    /// Puts back up to `batch` jobs whose lease ended `grace` ago unfinished (the instance that
    /// claimed them stopped or died), while `lease` is held: they are claimed again at once, by any
    /// instance. Their attempt counts stay as they are. Answers how many.
    pub async fn rescue_jobs(&self, grace: Duration, batch: u32, lease: &Lease) -> Result<u64, StoreError> {
        let txn = self.write_txn().await?;
        if !still_held(&txn, lease).await? {
            return Ok(0);
        }
        let lock = skip_locked(txn.get_database_backend());
        let sql = format!(
            "UPDATE job SET state = 'pending', locked_until = NULL, next_attempt_at = $3, updated_at = $3, \
               last_error = 'claimed by an instance that stopped before finishing it' \
             WHERE id IN (SELECT id FROM job WHERE state = 'running' AND locked_until < $1 LIMIT $2{lock})"
        );
        let at = now();
        let n = sql::execute(&txn, &sql, vec![(at - grace).into(), i64::from(batch).into(), at.into()]).await?;
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
                self.writer(),
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
