//! `/api/v1/tenants/{tenant}/numbers`: the tenant's numbers (DIDs), addressed in E.164.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_store::Page;
use switchboard_store::numbers::{NewNumber, Number, NumberPatch};

use super::ListQuery;
use crate::AppState;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

/// Adds a number; a number held by any tenant is `409`.
#[utoipa::path(tag = "numbers", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = NewNumber,
    responses((status = 201, body = Number), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/numbers")]
pub async fn create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<NewNumber>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(state.store.create_number(scope.tenant.id, body).await?))
}

/// Lists the tenant's numbers.
#[utoipa::path(tag = "numbers", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Number>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/numbers")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.list_numbers(scope.tenant.id, q.page()?).await?))
}

/// Reads a number.
#[utoipa::path(tag = "numbers", security(("bearer" = [])), params(("tenant" = String, Path), ("e164" = String, Path, description = "E.164 with its +")),
    responses((status = 200, body = Number), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/numbers/{e164}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_number(scope.tenant.id, &path.1).await?))
}

/// Changes a number; given lists replace the current ones.
#[utoipa::path(tag = "numbers", security(("bearer" = [])), params(("tenant" = String, Path), ("e164" = String, Path, description = "E.164 with its +")),
    request_body = NumberPatch,
    responses((status = 200, body = Number), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/numbers/{e164}")]
pub async fn update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<NumberPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.update_number(scope.tenant.id, &path.1, body).await?))
}

/// Releases a number; its messages stay in the history.
#[utoipa::path(tag = "numbers", security(("bearer" = [])), params(("tenant" = String, Path), ("e164" = String, Path, description = "E.164 with its +")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/numbers/{e164}")]
pub async fn remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_number(scope.tenant.id, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
