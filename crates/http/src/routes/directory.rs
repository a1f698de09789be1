//! `/api/v1/tenants/{tenant}/companies` and `…/contacts`: who texts the tenant.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_store::Page;
use switchboard_store::directory::{Company, CompanyInput, Contact, ContactPatch, NewContact};

use super::{ListQuery, path_id};
use crate::AppState;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(company_create)
        .service(company_list)
        .service(company_get_one)
        .service(company_update)
        .service(company_remove)
        .service(contact_create)
        .service(contact_list)
        .service(contact_get_one)
        .service(contact_update)
        .service(contact_remove);
}

/// Adds a company.
#[utoipa::path(tag = "companies", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = CompanyInput,
    responses((status = 201, body = Company), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/companies")]
pub async fn company_create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<CompanyInput>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(state.store.create_company(scope.tenant.id, body).await?))
}

/// Lists the tenant's companies.
#[utoipa::path(tag = "companies", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Company>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/companies")]
pub async fn company_list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.list_companies(scope.tenant.id, q.page()?).await?))
}

/// Reads a company.
#[utoipa::path(tag = "companies", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Company), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/companies/{id}")]
pub async fn company_get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_company(scope.tenant.id, path_id(&path.1)?).await?))
}

/// Renames a company.
#[utoipa::path(tag = "companies", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    request_body = CompanyInput,
    responses((status = 200, body = Company), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/companies/{id}")]
pub async fn company_update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<CompanyInput>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.update_company(scope.tenant.id, path_id(&path.1)?, body).await?))
}

/// Deletes a company that no contact or provider names.
#[utoipa::path(tag = "companies", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/companies/{id}")]
pub async fn company_remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_company(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a contact: a phone number, a name and optionally a company.
#[utoipa::path(tag = "contacts", security(("bearer" = [])), params(("tenant" = String, Path)), request_body = NewContact,
    responses((status = 201, body = Contact), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/contacts")]
pub async fn contact_create(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<NewContact>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(state.store.create_contact(scope.tenant.id, body).await?))
}

/// Lists the tenant's contacts.
#[utoipa::path(tag = "contacts", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<Contact>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/contacts")]
pub async fn contact_list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.list_contacts(scope.tenant.id, q.page()?).await?))
}

/// Reads a contact.
#[utoipa::path(tag = "contacts", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Contact), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/contacts/{id}")]
pub async fn contact_get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.get_contact(scope.tenant.id, path_id(&path.1)?).await?))
}

/// Changes a contact.
#[utoipa::path(tag = "contacts", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/tenants/{tenant}/contacts/{id}")]
pub async fn contact_update(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<ContactPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.update_contact(scope.tenant.id, path_id(&path.1)?, body).await?))
}

/// Deletes a contact; messages keep their history.
#[utoipa::path(tag = "contacts", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/contacts/{id}")]
pub async fn contact_remove(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_contact(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
