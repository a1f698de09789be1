//! The outbound dispatcher: claims `provider_send` jobs and hands each text to Flowroute, under the
//! number's per-minute limit (counted in the store) and Flowroute's per-key limits (5 SMS/s, 1 MMS/s,
//! paced in this process). Transient failures are retried with backoff; a permanent refusal fails
//! the text at once; once Flowroute's `202` and id are recorded, the text is never sent again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use switchboard_core::E164;
use switchboard_core::status::MessageStatus;
use switchboard_flowroute::{Credentials, Outgoing, SendError};
use switchboard_store::dispatch::Slot;
use switchboard_store::events::PROVIDER_SEND;
use switchboard_store::outbox::ClaimedJob;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use crate::Engine;
use crate::worker::{self, Attempt};

/// Spaces requests per access key: Flowroute allows 5 SMS and 1 MMS per second.
#[derive(Debug, Default)]
pub struct Pacer {
    next: Mutex<HashMap<(String, bool), Instant>>,
    /// When each key's last requests actually left, for [`Pacer::hold`].
    sent: Mutex<HashMap<(String, bool), VecDeque<Instant>>>,
}

/// Flowroute's window, with a margin for the request's way there.
const WINDOW: Duration = Duration::from_millis(1050);

impl Pacer {
    async fn wait(&self, key: &str, mms: bool) {
        let gap = if mms { Duration::from_millis(1010) } else { Duration::from_millis(210) };
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.get(&(key.to_owned(), mms)).copied().filter(|t| *t > now).unwrap_or(now);
            next.insert((key.to_owned(), mms), slot + gap);
            slot
        };
        tokio::time::sleep_until(at).await;
    }

    /// Right before a request leaves: waits while the key's last requests would put this one over
    /// Flowroute's limit in any one-second window. The slots [`Pacer::wait`] hands out are spaced,
    /// but the database write between a slot and its request can bunch requests together again.
    async fn hold(&self, key: &str, mms: bool) {
        let limit = if mms { 1 } else { 5 };
        loop {
            let until = {
                let mut sent = self.sent.lock().await;
                let recent = sent.entry((key.to_owned(), mms)).or_default();
                let now = Instant::now();
                while recent.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    recent.pop_front();
                }
                if recent.len() < limit {
                    recent.push_back(now);
                    return;
                }
                recent.front().map_or(now, |t| *t + WINDOW)
            };
            tokio::time::sleep_until(until).await;
        }
    }
}

async fn attempt(engine: &Engine, job: &ClaimedJob) -> Attempt {
    let Some(id) = job.message_id else { return Attempt::Done };
    let ctx = match engine.store.send_context(id).await {
        Ok(c) => c,
        Err(switchboard_store::StoreError::NotFound) => return Attempt::Done,
        Err(e) => return Attempt::Retry { error: format!("loading the message: {e}"), retry_after: None },
    };
    if ctx.provider_message_id.is_some() || ctx.status.is_final() || ctx.status == MessageStatus::Sent {
        return Attempt::Done; // accepted before: never again
    }
    // An earlier send went out and no answer came back: Flowroute may have the text. Wait for a
    // receipt naming it (the store then records its id) before sending it again.
    match engine.store.open_attempt(id).await {
        Ok(Some(since)) => {
            let wait = chrono::Duration::from_std(engine.config.unknown_outcome_wait).unwrap_or_default();
            if since + wait > chrono::Utc::now() {
                if let Err(e) = engine.store.defer_job(job.id, since + wait).await {
                    return Attempt::Retry { error: format!("deferring: {e}"), retry_after: None };
                }
                return Attempt::Deferred;
            }
            tracing::warn!(message_id = %id, "no receipt named an unanswered send; sending again");
        }
        Ok(None) => {}
        Err(e) => return Attempt::Retry { error: format!("loading attempts: {e}"), retry_after: None },
    }
    let (Ok(from), Ok(to)) = (E164::parse(&ctx.from), E164::parse(&ctx.to)) else {
        let _ =
            engine.store.record_failure(id, None, None, "the number or the recipient is not valid E.164", true).await;
        return Attempt::Done;
    };
    // Paced before the attempt is recorded, so a crash while waiting leaves no attempt that looks
    // as if it might have gone out.
    if engine.config.pace_provider {
        engine.pacer.wait(&ctx.access_key, !ctx.media_urls.is_empty()).await;
    }
    let attempt_id = match engine.store.reserve_send(&ctx).await {
        Ok(Slot::Granted { attempt_id, event }) => {
            if let Some(e) = event {
                engine.published(&e);
            }
            attempt_id
        }
        Ok(Slot::Wait(until)) => {
            tracing::info!(message_id = %id, number = %ctx.from, "at the number's per-minute limit; waiting");
            if let Err(e) = engine.store.defer_job(job.id, until).await {
                return Attempt::Retry { error: format!("deferring: {e}"), retry_after: None };
            }
            return Attempt::Deferred;
        }
        Err(e) => return Attempt::Retry { error: format!("reserving a send slot: {e}"), retry_after: None },
    };
    let dlr = ctx.prefix.as_ref().map(|p| match &ctx.prefix_token {
        Some(t) => format!("{}/{p}?token={}", engine.config.public_url, t.expose_secret()),
        None => format!("{}/{p}", engine.config.public_url),
    });
    let creds = Credentials {
        access_key: ctx.access_key.clone(),
        secret_key: ctx.secret_key.expose_secret().to_owned().into(),
    };
    let msg = Outgoing {
        from: &from,
        to: &to,
        body: ctx.body.as_deref(),
        media_urls: &ctx.media_urls,
        dlr_callback: dlr.as_deref(),
    };
    let sent = match crate::net::check_literal(&ctx.endpoint, &engine.config.private_targets) {
        Err(detail) => Err(SendError::Transient { status: None, detail, retry_after: None }),
        Ok(()) => {
            if engine.config.pace_provider {
                engine.pacer.hold(&ctx.access_key, !ctx.media_urls.is_empty()).await;
            }
            engine.flowroute.send(&ctx.endpoint, &creds, &msg).await
        }
    };
    match sent {
        Ok(accepted) => match engine.store.record_accepted(id, attempt_id, &accepted.id).await {
            Ok(event) => {
                tracing::info!(message_id = %id, provider_message_id = %accepted.id, "sent");
                if let Some(e) = event {
                    engine.published(&e);
                }
                Attempt::Done
            }
            // Flowroute has it; resending would send twice. Keep trying to record it.
            Err(e) => {
                tracing::error!(message_id = %id, provider_message_id = %accepted.id, error = %e, "sent, but the id could not be recorded");
                Attempt::Retry { error: format!("recording {}: {e}", accepted.id), retry_after: None }
            }
        },
        Err(SendError::Permanent { status, detail }) => {
            tracing::warn!(message_id = %id, status, %detail, "Flowroute refused the text");
            match engine.store.record_failure(id, Some(attempt_id), Some(status), &detail, true).await {
                Ok(event) => {
                    if let Some(e) = event {
                        engine.published(&e);
                    }
                    Attempt::Done
                }
                Err(e) => Attempt::Retry { error: format!("recording the refusal: {e}"), retry_after: None },
            }
        }
        Err(SendError::Unknown { detail }) => {
            tracing::warn!(message_id = %id, %detail, "a send went unanswered; waiting for a receipt before resending");
            let _ = engine.store.record_unknown(attempt_id, &detail).await;
            Attempt::Retry { error: detail, retry_after: Some(engine.config.unknown_outcome_wait) }
        }
        Err(SendError::Transient { status, detail, retry_after }) => {
            let _ = engine.store.record_failure(id, Some(attempt_id), status, &detail, false).await;
            Attempt::Retry { error: detail, retry_after }
        }
    }
}

/// Runs the dispatcher until `stop` turns true.
pub async fn run_dispatcher(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    // A send held by a process that died is claimed again after this long.
    let lease = engine.config.send_timeout * 2 + Duration::from_secs(5);
    let kind = worker::Kind {
        kind: PROVIDER_SEND,
        concurrency: 16,
        lease,
        wake: |e| &e.sends,
        retry: |e| &e.config.send_retry,
    };
    worker::run(engine, kind, stop, |engine, job| async move {
        let outcome = attempt(&engine, &job).await;
        if let (Attempt::Retry { error, .. }, Some(id)) = (&outcome, job.message_id) {
            let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
            if engine.config.send_retry.next_delay(attempts, None).is_none() {
                // Out of retries: the text fails for good.
                if let Ok(Some(e)) = engine.store.record_failure(id, None, None, error, true).await {
                    engine.published(&e);
                }
            }
        }
        outcome
    })
    .await;
}
