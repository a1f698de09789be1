//! The loop every job worker shares: claim due jobs of one kind fairly across tenants, run them
//! concurrently (each is the head of its ordering key), settle each outcome as it comes (done,
//! retry later, or dead), claim again as places free, and sleep until woken or a short poll
//! interval passes when nothing is due.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_core::JobKind;
use switchboard_store::outbox::ClaimedJob;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::Engine;
use crate::retry::RetryPolicy;

/// How one attempt at a job went.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Done; nothing more to do.
    Done,
    /// Failed; try again on the policy's schedule (or after `retry_after`). `status` is the HTTP
    /// status the other side answered, if it answered.
    Retry { error: String, retry_after: Option<Duration>, status: Option<u16> },
    /// Not failed, only early (a rate limit): put back until then without counting the attempt.
    Wait(DateTime<Utc>),
    /// Failed for good (the other side refused it in a way no retry changes): dead now.
    Fail { error: String, status: Option<u16> },
}

/// Records outcomes: the jobs done in one statement, those put back in another, each other one
/// on its own; a job out of retries is dead, with an event saying so. A failure to record leaves
/// the job leased: it runs again when the lease ends (at least once, never lost). The places of
/// the jobs done free, and the worker is woken to claim, as soon as a claim is sure to see them
/// done ([`switchboard_store::Store::complete_jobs_then`]: on SQLite the claim then shares the
/// settle's transaction); each other job's place frees once this returns.
async fn settle(engine: &Engine, kind: JobKind, outcomes: Vec<(Held, Attempt)>, policy: &RetryPolicy, wake: &Notify) {
    let (done, outcomes): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(|(_, a)| matches!(a, Attempt::Done));
    if !done.is_empty() {
        let ids: Vec<uuid::Uuid> = done.iter().map(|(job, _)| job.id).collect();
        let free = move || {
            drop(done);
            wake.notify_one();
        };
        if let Err(e) = engine.store.complete_jobs_then(kind, &ids, free).await {
            tracing::error!(jobs = ids.len(), error = %e, "could not record jobs as done");
        }
    }
    if outcomes.is_empty() {
        return;
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
        let (error, retry_after, status) = match attempt {
            Attempt::Retry { error, retry_after, status } => (error, retry_after, status),
            Attempt::Fail { error, status } => {
                tracing::error!(job_id = %job.id, kind = %job.work.kind(), %error, "job failed for good; it is dead");
                if let Err(e) = engine.store.kill_job(&job, &error, status).await {
                    tracing::error!(job_id = %job.id, error = %e, "could not record a job's outcome");
                }
                continue;
            }
            Attempt::Done | Attempt::Wait(_) => continue,
        };
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        let result = match policy.next_delay(attempts, retry_after) {
            Some(delay) => {
                tracing::warn!(job_id = %job.id, kind = %job.work.kind(), %error, retry_in_s = delay.as_secs_f64(), "job failed; will retry");
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(10));
                engine.store.retry_job(&job, next, &error, status).await
            }
            None => {
                tracing::error!(job_id = %job.id, kind = %job.work.kind(), %error, "job failed for the last time; it is dead");
                engine.store.kill_job(&job, &error, status).await
            }
        };
        if let Err(e) = result {
            tracing::error!(job_id = %job.id, error = %e, "could not record a job's outcome");
        }
    }
    wake.notify_one();
}

/// Claims up to `limit` jobs of `kind`; with none to claim (or the claim failing), waits to be
/// woken, a short poll, or the stop, and answers none.
async fn claim_or_wait(engine: &Engine, kind: &Kind, limit: u32, stop: &mut watch::Receiver<bool>) -> Vec<ClaimedJob> {
    let lease = chrono::Duration::from_std(kind.lease).unwrap_or(chrono::Duration::minutes(1));
    let jobs = match engine.store.claim_jobs(kind.kind, limit, kind.per_tenant, lease).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, kind = %kind.kind, "could not claim jobs");
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

/// On PostgreSQL, after a claim that took jobs, the next claim of the kind by this instance waits
/// twice as long as that claim took, and at most this long. A claim visits every tenant with
/// unfinished jobs of its kind: 10–50 ms of the database's CPU with 1,000 busy tenants. Claimed as
/// each batch of answers was recorded, about 30 times a second a kind, the claims took most of
/// PostgreSQL's CPU and every other statement queued behind them (docs/BENCHMARKS.md, 2026-12-07).
/// So claims take at most about a third of a connection's time per kind, a later claim takes
/// whatever freed meanwhile, and where claims are cheap (1–2 ms) nothing waits noticeably.
const SHARED_CLAIM_GAP: Duration = Duration::from_millis(100);

/// How a kind of job runs: its wake-up, its retry schedule, how many at once, and its lease.
pub(crate) struct Kind {
    pub kind: JobKind,
    /// Jobs held at once, from their claim until their outcome is recorded.
    pub concurrency: u32,
    pub lease: Duration,
    /// The most jobs of one tenant running at once (in every instance together): the rest of a
    /// tenant's backlog waits while other tenants' jobs are claimed.
    pub per_tenant: u32,
    /// How long the recorder waits for more outcomes before recording what it has: answers come
    /// close together, and a moment's wait records many in one transaction.
    pub linger: Duration,
    pub wake: fn(&Engine) -> &Notify,
    pub retry: fn(&Engine) -> &RetryPolicy,
}

/// A claimed job with its place among its worker's `concurrency`. The place frees when the job's
/// outcome is recorded, or when the job is dropped unrecorded (its lease then brings it back).
pub(crate) struct Held {
    pub job: ClaimedJob,
    _place: OwnedSemaphorePermit,
    /// The worker's jobs held now, which this one leaves when dropped.
    holding: Arc<std::sync::Mutex<std::collections::HashSet<uuid::Uuid>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.holding.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.job.id);
    }
}

impl std::ops::Deref for Held {
    type Target = ClaimedJob;

    fn deref(&self) -> &ClaimedJob {
        &self.job
    }
}

/// Where a worker's jobs report how they went, each as soon as it knows.
pub(crate) type Report<T> = mpsc::UnboundedSender<(Held, T)>;

/// Runs jobs of `kind` as places free up, until `stop` turns true. Each claimed batch is handed to
/// `start` in a task of its own; `start` reports each job's outcome to the [`Report`] as soon as it
/// is known. The recorder takes whatever has been reported (after `kind.linger`), turns it into
/// attempts with `record` (which may write the whole batch's results at once), and settles them;
/// new jobs are claimed as soon as places free. A request that hangs holds its own place and
/// nothing else — so one tenant's unanswering endpoint cannot hold up another tenant's jobs.
pub(crate) async fn run_pipeline<T, S, SF, R, RF>(
    engine: Arc<Engine>,
    kind: Kind,
    mut stop: watch::Receiver<bool>,
    start: S,
    record: R,
) where
    T: Send + 'static,
    S: Fn(Arc<Engine>, Vec<Held>, Report<T>) -> SF,
    SF: Future<Output = ()> + Send + 'static,
    R: Fn(Arc<Engine>, Vec<(Held, T)>) -> RF + Send + 'static,
    RF: Future<Output = Vec<(Held, Attempt)>> + Send,
{
    let Kind { kind: job_kind, concurrency, wake, retry, linger, .. } = kind;
    let slots = usize::try_from(concurrency.max(1)).unwrap_or(1);
    let places = Arc::new(Semaphore::new(slots));
    let holding = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let (report, mut reported) = mpsc::unbounded_channel::<(Held, T)>();
    let recorder = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while reported.recv_many(&mut outcomes, slots).await > 0 {
                if !linger.is_zero() {
                    tokio::time::sleep(linger).await;
                }
                while let Ok(more) = reported.try_recv() {
                    outcomes.push(more);
                }
                let attempts = record(engine.clone(), std::mem::take(&mut outcomes)).await;
                // A finished job makes the next of its conversation the head, and its place is
                // free: claim now, not at the next poll.
                settle(&engine, job_kind, attempts, retry(&engine), wake(&engine)).await;
            }
        })
    };
    let mut next_claim: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let free = places.available_permits();
        if free == 0 {
            // Wait for a place to free (or the stop), then look again.
            tokio::select! {
                p = places.clone().acquire_owned() => drop(p),
                _ = stop.changed() => {}
            }
            continue;
        }
        if let Some(at) = next_claim
            && Instant::now() < at
        {
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let want = u32::try_from(free).unwrap_or(concurrency);
        let started = Instant::now();
        let jobs = claim_or_wait(&engine, &kind, want, &mut stop).await;
        // An empty claim has waited already (for a wake-up or the poll).
        next_claim = (engine.store.is_shared() && !jobs.is_empty())
            .then(|| Instant::now() + (started.elapsed() * 2).min(SHARED_CLAIM_GAP));
        if jobs.is_empty() {
            continue;
        }
        let mut held = Vec::with_capacity(jobs.len());
        for job in jobs {
            match places.clone().try_acquire_owned() {
                Ok(place) => {
                    holding.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(job.id);
                    held.push(Held { job, _place: place, holding: holding.clone() });
                }
                // Cannot happen (no more were claimed than were free); the lease brings it back.
                Err(_) => tracing::error!(job_id = %job.id, "no place for a claimed job"),
            }
        }
        tokio::spawn(start(engine.clone(), held, report.clone()));
    }
    // Jobs in flight finish before the stop; those still held at the deadline are handed back to
    // the queue, due now for any instance (a send that may have gone out is looked up first, as
    // after any unanswered send).
    let all = places.acquire_many(u32::try_from(slots).unwrap_or(u32::MAX));
    if tokio::time::timeout(engine.config.stop_deadline, all).await.is_err() {
        let ids: Vec<uuid::Uuid> =
            holding.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().copied().collect();
        // A pooled connection made on an HTTP worker's runtime dies with it as the server stops;
        // the pool drops it and opens another, so a failed try is worth repeating.
        let mut tries = 0;
        loop {
            tries += 1;
            match engine.store.hand_back_jobs(&ids).await {
                Ok(n) => tracing::info!(kind = %kind.kind, jobs = n, "stopping: handed back jobs still in flight"),
                Err(e) if tries < 3 => {
                    tracing::info!(kind = %kind.kind, error = %e, "could not hand jobs back yet; trying again");
                    continue;
                }
                Err(e) => tracing::warn!(kind = %kind.kind, error = %e, "could not hand jobs back; their leases lapse"),
            }
            break;
        }
        recorder.abort();
        return;
    }
    drop(report);
    let _ = recorder.await;
}

/// Runs jobs of `kind` one by one: `load` reads what a claimed batch needs at once, then each job
/// runs as its own task with `work`, and its outcome is recorded as soon as it is known (with
/// whatever else finished meanwhile). See [`run_pipeline`].
pub(crate) async fn run_pipelined<L, LF, P, W, WF>(
    engine: Arc<Engine>,
    kind: Kind,
    stop: watch::Receiver<bool>,
    load: L,
    work: W,
) where
    L: Fn(Arc<Engine>, Vec<Held>) -> LF + Send + Sync + 'static,
    LF: Future<Output = Vec<(Held, P)>> + Send,
    P: Send + 'static,
    W: Fn(Arc<Engine>, ClaimedJob, P) -> WF + Send + Sync + 'static,
    WF: Future<Output = Attempt> + Send + 'static,
{
    run_loaded(engine, kind, stop, load, work, |_, outcomes| async move { outcomes }).await;
}

/// [`run_pipelined`] with outcomes of any kind, which `record` turns into attempts.
async fn run_loaded<L, LF, P, W, WF, T, R, RF>(
    engine: Arc<Engine>,
    kind: Kind,
    stop: watch::Receiver<bool>,
    load: L,
    work: W,
    record: R,
) where
    L: Fn(Arc<Engine>, Vec<Held>) -> LF + Send + Sync + 'static,
    LF: Future<Output = Vec<(Held, P)>> + Send,
    P: Send + 'static,
    W: Fn(Arc<Engine>, ClaimedJob, P) -> WF + Send + Sync + 'static,
    WF: Future<Output = T> + Send + 'static,
    T: Send + 'static,
    R: Fn(Arc<Engine>, Vec<(Held, T)>) -> RF + Send + 'static,
    RF: Future<Output = Vec<(Held, Attempt)>> + Send,
{
    let (load, work) = (Arc::new(load), Arc::new(work));
    let start = move |engine: Arc<Engine>, jobs: Vec<Held>, report: Report<T>| {
        let (load, work) = (load.clone(), work.clone());
        async move {
            for (held, prepared) in load(engine.clone(), jobs).await {
                let outcome = work(engine.clone(), held.job.clone(), prepared);
                let report = report.clone();
                tokio::spawn(async move {
                    let outcome = outcome.await;
                    let _ = report.send((held, outcome));
                });
            }
        }
    };
    run_pipeline(engine, kind, stop, start, record).await;
}

/// What a delivery to a person reports: its attempt, and the `message.delivery` event that says
/// how it went (none when there was nothing to deliver).
pub(crate) type Reported = (Attempt, Option<switchboard_core::event::DeliveryAttempted>);

/// What a channel's batch loads: each job's delivery by job id (`None` inside: nothing to deliver).
type Loaded<P> = Result<std::collections::HashMap<uuid::Uuid, Option<P>>, String>;

/// Runs a channel to people (SIP, email) like [`run_pipelined`], with each attempt's
/// `message.delivery` event written by the recorder, the batch's in one transaction, before the
/// jobs are settled.
pub(crate) async fn run_channel<L, LF, P, W, WF>(
    engine: Arc<Engine>,
    kind: Kind,
    stop: watch::Receiver<bool>,
    load: L,
    work: W,
) where
    L: Fn(Arc<Engine>, Vec<ClaimedJob>) -> LF + Send + Sync + 'static,
    LF: Future<Output = Loaded<P>> + Send,
    P: Send + 'static,
    W: Fn(Arc<Engine>, ClaimedJob, Result<Option<P>, String>) -> WF + Send + Sync + 'static,
    WF: Future<Output = Reported> + Send + 'static,
{
    let load = Arc::new(load);
    let load_each = move |engine: Arc<Engine>, jobs: Vec<Held>| {
        let load = load.clone();
        async move {
            let claimed: Vec<ClaimedJob> = jobs.iter().map(|h| h.job.clone()).collect();
            let mut loaded = load(engine, claimed).await;
            jobs.into_iter()
                .map(|held| {
                    let prepared = match &mut loaded {
                        Ok(map) => Ok(map.remove(&held.job.id).flatten()),
                        Err(e) => Err(e.clone()),
                    };
                    (held, prepared)
                })
                .collect::<Vec<_>>()
        }
    };
    let record = |engine: Arc<Engine>, outcomes: Vec<(Held, Reported)>| async move {
        let events: Vec<_> =
            outcomes.iter().filter_map(|(h, (_, e))| e.clone().map(|e| (h.job.tenant_id, e))).collect();
        if let Err(e) = engine.store.record_delivery_attempts(events).await {
            tracing::error!(error = %e, "could not record delivery attempts");
        }
        outcomes.into_iter().map(|(held, (attempt, _))| (held, attempt)).collect()
    };
    run_loaded(engine, kind, stop, load_each, work, record).await;
}
