//! `/api/v1/tenants/{tenant}/api-keys`: the tenant's keys for machines.

use switchboard_store::PageRequest;
use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::Page;
use crate::api::api_keys::{ApiKey, ApiKeyPatch, NewApiKey};
use crate::auth::TenantScope;
use crate::error::ApiError;

/// The `api-keys` resource.
pub struct ApiKeys;

impl Resource for ApiKeys {
    const COLLECTION: &'static str = "api-keys";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Creates an API key with its scopes; the answer's `key` is shown only here.",
        list: "Lists the tenant's API keys, revoked ones included, without the keys.",
        get: "Reads an API key (without the key).",
        update: "Renames an API key.",
        delete: "Revokes an API key: it opens nothing from the next request on; it stays listed, marked revoked.",
    };
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = NewApiKey;
    type Patch = ApiKeyPatch;
    type Item = ApiKey;

    async fn create(state: &AppState, scope: &TenantScope, new: NewApiKey) -> Result<ApiKey, ApiError> {
        let tenant = scope.tenant.id;
        Ok(ApiKey::created(state.store.create_api_key(tenant, new.into()).await?))
    }

    async fn list(state: &AppState, tenant: Uuid, page: PageRequest) -> Result<Page<ApiKey>, ApiError> {
        Ok(state.store.list_api_keys(tenant, page).await?.into())
    }

    async fn get(state: &AppState, tenant: Uuid, key: Uuid) -> Result<ApiKey, ApiError> {
        Ok(state.store.get_api_key(tenant, key).await?.into())
    }

    async fn update(state: &AppState, scope: &TenantScope, key: Uuid, patch: ApiKeyPatch) -> Result<ApiKey, ApiError> {
        let tenant = scope.tenant.id;
        Ok(state.store.update_api_key(tenant, key, patch.into()).await?.into())
    }

    async fn delete(state: &AppState, tenant: Uuid, key: Uuid) -> Result<(), ApiError> {
        Ok(state.store.revoke_api_key(tenant, key).await?)
    }
}
