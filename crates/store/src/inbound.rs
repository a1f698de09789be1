//! Recording inbound texts: message, conversation and unread counts, opt-out change, event,
//! delivery jobs, queued replies and media fetch jobs — all in one transaction, so a text is
//! either wholly stored (and will be delivered) or not at all.
//!
//! Texts are written in batches (group commit, see [`crate::group`]): the texts waiting when a
//! transaction starts share it, with one statement per table rather than per text, and each
//! caller is answered only after that transaction commits.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, Set, Value as Sql};
use serde_json::Value;
use switchboard_core::EventBody;
use switchboard_core::event::{MediaLink, MessageReceived, Named};
use switchboard_core::routing::{OptOutChange, Reply, RouteDecision};
use switchboard_core::segments;
use switchboard_core::status::{Direction, MessageStatus, Origin};
use uuid::Uuid;

use crate::entity::{conversation, job, media, message};
use crate::events::{self, AppendedEvent, NewEvent, Work};
use crate::outbound::{NewOutbound, insert_outbound, is_opted_out};
use crate::{Store, StoreError, new_id, now, sql};

/// One attachment as the provider described it.
#[derive(Debug, Clone)]
pub struct MediaIn {
    pub url: String,
    pub file_name: Option<String>,
    pub mime_type: String,
    pub size: Option<u64>,
}

/// An inbound text, resolved to its tenant and number.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub tenant_id: Uuid,
    /// The provider's id (`mdr2-…`), the deduplication key.
    pub provider_message_id: String,
    /// The tenant's number, E.164.
    pub number: String,
    /// The sender: E.164 or a short code.
    pub remote: String,
    /// True when the sender can be texted back (a number, not a short code).
    pub remote_reachable: bool,
    pub body: Option<String>,
    pub media: Vec<MediaIn>,
    /// Attachments the callback listed beyond those kept (`media_max_per_text`).
    pub media_dropped: usize,
    /// The provider's catch-all company for senders that match no contact.
    pub catch_all_company_id: Option<Uuid>,
    /// `<public url>/api/v1/media`, for the media links in the event.
    pub media_base_url: String,
}

/// What recording a text did.
#[derive(Debug, Clone)]
pub enum InboundOutcome {
    /// Stored now, with its event.
    Stored { message_id: Uuid, event: AppendedEvent, decision: RouteDecision },
    /// Already stored by an earlier copy; nothing was written.
    Duplicate { message_id: Uuid },
}

/// Routes a text, given when its conversation last got an auto-reply. It may run more than once
/// (when a batch is retried text by text), so it must not have side effects.
pub(crate) type Decide = Box<dyn Fn(Option<DateTime<Utc>>) -> RouteDecision + Send + Sync>;

/// A text waiting for a batch.
pub(crate) struct Item {
    pub text: InboundText,
    pub decide: Decide,
}

impl Store {
    /// Records an inbound text exactly once and answers when it is durable. `decide` routes it,
    /// given when this conversation last got an auto-reply; it runs while the conversation is
    /// locked, so two texts from one sender cannot both trigger an auto-reply, and two copies of
    /// one text cannot both be stored.
    pub async fn record_inbound<F>(&self, text: InboundText, decide: F) -> Result<InboundOutcome, StoreError>
    where
        F: Fn(Option<DateTime<Utc>>) -> RouteDecision + Send + Sync + 'static,
    {
        self.inbound.submit(Item { text, decide: Box::new(decide) }).await
    }

    /// Writes `texts` as one batch, as a lane would (for tests of the batch itself: a bad text
    /// among good ones, copies in one batch). One outcome per text, in order.
    #[doc(hidden)]
    pub async fn record_inbound_batch<F>(&self, texts: Vec<(InboundText, F)>) -> Vec<Result<InboundOutcome, StoreError>>
    where
        F: Fn(Option<DateTime<Utc>>) -> RouteDecision + Send + Sync + 'static,
    {
        let items: Vec<Item> =
            texts.into_iter().map(|(text, decide)| Item { text, decide: Box::new(decide) }).collect();
        crate::group::write(self.db(), &items).await
    }
}

type ConvKey = (Uuid, String, String);

fn conv_key(text: &InboundText) -> ConvKey {
    (text.tenant_id, text.number.clone(), text.remote.clone())
}

/// Contacts (by tenant and phone) and companies (by id) the batch's senders name.
struct Directory {
    contacts: HashMap<(Uuid, String), (Uuid, String, Option<Uuid>)>,
    companies: HashMap<Uuid, (Uuid, String)>,
}

impl Directory {
    async fn load(db: &impl ConnectionTrait, items: &[Item]) -> Result<Self, StoreError> {
        let pairs: BTreeSet<(Uuid, &str)> = items.iter().map(|i| (i.text.tenant_id, i.text.remote.as_str())).collect();
        let columns = "c.id, c.tenant_id, c.phone, c.name, c.company_id";
        let rows = if db.get_database_backend() == DbBackend::Postgres {
            let (tenants, phones): (Vec<Uuid>, Vec<String>) = pairs.iter().map(|(t, p)| (*t, (*p).to_owned())).unzip();
            sql::query(
                db,
                &format!(
                    "SELECT {columns} FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, phone) CROSS JOIN LATERAL \
                     (SELECT * FROM contact WHERE tenant_id = k.tenant_id AND phone = k.phone LIMIT 1) c"
                ),
                vec![tenants.into(), phones.into()],
            )
            .await?
        } else {
            let mut values: Vec<Sql> = Vec::with_capacity(pairs.len() * 2);
            for (t, phone) in &pairs {
                values.push((*t).into());
                values.push((*phone).into());
            }
            sql::query(
                db,
                &format!(
                    "SELECT {columns} FROM (VALUES {}) AS k JOIN contact c ON c.tenant_id = k.column1 AND c.phone = k.column2",
                    sql::tuples(pairs.len(), 2)
                ),
                values,
            )
            .await?
        };
        let mut contacts = HashMap::new();
        for r in &rows {
            let tenant: Uuid = r.try_get("", "tenant_id")?;
            contacts.insert(
                (tenant, r.try_get::<String>("", "phone")?),
                (r.try_get("", "id")?, r.try_get("", "name")?, r.try_get("", "company_id")?),
            );
        }
        let ids: BTreeSet<Uuid> = contacts
            .values()
            .filter_map(|c| c.2)
            .chain(items.iter().filter_map(|i| i.text.catch_all_company_id))
            .collect();
        let mut companies = HashMap::new();
        if !ids.is_empty() {
            let rows = sql::query(
                db,
                &format!("SELECT id, tenant_id, name FROM company WHERE id IN {}", sql::tuples(1, ids.len())),
                ids.iter().map(|id| (*id).into()).collect(),
            )
            .await?;
            for r in &rows {
                companies.insert(r.try_get("", "id")?, (r.try_get("", "tenant_id")?, r.try_get("", "name")?));
            }
        }
        Ok(Self { contacts, companies })
    }

    /// The sender's contact and company (the contact's, else the catch-all).
    fn named(&self, text: &InboundText) -> (Option<Named>, Option<Named>) {
        let found = self.contacts.get(&(text.tenant_id, text.remote.clone()));
        let company_id = found.and_then(|c| c.2).or(text.catch_all_company_id);
        let company = company_id
            .and_then(|id| self.companies.get(&id).map(|c| (id, c)))
            .filter(|(_, (tenant, _))| *tenant == text.tenant_id);
        let contact = found.map(|c| Named { id: c.0, name: c.1.clone() });
        (contact, company.map(|(id, c)| Named { id, name: c.1.clone() }))
    }
}

/// Creates the batch's missing conversations, then locks all of them (in key order, so two
/// batches never wait on each other in a cycle) and returns them by key.
async fn conversations(
    db: &impl ConnectionTrait,
    items: &[Item],
    at: DateTime<Utc>,
) -> Result<HashMap<ConvKey, conversation::Model>, StoreError> {
    let keys: BTreeSet<ConvKey> = items.iter().map(|i| conv_key(&i.text)).collect();
    let rows = keys
        .iter()
        .map(|(tenant, number, remote)| {
            vec![new_id().into(), (*tenant).into(), number.clone().into(), remote.clone().into(), at.into(), at.into()]
        })
        .collect();
    sql::insert_rows(
        db,
        "INSERT INTO conversation (id, tenant_id, number, remote, last_message_at, created_at)",
        "ON CONFLICT (tenant_id, number, remote) DO NOTHING",
        rows,
    )
    .await?;
    // One probe of `ux_conversation_pair` per key, whatever the statistics say (a list of row
    // values was a scan of the number's conversations on PostgreSQL and of the table on SQLite).
    // PostgreSQL locks each row as it is found, in key order (`keys` is sorted; SQLite's write
    // lock covers everything): batches, the only writers that lock several conversations, take
    // them in one order.
    let select = if db.get_database_backend() == DbBackend::Postgres {
        let mut tenants = Vec::with_capacity(keys.len());
        let mut numbers = Vec::with_capacity(keys.len());
        let mut remotes = Vec::with_capacity(keys.len());
        for (tenant, number, remote) in &keys {
            tenants.push(*tenant);
            numbers.push(number.clone());
            remotes.push(remote.clone());
        }
        sql::statement(
            DbBackend::Postgres,
            "SELECT c.* FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS k(tenant_id, number, remote, n) \
             CROSS JOIN LATERAL (SELECT * FROM conversation WHERE tenant_id = k.tenant_id AND number = k.number \
             AND remote = k.remote LIMIT 1 FOR UPDATE) c ORDER BY k.n",
            vec![tenants.into(), numbers.into(), remotes.into()],
        )
    } else {
        let mut values: Vec<Sql> = Vec::with_capacity(keys.len() * 3);
        for (tenant, number, remote) in &keys {
            values.extend([(*tenant).into(), number.clone().into(), remote.clone().into()]);
        }
        sql::statement(
            db.get_database_backend(),
            &format!(
                "SELECT c.* FROM (VALUES {}) AS k JOIN conversation c \
                 ON c.tenant_id = k.column1 AND c.number = k.column2 AND c.remote = k.column3",
                sql::tuples(keys.len(), 3)
            ),
            values,
        )
    };
    let rows = db.query_all_raw(select).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let c = conversation::Model::from_query_result(row, "")?;
        found.insert((c.tenant_id, c.number.clone(), c.remote.clone()), c);
    }
    Ok(found)
}

/// The inbound messages of the batch already stored, by tenant and provider id: ids are unique
/// per tenant only, so another tenant's text with the same id is no duplicate.
async fn stored(db: &impl ConnectionTrait, items: &[Item]) -> Result<HashMap<(Uuid, String), Uuid>, StoreError> {
    let keys: BTreeSet<(Uuid, &str)> =
        items.iter().map(|i| (i.text.tenant_id, i.text.provider_message_id.as_str())).collect();
    let rows = if db.get_database_backend() == DbBackend::Postgres {
        // One probe of `ux_message_provider_id_tenant` per key: as `IN (…)`, PostgreSQL planned it
        // (on statistics that lagged a burst) as a scan of every inbound message.
        let tenants: Vec<Uuid> = keys.iter().map(|(t, _)| *t).collect();
        let ids: Vec<String> = keys.iter().map(|(_, id)| (*id).to_owned()).collect();
        sql::query(
            db,
            "SELECT m.id, m.tenant_id, m.provider_message_id FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, id) \
             CROSS JOIN LATERAL (SELECT id, tenant_id, provider_message_id FROM message WHERE tenant_id = k.tenant_id \
             AND direction = 'inbound' AND provider_message_id = k.id LIMIT 1) m",
            vec![tenants.into(), ids.into()],
        )
        .await?
    } else {
        sql::query(
            db,
            &format!(
                "SELECT m.id, m.tenant_id, m.provider_message_id FROM (VALUES {}) AS k \
                 JOIN message m ON m.tenant_id = k.column1 AND m.direction = 'inbound' \
                 AND m.provider_message_id = k.column2",
                sql::tuples(keys.len(), 2)
            ),
            keys.iter().flat_map(|(t, id)| [(*t).into(), (*id).into()]).collect(),
        )
        .await?
    };
    rows.iter()
        .map(|r| Ok(((r.try_get("", "tenant_id")?, r.try_get("", "provider_message_id")?), r.try_get("", "id")?)))
        .collect()
}

/// A text's `message.received` event, appended once the batch's sequence numbers are known.
struct PendingEvent {
    item: usize,
    message_id: Uuid,
    decision: RouteDecision,
    event: NewEvent,
}

/// Everything the batch writes besides what the rare paths (opt-out changes, replies) write as
/// they go.
#[derive(Default)]
struct Writes {
    messages: Vec<message::ActiveModel>,
    media: Vec<media::ActiveModel>,
    jobs: Vec<job::ActiveModel>,
    /// (message, tenant, extension, remote)
    routed: Vec<(Uuid, Uuid, String, String)>,
    /// (conversation, extension) → texts to add to its unread count
    unread: BTreeMap<(Uuid, String), i32>,
    events: Vec<PendingEvent>,
}

/// Writes one batch in one transaction and returns each text's outcome, in order. Any error
/// rolls the whole batch back.
pub(crate) async fn record_batch(
    db: &DatabaseConnection,
    items: &[Item],
) -> Result<Vec<Option<InboundOutcome>>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let txn = crate::begin_write(db).await?;
    let mut convs = conversations(&txn, items, at).await?;
    let mut seen = stored(&txn, items).await?;
    let directory = Directory::load(&txn, items).await?;
    let mut changed: HashSet<Uuid> = HashSet::new();
    let mut outcomes: Vec<Option<InboundOutcome>> = Vec::with_capacity(items.len());
    let mut w = Writes::default();

    for (index, Item { text, decide }) in items.iter().enumerate() {
        let key = (text.tenant_id, text.provider_message_id.clone());
        if let Some(existing) = seen.get(&key) {
            outcomes.push(Some(InboundOutcome::Duplicate { message_id: *existing }));
            continue;
        }
        let conv = convs.get_mut(&conv_key(text)).ok_or(StoreError::NotFound)?;
        let decision = decide(conv.last_auto_reply_at);
        let ordering = events::ordering_key(&text.number, &text.remote);
        let (contact, company) = directory.named(text);
        let (contact_id, company_id) = (contact.as_ref().map(|c| c.id), company.as_ref().map(|c| c.id));
        let message_id = new_id();
        seen.insert(key, message_id);

        let mut links = Vec::with_capacity(text.media.len());
        for m in &text.media {
            let id = new_id();
            links.push(MediaLink {
                id,
                url: format!("{}/{id}", text.media_base_url),
                mime_type: m.mime_type.clone(),
                size: m.size,
                file_name: m.file_name.clone(),
            });
            w.media.push(media::ActiveModel {
                id: Set(id),
                tenant_id: Set(text.tenant_id),
                message_id: Set(message_id),
                source_url: Set(m.url.clone()),
                file_name: Set(m.file_name.clone()),
                mime_type: Set(m.mime_type.clone()),
                size: Set(m.size.and_then(|s| i64::try_from(s).ok()).unwrap_or(-1)),
                storage_path: Set(None),
                state: Set("pending".into()),
                created_at: Set(at),
            });
            let key = format!("media:{id}");
            w.jobs.push(events::job_model(new_id(), text.tenant_id, &key, Work::Media { media_id: id }, at));
        }
        let (encoding, segment_count) = segments::count(text.body.as_deref());
        w.messages.push(message::ActiveModel {
            id: Set(message_id),
            tenant_id: Set(text.tenant_id),
            direction: Set(Direction::Inbound.as_str().into()),
            number: Set(text.number.clone()),
            remote: Set(text.remote.clone()),
            body: Set(text.body.clone()),
            media: Set(
                serde_json::to_value(&links).map_err(|e| StoreError::Internal(sea_orm::DbErr::Json(e.to_string())))?
            ),
            segments: Set(i32::try_from(segment_count).unwrap_or(i32::MAX)),
            encoding: Set(encoding.code()),
            status: Set(MessageStatus::Received.as_str().into()),
            provider_message_id: Set(Some(text.provider_message_id.clone())),
            error_code: Set(None),
            // The record on the message of attachments not kept.
            error_message: Set((text.media_dropped > 0).then(|| {
                format!(
                    "{} attachments beyond the first {} were not kept (media_max_per_text)",
                    text.media_dropped,
                    text.media.len()
                )
            })),
            extensions: Set(Value::from(decision.destinations.clone())),
            sender_extension: Set(None),
            contact_id: Set(contact_id),
            company_id: Set(company_id),
            keyword: Set(decision.keyword.map(str::to_owned)),
            created_at: Set(at),
            updated_at: Set(at),
            origin: Set(Origin::Provider.as_str().into()),
        });
        for ext in &decision.destinations {
            *w.unread.entry((conv.id, ext.clone())).or_default() += 1;
            w.routed.push((message_id, text.tenant_id, ext.clone(), text.remote.clone()));
        }
        // The rare paths write as they go, in order, so a later text of the batch sees them.
        apply_opt_out(&txn, text, &decision, at).await?;
        let mut auto_replied = false;
        if text.remote_reachable && !decision.replies.is_empty() {
            let opted_out = is_opted_out(&txn, text.tenant_id, &text.remote, &text.number).await?;
            for reply in &decision.replies {
                let (origin, body) = match reply {
                    // Nothing but the HELP answer goes to a party that has opted out.
                    Reply::AutoReply { .. } if opted_out => continue,
                    Reply::AutoReply { body } => (Origin::AutoReply, body),
                    Reply::Help { body } => (Origin::HelpReply, body),
                };
                // Either kind starts the day in which the remote gets no other automatic reply.
                auto_replied = true;
                let reply_id = new_id();
                insert_outbound(
                    &txn,
                    NewOutbound {
                        id: reply_id,
                        tenant: text.tenant_id,
                        number: &text.number,
                        remote: &text.remote,
                        body: Some(body),
                        media_urls: &[],
                        sender_extension: None,
                        contact_id,
                        company_id,
                        origin,
                        at,
                    },
                )
                .await?;
                let job = Work::Send { message_id: reply_id };
                w.jobs.push(events::job_model(new_id(), text.tenant_id, &ordering, job, at));
            }
        }
        conv.last_message_id = Some(message_id);
        conv.last_message_at = at;
        if auto_replied {
            conv.last_auto_reply_at = Some(at);
        }
        changed.insert(conv.id);
        let received = MessageReceived {
            message_id,
            conversation_id: conv.id,
            number: text.number.clone(),
            from: text.remote.clone(),
            to: text.number.clone(),
            body: text.body.clone(),
            media: links,
            media_dropped: text.media_dropped,
            extensions: decision.destinations.clone(),
            contact,
            company,
            keyword: decision.keyword.map(str::to_owned),
        };
        let body = EventBody::MessageReceived(received);
        let event = NewEvent { tenant_id: text.tenant_id, body, ordering: Some(ordering) };
        w.events.push(PendingEvent { item: index, message_id, decision, event });
        outcomes.push(None);
    }

    let updated: Vec<&conversation::Model> = convs.values().filter(|c| changed.contains(&c.id)).collect();
    write_rows(&txn, w.messages, w.media, &w.routed, &w.unread, &updated).await?;
    let mut jobs = w.jobs;
    let (pending, new): (Vec<_>, Vec<_>) =
        w.events.into_iter().map(|p| ((p.item, p.message_id, p.decision), p.event)).unzip();
    let appended = events::append_batch(&txn, new, at, &mut jobs).await?;
    for ((index, message_id, decision), event) in pending.into_iter().zip(appended) {
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Some(InboundOutcome::Stored { message_id, event, decision });
        }
    }
    for chunk in chunks(jobs) {
        job::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(outcomes)
}

async fn apply_opt_out(
    db: &impl ConnectionTrait,
    text: &InboundText,
    decision: &RouteDecision,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match decision.opt_out {
        Some(OptOutChange::OptOut { all_numbers }) => {
            let scope = if all_numbers { "all".to_owned() } else { text.number.clone() };
            sql::execute(
                db,
                "INSERT INTO opt_out (id, tenant_id, scope, remote, keyword, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, remote, scope) DO NOTHING",
                vec![
                    new_id().into(),
                    text.tenant_id.into(),
                    scope.into(),
                    text.remote.clone().into(),
                    decision.keyword.unwrap_or("STOP").into(),
                    at.into(),
                ],
            )
            .await?;
        }
        Some(OptOutChange::OptIn) => {
            sql::execute(
                db,
                "DELETE FROM opt_out WHERE tenant_id = $1 AND remote = $2 AND (scope = $3 OR scope = 'all')",
                vec![text.tenant_id.into(), text.remote.clone().into(), text.number.clone().into()],
            )
            .await?;
        }
        None => {}
    }
    Ok(())
}

fn chunks<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(rows.len() / sql::CHUNK + 1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        out.push(rows.by_ref().take(sql::CHUNK).collect());
    }
    out
}

/// The batch's messages, media, routing rows, unread counts and conversation heads.
async fn write_rows(
    db: &impl ConnectionTrait,
    messages: Vec<message::ActiveModel>,
    media_rows: Vec<media::ActiveModel>,
    routed: &[(Uuid, Uuid, String, String)],
    unread: &BTreeMap<(Uuid, String), i32>,
    updated: &[&conversation::Model],
) -> Result<(), StoreError> {
    for chunk in chunks(messages) {
        message::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    for chunk in chunks(media_rows) {
        media::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    let rows = routed
        .iter()
        .map(|(message_id, tenant, ext, remote)| {
            vec![(*message_id).into(), (*tenant).into(), ext.clone().into(), remote.clone().into()]
        })
        .collect();
    sql::insert_rows(db, "INSERT INTO message_extension (message_id, tenant_id, extension, remote)", "", rows).await?;
    let rows = unread.iter().map(|((conv, ext), n)| vec![(*conv).into(), ext.clone().into(), (*n).into()]).collect();
    sql::insert_rows(
        db,
        "INSERT INTO conversation_unread (conversation_id, extension, unread)",
        "ON CONFLICT (conversation_id, extension) DO UPDATE SET unread = conversation_unread.unread + excluded.unread",
        rows,
    )
    .await?;
    // The rows exist (and are locked): an upsert on the id is a many-row update both databases accept.
    let rows = updated
        .iter()
        .map(|c| {
            vec![
                c.id.into(),
                c.tenant_id.into(),
                c.number.clone().into(),
                c.remote.clone().into(),
                c.last_message_id.into(),
                c.last_message_at.into(),
                c.created_at.into(),
                c.last_auto_reply_at.into(),
            ]
        })
        .collect();
    sql::insert_rows(
        db,
        "INSERT INTO conversation (id, tenant_id, number, remote, last_message_id, last_message_at, created_at, \
         last_auto_reply_at)",
        "ON CONFLICT (id) DO UPDATE SET last_message_id = excluded.last_message_id, \
         last_message_at = excluded.last_message_at, last_auto_reply_at = excluded.last_auto_reply_at",
        rows,
    )
    .await?;
    Ok(())
}
