//! Quick replies: a tenant's texts its people pick in the inbox instead of typing them.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use switchboard_core::FieldErrors;
use switchboard_core::policy::MAX_REPLY_CHARS;
use switchboard_core::validation::text;
use uuid::Uuid;

use crate::entity::reply_template;
use crate::page::{self, Page, PageRequest};
use crate::refs::owned;
use crate::{Store, StoreError, new_id, now};

/// A quick reply, as stored.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A quick reply to add, or its new name and text.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub name: String,
    pub body: String,
}

/// A change to a quick reply; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub body: Option<String>,
}

fn record(m: reply_template::Model) -> Template {
    Template { id: m.id, name: m.name, body: m.body, created_at: m.created_at, updated_at: m.updated_at }
}

fn check(input: &TemplateInput) -> Result<(), StoreError> {
    let mut errors = FieldErrors::new();
    text(&mut errors, "name", &input.name, 100);
    text(&mut errors, "body", &input.body, MAX_REPLY_CHARS);
    errors.finish().map_err(StoreError::Invalid)
}

impl Store {
    /// Adds a quick reply.
    pub async fn create_template(&self, tenant: Uuid, input: TemplateInput) -> Result<Template, StoreError> {
        check(&input)?;
        let at = now();
        let model = reply_template::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            name: Set(input.name),
            body: Set(input.body),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(self.db())
        .await?;
        Ok(record(model))
    }

    /// The tenant's quick replies, oldest first.
    pub async fn list_templates(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Template>, StoreError> {
        let select = reply_template::Entity::find().filter(reply_template::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, reply_template::Column::Id, |m| m.id, req, false).await?.map(record))
    }

    /// The tenant's quick reply `id`.
    async fn template_row(&self, tenant: Uuid, id: Uuid) -> Result<reply_template::Model, StoreError> {
        owned::<reply_template::Entity, _>(
            self.db(),
            reply_template::Column::TenantId,
            reply_template::Column::Id,
            tenant,
            id,
        )
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// One quick reply of the tenant.
    pub async fn get_template(&self, tenant: Uuid, id: Uuid) -> Result<Template, StoreError> {
        self.template_row(tenant, id).await.map(record)
    }

    /// Changes a quick reply's name or text.
    pub async fn update_template(&self, tenant: Uuid, id: Uuid, patch: TemplatePatch) -> Result<Template, StoreError> {
        let current = self.template_row(tenant, id).await?;
        let input = TemplateInput {
            name: patch.name.unwrap_or_else(|| current.name.clone()),
            body: patch.body.unwrap_or_else(|| current.body.clone()),
        };
        check(&input)?;
        let mut model: reply_template::ActiveModel = current.into();
        model.name = Set(input.name);
        model.body = Set(input.body);
        model.updated_at = Set(now());
        Ok(record(model.update(self.db()).await?))
    }

    /// Deletes a quick reply.
    pub async fn delete_template(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        let res = reply_template::Entity::delete_many()
            .filter(reply_template::Column::TenantId.eq(tenant))
            .filter(reply_template::Column::Id.eq(id))
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
