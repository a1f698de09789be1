//! The durable job queue. Jobs are written in the same transaction as the change that needs them;
//! workers claim due jobs with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
//! instances share the work), and a job waits while an earlier job with the same ordering key
//! (a conversation) is unfinished, which keeps each conversation's deliveries in order.

use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryResult, Set,
};
use secrecy::SecretString;
use serde_json::Value;
use switchboard_core::event::DeliveryDead;
use switchboard_core::{EventBody, JobKind};
use uuid::Uuid;

use crate::entity::{delivery_attempt, event, tenant};
use crate::events::{self, Columns, Work};
use crate::tenants::PREVIOUS_SECRET_GRACE;
use crate::{Store, StoreError, micros, now, sql};

/// A job a worker holds until its lease ends.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Its kind, with the id that kind works on.
    pub work: Work,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// The text the job is about, if any (a send's, or the one a delivered event is about).
    pub message_id: Option<Uuid>,
}

/// Everything needed to post one event to a tenant's PBX.
pub struct WebhookDelivery {
    pub url: String,
    /// The current secret first, then the previous one while its grace period lasts.
    pub secrets: Vec<SecretString>,
    /// The `webhook-id`: the event's stable id.
    pub webhook_id: String,
    pub body: Value,
}

impl std::fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("url", &self.url)
            .field("webhook_id", &self.webhook_id)
            .finish_non_exhaustive()
    }
}

/// The head of `j`'s ordering key: its oldest unfinished job of `j`'s kind.
///
/// A scalar subquery ordered exactly as `ix_job_open_key`, so it is one probe of that index
/// whatever the statistics say. Written as `NOT EXISTS (an older open job)`, PostgreSQL planned it,
/// on a table whose statistics lagged a burst, as a scan of every open job of the kind per
/// candidate: 340 ms instead of 1.5 ms to claim 256 of 3,000 (docs/BENCHMARKS.md).
fn head_of(j: &str) -> String {
    format!(
        "(SELECT e.id FROM job e
      WHERE e.ordering_key = {j}.ordering_key AND e.kind = {j}.kind AND e.state IN ('pending', 'running')
      ORDER BY e.ordering_key, e.kind, e.created_at, e.id
      LIMIT 1)"
    )
}

/// Whether job `j` is due at `$2`: pending and its time come, or leased by a worker that died
/// (its lease ended). A claim checks it twice on PostgreSQL: as it picks, and again once it holds
/// the picked jobs locked.
fn still_due(j: &str) -> String {
    format!(
        "(({j}.state = 'pending' AND {j}.next_attempt_at <= $2) OR ({j}.state = 'running' AND {j}.locked_until < $2))"
    )
}

/// The jobs a worker may take: due (or leased by a worker that died), not marked `behind`, and
/// the oldest unfinished job of their ordering key — so one conversation's jobs run one at a time,
/// in order. The `state IN` and `behind` terms are written as in `ix_job_head_tenant`'s `WHERE`,
/// which SQLite needs to use that partial index.
fn due_heads() -> String {
    format!(
        "  FROM job j
  WHERE j.kind = $1 AND j.state IN ('pending', 'running') AND j.behind = FALSE
    AND {}
    AND j.id = {}",
        still_due("j"),
        head_of("j")
    )
}

/// Jobs of the kind running under a live lease (in any instance), per tenant.
const RUNNING: &str = "SELECT tenant_id, COUNT(*) AS n FROM job \
  WHERE kind = $1 AND state = 'running' AND locked_until >= $2 GROUP BY tenant_id";

/// Which due heads a claim takes, fairly across tenants: each tenant's due heads in turn (its
/// oldest first), a tenant's turns counted after the jobs it already has running, and no tenant
/// past `$5` running at once. So a tenant with a backlog, or whose requests hang, takes its share
/// and no more, and another tenant's first job comes before the backlog's second.
///
/// The candidates are found so that a claim's cost does not grow with the backlog: each tenant's
/// unfinished jobs of the kind not marked `behind` are walked in creation order
/// (`ix_job_head_tenant`), stopping at that tenant's room under its cap — a `LATERAL` join on
/// PostgreSQL; on SQLite (no `LATERAL`) a correlated `IN` list per tenant that drives lookups by
/// id, stopping at `$6` (the cap or the limit, whichever is smaller).
///
/// The tenants visited are the rows of `tenants`: the `tenant` table, or for sends on PostgreSQL
/// the tenants [`SEND_TENANTS`] names ([`claim_sql`] decides).
fn picked(backend: DbBackend, tenants: &str) -> String {
    let due_heads = due_heads();
    // Each tenant's candidates `h`, numbered in turn after its running jobs `r`; the claim takes
    // the lowest turns first.
    let turns = format!(
        "SELECT c.id FROM (
  SELECT h.id, h.created_at,
    ROW_NUMBER() OVER (PARTITION BY t.id ORDER BY h.created_at, h.id) + COALESCE(r.n, 0) AS turn
  FROM {tenants} t"
    );
    let lowest = format!("ORDER BY c.turn, c.created_at, c.id\n  LIMIT {}", sqlite_limit(backend, "$3"));
    let order = "ORDER BY j.tenant_id, j.kind, j.created_at, j.id";
    match backend {
        DbBackend::Postgres => format!(
            "{turns}
  LEFT JOIN ({RUNNING}) r ON r.tenant_id = t.id
  CROSS JOIN LATERAL (
    SELECT j.id, j.created_at {due_heads}
      AND j.tenant_id = t.id
    {order}
    LIMIT LEAST(GREATEST($5 - COALESCE(r.n, 0), 0), $3)) h) c
  {lowest}"
        ),
        _ => format!(
            "{turns}
  JOIN job h ON h.id IN (
    SELECT j.id {due_heads}
      AND j.tenant_id = t.id
    {order}
    LIMIT {})
  LEFT JOIN ({RUNNING}) r ON r.tenant_id = t.id) c
  WHERE c.turn <= $5
  {lowest}",
            sqlite_limit(backend, "$6")
        ),
    }
}

/// A `LIMIT` given as the parameter `param`. SQLite plans a statement for the value bound to a
/// `LIMIT` parameter, and so prepares the statement again every time a value is bound to it (each
/// claim: 2.5 % of the server's CPU in a profile, docs/BENCHMARKS.md 2026-12-06 fifth part). A
/// cast is not a parameter to the planner: the statement is prepared once and the limit read when
/// it runs.
fn sqlite_limit(backend: DbBackend, param: &str) -> String {
    match backend {
        DbBackend::Postgres => param.to_owned(),
        _ => format!("CAST({param} AS INTEGER)"),
    }
}

const CLAIM_SET: &str = "SET state = 'running', locked_until = $4, attempts = job.attempts + 1, updated_at = $2";
const CLAIM_RETURNING: &str = "RETURNING job.id, job.tenant_id, job.kind, job.event_id, job.message_id, job.media_id, job.extension_id, \
     job.attempts";

/// The claim statement: on PostgreSQL the picked jobs are locked with `SKIP LOCKED` (and checked
/// again once locked), so concurrent workers of several instances take different jobs; SQLite has
/// one writer at a time anyway.
///
/// The picked jobs are looked up by id as an array (`= ANY (ARRAY(…))`), which only the primary
/// key serves. Given as `IN (SELECT id FROM picked)`, PostgreSQL planned it, on statistics that
/// lagged a backlog, as a scan of every due job of every kind hashed against the picked ones:
/// 17,541 rows read to lock 256 (docs/BENCHMARKS.md, 2026-12-07 tenth part).
fn claim_sql(backend: DbBackend, kind: JobKind) -> String {
    let (with, tenants) = if marked_at_insert(backend, kind) {
        (format!("WITH RECURSIVE {SEND_TENANTS}"), "visited")
    } else {
        ("WITH ".into(), "tenant")
    };
    let picked = picked(backend, tenants);
    match backend {
        DbBackend::Postgres => format!(
            "{with}picked AS ({picked}), due AS (SELECT job.id FROM job WHERE job.id = ANY (ARRAY(SELECT id FROM picked)) \
             AND {} FOR UPDATE SKIP LOCKED) UPDATE job {CLAIM_SET} FROM due WHERE job.id = due.id {CLAIM_RETURNING}",
            still_due("job")
        ),
        _ => format!("UPDATE job {CLAIM_SET} WHERE id IN ({picked}) {CLAIM_RETURNING}"),
    }
}

/// The tenants a claim of sends visits on PostgreSQL, where sends are marked as they are written
/// ([`marked_at_insert`]): those with a pending send not marked `behind` (a head waiting, or a
/// send not looked at yet), found by a loose scan of `ix_job_send_waiting` (one probe a tenant,
/// however many sends it has waiting), and those with a send whose lease lapsed (its worker
/// died). A tenant whose sends are all out with the provider or queued behind them is not
/// visited: with 1,000 tenants each sending, a claim visited all of them at about 17 buffers each
/// (docs/BENCHMARKS.md, 2026-12-07 eleventh part). The kind is written out, not bound, so the
/// planner can use the partial index whatever plan it caches.
const SEND_TENANTS: &str = "waiting(id) AS (
    (SELECT w.tenant_id FROM job w WHERE w.kind = 'provider_send' AND w.state = 'pending' AND w.behind = FALSE
      ORDER BY w.tenant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT w.tenant_id FROM job w WHERE w.kind = 'provider_send' AND w.state = 'pending' AND w.behind = FALSE
        AND w.tenant_id > s.id ORDER BY w.tenant_id LIMIT 1)
    FROM waiting s WHERE s.id IS NOT NULL),
  visited(id) AS (
    SELECT id FROM waiting WHERE id IS NOT NULL
    UNION
    SELECT tenant_id FROM job WHERE kind = 'provider_send' AND state = 'running' AND locked_until < $2), ";

/// Marks `behind` the jobs a claim would otherwise walk past again and again: of each tenant's
/// first `$2` pending jobs of the kind not yet marked (in the claim's order), those that are not
/// their ordering key's head. A job is marked once, so the claims' walk visits heads and jobs not
/// yet looked at, not every job queued behind a head that is running.
///
/// The walk alone says `state = 'pending'`: given outside it, the planner drove the statement
/// from `ix_job_due` over every pending job of every kind, checking each one's head (a second per
/// claim with 2,000 texts queued across 1,000 tenants).
///
/// SQLite only ([`marks`]).
fn mark_sql() -> String {
    format!(
        "UPDATE job SET behind = TRUE WHERE id IN (
  SELECT m.id FROM tenant t JOIN job m ON m.id IN (
    SELECT j.id FROM job j
    WHERE j.tenant_id = t.id AND j.kind = $1 AND j.state IN ('pending', 'running') AND j.behind = FALSE
      AND j.state = 'pending'
    ORDER BY j.tenant_id, j.kind, j.created_at, j.id
    LIMIT {})
  WHERE m.id <> {})",
        sqlite_limit(DbBackend::Sqlite, "$2"),
        head_of("m")
    )
}

/// Whether claims mark jobs `behind` (and finished heads clear the next one's mark): on SQLite,
/// where one writer marks and clears in turn. On PostgreSQL a claim may read a head as running a
/// moment before another transaction finishes it and clears nothing, then mark the next job,
/// which no claim would find again: the bench with 1,000 tenants hit that often enough that
/// sweeping such jobs every few seconds dispatched 46 texts/s instead of 464 (docs/BENCHMARKS.md).
/// There claims mark nothing: sends are marked as they are written instead ([`marked_at_insert`]),
/// and the walk for any other kind is over every unfinished job, as before.
fn marks(backend: DbBackend) -> bool {
    backend != DbBackend::Postgres
}

/// Whether jobs of `kind` are marked `behind` as they are written: sends on PostgreSQL, by a
/// trigger that takes the one lock that makes it safe there (migration 20). Sends only: a
/// conversation's sends queue one behind the other, each waiting for the provider's answer to the
/// one before, while the trigger and its index cost every insert of the kind, and inbound
/// deliveries are written at 20 times the rate (marking them too made inbound 15 % slower,
/// docs/BENCHMARKS.md 2026-12-07 tenth part).
fn marked_at_insert(backend: DbBackend, kind: JobKind) -> bool {
    backend == DbBackend::Postgres && kind == JobKind::ProviderSend
}

/// How long a kind's claims go without marking once a marking found nothing to mark.
const MARK_IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// When each kind's claims mark next: at every claim while marking finds jobs to mark, and at most
/// every [`MARK_IDLE`] while it finds none. Marking walks every tenant as the claim does: with
/// 1,000 tenants' texts delivered as fast as they came (nothing queued behind a head), marking at
/// every claim found nothing and cost the writer two-thirds as much again as the claims
/// themselves, and inbound 10 % of its rate (docs/BENCHMARKS.md). A mark only ever saves work,
/// so a claim that skips marking is as correct, only slower where jobs queue behind heads.
#[derive(Debug, Default)]
pub(crate) struct Marking(std::sync::Mutex<HashMap<JobKind, Instant>>);

impl Marking {
    fn due(&self, kind: JobKind) -> bool {
        let idle = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.get(&kind).is_none_or(|until| Instant::now() >= *until)
    }

    fn record(&self, kind: JobKind, marked: u64) {
        let mut idle = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if marked == 0 {
            idle.insert(kind, Instant::now() + MARK_IDLE);
        } else {
            idle.remove(&kind);
        }
    }
}

/// Clears the mark of the jobs that `finished` (jobs of `kind`, done or dead in this transaction)
/// leave at the head of their ordering keys, so the next claim finds them.
async fn release_next<C: ConnectionTrait>(db: &C, kind: JobKind, finished: &[Uuid]) -> Result<u64, StoreError> {
    let mut n = 0;
    let backend = db.get_database_backend();
    if !marks(backend) && !marked_at_insert(backend, kind) {
        return Ok(n);
    }
    for chunk in finished.chunks(sql::CHUNK) {
        let values = chunk.iter().map(|id| (*id).into()).collect();
        let text = format!(
            "UPDATE job SET behind = FALSE WHERE behind = TRUE AND id IN (SELECT {} FROM job d WHERE d.id IN {})",
            head_of("d"),
            sql::tuples(1, chunk.len())
        );
        n += sql::execute(db, &text, values).await?;
    }
    Ok(n)
}

fn claimed(row: &QueryResult) -> Result<ClaimedJob, StoreError> {
    let id: Uuid = row.try_get("", "id")?;
    let kind: String = row.try_get("", "kind")?;
    let columns = Columns {
        event_id: row.try_get("", "event_id")?,
        message_id: row.try_get("", "message_id")?,
        media_id: row.try_get("", "media_id")?,
        extension_id: row.try_get("", "extension_id")?,
    };
    let message_id = columns.message_id;
    let work = JobKind::parse(&kind).and_then(|kind| Work::from_columns(kind, columns));
    let work =
        work.ok_or_else(|| StoreError::Internal(DbErr::Custom(format!("job {id}: kind {kind:?} without its id"))))?;
    Ok(ClaimedJob {
        id,
        tenant_id: row.try_get("", "tenant_id")?,
        work,
        attempts: row.try_get("", "attempts")?,
        message_id,
    })
}

/// A claim: up to `limit` due jobs of `kind` for `lease`, at most `per_tenant` running for one
/// tenant.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    kind: JobKind,
    limit: u32,
    per_tenant: u32,
    lease: Duration,
    marking: std::sync::Arc<Marking>,
}

impl Claim {
    /// Claims in `txn` (see [`picked`]), marking first when marks are due; the jobs by id.
    async fn run<C: ConnectionTrait>(&self, txn: &C) -> Result<Vec<ClaimedJob>, StoreError> {
        let Self { kind, limit, per_tenant, lease, .. } = *self;
        let at = now();
        let started = Instant::now();
        let backend = txn.get_database_backend();
        // Deep enough that the claim's walk, past the tenant's running jobs, meets the heads it can
        // take and few jobs that are not.
        let depth = per_tenant.saturating_add(limit.min(per_tenant));
        let marked = if marks(backend) && self.marking.due(kind) {
            let n = sql::execute(txn, &mark_sql(), vec![kind.as_str().into(), i64::from(depth).into()]).await?;
            self.marking.record(kind, n);
            n
        } else {
            0
        };
        let marking = started.elapsed();
        let text = claim_sql(backend, kind);
        let mut values = vec![
            kind.as_str().into(),
            at.into(),
            i64::from(limit).into(),
            (at + lease).into(),
            i64::from(per_tenant).into(),
        ];
        if backend != DbBackend::Postgres {
            // How far SQLite walks each tenant's jobs (it cannot stop at each one's room).
            values.push(i64::from(limit.min(per_tenant)).into());
        }
        let rows = sql::query(txn, &text, values).await?;
        tracing::debug!(%kind, jobs = rows.len(), marked, mark_us = micros(marking),
            query_us = micros(started.elapsed() - marking), "jobs claimed");
        let mut jobs = rows.iter().map(claimed).collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }
}

/// Marks `ids` (jobs of `kind`) done, and makes the next job of each one's ordering key visible to
/// claims.
async fn complete<C: ConnectionTrait>(txn: &C, kind: JobKind, ids: &[Uuid]) -> Result<(), StoreError> {
    for chunk in ids.chunks(sql::CHUNK) {
        let mut values: Vec<sea_orm::Value> = chunk.iter().map(|id| (*id).into()).collect();
        values.push(now().into());
        let at = chunk.len() + 1;
        sql::execute(
            txn,
            &format!(
                "UPDATE job SET state = 'done', locked_until = NULL, last_error = NULL, updated_at = ${at} \
                 WHERE id IN {}",
                sql::tuples(1, chunk.len())
            ),
            values,
        )
        .await?;
    }
    release_next(txn, kind, ids).await?;
    Ok(())
}

/// A worker's write that rides in the transaction of the inbound lane ([`crate::group`]), on
/// SQLite: it shares the texts' commit instead of taking the one writer for a commit of its own.
#[derive(Debug)]
pub(crate) enum Ride {
    /// Jobs of the kind done.
    Complete(JobKind, Vec<Uuid>),
    Claim(Claim),
}

/// What a ride did.
#[derive(Debug)]
pub(crate) enum Ridden {
    Completed,
    Claimed(Vec<ClaimedJob>),
}

/// Runs `rides` in `txn`: the settles first, so the claims after them find the jobs those free;
/// one outcome per ride, in order.
pub(crate) async fn ride<C: ConnectionTrait>(txn: &C, rides: &[Ride]) -> Result<Vec<Ridden>, StoreError> {
    let mut out: Vec<Option<Ridden>> = rides.iter().map(|_| None).collect();
    for (slot, ride) in out.iter_mut().zip(rides) {
        if let Ride::Complete(kind, ids) = ride {
            complete(txn, *kind, ids).await?;
            *slot = Some(Ridden::Completed);
        }
    }
    for (slot, ride) in out.iter_mut().zip(rides) {
        if let Ride::Claim(claim) = ride {
            *slot = Some(Ridden::Claimed(claim.run(txn).await?));
        }
    }
    out.into_iter().map(|r| r.ok_or_else(|| StoreError::Internal(DbErr::Custom("a ride did not run".into())))).collect()
}

impl Store {
    /// Whether workers' claims and settles ride in the inbound lane's transactions: on SQLite,
    /// where that lane is the one writer. On PostgreSQL they run beside it, in transactions of
    /// their own.
    pub fn settles_ride(&self) -> bool {
        self.writer().get_database_backend() != DbBackend::Postgres
    }

    /// Claims up to `limit` due jobs of `kind` for `lease`, fairly across tenants and at most
    /// `per_tenant` running for one tenant (see [`picked`]). A job whose lease ends unfinished (its
    /// worker died) is claimed again. The jobs come back by id, once the claim is committed.
    pub async fn claim_jobs(
        &self,
        kind: JobKind,
        limit: u32,
        per_tenant: u32,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let claim = Claim { kind, limit, per_tenant, lease, marking: self.marking.clone() };
        if self.settles_ride() {
            return match self.inbound.ride(Ride::Claim(claim), || ()).await? {
                Ridden::Claimed(jobs) => Ok(jobs),
                Ridden::Completed => Err(StoreError::Internal(DbErr::Custom("a claim rode as a settle".into()))),
            };
        }
        let started = Instant::now();
        let txn = self.write_txn().await?;
        let locked = started.elapsed();
        let jobs = claim.run(&txn).await?;
        let ran = started.elapsed();
        txn.commit().await?;
        tracing::debug!(%kind, wait_us = micros(locked), commit_us = micros(started.elapsed() - ran), "claim committed");
        Ok(jobs)
    }

    /// Marks jobs of `kind` done, in one statement (one commit for a whole round of work), and
    /// makes the next job of each one's ordering key visible to claims.
    pub async fn complete_jobs(&self, kind: JobKind, ids: &[Uuid]) -> Result<(), StoreError> {
        self.complete_jobs_then(kind, ids, || ()).await
    }

    /// [`Store::complete_jobs`], calling `queued` as soon as a claim made after it is sure to see
    /// the jobs done: on SQLite once the settle waits in the inbound lane (a claim handed in after
    /// it rides in the same transaction, after it, or in a later one), elsewhere once it commits.
    /// If the settle then fails, the jobs stay leased and run again when their leases end, as
    /// after any settle that fails.
    pub async fn complete_jobs_then(
        &self,
        kind: JobKind,
        ids: &[Uuid],
        queued: impl FnOnce(),
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        if self.settles_ride() {
            self.inbound.ride(Ride::Complete(kind, ids.to_vec()), queued).await?;
        } else {
            let txn = self.write_txn().await?;
            complete(&txn, kind, ids).await?;
            txn.commit().await?;
            queued();
        }
        // Including the wait for the writer.
        tracing::debug!(jobs = ids.len(), took_us = micros(started.elapsed()), "jobs completed");
        Ok(())
    }

    /// Puts a job back to wait until `next_attempt_at`, keeping the reason and recording the
    /// attempt (with the status answered, if any).
    pub async fn retry_job(
        &self,
        job: &ClaimedJob,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        status: Option<u16>,
    ) -> Result<(), StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        sql::execute(
            &txn,
            "UPDATE job SET state = 'pending', locked_until = NULL, next_attempt_at = $2, last_error = $3, updated_at = $4 \
             WHERE id = $1",
            vec![job.id.into(), next_attempt_at.into(), truncate(error).into(), at.into()],
        )
        .await?;
        record_attempt(&txn, job, at, error, status, false).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Appends an event to the tenant's log for its live streams only (no PBX delivery): news of
    /// the delivery machinery itself, such as an endpoint's breaker opening.
    pub async fn append_tenant_event(
        &self,
        tenant: Uuid,
        body: EventBody,
    ) -> Result<events::AppendedEvent, StoreError> {
        let txn = self.write_txn().await?;
        let event = events::append_unrouted(&txn, tenant, body, now()).await?;
        txn.commit().await?;
        Ok(event)
    }

    /// Gives a job up for good and records an event saying so (on the live stream only: the PBX
    /// that could not be reached would not get it either).
    pub async fn kill_job(&self, job: &ClaimedJob, error: &str, status: Option<u16>) -> Result<(), StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        sql::execute(
            &txn,
            "UPDATE job SET state = 'dead', locked_until = NULL, last_error = $2, updated_at = $3 WHERE id = $1",
            vec![job.id.into(), truncate(error).into(), at.into()],
        )
        .await?;
        record_attempt(&txn, job, at, error, status, true).await?;
        release_next(&txn, job.work.kind(), &[job.id]).await?;
        let dead = DeliveryDead {
            job_id: job.id,
            kind: job.work.kind(),
            event_id: job.work.event_id(),
            message_id: job.message_id,
            attempts: job.attempts,
            last_error: truncate(error),
        };
        events::append_unrouted(&txn, job.tenant_id, EventBody::DeliveryDead(dead), at).await?;
        txn.commit().await?;
        Ok(())
    }

    /// What to post for each webhook job of a round, by job id: `None` inside when the tenant no
    /// longer has a webhook; a job whose event is gone is left out. Two queries for the round;
    /// each tenant's secrets are opened once.
    pub async fn webhook_deliveries(
        &self,
        jobs: &[ClaimedJob],
    ) -> Result<HashMap<Uuid, Option<WebhookDelivery>>, StoreError> {
        let event_ids: BTreeSet<i64> = jobs.iter().filter_map(|j| j.work.event_id()).collect();
        let events: HashMap<i64, event::Model> = event::Entity::find()
            .filter(event::Column::Id.is_in(event_ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let tenant_ids: BTreeSet<Uuid> = events.values().map(|e| e.tenant_id).collect();
        let mut targets: HashMap<Uuid, Option<(String, Vec<SecretString>)>> = HashMap::new();
        for t in tenant::Entity::find().filter(tenant::Column::Id.is_in(tenant_ids)).all(self.db()).await? {
            let target = match t.webhook_url.clone() {
                Some(url) => Some((url, self.webhook_secrets(&t)?)),
                None => None,
            };
            targets.insert(t.id, target);
        }
        let mut out = HashMap::with_capacity(jobs.len());
        for job in jobs {
            let Some(ev) = job.work.event_id().and_then(|id| events.get(&id)) else { continue };
            let Some(target) = targets.get(&ev.tenant_id) else { continue };
            let delivery = target.as_ref().map(|(url, secrets)| WebhookDelivery {
                url: url.clone(),
                secrets: secrets.clone(),
                webhook_id: ev
                    .payload
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("evt_{}", ev.id), str::to_owned),
                body: ev.payload.clone(),
            });
            out.insert(job.id, delivery);
        }
        Ok(out)
    }

    /// A tenant's webhook secrets: the current one first, then the previous one while its grace
    /// period lasts.
    fn webhook_secrets(&self, t: &tenant::Model) -> Result<Vec<SecretString>, StoreError> {
        let aad = format!("tenant:{}:webhook_secret", t.id);
        let open = |sealed: &str| self.open_secret(sealed, &aad);
        let mut secrets = vec![open(&t.webhook_secret_enc)?];
        if let (Some(prev), Some(rotated)) = (&t.webhook_secret_prev_enc, t.webhook_secret_rotated_at)
            && now() < rotated + PREVIOUS_SECRET_GRACE
        {
            secrets.push(open(prev)?);
        }
        Ok(secrets)
    }

    /// Counts jobs by state, for tests and metrics.
    pub async fn job_counts(&self, kind: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sql::query(
            self.db(),
            "SELECT state, COUNT(*) AS n FROM job WHERE kind = $1 GROUP BY state ORDER BY state",
            vec![kind.into()],
        )
        .await?;
        rows.iter().map(|r| Ok((r.try_get("", "state")?, r.try_get("", "n")?))).collect()
    }
}

/// Records an attempt at `job` that did not succeed.
async fn record_attempt<C: sea_orm::ConnectionTrait>(
    db: &C,
    job: &ClaimedJob,
    at: DateTime<Utc>,
    error: &str,
    status: Option<u16>,
    last: bool,
) -> Result<(), StoreError> {
    delivery_attempt::ActiveModel {
        tenant_id: Set(job.tenant_id),
        job_id: Set(job.id),
        attempt: Set(job.attempts),
        at: Set(at),
        status_code: Set(status.map(i32::from)),
        error: Set(truncate(error)),
        r#final: Set(last),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn truncate(error: &str) -> String {
    error.chars().take(1000).collect()
}
