//! Extensions: the PBX's own names for the people and phones that receive and send texts.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use switchboard_core::FieldErrors;
use switchboard_core::identity::normalize_email;
use switchboard_core::names::check_extension;
use switchboard_core::sip::check_user;
use switchboard_core::validation::text;
use uuid::Uuid;

use crate::entity::{account, extension, number, number_destination, number_sender, policy, policy_extension};
use crate::error::OnUnique;
use crate::page::{self, Page, PageRequest};
use crate::refs::in_use;
use crate::{Patch, Store, StoreError, new_id, now};

/// An extension, as stored.
#[derive(Debug, Clone)]
pub struct Extension {
    pub id: Uuid,
    /// As the PBX knows it, such as `101`.
    pub extension: String,
    pub name: String,
    /// A disabled extension receives no texts and may not send.
    pub enabled: bool,
    /// The user part of its SIP address on the tenant's PBX (`sip:<user>@<domain>`); texts routed
    /// to it are also sent there as SIP MESSAGEs. None: no SIP delivery.
    pub sip_user: Option<String>,
    /// Where its texts are emailed when nobody read them within `email_delay_minutes` (nor took
    /// them on the phone). None: no email.
    pub email: Option<String>,
    /// 1 to 1,440; 5 unless set.
    pub email_delay_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An extension to add.
#[derive(Debug, Clone)]
pub struct NewExtension {
    pub extension: String,
    pub name: String,
    pub enabled: Option<bool>,
    pub sip_user: Option<String>,
    pub email: Option<String>,
    pub email_delay_minutes: Option<i32>,
}

/// A change to an extension; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ExtensionPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// `null` stops SIP delivery.
    pub sip_user: Patch<String>,
    /// `null` stops email.
    pub email: Patch<String>,
    pub email_delay_minutes: Option<i32>,
}

/// Checks an extension's email settings, and answers the address as it is kept (lower case).
fn check_email(errors: &mut FieldErrors, email: Option<&String>, delay: Option<i32>) -> Option<String> {
    let kept = email.and_then(|e| normalize_email(e));
    if email.is_some() && kept.is_none() {
        errors.add("email", "must be one email address, such as front.desk@example.com");
    }
    if let Some(d) = delay
        && !(1..=1440).contains(&d)
    {
        errors.add("email_delay_minutes", "must be between 1 and 1440 (a day)");
    }
    kept
}

fn record(m: extension::Model) -> Extension {
    Extension {
        id: m.id,
        extension: m.extension,
        name: m.name,
        enabled: m.enabled,
        sip_user: m.sip_user,
        email: m.email,
        email_delay_minutes: m.email_delay_minutes,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

impl Store {
    /// Adds an extension to the tenant.
    pub async fn create_extension(&self, tenant: Uuid, input: NewExtension) -> Result<Extension, StoreError> {
        let mut errors = FieldErrors::new();
        errors.check("extension", check_extension(&input.extension));
        text(&mut errors, "name", &input.name, 200);
        if let Some(user) = &input.sip_user {
            errors.check("sip_user", check_user(user));
        }
        let email = check_email(&mut errors, input.email.as_ref(), input.email_delay_minutes);
        errors.finish().map_err(StoreError::Invalid)?;
        let at = now();
        let model = extension::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            extension: Set(input.extension.clone()),
            name: Set(input.name),
            enabled: Set(input.enabled.unwrap_or(true)),
            sip_user: Set(input.sip_user),
            email: Set(email),
            email_delay_minutes: Set(input.email_delay_minutes.unwrap_or(5)),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(self.db())
        .await
        .on_unique(|| format!("extension '{}' already exists in this tenant", input.extension))?;
        Ok(record(model))
    }

    /// The tenant's extensions, oldest first.
    pub async fn list_extensions(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Extension>, StoreError> {
        let select = extension::Entity::find().filter(extension::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, extension::Column::Id, |m| m.id, req, false).await?.map(record))
    }

    async fn extension_model<C: sea_orm::ConnectionTrait>(
        db: &C,
        tenant: Uuid,
        ext: &str,
    ) -> Result<extension::Model, StoreError> {
        extension::Entity::find()
            .filter(extension::Column::TenantId.eq(tenant))
            .filter(extension::Column::Extension.eq(ext))
            .one(db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// One extension of the tenant.
    pub async fn get_extension(&self, tenant: Uuid, ext: &str) -> Result<Extension, StoreError> {
        Self::extension_model(self.db(), tenant, ext).await.map(record)
    }

    /// Renames, enables or disables an extension, or sets its SIP user.
    pub async fn update_extension(
        &self,
        tenant: Uuid,
        ext: &str,
        patch: ExtensionPatch,
    ) -> Result<Extension, StoreError> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &patch.name {
            text(&mut errors, "name", name, 200);
        }
        if let Patch::Value(user) = &patch.sip_user {
            errors.check("sip_user", check_user(user));
        }
        let email = match &patch.email {
            Patch::Value(e) => Patch::Value(check_email(&mut errors, Some(e), patch.email_delay_minutes)),
            Patch::Null => Patch::Null,
            Patch::Absent => {
                check_email(&mut errors, None, patch.email_delay_minutes);
                Patch::Absent
            }
        };
        errors.finish().map_err(StoreError::Invalid)?;
        let current = Self::extension_model(self.db(), tenant, ext).await?;
        let sip_user = patch.sip_user.apply(current.sip_user.clone());
        let mut model: extension::ActiveModel = current.into();
        model.sip_user = Set(sip_user);
        match email {
            Patch::Value(e) => model.email = Set(e),
            Patch::Null => model.email = Set(None),
            Patch::Absent => {}
        }
        if let Some(d) = patch.email_delay_minutes {
            model.email_delay_minutes = Set(d);
        }
        if let Some(v) = patch.name {
            model.name = Set(v);
        }
        if let Some(v) = patch.enabled {
            model.enabled = Set(v);
        }
        model.updated_at = Set(now());
        Ok(record(model.update(self.db()).await?))
    }

    /// Deletes an extension that no number or policy names.
    pub async fn delete_extension(&self, tenant: Uuid, ext: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let current = Self::extension_model(&txn, tenant, ext).await?;
        let mut number_ids: BTreeSet<Uuid> = number_destination::Entity::find()
            .filter(number_destination::Column::ExtensionId.eq(current.id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| r.number_id)
            .collect();
        number_ids.extend(
            number_sender::Entity::find()
                .filter(number_sender::Column::ExtensionId.eq(current.id))
                .all(&txn)
                .await?
                .into_iter()
                .map(|r| r.number_id),
        );
        let mut referrers: Vec<String> = number::Entity::find()
            .filter(number::Column::Id.is_in(number_ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|n| format!("number {}", n.e164))
            .collect();
        let policy_ids: Vec<Uuid> = policy_extension::Entity::find()
            .filter(policy_extension::Column::ExtensionId.eq(current.id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| r.policy_id)
            .collect();
        referrers.extend(
            policy::Entity::find()
                .filter(policy::Column::Id.is_in(policy_ids))
                .all(&txn)
                .await?
                .into_iter()
                .map(|p| format!("policy '{}'", p.name)),
        );
        referrers.extend(
            account::Entity::find()
                .filter(account::Column::ExtensionId.eq(current.id))
                .all(&txn)
                .await?
                .into_iter()
                .map(|a| format!("user {}", a.email)),
        );
        in_use(&format!("extension '{ext}'"), &referrers)?;
        extension::Entity::delete_by_id(current.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
