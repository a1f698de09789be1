//! `GET /api/v1/events`: the live stream (Server-Sent Events). The event log in the store is the
//! source of truth: the stream replays from it after `Last-Event-ID` and reads it again whenever an
//! event commits (or every two seconds, for events committed by another instance), so a slow
//! client or a missed wake-up can delay an event but never lose it.

use std::collections::VecDeque;
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

const HEARTBEAT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_secs(2);
const BATCH: u64 = 200;

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
    quiet_since: tokio::time::Instant,
}

impl Stream {
    async fn next(mut self) -> Option<(Result<Bytes, actix_web::Error>, Self)> {
        loop {
            if let Some(b) = self.queue.pop_front() {
                return Some((Ok(b), self));
            }
            if *self.stop.borrow() {
                return None;
            }
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
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "event stream could not read the log; retrying"),
            }
            let heartbeat_at = self.quiet_since + HEARTBEAT;
            tokio::select! {
                r = self.live.recv() => {
                    if let Err(broadcast::error::RecvError::Closed) = r {
                        return None;
                    }
                }
                () = tokio::time::sleep(POLL) => {}
                () = tokio::time::sleep_until(heartbeat_at) => {
                    self.quiet_since = tokio::time::Instant::now();
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self));
                }
                _ = self.stop.changed() => {}
            }
        }
    }
}

/// The caller's events as `text/event-stream`: `message.received` and `message.status` for texts
/// routed to or sent by the extension (a tenant admin sees all of the tenant's events). Each event's
/// `id` is the tenant's event sequence number; reconnect with `Last-Event-ID` to resume.
#[utoipa::path(tag = "extension", security(("bearer" = [])), params(EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this event")),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 403, body = Problem)))]
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
    // Subscribe before reading the tail, so nothing committed in between goes unnoticed.
    let live = state.engine.subscribe();
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
        quiet_since: tokio::time::Instant::now(),
    };
    let body = futures_util::stream::unfold(stream, Stream::next);
    Ok(HttpResponse::Ok().content_type("text/event-stream").insert_header(("x-accel-buffering", "no")).streaming(body))
}
