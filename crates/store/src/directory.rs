//! The tenant's directory: companies and contacts, which inbound texts are matched against.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use switchboard_core::validation::text;
use switchboard_core::{E164, FieldErrors};
use uuid::Uuid;

use crate::entity::{company, contact, provider};
use crate::error::OnUnique;
use crate::page::{self, Page, PageRequest};
use crate::refs::{in_use, owned};
use crate::{Patch, Store, StoreError, new_id, now};

/// A company, as stored.
#[derive(Debug, Clone)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A company to create, or a company's new name.
#[derive(Debug, Clone)]
pub struct CompanyInput {
    pub name: String,
}

/// A contact, as stored.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: Uuid,
    pub name: String,
    /// E.164; unique within the tenant.
    pub phone: String,
    pub company_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A contact to add.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub name: String,
    pub phone: String,
    pub company_id: Option<Uuid>,
}

/// A change to a contact; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company_id: Patch<Uuid>,
}

fn company_record(m: company::Model) -> Company {
    Company { id: m.id, name: m.name, created_at: m.created_at, updated_at: m.updated_at }
}

fn contact_record(m: contact::Model) -> Contact {
    Contact {
        id: m.id,
        name: m.name,
        phone: m.phone,
        company_id: m.company_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

async fn check_company<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), StoreError> {
    if let Some(id) = id
        && owned::<company::Entity, _>(db, company::Column::TenantId, company::Column::Id, tenant, id).await?.is_none()
    {
        errors.add("company_id", "no such company in this tenant");
    }
    Ok(())
}

impl Store {
    /// Adds a company.
    pub async fn create_company(&self, tenant: Uuid, input: CompanyInput) -> Result<Company, StoreError> {
        let mut errors = FieldErrors::new();
        text(&mut errors, "name", &input.name, 200);
        errors.finish().map_err(StoreError::Invalid)?;
        let at = now();
        let model = company::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            name: Set(input.name),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(self.db())
        .await?;
        Ok(company_record(model))
    }

    /// The tenant's companies, oldest first.
    pub async fn list_companies(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Company>, StoreError> {
        let select = company::Entity::find().filter(company::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, company::Column::Id, |m| m.id, req, false).await?.map(company_record))
    }

    /// One company of the tenant.
    pub async fn get_company(&self, tenant: Uuid, id: Uuid) -> Result<Company, StoreError> {
        owned::<company::Entity, _>(self.db(), company::Column::TenantId, company::Column::Id, tenant, id)
            .await?
            .map(company_record)
            .ok_or(StoreError::NotFound)
    }

    /// Renames a company.
    pub async fn update_company(&self, tenant: Uuid, id: Uuid, input: CompanyInput) -> Result<Company, StoreError> {
        let mut errors = FieldErrors::new();
        text(&mut errors, "name", &input.name, 200);
        errors.finish().map_err(StoreError::Invalid)?;
        let current =
            owned::<company::Entity, _>(self.db(), company::Column::TenantId, company::Column::Id, tenant, id)
                .await?
                .ok_or(StoreError::NotFound)?;
        let mut model: company::ActiveModel = current.into();
        model.name = Set(input.name);
        model.updated_at = Set(now());
        Ok(company_record(model.update(self.db()).await?))
    }

    /// Deletes a company no contact or provider names.
    pub async fn delete_company(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let current = owned::<company::Entity, _>(&txn, company::Column::TenantId, company::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut referrers: Vec<String> = provider::Entity::find()
            .filter(provider::Column::CatchAllCompanyId.eq(id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| format!("provider '{}' (as its catch-all company)", p.name))
            .collect();
        referrers.extend(
            contact::Entity::find()
                .filter(contact::Column::CompanyId.eq(id))
                .all(&txn)
                .await?
                .into_iter()
                .map(|c| format!("contact '{}' ({})", c.name, c.phone)),
        );
        in_use(&format!("company '{}'", current.name), &referrers)?;
        company::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Adds a contact; one contact per phone number in a tenant.
    pub async fn create_contact(&self, tenant: Uuid, input: NewContact) -> Result<Contact, StoreError> {
        let mut errors = FieldErrors::new();
        text(&mut errors, "name", &input.name, 200);
        let phone = errors.check("phone", E164::parse(&input.phone)).map(|p| p.to_string()).unwrap_or_default();
        let txn = self.write_txn().await?;
        check_company(&txn, tenant, input.company_id, &mut errors).await?;
        errors.finish().map_err(StoreError::Invalid)?;
        let at = now();
        let model = contact::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            name: Set(input.name),
            phone: Set(phone.clone()),
            company_id: Set(input.company_id),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await
        .on_unique(|| format!("a contact with phone {phone} already exists in this tenant"))?;
        txn.commit().await?;
        Ok(contact_record(model))
    }

    /// The tenant's contacts, oldest first.
    pub async fn list_contacts(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Contact>, StoreError> {
        let select = contact::Entity::find().filter(contact::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, contact::Column::Id, |m| m.id, req, false).await?.map(contact_record))
    }

    /// One contact of the tenant.
    pub async fn get_contact(&self, tenant: Uuid, id: Uuid) -> Result<Contact, StoreError> {
        owned::<contact::Entity, _>(self.db(), contact::Column::TenantId, contact::Column::Id, tenant, id)
            .await?
            .map(contact_record)
            .ok_or(StoreError::NotFound)
    }

    /// Changes a contact.
    pub async fn update_contact(&self, tenant: Uuid, id: Uuid, patch: ContactPatch) -> Result<Contact, StoreError> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &patch.name {
            text(&mut errors, "name", name, 200);
        }
        let phone = match &patch.phone {
            Some(p) => errors.check("phone", E164::parse(p)).map(|p| p.to_string()),
            None => None,
        };
        let txn = self.write_txn().await?;
        let current = owned::<contact::Entity, _>(&txn, contact::Column::TenantId, contact::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if let Patch::Value(cid) = patch.company_id {
            check_company(&txn, tenant, Some(cid), &mut errors).await?;
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let company = patch.company_id.apply(current.company_id);
        let mut model: contact::ActiveModel = current.into();
        if let Some(v) = patch.name {
            model.name = Set(v);
        }
        if let Some(v) = phone.clone() {
            model.phone = Set(v);
        }
        model.company_id = Set(company);
        model.updated_at = Set(now());
        let model = model.update(&txn).await.on_unique(|| {
            format!("a contact with phone {} already exists in this tenant", phone.unwrap_or_default())
        })?;
        txn.commit().await?;
        Ok(contact_record(model))
    }

    /// Deletes a contact; messages keep their history.
    pub async fn delete_contact(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        let res = contact::Entity::delete_many()
            .filter(contact::Column::TenantId.eq(tenant))
            .filter(contact::Column::Id.eq(id))
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

/// A contact as an import names it: its company by name.
#[derive(Debug, Clone)]
pub struct ContactRow {
    pub name: String,
    pub phone: String,
    /// The company's name; one of that name is made when the tenant has none. Blank leaves an
    /// existing contact's company as it is.
    pub company: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContactsImported {
    pub created: usize,
    pub updated: usize,
    pub companies_created: usize,
}

/// The most rows one import takes.
pub const IMPORT_MAX_ROWS: usize = 10_000;

impl Store {
    /// Adds contacts, or updates those whose phone the tenant has already (name, and company when
    /// given), all in one transaction or none (phones as address books write them:
    /// `(206) 555-0123` is `+12065550123`): every row is checked first, and each refusal names
    /// its row (`rows[3].phone`). Companies are matched by name, ignoring case, and made when
    /// missing.
    pub async fn import_contacts(&self, tenant: Uuid, rows: Vec<ContactRow>) -> Result<ContactsImported, StoreError> {
        let mut errors = FieldErrors::new();
        if rows.is_empty() {
            errors.add("rows", "holds no contact");
        }
        if rows.len() > IMPORT_MAX_ROWS {
            errors.add("rows", format!("holds {} contacts; import at most {IMPORT_MAX_ROWS} at once", rows.len()));
        }
        let mut phones: Vec<String> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            text(&mut errors, &format!("rows[{i}].name"), &row.name, 200);
            // As address books write numbers: spaces, dots, dashes and brackets are dropped, and
            // ten or eleven digits without a `+` are read as North American.
            let written: String = row.phone.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')')).collect();
            let phone = errors.check(&format!("rows[{i}].phone"), E164::parse_nanp(&written)).map(|p| p.to_string());
            if let Some(company) = row.company.as_deref().filter(|c| !c.trim().is_empty()) {
                text(&mut errors, &format!("rows[{i}].company"), company.trim(), 200);
            }
            let phone = phone.unwrap_or_default();
            if !phone.is_empty() && phones.contains(&phone) {
                errors.add(format!("rows[{i}].phone"), format!("{phone} is on an earlier row too"));
            }
            phones.push(phone);
        }
        errors.finish().map_err(StoreError::Invalid)?;

        let txn = self.write_txn().await?;
        let mut companies: std::collections::HashMap<String, Uuid> = company::Entity::find()
            .filter(company::Column::TenantId.eq(tenant))
            .all(&txn)
            .await?
            .into_iter()
            .map(|c| (c.name.to_lowercase(), c.id))
            .collect();
        let mut existing: std::collections::HashMap<String, contact::Model> = std::collections::HashMap::new();
        for chunk in phones.chunks(500) {
            let found = contact::Entity::find()
                .filter(contact::Column::TenantId.eq(tenant))
                .filter(contact::Column::Phone.is_in(chunk.iter().cloned()))
                .all(&txn)
                .await?;
            existing.extend(found.into_iter().map(|c| (c.phone.clone(), c)));
        }
        let mut done = ContactsImported::default();
        let at = now();
        for (row, phone) in rows.into_iter().zip(phones) {
            let company_id = match row.company.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                None => None,
                Some(name) => Some(match companies.get(&name.to_lowercase()) {
                    Some(id) => *id,
                    None => {
                        let id = new_id();
                        company::ActiveModel {
                            id: Set(id),
                            tenant_id: Set(tenant),
                            name: Set(name.to_owned()),
                            created_at: Set(at),
                            updated_at: Set(at),
                        }
                        .insert(&txn)
                        .await?;
                        companies.insert(name.to_lowercase(), id);
                        done.companies_created += 1;
                        id
                    }
                }),
            };
            match existing.remove(&phone) {
                Some(current) => {
                    let mut model: contact::ActiveModel = current.into();
                    model.name = Set(row.name);
                    if company_id.is_some() {
                        model.company_id = Set(company_id);
                    }
                    model.updated_at = Set(at);
                    model.update(&txn).await?;
                    done.updated += 1;
                }
                None => {
                    let taken = format!("a contact with phone {phone} was added meanwhile; import again");
                    contact::ActiveModel {
                        id: Set(new_id()),
                        tenant_id: Set(tenant),
                        name: Set(row.name),
                        phone: Set(phone),
                        company_id: Set(company_id),
                        created_at: Set(at),
                        updated_at: Set(at),
                    }
                    .insert(&txn)
                    .await
                    .on_unique(|| taken)?;
                    done.created += 1;
                }
            }
        }
        txn.commit().await?;
        Ok(done)
    }

    /// Adds the companies named that the tenant lacks (names matched ignoring case), all in one
    /// transaction or none; each refusal names its row (`rows[3].name`).
    pub async fn import_companies(&self, tenant: Uuid, names: Vec<String>) -> Result<CompaniesImported, StoreError> {
        let mut errors = FieldErrors::new();
        if names.is_empty() {
            errors.add("rows", "holds no company");
        }
        if names.len() > IMPORT_MAX_ROWS {
            errors.add("rows", format!("holds {} companies; import at most {IMPORT_MAX_ROWS} at once", names.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, name) in names.iter().enumerate() {
            text(&mut errors, &format!("rows[{i}].name"), name.trim(), 200);
            if !name.trim().is_empty() && !seen.insert(name.trim().to_lowercase()) {
                errors.add(format!("rows[{i}].name"), format!("'{}' is on an earlier row too", name.trim()));
            }
        }
        errors.finish().map_err(StoreError::Invalid)?;
        let txn = self.write_txn().await?;
        let known: std::collections::HashSet<String> = company::Entity::find()
            .filter(company::Column::TenantId.eq(tenant))
            .all(&txn)
            .await?
            .into_iter()
            .map(|c| c.name.to_lowercase())
            .collect();
        let at = now();
        let mut done = CompaniesImported::default();
        for name in names {
            let name = name.trim();
            if known.contains(&name.to_lowercase()) {
                done.existing += 1;
                continue;
            }
            company::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(tenant),
                name: Set(name.to_owned()),
                created_at: Set(at),
                updated_at: Set(at),
            }
            .insert(&txn)
            .await?;
            done.created += 1;
        }
        txn.commit().await?;
        Ok(done)
    }
}

/// What an import of companies did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompaniesImported {
    pub created: usize,
    /// Named, but the tenant had them already.
    pub existing: usize,
}
