//! `GET /api/v1/media/{id}`: a fetched MMS attachment, for whoever may see its message; and
//! `GET /media/{token}`: a picture a person attached to an outgoing text, for Flowroute to fetch.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use switchboard_store::media::MediaState;

use super::path_id;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};

/// A file name safe to put in a header.
fn safe_name(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or("attachment")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if cleaned.is_empty() { "attachment".into() } else { cleaned }
}

/// A stored attachment's bytes, from the media store; a row that says stored but names no key, or
/// bytes that cannot be read, are the server's fault.
async fn stored_bytes(state: &AppState, key: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let key = key.ok_or_else(ApiError::internal)?;
    state.engine.stored_media(key).await.map_err(|e| {
        tracing::error!(key, error = %e, "a stored attachment could not be read");
        ApiError::internal()
    })
}

/// The attachment's bytes, with its content type. `503 media_pending` (with `Retry-After`) until it
/// has been fetched; `410 media_unavailable` when it never will be (too large, a refused type, or its
/// link expired).
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "the attachment", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = Problem), (status = 410, body = Problem), (status = 503, body = Problem)))]
#[get("/api/v1/media/{id}")]
pub async fn media(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item = state.store.viewer_media(caller.tenant.id, caller.viewer(), path_id(&path)?).await?;
    match item.state {
        MediaState::Stored => {}
        MediaState::Pending => {
            let e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "media_pending",
                "The attachment is still being fetched.",
            );
            return Err(e);
        }
        MediaState::OverQuota => {
            let why = "This attachment was not kept: the tenant's media quota was full.";
            return Err(ApiError::new(StatusCode::GONE, "media_unavailable", why));
        }
        MediaState::Expired => {
            let why = "This attachment is no longer kept: it was older than the media retention.";
            return Err(ApiError::new(StatusCode::GONE, "media_unavailable", why));
        }
        _ => {
            return Err(ApiError::new(StatusCode::GONE, "media_unavailable", "This attachment was not kept."));
        }
    }
    let bytes = stored_bytes(&state, item.storage_path.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .content_type(item.mime_type)
        .insert_header((
            "content-disposition",
            format!("inline; filename=\"{}\"", safe_name(item.file_name.as_deref())),
        ))
        .insert_header(("content-security-policy", "sandbox; default-src 'none'"))
        .body(bytes))
}

/// The token of a picture's public link: 43 URL-safe base64 characters (256 bits).
fn is_link_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A picture attached to an outgoing text, at the unguessable link Flowroute was given to fetch
/// it from (no sign-in: knowing the link is the permission, as with Flowroute's own media links).
/// Any other token is `404`.
#[utoipa::path(tag = "ingress", params(("token" = String, Path, description = "the link's token")),
    responses((status = 200, description = "the picture", content_type = "image/jpeg", body = Vec<u8>),
              (status = 404, body = Problem)))]
#[get("/media/{token}")]
pub async fn public_media(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    if !is_link_token(&path) {
        return Err(ApiError::not_found());
    }
    let item = state.store.public_media(&path).await?;
    let bytes = stored_bytes(&state, item.storage_path.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .content_type(item.mime_type)
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("cache-control", "private, max-age=604800"))
        .insert_header(("content-security-policy", "sandbox; default-src 'none'"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::is_link_token;

    #[test]
    fn only_a_whole_token_is_looked_up() {
        assert!(is_link_token("aBcD_-0123456789aBcD_-0123456789aBcD_-01234"));
        assert!(!is_link_token("aBcD_-0123456789aBcD_-0123456789aBcD_-0123"));
        assert!(!is_link_token("aBcD_-0123456789aBcD_-0123456789aBcD_-0123/"));
        assert!(!is_link_token("../../etc/passwd-0123456789aBcD_-0123456789"));
    }
}
