//! The event log: per-tenant sequence numbers in commit order, the source of live streams and of
//! PBX webhook deliveries. An event and its delivery job are written in the caller's transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
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
    event_type: &str,
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
    event_type: &str,
    data: Value,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    write(db, tenant_id, event_type, data, None, at).await
}

async fn write<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    event_type: &str,
    data: Value,
    ordering_key: Option<&str>,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    let rows = sql::query(
        db,
        "UPDATE tenant SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq, slug, webhook_url",
        vec![tenant_id.into()],
    )
    .await?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    let seq: i64 = row.try_get("", "event_seq")?;
    let slug: String = row.try_get("", "slug")?;
    let webhook_url: Option<String> = row.try_get("", "webhook_url")?;
    let payload = payload(event_type, &slug, data, at);
    let model = event::ActiveModel {
        tenant_id: Set(tenant_id),
        seq: Set(seq),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload.clone()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if let (Some(_), Some(key)) = (webhook_url, ordering_key) {
        enqueue(db, tenant_id, WEBHOOK_DELIVERY, key, JobRef::Event(model.id), at).await?;
    }
    Ok(AppendedEvent { id: model.id, seq, tenant_id, payload })
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
