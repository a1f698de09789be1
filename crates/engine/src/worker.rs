//! The loop every job worker shares: claim due jobs of one kind, run them concurrently (each is
//! the head of its ordering key), settle each outcome (done, retry later, or dead), and sleep until
//! woken or a short poll interval passes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_store::outbox::ClaimedJob;
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::Engine;
use crate::deliver::RetryPolicy;

/// How one attempt at a job went.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Done; nothing more to do.
    Done,
    /// Failed; try again on the policy's schedule (or after `retry_after`).
    Retry { error: String, retry_after: Option<Duration> },
    /// Not failed, only early (a rate limit): put back until then without counting the attempt.
    Wait(DateTime<Utc>),
}

/// Records a round's outcomes: the jobs done in one statement, those put back in another, each
/// other one on its own; a job out of retries is dead, with an event saying so. A failure to
/// record leaves the job leased: it runs again when the lease ends (at least once, never lost).
async fn settle(engine: &Engine, outcomes: Vec<(ClaimedJob, Attempt)>, policy: &RetryPolicy) {
    let done: Vec<uuid::Uuid> =
        outcomes.iter().filter(|(_, a)| matches!(a, Attempt::Done)).map(|(job, _)| job.id).collect();
    if !done.is_empty()
        && let Err(e) = engine.store.complete_jobs(&done).await
    {
        tracing::error!(jobs = done.len(), error = %e, "could not record jobs as done");
    }
    let waiting: Vec<(uuid::Uuid, DateTime<Utc>)> = outcomes
        .iter()
        .filter_map(|(job, a)| match a {
            Attempt::Wait(until) => Some((job.id, *until)),
            _ => None,
        })
        .collect();
    if !waiting.is_empty()
        && let Err(e) = engine.store.defer_jobs(&waiting).await
    {
        tracing::error!(jobs = waiting.len(), error = %e, "could not put jobs back to wait");
    }
    for (job, attempt) in outcomes {
        let Attempt::Retry { error, retry_after } = attempt else { continue };
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        let result = match policy.next_delay(attempts, retry_after) {
            Some(delay) => {
                tracing::warn!(job_id = %job.id, kind = %job.kind, %error, retry_in_s = delay.as_secs_f64(), "job failed; will retry");
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(10));
                engine.store.retry_job(job.id, next, &error).await
            }
            None => {
                tracing::error!(job_id = %job.id, kind = %job.kind, %error, "job failed for the last time; it is dead");
                engine.store.kill_job(&job, &error).await
            }
        };
        if let Err(e) = result {
            tracing::error!(job_id = %job.id, error = %e, "could not record a job's outcome");
        }
    }
}

/// Claims up to `limit` jobs of `kind`; with none to claim (or the claim failing), waits to be
/// woken, a short poll, or the stop, and answers none.
async fn claim_or_wait(engine: &Engine, kind: &Kind, limit: u32, stop: &mut watch::Receiver<bool>) -> Vec<ClaimedJob> {
    let lease = chrono::Duration::from_std(kind.lease).unwrap_or(chrono::Duration::minutes(1));
    let jobs = match engine.store.claim_jobs(kind.kind, limit, kind.per_tenant, lease).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, kind = kind.kind, "could not claim jobs");
            Vec::new()
        }
    };
    if jobs.is_empty() {
        tokio::select! {
            () = (kind.wake)(engine).notified() => {}
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
    jobs
}

/// How a kind of job runs: its wake-up, its retry schedule, how many at once, and its lease.
pub(crate) struct Kind {
    pub kind: &'static str,
    /// Jobs claimed a round.
    pub concurrency: u32,
    /// Rounds in flight at once, each claiming its own jobs (as several instances would), so that
    /// one round's database work overlaps another's network waits.
    pub rounds: usize,
    pub lease: Duration,
    /// The most jobs of one tenant running at once (in every instance together): the rest of a
    /// tenant's backlog waits while other tenants' jobs are claimed. `None`: oldest first.
    pub per_tenant: Option<u32>,
    pub wake: fn(&Engine) -> &Notify,
    pub retry: fn(&Engine) -> &RetryPolicy,
}

/// Runs jobs of `kind` in claimed rounds with `round` (which may load what the whole round needs
/// at once), `kind.rounds` of them in flight, until `stop` turns true.
pub(crate) async fn run_rounds<R, F>(engine: Arc<Engine>, kind: Kind, stop: watch::Receiver<bool>, round: R)
where
    R: Fn(Arc<Engine>, Vec<ClaimedJob>) -> F,
    F: Future<Output = Vec<(ClaimedJob, Attempt)>>,
{
    let lanes = (0..kind.rounds.max(1)).map(|_| run_lane(engine.clone(), &kind, stop.clone(), &round));
    futures_util::future::join_all(lanes).await;
}

/// One loop of claimed rounds.
async fn run_lane<R, F>(engine: Arc<Engine>, kind: &Kind, mut stop: watch::Receiver<bool>, round: &R)
where
    R: Fn(Arc<Engine>, Vec<ClaimedJob>) -> F,
    F: Future<Output = Vec<(ClaimedJob, Attempt)>>,
{
    let &Kind { concurrency, wake, retry, .. } = kind;
    loop {
        if *stop.borrow() {
            return;
        }
        let jobs = claim_or_wait(&engine, kind, concurrency, &mut stop).await;
        if jobs.is_empty() {
            continue;
        }
        // A full round suggests more is waiting: wake a sibling round (or this one, at its next
        // wait) rather than leave it to the poll.
        if u32::try_from(jobs.len()).is_ok_and(|n| n >= concurrency) {
            wake(&engine).notify_one();
        }
        let outcomes = round(engine.clone(), jobs).await;
        settle(&engine, outcomes, retry(&engine)).await;
    }
}

/// Runs jobs of `kind` one by one as permits free up, until `stop` turns true: `load` reads what a
/// claimed batch needs at once, then each job runs as its own task holding one of
/// `kind.concurrency` permits, and its outcome is recorded as soon as it is known (with whatever
/// else finished meanwhile). A request that hangs holds its own permit and nothing else: the jobs
/// claimed with it are recorded when they finish, and new ones are claimed as soon as any permit is
/// free — so one tenant's unanswering endpoint cannot hold up another tenant's deliveries.
pub(crate) async fn run_pipelined<L, LF, P, W, WF>(
    engine: Arc<Engine>,
    kind: Kind,
    mut stop: watch::Receiver<bool>,
    load: L,
    work: W,
) where
    L: Fn(Arc<Engine>, Vec<ClaimedJob>) -> LF,
    LF: Future<Output = Vec<(ClaimedJob, P)>>,
    P: Send + 'static,
    W: Fn(Arc<Engine>, ClaimedJob, P) -> WF,
    WF: Future<Output = Attempt> + Send + 'static,
{
    let Kind { concurrency, wake, retry, .. } = kind;
    let slots = usize::try_from(concurrency.max(1)).unwrap_or(1);
    let permits = Arc::new(Semaphore::new(slots));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(ClaimedJob, Attempt)>();
    let settler = {
        let engine = engine.clone();
        tokio::spawn(async move {
            while let Some(first) = done_rx.recv().await {
                let mut outcomes = vec![first];
                while let Ok(more) = done_rx.try_recv() {
                    outcomes.push(more);
                }
                settle(&engine, outcomes, retry(&engine)).await;
                // A finished job makes the next of its conversation the head: claim it now, not
                // at the next poll.
                wake(&engine).notify_one();
            }
        })
    };
    loop {
        if *stop.borrow() {
            break;
        }
        let free = permits.available_permits();
        if free == 0 {
            // Wait for a job to finish (or the stop), then look again.
            tokio::select! {
                p = permits.clone().acquire_owned() => drop(p),
                _ = stop.changed() => {}
            }
            continue;
        }
        let want = u32::try_from(free).unwrap_or(concurrency);
        let jobs = claim_or_wait(&engine, &kind, want, &mut stop).await;
        if jobs.is_empty() {
            continue;
        }
        for (job, prepared) in load(engine.clone(), jobs).await {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                // Cannot happen (no more were claimed than were free); the lease brings it back.
                tracing::error!(job_id = %job.id, "no permit for a claimed job");
                continue;
            };
            let attempt = work(engine.clone(), job.clone(), prepared);
            let done = done_tx.clone();
            tokio::spawn(async move {
                let outcome = attempt.await;
                let _ = done.send((job, outcome));
                drop(permit);
            });
        }
    }
    // Jobs in flight finish (or their leases end and another run takes them) before the stop.
    let _ = permits.acquire_many(u32::try_from(slots).unwrap_or(u32::MAX)).await;
    drop(done_tx);
    let _ = settler.await;
}
