//! The outbound dispatcher: claims `provider_send` jobs and hands each text to Flowroute, under the
//! number's per-minute limit (counted in the store) and Flowroute's per-key limits (5 SMS/s, 1 MMS/s,
//! paced across instances on PostgreSQL). Transient failures are retried with backoff; a permanent
//! refusal fails the text at once; once Flowroute's `202` and id are recorded, the text is never
//! sent again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use secrecy::ExposeSecret;
use switchboard_core::E164;
use switchboard_core::JobKind;
use switchboard_core::status::MessageStatus;
use switchboard_flowroute::{Outgoing, SendError};
use switchboard_store::Store;
use switchboard_store::dispatch::{SendContext, SendOutcome, SendResult, Slot};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use crate::Engine;
use crate::worker::{self, Attempt, Held, Report};

/// Spaces requests per provider account: Flowroute allows 5 SMS and 1 MMS per second per key. On
/// PostgreSQL every instance takes its slots from one row per key ([`Store::take_pace`]), so
/// several instances together keep the pace; on SQLite (one process) the slots are counted here.
#[derive(Debug, Default)]
pub struct Pacer {
    /// Each key's next free slot (SQLite).
    next: std::sync::Mutex<HashMap<(String, bool), Instant>>,
    /// When each key's last requests actually left, for [`Pacer::hold`].
    sent: Mutex<HashMap<(String, bool), VecDeque<Instant>>>,
}

/// The shared pace's row for a key's texts of one kind (PostgreSQL).
fn pace_name(key: &str, mms: bool) -> String {
    format!("{key}/{}", if mms { "mms" } else { "sms" })
}

/// A paced slot: its request leaves no sooner than `at` and no later than `latest`.
#[derive(Debug, Clone, Copy)]
struct Departure {
    at: Instant,
    latest: Instant,
}

impl Departure {
    /// A slot of the shared pace, starting `at` by the database's clock. Instances compare it with
    /// their own wall clock: one clock on one machine, clocks kept within a few milliseconds by
    /// NTP across machines. (Counted from the statement's answer instead, a slot read under load
    /// was off by as much as the statement's round trip, 200 ms and more in the outbound bench.)
    fn shared(at: DateTime<Utc>) -> Self {
        let now = Instant::now();
        let from_now = at - Utc::now();
        let start = match from_now.to_std() {
            Ok(ahead) => now + ahead,
            Err(_) => (-from_now).to_std().ok().and_then(|ago| now.checked_sub(ago)).unwrap_or(now),
        };
        Self { at: start.max(now), latest: start + LATE }
    }

    /// A slot counted in this process.
    fn local(at: Instant) -> Self {
        Self { at, latest: at + LATE }
    }
}

/// A key's slots taken for a round, in order, and when its next free one comes.
type Taken = (Vec<Departure>, Instant);

/// Flowroute's window, with a margin for the request's way there.
const WINDOW: Duration = Duration::from_millis(1050);

/// The time between two of a key's requests of one kind: five SMS span 920 ms and the sixth comes
/// 1.15 s after the first. A request leaves at most [`LATE`] after its slot (a later one takes a
/// fresh slot instead, see [`Pacer::depart`]) and never before it, so any six span at least
/// 1.05 s (less any difference between the instances' clocks): never six in one second, whichever
/// instances sent them.
fn gap(mms: bool) -> Duration {
    if mms { Duration::from_millis(1150) } else { Duration::from_millis(230) }
}

/// How long after its slot a request may still leave. Later (a slow write before it, a busy
/// machine: 163 ms was seen in CI with three instances restarting), it would crowd the key's
/// next slots, which other instances may be using on time.
const LATE: Duration = Duration::from_millis(100);

/// How far ahead a request that missed its slot looks for a fresh one.
const RETAKE_HORIZON: Duration = Duration::from_secs(60);

impl Pacer {
    /// The pacer's name for a provider account: see [`Store::pace_key`].
    fn key(store: &Store, ctx: &SendContext) -> String {
        store.pace_key(&ctx.access_key, ctx.secret_key.expose_secret())
    }

    /// Takes, for each key and kind of a round, up to its `n` next slots that come within
    /// `horizon`: the slots taken, in order, and when the key's next free one comes. On PostgreSQL
    /// one statement takes every key's of a kind (see [`Store::take_paces`]).
    async fn take(
        &self,
        store: &Store,
        wants: &[((String, bool), usize)],
        horizon: Duration,
    ) -> Result<HashMap<(String, bool), Taken>, switchboard_store::StoreError> {
        let mut taken = HashMap::with_capacity(wants.len());
        if store.is_shared() {
            for mms in [false, true] {
                let gap = gap(mms);
                let mut named = HashMap::new();
                let mut asks = Vec::new();
                for (key, n) in wants.iter().filter(|((_, m), _)| *m == mms) {
                    let name = pace_name(&key.0, mms);
                    asks.push((name.clone(), u32::try_from(*n).unwrap_or(u32::MAX)));
                    named.insert(name, key);
                }
                if asks.is_empty() {
                    continue;
                }
                for (name, paced) in store.take_paces(&asks, gap, horizon).await? {
                    let Some(key) = named.get(&name) else { continue };
                    let slots = (0..paced.taken).map(|i| Departure::shared(paced.first_at + gap * i));
                    taken.insert((*key).clone(), (slots.collect(), Instant::now() + paced.next));
                }
            }
            return Ok(taken);
        }
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        for (key, n) in wants {
            let gap = gap(key.1);
            let free = next.entry(key.clone()).or_insert(now);
            let mut slots = Vec::with_capacity(*n);
            while slots.len() < *n {
                let slot = (*free).max(now);
                if slot > now + horizon {
                    break;
                }
                slots.push(Departure::local(slot));
                *free = slot + gap;
            }
            taken.insert(key.clone(), (slots, (*free).max(now)));
        }
        Ok(taken)
    }

    /// Flowroute turned a request of the key away with `429`: the key's next slot is a whole
    /// window from now (in every instance, on PostgreSQL).
    async fn throttled(&self, store: &Store, key: &str, mms: bool) {
        if store.is_shared()
            && let Err(e) = store.slow_pace(&pace_name(key, mms), WINDOW).await
        {
            tracing::warn!(error = %e, "could not slow the key's pace for the other instances");
        }
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let later = Instant::now() + WINDOW;
        let free = next.entry((key.to_owned(), mms)).or_insert(later);
        *free = (*free).max(later);
    }

    /// Right before a request leaves: holds it until it may go without putting the key over
    /// Flowroute's limit. In this process, [`Pacer::hold`] counts the requests that actually left.
    /// On PostgreSQL, other instances' requests go by the shared slots, so one that would leave
    /// more than [`LATE`] after its own takes the key's next free slot and waits for it (the
    /// missed slot goes unused, which only spaces the key's requests wider).
    async fn depart(&self, store: &Store, key: &str, mms: bool, mut slot: Departure) -> Result<(), String> {
        loop {
            if store.is_shared() && Instant::now() > slot.latest {
                let missed = Instant::now().saturating_duration_since(slot.latest) + LATE;
                let paced = store
                    .take_pace(&pace_name(key, mms), 1, gap(mms), RETAKE_HORIZON)
                    .await
                    .map_err(|e| format!("taking a fresh send slot: {e}"))?;
                if paced.taken == 0 {
                    // Every slot of the next minute is taken: still late, it tries again when the
                    // next comes.
                    tokio::time::sleep(paced.next).await;
                    continue;
                }
                slot = Departure::shared(paced.first_at);
                // Debug: under load (a wave of hundreds reserved at once) most sends can miss.
                tracing::debug!(
                    late_ms = missed.as_millis(),
                    wait_ms = paced.first.as_millis(),
                    "a send missed its paced slot; it takes the key's next"
                );
                tokio::time::sleep_until(slot.at).await;
            }
            self.hold(key, mms).await;
            if !store.is_shared() || Instant::now() <= slot.latest {
                return Ok(());
            }
        }
    }

    /// Waits while the key's last requests from this process would put this one over Flowroute's
    /// limit in any one-second window, and counts it as sent.
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

/// Texts held at once, from their claim until their outcome is recorded: sending, waiting for
/// their paced slot, or being recorded.
const IN_FLIGHT: u32 = 1024;

/// The most texts of one tenant held at once (in every instance together): three quarters, so
/// that a tenant whose Flowroute endpoint hangs always leaves a quarter to the others, whose texts
/// are claimed before its next ones. With Flowroute's pacing a tenant sends 5 a second per key,
/// so a hanging endpoint holds what it was sent in the last `flowroute_timeout_secs` (180 at most
/// per key at the default 30 s); a lower cap slowed a lone tenant's backlog (pacing off) by half
/// (docs/BENCHMARKS.md).
const PER_TENANT: u32 = 768;

/// How long the recorder waits for more answers before recording what it has.
const LINGER: Duration = Duration::from_millis(10);

/// How long after an unanswered send its lookup waits, so Flowroute lists what it took.
const LOOKUP_AFTER: Duration = Duration::from_secs(5);

/// How often a suspended tenant's queued text looks again whether it may go.
const SUSPENDED_WAIT: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// How far ahead a batch takes paced slots; a key's texts beyond it wait for a later claim.
const HORIZON: Duration = Duration::from_secs(1);

/// A text cleared to go at its paced slot.
struct Ready {
    job: Held,
    ctx: SendContext,
    /// The pacer's name for the text's provider account.
    key: String,
    from: E164,
    to: E164,
    slot: Departure,
}

/// What became of a claimed text: settled already, or sent (or refused) and to be recorded.
enum Outcome {
    Settled(Attempt),
    Answered(Answer),
}

/// Starts a claimed batch: loads every text in a few queries, reserves the slots of each wave of
/// texts whose paced slot has come in one transaction, and sends each in a task of its own. Each
/// text's outcome goes to `report` as soon as it is known; nothing here waits for an answer.
async fn start(engine: Arc<Engine>, jobs: Vec<Held>, report: Report<Outcome>) {
    let settled = |job: Held, attempt: Attempt| {
        let _ = report.send((job, Outcome::Settled(attempt)));
    };
    let ids: Vec<Uuid> = jobs.iter().filter_map(|j| j.work.message_id()).collect();
    let mut contexts = match engine.store.send_contexts(&ids).await {
        Ok(c) => c,
        Err(e) => {
            let error = format!("loading the messages: {e}");
            jobs.into_iter().for_each(|job| settled(job, retry(error.clone())));
            return;
        }
    };
    let mut ready = Vec::with_capacity(jobs.len());
    let unknown_wait = chrono::Duration::from_std(engine.config.unknown_outcome_wait).unwrap_or_default();
    let lookup_after = chrono::Duration::from_std(lookup_after(&engine)).unwrap_or_default();
    for job in jobs {
        let Some(ctx) = job.work.message_id().and_then(|id| contexts.remove(&id)) else {
            settled(job, Attempt::Done);
            continue;
        };
        if ctx.provider_message_id.is_some() || ctx.status.is_final() || ctx.status == MessageStatus::Sent {
            settled(job, Attempt::Done); // accepted before: never again
            continue;
        }
        // A suspended tenant's texts wait, unsent and without spending a retry, until it is active.
        if ctx.suspended {
            settled(job, Attempt::Wait(Utc::now() + SUSPENDED_WAIT));
            continue;
        }
        let key = Pacer::key(&engine.store, &ctx);
        // An earlier send went out and no answer came back: Flowroute may have the text. A few
        // seconds on, its messages are looked up: found, the text is sent (no second copy); not
        // found, Flowroute did not take it, and it is sent again now. If the lookup fails, a receipt
        // naming it (the store then records its id) is waited for, as long as `unknown_wait`.
        if let Some(since) = ctx.open_since {
            let lookup_at = since + lookup_after;
            if lookup_at > Utc::now() {
                settled(job, Attempt::Wait(lookup_at));
                continue;
            }
            match lookup_send(&engine, &ctx, since).await {
                Ok(Some(pid)) => {
                    tracing::info!(message_id = %ctx.message_id, provider_message_id = %pid,
                        "a lookup found a send whose answer was lost");
                    let answer = Answer::new(key, &ctx, ctx.open_attempt, SendOutcome::Accepted(pid));
                    let _ = report.send((job, Outcome::Answered(answer)));
                    continue;
                }
                Ok(None) => {
                    tracing::info!(message_id = %ctx.message_id, "a lookup shows Flowroute did not take an unanswered send; sending again");
                }
                Err(detail) if since + unknown_wait > Utc::now() => {
                    tracing::warn!(message_id = %ctx.message_id, %detail, "could not look up an unanswered send; waiting for a receipt");
                    settled(job, Attempt::Wait((Utc::now() + lookup_after).min(since + unknown_wait)));
                    continue;
                }
                Err(detail) => {
                    tracing::warn!(message_id = %ctx.message_id, %detail, "no lookup or receipt settled an unanswered send; sending again");
                }
            }
        }
        let (Ok(from), Ok(to)) = (E164::parse(&ctx.from), E164::parse(&ctx.to)) else {
            let detail = "the number or the recipient is not valid E.164".to_owned();
            let answer = Answer::new(key, &ctx, None, SendOutcome::Refused { status: None, detail });
            let _ = report.send((job, Outcome::Answered(answer)));
            continue;
        };
        // A program's text (an auto-reply, an API send marked as not conversational) waits while
        // the recipient's quiet hours last, without spending a retry; a person's reply never does.
        if ctx.automated
            && let Some(until) = switchboard_core::quiet::held_until(&to, Utc::now(), ctx.send_window)
        {
            tracing::info!(message_id = %ctx.message_id, %until, "an automated text waits for the recipient's quiet hours to end");
            settled(job, Attempt::Wait(until));
            continue;
        }
        let slot = Departure::local(Instant::now());
        ready.push(Ready { job, ctx, key, from, to, slot });
    }
    // Paced before the attempt is recorded, so a crash while waiting leaves no attempt that looks
    // as if it might have gone out. Each key's texts take their slots together.
    if engine.config.pace_provider {
        ready = pace(&engine, ready, &settled).await;
    }

    ready.sort_by_key(|r| r.slot.at);
    let mut ready = ready.into_iter().peekable();
    while let Some(first) = ready.peek() {
        tokio::time::sleep_until(first.slot.at).await;
        let now = Instant::now();
        let mut wave = Vec::new();
        while let Some(r) = ready.next_if(|r| r.slot.at <= now) {
            wave.push(r);
        }
        let slots = {
            let ctxs: Vec<&SendContext> = wave.iter().map(|r| &r.ctx).collect();
            engine.store.reserve_sends(&ctxs).await
        };
        for (r, slot) in wave.into_iter().zip(slots) {
            match slot {
                Ok(Slot::Granted { attempt_id, event }) => {
                    if let Some(e) = event {
                        engine.published(&e);
                    }
                    spawn_send(&engine, r, attempt_id, report.clone());
                }
                Ok(Slot::Wait(until)) => {
                    tracing::info!(message_id = %r.ctx.message_id, number = %r.ctx.from, "at the number's per-minute limit; waiting");
                    settled(r.job, Attempt::Wait(until));
                }
                Err(e) => settled(r.job, retry(format!("reserving a send slot: {e}"))),
            }
        }
    }
}

/// Gives each text its key's next slot; those whose slot is beyond [`HORIZON`] wait for a later
/// claim, without spending a retry.
async fn pace(engine: &Engine, ready: Vec<Ready>, settled: &impl Fn(Held, Attempt)) -> Vec<Ready> {
    let mut by_key: HashMap<(String, bool), Vec<Ready>> = HashMap::new();
    for r in ready {
        by_key.entry((r.key.clone(), !r.ctx.media_urls.is_empty())).or_default().push(r);
    }
    let wants: Vec<((String, bool), usize)> = by_key.iter().map(|(key, texts)| (key.clone(), texts.len())).collect();
    let mut taken = match engine.pacer.take(&engine.store, &wants, HORIZON).await {
        Ok(taken) => taken,
        Err(e) => {
            tracing::warn!(error = %e, "could not take send slots; the texts wait");
            HashMap::new()
        }
    };
    let mut paced = Vec::new();
    for (key, texts) in by_key {
        let (slots, after) =
            taken.remove(&key).unwrap_or_else(|| (Vec::new(), Instant::now() + Duration::from_secs(1)));
        let mut slots = slots.into_iter();
        for mut r in texts {
            match slots.next() {
                Some(slot) => {
                    r.slot = slot;
                    paced.push(r);
                }
                None => {
                    let wait = chrono::Duration::from_std(after - Instant::now()).unwrap_or_default();
                    settled(r.job, Attempt::Wait(Utc::now() + wait));
                }
            }
        }
    }
    paced
}

/// A text's answer from Flowroute (or its refusal before sending), to be recorded.
struct Answer {
    result: SendResult,
    /// When Flowroute asked to be tried again.
    retry_after: Option<Duration>,
    /// The account and kind the text went with, for the pacer.
    key: String,
    mms: bool,
    queued_at: DateTime<Utc>,
}

impl Answer {
    fn new(key: String, ctx: &SendContext, attempt_id: Option<Uuid>, outcome: SendOutcome) -> Self {
        Self {
            result: SendResult { message_id: ctx.message_id, attempt_id, outcome },
            retry_after: None,
            key,
            mms: !ctx.media_urls.is_empty(),
            queued_at: ctx.queued_at,
        }
    }
}

/// How long Flowroute may turn a text away with `429` before that counts as a failed attempt.
const THROTTLED_AT_MOST: chrono::Duration = chrono::Duration::hours(1);

/// How long a text turned away with `429` waits: what Flowroute asked for (at least a second,
/// at most a minute), spread a little so instances sharing the key do not come back together.
fn throttle_wait(retry_after: Option<Duration>) -> chrono::Duration {
    let asked = retry_after.unwrap_or(Duration::from_secs(1)).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let spread = Duration::from_millis(rand::random_range(0..500));
    chrono::Duration::from_std(asked + spread).unwrap_or(chrono::Duration::seconds(1))
}

/// Sends a text whose slot was reserved, in a task of its own, and reports its answer.
fn spawn_send(engine: &Arc<Engine>, r: Ready, attempt_id: Uuid, report: Report<Outcome>) {
    // Filled in with the outcome once the answer comes.
    let mut answer = Answer::new(r.key.clone(), &r.ctx, Some(attempt_id), SendOutcome::Unknown(String::new()));
    let task = tokio::spawn(send(engine.clone(), r.ctx, r.key, r.from, r.to, r.slot));
    let job = r.job;
    tokio::spawn(async move {
        (answer.result.outcome, answer.retry_after) = match task.await {
            Ok(sent) => sent,
            // The request may have gone out.
            Err(e) => (SendOutcome::Unknown(format!("the send stopped: {e}")), None),
        };
        let _ = report.send((job, Outcome::Answered(answer)));
    });
}

/// Sends one text, right after its slot was reserved.
async fn send(
    engine: Arc<Engine>,
    ctx: SendContext,
    key: String,
    from: E164,
    to: E164,
    slot: Departure,
) -> (SendOutcome, Option<Duration>) {
    let dlr = ctx.prefix.as_ref().map(|p| {
        crate::onboard::prefix_url(&engine.config.public_url, p, ctx.prefix_token.as_ref().map(|t| t.expose_secret()))
    });
    let creds = crate::onboard::credentials_of(&ctx.access_key, ctx.secret_key.clone());
    let msg = Outgoing {
        from: &from,
        to: &to,
        body: ctx.body.as_deref(),
        media_urls: &ctx.media_urls,
        dlr_callback: dlr.as_deref(),
    };
    if let Err(detail) = crate::net::check_literal(&ctx.endpoint, &engine.targets) {
        return (SendOutcome::Failed { status: None, detail }, None);
    }
    if engine.config.pace_provider
        && let Err(detail) = engine.pacer.depart(&engine.store, &key, !ctx.media_urls.is_empty(), slot).await
    {
        return (SendOutcome::Failed { status: None, detail }, None);
    }
    match engine.flowroute.send(&ctx.endpoint, &creds, &msg).await {
        Ok(accepted) => (SendOutcome::Accepted(accepted.id), None),
        Err(SendError::Permanent { status, detail }) => {
            tracing::warn!(message_id = %ctx.message_id, status, %detail, "Flowroute refused the text");
            (SendOutcome::Refused { status: Some(status), detail }, None)
        }
        Err(SendError::Unknown { detail }) => {
            tracing::warn!(message_id = %ctx.message_id, %detail, "a send went unanswered; waiting for a receipt before resending");
            (SendOutcome::Unknown(detail), None)
        }
        Err(SendError::Transient { status, detail, retry_after }) => {
            (SendOutcome::Failed { status, detail }, retry_after)
        }
    }
}

/// Records answers in one transaction and says what each means for its job.
async fn record_answers(engine: &Engine, answers: Vec<(Held, Answer)>) -> Vec<(Held, Attempt)> {
    let results: Vec<SendResult> = answers.iter().map(|(_, a)| a.result.clone()).collect();
    let recorded = engine.store.record_outcomes(&results).await;
    let mut attempts = Vec::with_capacity(answers.len());
    for ((job, Answer { result, retry_after, key, mms, queued_at }), recorded) in answers.into_iter().zip(recorded) {
        let id = result.message_id;
        let attempt = match (result.outcome, recorded) {
            (SendOutcome::Accepted(pid), Ok(event)) => {
                tracing::info!(message_id = %id, provider_message_id = %pid, "sent");
                if let Some(e) = event {
                    engine.published(&e);
                }
                Attempt::Done
            }
            // Flowroute has it; resending would send twice. Keep trying to record it.
            (SendOutcome::Accepted(pid), Err(e)) => {
                tracing::error!(message_id = %id, provider_message_id = %pid, error = %e, "sent, but the id could not be recorded");
                retry(format!("recording {pid}: {e}"))
            }
            (SendOutcome::Refused { .. }, Ok(event)) => {
                if let Some(e) = event {
                    engine.published(&e);
                }
                Attempt::Done
            }
            (SendOutcome::Refused { .. }, Err(e)) => retry(format!("recording the refusal: {e}")),
            (SendOutcome::Unknown(detail), _) => {
                Attempt::Retry { error: detail, retry_after: Some(lookup_after(engine)), status: None }
            }
            // Flowroute's rate limit (something else sends with the key too): the key slows down
            // (in every instance) and the text waits its turn without spending a retry, unless it
            // has been turned away for too long.
            (SendOutcome::Failed { status: Some(429), .. }, _) if queued_at + THROTTLED_AT_MOST > Utc::now() => {
                engine.pacer.throttled(&engine.store, &key, mms).await;
                let wait = throttle_wait(retry_after);
                tracing::info!(message_id = %id, wait_ms = wait.num_milliseconds(), "Flowroute's rate limit (429); waiting");
                Attempt::Wait(Utc::now() + wait)
            }
            (SendOutcome::Failed { detail, status }, _) => Attempt::Retry { error: detail, retry_after, status },
        };
        attempts.push((job, attempt));
    }
    attempts
}

/// How long after an unanswered send Flowroute's messages are looked up: long enough for
/// Flowroute to list what it took, never longer than the wait for a receipt.
fn lookup_after(engine: &Engine) -> Duration {
    LOOKUP_AFTER.min(engine.config.unknown_outcome_wait)
}

/// The most of the account's messages a lookup reads (pages of 200) before it gives up.
const LOOKUP_PAGES: u64 = 10;

/// Looks for an unanswered send among the account's messages from a minute before it went out:
/// the id of the one with its sender, recipient and body that no other text of the tenant has
/// recorded, `None` if there is none (Flowroute did not take it), `Err` if the lookup failed.
async fn lookup_send(engine: &Engine, ctx: &SendContext, since: DateTime<Utc>) -> Result<Option<String>, String> {
    let creds = crate::onboard::credentials_of(&ctx.access_key, ctx.secret_key.clone());
    let account = engine.account(&ctx.endpoint, &creds).map_err(|e| e.to_string())?;
    let (start, end) = (since - chrono::Duration::seconds(60), Utc::now() + chrono::Duration::seconds(60));
    let digits = |n: &str| n.trim_start_matches('+').to_owned();
    let (from, to, body) = (digits(&ctx.from), digits(&ctx.to), ctx.body.clone().unwrap_or_default());
    let mut candidates = Vec::new();
    for page in 0..LOOKUP_PAGES {
        let list = account.messages(start, end, 200, page * 200).await.map_err(|e| e.to_string())?;
        let full = list.len() == 200;
        candidates.extend(
            list.into_iter()
                .filter(|m| m.from == from && m.to == to && m.body.clone().unwrap_or_default() == body)
                .filter(|m| !m.direction.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("inbound")))
                .map(|m| m.id),
        );
        if !full {
            break;
        }
        if page + 1 == LOOKUP_PAGES {
            return Err(format!("more than {} messages in the window", LOOKUP_PAGES * 200));
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    let known = engine.store.recorded_provider_ids(ctx.tenant_id, &candidates).await.map_err(|e| e.to_string())?;
    Ok(candidates.into_iter().find(|id| !known.contains(id)))
}

fn retry(error: String) -> Attempt {
    Attempt::Retry { error, retry_after: None, status: None }
}

/// Records a batch of outcomes: the answers in one transaction; a text out of retries fails for
/// good, with its reason.
async fn record(engine: Arc<Engine>, outcomes: Vec<(Held, Outcome)>) -> Vec<(Held, Attempt)> {
    let mut attempts = Vec::with_capacity(outcomes.len());
    let mut answers = Vec::new();
    for (job, outcome) in outcomes {
        match outcome {
            Outcome::Settled(attempt) => attempts.push((job, attempt)),
            Outcome::Answered(answer) => answers.push((job, answer)),
        }
    }
    if !answers.is_empty() {
        attempts.extend(record_answers(&engine, answers).await);
    }
    let last: Vec<SendResult> = attempts
        .iter()
        .filter_map(|(job, attempt)| {
            let (Attempt::Retry { error, .. }, Some(message_id)) = (attempt, job.work.message_id()) else {
                return None;
            };
            let tries = u32::try_from(job.attempts).unwrap_or(u32::MAX);
            engine.config.send_retry.next_delay(tries, None).is_none().then(|| SendResult {
                message_id,
                attempt_id: None,
                outcome: SendOutcome::Refused { status: None, detail: error.clone() },
            })
        })
        .collect();
    if !last.is_empty() {
        for event in engine.store.record_outcomes(&last).await.into_iter().flatten().flatten() {
            engine.published(&event);
        }
    }
    attempts
}

/// Runs the dispatcher until `stop` turns true.
pub async fn run_dispatcher(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    // A send held by a process that died is claimed again after this long.
    let lease = engine.config.send_timeout * 2 + HORIZON + Duration::from_secs(5);
    let kind = worker::Kind {
        kind: JobKind::ProviderSend,
        concurrency: IN_FLIGHT,
        lease,
        per_tenant: PER_TENANT,
        linger: LINGER,
        wake: |e| &e.sends,
        retry: |e| &e.config.send_retry,
    };
    worker::run_pipeline(engine, kind, stop, start, record).await;
}
