//! `/api/v1/tenants/{tenant}/companies` and `…/contacts`: who texts the tenant.

use actix_web::{HttpResponse, post, web};
use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::directory::{
    CompaniesImported, Company, CompanyInput, Contact, ContactPatch, ContactsImported, ImportCompanies, ImportContacts,
    NewContact,
};
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

/// The `companies` resource.
pub struct Companies;

/// The `contacts` resource.
pub struct Contacts;

impl Resource for Companies {
    const COLLECTION: &'static str = "companies";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Adds a company.",
        list: "Lists the tenant's companies.",
        get: "Reads a company.",
        update: "Renames a company.",
        delete: "Deletes a company that no contact or provider names.",
    };
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = CompanyInput;
    type Patch = CompanyInput;
    type Item = Company;

    super::resource::store_calls!(create_company, list_companies, get_company, update_company, delete_company);
}

impl Resource for Contacts {
    const COLLECTION: &'static str = "contacts";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Adds a contact: a phone number, a name and optionally a company.",
        list: "Lists the tenant's contacts.",
        get: "Reads a contact.",
        update: "Changes a contact.",
        delete: "Deletes a contact; messages keep their history.",
    };
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = NewContact;
    type Patch = ContactPatch;
    type Item = Contact;

    super::resource::store_calls!(create_contact, list_contacts, get_contact, update_contact, delete_contact);
}

/// Adds contacts in one step, or updates those whose phone the tenant has already (a CRM's
/// export, say): all or none, each refusal naming its row (`rows[3].phone`). Companies are named,
/// matched ignoring case, and made when missing.
#[utoipa::path(tag = "contacts", security(("bearer" = [])), params(("tenant" = String, Path)),
    request_body = ImportContacts,
    responses((status = 200, body = ContactsImported), (status = 404, body = Problem), (status = 409, body = Problem, description = "a phone was added by someone else meanwhile"), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/contacts:import")]
pub async fn import_contacts(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<ImportContacts>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(import(&state, scope.tenant.id, body).await?))
}

/// Imports contacts (for the API and the portal).
pub(crate) async fn import(state: &AppState, tenant: Uuid, body: ImportContacts) -> Result<ContactsImported, ApiError> {
    let rows = body.rows.into_iter().map(Into::into).collect();
    Ok(state.store.import_contacts(tenant, rows).await?.into())
}

/// Adds the companies named that the tenant lacks (matched ignoring case), all or none, each
/// refusal naming its row (`rows[3].name`).
#[utoipa::path(tag = "companies", security(("bearer" = [])), params(("tenant" = String, Path)),
    request_body = ImportCompanies,
    responses((status = 200, body = CompaniesImported), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/companies:import")]
pub async fn import_companies(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<ImportCompanies>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(import_company_rows(&state, scope.tenant.id, body).await?))
}

/// Imports companies (for the API and the portal).
pub(crate) async fn import_company_rows(
    state: &AppState,
    tenant: Uuid,
    body: ImportCompanies,
) -> Result<CompaniesImported, ApiError> {
    let names = body.rows.into_iter().map(|r| r.name).collect();
    Ok(state.store.import_companies(tenant, names).await?.into())
}
