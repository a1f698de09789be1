//! Inbound prefixes: the path segment Flowroute posts a tenant's texts to, unique across tenants.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use switchboard_core::FieldErrors;
use switchboard_core::names::normalize_prefix;
use switchboard_core::sources;
use uuid::Uuid;

use crate::entity::{inbound_prefix, number, provider};
use crate::error::OnUnique;
use crate::page::{self, Page, PageRequest};
use crate::refs::{in_use, numbers_using, owned};
use crate::{Patch, Store, StoreError, new_id, now};

/// An inbound prefix, as stored.
#[derive(Debug, Clone)]
pub struct Prefix {
    pub id: Uuid,
    /// Lower case, `[a-z0-9_-]{3,64}`.
    pub prefix: String,
    pub provider_id: Uuid,
    /// The URL to enter in Flowroute as the inbound and delivery-receipt callback. On creation it
    /// carries the prefix's token (`?token=…`); later answers leave the token out.
    pub webhook_url: String,
    /// Whether callbacks must carry `?token=`.
    pub token_required: bool,
    /// The token, in the answer to the creation only (never shown again): the one given, or the
    /// one Switchboard generated.
    pub token: Option<String>,
    /// Source addresses allowed to post, as given; `null` allows any.
    pub allowed_sources: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

/// A prefix to claim.
#[derive(Clone)]
pub struct NewPrefix {
    /// Case-insensitive; stored in lower case.
    pub prefix: String,
    pub provider_id: Uuid,
    /// A secret Flowroute must send as `?token=` (16 to 128 URL-safe characters); sealed at rest.
    /// Left out, Switchboard generates one (shown once, in the answer); `null` means no token,
    /// which needs `allowed_sources` (else anyone who learns the prefix could post to it).
    pub token: Patch<String>,
    /// Addresses or CIDR blocks allowed to post, or `flowroute` for Flowroute's documented ones.
    pub allowed_sources: Option<Vec<String>>,
}

impl std::fmt::Debug for NewPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPrefix").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// A change to a prefix's hardening settings; `Patch::Null` removes one.
#[derive(Default)]
pub struct PrefixPatch {
    pub token: Patch<String>,
    pub allowed_sources: Patch<Vec<String>>,
}

impl std::fmt::Debug for PrefixPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixPatch").finish_non_exhaustive()
    }
}

/// Why a prefix without a token must list its sources.
const TOKENLESS: &str = "a prefix without a token needs allowed_sources: otherwise anyone who learns the prefix \
                         could post texts, receipts and opt-outs in the tenant's name";

/// A fresh prefix token: 32 URL-safe characters (192 random bits).
fn generate_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn check_hardening(errors: &mut FieldErrors, token: Option<&String>, sources: Option<&Vec<String>>) {
    if let Some(t) = token {
        errors.check("token", sources::check_token(t));
    }
    if let Some(list) = sources {
        if list.is_empty() || list.len() > 100 {
            errors.add("allowed_sources", "must list 1 to 100 entries (or be null to allow any source)");
        }
        errors.check("allowed_sources", sources::parse_sources(list));
    }
}

/// Where a prefix's token is sealed: bound to the prefix's row.
pub(crate) fn token_aad(id: Uuid) -> String {
    format!("inbound_prefix:{id}:token")
}

fn record(m: inbound_prefix::Model) -> Prefix {
    Prefix {
        id: m.id,
        prefix: m.prefix,
        provider_id: m.provider_id,
        webhook_url: String::new(),
        token_required: m.token_enc.is_some(),
        token: None,
        allowed_sources: m.allowed_sources.and_then(|v| serde_json::from_value(v).ok()),
        created_at: m.created_at,
    }
}

impl Store {
    /// Claims a prefix for the tenant, bound to one of its providers.
    pub async fn create_prefix(&self, tenant: Uuid, input: NewPrefix) -> Result<Prefix, StoreError> {
        let mut errors = FieldErrors::new();
        let prefix = errors.check("prefix", normalize_prefix(&input.prefix));
        let token = match input.token {
            Patch::Absent => Some(generate_token()),
            Patch::Null => None,
            Patch::Value(t) => Some(t),
        };
        check_hardening(&mut errors, token.as_ref(), input.allowed_sources.as_ref());
        if token.is_none() && input.allowed_sources.is_none() {
            errors.add("token", TOKENLESS);
        }
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
        let id = new_id();
        let model = inbound_prefix::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant),
            prefix: Set(prefix.clone()),
            provider_id: Set(input.provider_id),
            token_enc: Set(token.as_deref().map(|t| self.cipher().seal(t, &token_aad(id)))),
            allowed_sources: Set(input.allowed_sources.as_ref().map(|l| serde_json::json!(l))),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await
        .on_unique(|| format!("prefix '{prefix}' is taken"))?;
        txn.commit().await?;
        Ok(Prefix { token, ..record(model) })
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

    /// Sets or removes a prefix's token and source allow-list.
    pub async fn update_prefix(&self, tenant: Uuid, prefix: &str, patch: PrefixPatch) -> Result<Prefix, StoreError> {
        let mut errors = FieldErrors::new();
        let token = match &patch.token {
            Patch::Value(t) => Some(t),
            _ => None,
        };
        let list = match &patch.allowed_sources {
            Patch::Value(l) => Some(l),
            _ => None,
        };
        check_hardening(&mut errors, token, list);
        errors.finish().map_err(StoreError::Invalid)?;
        let current = self.prefix_model(self.db(), tenant, prefix).await?;
        let tokenless = matches!((&patch.token, &current.token_enc), (Patch::Null, _) | (Patch::Absent, None));
        let listed = match &patch.allowed_sources {
            Patch::Value(_) => true,
            Patch::Null => false,
            Patch::Absent => current.allowed_sources.is_some(),
        };
        if tokenless && !listed {
            let field = if matches!(patch.token, Patch::Null) { "token" } else { "allowed_sources" };
            return Err(StoreError::invalid(field, TOKENLESS));
        }
        let token_enc = match patch.token {
            Patch::Absent => current.token_enc.clone(),
            Patch::Null => None,
            Patch::Value(t) => Some(self.cipher().seal(&t, &token_aad(current.id))),
        };
        let allowed = match patch.allowed_sources {
            Patch::Absent => current.allowed_sources.clone(),
            Patch::Null => None,
            Patch::Value(l) => Some(serde_json::json!(l)),
        };
        let mut model: inbound_prefix::ActiveModel = current.into();
        model.token_enc = Set(token_enc);
        model.allowed_sources = Set(allowed);
        model.updated_at = Set(now());
        Ok(record(model.update(self.db()).await?))
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
