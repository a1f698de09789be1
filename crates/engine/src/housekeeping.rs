//! Housekeeping, run by one instance at a time (the holder of the `housekeeping` lease): jobs an
//! instance claimed and never finished go back to the queue, and finished jobs, events, send
//! attempts, media and texts past their retention are deleted, a few hundred rows per transaction
//! so that nothing waits on the pruner.

use std::sync::Arc;
use std::time::Duration;

use switchboard_store::housekeeping::{Lease, Prunable};
use tokio::sync::watch;
use uuid::Uuid;

use crate::Engine;

/// How long each kind of record is kept (`None`: for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub finished_jobs: Option<Duration>,
    pub events: Option<Duration>,
    pub send_attempts: Option<Duration>,
    /// Stored attachments' bytes (the rows stay, `expired`).
    pub media: Option<Duration>,
    /// Texts, with their attachments, and conversations gone quiet for as long.
    pub messages: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        Self { finished_jobs: days(7), events: days(30), send_attempts: days(90), media: days(180), messages: None }
    }
}

/// Rows deleted (or jobs put back) per transaction.
const BATCH: u32 = 500;

/// A pause between batches, so the pruner's transactions leave room for everyone else's.
const BREATHE: Duration = Duration::from_millis(10);

/// How long after its lease ended a job is put back by the rescuer (claims take it anyway).
const RESCUE_GRACE: chrono::Duration = chrono::Duration::seconds(10);

const LEASE: &str = "housekeeping";

/// Runs housekeeping every `housekeeping_interval` until `stop` turns true; the instance holding
/// the lease keeps it from round to round, and another takes over once it lapses.
pub async fn run_housekeeping(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let every = engine.config.housekeeping_interval;
    if every.is_zero() {
        return;
    }
    let me = Uuid::new_v4();
    let ttl = chrono::Duration::from_std(every + Duration::from_secs(60)).unwrap_or(chrono::Duration::hours(1));
    let mut held: Option<Lease> = None;
    loop {
        // Each instance's first round comes at a random point of the first interval.
        let wait = if held.is_none() { every.mul_f64(rand::random_range(0.1..1.0)) } else { every };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            if let Some(lease) = held.take()
                && let Err(e) = engine.store.release_lease(&lease).await
            {
                tracing::warn!(error = %e, "could not give up the housekeeping lease; it lapses");
            }
            return;
        }
        held = match engine.store.take_lease(LEASE, me, ttl).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(error = %e, "could not take the housekeeping lease");
                None
            }
        };
        if let Some(lease) = &held {
            housekeep(&engine, lease, &stop).await;
        }
    }
}

/// One round: jobs put back, then each kind pruned.
pub async fn housekeep(engine: &Engine, lease: &Lease, stop: &watch::Receiver<bool>) {
    let rescued = batches(stop, || engine.store.rescue_jobs(RESCUE_GRACE, BATCH, lease)).await;
    if rescued > 0 {
        tracing::warn!(jobs = rescued, "put back jobs an instance claimed and never finished");
    }
    let keep = engine.config.retention;
    for (what, kept) in [
        (Prunable::FinishedJobs, keep.finished_jobs),
        (Prunable::Events, keep.events),
        (Prunable::SendAttempts, keep.send_attempts),
    ] {
        let Some(cutoff) = cutoff(kept) else { continue };
        let n = batches(stop, || engine.store.prune_batch(what, cutoff, BATCH, lease)).await;
        if n > 0 {
            tracing::info!(what = what.as_str(), rows = n, "pruned past their retention");
        }
    }
    if let Some(cutoff) = cutoff(keep.media) {
        with_bytes(engine, stop, "media", || engine.store.expire_media(cutoff, BATCH, lease)).await;
    }
    if let Some(cutoff) = cutoff(keep.messages) {
        with_bytes(engine, stop, "texts", || engine.store.prune_messages(cutoff, BATCH, lease)).await;
    }
}

/// Prunes rows that name media bytes in batches, removing each batch's bytes from the media store
/// after its rows' commit: a crash in between leaves bytes nothing names, never a row naming none.
async fn with_bytes<F, Fut>(engine: &Engine, stop: &watch::Receiver<bool>, what: &str, batch: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(u64, Vec<String>), switchboard_store::StoreError>>,
{
    let n = batches(stop, || async {
        let (n, keys) = batch().await?;
        for key in &keys {
            engine.blobs.delete(key).await;
        }
        Ok(n)
    })
    .await;
    if n > 0 {
        tracing::info!(what, rows = n, "pruned past their retention");
    }
}

fn cutoff(kept: Option<Duration>) -> Option<chrono::DateTime<chrono::Utc>> {
    kept.map(|k| chrono::Utc::now() - chrono::Duration::from_std(k).unwrap_or(chrono::Duration::MAX))
}

/// Runs `batch` until it does less than a whole batch, fails, or the stop; answers the total.
async fn batches<F, Fut>(stop: &watch::Receiver<bool>, batch: F) -> u64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, switchboard_store::StoreError>>,
{
    let mut total = 0;
    loop {
        match batch().await {
            Ok(n) => {
                total += n;
                if n < u64::from(BATCH) || *stop.borrow() {
                    return total;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "housekeeping failed; trying again next round");
                return total;
            }
        }
        tokio::time::sleep(BREATHE).await;
    }
}
