//! What happened to a text and to the work done for it: a text's events and jobs with their
//! failed attempts (its timeline), the PBX webhook deliveries that are retrying or dead, and
//! playing a dead delivery again.
//!
//! A job's failed attempts are rows of `delivery_attempt`; its success is the job itself
//! (`state = 'done'` at `updated_at`), so the delivery path writes nothing more when all is well.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use switchboard_core::JobKind;
use uuid::Uuid;

use crate::entity::{delivery_attempt, event, job, message};
use crate::page::{self, Page, PageRequest};
use crate::{Store, StoreError, new_id, now, sql};

/// One attempt at a job that did not succeed.
#[derive(Debug, Clone)]
pub struct FailedAttempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The HTTP status the other side answered, if it answered.
    pub status_code: Option<i32>,
    pub error: String,
    /// True for the attempt after which the job was given up.
    pub last: bool,
}

/// A job and how it went.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub kind: JobKind,
    /// `pending`, `running`, `done`, `dead`, or `replayed` (dead, then played again as
    /// another job).
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// When it last changed: when it was done, put back, or given up.
    pub updated_at: DateTime<Utc>,
    /// When it is tried next, while it waits.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The event a PBX delivery carries, and its type.
    pub event_id: Option<i64>,
    pub event_type: Option<String>,
    pub message_id: Option<Uuid>,
    /// The dead delivery this one plays again.
    pub replay_of: Option<Uuid>,
    /// Its failed attempts, oldest first.
    pub failures: Vec<FailedAttempt>,
}

/// An event of a text's.
#[derive(Debug, Clone)]
pub struct TimelineEvent {
    /// Its number in the tenant's stream (none yet on PostgreSQL for a moment after commit).
    pub seq: Option<i64>,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    /// The event as posted and streamed.
    pub payload: Value,
}

/// Everything recorded about one text: its events and the jobs done for it, oldest first.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub events: Vec<TimelineEvent>,
    pub jobs: Vec<Delivery>,
}

/// Which webhook deliveries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Failed at least once and waiting to be tried again (or being tried).
    Retrying,
    /// Given up after the last attempt; may be played again.
    Dead,
}

impl DeliveryState {
    /// Parses `retrying` or `dead`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "retrying" => Ok(Self::Retrying),
            "dead" => Ok(Self::Dead),
            _ => Err(StoreError::invalid("state", "must be 'retrying' or 'dead'")),
        }
    }
}

/// Most dead deliveries one call plays again.
pub const REPLAY_AT_ONCE: usize = 500;

fn delivery(j: job::Model, event_types: &HashMap<i64, String>, failures: Vec<FailedAttempt>) -> Delivery {
    let waiting = j.state == "pending";
    Delivery {
        id: j.id,
        kind: JobKind::parse(&j.kind).unwrap_or(JobKind::WebhookDelivery),
        event_type: j.event_id.and_then(|e| event_types.get(&e).cloned()),
        next_attempt_at: waiting.then_some(j.next_attempt_at),
        state: j.state,
        attempts: j.attempts,
        created_at: j.created_at,
        updated_at: j.updated_at,
        last_error: j.last_error,
        event_id: j.event_id,
        message_id: j.message_id,
        replay_of: j.replay_of,
        failures,
    }
}

impl Store {
    /// Jobs with their failed attempts and their events' types, in the order given.
    async fn with_attempts(&self, jobs: Vec<job::Model>) -> Result<Vec<Delivery>, StoreError> {
        let ids: Vec<Uuid> = jobs.iter().map(|j| j.id).collect();
        let mut failures: HashMap<Uuid, Vec<FailedAttempt>> = HashMap::new();
        for chunk in ids.chunks(sql::CHUNK) {
            let rows = delivery_attempt::Entity::find()
                .filter(delivery_attempt::Column::JobId.is_in(chunk.iter().copied()))
                .order_by_asc(delivery_attempt::Column::Id)
                .all(self.db())
                .await?;
            for a in rows {
                failures.entry(a.job_id).or_default().push(FailedAttempt {
                    attempt: a.attempt,
                    at: a.at,
                    status_code: a.status_code,
                    error: a.error,
                    last: a.r#final,
                });
            }
        }
        let event_ids: Vec<i64> = jobs.iter().filter_map(|j| j.event_id).collect();
        let mut types = HashMap::new();
        for chunk in event_ids.chunks(sql::CHUNK) {
            let rows: Vec<(i64, String)> = event::Entity::find()
                .select_only()
                .column(event::Column::Id)
                .column(event::Column::EventType)
                .filter(event::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(self.db())
                .await?;
            types.extend(rows);
        }
        Ok(jobs
            .into_iter()
            .map(|j| {
                let f = failures.remove(&j.id).unwrap_or_default();
                delivery(j, &types, f)
            })
            .collect())
    }

    /// A text's events and jobs (deliveries of its events, its send, its media fetches), oldest
    /// first. Another tenant's text is not found.
    pub async fn message_timeline(&self, tenant: Uuid, id: Uuid) -> Result<Timeline, StoreError> {
        let exists = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::Id.eq(id))
            .into_tuple::<Uuid>()
            .one(self.db())
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let events = event::Entity::find()
            .filter(event::Column::MessageId.eq(id))
            .filter(event::Column::TenantId.eq(tenant))
            .order_by_asc(event::Column::Id)
            .all(self.db())
            .await?
            .into_iter()
            .map(|e| TimelineEvent {
                seq: e.seq,
                event_type: e.event_type,
                created_at: e.created_at,
                payload: e.payload,
            })
            .collect();
        let jobs = job::Entity::find()
            .filter(job::Column::MessageId.eq(id))
            .filter(job::Column::TenantId.eq(tenant))
            .order_by_asc(job::Column::CreatedAt)
            .order_by_asc(job::Column::Id)
            .all(self.db())
            .await?;
        Ok(Timeline { events, jobs: self.with_attempts(jobs).await? })
    }

    /// The tenant's latest failed attempt at a PBX webhook delivery, if any.
    pub async fn last_webhook_failure(&self, tenant: Uuid) -> Result<Option<FailedAttempt>, StoreError> {
        let rows = sql::query(
            self.db(),
            "SELECT a.attempt, a.at, a.status_code, a.error, a.final FROM delivery_attempt a \
             JOIN job j ON j.id = a.job_id \
             WHERE a.tenant_id = $1 AND j.kind = $2 ORDER BY a.id DESC LIMIT 1",
            vec![tenant.into(), JobKind::WebhookDelivery.as_str().into()],
        )
        .await?;
        rows.first()
            .map(|r| {
                Ok(FailedAttempt {
                    attempt: r.try_get("", "attempt")?,
                    at: r.try_get("", "at")?,
                    status_code: r.try_get("", "status_code")?,
                    error: r.try_get("", "error")?,
                    last: r.try_get("", "final")?,
                })
            })
            .transpose()
    }

    /// The tenant's PBX webhook deliveries in `state`, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        tenant: Uuid,
        state: DeliveryState,
        req: PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let which = match state {
            DeliveryState::Dead => Condition::all().add(job::Column::State.eq("dead")),
            DeliveryState::Retrying => {
                Condition::all().add(job::Column::State.is_in(["pending", "running"])).add(job::Column::Attempts.gt(0))
            }
        };
        let select = job::Entity::find()
            .filter(job::Column::TenantId.eq(tenant))
            .filter(job::Column::Kind.eq(JobKind::WebhookDelivery.as_str()))
            .filter(which);
        let page = page::fetch(self.db(), select, job::Column::Id, |j| j.id, req, true).await?;
        Ok(Page { items: self.with_attempts(page.items).await?, next_cursor: page.next_cursor })
    }

    /// One of the tenant's PBX webhook deliveries.
    pub async fn get_webhook_delivery(&self, tenant: Uuid, id: Uuid) -> Result<Delivery, StoreError> {
        let j = job::Entity::find()
            .filter(job::Column::TenantId.eq(tenant))
            .filter(job::Column::Kind.eq(JobKind::WebhookDelivery.as_str()))
            .filter(job::Column::Id.eq(id))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        self.with_attempts(vec![j]).await?.pop().ok_or(StoreError::NotFound)
    }

    /// Plays a dead PBX webhook delivery again: a new job carrying the same event (the PBX sees
    /// the same `webhook-id`, so one that did get it can tell), queued behind the conversation's
    /// current deliveries; the dead one becomes `replayed`. Only a dead delivery can be played
    /// again, and only once: a second call answers a conflict.
    pub async fn replay_webhook_delivery(&self, tenant: Uuid, id: Uuid) -> Result<Delivery, StoreError> {
        let txn = self.write_txn().await?;
        let new = replay(&txn, tenant, Some(id)).await?;
        let Some(new_id) = new.first().copied() else {
            let current = job::Entity::find()
                .filter(job::Column::TenantId.eq(tenant))
                .filter(job::Column::Kind.eq(JobKind::WebhookDelivery.as_str()))
                .filter(job::Column::Id.eq(id))
                .one(&txn)
                .await?
                .ok_or(StoreError::NotFound)?;
            return Err(StoreError::Conflict(format!(
                "only a dead delivery can be played again; this one is {}",
                current.state
            )));
        };
        txn.commit().await?;
        self.get_webhook_delivery(tenant, new_id).await
    }

    /// Plays the tenant's dead PBX webhook deliveries again, oldest first, at most
    /// [`REPLAY_AT_ONCE`]; answers how many (call again while it answers that many).
    pub async fn replay_dead_webhook_deliveries(&self, tenant: Uuid) -> Result<usize, StoreError> {
        let txn = self.write_txn().await?;
        let new = replay(&txn, tenant, None).await?;
        txn.commit().await?;
        Ok(new.len())
    }
}

/// Turns dead webhook deliveries of `tenant` (the one `only`, or the oldest [`REPLAY_AT_ONCE`])
/// into `replayed` ones and queues a new job for each, in one transaction; answers the new ids.
/// The conditional UPDATE decides, so two replays at once play a delivery once.
async fn replay(txn: &sea_orm::DatabaseTransaction, tenant: Uuid, only: Option<Uuid>) -> Result<Vec<Uuid>, StoreError> {
    let at = now();
    let kind = JobKind::WebhookDelivery.as_str();
    let (pick, mut values): (&str, Vec<sea_orm::Value>) = match only {
        Some(id) => ("id = $4", vec![id.into()]),
        None => (
            "id IN (SELECT id FROM job WHERE tenant_id = $2 AND kind = $3 AND state = 'dead' ORDER BY updated_at, id LIMIT $4)",
            vec![i64::try_from(REPLAY_AT_ONCE).unwrap_or(500).into()],
        ),
    };
    let mut all = vec![at.into(), tenant.into(), kind.into()];
    all.append(&mut values);
    let rows = sql::query(
        txn,
        &format!(
            "UPDATE job SET state = 'replayed', updated_at = $1 \
             WHERE tenant_id = $2 AND kind = $3 AND state = 'dead' AND {pick} \
             RETURNING id, event_id, message_id, ordering_key"
        ),
        all,
    )
    .await?;
    let mut created = Vec::with_capacity(rows.len());
    let mut models = Vec::with_capacity(rows.len());
    for row in rows {
        let old: Uuid = row.try_get("", "id")?;
        let event_id: Option<i64> = row.try_get("", "event_id")?;
        let Some(event_id) = event_id else { continue };
        let key: String = row.try_get("", "ordering_key")?;
        let id = new_id();
        let mut model = crate::events::job_model(id, tenant, &key, crate::events::Work::Webhook { event_id }, at);
        model.message_id = sea_orm::Set(row.try_get("", "message_id")?);
        model.replay_of = sea_orm::Set(Some(old));
        models.push(model);
        created.push(id);
    }
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<job::ActiveModel> = models.by_ref().take(sql::CHUNK).collect();
        job::Entity::insert_many(chunk).exec(txn).await?;
    }
    Ok(created)
}
