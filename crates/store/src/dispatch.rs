//! What the outbound dispatcher needs from the store: everything to send one message, a reserved
//! slot under the number's per-minute limit (counted here, so it holds across instances), and the
//! outcome of each attempt, with the status events it implies.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set};
use secrecy::SecretString;
use serde_json::json;
use switchboard_core::status::MessageStatus;
use uuid::Uuid;

use crate::entity::{inbound_prefix, message, number, policy, provider};
use crate::events::{self, AppendedEvent};
use crate::{Store, StoreError, new_id, now, sql};

/// One outbound message, ready to send.
pub struct SendContext {
    pub message_id: Uuid,
    pub tenant_id: Uuid,
    pub status: MessageStatus,
    /// Set once the provider accepted it: then it is never sent again.
    pub provider_message_id: Option<String>,
    pub from: String,
    pub to: String,
    pub body: Option<String>,
    pub media_urls: Vec<String>,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: SecretString,
    /// The number's inbound prefix, for the delivery-receipt callback.
    pub prefix: Option<String>,
    /// The prefix's token, which the callback URL must carry.
    pub prefix_token: Option<SecretString>,
    /// The number's policy's limit, if it has a policy.
    pub per_minute: Option<u32>,
}

impl std::fmt::Debug for SendContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendContext")
            .field("message_id", &self.message_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The answer to a request for a send slot.
#[derive(Debug, Clone)]
pub enum Slot {
    /// Send now; report the outcome against this attempt.
    Granted { attempt_id: Uuid, event: Option<AppendedEvent> },
    /// The number is at its limit: try again at this time.
    Wait(DateTime<Utc>),
}

impl Store {
    /// Everything needed to send message `id`.
    pub async fn send_context(&self, id: Uuid) -> Result<SendContext, StoreError> {
        let m = message::Entity::find_by_id(id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        let n = number::Entity::find()
            .filter(number::Column::TenantId.eq(m.tenant_id))
            .filter(number::Column::E164.eq(m.number.as_str()))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        let p = provider::Entity::find_by_id(n.provider_id).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        let secret = self.open_secret(&p.secret_key_enc, &format!("provider:{}:secret_key", p.id))?;
        let prefix_row = inbound_prefix::Entity::find_by_id(n.prefix_id).one(self.db()).await?;
        let prefix_token = match &prefix_row {
            Some(row) => self.prefix_token(row)?,
            None => None,
        };
        let prefix = prefix_row.map(|x| x.prefix);
        let per_minute = match n.policy_id {
            Some(pid) => policy::Entity::find_by_id(pid)
                .one(self.db())
                .await?
                .and_then(|p| u32::try_from(p.outbound_per_minute).ok()),
            None => None,
        };
        let media_urls = m
            .media
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["url"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(SendContext {
            message_id: m.id,
            tenant_id: m.tenant_id,
            status: MessageStatus::parse(&m.status).unwrap_or(MessageStatus::Queued),
            provider_message_id: m.provider_message_id,
            from: m.number,
            to: m.remote,
            body: m.body,
            media_urls,
            endpoint: p.endpoint,
            access_key: p.access_key,
            secret_key: secret,
            prefix,
            prefix_token,
            per_minute,
        })
    }

    /// Reserves a send slot for the message under its number's per-minute limit, and marks the
    /// message `sending` (with an event the first time).
    pub async fn reserve_send(&self, ctx: &SendContext) -> Result<Slot, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        if self.db().get_database_backend() == DbBackend::Postgres {
            // One reservation per number at a time, across every instance.
            number::Entity::find()
                .filter(number::Column::TenantId.eq(ctx.tenant_id))
                .filter(number::Column::E164.eq(ctx.from.as_str()))
                .lock_exclusive()
                .one(&txn)
                .await?;
        }
        if let Some(limit) = ctx.per_minute {
            let window_start = at - Duration::minutes(1);
            let rows = sql::query(
                &txn,
                "SELECT attempted_at FROM send_attempt WHERE number = $1 AND attempted_at > $2 \
                 AND outcome IN ('in_flight', 'accepted', 'unknown', 'unanswered') ORDER BY attempted_at",
                vec![ctx.from.clone().into(), window_start.into()],
            )
            .await?;
            if rows.len() as u64 >= u64::from(limit) {
                let oldest: DateTime<Utc> = rows[rows.len() - limit as usize].try_get("", "attempted_at")?;
                return Ok(Slot::Wait(oldest + Duration::minutes(1) + Duration::milliseconds(10)));
            }
        }
        // An earlier attempt whose answer never came is given up on: this one replaces it.
        sql::execute(
            &txn,
            "UPDATE send_attempt SET outcome = 'unanswered' WHERE message_id = $1 AND outcome IN ('in_flight', 'unknown')",
            vec![ctx.message_id.into()],
        )
        .await?;
        let attempt_id = new_id();
        sql::execute(
            &txn,
            "INSERT INTO send_attempt (id, tenant_id, message_id, number, attempted_at, outcome) VALUES ($1, $2, $3, $4, $5, 'in_flight')",
            vec![attempt_id.into(), ctx.tenant_id.into(), ctx.message_id.into(), ctx.from.clone().into(), at.into()],
        )
        .await?;
        let event = if ctx.status == MessageStatus::Queued {
            Some(self.set_status(&txn, ctx.message_id, MessageStatus::Sending, None, None, None).await?)
        } else {
            None
        };
        txn.commit().await?;
        Ok(Slot::Granted { attempt_id, event: event.flatten() })
    }

    /// Moves a message's status forward (never back), with an event; `None` when nothing moved.
    pub(crate) async fn set_status(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        id: Uuid,
        status: MessageStatus,
        provider_id: Option<&str>,
        error_code: Option<i32>,
        error_message: Option<&str>,
    ) -> Result<Option<AppendedEvent>, StoreError> {
        let current = message::Entity::find_by_id(id).one(txn).await?.ok_or(StoreError::NotFound)?;
        let from = MessageStatus::parse(&current.status).unwrap_or(MessageStatus::Queued);
        if !from.may_become(status) {
            return Ok(None);
        }
        let at = now();
        let (tenant, number, remote, sender) =
            (current.tenant_id, current.number.clone(), current.remote.clone(), current.sender_extension.clone());
        let mut model: message::ActiveModel = current.into();
        model.status = Set(status.as_str().into());
        if let Some(p) = provider_id {
            model.provider_message_id = Set(Some(p.to_owned()));
        }
        if status == MessageStatus::Failed {
            model.error_code = Set(error_code);
            model.error_message = Set(error_message.map(str::to_owned));
        }
        model.updated_at = Set(at);
        model.update(txn).await?;
        let mut data = json!({"message_id": id, "status": status.as_str(), "number": number, "to": remote});
        if let Some(ext) = sender {
            data["sender_extension"] = json!(ext);
        }
        if status == MessageStatus::Failed {
            data["error_code"] = json!(error_code);
            data["error_message"] = json!(error_message);
        }
        let ordering = events::ordering_key(&number, &remote);
        Ok(Some(events::append(txn, tenant, "message.status", data, &ordering, at).await?))
    }

    /// The provider accepted the message: its id is recorded with the `sent` status, after which it
    /// is never sent again.
    pub async fn record_accepted(
        &self,
        message_id: Uuid,
        attempt_id: Uuid,
        provider_id: &str,
    ) -> Result<Option<AppendedEvent>, StoreError> {
        let txn = self.write_txn().await?;
        sql::execute(
            &txn,
            "UPDATE send_attempt SET outcome = 'accepted', detail = $2 WHERE id = $1",
            vec![attempt_id.into(), provider_id.into()],
        )
        .await?;
        let event = self.set_status(&txn, message_id, MessageStatus::Sent, Some(provider_id), None, None).await?;
        txn.commit().await?;
        Ok(event)
    }

    /// Records a failed attempt; when `final_error` is given the message is `failed` for good.
    pub async fn record_failure(
        &self,
        message_id: Uuid,
        attempt_id: Option<Uuid>,
        status_code: Option<u16>,
        detail: &str,
        final_error: bool,
    ) -> Result<Option<AppendedEvent>, StoreError> {
        let txn = self.write_txn().await?;
        if let Some(a) = attempt_id {
            sql::execute(
                &txn,
                "UPDATE send_attempt SET outcome = $2, status_code = $3, detail = $4 WHERE id = $1",
                vec![
                    a.into(),
                    (if final_error { "refused" } else { "failed" }).into(),
                    status_code.map(i32::from).into(),
                    detail.chars().take(1000).collect::<String>().into(),
                ],
            )
            .await?;
        }
        let event = if final_error {
            self.set_status(&txn, message_id, MessageStatus::Failed, None, status_code.map(i32::from), Some(detail))
                .await?
        } else {
            None
        };
        txn.commit().await?;
        Ok(event)
    }

    /// When the message's latest attempt went out and no answer came back — a timeout, or a process
    /// that died mid-send — if it is still waiting on one.
    pub async fn open_attempt(&self, message_id: Uuid) -> Result<Option<DateTime<Utc>>, StoreError> {
        let rows = sql::query(
            self.db(),
            "SELECT attempted_at FROM send_attempt WHERE message_id = $1 AND outcome IN ('in_flight', 'unknown') \
             ORDER BY attempted_at DESC LIMIT 1",
            vec![message_id.into()],
        )
        .await?;
        match rows.first() {
            Some(row) => Ok(Some(row.try_get("", "attempted_at")?)),
            None => Ok(None),
        }
    }

    /// Records an attempt whose request went out without an answer: Flowroute may have the text.
    pub async fn record_unknown(&self, attempt_id: Uuid, detail: &str) -> Result<(), StoreError> {
        sql::execute(
            self.db(),
            "UPDATE send_attempt SET outcome = 'unknown', detail = $2 WHERE id = $1 AND outcome = 'in_flight'",
            vec![attempt_id.into(), detail.chars().take(1000).collect::<String>().into()],
        )
        .await?;
        Ok(())
    }

    /// Puts a job back without counting the attempt (it waited for a rate limit, it did not fail).
    pub async fn defer_job(&self, id: Uuid, until: DateTime<Utc>) -> Result<(), StoreError> {
        sql::execute(
            self.db(),
            "UPDATE job SET state = 'pending', locked_until = NULL, next_attempt_at = $2, attempts = attempts - 1, \
             updated_at = $3 WHERE id = $1",
            vec![id.into(), until.into(), now().into()],
        )
        .await?;
        Ok(())
    }
}
