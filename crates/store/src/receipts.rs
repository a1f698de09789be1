//! Delivery receipts: an outbound message's status moves forward only — duplicates and receipts
//! that arrive out of order never move it back, and `delivered` and `failed` are final.

use sea_orm::{ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::json;
use switchboard_core::status::MessageStatus;
use uuid::Uuid;

use crate::entity::message;
use crate::events::{self, AppendedEvent};
use crate::{Store, StoreError, now};

/// A receipt, resolved to its tenant.
#[derive(Debug, Clone)]
pub struct ReceiptIn {
    pub tenant_id: Uuid,
    /// The provider's id of our outbound message.
    pub provider_message_id: String,
    pub status: MessageStatus,
    pub code: Option<u32>,
    pub description: Option<String>,
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
            .filter(message::Column::Direction.eq("outbound"))
            .filter(message::Column::ProviderMessageId.eq(r.provider_message_id.as_str()));
        if self.db().get_database_backend() == DbBackend::Postgres {
            find = find.lock_exclusive();
        }
        let current = find.one(&txn).await?.ok_or(StoreError::NotFound)?;
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
        let mut data =
            json!({"message_id": id, "status": r.status.as_str(), "number": model.number, "to": model.remote});
        if failed {
            data["error_code"] = json!(error_code);
            data["error_message"] = json!(error_message);
        }
        if let Some(ext) = &model.sender_extension {
            data["sender_extension"] = json!(ext);
        }
        let event = events::append(&txn, r.tenant_id, "message.status", data, &ordering, at).await?;
        txn.commit().await?;
        Ok(ReceiptOutcome::Applied { message_id: id, event })
    }
}
