//! `/api/v1/tenants/{tenant}/audit` and `/api/v1/audit`: who changed what.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use switchboard_store::PageRequest;
use switchboard_store::audit::AuditFilter;

use crate::AppState;
use crate::api::Page;
use crate::api::audit::AuditEntry;
use crate::auth::{SystemAdmin, TenantScope};
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(tenant_audit).service(all_audit);
}

/// Query of the audit log: filters and paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor's writes, such as `account:<id>` or `key:<id>`.
    pub actor: Option<String>,
    /// Only writes at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl AuditQuery {
    fn parse(self) -> Result<(AuditFilter, PageRequest), ApiError> {
        let page = PageRequest::parse(self.limit.as_deref(), self.cursor.as_deref())?;
        let since = match self.since.as_deref() {
            None | Some("") => None,
            Some(s) => Some(
                chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|_| {
                        ApiError::invalid(vec![switchboard_core::FieldError {
                            field: "since".into(),
                            message: "must be a time such as 2026-12-04T09:00:00Z".into(),
                        }])
                    })?
                    .with_timezone(&chrono::Utc),
            ),
        };
        Ok((AuditFilter { actor: self.actor, tenant: None, since }, page))
    }
}

/// The tenant's audit log, newest first: every write made in it with a credential.
#[utoipa::path(operation_id = "audit_tenant", tag = "audit", security(("bearer" = [])), params(("tenant" = String, Path), AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/audit")]
pub async fn tenant_audit(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (mut filter, page) = q.into_inner().parse()?;
    filter.tenant = Some(scope.tenant.id);
    Ok(HttpResponse::Ok().json(Page::<AuditEntry>::from(state.store.list_audit(filter, page).await?)))
}

/// Every tenant's audit log and the operators' own writes, newest first (operators only).
#[utoipa::path(operation_id = "audit_all", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/audit")]
pub async fn all_audit(
    _: SystemAdmin,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = q.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(Page::<AuditEntry>::from(state.store.list_audit(filter, page).await?)))
}
