//! Recording one inbound text: message, conversation and unread counts, opt-out change, event,
//! delivery jobs, queued replies and media fetch jobs — all in one transaction, so a text is
//! either wholly stored (and will be delivered) or not at all.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::{Value, json};
use switchboard_core::routing::{OptOutChange, Reply, RouteDecision};
use switchboard_core::segments;
use uuid::Uuid;

use crate::entity::{company, contact, conversation, media, message};
use crate::events::{self, AppendedEvent, JobRef, MEDIA_FETCH, PROVIDER_SEND};
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

async fn named(
    db: &impl sea_orm::ConnectionTrait,
    tenant: Uuid,
    remote: &str,
    catch_all: Option<Uuid>,
) -> Result<(Value, Value, Option<Uuid>, Option<Uuid>), StoreError> {
    let found = contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant))
        .filter(contact::Column::Phone.eq(remote))
        .one(db)
        .await?;
    let company_id = found.as_ref().and_then(|c| c.company_id).or(catch_all);
    let company = match company_id {
        Some(id) => company::Entity::find_by_id(id).one(db).await?.filter(|c| c.tenant_id == tenant),
        None => None,
    };
    let contact_json = found.as_ref().map_or(Value::Null, |c| json!({"id": c.id, "name": c.name}));
    let company_json = company.as_ref().map_or(Value::Null, |c| json!({"id": c.id, "name": c.name}));
    Ok((contact_json, company_json, found.map(|c| c.id), company.map(|c| c.id)))
}

impl Store {
    /// Records an inbound text exactly once. `decide` routes it, given when this conversation last
    /// got an auto-reply; it runs under the conversation's lock, so two texts from one sender cannot
    /// both trigger an auto-reply, and two copies of one text cannot both be stored.
    pub async fn record_inbound<F>(&self, text: InboundText, decide: F) -> Result<InboundOutcome, StoreError>
    where
        F: FnOnce(Option<DateTime<Utc>>) -> RouteDecision + Send,
    {
        let at = now();
        let txn = self.write_txn().await?;
        sql::execute(
            &txn,
            "INSERT INTO conversation (id, tenant_id, number, remote, last_message_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, number, remote) DO NOTHING",
            vec![
                new_id().into(),
                text.tenant_id.into(),
                text.number.clone().into(),
                text.remote.clone().into(),
                at.into(),
            ],
        )
        .await?;
        let mut find = conversation::Entity::find()
            .filter(conversation::Column::TenantId.eq(text.tenant_id))
            .filter(conversation::Column::Number.eq(text.number.as_str()))
            .filter(conversation::Column::Remote.eq(text.remote.as_str()));
        if self.db().get_database_backend() == DbBackend::Postgres {
            find = find.lock_exclusive();
        }
        let conv = find.one(&txn).await?.ok_or(StoreError::NotFound)?;

        if let Some(existing) = message::Entity::find()
            .filter(message::Column::Direction.eq("inbound"))
            .filter(message::Column::ProviderMessageId.eq(text.provider_message_id.as_str()))
            .one(&txn)
            .await?
        {
            return Ok(InboundOutcome::Duplicate { message_id: existing.id });
        }

        let decision = decide(conv.last_auto_reply_at);
        let ordering = events::ordering_key(&text.number, &text.remote);
        let (contact_json, company_json, contact_id, company_id) =
            named(&txn, text.tenant_id, &text.remote, text.catch_all_company_id).await?;
        let (encoding, segment_count) = segments::count(text.body.as_deref());
        let message_id = new_id();
        let media_ids: Vec<Uuid> = text.media.iter().map(|_| new_id()).collect();
        let media_json: Vec<Value> = text
            .media
            .iter()
            .zip(&media_ids)
            .map(|(m, id)| {
                json!({"id": id, "url": format!("{}/{id}", text.media_base_url), "mime_type": m.mime_type,
                       "size": m.size, "file_name": m.file_name})
            })
            .collect();
        message::ActiveModel {
            id: Set(message_id),
            tenant_id: Set(text.tenant_id),
            direction: Set("inbound".into()),
            number: Set(text.number.clone()),
            remote: Set(text.remote.clone()),
            body: Set(text.body.clone()),
            media: Set(Value::Array(media_json.clone())),
            segments: Set(i32::try_from(segment_count).unwrap_or(i32::MAX)),
            encoding: Set(encoding.code()),
            status: Set("received".into()),
            provider_message_id: Set(Some(text.provider_message_id.clone())),
            error_code: Set(None),
            error_message: Set(None),
            extensions: Set(json!(decision.destinations)),
            sender_extension: Set(None),
            contact_id: Set(contact_id),
            company_id: Set(company_id),
            keyword: Set(decision.keyword.map(str::to_owned)),
            created_at: Set(at),
            updated_at: Set(at),
            origin: Set("provider".into()),
        }
        .insert(&txn)
        .await?;
        for (m, id) in text.media.iter().zip(&media_ids) {
            media::ActiveModel {
                id: Set(*id),
                tenant_id: Set(text.tenant_id),
                message_id: Set(message_id),
                source_url: Set(m.url.clone()),
                file_name: Set(m.file_name.clone()),
                mime_type: Set(m.mime_type.clone()),
                size: Set(m.size.and_then(|s| i64::try_from(s).ok()).unwrap_or(-1)),
                storage_path: Set(None),
                state: Set("pending".into()),
                created_at: Set(at),
            }
            .insert(&txn)
            .await?;
            events::enqueue(&txn, text.tenant_id, MEDIA_FETCH, &format!("media:{id}"), JobRef::Media(*id), at).await?;
        }
        for ext in &decision.destinations {
            sql::execute(
                &txn,
                "INSERT INTO conversation_unread (conversation_id, extension, unread) VALUES ($1, $2, 1) \
                 ON CONFLICT (conversation_id, extension) DO UPDATE SET unread = conversation_unread.unread + 1",
                vec![conv.id.into(), ext.clone().into()],
            )
            .await?;
            sql::execute(
                &txn,
                "INSERT INTO message_extension (message_id, tenant_id, extension, remote) VALUES ($1, $2, $3, $4)",
                vec![message_id.into(), text.tenant_id.into(), ext.clone().into(), text.remote.clone().into()],
            )
            .await?;
        }
        match decision.opt_out {
            Some(OptOutChange::OptOut { all_numbers }) => {
                let scope = if all_numbers { "all".to_owned() } else { text.number.clone() };
                sql::execute(
                    &txn,
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
                    &txn,
                    "DELETE FROM opt_out WHERE tenant_id = $1 AND remote = $2 AND (scope = $3 OR scope = 'all')",
                    vec![text.tenant_id.into(), text.remote.clone().into(), text.number.clone().into()],
                )
                .await?;
            }
            None => {}
        }
        let opted_out = is_opted_out(&txn, text.tenant_id, &text.remote, &text.number).await?;
        let mut auto_replied = false;
        if text.remote_reachable {
            for reply in &decision.replies {
                let (origin, body) = match reply {
                    // Nothing but the HELP answer goes to a party that has opted out.
                    Reply::AutoReply { .. } if opted_out => continue,
                    Reply::AutoReply { body } => ("auto_reply", body),
                    Reply::Help { body } => ("help_reply", body),
                };
                auto_replied |= origin == "auto_reply";
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
                events::enqueue(&txn, text.tenant_id, PROVIDER_SEND, &ordering, JobRef::Message(reply_id), at).await?;
            }
        }
        let mut conv_update: conversation::ActiveModel = conv.clone().into();
        conv_update.last_message_id = Set(Some(message_id));
        conv_update.last_message_at = Set(at);
        if auto_replied {
            conv_update.last_auto_reply_at = Set(Some(at));
        }
        conv_update.update(&txn).await?;

        let data = json!({
            "message_id": message_id,
            "number": text.number,
            "from": text.remote,
            "to": text.number,
            "body": text.body,
            "media": media_json,
            "extensions": decision.destinations,
            "contact": contact_json,
            "company": company_json,
            "keyword": decision.keyword,
            "conversation_id": conv.id,
        });
        let event = events::append(&txn, text.tenant_id, "message.received", data, &ordering, at).await?;
        txn.commit().await?;
        Ok(InboundOutcome::Stored { message_id, event, decision })
    }
}
