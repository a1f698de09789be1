//! Companies and contacts: bodies of `…/companies` and `…/contacts`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Patch;
use switchboard_store::directory as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A company senders belong to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Company => Company { id, name, created_at, updated_at });

/// Body of `POST …/companies` and `PATCH …/companies/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    pub name: String,
}
convert!(CompanyInput => store::CompanyInput { name });

/// A contact: a phone number with a name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub name: String,
    /// E.164; unique within the tenant.
    #[schema(example = "+12065550123")]
    pub phone: String,
    pub company_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Contact => Contact { id, name, phone, company_id, created_at, updated_at });

/// Body of `POST …/contacts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub name: String,
    #[schema(example = "+12065550123")]
    pub phone: String,
    #[serde(default)]
    pub company_id: Option<Uuid>,
}
convert!(NewContact => store::NewContact { name, phone, company_id });

/// Body of `PATCH …/contacts/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub company_id: Patch<Uuid>,
}
convert!(ContactPatch => store::ContactPatch { name, phone, company_id });

/// A contact in `POST …/contacts:import`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRow {
    pub name: String,
    /// E.164, or as address books write North American numbers: `(206) 555-0123`.
    #[schema(example = "+12065550123")]
    pub phone: String,
    /// The company's name: matched ignoring case, made when the tenant has none of that name.
    /// Left out or blank, an existing contact keeps its company.
    #[serde(default)]
    #[schema(example = "Doe Plumbing")]
    pub company: Option<String>,
}
convert!(ContactRow => store::ContactRow { name, phone, company });

/// Body of `POST …/contacts:import`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportContacts {
    /// 1 to 10,000 contacts; a phone at most once.
    pub rows: Vec<ContactRow>,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactsImported {
    /// Contacts added.
    pub created: usize,
    /// Contacts whose phone the tenant had already: renamed, and moved to the company given.
    pub updated: usize,
    /// Companies made for names the tenant did not have.
    pub companies_created: usize,
}
convert!(store::ContactsImported => ContactsImported { created, updated, companies_created });

/// A company in `POST …/companies:import`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyRow {
    #[schema(example = "Doe Plumbing")]
    pub name: String,
}

/// Body of `POST …/companies:import`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCompanies {
    /// 1 to 10,000 companies; a name at most once (ignoring case).
    pub rows: Vec<CompanyRow>,
}

/// What an import of companies did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompaniesImported {
    /// Companies added.
    pub created: usize,
    /// Companies named that the tenant had already (matched ignoring case): left as they are.
    pub existing: usize,
}
convert!(store::CompaniesImported => CompaniesImported { created, existing });
