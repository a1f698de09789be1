//! The event log: per-tenant sequence numbers in commit order, the source of live streams and of
//! PBX webhook deliveries. An event and its delivery job are written in the caller's transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entity::{event, job};
use crate::sql;
use crate::{StoreError, new_id};

/// Job kinds.
pub const WEBHOOK_DELIVERY: &str = "webhook_delivery";
pub const PROVIDER_SEND: &str = "provider_send";
pub const MEDIA_FETCH: &str = "media_fetch";

/// The key that keeps one conversation's deliveries and sends in order.
pub fn ordering_key(number: &str, remote: &str) -> String {
    format!("{number}|{remote}")
}

/// An event as written.
#[derive(Debug, Clone)]
pub struct AppendedEvent {
    pub id: i64,
    pub seq: i64,
    pub tenant_id: Uuid,
    pub payload: Value,
}

/// Appends an event of `tenant` and, when the tenant has a webhook, its delivery job, ordered
/// behind earlier deliveries with the same `ordering_key` (a conversation).
///
/// The tenant's counter is incremented with an `UPDATE … RETURNING`, which holds the tenant row's
/// lock until commit: events of one tenant get sequence numbers in commit order, so a stream
/// resuming after `seq` can never miss one that commits later with a smaller number.
pub(crate) async fn append<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    event_type: &'static str,
    data: Value,
    ordering_key: &str,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    write(db, tenant_id, event_type, data, Some(ordering_key), at).await
}

/// Appends an event for the live stream only, with no webhook delivery.
pub(crate) async fn append_unrouted<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    event_type: &'static str,
    data: Value,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    write(db, tenant_id, event_type, data, None, at).await
}

async fn write<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    event_type: &'static str,
    data: Value,
    ordering_key: Option<&str>,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    let mut jobs = Vec::new();
    let new = NewEvent { tenant_id, event_type, data, ordering: ordering_key.map(str::to_owned) };
    let event = append_batch(db, vec![new], at, &mut jobs).await?.pop().ok_or(StoreError::NotFound)?;
    for job in jobs {
        job.insert(db).await?;
    }
    Ok(event)
}

/// An event to append in a batch: with an ordering key it is also delivered to the tenant's PBX.
pub(crate) struct NewEvent {
    pub tenant_id: Uuid,
    pub event_type: &'static str,
    pub data: Value,
    pub ordering: Option<String>,
}

/// Appends many events at once: one sequence update per tenant (which, like [`append`], holds the
/// tenant's row until commit, so sequence numbers follow commit order), one insert for all, and a
/// delivery job pushed onto `jobs` for each routed event of a tenant with a webhook, in event
/// order. Returns the events as written, in the order given.
pub(crate) async fn append_batch<C: ConnectionTrait>(
    db: &C,
    new: Vec<NewEvent>,
    at: DateTime<Utc>,
    jobs: &mut Vec<job::ActiveModel>,
) -> Result<Vec<AppendedEvent>, StoreError> {
    let mut per_tenant: BTreeMap<Uuid, i64> = BTreeMap::new();
    for e in &new {
        *per_tenant.entry(e.tenant_id).or_default() += 1;
    }
    // tenant → (next seq, slug, has a webhook)
    let mut tenants: HashMap<Uuid, (i64, String, bool)> = HashMap::with_capacity(per_tenant.len());
    for (tenant, n) in per_tenant {
        let rows = sql::query(
            db,
            "UPDATE tenant SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq, slug, webhook_url",
            vec![tenant.into(), n.into()],
        )
        .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        let last: i64 = row.try_get("", "event_seq")?;
        let webhook: Option<String> = row.try_get("", "webhook_url")?;
        tenants.insert(tenant, (last - n + 1, row.try_get("", "slug")?, webhook.is_some()));
    }
    let mut models = Vec::with_capacity(new.len());
    // (tenant, seq) → (position given, payload, delivery ordering key)
    let mut by_seq: HashMap<(Uuid, i64), (usize, Value, Option<String>)> = HashMap::with_capacity(new.len());
    for (position, e) in new.into_iter().enumerate() {
        let (next, slug, webhook) = tenants.get_mut(&e.tenant_id).ok_or(StoreError::NotFound)?;
        let seq = *next;
        *next += 1;
        let payload = payload(e.event_type, slug, e.data, at);
        models.push(event::ActiveModel {
            tenant_id: Set(e.tenant_id),
            seq: Set(seq),
            event_type: Set(e.event_type.to_owned()),
            payload: Set(payload.clone()),
            created_at: Set(at),
            ..Default::default()
        });
        by_seq.insert((e.tenant_id, seq), (position, payload, e.ordering.filter(|_| *webhook)));
    }
    let mut written: Vec<(i64, Uuid, i64)> = Vec::with_capacity(models.len());
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<event::ActiveModel> = models.by_ref().take(sql::CHUNK).collect();
        let rows = event::Entity::insert_many(chunk).exec_with_returning(db).await?;
        written.extend(rows.into_iter().map(|e| (e.id, e.tenant_id, e.seq)));
    }
    // Jobs in event order, so one conversation's deliveries keep the events' order.
    written.sort_by_key(|(id, _, _)| *id);
    let mut out: Vec<Option<AppendedEvent>> = vec![None; written.len()];
    for (id, tenant_id, seq) in written {
        let (position, payload, delivery) = by_seq.remove(&(tenant_id, seq)).ok_or(StoreError::NotFound)?;
        if let Some(key) = delivery {
            jobs.push(job_model(new_id(), tenant_id, WEBHOOK_DELIVERY, &key, JobRef::Event(id), at));
        }
        if let Some(slot) = out.get_mut(position) {
            *slot = Some(AppendedEvent { id, seq, tenant_id, payload });
        }
    }
    out.into_iter().map(|e| e.ok_or(StoreError::NotFound)).collect()
}

/// An event's body as streams and PBX webhooks receive it. Its `id` is what PBXs deduplicate on
/// (`webhook-id`): stable across retries, unique across tenants.
pub(crate) fn payload(event_type: &str, slug: &str, data: Value, at: DateTime<Utc>) -> Value {
    json!({
        "type": event_type,
        "id": format!("evt_{}", new_id().simple()),
        "tenant": slug,
        "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
}

/// What a job works on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JobRef {
    Event(i64),
    Message(Uuid),
    Media(Uuid),
}

/// Writes a pending job, due now.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    kind: &str,
    ordering_key: &str,
    target: JobRef,
    at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id = new_id();
    job_model(id, tenant_id, kind, ordering_key, target, at).insert(db).await?;
    Ok(id)
}

/// A pending job, due now, not yet written.
pub(crate) fn job_model(
    id: Uuid,
    tenant_id: Uuid,
    kind: &str,
    ordering_key: &str,
    target: JobRef,
    at: DateTime<Utc>,
) -> job::ActiveModel {
    let (event_id, message_id, media_id) = match target {
        JobRef::Event(e) => (Some(e), None, None),
        JobRef::Message(m) => (None, Some(m), None),
        JobRef::Media(m) => (None, None, Some(m)),
    };
    job::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        kind: Set(kind.to_owned()),
        message_id: Set(message_id),
        event_id: Set(event_id),
        media_id: Set(media_id),
        ordering_key: Set(ordering_key.to_owned()),
        state: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}
