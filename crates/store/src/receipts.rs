//! Delivery receipts: an outbound message's status moves forward only — duplicates and receipts
//! that arrive out of order never move it back, and `delivered` and `failed` are final.

use sea_orm::{ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set};
use switchboard_core::status::{Direction, MessageStatus};
use uuid::Uuid;

use crate::entity::message;
use crate::events::{self, AppendedEvent};
use crate::{Store, StoreError, now, sql};

/// A receipt, resolved to its tenant.
#[derive(Debug, Clone)]
pub struct ReceiptIn {
    pub tenant_id: Uuid,
    /// The provider's id of our outbound message.
    pub provider_message_id: String,
    pub status: MessageStatus,
    pub code: Option<u32>,
    pub description: Option<String>,
    /// The text the receipt quotes, and its parties when it names them (E.164).
    pub body: Option<String>,
    pub to: Option<String>,
    pub from: Option<String>,
}

/// What a receipt did.
#[derive(Debug, Clone)]
pub enum ReceiptOutcome {
    /// The status moved; an event was written.
    Applied { message_id: Uuid, event: AppendedEvent },
    /// A repeat, or older news: nothing changed.
    Unchanged { message_id: Uuid },
}

impl Store {
    /// Applies a delivery receipt to the tenant's outbound message; `NotFound` if it has none with
    /// that provider id.
    pub async fn apply_receipt(&self, r: ReceiptIn) -> Result<ReceiptOutcome, StoreError> {
        let txn = self.write_txn().await?;
        let mut find = message::Entity::find()
            .filter(message::Column::TenantId.eq(r.tenant_id))
            .filter(message::Column::Direction.eq(Direction::Outbound.as_str()))
            .filter(message::Column::ProviderMessageId.eq(r.provider_message_id.as_str()));
        if self.db().get_database_backend() == DbBackend::Postgres {
            find = find.lock_exclusive();
        }
        let current = match find.one(&txn).await? {
            Some(m) => m,
            None => self.adopt(&txn, &r).await?.ok_or(StoreError::NotFound)?,
        };
        let from = MessageStatus::parse(&current.status).unwrap_or(MessageStatus::Queued);
        if !from.may_become(r.status) {
            return Ok(ReceiptOutcome::Unchanged { message_id: current.id });
        }
        let at = now();
        let failed = r.status == MessageStatus::Failed;
        let error_code = if failed { r.code.and_then(|c| i32::try_from(c).ok()) } else { None };
        let error_message = if failed { r.description.clone() } else { None };
        let ordering = events::ordering_key(&current.number, &current.remote);
        let id = current.id;
        let mut model: message::ActiveModel = current.into();
        model.status = Set(r.status.as_str().into());
        model.error_code = Set(error_code);
        model.error_message = Set(error_message.clone());
        model.updated_at = Set(at);
        let model = model.update(&txn).await?;
        let body = events::status_changed(&model, r.status);
        let event = events::append(&txn, r.tenant_id, body, &ordering, at).await?;
        txn.commit().await?;
        Ok(ReceiptOutcome::Applied { message_id: id, event })
    }

    /// A receipt for an id no text of the tenant carries: the answer to one of our sends was lost
    /// (a timeout, or a crash after Flowroute's `202`). If exactly one text still waiting on such
    /// a send matches — the same body, and the same parties when the receipt names them — the id
    /// is recorded as its own, with `sent`, and the dispatcher will not send it again. Two or more
    /// candidates are left alone: guessing could mark the wrong text sent.
    async fn adopt(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        r: &ReceiptIn,
    ) -> Result<Option<message::Model>, StoreError> {
        let Some(body) = r.body.as_deref().filter(|b| !b.is_empty()) else { return Ok(None) };
        let mut query = "SELECT m.id FROM message m WHERE m.tenant_id = $1 AND m.direction = 'outbound' \
             AND m.provider_message_id IS NULL AND m.status IN ('queued', 'sending') AND m.body = $2 \
             AND EXISTS (SELECT 1 FROM send_attempt a WHERE a.message_id = m.id \
             AND a.outcome IN ('in_flight', 'unknown', 'unanswered'))"
            .to_owned();
        let mut values: Vec<sea_orm::Value> = vec![r.tenant_id.into(), body.into()];
        if let Some(to) = &r.to {
            values.push(to.clone().into());
            query.push_str(&format!(" AND m.remote = ${}", values.len()));
        }
        if let Some(from) = &r.from {
            values.push(from.clone().into());
            query.push_str(&format!(" AND m.number = ${}", values.len()));
        }
        query.push_str(" LIMIT 2");
        let rows = sql::query(txn, &query, values).await?;
        let [row] = rows.as_slice() else { return Ok(None) };
        let id: Uuid = row.try_get("", "id")?;
        sql::execute(
            txn,
            "UPDATE send_attempt SET outcome = 'accepted', detail = $2 \
             WHERE message_id = $1 AND outcome IN ('in_flight', 'unknown', 'unanswered')",
            vec![id.into(), r.provider_message_id.clone().into()],
        )
        .await?;
        tracing::info!(message_id = %id, provider_message_id = %r.provider_message_id,
            "a receipt named a send whose answer was lost; it will not be sent again");
        // `sent`, with its event, as if the 202 had arrived; the receipt then applies on top.
        self.set_status(txn, id, MessageStatus::Sent, Some(&r.provider_message_id), None, None).await?;
        Ok(message::Entity::find_by_id(id).one(txn).await?)
    }
}
