//! Email when nobody answers: what a due email says and whether it is still needed, the signed
//! reply address it carries, and who may answer through it.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{contact, extension, message, tenant};
use crate::events::Work;
use crate::outbox::ClaimedJob;
use crate::{Store, StoreError, sql};

/// Everything one email needs.
#[derive(Debug, Clone)]
pub struct EmailFallback {
    /// The extension, as the PBX names it.
    pub extension: String,
    /// Its email address.
    pub to: String,
    /// How long the text went unseen first.
    pub delay_minutes: i32,
    pub tenant_name: String,
    /// The sender (E.164 or a short code), and their name when they are a contact.
    pub from: String,
    pub contact: Option<String>,
    /// The tenant's number it was sent to.
    pub number: String,
    pub body: Option<String>,
    /// The public link tokens of the text's kept attachments, in order.
    pub media_tokens: Vec<String>,
    /// Someone already saw the text, and how: then no email goes.
    pub seen: Option<String>,
    /// The local part of the reply address: the text's id and its signature.
    pub reply_token: String,
}

/// Where an email reply goes, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub tenant_id: Uuid,
    /// The extension answering (the one whose address sent the reply).
    pub extension: String,
    /// The tenant's number the text came to: the reply goes from it.
    pub number: String,
    /// The customer.
    pub remote: String,
}

impl Store {
    /// The local part of a text's reply address: its id and a signature only this deployment's
    /// master key makes, 56 hex digits (an email local part holds 64).
    pub fn reply_token(&self, message_id: Uuid) -> String {
        format!("{}{}", message_id.simple(), self.cipher().fingerprint(&format!("email-reply|{message_id}")))
    }

    /// The text a reply token names, if its signature is this deployment's.
    pub fn reply_message(&self, token: &str) -> Option<Uuid> {
        let token = token.to_ascii_lowercase();
        if token.len() != 56 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let id = Uuid::parse_str(&token[..32]).ok()?;
        // Both sides are this process's own hex: compared whole, in constant time.
        let expected = self.reply_token(id);
        let same = expected.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same.then_some(id)
    }

    /// Who answers text `message_id` by email from `sender` (an address, any case): an extension
    /// the text was routed to whose email it is. `NotFound` when the text is not an inbound one;
    /// `Refused` (`reply_sender_unknown`) when no such extension has that address.
    pub async fn reply_target(&self, message_id: Uuid, sender: &str) -> Result<ReplyTarget, StoreError> {
        let m = message::Entity::find_by_id(message_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        if m.direction != "inbound" {
            return Err(StoreError::NotFound);
        }
        let routed: Vec<String> = serde_json::from_value(m.extensions.clone()).unwrap_or_default();
        let sender = sender.trim().to_ascii_lowercase();
        let answering = extension::Entity::find()
            .filter(extension::Column::TenantId.eq(m.tenant_id))
            .filter(extension::Column::Extension.is_in(routed))
            .filter(extension::Column::Email.eq(sender))
            .filter(extension::Column::Enabled.eq(true))
            .one(self.db())
            .await?;
        let Some(e) = answering else {
            let detail = "The reply came from an address that is not the email of an extension this text was sent to.";
            return Err(StoreError::Refused { code: "reply_sender_unknown", detail: detail.into() });
        };
        Ok(ReplyTarget { tenant_id: m.tenant_id, extension: e.extension, number: m.number, remote: m.remote })
    }

    /// What each claimed email says, by job id: `None` inside when there is nothing to email any
    /// more (the extension, its address or the text is gone, or the extension is disabled).
    pub async fn email_fallbacks(
        &self,
        jobs: &[ClaimedJob],
    ) -> Result<HashMap<Uuid, Option<EmailFallback>>, StoreError> {
        let mut out = HashMap::with_capacity(jobs.len());
        let wanted: Vec<(Uuid, Uuid, Uuid)> = jobs
            .iter()
            .filter_map(|j| match j.work {
                Work::Email { message_id, extension_id } => Some((j.id, message_id, extension_id)),
                _ => None,
            })
            .collect();
        let message_ids: BTreeSet<Uuid> = wanted.iter().map(|w| w.1).collect();
        let media = self.phone_media(message_ids).await?;
        for (job_id, message_id, extension_id) in wanted {
            let m = message::Entity::find_by_id(message_id).one(self.db()).await?;
            let e = extension::Entity::find_by_id(extension_id).one(self.db()).await?;
            let (Some(m), Some(e)) = (m, e) else {
                out.insert(job_id, None);
                continue;
            };
            let (Some(to), true, true) = (e.email.clone(), e.enabled, e.tenant_id == m.tenant_id) else {
                out.insert(job_id, None);
                continue;
            };
            let t = tenant::Entity::find_by_id(m.tenant_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
            let contact = match m.contact_id {
                Some(id) => contact::Entity::find_by_id(id).one(self.db()).await?.map(|c| c.name),
                None => None,
            };
            let seen = self.seen_by(&m, &e).await?;
            let attachments = media.get(&m.id).map(Vec::as_slice).unwrap_or_default();
            out.insert(
                job_id,
                Some(EmailFallback {
                    extension: e.extension,
                    to,
                    delay_minutes: e.email_delay_minutes,
                    tenant_name: t.name,
                    from: m.remote.clone(),
                    contact,
                    number: m.number.clone(),
                    body: m.body.clone(),
                    media_tokens: crate::sip::kept_links(attachments),
                    seen,
                    reply_token: self.reply_token(m.id),
                }),
            );
        }
        Ok(out)
    }

    /// Whether someone of the extension saw the text, and how: its phone took it (SIP `200`), one
    /// of its people read it in the inbox, or its API client marked the conversation read.
    async fn seen_by(&self, m: &message::Model, e: &extension::Model) -> Result<Option<String>, StoreError> {
        let attempts = sql::query(
            self.db(),
            "SELECT payload FROM event WHERE message_id = $1 AND event_type = 'message.delivery'",
            vec![m.id.into()],
        )
        .await?;
        for row in attempts {
            let payload: Value = row.try_get("", "payload")?;
            let data = &payload["data"];
            if data["extension"] == e.extension.as_str() && data["channel"] == "sip" && data["outcome"] == "delivered" {
                return Ok(Some("its phone took it (SIP 200)".into()));
            }
        }
        let read = sql::query(
            self.db(),
            "SELECT 1 AS one FROM conversation c \
             JOIN conversation_read r ON r.conversation_id = c.id \
             JOIN account a ON a.id = r.account_id \
             WHERE c.tenant_id = $1 AND c.number = $2 AND c.remote = $3 AND a.extension_id = $4 \
               AND r.read_through >= $5",
            vec![m.tenant_id.into(), m.number.clone().into(), m.remote.clone().into(), e.id.into(), m.id.into()],
        )
        .await?;
        if !read.is_empty() {
            return Ok(Some("someone read it in the inbox".into()));
        }
        let marked = sql::query(
            self.db(),
            "SELECT 1 AS one FROM conversation c JOIN conversation_unread u ON u.conversation_id = c.id \
             WHERE c.tenant_id = $1 AND c.number = $2 AND c.remote = $3 AND u.extension = $4 AND u.unread = 0",
            vec![m.tenant_id.into(), m.number.clone().into(), m.remote.clone().into(), e.extension.clone().into()],
        )
        .await?;
        Ok((!marked.is_empty()).then(|| "it was marked read through the API".into()))
    }
}
