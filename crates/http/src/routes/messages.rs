//! `/api/v1/tenants/{tenant}/messages` and `…/opt-outs`: the message log and the opt-out list.

use actix_web::{HttpResponse, delete, get, web};
use serde::Deserialize;
use switchboard_store::PageRequest;
use switchboard_store::messages::MessageFilter;

use super::{ListQuery, path_id};
use crate::AppState;
use crate::api::Page;
use crate::api::messages::{Message, OptOut};
use crate::auth::TenantScope;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(get_one).service(opt_outs).service(lift_opt_out);
}

/// Query of `GET …/messages`: filters and paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// The tenant's number, E.164.
    pub number: Option<String>,
    /// The other party, E.164.
    pub remote: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// `received`, `queued`, `sending`, `sent`, `delivered` or `failed`.
    pub status: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The tenant's messages, newest first.
#[utoipa::path(operation_id = "messages_list", tag = "messages", security(("bearer" = [])), params(("tenant" = String, Path), MessageQuery),
    responses((status = 200, body = Page<Message>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/messages")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<MessageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let filter = MessageFilter {
        number: q.number,
        remote: q.remote,
        direction: q.direction,
        status: q.status,
        ..MessageFilter::default()
    };
    let page = state.store.list_messages(scope.tenant.id, filter, page).await?;
    Ok(HttpResponse::Ok().json(Page::<Message>::from(page)))
}

/// One message.
#[utoipa::path(operation_id = "messages_get_one", tag = "messages", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Message), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/messages/{id}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let message = state.store.get_message(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(Message::from(message)))
}

/// The tenant's opt-outs.
#[utoipa::path(tag = "opt-outs", security(("bearer" = [])), params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = Page<OptOut>), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/opt-outs")]
pub async fn opt_outs(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.list_opt_outs(scope.tenant.id, q.page()?).await?;
    Ok(HttpResponse::Ok().json(Page::<OptOut>::from(page)))
}

/// Lifts every opt-out of a party (per number and tenant-wide).
#[utoipa::path(tag = "opt-outs", security(("bearer" = [])), params(("tenant" = String, Path), ("e164" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/api/v1/tenants/{tenant}/opt-outs/{e164}")]
pub async fn lift_opt_out(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_opt_outs(scope.tenant.id, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
