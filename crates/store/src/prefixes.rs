//! Inbound prefixes: the path segment Flowroute posts a tenant's texts to, unique across tenants.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use switchboard_core::FieldErrors;
use switchboard_core::names::normalize_prefix;
use uuid::Uuid;

use crate::entity::{inbound_prefix, number, provider};
use crate::error::OnUnique;
use crate::page::{self, Page, PageRequest};
use crate::refs::{in_use, numbers_using, owned};
use crate::{Store, StoreError, new_id, now};

/// An inbound prefix as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Prefix {
    pub id: Uuid,
    /// Lower case, `[a-z0-9_-]{3,64}`.
    #[schema(example = "flowrouteinbound")]
    pub prefix: String,
    pub provider_id: Uuid,
    /// The URL to enter in Flowroute as the inbound and delivery-receipt callback.
    #[schema(example = "https://sms.example.net/flowrouteinbound")]
    pub webhook_url: String,
    pub created_at: DateTime<Utc>,
}

/// Body of `POST …/prefixes`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrefix {
    /// Case-insensitive; stored in lower case.
    pub prefix: String,
    pub provider_id: Uuid,
}

fn record(m: inbound_prefix::Model) -> Prefix {
    Prefix {
        id: m.id,
        prefix: m.prefix,
        provider_id: m.provider_id,
        webhook_url: String::new(),
        created_at: m.created_at,
    }
}

impl Store {
    /// Claims a prefix for the tenant, bound to one of its providers.
    pub async fn create_prefix(&self, tenant: Uuid, input: NewPrefix) -> Result<Prefix, StoreError> {
        let mut errors = FieldErrors::new();
        let prefix = errors.check("prefix", normalize_prefix(&input.prefix));
        let txn = self.write_txn().await?;
        if owned::<provider::Entity, _>(
            &txn,
            provider::Column::TenantId,
            provider::Column::Id,
            tenant,
            input.provider_id,
        )
        .await?
        .is_none()
        {
            errors.add("provider_id", "no such provider in this tenant");
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let prefix = prefix.unwrap_or_default();
        let at = now();
        let model = inbound_prefix::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            prefix: Set(prefix.clone()),
            provider_id: Set(input.provider_id),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await
        .on_unique(|| format!("prefix '{prefix}' is taken"))?;
        txn.commit().await?;
        Ok(record(model))
    }

    /// The tenant's prefixes, oldest first.
    pub async fn list_prefixes(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Prefix>, StoreError> {
        let select = inbound_prefix::Entity::find().filter(inbound_prefix::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, inbound_prefix::Column::Id, |m| m.id, req, false).await?.map(record))
    }

    /// One prefix of the tenant, by its text (any case).
    pub async fn get_prefix(&self, tenant: Uuid, prefix: &str) -> Result<Prefix, StoreError> {
        self.prefix_model(self.db(), tenant, prefix).await.map(record)
    }

    async fn prefix_model<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        tenant: Uuid,
        prefix: &str,
    ) -> Result<inbound_prefix::Model, StoreError> {
        inbound_prefix::Entity::find()
            .filter(inbound_prefix::Column::TenantId.eq(tenant))
            .filter(inbound_prefix::Column::Prefix.eq(prefix.to_ascii_lowercase()))
            .one(db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Releases a prefix no number uses.
    pub async fn delete_prefix(&self, tenant: Uuid, prefix: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let current = self.prefix_model(&txn, tenant, prefix).await?;
        let referrers = numbers_using(&txn, number::Column::PrefixId, current.id).await?;
        in_use(&format!("prefix '{}'", current.prefix), &referrers)?;
        inbound_prefix::Entity::delete_by_id(current.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
