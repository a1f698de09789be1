//! API keys: a tenant's credentials for machines (a PBX integration, a script). A key is shown
//! once, when it is created; the store keeps its SHA-256, the first characters to recognise it
//! by, its scopes and its last use. A revoked key keeps its row and opens nothing from the next
//! request on, on every instance.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use secrecy::SecretString;
use switchboard_core::validation::text;
use switchboard_core::{FieldErrors, Scope};
use uuid::Uuid;

use crate::accounts::new_secret_with;
use crate::crypto::sha256_hex;
use crate::entity::{api_key, tenant};
use crate::page::{self, Page, PageRequest};
use crate::{Store, StoreError, new_id, now};

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "sbk_";
/// How many leading characters of a key are kept to recognise it by (the prefix and 8 more).
const SHOWN: usize = 12;
/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// A change to a key: only its name.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyPatch {
    pub name: Option<String>,
}

/// A key as read back: never the key itself.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// Its first characters, such as `sbk_Ab3dE5fG`.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a live key speaks for.
#[derive(Debug, Clone)]
pub struct KeyIdentity {
    pub key_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub scopes: Vec<Scope>,
}

fn scopes_of(stored: &str) -> Result<Vec<Scope>, StoreError> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Scope::parse(s).ok_or_else(|| StoreError::Internal(sea_orm::DbErr::Custom(format!("scope '{s}'")))))
        .collect()
}

fn record(m: api_key::Model) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: m.id,
        scopes: scopes_of(&m.scopes)?,
        name: m.name,
        prefix: m.prefix,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    })
}

impl Store {
    /// Creates a key; the answer holds the key itself, this once.
    pub async fn create_api_key(&self, tenant: Uuid, new: NewApiKey) -> Result<(ApiKey, SecretString), StoreError> {
        let mut errors = FieldErrors::new();
        text(&mut errors, "name", &new.name, 100);
        let mut scopes = new.scopes;
        scopes.sort_unstable();
        scopes.dedup();
        if scopes.is_empty() {
            errors.add("scopes", "must name at least one of admin, send, read");
        }
        errors.finish().map_err(StoreError::Invalid)?;
        if tenant::Entity::find_by_id(tenant).one(self.db()).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        let key = new_secret_with(API_KEY_PREFIX);
        let at = now();
        let row = api_key::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            name: Set(new.name.trim().to_owned()),
            prefix: Set(key.chars().take(SHOWN).collect()),
            secret_hash: Set(sha256_hex(&key)),
            scopes: Set(scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")),
            created_at: Set(at),
            updated_at: Set(at),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(self.db())
        .await?;
        Ok((record(row)?, SecretString::from(key)))
    }

    async fn api_key_model(&self, tenant: Uuid, id: Uuid) -> Result<api_key::Model, StoreError> {
        api_key::Entity::find_by_id(id)
            .filter(api_key::Column::TenantId.eq(tenant))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The tenant's keys, revoked ones included, oldest first.
    pub async fn list_api_keys(&self, tenant: Uuid, req: PageRequest) -> Result<Page<ApiKey>, StoreError> {
        let select = api_key::Entity::find().filter(api_key::Column::TenantId.eq(tenant));
        let page = page::fetch(self.db(), select, api_key::Column::Id, |m| m.id, req, false).await?;
        Ok(Page { items: page.items.into_iter().map(record).collect::<Result<_, _>>()?, next_cursor: page.next_cursor })
    }

    /// One of the tenant's keys.
    pub async fn get_api_key(&self, tenant: Uuid, id: Uuid) -> Result<ApiKey, StoreError> {
        record(self.api_key_model(tenant, id).await?)
    }

    /// Renames a key.
    pub async fn update_api_key(&self, tenant: Uuid, id: Uuid, patch: ApiKeyPatch) -> Result<ApiKey, StoreError> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &patch.name {
            text(&mut errors, "name", name, 100);
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let mut row = self.api_key_model(tenant, id).await?.into_active_model();
        if let Some(name) = patch.name {
            row.name = Set(name.trim().to_owned());
        }
        row.updated_at = Set(now());
        record(row.update(self.db()).await?)
    }

    /// Revokes a key: it opens nothing from the next request on. Its row stays, marked. A key
    /// already revoked is `NotFound`.
    pub async fn revoke_api_key(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        let at = now();
        let done = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, sea_orm::sea_query::Expr::value(at))
            .col_expr(api_key::Column::UpdatedAt, sea_orm::sea_query::Expr::value(at))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::TenantId.eq(tenant))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(self.db())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The identity of a live key, read on every request; records its use at most once a minute.
    pub async fn api_key_identity(&self, key: &str) -> Result<Option<KeyIdentity>, StoreError> {
        if !key.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let Some(found) =
            api_key::Entity::find().filter(api_key::Column::SecretHash.eq(sha256_hex(key))).one(self.db()).await?
        else {
            return Ok(None);
        };
        if found.revoked_at.is_some() {
            return Ok(None);
        }
        let Some(owner) = tenant::Entity::find_by_id(found.tenant_id).one(self.db()).await? else {
            return Ok(None);
        };
        let at = now();
        if found.last_used_at.is_none_or(|last| at - last >= TOUCH_EVERY) {
            let id = found.id;
            let mut touch = found.clone().into_active_model();
            touch.last_used_at = Set(Some(at));
            if let Err(e) = touch.update(self.db()).await {
                tracing::debug!(key = %id, error = %e, "could not record a key's last use");
            }
        }
        Ok(Some(KeyIdentity {
            key_id: found.id,
            tenant_id: owner.id,
            tenant_slug: owner.slug,
            scopes: scopes_of(&found.scopes)?,
        }))
    }
}
