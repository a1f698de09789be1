//! `/api/v1/tenants/{tenant}/webhook-deliveries`: the PBX deliveries that failed, playing dead
//! ones again; and `…/messages/{id}/timeline`, everything recorded about one text.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use switchboard_store::PageRequest;
use switchboard_store::deliveries::DeliveryState;

use super::path_id;
use crate::AppState;
use crate::api::Page;
use crate::api::deliveries::{Delivery, Replayed, Timeline};
use crate::auth::TenantScope;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(replay_dead).service(list).service(get_one).service(replay).service(timeline);
}

/// Query of `GET …/webhook-deliveries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `dead` (given up; the default) or `retrying` (failed, and waiting to be tried again).
    pub state: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The tenant's PBX webhook deliveries that are dead or retrying, newest first, each with its
/// failed attempts.
#[utoipa::path(operation_id = "webhook_deliveries_list", tag = "webhook-deliveries", security(("bearer" = [])),
    params(("tenant" = String, Path), DeliveryQuery),
    responses((status = 200, body = Page<Delivery>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/webhook-deliveries")]
pub async fn list(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let which = DeliveryState::parse(q.state.as_deref().unwrap_or("dead"))?;
    let page = state.store.list_webhook_deliveries(scope.tenant.id, which, page).await?;
    Ok(HttpResponse::Ok().json(Page::<Delivery>::from(page)))
}

/// One PBX webhook delivery, with its failed attempts.
#[utoipa::path(operation_id = "webhook_deliveries_get_one", tag = "webhook-deliveries", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Delivery), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/webhook-deliveries/{id}")]
pub async fn get_one(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let d = state.store.get_webhook_delivery(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(Delivery::from(d)))
}

/// Plays a dead delivery again: a new delivery of the same event (same `webhook-id`), queued
/// behind the conversation's current ones; the dead one becomes `replayed`. `409` unless it is
/// dead.
#[utoipa::path(operation_id = "webhook_deliveries_replay", tag = "webhook-deliveries", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 202, body = Delivery), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/webhook-deliveries/{id}/replay")]
pub async fn replay(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let d = state.store.replay_webhook_delivery(scope.tenant.id, path_id(&path.1)?).await?;
    state.engine.deliveries_queued();
    Ok(HttpResponse::Accepted().json(Delivery::from(d)))
}

/// Plays the tenant's dead deliveries again, oldest first, at most 500 a call.
#[utoipa::path(operation_id = "webhook_deliveries_replay_dead", tag = "webhook-deliveries", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, body = Replayed), (status = 404, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/webhook-deliveries:replay-dead")]
pub async fn replay_dead(scope: TenantScope, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let replayed = state.store.replay_dead_webhook_deliveries(scope.tenant.id).await?;
    if replayed > 0 {
        state.engine.deliveries_queued();
    }
    Ok(HttpResponse::Ok().json(Replayed { replayed }))
}

/// Everything recorded about one text: its events, and the jobs done for it with their failed
/// attempts, oldest first.
#[utoipa::path(operation_id = "messages_timeline", tag = "messages", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Timeline), (status = 404, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/messages/{id}/timeline")]
pub async fn timeline(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.message_timeline(scope.tenant.id, path_id(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(Timeline::from(t)))
}
