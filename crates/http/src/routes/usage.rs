//! `GET /api/v1/usage`: what each tenant used in a month, for the operator.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use switchboard_store::usage as store;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::SystemAdmin;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(usage);
}

/// Query of `GET /api/v1/usage`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The month, `YYYY-MM` (UTC); the current one when left out.
    pub month: Option<String>,
}

/// One tenant's use in the month.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantUsage {
    pub tenant_id: Uuid,
    pub slug: String,
    pub name: String,
    /// `active` or `suspended`, now.
    pub status: String,
    /// Numbers it holds now.
    pub numbers: u64,
    pub texts_in: u64,
    pub texts_out: u64,
    /// Segments: what Flowroute counts and bills.
    pub segments_in: u64,
    pub segments_out: u64,
    /// Outbound texts that failed.
    pub failed_out: u64,
}

impl From<store::TenantUsage> for TenantUsage {
    fn from(u: store::TenantUsage) -> Self {
        Self {
            tenant_id: u.tenant_id,
            slug: u.slug,
            name: u.name,
            status: u.status,
            numbers: u.numbers,
            texts_in: u.texts_in,
            texts_out: u.texts_out,
            segments_in: u.segments_in,
            segments_out: u.segments_out,
            failed_out: u.failed_out,
        }
    }
}

/// Every tenant's use in a month.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// `YYYY-MM`.
    pub month: String,
    /// The month's first instant, and the next month's (UTC).
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Every tenant, by slug.
    pub tenants: Vec<TenantUsage>,
}

/// The month `YYYY-MM` (the current one for none) as its first instant and the next month's.
pub fn month_bounds(month: Option<&str>) -> Result<(String, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let refuse = || {
        ApiError::invalid(vec![switchboard_core::FieldError {
            field: "month".into(),
            message: "must be a month YYYY-MM, such as 2026-12".into(),
        }])
    };
    let first = match month.map(str::trim).filter(|m| !m.is_empty()) {
        None => Utc::now().date_naive().with_day(1).ok_or_else(refuse)?,
        Some(m) if m.len() == 7 => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").map_err(|_| refuse())?,
        Some(_) => return Err(refuse()),
    };
    let next = first.checked_add_months(chrono::Months::new(1)).ok_or_else(refuse)?;
    let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t)).ok_or_else(refuse);
    Ok((first.format("%Y-%m").to_string(), at(first)?, at(next)?))
}

/// Every tenant's texts and segments in a month (UTC), and the numbers each holds now.
#[utoipa::path(operation_id = "usage", tag = "operators", security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = Usage), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/usage")]
pub async fn usage(
    _: SystemAdmin,
    state: web::Data<AppState>,
    q: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (month, since, until) = month_bounds(q.month.as_deref())?;
    let tenants = state.store.usage(since, until).await?.into_iter().map(TenantUsage::from).collect();
    Ok(HttpResponse::Ok().json(Usage { month, since, until, tenants }))
}
