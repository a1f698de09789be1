//! `/api/v1/tenants/{tenant}/prefixes`: the URLs Flowroute posts the tenant's texts to.

use switchboard_store::PageRequest;
use switchboard_store::prefixes::Prefix as StoredPrefix;
use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::Page;
use crate::api::prefixes::{NewPrefix, Prefix, PrefixPatch};
use crate::auth::TenantScope;
use crate::error::ApiError;

/// The `prefixes` resource.
pub struct Prefixes;

/// The prefix with the URL to enter in Flowroute (and its token, when it needs one).
fn with_url(state: &AppState, mut p: StoredPrefix) -> Prefix {
    p.webhook_url = switchboard_engine::onboard::prefix_url(&state.public_url, &p.prefix, p.token.as_deref());
    p.into()
}

impl Resource for Prefixes {
    const COLLECTION: &'static str = "prefixes";
    const KEY: (&'static str, Option<&'static str>) = ("prefix", None);
    const DOCS: Docs = Docs {
        create: "Claims a prefix; the answer's `webhook_url` is what to enter in Flowroute. A prefix taken by any tenant is `409`.",
        list: "Lists the tenant's prefixes.",
        get: "Reads a prefix.",
        update: "Sets or removes the prefix's token and source allow-list.",
        delete: "Releases a prefix that no number uses.",
    };
    const CREATE_CONFLICTS: bool = true;

    type Key = String;
    type New = NewPrefix;
    type Patch = PrefixPatch;
    type Item = Prefix;

    async fn create(state: &AppState, scope: &TenantScope, new: NewPrefix) -> Result<Prefix, ApiError> {
        let tenant = scope.tenant.id;
        Ok(with_url(state, state.store.create_prefix(tenant, new.into()).await?))
    }

    async fn list(state: &AppState, tenant: Uuid, page: PageRequest) -> Result<Page<Prefix>, ApiError> {
        Ok(state.store.list_prefixes(tenant, page).await?.map(|p| with_url(state, p)).into())
    }

    async fn get(state: &AppState, tenant: Uuid, key: String) -> Result<Prefix, ApiError> {
        Ok(with_url(state, state.store.get_prefix(tenant, &key).await?))
    }

    async fn update(
        state: &AppState,
        scope: &TenantScope,
        key: String,
        patch: PrefixPatch,
    ) -> Result<Prefix, ApiError> {
        let tenant = scope.tenant.id;
        Ok(with_url(state, state.store.update_prefix(tenant, &key, patch.into()).await?))
    }

    async fn delete(state: &AppState, tenant: Uuid, key: String) -> Result<(), ApiError> {
        Ok(state.store.delete_prefix(tenant, &key).await?)
    }
}
