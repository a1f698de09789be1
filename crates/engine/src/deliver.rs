//! The PBX webhook deliverer: claims `webhook_delivery` jobs, posts each event signed as Standard
//! Webhooks, and retries on a schedule with jitter (honouring `Retry-After` within bounds) until a
//! 2xx or the last attempt, after which the job is dead and an event says so.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use secrecy::ExposeSecret;
use switchboard_core::JobKind;
use switchboard_store::outbox::{ClaimedJob, WebhookDelivery};
use tokio::sync::watch;

use crate::Engine;
use crate::breaker::Admit;
use crate::signing;
use crate::worker::{self, Attempt, Held};

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    let value = res.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().to_owned();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(&value).ok()?;
    (when.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// What a claimed delivery posts: `Ok(None)` when its tenant has no webhook, `Err` with why it
/// could not be loaded.
type Loaded = Result<Option<WebhookDelivery>, String>;

async fn attempt(engine: &Engine, job: &ClaimedJob, delivery: Loaded) -> Attempt {
    let delivery = match delivery {
        Ok(Some(d)) => d,
        Ok(None) => return Attempt::Done,
        Err(error) => return Attempt::Retry { error, retry_after: None, status: None },
    };
    if let Err(error) = crate::net::check_literal(&delivery.url, &engine.targets) {
        return Attempt::Retry { error, retry_after: None, status: None };
    }
    if let Admit::Wait(until) = engine.breakers.admit(job.tenant_id, &delivery.url, Utc::now()) {
        return Attempt::Wait(until);
    }
    let outcome = post(engine, job, &delivery).await;
    let ok = matches!(outcome, Attempt::Done);
    if let Some(change) = engine.breakers.record(job.tenant_id, &delivery.url, ok, Utc::now()) {
        engine.endpoint_changed(job.tenant_id, &delivery.url, change).await;
    }
    outcome
}

/// One signed post of `delivery`.
async fn post(engine: &Engine, job: &ClaimedJob, delivery: &WebhookDelivery) -> Attempt {
    let body = serde_json::to_vec(&delivery.body).unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let signatures: Vec<String> = delivery
        .secrets
        .iter()
        .filter_map(|s| signing::sign(s.expose_secret(), &delivery.webhook_id, timestamp, &body).ok())
        .collect();
    let res = engine
        .http
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &delivery.webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures.join(" "))
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => {
            tracing::info!(job_id = %job.id, webhook_id = %delivery.webhook_id, "delivered to the PBX");
            Attempt::Done
        }
        Ok(r) => Attempt::Retry {
            error: format!("the PBX answered {}", r.status()),
            retry_after: retry_after(&r),
            status: Some(r.status().as_u16()),
        },
        Err(e) if e.is_timeout() => {
            Attempt::Retry { error: "the PBX did not answer in time".into(), retry_after: None, status: None }
        }
        Err(e) if e.is_connect() => Attempt::Retry {
            error: format!("could not connect to the PBX: {}", crate::net::chain(&e)),
            retry_after: None,
            status: None,
        },
        Err(e) => Attempt::Retry { error: format!("request failed: {e}"), retry_after: None, status: None },
    }
}

/// Runs the deliverer until `stop` turns true.
pub async fn run_webhook_worker(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    // Long enough for one attempt to finish; after a crash, a job held by the dead process waits
    // this long before another run claims it again.
    let lease = engine.config.webhook_timeout * 2 + Duration::from_secs(5);
    let concurrency = engine.config.webhook_concurrency;
    let kind = worker::Kind {
        kind: JobKind::WebhookDelivery,
        concurrency,
        lease,
        per_tenant: engine.config.webhook_per_tenant,
        // Answers come close together: recording those of 3 ms at once makes far fewer write
        // transactions (on PostgreSQL). On SQLite settles ride in the inbound lane, where those
        // reported while one waits for its turn go together in the next anyway, and a linger
        // only holds the tenant's places longer (docs/BENCHMARKS.md, 2026-12-06 third part).
        linger: if engine.store.settles_ride() { Duration::ZERO } else { Duration::from_millis(3) },
        wake: |e| &e.deliveries,
        retry: |e| &e.config.retry,
    };
    // What a claimed batch posts is read in two queries; each post then goes on its own.
    let load = |engine: Arc<Engine>, jobs: Vec<Held>| async move {
        let claimed: Vec<ClaimedJob> = jobs.iter().map(|h| h.job.clone()).collect();
        match engine.store.webhook_deliveries(&claimed).await {
            Ok(mut loaded) => jobs
                .into_iter()
                .map(|job| {
                    let delivery = loaded.remove(&job.id).ok_or_else(|| "loading the event: not found".to_owned());
                    (job, delivery)
                })
                .collect(),
            Err(e) => {
                let error = format!("loading the events: {e}");
                jobs.into_iter().map(|job| (job, Err(error.clone()))).collect()
            }
        }
    };
    let post =
        |engine: Arc<Engine>, job: ClaimedJob, delivery: Loaded| async move { attempt(&engine, &job, delivery).await };
    worker::run_pipelined(engine, kind, stop, load, post).await;
}
