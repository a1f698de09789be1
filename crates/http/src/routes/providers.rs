//! `/api/v1/tenants/{tenant}/providers`: connected Flowroute accounts. Keys are tried when they are
//! given (a provider is created, or its keys or endpoint change): keys Flowroute refuses are `422`;
//! a Flowroute that cannot be asked does not stop the change, and the provider shows why.

use actix_web::{HttpResponse, post, web};
use secrecy::SecretString;
use switchboard_core::FieldErrors;
use switchboard_core::status::ConnectionStatus;
use switchboard_engine::onboard::{credentials, credentials_of};
use switchboard_store::providers::{self as store, ConnectionCheck, FLOWROUTE_ENDPOINT};
use switchboard_store::{PageRequest, StoreError};
use uuid::Uuid;

use super::path_id;
use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::Page;
use crate::api::providers::{Connection, NewProvider, Provider, ProviderPatch};
use crate::auth::TenantScope;
use crate::error::{ApiError, Problem};

/// The `providers` resource.
pub struct Providers;

/// Refuses keys Flowroute refused, naming both fields.
fn refuse_bad_keys(check: &ConnectionCheck) -> Result<(), ApiError> {
    if check.status != ConnectionStatus::BadCredentials {
        return Ok(());
    }
    let why = check.detail.clone().unwrap_or_else(|| "Flowroute refused the keys".into());
    let mut errors = FieldErrors::new();
    errors.add("access_key", format!("{why} (check the access key and the secret key)"));
    errors.add("secret_key", why);
    Err(StoreError::Invalid(errors.into_vec()).into())
}

impl Resource for Providers {
    const COLLECTION: &'static str = "providers";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Connects a provider account: the keys are tried with a read-only call first (keys Flowroute refuses are `422`; a Flowroute that cannot be reached is recorded in `connection`); `secret_key` is sealed at rest and never returned.",
        list: "Lists the tenant's providers.",
        get: "Reads a provider, with the last check of its keys.",
        update: "Changes a provider; new keys or a new endpoint are tried first, like a new provider's. A new `secret_key` replaces the old one.",
        delete: "Deletes a provider that no prefix or number uses.",
    };

    type Key = Uuid;
    type New = NewProvider;
    type Patch = ProviderPatch;
    type Item = Provider;

    async fn create(state: &AppState, scope: &TenantScope, new: NewProvider) -> Result<Provider, ApiError> {
        let tenant = scope.tenant.id;
        let new: store::NewProvider = new.into();
        store::validate_new(&new)?;
        let endpoint = new.endpoint.as_deref().unwrap_or(FLOWROUTE_ENDPOINT);
        let creds = credentials_of(&new.access_key, SecretString::from(new.secret_key.clone()));
        let found = state.engine.check_connection(endpoint, &creds).await;
        refuse_bad_keys(&found)?;
        Ok(state.store.create_provider(tenant, new, Some(found)).await?.into())
    }

    async fn list(state: &AppState, tenant: Uuid, page: PageRequest) -> Result<Page<Provider>, ApiError> {
        Ok(state.store.list_providers(tenant, page).await?.into())
    }

    async fn get(state: &AppState, tenant: Uuid, key: Uuid) -> Result<Provider, ApiError> {
        Ok(state.store.get_provider(tenant, key).await?.into())
    }

    async fn update(
        state: &AppState,
        scope: &TenantScope,
        key: Uuid,
        patch: ProviderPatch,
    ) -> Result<Provider, ApiError> {
        let tenant = scope.tenant.id;
        let patch: store::ProviderPatch = patch.into();
        store::validate_patch(&patch)?;
        let mut tried = None;
        if patch.access_key.is_some() || patch.secret_key.is_some() || patch.endpoint.is_some() {
            let current = state.store.provider_access(tenant, key).await?;
            let endpoint = patch.endpoint.clone().unwrap_or_else(|| current.endpoint.clone());
            let secret = match &patch.secret_key {
                Some(given) => Some(SecretString::from(given.clone())),
                // The stored secret is never sent to another host (the store refuses the change).
                None if endpoint == current.endpoint => Some(current.secret_key.clone()),
                None => None,
            };
            if let Some(secret) = secret {
                let access_key = patch.access_key.as_deref().unwrap_or(&current.access_key);
                let found = state.engine.check_connection(&endpoint, &credentials_of(access_key, secret)).await;
                refuse_bad_keys(&found)?;
                tried = Some(found);
            }
        }
        Ok(state.store.update_provider(tenant, key, patch, tried).await?.into())
    }

    async fn delete(state: &AppState, tenant: Uuid, key: Uuid) -> Result<(), ApiError> {
        Ok(state.store.delete_provider(tenant, key).await?)
    }
}

/// Tries the provider's keys now with a read-only call to Flowroute, and keeps the result on the
/// provider: `ok`, `bad_credentials` or `unreachable`, with Flowroute's words and the time.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Connection), (status = 404, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers/{id}/check")]
pub async fn check_keys(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = (scope.tenant.id, path_id(&path.1)?);
    let access = state.store.provider_access(tenant, id).await?;
    let found = state.engine.check_connection(&access.endpoint, &credentials(&access)).await;
    let provider = state.store.record_provider_check(tenant, id, found).await?;
    let connection = provider.connection.map(Connection::from).ok_or_else(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(connection))
}
