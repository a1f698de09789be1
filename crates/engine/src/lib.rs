//! Switchboard's use cases and workers: receiving what Flowroute posts, applying delivery
//! receipts, delivering events to each tenant's PBX webhook, and the read-through routing cache.

mod blobs;
pub mod breaker;
mod cache;
mod deliver;
mod dispatch;
pub mod email;
mod guard;
pub mod housekeeping;
mod ingress;
mod media;
pub mod net;
pub mod onboard;
mod retry;
mod sequencer;
mod signal;
pub mod signing;
mod sip;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::EventBody;
use switchboard_core::event::{EndpointRecovered, EndpointUnavailable};
use switchboard_store::Store;
use tokio::sync::{Notify, broadcast};

pub use blobs::{BlobError, MediaStore, S3Settings};
pub use cache::{NumberRouting, RoutingCache};
pub use deliver::run_webhook_worker;
pub use dispatch::run_dispatcher;
pub use email::run_email_worker;
pub use housekeeping::run_housekeeping;
pub use ingress::{IngressError, Origin, Received};
pub use media::{allowed_type, picture_too_large, picture_type, run_media_worker};
pub use retry::RetryPolicy;
pub use sequencer::run_sequencer;
pub use signal::{Work, run_signals};
pub use sip::run_sip_worker;
pub use switchboard_flowroute::MMS_MAX_BYTES;

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The base URL Flowroute and clients reach, without a trailing slash.
    pub public_url: String,
    /// When failed webhook deliveries are tried again.
    pub retry: RetryPolicy,
    /// How long one webhook request may take.
    pub webhook_timeout: Duration,
    /// How many deliveries run at once.
    pub webhook_concurrency: u32,
    /// How many of them one tenant may hold (in every instance together): a PBX that hangs
    /// holds these, and the other tenants' deliveries go on.
    pub webhook_per_tenant: u32,
    /// Where media (fetched MMS attachments, pictures people send) are kept.
    pub media_store: MediaStore,
    /// The largest attachment kept, in bytes.
    pub media_max_bytes: u64,
    /// Whether plain-http media links are fetched (local tests and simulators only).
    pub media_allow_http: bool,
    /// Attachments kept of one text; those beyond are dropped, and the message says so.
    pub media_max_per_text: usize,
    /// Bytes of stored media one tenant may hold; attachments past it are not kept.
    pub media_quota_bytes: u64,
    /// When failed media fetches are tried again.
    pub media_retry: RetryPolicy,
    /// When transient send failures are tried again.
    pub send_retry: RetryPolicy,
    /// Keep under Flowroute's 5 SMS/s and 1 MMS/s per access key.
    pub pace_provider: bool,
    /// How long one request to Flowroute may take.
    pub send_timeout: Duration,
    /// After a send whose answer never came, how long to wait for a delivery receipt naming it
    /// before sending it again (Flowroute retries a receipt for about two minutes).
    pub unknown_outcome_wait: Duration,
    /// Unknown-prefix callbacks a minute from one source before it is blocked (0: never).
    pub ingress_failure_limit: u32,
    /// How long a blocked source is answered `429`.
    pub ingress_block: Duration,
    /// Non-public networks that webhook URLs and provider endpoints may reach (an on-premises
    /// PBX, a local simulator); everything else must be a public address.
    pub private_targets: Vec<ipnet::IpNet>,
    /// Whether those requests may go to public addresses at all (on by default).
    pub public_targets: bool,
    /// How often the numbers' callbacks are looked at for drift (zero: never).
    pub callback_check_interval: Duration,
    /// The operator's shared ingress (`POST /ingress/{name}`), if it is on.
    pub shared_ingress: Option<SharedIngress>,
    /// How long finished work is kept.
    pub retention: housekeeping::Retention,
    /// How often housekeeping runs (zero: never).
    pub housekeeping_interval: Duration,
    /// How long a stopping worker waits for its jobs in flight before it hands the rest back to
    /// the queue.
    pub stop_deadline: Duration,
    /// How long one SIP MESSAGE may wait for its final answer.
    pub sip_timeout: Duration,
    /// The CA certificates (PEM) SIP over TLS trusts; none: the system's bundle, if found.
    pub sip_ca_file: Option<std::path::PathBuf>,
    /// The operator's outgoing mail, for texts nobody read; none: no email.
    pub email: Option<email::EmailSettings>,
}

/// The operator's one ingress URL for every tenant, which finds the tenant by the number texted:
/// for hosted platforms that give Flowroute one URL for all their customers. Like a prefix, it
/// answers only its token and sources (at least one of the two is set).
#[derive(Debug, Clone)]
pub struct SharedIngress {
    /// The last segment of its path: `POST /ingress/{name}`.
    pub name: String,
    /// The token callbacks must carry as `?token=`.
    pub token: Option<secrecy::SecretString>,
    /// The sources allowed to post.
    pub allowed_sources: Option<Vec<ipnet::IpNet>>,
}

impl EngineConfig {
    /// Defaults for a public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            retry: RetryPolicy::default(),
            webhook_timeout: Duration::from_secs(15),
            // A tenant holds a quarter of the deliverer. With 8 per tenant a lone tenant's backlog
            // drained at 250/s; on SQLite, where claims and settles wait for the inbound lane's
            // batches, 32 of 128 made the deliverer the ceiling of a lone tenant's inbound run
            // (docs/BENCHMARKS.md, 2026-12-06 third part).
            webhook_concurrency: 256,
            webhook_per_tenant: 64,
            media_store: MediaStore::Disk(std::path::PathBuf::from("switchboard-media")),
            media_max_bytes: 15 * 1024 * 1024,
            media_allow_http: false,
            media_max_per_text: 10,
            media_quota_bytes: 1024 * 1024 * 1024,
            // Flowroute's links last about a week; the last try is a day and a half in.
            send_retry: RetryPolicy {
                schedule: [1, 5, 30, 120, 600, 1800, 3600].map(Duration::from_secs).to_vec(),
                ..RetryPolicy::default()
            },
            pace_provider: true,
            send_timeout: Duration::from_secs(30),
            unknown_outcome_wait: Duration::from_secs(150),
            ingress_failure_limit: 30,
            ingress_block: Duration::from_secs(300),
            private_targets: Vec::new(),
            public_targets: true,
            callback_check_interval: Duration::from_secs(21_600),
            retention: housekeeping::Retention::default(),
            housekeeping_interval: Duration::from_secs(300),
            stop_deadline: Duration::from_secs(30),
            sip_timeout: Duration::from_secs(10),
            sip_ca_file: Some(std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt")).filter(|p| p.exists()),
            email: None,
            shared_ingress: None,
            media_retry: RetryPolicy {
                schedule: [10, 60, 300, 1800, 7200, 21_600, 43_200, 43_200].map(Duration::from_secs).to_vec(),
                ..RetryPolicy::default()
            },
        }
    }
}

/// An event just committed, for live streams.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub tenant_id: uuid::Uuid,
    pub seq: i64,
    pub payload: serde_json::Value,
}

/// The engine: the store, the routing cache, and the signals between the request path and workers.
#[derive(Debug)]
pub struct Engine {
    pub store: Store,
    pub cache: RoutingCache,
    pub config: EngineConfig,
    /// Wakes the webhook worker when new deliveries are committed.
    pub deliveries: Notify,
    /// Wakes the SIP deliverer when texts for phones are committed (only then: a claim that
    /// finds nothing is a write transaction, on SQLite the one lock inbound batches wait for).
    pub phones: Notify,
    /// The email sender's wake-up (its jobs fall due minutes after they are written; it polls).
    pub mail: Notify,
    /// Wakes the media fetcher when an MMS is stored.
    pub media: Notify,
    /// Wakes the dispatcher when a text is queued.
    pub sends: Notify,
    /// Wakes the sequencer when events commit unnumbered (PostgreSQL).
    pub unnumbered: Notify,
    pacer: dispatch::Pacer,
    /// A circuit breaker per PBX endpoint.
    breakers: breaker::Breakers,
    guard: guard::IngressGuard,
    media_http: reqwest::Client,
    flowroute: switchboard_flowroute::Client,
    live: broadcast::Sender<Arc<LiveEvent>>,
    /// Bumped whenever a tenant's configuration changes (an extension disabled, a tenant suspended):
    /// open streams look again whether their caller may still read.
    access: tokio::sync::watch::Sender<u64>,
    http: reqwest::Client,
    /// Where Switchboard's own requests may go.
    targets: Arc<net::Targets>,
    /// What to tell the other instances on the same database.
    signals: signal::Signals,
    /// Where media bytes are kept.
    blobs: blobs::Blobs,
    /// The SIP endpoint, started at the first SIP delivery.
    phones_client: sip::PhonesCell,
    /// The SMTP client, made at the first email.
    mailer: email::MailerCell,
}

/// Why an engine could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("building an HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Media(#[from] BlobError),
}

/// Installs the process's one TLS provider (ring, which sqlx already builds) for its HTTP clients;
/// installing twice is harmless, and without one the first client built panics.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: Store, config: EngineConfig) -> Result<Self, StartError> {
        install_tls();
        let targets = &Arc::new(net::Targets::new(&config.private_targets, config.public_targets));
        let http = net::guarded_client(targets, net::Redirects::Refuse).timeout(config.webhook_timeout).build()?;
        let (live, _) = broadcast::channel(4096);
        let flowroute = switchboard_flowroute::Client::with_builder(
            net::guarded_client(targets, net::Redirects::Refuse),
            config.send_timeout,
        )?;
        let media_http = media::client(targets)?;
        let guard = guard::IngressGuard::new(config.ingress_failure_limit, config.ingress_block);
        let signals = signal::Signals::new(store.is_shared());
        let blobs = blobs::Blobs::new(&config.media_store, &store)?;
        Ok(Self {
            signals,
            blobs,
            store,
            cache: RoutingCache::new(),
            config,
            deliveries: Notify::new(),
            phones: Notify::new(),
            mail: Notify::new(),
            media: Notify::new(),
            sends: Notify::new(),
            unnumbered: Notify::new(),
            pacer: dispatch::Pacer::default(),
            breakers: breaker::Breakers::default(),
            guard,
            flowroute,
            media_http,
            live,
            access: tokio::sync::watch::Sender::new(0),
            http,
            targets: targets.clone(),
            phones_client: sip::PhonesCell::new(),
            mailer: email::MailerCell::new(),
        })
    }

    /// Tells live streams of a numbered event.
    fn live(&self, event: LiveEvent) {
        let _ = self.live.send(Arc::new(event));
    }

    /// Says that a tenant's configuration was written: texts are routed by it from now on (the
    /// routing cache is emptied) and open streams check their caller again. Called where the
    /// configuration is written (the admin resources, tenants), after the write committed.
    /// Other instances on the same database do the same within a second.
    pub fn configuration_changed(&self) {
        self.cache.invalidate();
        self.access_changed();
    }

    /// Says that some tenant's configuration changed, so open streams (here and in the other
    /// instances) check their caller again.
    pub fn access_changed(&self) {
        self.access_changed_here();
        self.signals.config();
    }

    fn access_changed_here(&self) {
        self.access.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes this process's workers of `work`.
    fn notify_here(&self, work: Work) {
        match work {
            Work::Sends => self.sends.notify_one(),
            Work::Deliveries => self.deliveries.notify_one(),
            Work::Phones => self.phones.notify_one(),
            Work::Media => self.media.notify_one(),
        }
    }

    /// Wakes the workers of `work` here and in the other instances: some was committed.
    pub fn wake(&self, work: Work) {
        self.notify_here(work);
        self.signals.work(work);
    }

    /// Changes as [`Engine::access_changed`] is called.
    pub fn watch_access(&self) -> tokio::sync::watch::Receiver<u64> {
        self.access.subscribe()
    }

    /// Wakes the live streams of `tenant` to read its log (an event without payload: a wake-up
    /// only), when another instance's events were found numbered.
    pub fn wake_streams(&self, tenant: uuid::Uuid) {
        self.live(LiveEvent { tenant_id: tenant, seq: 0, payload: serde_json::Value::Null });
    }

    /// Wakes every live stream here to read its log (after notes from other instances may have
    /// been lost).
    fn wake_every_stream(&self) {
        self.live(LiveEvent { tenant_id: uuid::Uuid::nil(), seq: 0, payload: serde_json::Value::Null });
    }

    /// Subscribes to events as they are numbered (as they commit, on SQLite).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.live.subscribe()
    }

    /// How a tenant's PBX endpoint at `url` stands, as this process's deliveries found it: `None`
    /// when its last delivery succeeded (or none went from here).
    pub fn endpoint_health(&self, tenant: uuid::Uuid, url: &str) -> Option<breaker::Failing> {
        self.breakers.health(tenant, url)
    }

    /// Wakes the PBX deliverer: deliveries were queued outside the engine (played again).
    pub fn deliveries_queued(&self) {
        self.wake(Work::Deliveries);
    }

    /// Queues an outbound text (the dispatcher sends it) and tells live streams.
    pub async fn queue_text(
        &self,
        tenant: uuid::Uuid,
        sender: switchboard_store::outbound::Sender,
        input: switchboard_store::outbound::SendInput,
        idempotency_key: Option<&str>,
    ) -> Result<switchboard_store::outbound::Queued, switchboard_store::StoreError> {
        let pictures = input.attachments.clone();
        let (queued, event) = match self.store.queue_outbound(tenant, sender, input, idempotency_key).await {
            Ok(done) => done,
            Err(e) => {
                // Nothing half-written: a refused text's pictures go with it.
                self.discard_pictures(&pictures).await;
                return Err(e);
            }
        };
        if let Some(event) = event {
            self.published(&event);
        }
        self.wake(Work::Sends);
        Ok(queued)
    }

    /// Takes, lets go of, finishes or reopens a conversation, telling everyone who shares it.
    pub async fn handle_conversation(
        &self,
        tenant: uuid::Uuid,
        viewer: switchboard_store::inbox::Viewer<'_>,
        id: uuid::Uuid,
        handling: switchboard_store::inbox::Handling,
        by: &str,
    ) -> Result<switchboard_store::inbox::Conversation, switchboard_store::StoreError> {
        let (conversation, event) = self.store.handle_conversation(tenant, viewer, id, handling, by).await?;
        self.published(&event);
        Ok(conversation)
    }

    /// Tells the tenant (an event in its log, not sent to the PBX in question) that its endpoint's
    /// breaker opened or closed.
    async fn endpoint_changed(&self, tenant: uuid::Uuid, url: &str, change: breaker::Transition) {
        let url = url.to_owned();
        let body = match change {
            breaker::Transition::Opened { failures, retry_at } => {
                tracing::warn!(%tenant, failures, %retry_at, "the PBX endpoint keeps failing; deliveries wait");
                EventBody::EndpointUnavailable(EndpointUnavailable { url, failures, retry_at })
            }
            breaker::Transition::Recovered { since } => {
                tracing::info!(%tenant, %since, "the PBX endpoint answers again");
                EventBody::EndpointRecovered(EndpointRecovered { url, failing_since: since })
            }
        };
        match self.store.append_tenant_event(tenant, body).await {
            Ok(event) => self.published(&event),
            Err(e) => tracing::error!(%tenant, error = %e, "could not record an endpoint event"),
        }
    }

    /// Tells live streams (or the sequencer) of a committed event and wakes the deliverer for its
    /// webhook. Work of other kinds written with it (a reply to send, media to fetch) wakes its
    /// worker where it is written: woken for every event, the dispatcher's and the media fetcher's
    /// rounds claimed nothing for almost every inbound text, each claim a transaction (on SQLite,
    /// the one write lock the inbound batches wait for).
    fn published(&self, event: &switchboard_store::events::AppendedEvent) {
        match event.seq {
            Some(seq) => self.live(LiveEvent { tenant_id: event.tenant_id, seq, payload: event.payload.clone() }),
            // Streams hear of it once the sequencer has numbered it.
            None => self.unnumbered.notify_one(),
        }
        self.wake(Work::Deliveries);
    }
}
