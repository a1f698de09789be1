//! Sending: `POST /api/v1/messages` for extensions (and tenant admins naming `from`), and
//! `POST /api/v1/tenants/{tenant}/messages` for tenant admins. `202` once the text is queued.

use actix_web::{HttpRequest, HttpResponse, post, web};
use switchboard_store::outbound::Sender;

use crate::AppState;
use crate::api::send::{Queued, SendInput};
use crate::auth::{Caller, TenantScope};
use crate::body::Json;
use crate::error::{ApiError, Problem};

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim().to_owned())).map_err(|_| {
            ApiError::invalid(vec![switchboard_core::FieldError {
                field: "Idempotency-Key".into(),
                message: "must be printable ASCII".into(),
            }])
        }),
    }
}

/// Queues a text from the caller: an extension sends from `from` if it is a sender of that number,
/// else from its own number, else from its provider's default number; a tenant admin names `from`.
/// The same `Idempotency-Key` within 24 hours answers the first text again and sends nothing more.
#[utoipa::path(tag = "extension", security(("bearer" = [])), request_body = SendInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key, kept 24 hours")),
    responses((status = 202, body = Queued), (status = 403, body = Problem), (status = 422, body = Problem,
        description = "validation_failed, unsupported_destination, sender_not_allowed, opted_out or idempotency_conflict")))]
#[post("/api/v1/messages")]
pub async fn send(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<SendInput>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let sender = match &caller.ext {
        Some(ext) => Sender::Extension(ext.clone()),
        None => Sender::Admin(format!("tenant_admin:{}", caller.tenant.slug)),
    };
    let queued = state.engine.queue_text(caller.tenant.id, sender, body.into(), key.as_deref()).await?;
    Ok(HttpResponse::Accepted().json(Queued::from(queued)))
}

/// Queues a text from one of the tenant's numbers (`from` is required).
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(("tenant" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key, kept 24 hours")),
    request_body = SendInput,
    responses((status = 202, body = Queued), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/messages")]
pub async fn admin_send(
    scope: TenantScope,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<SendInput>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let sender = Sender::Admin(format!("tenant_admin:{}", scope.tenant.slug));
    let queued = state.engine.queue_text(scope.tenant.id, sender, body.into(), key.as_deref()).await?;
    Ok(HttpResponse::Accepted().json(Queued::from(queued)))
}
