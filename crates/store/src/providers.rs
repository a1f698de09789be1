//! Providers: a tenant's connected Flowroute accounts. The secret key is sealed at rest and never
//! leaves the store through this API.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;
use switchboard_core::status::ConnectionStatus;
use switchboard_core::validation::{text, web_url};
use switchboard_core::{E164, FieldErrors};
use uuid::Uuid;

use crate::entity::{company, inbound_prefix, number, provider};
use crate::page::{self, Page, PageRequest};
use crate::refs::{in_use, numbers_using, owned};
use crate::{Patch, Store, StoreError, new_id, now};

/// Flowroute's messaging endpoint, used when a provider names none.
pub const FLOWROUTE_ENDPOINT: &str = "https://api.flowroute.com/v2.2/messages";

/// A provider as read back: no secret, and only the last characters of the access key.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: Uuid,
    pub name: String,
    /// Always `flowroute` for now.
    pub kind: String,
    /// The last four characters of the access key, to tell accounts apart.
    pub access_key_hint: String,
    /// Always true: a provider cannot exist without its secret key, which is never returned.
    pub secret_key_set: bool,
    pub endpoint: String,
    pub default_did: Option<String>,
    pub sender_id: Option<String>,
    pub catch_all_company_id: Option<Uuid>,
    /// The last check of its keys; `None` until one is made (and after the keys or the endpoint
    /// change without one).
    pub connection: Option<ConnectionCheck>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a check of a provider's keys found, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheck {
    pub status: ConnectionStatus,
    /// Flowroute's answer or the failure, in words; never a secret.
    pub detail: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// What it takes to call a provider's API: its endpoint and keys.
pub struct ProviderAccess {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: SecretString,
}

impl std::fmt::Debug for ProviderAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderAccess").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// A provider to connect.
pub struct NewProvider {
    pub name: String,
    pub kind: String,
    pub access_key: String,
    /// Write-only.
    pub secret_key: String,
    pub endpoint: Option<String>,
    /// A number of this tenant used when a sender has no number of its own.
    pub default_did: Option<String>,
    pub sender_id: Option<String>,
    /// Company given to senders that match no contact.
    pub catch_all_company_id: Option<Uuid>,
}

impl std::fmt::Debug for NewProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProvider").field("name", &self.name).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A change to a provider; absent fields stay as they are.
#[derive(Default)]
pub struct ProviderPatch {
    pub name: Option<String>,
    pub access_key: Option<String>,
    /// Write-only.
    pub secret_key: Option<String>,
    pub endpoint: Option<String>,
    pub default_did: Patch<String>,
    pub sender_id: Patch<String>,
    pub catch_all_company_id: Patch<Uuid>,
}

impl std::fmt::Debug for ProviderPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderPatch").field("name", &self.name).finish_non_exhaustive()
    }
}

fn aad(id: Uuid) -> String {
    format!("provider:{id}:secret_key")
}

fn hint(access_key: &str) -> String {
    let tail: String = access_key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}

fn record(m: provider::Model) -> Provider {
    let connection = match (m.check_status.as_deref().and_then(ConnectionStatus::parse), m.checked_at) {
        (Some(status), Some(checked_at)) => Some(ConnectionCheck { status, detail: m.check_detail, checked_at }),
        _ => None,
    };
    Provider {
        connection,
        id: m.id,
        name: m.name,
        kind: m.kind,
        access_key_hint: hint(&m.access_key),
        secret_key_set: true,
        endpoint: m.endpoint,
        default_did: m.default_did,
        sender_id: m.sender_id,
        catch_all_company_id: m.catch_all_company_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn check_key(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if value.is_empty() || value.len() > max || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.add(field, format!("must be 1 to {max} characters without spaces"));
    }
}

fn check_sender_id(errors: &mut FieldErrors, value: &str) {
    if value.is_empty() || value.len() > 32 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '+')
    {
        errors.add("sender_id", "must be 1 to 32 letters, digits, spaces or '+'");
    }
}

/// Checks the references of a provider inside the tenant, returning the normalised default DID.
async fn check_refs<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    errors: &mut FieldErrors,
    default_did: Option<&String>,
    company_id: Option<Uuid>,
) -> Result<Option<String>, StoreError> {
    let mut did_out = None;
    if let Some(did) = default_did
        && let Some(e164) = errors.check("default_did", E164::parse_nanp(did))
    {
        let held = number::Entity::find()
            .filter(number::Column::TenantId.eq(tenant))
            .filter(number::Column::E164.eq(e164.as_str()))
            .one(db)
            .await?;
        if held.is_none() {
            errors.add("default_did", format!("{e164} is not a number of this tenant; add the number first"));
        }
        did_out = Some(e164.to_string());
    }
    if let Some(id) = company_id
        && owned::<company::Entity, _>(db, company::Column::TenantId, company::Column::Id, tenant, id).await?.is_none()
    {
        errors.add("catch_all_company_id", "no such company in this tenant");
    }
    Ok(did_out)
}

/// The checks of a new provider that need no database, with their errors.
fn new_errors(input: &NewProvider) -> FieldErrors {
    let mut errors = FieldErrors::new();
    text(&mut errors, "name", &input.name, 200);
    if input.kind != "flowroute" {
        errors.add("kind", "must be 'flowroute'");
    }
    check_key(&mut errors, "access_key", &input.access_key, 128);
    check_key(&mut errors, "secret_key", &input.secret_key, 256);
    let endpoint = input.endpoint.as_deref().unwrap_or(FLOWROUTE_ENDPOINT);
    errors.check("endpoint", web_url(endpoint, false));
    if let Some(s) = &input.sender_id {
        check_sender_id(&mut errors, s);
    }
    errors
}

/// The checks of a change to a provider that need no database, with their errors.
fn patch_errors(patch: &ProviderPatch) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if let Some(name) = &patch.name {
        text(&mut errors, "name", name, 200);
    }
    if let Some(k) = &patch.access_key {
        check_key(&mut errors, "access_key", k, 128);
    }
    if let Some(k) = &patch.secret_key {
        check_key(&mut errors, "secret_key", k, 256);
    }
    if let Some(e) = &patch.endpoint {
        errors.check("endpoint", web_url(e, false));
    }
    if let Patch::Value(s) = &patch.sender_id {
        check_sender_id(&mut errors, s);
    }
    errors
}

/// Refuses a new provider whose fields are wrong on their face, before its keys are tried.
pub fn validate_new(input: &NewProvider) -> Result<(), StoreError> {
    new_errors(input).finish().map_err(StoreError::Invalid)
}

/// Refuses a change whose fields are wrong on their face, before its keys are tried.
pub fn validate_patch(patch: &ProviderPatch) -> Result<(), StoreError> {
    patch_errors(patch).finish().map_err(StoreError::Invalid)
}

impl Store {
    /// The endpoint and keys of one provider of the tenant, to call its API with.
    pub async fn provider_access(&self, tenant: Uuid, id: Uuid) -> Result<ProviderAccess, StoreError> {
        let m = owned::<provider::Entity, _>(self.db(), provider::Column::TenantId, provider::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(ProviderAccess {
            secret_key: self.open_secret(&m.secret_key_enc, &aad(m.id))?,
            endpoint: m.endpoint,
            access_key: m.access_key,
        })
    }

    /// Keeps the result of a check of a provider's keys.
    pub async fn record_provider_check(
        &self,
        tenant: Uuid,
        id: Uuid,
        check: ConnectionCheck,
    ) -> Result<Provider, StoreError> {
        let txn = self.write_txn().await?;
        let current = owned::<provider::Entity, _>(&txn, provider::Column::TenantId, provider::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut model: provider::ActiveModel = current.into();
        model.check_status = Set(Some(check.status.as_str().to_owned()));
        model.check_detail = Set(check.detail);
        model.checked_at = Set(Some(check.checked_at));
        let model = model.update(&txn).await?;
        txn.commit().await?;
        Ok(record(model))
    }

    /// Connects a provider account to the tenant.
    pub async fn create_provider(
        &self,
        tenant: Uuid,
        input: NewProvider,
        check: Option<ConnectionCheck>,
    ) -> Result<Provider, StoreError> {
        let mut errors = new_errors(&input);
        let endpoint = input.endpoint.clone().unwrap_or_else(|| FLOWROUTE_ENDPOINT.to_owned());
        let txn = self.write_txn().await?;
        let did = check_refs(&txn, tenant, &mut errors, input.default_did.as_ref(), input.catch_all_company_id).await?;
        errors.finish().map_err(StoreError::Invalid)?;
        let id = new_id();
        let at = now();
        let model = provider::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant),
            kind: Set(input.kind),
            name: Set(input.name),
            access_key: Set(input.access_key),
            secret_key_enc: Set(self.cipher().seal(&input.secret_key, &aad(id))),
            endpoint: Set(endpoint),
            default_did: Set(did),
            sender_id: Set(input.sender_id),
            catch_all_company_id: Set(input.catch_all_company_id),
            check_status: Set(check.as_ref().map(|c| c.status.as_str().to_owned())),
            check_detail: Set(check.as_ref().and_then(|c| c.detail.clone())),
            checked_at: Set(check.map(|c| c.checked_at)),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(record(model))
    }

    /// The tenant's providers, oldest first.
    pub async fn list_providers(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Provider>, StoreError> {
        let select = provider::Entity::find().filter(provider::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, provider::Column::Id, |m| m.id, req, false).await?.map(record))
    }

    /// One provider of the tenant.
    pub async fn get_provider(&self, tenant: Uuid, id: Uuid) -> Result<Provider, StoreError> {
        owned::<provider::Entity, _>(self.db(), provider::Column::TenantId, provider::Column::Id, tenant, id)
            .await?
            .map(record)
            .ok_or(StoreError::NotFound)
    }

    /// Changes a provider; a new secret key is sealed afresh. `check` is the check of the keys it
    /// will have; without one, a change of keys or endpoint forgets the last check (it was of
    /// other keys).
    pub async fn update_provider(
        &self,
        tenant: Uuid,
        id: Uuid,
        patch: ProviderPatch,
        check: Option<ConnectionCheck>,
    ) -> Result<Provider, StoreError> {
        let mut errors = patch_errors(&patch);
        let txn = self.write_txn().await?;
        let current = owned::<provider::Entity, _>(&txn, provider::Column::TenantId, provider::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        // The stored secret was given for the current endpoint: it never follows the provider to
        // another host unless the admin gives it again.
        if patch.endpoint.as_ref().is_some_and(|e| *e != current.endpoint) && patch.secret_key.is_none() {
            errors
                .add("secret_key", "is required when the endpoint changes (the stored one is not sent to a new host)");
        }
        let did_in = match &patch.default_did {
            Patch::Value(v) => Some(v),
            _ => None,
        };
        let company_in = match patch.catch_all_company_id {
            Patch::Value(v) => Some(v),
            _ => None,
        };
        let did = check_refs(&txn, tenant, &mut errors, did_in, company_in).await?;
        errors.finish().map_err(StoreError::Invalid)?;
        let default_did = match patch.default_did {
            Patch::Value(_) => did,
            other => other.apply(current.default_did.clone()),
        };
        let sender_id = patch.sender_id.apply(current.sender_id.clone());
        let company = patch.catch_all_company_id.apply(current.catch_all_company_id);
        let mut model: provider::ActiveModel = current.into();
        let keys_change = patch.access_key.is_some() || patch.secret_key.is_some() || patch.endpoint.is_some();
        if check.is_some() || keys_change {
            model.check_status = Set(check.as_ref().map(|c| c.status.as_str().to_owned()));
            model.check_detail = Set(check.as_ref().and_then(|c| c.detail.clone()));
            model.checked_at = Set(check.map(|c| c.checked_at));
        }
        if let Some(v) = patch.name {
            model.name = Set(v);
        }
        if let Some(v) = patch.access_key {
            model.access_key = Set(v);
        }
        if let Some(v) = patch.secret_key {
            model.secret_key_enc = Set(self.cipher().seal(&v, &aad(id)));
        }
        if let Some(v) = patch.endpoint {
            model.endpoint = Set(v);
        }
        model.default_did = Set(default_did);
        model.sender_id = Set(sender_id);
        model.catch_all_company_id = Set(company);
        model.updated_at = Set(now());
        let model = model.update(&txn).await?;
        txn.commit().await?;
        Ok(record(model))
    }

    /// Deletes a provider no prefix or number uses.
    pub async fn delete_provider(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        owned::<provider::Entity, _>(&txn, provider::Column::TenantId, provider::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut referrers: Vec<String> = inbound_prefix::Entity::find()
            .filter(inbound_prefix::Column::ProviderId.eq(id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| format!("prefix '{}'", p.prefix))
            .collect();
        referrers.extend(numbers_using(&txn, number::Column::ProviderId, id).await?);
        in_use("this provider", &referrers)?;
        provider::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
