//! Switchboard's HTTP surface on actix-web: the admin API, the extension API and live stream, the
//! Flowroute ingress, bearer-token auth, health, metrics and the OpenAPI document. Thin by design:
//! parse, authorise, call the store or the engine, map errors.

pub mod api;
pub mod audit;
pub mod auth;
pub mod body;
pub mod error;
pub mod observe;
pub mod openapi;
pub mod portal;
pub mod routes;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use switchboard_store::Store;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{Claims, JwtKeys, Role};
pub use observe::Metrics;

use crate::error::ApiError;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub engine: std::sync::Arc<switchboard_engine::Engine>,
    pub jwt: JwtKeys,
    /// The base URL Flowroute reaches, without a trailing slash.
    pub public_url: String,
    pub metrics: Metrics,
    /// How a request's client address is found.
    pub clients: ClientAddresses,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Open live streams, within their limits.
    pub streams: routes::events::StreamLimits,
    /// Turns true when the service is stopping: live streams end so the stop need not wait for them.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Sign-in limits and how long a session lasts.
    pub sign_in: switchboard_store::accounts::Throttle,
}

/// How a request's client address is found: the peer's own, unless the peer is one of the
/// trusted proxies, which name the client in `header`.
#[derive(Debug, Clone)]
pub struct ClientAddresses {
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub header: switchboard_core::sources::ForwardedHeader,
}

impl ClientAddresses {
    /// The address `req` comes from (see [`switchboard_core::sources::client_address`]).
    pub fn of(&self, req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        let peer = req.peer_addr()?.ip();
        let values: Vec<&str> =
            req.headers().get_all(self.header.name()).map(|v| v.to_str().unwrap_or("\u{0}invalid")).collect();
        Some(switchboard_core::sources::client_address(peer, &values, self.header, &self.trusted_proxies))
    }
}

/// The HTTP layer's settings, derived from the configuration in one function
/// (`switchboard::config::Config::http_settings`).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The base URL Flowroute reaches, without a trailing slash.
    pub public_url: String,
    /// Worker threads.
    pub workers: usize,
    /// How long a graceful stop waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// How long a stopping instance keeps serving, unready, before it stops listening.
    pub shutdown_drain: Duration,
    /// How a request's client address is found.
    pub clients: ClientAddresses,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Live streams one extension, and one tenant, may hold open.
    pub streams_per_extension: usize,
    pub streams_per_tenant: usize,
    /// A live stream with no event for this long ends.
    pub stream_idle_timeout: Duration,
    /// How often a quiet live stream sends a heartbeat.
    pub stream_heartbeat: Duration,
    /// Sign-in limits and how long a session lasts.
    pub sign_in: switchboard_store::accounts::Throttle,
}

impl AppState {
    /// The state every handler shares, from the HTTP settings and the key that signs tokens.
    pub fn new(
        settings: &HttpSettings,
        jwt_secret: &secrecy::SecretString,
        engine: std::sync::Arc<switchboard_engine::Engine>,
        store: Store,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Self, prometheus::Error> {
        let streams = routes::events::StreamLimits::new(
            settings.streams_per_extension,
            settings.streams_per_tenant,
            settings.stream_idle_timeout,
        )
        .with_heartbeat(settings.stream_heartbeat);
        Ok(Self {
            store,
            engine,
            jwt: JwtKeys::new(jwt_secret),
            public_url: settings.public_url.clone(),
            metrics: Metrics::new()?,
            clients: settings.clients.clone(),
            metrics_token: settings.metrics_token.clone(),
            streams,
            shutdown,
            sign_in: settings.sign_in,
        })
    }
}

pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// Every route and middleware, for the server and for tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(routes::ops::healthz)
        .service(routes::ops::readyz)
        .service(routes::ops::metrics)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi::ApiDoc::openapi()))
        .service(web::redirect("/docs", "/docs/"))
        .service(web::redirect("/", "/portal/"));
    portal::configure(cfg);
    // A prefix is any single path segment the routes above did not take. The API's routes below
    // all have two segments or more, so none of them can be taken by a prefix; the ingress comes
    // before them because actix tries routes in order, one pattern match each, and every one
    // tried before it cost each of Flowroute's posts a regex run (7 % of the server's CPU at
    // 2,000 texts/s, docs/BENCHMARKS.md).
    cfg.service(routes::ingress::receive_shared).service(routes::ingress::receive);
    routes::configure(cfg);
}

/// Refuses a body declared larger than the route takes — 1 MiB for Flowroute's callbacks, 256 KiB
/// for the API — before any handler runs, on every route, with or without a body of its own.
/// Chunked bodies, which declare no length, are counted as they are read by the extractors.
async fn limit_body<B: actix_web::body::MessageBody + 'static>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    let limit = if req.path().starts_with("/api/") { body::MAX_BODY } else { routes::ingress::MAX_CALLBACK };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(req.error_response(ApiError::too_large(limit)).map_into_right_body());
    }
    next.call(req).await.map(actix_web::dev::ServiceResponse::map_into_left_body)
}

/// Builds the server on an already bound listener; signals are left to the caller, who stops it
/// through the returned server's handle.
pub fn server(listener: TcpListener, state: web::Data<AppState>, settings: &HttpSettings) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .wrap(from_fn(audit::record))
            .wrap(from_fn(auth::authenticate))
            .wrap(from_fn(limit_body))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .wrap(from_fn(observe::middleware))
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .workers(settings.workers.max(1))
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
