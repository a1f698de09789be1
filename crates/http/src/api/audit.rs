//! The audit log: bodies of `…/audit`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_store::audit as store;
use utoipa::ToSchema;
use uuid::Uuid;

/// A write made with a credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    /// The tenant the write was in (none for operators' own writes, such as listing tenants).
    pub tenant: Option<String>,
    pub at: DateTime<Utc>,
    /// Who: `account:<id>`, `key:<id>` or `cli:<subject>` (a token from `switchboard token`).
    #[schema(example = "account:01938f4e-7c1a-7b2c-9d3e-4f5a6b7c8d9e")]
    pub actor: String,
    /// With which credential: `session:<id>` or `key:<id>`; none for a CLI token.
    pub credential: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    pub method: String,
    /// The route, such as `/api/v1/tenants/{tenant}/numbers/{e164}`.
    pub route: String,
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// The request's body, with every secret replaced by `[redacted]`.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
}

impl From<store::AuditEntry> for AuditEntry {
    fn from(e: store::AuditEntry) -> Self {
        Self {
            id: e.id,
            tenant: e.tenant_slug,
            at: e.at,
            actor: e.actor,
            credential: e.credential,
            address: e.address,
            method: e.method,
            route: e.route,
            path: e.path,
            status: e.status,
            changes: e.changes,
        }
    }
}
