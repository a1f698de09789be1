//! `/api/v1/tenants`: the system administrator's tenant list; a tenant admin reads and edits its own.

use actix_web::{HttpResponse, delete, get, patch, post, web};

use super::ListQuery;
use crate::AppState;
use crate::api::Page;
use crate::api::tenants::{NewTenant, Tenant, TenantCreated, TenantPatch, WebhookSecretRotated};
use crate::auth::{SystemAdmin, TenantScope};
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(rotate).service(get_one).service(update).service(remove);
}

/// Creates a tenant. The response carries its webhook secret, shown this once.
#[utoipa::path(tag = "tenants", security(("bearer" = [])), request_body = NewTenant,
    responses((status = 201, body = TenantCreated), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants")]
pub async fn create(
    _: SystemAdmin,
    state: web::Data<AppState>,
    Json(body): Json<NewTenant>,
) -> Result<HttpResponse, ApiError> {
    let created = state.store.create_tenant(body.into()).await?;
    state.engine.configuration_changed();
    Ok(HttpResponse::Created().json(TenantCreated::from(created)))
}

/// Lists every tenant (system administrator only).
#[utoipa::path(operation_id = "tenants_list", tag = "tenants", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Tenant>), (status = 403, body = Problem)))]
#[get("/api/v1/tenants")]
pub async fn list(
    _: SystemAdmin,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Page::<Tenant>::from(state.store.list_tenants(q.page()?).await?)))
}

/// Reads a tenant.
#[utoipa::path(operation_id = "tenants_get_one", tag = "tenants", security(("bearer" = [])), params(("tenant" = String, Path, description = "slug")),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}")]
pub async fn get_one(scope: TenantScope) -> HttpResponse {
    HttpResponse::Ok().json(Tenant::from(scope.tenant))
}

/// Changes name or webhook URL; only the system administrator may change `status`.
#[utoipa::path(tag = "tenants", security(("bearer" = [])), params(("tenant" = String, Path, description = "slug")),
    request_body = TenantPatch,
    responses((status = 200, body = Tenant), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}")]
pub async fn update(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<TenantPatch>,
) -> Result<HttpResponse, ApiError> {
    if body.status.is_some() && !scope.is_system() {
        return Err(ApiError::forbidden());
    }
    let tenant = state.store.update_tenant(&scope.tenant.slug, body.into()).await?;
    // A suspended tenant's texts are refused, and its streams closed, from now on.
    state.engine.configuration_changed();
    Ok(HttpResponse::Ok().json(Tenant::from(tenant)))
}

/// Deletes a tenant and all it owns (system administrator only); refused while it holds numbers.
#[utoipa::path(tag = "tenants", security(("bearer" = [])), params(("tenant" = String, Path, description = "slug")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}")]
pub async fn remove(scope: TenantScope, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !scope.is_system() {
        return Err(ApiError::forbidden());
    }
    state.store.delete_tenant(&scope.tenant.slug).await?;
    state.engine.configuration_changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the webhook signing secret; the previous one keeps signing for 24 hours.
#[utoipa::path(tag = "tenants", security(("bearer" = [])), params(("tenant" = String, Path, description = "slug")),
    responses((status = 200, body = WebhookSecretRotated), (status = 404, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/webhook-secret:rotate")]
pub async fn rotate(scope: TenantScope, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rotated = state.store.rotate_webhook_secret(&scope.tenant.slug).await?;
    Ok(HttpResponse::Ok().json(WebhookSecretRotated::from(rotated)))
}
