//! Startup that tests can drive: `App::build(settings, listener)` on a pre-bound listener, then
//! `app.run_until(shutdown)`; a graceful stop lets requests in flight finish.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::web;
use secrecy::SecretString;
use switchboard_engine::{Engine, EngineConfig};
use switchboard_http::{AppState, HttpSettings};
use switchboard_store::{Store, StoreSettings};

use crate::config::Config;
use crate::keys::Keys;

/// Everything the running service needs, resolved: no optional secrets left. Each layer's
/// settings come from the configuration through one function of [`Config`]; a test or the demo
/// may adjust them (sub-second retries, say) before building the app.
pub struct Settings {
    pub store: StoreSettings,
    pub engine: EngineConfig,
    pub http: HttpSettings,
    pub jwt_secret: SecretString,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("public_url", &self.http.public_url)
            .field("workers", &self.http.workers)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings from a loaded configuration and its resolved keys.
    pub fn new(config: &Config, keys: Keys) -> Self {
        Self {
            store: config.store_settings(keys.master_key),
            engine: config.engine_config(),
            http: config.http_settings(),
            jwt_secret: keys.jwt_secret,
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
    /// How long a stop keeps serving, unready, before it stops listening.
    drain: std::time::Duration,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl App {
    /// Connects the store, applies migrations and builds the HTTP server on `listener`.
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let store = Store::open(&settings.store).await?;
        store.migrate().await?;
        let addr = listener.local_addr()?;
        let engine = Arc::new(Engine::new(store.clone(), settings.engine)?);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let state = AppState::new(&settings.http, &settings.jwt_secret, engine.clone(), store.clone(), shutdown)?;
        let streams = state.streams.clone();
        let server = switchboard_http::server(listener, web::Data::new(state), &settings.http)?;
        tracing::info!(%addr, backend = store.backend_name(), public_url = %settings.http.public_url, "switchboard ready");
        if let Some(shared) = &engine.config.shared_ingress
            && shared.allowed_sources.is_none()
        {
            // The URL, token included, is in every connected account pointed at it: a token alone
            // keeps strangers out, not one tenant from posting texts to another's numbers.
            tracing::warn!(
                name = %shared.name,
                "the shared ingress takes callbacks by token alone: every tenant whose Flowroute account points at it \
                 holds the token; set shared_ingress_sources to Flowroute's addresses"
            );
        }
        let drain = settings.http.shutdown_drain;
        Ok(Self { server, addr, store, engine, streams, stop, drain })
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
        let phones = tokio::spawn(switchboard_engine::run_sip_worker(self.engine.clone(), self.stop.subscribe()));
        let mail = tokio::spawn(switchboard_engine::run_email_worker(self.engine.clone(), self.stop.subscribe()));
        let dispatcher = tokio::spawn(switchboard_engine::run_dispatcher(self.engine.clone(), self.stop.subscribe()));
        let sequencer = tokio::spawn(switchboard_engine::run_sequencer(self.engine.clone(), self.stop.subscribe()));
        // Notes between instances go on while requests are served (through the drain), and stop last.
        let (signals_stop, signals_stopped) = tokio::sync::watch::channel(false);
        let signals = tokio::spawn(switchboard_engine::run_signals(self.engine.clone(), signals_stopped));
        let stream_poller = tokio::spawn(switchboard_http::routes::events::poll_for_streams(
            self.store.clone(),
            self.engine.clone(),
            self.streams.clone(),
            self.stop.subscribe(),
        ));
        let housekeeper =
            tokio::spawn(switchboard_engine::run_housekeeping(self.engine.clone(), self.stop.subscribe()));
        let interval = self.engine.config.callback_check_interval;
        let callback_checks = (!interval.is_zero()).then(|| {
            tokio::spawn(switchboard_engine::onboard::run_callback_checks(
                self.engine.clone(),
                interval,
                self.stop.subscribe(),
            ))
        });
        let mut running = tokio::spawn(self.server);
        let result = tokio::select! {
            r = &mut running => r,
            () = shutdown => {
                // `/readyz` turns unready and live streams end at once (their clients reconnect,
                // through a load balancer, to another instance); requests are still served for
                // the drain, then those in flight get the shutdown timeout.
                let _ = self.stop.send(true);
                if !self.drain.is_zero() {
                    tracing::info!(drain = ?self.drain, "stopping: unready, still serving while the load balancer notices");
                    tokio::time::sleep(self.drain).await;
                }
                tracing::info!("shutting down: finishing requests in flight");
                handle.stop(true).await;
                running.await
            }
        };
        // Workers stop after the server: a delivery in flight finishes or its lease expires and
        // another run claims it again.
        let _ = self.stop.send(true);
        let _ = deliverer.await;
        let _ = fetcher.await;
        let _ = phones.await;
        let _ = mail.await;
        let _ = dispatcher.await;
        let _ = sequencer.await;
        let _ = stream_poller.await;
        let _ = housekeeper.await;
        if let Some(checks) = callback_checks {
            let _ = checks.await;
        }
        let _ = signals_stop.send(true);
        let _ = signals.await;
        self.store.close().await;
        result??;
        tracing::info!("stopped");
        Ok(())
    }
}
