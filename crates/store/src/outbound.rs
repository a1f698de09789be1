//! Queuing an outbound text: validation, sender resolution, the opt-out check, idempotency, and
//! message + conversation + event + send job in one transaction. The dispatcher sends it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use switchboard_core::status::{Direction, MessageStatus, Origin};
use switchboard_core::validation::web_url;
use switchboard_core::{E164, FieldErrors, segments};
use uuid::Uuid;

use crate::entity::{extension, message, number, provider};
use crate::events::{self, Work};
use crate::{Store, StoreError, new_id, now, sql};

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
/// Longest body accepted (Flowroute documents no limit; this is 20+ segments).
pub const MAX_BODY_CHARS: usize = 5000;

/// A picture a person attached to a text, already checked and written under the media directory
/// (at `storage_path`) by the caller; Flowroute fetches it from `url`, which carries `token`.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: Uuid,
    pub token: String,
    pub url: String,
    pub mime_type: String,
    pub size: u64,
    pub file_name: Option<String>,
    pub storage_path: String,
}

/// A text to queue, as its sender gave it (checked by the store).
#[derive(Debug, Clone, Default)]
pub struct SendInput {
    /// The recipient, E.164 (US and Canada only).
    pub to: String,
    pub body: Option<String>,
    /// The number to send from; an extension may omit it (its own number is used).
    pub from: Option<String>,
    /// https links to attach, at most 10.
    pub media_urls: Vec<String>,
    /// Pictures Switchboard keeps and offers to Flowroute itself (the portal's uploads).
    pub attachments: Vec<Attachment>,
    /// Sent by a program rather than a person in a conversation (a reminder, a campaign): held
    /// to quiet hours.
    pub automated: bool,
}

/// Who is sending.
#[derive(Debug, Clone)]
pub enum Sender {
    /// An extension: may send only from numbers it is a sender of.
    Extension(String),
    /// A tenant admin: must name `from`, any number of the tenant.
    Admin(String),
}

/// A text just queued (or the one an earlier request with the same idempotency key queued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: Uuid,
    pub status: String,
    pub from: String,
    pub to: String,
    pub segments: i32,
}

fn refused(code: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Refused { code, detail: detail.into() }
}

fn request_hash(from: &str, to: &str, body: Option<&str>, media: &[String]) -> String {
    crate::crypto::sha256_hex(&json!([from, to, body, media]).to_string())
}

/// True when `remote` opted out of `number` (or of every number of the tenant).
pub(crate) async fn is_opted_out(
    db: &impl sea_orm::ConnectionTrait,
    tenant: Uuid,
    remote: &str,
    number: &str,
) -> Result<bool, StoreError> {
    let rows = sql::query(
        db,
        "SELECT 1 AS x FROM opt_out WHERE tenant_id = $1 AND remote = $2 AND (scope = $3 OR scope = 'all')",
        vec![tenant.into(), remote.into(), number.into()],
    )
    .await?;
    Ok(!rows.is_empty())
}

/// An outbound text to write: what differs between a text an extension sends and a reply
/// Switchboard sends itself.
pub(crate) struct NewOutbound<'a> {
    pub id: Uuid,
    pub tenant: Uuid,
    pub number: &'a str,
    pub remote: &'a str,
    pub body: Option<&'a str>,
    pub media_urls: &'a [String],
    pub attachments: &'a [Attachment],
    pub sender_extension: Option<&'a str>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    /// `extension`, `admin`, `auto_reply` or `help_reply`.
    pub origin: Origin,
    /// Held to quiet hours (auto-replies are, whatever this says).
    pub automated: bool,
    pub at: DateTime<Utc>,
}

/// Writes a `queued` outbound message.
pub(crate) async fn insert_outbound(
    db: &impl sea_orm::ConnectionTrait,
    m: NewOutbound<'_>,
) -> Result<message::Model, StoreError> {
    let (encoding, segment_count) = segments::count(m.body);
    Ok(message::ActiveModel {
        id: Set(m.id),
        tenant_id: Set(m.tenant),
        direction: Set(Direction::Outbound.as_str().into()),
        number: Set(m.number.to_owned()),
        remote: Set(m.remote.to_owned()),
        body: Set(m.body.map(str::to_owned)),
        media: Set(json!(
            m.media_urls
                .iter()
                .map(|u| json!({"url": u}))
                .chain(m.attachments.iter().map(|a| json!({
                    "id": a.id, "url": a.url, "mime_type": a.mime_type, "size": a.size, "file_name": a.file_name,
                })))
                .collect::<Vec<_>>()
        )),
        segments: Set(i32::try_from(segment_count).unwrap_or(i32::MAX)),
        encoding: Set(encoding.code()),
        status: Set(MessageStatus::Queued.as_str().into()),
        provider_message_id: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        extensions: Set(json!([])),
        sender_extension: Set(m.sender_extension.map(str::to_owned)),
        contact_id: Set(m.contact_id),
        company_id: Set(m.company_id),
        keyword: Set(None),
        created_at: Set(m.at),
        updated_at: Set(m.at),
        origin: Set(m.origin.as_str().to_owned()),
        automated: Set(m.automated),
    }
    .insert(db)
    .await?)
}

fn queued(m: &message::Model) -> Queued {
    Queued { id: m.id, status: m.status.clone(), from: m.number.clone(), to: m.remote.clone(), segments: m.segments }
}

/// The number a text goes out from, read in the caller's transaction `db` (never through the pool:
/// a read beside the transaction would race it and, with every connection held by such
/// transactions, wait for ever).
async fn sender_number(
    db: &impl sea_orm::ConnectionTrait,
    tenant: Uuid,
    sender: &Sender,
    from: Option<&E164>,
) -> Result<number::Model, StoreError> {
    let ext = match sender {
        Sender::Extension(e) => {
            let found = extension::Entity::find()
                .filter(extension::Column::TenantId.eq(tenant))
                .filter(extension::Column::Extension.eq(e.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| refused("sender_not_allowed", "this extension no longer exists"))?;
            if !found.enabled {
                return Err(refused("extension_disabled", format!("extension '{e}' is disabled and may not send")));
            }
            Some(found)
        }
        Sender::Admin(_) => None,
    };
    let may_send = |n: &number::Model| {
        let ext = ext.clone();
        let n = n.clone();
        async move {
            let Some(ext) = ext else { return Ok::<bool, StoreError>(true) };
            let rows = sql::query(
                db,
                "SELECT 1 AS x FROM number_sender WHERE number_id = $1 AND extension_id = $2",
                vec![n.id.into(), ext.id.into()],
            )
            .await?;
            Ok(!rows.is_empty())
        }
    };
    if let Some(from) = from {
        let n = number::Entity::find()
            .filter(number::Column::TenantId.eq(tenant))
            .filter(number::Column::E164.eq(from.as_str()))
            .one(db)
            .await?
            .ok_or_else(|| refused("sender_not_allowed", format!("{from} is not a number of this tenant")))?;
        if !may_send(&n).await? {
            return Err(refused("sender_not_allowed", format!("this extension may not send from {from}")));
        }
        return Ok(n);
    }
    let Some(ext) = &ext else {
        return Err(StoreError::invalid("from", "a tenant admin must name the number to send from"));
    };
    let own = sql::query(
        db,
        "SELECT n.id FROM number n JOIN number_sender s ON s.number_id = n.id \
         WHERE n.tenant_id = $1 AND s.extension_id = $2 ORDER BY n.id LIMIT 1",
        vec![tenant.into(), ext.id.into()],
    )
    .await?;
    if let Some(row) = own.first() {
        let id: Uuid = row.try_get("", "id")?;
        return number::Entity::find_by_id(id).one(db).await?.ok_or(StoreError::NotFound);
    }
    // No number of its own: the first provider's default number.
    let providers = provider::Entity::find()
        .filter(provider::Column::TenantId.eq(tenant))
        .filter(provider::Column::DefaultDid.is_not_null())
        .order_by_asc(provider::Column::Id)
        .all(db)
        .await?;
    for p in providers {
        if let Some(did) = p.default_did
            && let Some(n) = number::Entity::find()
                .filter(number::Column::TenantId.eq(tenant))
                .filter(number::Column::E164.eq(did))
                .one(db)
                .await?
        {
            return Ok(n);
        }
    }
    Err(refused(
        "sender_not_allowed",
        format!("extension '{}' is a sender of no number, and no provider has a default number", ext.extension),
    ))
}

impl Store {
    /// Queues a text and returns it with its `queued` event. With an idempotency key already used
    /// for the same request within 24 hours, answers the first message again (with no event) and
    /// queues nothing.
    pub async fn queue_outbound(
        &self,
        tenant: Uuid,
        sender: Sender,
        input: SendInput,
        idempotency_key: Option<&str>,
    ) -> Result<(Queued, Option<events::AppendedEvent>), StoreError> {
        let send = checked(&input, idempotency_key)?;
        let at = now();
        let txn = self.write_txn().await?;
        let n = sender_number(&txn, tenant, &sender, send.from.as_ref()).await?;
        let once = idempotency_key.map(|key| Idempotency {
            key,
            principal: sender.principal(),
            hash: request_hash(&n.e164, send.to.as_str(), send.body.as_deref(), &input.media_urls),
        });
        if let Some(once) = &once
            && let Some(earlier) = once.earlier(&txn, tenant, at).await?
        {
            return Ok((queued(&earlier), None));
        }
        if is_opted_out(&txn, tenant, send.to.as_str(), &n.e164).await? {
            return Err(refused("opted_out", format!("{} has opted out of texts from {}", send.to, n.e164)));
        }
        let sender_ext = match &sender {
            Sender::Extension(e) => Some(e.as_str()),
            Sender::Admin(_) => None,
        };
        let m = insert_outbound(
            &txn,
            NewOutbound {
                id: new_id(),
                tenant,
                number: &n.e164,
                remote: send.to.as_str(),
                body: send.body.as_deref(),
                media_urls: &input.media_urls,
                attachments: &input.attachments,
                sender_extension: sender_ext,
                contact_id: None,
                company_id: None,
                origin: if sender_ext.is_some() { Origin::Extension } else { Origin::Admin },
                automated: input.automated,
                at,
            },
        )
        .await?;
        if let Some(once) = &once
            && !once.claim(&txn, tenant, m.id, at).await?
        {
            // A concurrent request with the same key won; answer what it queued.
            drop(txn);
            return Box::pin(self.queue_outbound(tenant, sender, input, idempotency_key)).await;
        }
        insert_attachments(&txn, tenant, m.id, &input.attachments, at).await?;
        let event = enqueue_sent(&txn, tenant, &m, at).await?;
        txn.commit().await?;
        Ok((queued(&m), Some(event)))
    }
}

/// A send request, checked: the recipient in the US or Canada, `from` when named, the body.
struct Checked {
    to: E164,
    from: Option<E164>,
    body: Option<String>,
}

/// Checks a send request field by field, then its recipient.
fn checked(input: &SendInput, idempotency_key: Option<&str>) -> Result<Checked, StoreError> {
    let mut errors = FieldErrors::new();
    let to = errors.check("to", E164::parse(&input.to));
    let from = match &input.from {
        Some(f) => errors.check("from", E164::parse(f)),
        None => None,
    };
    let body = input.body.clone().filter(|b| !b.is_empty());
    if body.is_none() && input.media_urls.is_empty() && input.attachments.is_empty() {
        errors.add("body", "a text needs a body or media_urls");
    }
    if let Some(b) = &body
        && b.chars().count() > MAX_BODY_CHARS
    {
        errors.add("body", format!("must be at most {MAX_BODY_CHARS} characters"));
    } else if body.as_deref().is_some_and(|b| b.contains('\0')) {
        errors.add("body", "must not contain NUL characters");
    }
    if input.media_urls.len() > 10 {
        errors.add("media_urls", "at most 10 links");
    }
    for (i, u) in input.media_urls.iter().enumerate() {
        match web_url(u, false) {
            Ok(url) if url.scheme() == "https" => {}
            Ok(_) => errors.add(format!("media_urls[{i}]"), "must use https"),
            Err(e) => errors.add(format!("media_urls[{i}]"), e),
        }
    }
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_control()))
    {
        errors.add("Idempotency-Key", "must be 1 to 255 printable characters");
    }
    errors.finish().map_err(StoreError::Invalid)?;
    let to = to.ok_or(StoreError::NotFound)?;
    if !to.is_nanp() {
        return Err(refused(
            "unsupported_destination",
            format!("{to} is outside the US and Canada, where Flowroute delivers"),
        ));
    }
    Ok(Checked { to, from, body })
}

impl Sender {
    /// Who an idempotency key belongs to.
    fn principal(&self) -> String {
        match self {
            Sender::Extension(e) => format!("ext:{e}"),
            Sender::Admin(sub) => format!("admin:{sub}"),
        }
    }
}

/// A send's `Idempotency-Key`: kept per sender for [`IDEMPOTENCY_WINDOW`] with the hash of the
/// request it first came with.
struct Idempotency<'a> {
    key: &'a str,
    principal: String,
    hash: String,
}

impl Idempotency<'_> {
    /// The text this key already queued, if any (expired keys are forgotten first); the key with
    /// a different request is `idempotency_conflict`.
    async fn earlier(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<message::Model>, StoreError> {
        sql::execute(
            txn,
            "DELETE FROM idempotency_key WHERE tenant_id = $1 AND expires_at < $2",
            vec![tenant.into(), at.into()],
        )
        .await?;
        let seen = sql::query(
            txn,
            "SELECT request_hash, message_id FROM idempotency_key WHERE tenant_id = $1 AND principal = $2 AND key = $3",
            vec![tenant.into(), self.principal.clone().into(), self.key.into()],
        )
        .await?;
        let Some(row) = seen.first() else { return Ok(None) };
        let earlier: String = row.try_get("", "request_hash")?;
        if earlier != self.hash {
            return Err(refused("idempotency_conflict", "this Idempotency-Key was used for a different request"));
        }
        let id: Option<Uuid> = row.try_get("", "message_id")?;
        let m = message::Entity::find_by_id(id.ok_or(StoreError::NotFound)?).one(txn).await?;
        m.ok_or(StoreError::NotFound).map(Some)
    }

    /// Records that the key queued `message_id`; false when a concurrent request took it first.
    async fn claim(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: Uuid,
        message_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let expires: DateTime<Utc> = at + IDEMPOTENCY_WINDOW;
        let inserted = sql::execute(
            txn,
            "INSERT INTO idempotency_key (tenant_id, principal, key, request_hash, message_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, principal, key) DO NOTHING",
            vec![
                tenant.into(),
                self.principal.clone().into(),
                self.key.into(),
                self.hash.clone().into(),
                message_id.into(),
                at.into(),
                expires.into(),
            ],
        )
        .await?;
        Ok(inserted > 0)
    }
}

/// The rows of a text's attached pictures: stored already, each with its public link's token.
async fn insert_attachments(
    txn: &impl sea_orm::ConnectionTrait,
    tenant: Uuid,
    message_id: Uuid,
    attachments: &[Attachment],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for a in attachments {
        crate::entity::media::ActiveModel {
            id: Set(a.id),
            tenant_id: Set(tenant),
            message_id: Set(message_id),
            source_url: Set(a.url.clone()),
            file_name: Set(a.file_name.clone()),
            mime_type: Set(a.mime_type.clone()),
            size: Set(i64::try_from(a.size).unwrap_or(i64::MAX)),
            storage_path: Set(Some(a.storage_path.clone())),
            state: Set("stored".into()),
            public_token: Set(Some(a.token.clone())),
            created_at: Set(at),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Files a queued text in its sender's and its conversation's views, queues its send and appends
/// its `queued` event.
async fn enqueue_sent(
    txn: &impl sea_orm::ConnectionTrait,
    tenant: Uuid,
    m: &message::Model,
    at: DateTime<Utc>,
) -> Result<events::AppendedEvent, StoreError> {
    if let Some(ext) = &m.sender_extension {
        sql::execute(
            txn,
            "INSERT INTO message_extension (message_id, tenant_id, extension, remote) VALUES ($1, $2, $3, $4)",
            vec![m.id.into(), tenant.into(), ext.clone().into(), m.remote.clone().into()],
        )
        .await?;
    }
    sql::execute(
        txn,
        "INSERT INTO conversation (id, tenant_id, number, remote, last_message_id, last_message_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id, number, remote) \
         DO UPDATE SET last_message_id = $5, last_message_at = $6",
        vec![new_id().into(), tenant.into(), m.number.clone().into(), m.remote.clone().into(), m.id.into(), at.into()],
    )
    .await?;
    if let Some(ext) = &m.sender_extension {
        // The sender's inbox lists the conversation it started, before any answer.
        sql::execute(
            txn,
            "INSERT INTO conversation_unread (conversation_id, extension, unread) \
             SELECT id, $4, 0 FROM conversation WHERE tenant_id = $1 AND number = $2 AND remote = $3 \
             ON CONFLICT (conversation_id, extension) DO NOTHING",
            vec![tenant.into(), m.number.clone().into(), m.remote.clone().into(), ext.clone().into()],
        )
        .await?;
    }
    let ordering = events::ordering_key(&m.number, &m.remote);
    let send = if m.automated { events::automated_key(m.id) } else { ordering.clone() };
    events::enqueue(txn, tenant, &send, Work::Send { message_id: m.id }, at).await?;
    events::append(txn, tenant, events::status_changed(m, MessageStatus::Queued), &ordering, at).await
}
