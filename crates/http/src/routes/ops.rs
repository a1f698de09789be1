//! Health, readiness and metrics: no token needed (but for `/metrics` when `metrics_token` is set).

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

/// A health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The store answers; `503` while it does not, and `503 stopping` from the moment the instance
/// begins to stop (through its drain, while it still serves).
#[utoipa::path(tag = "operations", responses((status = 200, body = Health), (status = 503, body = crate::error::Problem)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if *state.shutdown.borrow() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "This instance is stopping; another should take its requests.",
        ));
    }
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(true) => Ok(HttpResponse::Ok().json(Health { status: "ready" })),
        _ => Err(ApiError::unavailable()),
    }
}

/// Prometheus text format. With `metrics_token` configured, only for `Authorization: Bearer` that token.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain", body = String),
    (status = 401, body = crate::error::Problem)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = &state.metrics_token {
        let given = crate::auth::bearer(&req)?;
        if !switchboard_core::sources::tokens_equal(expected.expose_secret(), Some(given)) {
            return Err(ApiError::unauthorized("The metrics token is not valid."));
        }
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render()))
}
