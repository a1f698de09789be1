//! `/api/v1/tenants/{tenant}/extensions`: the PBX's extensions, addressed by their own name.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_store::Page;
use switchboard_store::extensions::{Extension, ExtensionPatch, NewExtension};

use super::ListQuery;
use crate::AppState;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

/// Adds an extension.
#[utoipa::path(tag = "extensions", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = NewExtension,
    responses((status = 201, body = Extension), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/extensions")]
pub async fn create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<NewExtension>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(state.store.create_extension(scope.tenant.id, body).await?))
}

/// Lists the tenant's extensions.
#[utoipa::path(tag = "extensions", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Extension>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/extensions")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.list_extensions(scope.tenant.id, q.page()?).await?))
}

/// Reads an extension.
#[utoipa::path(tag = "extensions", security(("bearer" = [])), params(("tenant" = String, Path), ("ext" = String, Path)),
    responses((status = 200, body = Extension), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/extensions/{ext}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_extension(scope.tenant.id, &path.1).await?))
}

/// Renames, enables or disables an extension.
#[utoipa::path(tag = "extensions", security(("bearer" = [])), params(("tenant" = String, Path), ("ext" = String, Path)),
    request_body = ExtensionPatch,
    responses((status = 200, body = Extension), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/extensions/{ext}")]
pub async fn update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<ExtensionPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.update_extension(scope.tenant.id, &path.1, body).await?))
}

/// Deletes an extension that no number or policy names.
#[utoipa::path(tag = "extensions", security(("bearer" = [])), params(("tenant" = String, Path), ("ext" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/extensions/{ext}")]
pub async fn remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_extension(scope.tenant.id, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
