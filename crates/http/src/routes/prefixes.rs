//! `/api/v1/tenants/{tenant}/prefixes`: the URLs Flowroute posts the tenant's texts to.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_store::Page;
use switchboard_store::prefixes::{NewPrefix, Prefix, PrefixPatch};

use super::ListQuery;
use crate::AppState;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

fn with_url(state: &AppState, mut p: Prefix) -> Prefix {
    p.webhook_url = format!("{}/{}", state.public_url.trim_end_matches('/'), p.prefix);
    if let Some(token) = &p.token {
        p.webhook_url = format!("{}?token={token}", p.webhook_url);
    }
    p
}

/// Claims a prefix; the answer's `webhook_url` is what to enter in Flowroute. A prefix taken by
/// any tenant is `409`.
#[utoipa::path(tag = "prefixes", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = NewPrefix,
    responses((status = 201, body = Prefix), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/prefixes")]
pub async fn create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<NewPrefix>,
) -> Result<HttpResponse, ApiError> {
    let p = state.store.create_prefix(scope.tenant.id, body).await?;
    Ok(HttpResponse::Created().json(with_url(&state, p)))
}

/// Lists the tenant's prefixes.
#[utoipa::path(tag = "prefixes", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Prefix>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/prefixes")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.list_prefixes(scope.tenant.id, q.page()?).await?;
    Ok(HttpResponse::Ok().json(page.map(|p| with_url(&state, p))))
}

/// Reads a prefix.
#[utoipa::path(tag = "prefixes", security(("bearer" = [])), params(("tenant" = String, Path), ("prefix" = String, Path)),
    responses((status = 200, body = Prefix), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/prefixes/{prefix}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let p = state.store.get_prefix(scope.tenant.id, &path.1).await?;
    Ok(HttpResponse::Ok().json(with_url(&state, p)))
}

/// Sets or removes the prefix's token and source allow-list.
#[utoipa::path(tag = "prefixes", security(("bearer" = [])), params(("tenant" = String, Path), ("prefix" = String, Path)),
    request_body = PrefixPatch,
    responses((status = 200, body = Prefix), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/prefixes/{prefix}")]
pub async fn update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<PrefixPatch>,
) -> Result<HttpResponse, ApiError> {
    let p = state.store.update_prefix(scope.tenant.id, &path.1, body).await?;
    Ok(HttpResponse::Ok().json(with_url(&state, p)))
}

/// Releases a prefix that no number uses.
#[utoipa::path(tag = "prefixes", security(("bearer" = [])), params(("tenant" = String, Path), ("prefix" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/prefixes/{prefix}")]
pub async fn remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_prefix(scope.tenant.id, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
