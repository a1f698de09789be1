//! Policies: routing rules a tenant attaches to its numbers.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use switchboard_core::{AfterHours, BusinessWindow, FieldErrors, Holiday, KeywordRule, PolicySpec};
use uuid::Uuid;

use crate::entity::{number, policy, policy_extension};
use crate::page::{self, Page, PageRequest};
use crate::refs::{extension_ids, in_use, numbers_using, owned};
use crate::{Patch, Store, StoreError, new_id, now};

/// A policy as stored: its id, the spec as written, and timestamps.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: Uuid,
    pub spec: PolicySpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a policy; absent fields stay as they are, given ones replace.
#[derive(Debug, Clone, Default)]
pub struct PolicyPatch {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub business_hours: Option<Vec<BusinessWindow>>,
    pub holidays: Option<Vec<Holiday>>,
    pub after_hours: Patch<AfterHours>,
    pub keywords: Option<Vec<KeywordRule>>,
    pub auto_reply_interval_minutes: Option<u32>,
    pub outbound_per_minute: Option<u32>,
    pub help_reply: Patch<String>,
    pub opt_out_handling: Option<bool>,
}

pub(crate) fn spec_of(m: &policy::Model) -> Result<PolicySpec, StoreError> {
    Ok(PolicySpec {
        name: m.name.clone(),
        timezone: m.timezone.clone(),
        business_hours: serde_json::from_value(m.business_hours.clone()).map_err(StoreError::json)?,
        holidays: serde_json::from_value(m.holidays.clone()).map_err(StoreError::json)?,
        after_hours: m.after_hours.clone().map(serde_json::from_value).transpose().map_err(StoreError::json)?,
        keywords: serde_json::from_value(m.keywords.clone()).map_err(StoreError::json)?,
        auto_reply_interval_minutes: u32::try_from(m.auto_reply_interval_minutes).unwrap_or(1440),
        outbound_per_minute: u32::try_from(m.outbound_per_minute).unwrap_or(60),
        help_reply: m.help_reply.clone(),
        opt_out_handling: m.opt_out_handling,
    })
}

fn record(m: policy::Model) -> Result<Policy, StoreError> {
    Ok(Policy { id: m.id, spec: spec_of(&m)?, created_at: m.created_at, updated_at: m.updated_at })
}

/// Validates a spec completely and returns the ids of the extensions it names.
async fn check<C: ConnectionTrait>(db: &C, tenant: Uuid, spec: &PolicySpec) -> Result<Vec<Uuid>, StoreError> {
    let mut errors: FieldErrors = spec.validate();
    let mut ids = Vec::new();
    if let Some(after) = &spec.after_hours {
        ids.extend(extension_ids(db, tenant, "after_hours.destinations", &after.destinations, &mut errors).await?);
    }
    for (i, rule) in spec.keywords.iter().enumerate() {
        ids.extend(
            extension_ids(db, tenant, &format!("keywords[{i}].destinations"), &rule.destinations, &mut errors).await?,
        );
    }
    errors.finish().map_err(StoreError::Invalid)?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

async fn write_links<C: ConnectionTrait>(db: &C, policy_id: Uuid, ext_ids: &[Uuid]) -> Result<(), StoreError> {
    policy_extension::Entity::delete_many().filter(policy_extension::Column::PolicyId.eq(policy_id)).exec(db).await?;
    if !ext_ids.is_empty() {
        policy_extension::Entity::insert_many(
            ext_ids.iter().map(|e| policy_extension::ActiveModel { policy_id: Set(policy_id), extension_id: Set(*e) }),
        )
        .exec(db)
        .await?;
    }
    Ok(())
}

fn fill(model: &mut policy::ActiveModel, spec: &PolicySpec) {
    model.name = Set(spec.name.clone());
    model.timezone = Set(spec.timezone.clone());
    model.business_hours = Set(to_json(&spec.business_hours));
    model.holidays = Set(to_json(&spec.holidays));
    model.after_hours = Set(spec.after_hours.as_ref().map(to_json));
    model.keywords = Set(to_json(&spec.keywords));
    model.auto_reply_interval_minutes = Set(i32::try_from(spec.auto_reply_interval_minutes).unwrap_or(i32::MAX));
    model.outbound_per_minute = Set(i32::try_from(spec.outbound_per_minute).unwrap_or(i32::MAX));
    model.help_reply = Set(spec.help_reply.clone());
    model.opt_out_handling = Set(spec.opt_out_handling);
    model.updated_at = Set(now());
}

impl Store {
    /// Creates a policy after checking every rule and every extension it names.
    pub async fn create_policy(&self, tenant: Uuid, spec: PolicySpec) -> Result<Policy, StoreError> {
        let txn = self.write_txn().await?;
        let ext_ids = check(&txn, tenant, &spec).await?;
        let at = now();
        let mut model = policy::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            created_at: Set(at),
            ..Default::default()
        };
        fill(&mut model, &spec);
        let model = model.insert(&txn).await?;
        write_links(&txn, model.id, &ext_ids).await?;
        txn.commit().await?;
        record(model)
    }

    /// The tenant's policies, oldest first.
    pub async fn list_policies(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Policy>, StoreError> {
        let select = policy::Entity::find().filter(policy::Column::TenantId.eq(tenant));
        let page = page::fetch(self.db(), select, policy::Column::Id, |m| m.id, req, false).await?;
        Ok(Page { items: page.items.into_iter().map(record).collect::<Result<_, _>>()?, next_cursor: page.next_cursor })
    }

    /// One policy of the tenant.
    pub async fn get_policy(&self, tenant: Uuid, id: Uuid) -> Result<Policy, StoreError> {
        owned::<policy::Entity, _>(self.db(), policy::Column::TenantId, policy::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)
            .and_then(record)
    }

    /// Changes a policy; the result is checked as a whole, as if created anew.
    pub async fn update_policy(&self, tenant: Uuid, id: Uuid, patch: PolicyPatch) -> Result<Policy, StoreError> {
        let txn = self.write_txn().await?;
        let current = owned::<policy::Entity, _>(&txn, policy::Column::TenantId, policy::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let old = spec_of(&current)?;
        let spec = PolicySpec {
            name: patch.name.unwrap_or(old.name),
            timezone: patch.timezone.unwrap_or(old.timezone),
            business_hours: patch.business_hours.unwrap_or(old.business_hours),
            holidays: patch.holidays.unwrap_or(old.holidays),
            after_hours: patch.after_hours.apply(old.after_hours),
            keywords: patch.keywords.unwrap_or(old.keywords),
            auto_reply_interval_minutes: patch.auto_reply_interval_minutes.unwrap_or(old.auto_reply_interval_minutes),
            outbound_per_minute: patch.outbound_per_minute.unwrap_or(old.outbound_per_minute),
            help_reply: patch.help_reply.apply(old.help_reply),
            opt_out_handling: patch.opt_out_handling.unwrap_or(old.opt_out_handling),
        };
        let ext_ids = check(&txn, tenant, &spec).await?;
        let mut model: policy::ActiveModel = current.into();
        fill(&mut model, &spec);
        let model = model.update(&txn).await?;
        write_links(&txn, id, &ext_ids).await?;
        txn.commit().await?;
        record(model)
    }

    /// Deletes a policy no number uses.
    pub async fn delete_policy(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let current = owned::<policy::Entity, _>(&txn, policy::Column::TenantId, policy::Column::Id, tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let referrers = numbers_using(&txn, number::Column::PolicyId, id).await?;
        in_use(&format!("policy '{}'", current.name), &referrers)?;
        policy::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
