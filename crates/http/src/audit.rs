//! The audit log's writer: a middleware that records every successful write made with a verified
//! credential — who, with which credential, from where, the route, its answer, and the body with
//! every secret redacted.
//!
//! Sends are not recorded here: each text is its own durable record, with its sender. Signing in
//! and accepting an invitation carry no credential yet; their handlers record them
//! ([`record_own`]). Renewing an access token changes nothing.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use futures_util::StreamExt;
use serde_json::Value;
use switchboard_store::audit::NewAuditEntry;

use crate::AppState;
use crate::auth::Principal;
use crate::body::MAX_BODY;
use crate::error::ApiError;

/// An entry for a step a person made in this request, by their account and session.
fn own_entry(
    state: &AppState,
    req: &actix_web::HttpRequest,
    account: uuid::Uuid,
    session: Option<uuid::Uuid>,
    status: u16,
) -> NewAuditEntry {
    NewAuditEntry {
        tenant_slug: None,
        tenant_id: None,
        actor: format!("account:{account}"),
        credential: session.map(|s| format!("session:{s}")),
        address: state.clients.of(req).map(|ip| ip.to_string()),
        method: req.method().to_string(),
        route: req.match_pattern().unwrap_or_default(),
        path: req.path().to_owned(),
        status,
        changes: None,
    }
}

/// Records a person's own step that no credential made (signing in, accepting an invitation).
pub async fn record_own(
    state: &AppState,
    req: &actix_web::HttpRequest,
    account: uuid::Uuid,
    session: Option<uuid::Uuid>,
    tenant: Option<uuid::Uuid>,
    status: u16,
) {
    let mut entry = own_entry(state, req, account, session, status);
    entry.tenant_id = tenant;
    if let Err(e) = state.store.record_audit(entry).await {
        tracing::error!(error = %e, "a sign-in could not be recorded in the audit log");
    }
}

/// Records a write made in the portal by a signed-in person: `changes` is the API body the form
/// became (its secrets redacted here).
pub async fn record_portal(
    state: &AppState,
    req: &actix_web::HttpRequest,
    identity: &switchboard_store::accounts::Identity,
    tenant_slug: Option<&str>,
    status: u16,
    mut changes: Value,
) {
    redact(&mut changes);
    let mut entry = own_entry(state, req, identity.account_id, Some(identity.session_id), status);
    entry.tenant_slug = tenant_slug.map(str::to_owned);
    entry.changes = (!changes.is_null()).then_some(changes);
    if let Err(e) = state.store.record_audit(entry).await {
        tracing::error!(error = %e, "a portal write could not be recorded in the audit log");
    }
}

/// Who made a request, as the audit log names them.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `account:<id>`, `key:<id>` or `cli:<subject>`.
    pub who: String,
    /// `session:<id>` or `key:<id>`; none for a CLI token.
    pub credential: Option<String>,
}

impl Actor {
    pub fn of(p: &Principal) -> Self {
        match (&p.session, &p.key) {
            (Some(s), _) => {
                Self { who: format!("account:{}", s.account_id), credential: Some(format!("session:{}", s.session_id)) }
            }
            (None, Some(k)) => Self { who: format!("key:{}", k.key_id), credential: Some(format!("key:{}", k.key_id)) },
            (None, None) => Self { who: format!("cli:{}", p.claims.sub), credential: None },
        }
    }
}

/// Routes whose writes are not recorded (see the module's comment).
fn unrecorded(route: &str) -> bool {
    matches!(
        route,
        "/api/v1/messages"
            | "/api/v1/tenants/{tenant}/messages"
            | "/api/v1/auth/login"
            | "/api/v1/auth/token"
            | "/api/v1/auth/invitations/accept"
    )
}

/// Replaces the value of every field that holds a secret (passwords, keys, tokens, secrets), at
/// any depth.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let k = k.to_ascii_lowercase();
                if k.contains("secret") || k.contains("password") || k == "token" || k == "key" || k.ends_with("_key") {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Records successful writes of verified callers.
pub async fn record(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let write = !matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD);
    let actor = req.extensions().get::<Actor>().cloned().filter(|_| write && req.path().starts_with("/api/"));
    // Only now the route: most requests (the ingress's) carry no credential. Sends and the like are
    // passed on without reading their bodies here.
    let route = actor.as_ref().and_then(|_| req.match_pattern()).unwrap_or_default();
    let Some(actor) = actor.filter(|_| !unrecorded(&route)) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    // Read the body (within the API's limit) to record it, and hand it on unchanged.
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return Ok(req.error_response(ApiError::malformed("The body could not be read.")).map_into_right_body());
        };
        if body.len() + chunk.len() > MAX_BODY {
            return Ok(req.error_response(ApiError::too_large(MAX_BODY)).map_into_right_body());
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    req.set_payload(actix_web::dev::Payload::from(body.to_vec()));

    let res = next.call(req).await?;
    if res.status().is_success() {
        let mut changes: Option<Value> = serde_json::from_slice(&body).ok();
        if let Some(c) = changes.as_mut() {
            redact(c);
        }
        let request = res.request();
        let tenant_slug = request.match_info().get("tenant").map(str::to_owned).or_else(|| {
            // Creating a tenant names it in the body.
            (route == "/api/v1/tenants").then(|| changes.as_ref()?.get("slug")?.as_str().map(str::to_owned)).flatten()
        });
        if let Some(state) = request.app_data::<web::Data<AppState>>() {
            let entry = NewAuditEntry {
                tenant_slug,
                tenant_id: None,
                actor: actor.who,
                credential: actor.credential,
                address: state.clients.of(request).map(|ip| ip.to_string()),
                method: request.method().to_string(),
                route,
                path: request.path().to_owned(),
                status: res.status().as_u16(),
                changes,
            };
            if let Err(e) = state.store.record_audit(entry).await {
                tracing::error!(error = %e, "a write could not be recorded in the audit log");
            }
        }
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::redact;

    #[test]
    fn every_secret_is_redacted_at_any_depth() {
        let mut v = json!({
            "name": "Backup", "access_key": "AK", "secret_key": "SK", "token": "t", "password": "p",
            "new_password": "n", "current_password": "c", "webhook_secret": "w", "key": "k",
            "keywords": [{"keyword": "STOP", "reply": "bye"}], "nested": {"secret": "s", "list": [{"token": "t2"}]}
        });
        redact(&mut v);
        let text = v.to_string();
        for secret in ["\"AK\"", "\"SK\"", "\"t\"", "\"p\"", "\"n\"", "\"c\"", "\"w\"", "\"k\"", "\"s\"", "\"t2\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(v["name"], "Backup");
        assert_eq!(v["keywords"][0]["keyword"], "STOP", "a keyword is not a key");
    }
}
