//! The event log: per-tenant sequence numbers that only ever grow as readers see them, the source
//! of live streams and of PBX webhook deliveries. An event and its delivery job are written in the
//! caller's transaction; on PostgreSQL the event is numbered after that commits.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, QueryResult, Set, TransactionTrait};
use serde_json::Value;
use switchboard_core::event::{Failure, StatusChanged};
use switchboard_core::status::MessageStatus;
use switchboard_core::{Event, EventBody, JobKind};
use uuid::Uuid;

use crate::entity::{event, job, message};
use crate::sql::{self, Script};
use crate::{StoreError, new_id};

/// The key that keeps one conversation's deliveries and sends in order.
pub fn ordering_key(number: &str, remote: &str) -> String {
    format!("{number}|{remote}")
}

/// The ordering key of an automated text's send: one of its own, so that while it waits for the
/// recipient's quiet hours to end, the conversation's other texts (a person's reply) still go.
pub(crate) fn automated_key(message: Uuid) -> String {
    format!("automated|{message}")
}

/// A text's `message.status` event, from the message as it now stands (its new `status` set):
/// the provider's error code and words only when it failed.
pub(crate) fn status_changed(m: &message::Model, status: MessageStatus) -> EventBody {
    let error = (status == MessageStatus::Failed)
        .then(|| Failure { error_code: m.error_code, error_message: m.error_message.clone() });
    EventBody::MessageStatus(StatusChanged {
        message_id: m.id,
        status,
        number: m.number.clone(),
        to: m.remote.clone(),
        sender_extension: m.sender_extension.clone(),
        error,
    })
}

/// An event as written.
#[derive(Debug, Clone)]
pub struct AppendedEvent {
    pub id: i64,
    /// Its number in the tenant's stream, when it got one in its own transaction (SQLite); on
    /// PostgreSQL the sequencer numbers it after commit ([`crate::Store::number_events`]).
    pub seq: Option<i64>,
    pub tenant_id: Uuid,
    pub payload: Value,
}

/// Appends an event of `tenant` and, when the tenant has a webhook, its delivery job, ordered
/// behind earlier deliveries with the same `ordering_key` (a conversation).
pub(crate) async fn append<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    body: EventBody,
    ordering_key: &str,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    write(db, tenant_id, body, Some(ordering_key), at).await
}

/// Appends an event for the live stream only, with no webhook delivery.
pub(crate) async fn append_unrouted<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    body: EventBody,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    write(db, tenant_id, body, None, at).await
}

async fn write<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    body: EventBody,
    ordering_key: Option<&str>,
    at: DateTime<Utc>,
) -> Result<AppendedEvent, StoreError> {
    let mut jobs = Vec::new();
    let new = NewEvent { tenant_id, body, ordering: ordering_key.map(str::to_owned) };
    let event = append_batch(db, vec![new], at, &mut jobs).await?.pop().ok_or(StoreError::NotFound)?;
    for job in jobs {
        job.insert(db).await?;
    }
    Ok(event)
}

/// An event to append in a batch: with an ordering key it is also delivered to the tenant's PBX.
pub(crate) struct NewEvent {
    pub tenant_id: Uuid,
    pub body: EventBody,
    pub ordering: Option<String>,
}

/// Appends many events at once — one insert for all — and pushes onto `jobs` a delivery job for
/// each routed event of a tenant with a webhook, in event order. Returns the events as written, in
/// the order given.
///
/// Streams resume after a sequence number, so an event must never be numbered below one a reader
/// may already have seen. On SQLite, whose one writer commits transactions one after another, the
/// tenant's counter is taken here, in the writer's transaction. On PostgreSQL that would make
/// every transaction writing a tenant's events wait for the one before it to commit (the counter's
/// row lock is held to commit); there events are written unnumbered and numbered after commit by
/// [`crate::Store::number_events`].
pub(crate) async fn append_batch<C: ConnectionTrait>(
    db: &C,
    new: Vec<NewEvent>,
    at: DateTime<Utc>,
    jobs: &mut Vec<job::ActiveModel>,
) -> Result<Vec<AppendedEvent>, StoreError> {
    append_batch_read(db, new, HashMap::new(), at, jobs).await
}

/// [`append_batch`], given the slugs and webhooks of tenants the caller has read already in its
/// transaction ([`EventTenant::unnumbered`]; where events are numbered after commit): only the
/// others are read here.
pub(crate) async fn append_batch_read<C: ConnectionTrait>(
    db: &C,
    new: Vec<NewEvent>,
    read: HashMap<Uuid, EventTenant>,
    at: DateTime<Utc>,
    jobs: &mut Vec<job::ActiveModel>,
) -> Result<Vec<AppendedEvent>, StoreError> {
    let numbered_here = !numbers_after_commit(db.get_database_backend());
    let mut tenants = if numbered_here { HashMap::new() } else { read };
    let per_tenant: Vec<(Uuid, i64)> =
        per_tenant(&new).into_iter().filter(|(tenant, _)| !tenants.contains_key(tenant)).collect();
    // One statement for every tenant of the batch (a batch of texts for many tenants ran one each).
    for chunk in per_tenant.chunks(sql::CHUNK) {
        let (text, values) = if numbered_here {
            let (bump, values) = bump_counters(chunk);
            (format!("{bump} RETURNING id, event_seq, slug, webhook_url"), values)
        } else {
            (
                format!("SELECT id, slug, webhook_url FROM tenant WHERE id IN {}", sql::tuples(1, chunk.len())),
                chunk.iter().map(|(tenant, _)| (*tenant).into()).collect(),
            )
        };
        for row in sql::query(db, &text, values).await? {
            let tenant: Uuid = row.try_get("", "id")?;
            let n = chunk.iter().find(|(t, _)| *t == tenant).map_or(0, |(_, n)| *n);
            let next = if numbered_here { Some(row.try_get::<i64>("", "event_seq")? - n + 1) } else { None };
            tenants.insert(tenant, EventTenant::read(&row, next)?);
        }
    }
    let prepared = prepare(new, &mut tenants, at)?;
    // the payload's id → (position given, payload, delivery ordering key, the text it is about)
    let mut by_id: HashMap<String, (usize, Value, Option<String>, Option<Uuid>)> =
        HashMap::with_capacity(prepared.len());
    let mut models = Vec::with_capacity(prepared.len());
    for (position, p) in prepared.into_iter().enumerate() {
        by_id.insert(payload_id(&p.payload), (position, p.payload, p.delivery, p.message_id));
        models.push(p.model);
    }
    let mut written: Vec<event::Model> = Vec::with_capacity(models.len());
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<event::ActiveModel> = models.by_ref().take(sql::CHUNK).collect();
        written.extend(event::Entity::insert_many(chunk).exec_with_returning(db).await?);
    }
    // Jobs in event order, so one conversation's deliveries keep the events' order.
    written.sort_by_key(|e| e.id);
    let mut out: Vec<Option<AppendedEvent>> = vec![None; written.len()];
    for e in written {
        let (position, payload, delivery, message_id) =
            by_id.remove(&payload_id(&e.payload)).ok_or(StoreError::NotFound)?;
        let appended = AppendedEvent { id: e.id, seq: e.seq, tenant_id: e.tenant_id, payload };
        deliver(&appended, delivery, message_id, at, jobs);
        if let Some(slot) = out.get_mut(position) {
            *slot = Some(appended);
        }
    }
    out.into_iter().map(|e| e.ok_or(StoreError::NotFound)).collect()
}

/// What [`append_in_script`] needs, read before the batch writes (see [`query_known`]).
#[derive(Default)]
pub(crate) struct Known {
    /// Each tenant's next event number, slug and webhook.
    pub tenants: HashMap<Uuid, EventTenant>,
    /// The event table's last id.
    pub last_id: i64,
}

impl Known {
    /// Keeps a row of [`query_known`]'s first query.
    pub(crate) fn tenant(&mut self, row: &QueryResult) -> Result<(), StoreError> {
        let next = row.try_get::<i64>("", "event_seq")? + 1;
        self.tenants.insert(row.try_get("", "id")?, EventTenant::read(row, Some(next))?);
        Ok(())
    }
}

/// Adds to `script` the reads of [`Known`] for events of `tenants`, their rows tagged `part` with
/// `tenant_part` and `last_part`. For SQLite only, in its writer's transaction: with the write
/// lock held from the start, nothing else can number a tenant's events or take an event id
/// before the batch writes its own.
pub(crate) fn query_known(script: &mut Script, tenants: &BTreeSet<Uuid>, tenant_part: i32, last_part: i32) {
    let ids: Vec<Uuid> = tenants.iter().copied().collect();
    for chunk in ids.chunks(sql::CHUNK) {
        script.push(
            format!(
                "SELECT {tenant_part} AS part, id, event_seq, slug, webhook_url FROM tenant WHERE id IN {}",
                sql::tuples(1, chunk.len())
            ),
            chunk.iter().map(|id| (*id).into()).collect(),
        );
    }
    // The id `AUTOINCREMENT` would give next comes after both.
    script.push(
        format!(
            "SELECT {last_part} AS part, MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'event'), 0), \
             COALESCE((SELECT MAX(id) FROM event), 0)) AS last_id"
        ),
        Vec::new(),
    );
}

/// [`append_batch`] on SQLite from what the batch read beforehand ([`Known`]): the tenants'
/// counters move and the events go in `script` with their ids and numbers given, so nothing has to
/// come back from the database. Pushes the same delivery jobs onto `jobs`.
pub(crate) fn append_in_script(
    script: &mut Script,
    new: Vec<NewEvent>,
    mut known: Known,
    at: DateTime<Utc>,
    jobs: &mut Vec<job::ActiveModel>,
) -> Result<Vec<AppendedEvent>, StoreError> {
    for chunk in per_tenant(&new).chunks(sql::CHUNK) {
        let (bump, values) = bump_counters(chunk);
        script.push(bump, values);
    }
    let prepared = prepare(new, &mut known.tenants, at)?;
    let mut models = Vec::with_capacity(prepared.len());
    let mut out = Vec::with_capacity(prepared.len());
    for (id, mut p) in (known.last_id + 1..).zip(prepared) {
        p.model.id = Set(id);
        let appended = AppendedEvent { id, seq: p.seq, tenant_id: p.tenant_id, payload: p.payload };
        // In event order, as `append_batch` makes them.
        deliver(&appended, p.delivery, p.message_id, at, jobs);
        models.push(p.model);
        out.push(appended);
    }
    script.insert_models(models)?;
    Ok(out)
}

/// A batch's tenant as its events need it.
pub(crate) struct EventTenant {
    /// The number of its next event, where it is numbered in the transaction (SQLite).
    next: Option<i64>,
    slug: String,
    /// Whether a webhook delivers its events.
    webhook: bool,
}

impl EventTenant {
    fn read(row: &QueryResult, next: Option<i64>) -> Result<Self, StoreError> {
        let webhook: Option<String> = row.try_get("", "webhook_url")?;
        Ok(Self { next, slug: row.try_get("", "slug")?, webhook: webhook.is_some() })
    }

    /// A tenant's slug and webhook from a row with its `slug` and `webhook_url`, for events
    /// numbered after commit ([`append_batch_read`]).
    pub(crate) fn unnumbered(row: &QueryResult) -> Result<Self, StoreError> {
        Self::read(row, None)
    }
}

/// Each tenant of `new` with how many events it has, in tenant order.
fn per_tenant(new: &[NewEvent]) -> Vec<(Uuid, i64)> {
    let mut per_tenant: BTreeMap<Uuid, i64> = BTreeMap::new();
    for e in new {
        *per_tenant.entry(e.tenant_id).or_default() += 1;
    }
    per_tenant.into_iter().collect()
}

/// `UPDATE tenant` moving each tenant's counter (`$1, $3, …`) on by its count (`$2, $4, …`).
fn bump_counters(chunk: &[(Uuid, i64)]) -> (String, Vec<sea_orm::Value>) {
    let cases: String = (0..chunk.len()).map(|i| format!(" WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect();
    let ids = (0..chunk.len()).map(|i| format!("${}", 2 * i + 1)).collect::<Vec<_>>().join(", ");
    (
        format!("UPDATE tenant SET event_seq = event_seq + CASE id{cases} END WHERE id IN ({ids})"),
        chunk.iter().flat_map(|(tenant, n)| [(*tenant).into(), (*n).into()]).collect(),
    )
}

/// An event's row to write, and what its delivery needs.
struct Prepared {
    model: event::ActiveModel,
    tenant_id: Uuid,
    seq: Option<i64>,
    payload: Value,
    /// The delivery's ordering key, when the tenant's webhook delivers it.
    delivery: Option<String>,
    message_id: Option<Uuid>,
}

/// Numbers (where `tenants` count) and words each event, in the order given.
fn prepare(
    new: Vec<NewEvent>,
    tenants: &mut HashMap<Uuid, EventTenant>,
    at: DateTime<Utc>,
) -> Result<Vec<Prepared>, StoreError> {
    let mut prepared = Vec::with_capacity(new.len());
    for e in new {
        let tenant = tenants.get_mut(&e.tenant_id).ok_or(StoreError::NotFound)?;
        let seq = tenant.next;
        tenant.next = seq.map(|n| n + 1);
        let event_type = e.body.name();
        let message_id = e.body.message_id();
        let payload = payload(e.body, &tenant.slug, at)?;
        let model = event::ActiveModel {
            tenant_id: Set(e.tenant_id),
            message_id: Set(message_id),
            seq: Set(seq),
            event_type: Set(event_type.to_owned()),
            payload: Set(payload.clone()),
            created_at: Set(at),
            ..Default::default()
        };
        let delivery = e.ordering.filter(|_| tenant.webhook);
        prepared.push(Prepared { model, tenant_id: e.tenant_id, seq, payload, delivery, message_id });
    }
    Ok(prepared)
}

/// Pushes the delivery job of an event whose tenant's webhook delivers it.
fn deliver(
    e: &AppendedEvent,
    delivery: Option<String>,
    message_id: Option<Uuid>,
    at: DateTime<Utc>,
    jobs: &mut Vec<job::ActiveModel>,
) {
    if let Some(key) = delivery {
        let mut job = job_model(new_id(), e.tenant_id, &key, Work::Webhook { event_id: e.id }, at);
        // So a text's page finds the deliveries of its events.
        job.message_id = Set(message_id);
        jobs.push(job);
    }
}

/// The `evt_…` id inside a payload, unique to each event.
fn payload_id(payload: &Value) -> String {
    payload["id"].as_str().unwrap_or_default().to_owned()
}

/// True when events are written unnumbered and numbered after commit (PostgreSQL); false when the
/// writer numbers them in its own transaction (SQLite, one writer at a time).
pub(crate) fn numbers_after_commit(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres
}

/// An event the sequencer numbered.
#[derive(Debug, Clone)]
pub struct NumberedEvent {
    pub tenant_id: Uuid,
    pub seq: i64,
    pub payload: Value,
}

/// Events numbered per tenant per sequencer transaction, at most.
const NUMBER_AT_ONCE: i64 = 2_000;

impl crate::Store {
    /// Numbers every committed, unnumbered event (PostgreSQL), tenant by tenant, in the order they
    /// were written, and returns them; nothing on SQLite, whose events are numbered as written.
    ///
    /// Each tenant's numbering runs under the tenant row's lock, from the counter up, in a statement
    /// that starts after the lock is taken: two sequencers (two instances) take turns, and the
    /// second sees what the first numbered. An event commits unnumbered and is numbered only by a
    /// later transaction, so no reader can see a number and later find a smaller one appear. Events
    /// of a process that died after committing are numbered by the next run, of any instance.
    pub async fn number_events(&self) -> Result<Vec<NumberedEvent>, StoreError> {
        if !self.numbers_after_commit() {
            return Ok(Vec::new());
        }
        let pending = sql::query(self.db(), "SELECT DISTINCT tenant_id FROM event WHERE seq IS NULL", vec![]).await?;
        let mut out = Vec::new();
        for row in pending {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            loop {
                let numbered = self.number_tenant_events(tenant).await?;
                let done = i64::try_from(numbered.len()).unwrap_or(i64::MAX) < NUMBER_AT_ONCE;
                out.extend(numbered);
                if done {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn number_tenant_events(&self, tenant: Uuid) -> Result<Vec<NumberedEvent>, StoreError> {
        let txn = self.db().begin().await?;
        let rows =
            sql::query(&txn, "SELECT event_seq FROM tenant WHERE id = $1 FOR NO KEY UPDATE", vec![tenant.into()])
                .await?;
        let last: i64 = rows.first().ok_or(StoreError::NotFound)?.try_get("", "event_seq")?;
        // Numbers the events and moves the counter to the last of them in one statement (one
        // round trip, not two); its snapshot is taken after the lock, so it sees every event an
        // earlier holder numbered. An empty numbering leaves the counter as it was.
        let rows = sql::query(
            &txn,
            "WITH todo AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM event \
               WHERE tenant_id = $1 AND seq IS NULL ORDER BY id LIMIT $3), \
             numbered AS (UPDATE event SET seq = $2 + todo.n FROM todo \
               WHERE event.id = todo.id AND event.seq IS NULL RETURNING event.seq, event.payload), \
             counter AS (UPDATE tenant SET event_seq = (SELECT max(seq) FROM numbered) \
               WHERE id = $1 AND EXISTS (SELECT 1 FROM numbered)) \
             SELECT seq, payload FROM numbered",
            vec![tenant.into(), last.into(), NUMBER_AT_ONCE.into()],
        )
        .await?;
        let mut numbered = rows
            .iter()
            .map(|r| {
                Ok(NumberedEvent { tenant_id: tenant, seq: r.try_get("", "seq")?, payload: r.try_get("", "payload")? })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        numbered.sort_by_key(|e| e.seq);
        txn.commit().await?;
        Ok(numbered)
    }
}

/// An event's body as streams and PBX webhooks receive it: the [`Event`] serialized. Its `id` is
/// what PBXs deduplicate on (`webhook-id`): stable across retries, unique across tenants.
fn payload(body: EventBody, slug: &str, at: DateTime<Utc>) -> Result<Value, StoreError> {
    let event = Event { id: format!("evt_{}", new_id().simple()), tenant: slug.to_owned(), created_at: at, body };
    serde_json::to_value(event).map_err(StoreError::json)
}

/// What a job works on: each kind of job with exactly the ids it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Post this event to the tenant's PBX.
    Webhook { event_id: i64 },
    /// Send this text through its provider.
    Send { message_id: Uuid },
    /// Fetch this attachment.
    Media { media_id: Uuid },
    /// Deliver this inbound text to this extension's phone by SIP MESSAGE.
    Sip { message_id: Uuid, extension_id: Uuid },
    /// Email this inbound text to this extension, unless someone saw it meanwhile.
    Email { message_id: Uuid, extension_id: Uuid },
}

/// A job row's ids, as stored.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Columns {
    pub event_id: Option<i64>,
    pub message_id: Option<Uuid>,
    pub media_id: Option<Uuid>,
    pub extension_id: Option<Uuid>,
}

impl Work {
    /// The job's kind.
    pub fn kind(self) -> JobKind {
        match self {
            Self::Webhook { .. } => JobKind::WebhookDelivery,
            Self::Send { .. } => JobKind::ProviderSend,
            Self::Media { .. } => JobKind::MediaFetch,
            Self::Sip { .. } => JobKind::SipDelivery,
            Self::Email { .. } => JobKind::EmailFallback,
        }
    }

    /// The stored row's ids.
    pub(crate) fn columns(self) -> Columns {
        match self {
            Self::Webhook { event_id } => Columns { event_id: Some(event_id), ..Columns::default() },
            Self::Send { message_id } => Columns { message_id: Some(message_id), ..Columns::default() },
            Self::Media { media_id } => Columns { media_id: Some(media_id), ..Columns::default() },
            Self::Sip { message_id, extension_id } | Self::Email { message_id, extension_id } => {
                Columns { message_id: Some(message_id), extension_id: Some(extension_id), ..Columns::default() }
            }
        }
    }

    /// Reads a stored row's kind and ids back; `None` when the row lacks an id its kind needs.
    pub(crate) fn from_columns(kind: JobKind, c: Columns) -> Option<Self> {
        Some(match kind {
            JobKind::WebhookDelivery => Self::Webhook { event_id: c.event_id? },
            JobKind::ProviderSend => Self::Send { message_id: c.message_id? },
            JobKind::MediaFetch => Self::Media { media_id: c.media_id? },
            JobKind::SipDelivery => Self::Sip { message_id: c.message_id?, extension_id: c.extension_id? },
            JobKind::EmailFallback => Self::Email { message_id: c.message_id?, extension_id: c.extension_id? },
        })
    }

    /// The event a webhook delivery carries.
    pub fn event_id(self) -> Option<i64> {
        self.columns().event_id
    }

    /// The text a send (or a SIP delivery, or an email) is for.
    pub fn message_id(self) -> Option<Uuid> {
        self.columns().message_id
    }

    /// The attachment a media fetch is for.
    pub fn media_id(self) -> Option<Uuid> {
        self.columns().media_id
    }
}

/// Writes a pending job, due now.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    tenant_id: Uuid,
    ordering_key: &str,
    work: Work,
    at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id = new_id();
    job_model(id, tenant_id, ordering_key, work, at).insert(db).await?;
    Ok(id)
}

/// A pending job, due now, not yet written.
pub(crate) fn job_model(
    id: Uuid,
    tenant_id: Uuid,
    ordering_key: &str,
    work: Work,
    at: DateTime<Utc>,
) -> job::ActiveModel {
    let Columns { event_id, message_id, media_id, extension_id } = work.columns();
    job::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        kind: Set(work.kind().as_str().to_owned()),
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
        replay_of: Set(None),
        extension_id: Set(extension_id),
        behind: Set(false),
    }
}
