//! The audit log: every write made with a credential, newest first.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entity::{audit_entry, tenant};
use crate::page::{self, Page, PageRequest};
use crate::{Store, StoreError, new_id, now};

/// A write to record. `changes` must already have its secrets redacted.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// The tenant's slug, as the path (or the created tenant) named it.
    pub tenant_slug: Option<String>,
    /// The tenant's id, where the request named none (signing in).
    pub tenant_id: Option<Uuid>,
    /// `account:<id>`, `key:<id>` or `cli:<subject>`.
    pub actor: String,
    /// `session:<id>` or `key:<id>`; none for a CLI token.
    pub credential: Option<String>,
    pub address: Option<String>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: u16,
    pub changes: Option<serde_json::Value>,
}

/// A recorded write.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: Uuid,
    pub tenant_slug: Option<String>,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub credential: Option<String>,
    pub address: Option<String>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: u16,
    pub changes: Option<serde_json::Value>,
}

/// Filters of the audit log; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Only entries of this tenant (by id); the operators' view may leave it out.
    pub tenant: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
}

fn clip(s: String, max: usize) -> String {
    if s.chars().count() <= max { s } else { s.chars().take(max).collect() }
}

impl Store {
    /// Records a write; the tenant is looked up by its slug, or its slug by its id (none if it no
    /// longer exists).
    pub async fn record_audit(&self, e: NewAuditEntry) -> Result<(), StoreError> {
        let (tenant_id, tenant_slug) = match (&e.tenant_slug, e.tenant_id) {
            (Some(slug), _) => {
                let found =
                    tenant::Entity::find().filter(tenant::Column::Slug.eq(slug.as_str())).one(self.db()).await?;
                (found.map(|t| t.id), e.tenant_slug.clone())
            }
            (None, Some(id)) => match tenant::Entity::find_by_id(id).one(self.db()).await? {
                Some(t) => (Some(t.id), Some(t.slug)),
                None => (None, None),
            },
            (None, None) => (None, None),
        };
        audit_entry::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant_id),
            tenant_slug: Set(tenant_slug.map(|s| clip(s, 63))),
            at: Set(now()),
            actor: Set(clip(e.actor, 100)),
            credential: Set(e.credential.map(|c| clip(c, 60))),
            address: Set(e.address.map(|a| clip(a, 64))),
            method: Set(clip(e.method, 8)),
            route: Set(clip(e.route, 200)),
            path: Set(clip(e.path, 500)),
            status: Set(i32::from(e.status)),
            changes: Set(e.changes),
        }
        .insert(self.db())
        .await?;
        Ok(())
    }

    /// Recorded writes, newest first.
    pub async fn list_audit(&self, filter: AuditFilter, req: PageRequest) -> Result<Page<AuditEntry>, StoreError> {
        let mut select = audit_entry::Entity::find();
        if let Some(tenant) = filter.tenant {
            select = select.filter(audit_entry::Column::TenantId.eq(tenant));
        }
        if let Some(actor) = filter.actor {
            select = select.filter(audit_entry::Column::Actor.eq(actor));
        }
        if let Some(since) = filter.since {
            select = select.filter(audit_entry::Column::At.gte(since));
        }
        let page = page::fetch(self.db(), select, audit_entry::Column::Id, |m| m.id, req, true).await?;
        Ok(page.map(|m| AuditEntry {
            id: m.id,
            tenant_slug: m.tenant_slug,
            at: m.at,
            actor: m.actor,
            credential: m.credential,
            address: m.address,
            method: m.method,
            route: m.route,
            path: m.path,
            status: u16::try_from(m.status).unwrap_or(0),
            changes: m.changes,
        }))
    }
}
