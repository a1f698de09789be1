//! Startup that tests can drive: `App::build(settings, listener)` on a pre-bound listener, then
//! `app.run_until(shutdown)`; a graceful stop lets requests in flight finish.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use switchboard_engine::{Engine, EngineConfig, RetryPolicy};
use switchboard_http::{AppState, JwtKeys, Metrics, ServerSettings};
use switchboard_store::{MASTER_KEY_LEN, Store};

use crate::config::Config;
use crate::keys::Keys;

/// Everything the running service needs, resolved: no optional secrets left.
pub struct Settings {
    pub database_url: String,
    /// Pooled database connections at most.
    pub database_max_connections: u32,
    pub public_url: String,
    pub jwt_secret: SecretString,
    pub master_key: SecretBox<[u8; MASTER_KEY_LEN]>,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    /// When failed PBX deliveries are retried.
    pub retry: RetryPolicy,
    /// How long one PBX delivery may take.
    pub webhook_timeout: Duration,
    /// When transient send failures are retried.
    pub send_retry: RetryPolicy,
    /// How long one request to Flowroute may take.
    pub send_timeout: Duration,
    /// How long an unanswered send waits for a receipt before it is sent again.
    pub unknown_outcome_wait: Duration,
    /// Space sends under Flowroute's default per-key limits.
    pub flowroute_pacing: bool,
    /// Where fetched MMS media are kept.
    pub media_dir: std::path::PathBuf,
    /// Fetch media over plain http too (tests and simulators).
    pub media_allow_http: bool,
    /// Attachments kept of one text.
    pub media_max_per_text: usize,
    /// Bytes of media one tenant may keep.
    pub media_quota_bytes: u64,
    /// The proxies in front of Switchboard, believed about the client's address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header they name the client in.
    pub forwarded_header: switchboard_core::sources::ForwardedHeader,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<SecretString>,
    /// Live streams one extension, and one tenant, may hold open.
    pub stream_limits: (usize, usize),
    /// A live stream with no event for this long ends.
    pub stream_idle_timeout: Duration,
    /// How often a quiet live stream sends a heartbeat (15 s but in tests).
    pub stream_heartbeat: Duration,
    /// Unknown-prefix callbacks a minute from one source before it is blocked (0: never).
    pub ingress_failure_limit: u32,
    /// How long a blocked source is answered `429`.
    pub ingress_block: Duration,
    /// Non-public networks webhook URLs and provider endpoints may reach.
    pub private_targets: Vec<ipnet::IpNet>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("public_url", &self.public_url)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings from a loaded configuration and its resolved keys.
    pub fn new(config: &Config, keys: Keys) -> Self {
        Self {
            database_url: config.database_url.clone(),
            database_max_connections: config.database_max_connections,
            public_url: config.public_url(),
            jwt_secret: keys.jwt_secret,
            master_key: keys.master_key,
            workers: config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
            retry: config.retry_policy(),
            webhook_timeout: Duration::from_secs(config.webhook_timeout_secs),
            send_retry: config.send_retry_policy(),
            send_timeout: Duration::from_secs(config.flowroute_timeout_secs),
            unknown_outcome_wait: Duration::from_secs(config.flowroute_unknown_outcome_wait_secs),
            media_dir: config.media_dir.clone(),
            media_allow_http: config.media_allow_http,
            media_max_per_text: config.media_max_per_text as usize,
            media_quota_bytes: config.media_quota_mb_per_tenant.saturating_mul(1024 * 1024),
            flowroute_pacing: config.flowroute_pacing,
            trusted_proxies: config.trusted_proxy_nets().unwrap_or_default(),
            forwarded_header: config.forwarded_header.into(),
            metrics_token: config.metrics_token.clone(),
            stream_limits: (config.stream_limit_per_extension as usize, config.stream_limit_per_tenant as usize),
            stream_idle_timeout: Duration::from_secs(config.stream_idle_timeout_secs),
            stream_heartbeat: Duration::from_secs(15),
            ingress_failure_limit: config.ingress_failure_limit,
            ingress_block: Duration::from_secs(config.ingress_block_secs),
            // Validated when the configuration was loaded.
            private_targets: config.private_target_nets().unwrap_or_default(),
        }
    }
}

/// A built, not yet running, Switchboard.
pub struct App {
    server: Server,
    addr: SocketAddr,
    store: Store,
    engine: Arc<Engine>,
    streams: switchboard_http::routes::events::StreamLimits,
    stop: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl App {
    /// Connects the store, applies migrations and builds the HTTP server on `listener`.
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let store = Store::connect_with(
            &settings.database_url,
            settings.master_key.expose_secret(),
            settings.database_max_connections,
        )
        .await?;
        store.migrate().await?;
        let addr = listener.local_addr()?;
        let mut engine_config = EngineConfig::new(settings.public_url.clone());
        engine_config.retry = settings.retry.clone();
        engine_config.webhook_timeout = settings.webhook_timeout;
        engine_config.send_retry = settings.send_retry.clone();
        engine_config.send_timeout = settings.send_timeout;
        engine_config.unknown_outcome_wait = settings.unknown_outcome_wait;
        engine_config.pace_provider = settings.flowroute_pacing;
        engine_config.media_dir = settings.media_dir.clone();
        engine_config.media_allow_http = settings.media_allow_http;
        engine_config.media_max_per_text = settings.media_max_per_text;
        engine_config.media_quota_bytes = settings.media_quota_bytes;
        engine_config.ingress_failure_limit = settings.ingress_failure_limit;
        engine_config.ingress_block = settings.ingress_block;
        engine_config.private_targets = settings.private_targets.clone();
        let engine = Arc::new(Engine::new(store.clone(), engine_config)?);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let streams = switchboard_http::routes::events::StreamLimits::new(
            settings.stream_limits.0,
            settings.stream_limits.1,
            settings.stream_idle_timeout,
        )
        .with_heartbeat(settings.stream_heartbeat);
        let state = web::Data::new(AppState {
            shutdown,
            clients: switchboard_http::ClientAddresses {
                trusted_proxies: settings.trusted_proxies.clone(),
                header: settings.forwarded_header,
            },
            metrics_token: settings.metrics_token.clone(),
            streams: streams.clone(),
            engine: engine.clone(),
            store: store.clone(),
            jwt: JwtKeys::new(&settings.jwt_secret),
            public_url: settings.public_url.clone(),
            metrics: Metrics::new()?,
        });
        let server = switchboard_http::server(
            listener,
            state,
            &ServerSettings { workers: settings.workers, shutdown_timeout: settings.shutdown_timeout },
        )?;
        tracing::info!(%addr, backend = store.backend_name(), public_url = %settings.public_url, "switchboard ready");
        Ok(Self { server, addr, store, engine, streams, stop })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops gracefully: no new connections, requests in
    /// flight finish (up to the shutdown timeout), and the store is closed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let deliverer =
            tokio::spawn(switchboard_engine::run_webhook_worker(self.engine.clone(), self.stop.subscribe()));
        let fetcher = tokio::spawn(switchboard_engine::run_media_worker(self.engine.clone(), self.stop.subscribe()));
        let dispatcher = tokio::spawn(switchboard_engine::run_dispatcher(self.engine.clone(), self.stop.subscribe()));
        let sequencer = tokio::spawn(switchboard_engine::run_sequencer(self.engine.clone(), self.stop.subscribe()));
        let stream_poller = tokio::spawn(switchboard_http::routes::events::poll_for_streams(
            self.store.clone(),
            self.engine.clone(),
            self.streams.clone(),
            self.stop.subscribe(),
        ));
        let mut running = tokio::spawn(self.server);
        let result = tokio::select! {
            r = &mut running => r,
            () = shutdown => {
                tracing::info!("shutting down: finishing requests in flight");
                // Live streams end at once; ordinary requests get the shutdown timeout.
                let _ = self.stop.send(true);
                handle.stop(true).await;
                running.await
            }
        };
        // Workers stop after the server: a delivery in flight finishes or its lease expires and
        // another run claims it again.
        let _ = self.stop.send(true);
        let _ = deliverer.await;
        let _ = fetcher.await;
        let _ = dispatcher.await;
        let _ = sequencer.await;
        let _ = stream_poller.await;
        self.store.close().await;
        result??;
        tracing::info!("stopped");
        Ok(())
    }
}
