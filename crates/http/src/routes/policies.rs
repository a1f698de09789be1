//! `/api/v1/tenants/{tenant}/policies`: routing policies for numbers.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_core::PolicySpec;
use switchboard_store::Page;
use switchboard_store::policies::{Policy, PolicyPatch};

use super::{ListQuery, path_id};
use crate::AppState;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

/// Creates a policy; every rule and every extension it names is checked.
#[utoipa::path(tag = "policies", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = PolicySpec,
    responses((status = 201, body = Policy), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/policies")]
pub async fn create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<PolicySpec>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(state.store.create_policy(scope.tenant.id, body).await?))
}

/// Lists the tenant's policies.
#[utoipa::path(tag = "policies", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Policy>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/policies")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.list_policies(scope.tenant.id, q.page()?).await?))
}

/// Reads a policy.
#[utoipa::path(tag = "policies", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Policy), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/policies/{id}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_policy(scope.tenant.id, path_id(&path.1)?).await?))
}

/// Changes a policy; given fields replace, and the result is checked as a whole.
#[utoipa::path(tag = "policies", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    request_body = PolicyPatch,
    responses((status = 200, body = Policy), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/policies/{id}")]
pub async fn update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<PolicyPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.update_policy(scope.tenant.id, path_id(&path.1)?, body).await?))
}

/// Deletes a policy no number uses.
#[utoipa::path(tag = "policies", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/policies/{id}")]
pub async fn remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_policy(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
