//! `/api/v1/tenants/{tenant}/providers`: connected Flowroute accounts.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_store::Page;
use switchboard_store::providers::{NewProvider, Provider, ProviderPatch};

use super::{ListQuery, path_id};
use crate::AppState;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

/// Connects a provider account; `secret_key` is sealed at rest and never returned.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = NewProvider,
    responses((status = 201, body = Provider), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers")]
pub async fn create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<NewProvider>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(state.store.create_provider(scope.tenant.id, body).await?))
}

/// Lists the tenant's providers.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Provider>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/providers")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.list_providers(scope.tenant.id, q.page()?).await?))
}

/// Reads a provider.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Provider), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/providers/{id}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_provider(scope.tenant.id, path_id(&path.1)?).await?))
}

/// Changes a provider; a new `secret_key` replaces the old one.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    request_body = ProviderPatch,
    responses((status = 200, body = Provider), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/providers/{id}")]
pub async fn update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<ProviderPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.update_provider(scope.tenant.id, path_id(&path.1)?, body).await?))
}

/// Deletes a provider that no prefix or number uses.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/providers/{id}")]
pub async fn remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_provider(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
