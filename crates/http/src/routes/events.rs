//! `GET /api/v1/events`: the live stream (Server-Sent Events). The event log in the store is the
//! source of truth: the stream replays from it after `Last-Event-ID` and reads it again whenever an
//! event of its tenant commits in this process, or when [`poll_for_streams`] (one query every two
//! seconds for the whole process) finds one numbered by another instance; so a slow client or a
//! missed wake-up can delay an event but never lose it.
//!
//! Streams are bounded: so many per extension and per tenant (`429` beyond), a heartbeat when quiet,
//! closed after `stream_idle_timeout_secs` without an event (the client resumes with
//! `Last-Event-ID`), and closed at once when their extension is disabled or removed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use serde_json::Value;
use switchboard_store::Store;
use switchboard_store::inbox::LoggedEvent;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};

/// How often [`poll_for_streams`] looks for events numbered by other instances.
const POLL: Duration = Duration::from_secs(2);
const BATCH: u64 = 200;
/// How often a stream looks whether its extension is still enabled when no change was announced
/// in this process (another instance may have made it).
const RECHECK: Duration = Duration::from_secs(30);

/// The open streams of each tenant, and their limits.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    /// Streams one extension may hold open.
    pub per_extension: usize,
    /// Streams one tenant (its extensions and admins together) may hold open.
    pub per_tenant: usize,
    /// A stream with no event for this long ends; the client resumes with `Last-Event-ID`.
    pub idle_timeout: Duration,
    /// A quiet stream sends a comment this often, which keeps proxies from closing it and tells
    /// the server that its client left (the write fails, the stream ends, its place is freed).
    pub heartbeat: Duration,
    open: Arc<Mutex<HashMap<Uuid, Open>>>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_extension: HashMap<String, usize>,
}

/// One open stream, counted until dropped.
struct Slot {
    open: Arc<Mutex<HashMap<Uuid, Open>>>,
    tenant: Uuid,
    ext: Option<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(o) = open.get_mut(&self.tenant) {
            o.total = o.total.saturating_sub(1);
            if let Some(ext) = &self.ext
                && let Some(n) = o.by_extension.get_mut(ext)
            {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    o.by_extension.remove(ext);
                }
            }
            if o.total == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

impl StreamLimits {
    /// Limits with no stream open yet.
    pub fn new(per_extension: usize, per_tenant: usize, idle_timeout: Duration) -> Self {
        Self { per_extension, per_tenant, idle_timeout, heartbeat: Duration::from_secs(15), open: Arc::default() }
    }

    /// The tenants with a stream open in this process.
    fn open_tenants(&self) -> Vec<Uuid> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys().copied().collect()
    }

    /// The same limits with another heartbeat interval.
    pub fn with_heartbeat(self, heartbeat: Duration) -> Self {
        Self { heartbeat, ..self }
    }

    /// Counts a new stream, or refuses it with `429` when its extension or tenant has its fill.
    fn take(&self, tenant: Uuid, ext: Option<&str>) -> Result<Slot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let o = open.entry(tenant).or_default();
        let wait = Duration::from_secs(5);
        if o.total >= self.per_tenant {
            return Err(ApiError::rate_limited(
                format!("This tenant has {} live streams open, the most it may; close one first.", self.per_tenant),
                wait,
            ));
        }
        if let Some(ext) = ext {
            let n = o.by_extension.entry(ext.to_owned()).or_default();
            if *n >= self.per_extension {
                return Err(ApiError::rate_limited(
                    format!(
                        "This extension has {} live streams open, the most it may; close one first.",
                        self.per_extension
                    ),
                    wait,
                ));
            }
            *n += 1;
        }
        o.total += 1;
        Ok(Slot { open: self.open.clone(), tenant, ext: ext.map(str::to_owned) })
    }
}

/// Query of the stream: `last_event_id` for clients that cannot set the header.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event (the `Last-Event-ID` header wins when both are given).
    pub last_event_id: Option<i64>,
}

/// True when an extension may see the event: a text routed to it or sent by it.
pub fn visible_to(ext: &str, payload: &Value) -> bool {
    let data = &payload["data"];
    let routed = data["extensions"].as_array().is_some_and(|a| a.iter().any(|e| e.as_str() == Some(ext)));
    routed || data["sender_extension"].as_str() == Some(ext)
}

fn frame(e: &LoggedEvent) -> Bytes {
    Bytes::from(format!("id: {}\nevent: {}\ndata: {}\n\n", e.seq, e.event_type, e.payload))
}

struct Stream {
    store: Store,
    tenant: Uuid,
    ext: Option<String>,
    last: i64,
    queue: VecDeque<Bytes>,
    live: broadcast::Receiver<std::sync::Arc<switchboard_engine::LiveEvent>>,
    stop: watch::Receiver<bool>,
    /// Changes when some tenant's configuration changed in this process.
    access: watch::Receiver<u64>,
    /// When the caller's right to read was last confirmed.
    checked_at: tokio::time::Instant,
    /// A change was announced: confirm it at once.
    recheck: bool,
    quiet_since: tokio::time::Instant,
    /// When an event was last sent.
    active_at: tokio::time::Instant,
    idle_timeout: Duration,
    heartbeat: Duration,
    /// The log may hold events this stream has not read.
    dirty: bool,
    /// The instance is stopping and the stream has said when to reconnect.
    said_goodbye: bool,
    _slot: Slot,
}

impl Stream {
    /// Whether the caller may still read: an extension still there and enabled. A failed look
    /// keeps the stream (it is tried again).
    async fn still_allowed(&self) -> bool {
        let Some(ext) = &self.ext else { return true };
        match self.store.get_extension(self.tenant, ext).await {
            Ok(found) => found.enabled,
            Err(switchboard_store::StoreError::NotFound) => false,
            Err(_) => true,
        }
    }

    async fn next(mut self) -> Option<(Result<Bytes, actix_web::Error>, Self)> {
        loop {
            if let Some(b) = self.queue.pop_front() {
                return Some((Ok(b), self));
            }
            if *self.stop.borrow() {
                if self.said_goodbye {
                    return None;
                }
                // The instance is stopping: reconnect soon (through the load balancer, to another
                // instance), the clients spread over a second so they do not all come at once.
                self.said_goodbye = true;
                let wait = rand::random_range(250..1250);
                return Some((Ok(Bytes::from(format!("retry: {wait}\n\n"))), self));
            }
            let now = tokio::time::Instant::now();
            if self.recheck || self.access.has_changed().unwrap_or(false) || now >= self.checked_at + RECHECK {
                self.access.mark_unchanged();
                self.recheck = false;
                self.checked_at = now;
                if !self.still_allowed().await {
                    return None;
                }
            }
            if now >= self.active_at + self.idle_timeout {
                return None;
            }
            if self.dirty {
                match self.store.events_after(self.tenant, self.last, BATCH).await {
                    Ok(batch) if !batch.is_empty() => {
                        for e in &batch {
                            self.last = e.seq;
                            if self.ext.as_deref().is_none_or(|x| visible_to(x, &e.payload)) {
                                self.queue.push_back(frame(e));
                            }
                        }
                        if !self.queue.is_empty() {
                            self.quiet_since = tokio::time::Instant::now();
                            self.active_at = self.quiet_since;
                        }
                        continue;
                    }
                    Ok(_) => self.dirty = false,
                    Err(e) => tracing::warn!(error = %e, "event stream could not read the log; retrying"),
                }
            }
            let heartbeat_at = self.quiet_since + self.heartbeat;
            let idle_at = self.active_at + self.idle_timeout;
            let tenant = self.tenant;
            tokio::select! {
                r = self.live.recv() => match r {
                    // Another tenant's event: nothing to read (the nil tenant wakes every stream).
                    Ok(e) if e.tenant_id != tenant && !e.tenant_id.is_nil() => {}
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.dirty = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                () = tokio::time::sleep_until(heartbeat_at) => {
                    self.quiet_since = tokio::time::Instant::now();
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self));
                }
                () = tokio::time::sleep_until(idle_at) => {}
                // Seen now: look at once whether the caller may still read.
                _ = self.access.changed() => self.recheck = true,
                _ = self.stop.changed() => {}
            }
        }
    }
}

/// Finds events other instances numbered, for this process's streams, until `stop`: every
/// [`POLL`], one query reads the last event number of each tenant with a stream open here and
/// wakes the streams of those whose number moved. Streams do not poll the database themselves;
/// this process's own commits wake them directly.
pub async fn poll_for_streams(
    store: Store,
    engine: std::sync::Arc<switchboard_engine::Engine>,
    limits: StreamLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen: HashMap<Uuid, i64> = HashMap::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        let tenants = limits.open_tenants();
        let open: std::collections::HashSet<&Uuid> = tenants.iter().collect();
        seen.retain(|t, _| open.contains(t));
        if tenants.is_empty() {
            continue;
        }
        match store.event_tails(&tenants).await {
            Ok(tails) => {
                for (tenant, tail) in tails {
                    if seen.insert(tenant, tail) != Some(tail) {
                        engine.wake_streams(tenant);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not look for other instances' events; retrying"),
        }
    }
}

/// The caller's events as `text/event-stream`: `message.received` and `message.status` for texts
/// routed to or sent by the extension (a tenant admin sees all of the tenant's events). Each event's
/// `id` is the tenant's event sequence number; reconnect with `Last-Event-ID` to resume.
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this event")),
    responses((status = 200, content_type = "text/event-stream", body = switchboard_core::Event,
        description = "one `id:`, `event:` (the type) and `data:` (the event as JSON) per event"), (status = 403, body = Problem),
        (status = 429, body = Problem)))]
#[get("/api/v1/events")]
pub async fn events(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let header = req.headers().get("last-event-id").and_then(|v| v.to_str().ok()).map(str::trim);
    let resume = match header {
        Some(v) if !v.is_empty() => Some(v.parse::<i64>().map_err(|_| {
            ApiError::invalid(vec![switchboard_core::FieldError {
                field: "Last-Event-ID".into(),
                message: "must be the id of an event from this stream".into(),
            }])
        })?),
        _ => q.last_event_id,
    };
    let slot = state.streams.take(caller.tenant.id, caller.ext.as_deref())?;
    // Subscribe before reading the tail, so nothing committed in between goes unnoticed.
    let live = state.engine.subscribe();
    let mut access = state.engine.watch_access();
    access.mark_unchanged();
    let last = match resume {
        Some(seq) => seq.max(0),
        None => state.store.event_tail(caller.tenant.id).await?,
    };
    let mut queue = VecDeque::new();
    queue.push_back(Bytes::from_static(b"retry: 3000\n\n"));
    let stream = Stream {
        store: state.store.clone(),
        tenant: caller.tenant.id,
        ext: caller.ext,
        last,
        queue,
        live,
        stop: state.shutdown.clone(),
        access,
        checked_at: tokio::time::Instant::now(),
        said_goodbye: false,
        recheck: false,
        quiet_since: tokio::time::Instant::now(),
        active_at: tokio::time::Instant::now(),
        idle_timeout: state.streams.idle_timeout,
        heartbeat: state.streams.heartbeat,
        dirty: true,
        _slot: slot,
    };
    let body = futures_util::stream::unfold(stream, Stream::next);
    Ok(HttpResponse::Ok().content_type("text/event-stream").insert_header(("x-accel-buffering", "no")).streaming(body))
}
