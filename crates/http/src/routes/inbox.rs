//! The extension API's reading side: conversations, their messages, mark-read, single messages.
//! An extension sees the texts routed to it; a tenant admin token sees the whole tenant.

use actix_web::{HttpResponse, get, post, web};
use switchboard_core::Party;

use super::{ListQuery, path_id};
use crate::AppState;
use crate::api::Page;
use crate::api::inbox::Conversation;
use crate::api::messages::Message;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(conversations).service(conversation_messages).service(mark_read).service(message);
}

/// A party in a path: E.164 or a short code; anything else names nothing.
fn remote(raw: &str) -> Result<String, ApiError> {
    Party::from_provider(raw).map(|p| p.to_string()).map_err(|_| ApiError::not_found())
}

/// The caller's conversations, newest first, with unread counts.
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Conversation>), (status = 403, body = Problem)))]
#[get("/api/v1/conversations")]
pub async fn conversations(
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    // This list's cursor is its own (time and id), so only the limit is read the common way.
    let limit = switchboard_store::PageRequest::parse(q.limit.as_deref(), None)?.limit;
    let page = state
        .store
        .list_conversations(caller.tenant.id, caller.viewer(), limit, q.cursor.as_deref(), Default::default())
        .await?;
    Ok(HttpResponse::Ok().json(Page::<Conversation>::from(page)))
}

/// The messages of one conversation the caller may see, newest first.
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(("remote" = String, Path), ListQuery),
    responses((status = 200, body = Page<Message>), (status = 404, body = Problem)))]
#[get("/api/v1/conversations/{remote}/messages")]
pub async fn conversation_messages(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let remote = remote(&path)?;
    let out = state
        .store
        .conversation_messages(caller.tenant.id, caller.viewer(), (None, &remote), page.limit, page.cursor)
        .await?;
    Ok(HttpResponse::Ok().json(Page::<Message>::from(out)))
}

/// Marks the caller's conversations with a party read.
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(("remote" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
#[post("/api/v1/conversations/{remote}/read")]
pub async fn mark_read(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.mark_read(caller.tenant.id, caller.viewer(), &remote(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One message the caller may see.
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Message), (status = 404, body = Problem)))]
#[get("/api/v1/messages/{id}")]
pub async fn message(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let message = state.store.viewer_message(caller.tenant.id, caller.viewer(), path_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(Message::from(message)))
}
