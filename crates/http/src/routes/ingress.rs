//! `POST /{prefix}`: the callback URL a tenant enters in Flowroute, for inbound texts and delivery
//! receipts alike. `200` only after the text is committed; Flowroute retries anything else.

use actix_web::http::StatusCode;

use actix_web::{HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use switchboard_engine::email::ReplyError;
use switchboard_engine::{IngressError, Origin, Received};

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::observe::OutcomeLogged;

/// Largest callback accepted: an inbound MMS callback carries links, not media, so 1 MiB is ample.
pub const MAX_CALLBACK: usize = 1024 * 1024;

/// The callback URL's query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The prefix's token, when it requires one.
    pub token: Option<String>,
}

/// The answer to Flowroute.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    /// `stored`, `duplicate`, `receipt_applied`, `receipt_unchanged` or `ignored`.
    pub status: &'static str,
    pub message_id: Option<uuid::Uuid>,
}

impl From<IngressError> for ApiError {
    fn from(e: IngressError) -> Self {
        match e {
            IngressError::UnknownPrefix => ApiError::not_found(),
            IngressError::UnknownNumber(n) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{n} is not a number of this tenant."))
            }
            IngressError::UnknownReceipt(id) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("No message of this tenant has the id {id}."))
            }
            IngressError::Suspended => {
                ApiError::new(StatusCode::FORBIDDEN, "tenant_suspended", "This tenant is suspended.")
            }
            IngressError::Malformed(detail) => ApiError::malformed(detail),
            IngressError::Blocked(wait) => ApiError::rate_limited(
                "Too many callbacks from this address named no prefix of Switchboard; wait and retry.",
                wait,
            ),
            IngressError::Unavailable => ApiError::unavailable(),
            IngressError::Internal => ApiError::internal(),
        }
    }
}

/// Reads a callback's body, at most [`MAX_CALLBACK`] bytes.
async fn read_callback(payload: web::Payload) -> Result<web::BytesMut, ApiError> {
    read_body(payload, MAX_CALLBACK).await
}

/// Reads a body of at most `max` bytes.
async fn read_body(mut payload: web::Payload, max: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::malformed("The body could not be read."))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The answer to Flowroute for what the ingress did. The ingress logs a text it stored, a
/// duplicate and an ignored callback itself, so those answers are marked [`OutcomeLogged`]; a
/// receipt is logged by its access line alone.
fn acknowledge(received: Received) -> HttpResponse {
    let (status, message_id, logged) = match received {
        Received::Stored { message_id } => ("stored", Some(message_id), true),
        Received::Duplicate { message_id } => ("duplicate", Some(message_id), true),
        Received::ReceiptApplied { message_id } => ("receipt_applied", Some(message_id), false),
        Received::ReceiptUnchanged { message_id } => ("receipt_unchanged", Some(message_id), false),
        Received::Ignored => ("ignored", None, true),
    };
    let mut res = HttpResponse::Ok().json(Acknowledged { status, message_id });
    if logged {
        res.extensions_mut().insert(OutcomeLogged);
    }
    res
}

/// Receives what Flowroute posts: an inbound SMS or MMS (JSON:API or compact) or a delivery receipt.
#[utoipa::path(tag = "ingress", params(("prefix" = String, Path, description = "the tenant's inbound prefix"), CallbackQuery),
    request_body(content = Object, description = "Flowroute's callback body, as documented in docs/flowroute.md", content_type = "application/json"),
    responses((status = 200, body = Acknowledged), (status = 400, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 413, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem)))]
#[post("/{prefix}")]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_callback(payload).await?;
    let origin = Origin { token: q.token.as_deref(), ip: state.clients.of(&req) };
    Ok(acknowledge(state.engine.receive(&path, &body, origin).await?))
}

/// The operator's shared ingress, for every tenant at once (hosted platforms give Flowroute one
/// URL for all their customers): a text finds its tenant and number by the number texted (`to`), a
/// receipt by the message it names. On only when configured (`shared_ingress_token` or
/// `shared_ingress_sources`), at `/ingress/<shared_ingress_name>`; otherwise, or without its token
/// or from another source, `404` as an unknown prefix is. Answers as a prefix does.
#[utoipa::path(tag = "ingress", params(("name" = String, Path, description = "`shared_ingress_name`"), CallbackQuery),
    request_body(content = Object, description = "Flowroute's callback body, as documented in docs/flowroute.md", content_type = "application/json"),
    responses((status = 200, body = Acknowledged), (status = 400, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 413, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem)))]
#[post("/ingress/{name}")]
pub async fn receive_shared(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<CallbackQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_callback(payload).await?;
    let origin = Origin { token: q.token.as_deref(), ip: state.clients.of(&req) };
    Ok(acknowledge(state.engine.receive_shared(&path, &body, origin).await?))
}

/// Largest email reply accepted: its pictures are not kept, but they come with it.
pub const MAX_EMAIL: usize = 25 * 1024 * 1024;

impl From<ReplyError> for ApiError {
    fn from(e: ReplyError) -> Self {
        let unprocessable = |code, e: &ReplyError| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string());
        match e {
            ReplyError::Off => ApiError::not_found(),
            ReplyError::UnknownToken => ApiError::new(StatusCode::NOT_FOUND, "reply_unknown", e.to_string()),
            ReplyError::NotAnEmail | ReplyError::NoSender => unprocessable("not_an_email", &e),
            ReplyError::NoReplyAddress(_) => unprocessable("no_reply_address", &e),
            ReplyError::Empty => unprocessable("reply_empty", &e),
            ReplyError::Store(switchboard_store::StoreError::Refused { code: "reply_sender_unknown", detail }) => {
                ApiError::new(StatusCode::FORBIDDEN, "reply_sender_unknown", detail)
            }
            ReplyError::Store(e) => e.into(),
        }
    }
}

/// An email reply to a text nobody had read, as the mail provider's inbound webhook posts it: the
/// raw message (RFC 822) as the body. Its To (or Delivered-To) names the text (`reply+<token>@…`),
/// its From must be the email of an extension the text was sent to, and what it says above the
/// quoted email goes to the customer as a text from that extension (`202`). Needs
/// `email_ingress_token`, as `?token=` or a bearer token; `404` without it or when email is off.
/// A reply posted again (the same Message-ID) is answered with the same text and sent once.
#[utoipa::path(tag = "ingress", params(CallbackQuery),
    request_body(content = String, content_type = "text/plain",
        description = "the raw email (RFC 822), under any content type (mail providers post `message/rfc822`)"),
    responses((status = 202, body = crate::api::send::Queued), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
#[post("/email/inbound")]
pub async fn receive_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let expected =
        state.engine.config.email.as_ref().and_then(|s| s.ingress_token.as_ref()).ok_or_else(ApiError::not_found)?;
    let given = q.token.as_deref().or_else(|| crate::auth::bearer(&req).ok());
    if !switchboard_core::sources::tokens_equal(expected.expose_secret(), given) {
        return Err(ApiError::unauthorized("The email ingress token is not valid."));
    }
    let raw = read_body(payload, MAX_EMAIL).await?;
    let queued = state.engine.email_reply(&raw).await?;
    Ok(HttpResponse::Accepted().json(crate::api::send::Queued::from(queued)))
}

#[cfg(test)]
mod tests {
    use switchboard_engine::Received;
    use uuid::Uuid;

    use super::acknowledge;
    use crate::observe::OutcomeLogged;

    #[test]
    fn only_the_answers_the_ingress_logged_itself_are_marked() {
        let id = Uuid::now_v7();
        let marked = |r: Received| acknowledge(r).extensions().contains::<OutcomeLogged>();
        assert!(marked(Received::Stored { message_id: id }), "inbound text stored");
        assert!(marked(Received::Duplicate { message_id: id }), "duplicate inbound text acknowledged");
        assert!(marked(Received::Ignored), "ignored a callback");
        assert!(!marked(Received::ReceiptApplied { message_id: id }), "a receipt keeps its access line");
        assert!(!marked(Received::ReceiptUnchanged { message_id: id }), "a receipt keeps its access line");
    }
}
