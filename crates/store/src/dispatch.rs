//! What the outbound dispatcher needs from the store, a round of sends at a time: everything to
//! send each message, reserved slots under each number's per-minute limit (counted here, so it
//! holds across instances), and the outcome of each attempt, with the status events it implies.
//! A round's reservations are one transaction and its outcomes another, whatever its size.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use secrecy::SecretString;
use switchboard_core::status::MessageStatus;
use uuid::Uuid;

use crate::entity::{inbound_prefix, job, message, number, policy, provider, tenant};
use crate::events::{self, AppendedEvent, NewEvent};
use crate::{Store, StoreError, new_id, now, sql};

/// One outbound message, ready to send.
pub struct SendContext {
    pub message_id: Uuid,
    pub tenant_id: Uuid,
    pub status: MessageStatus,
    /// Set once the provider accepted it: then it is never sent again.
    pub provider_message_id: Option<String>,
    pub from: String,
    pub to: String,
    pub body: Option<String>,
    pub media_urls: Vec<String>,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: SecretString,
    /// The number's inbound prefix, for the delivery-receipt callback.
    pub prefix: Option<String>,
    /// The prefix's token, which the callback URL must carry.
    pub prefix_token: Option<SecretString>,
    /// The number's policy's limit, if it has a policy.
    pub per_minute: Option<u32>,
    /// When the latest attempt went out with no answer back (a timeout, or a process that died
    /// mid-send), if one is still waiting on it: Flowroute may have the text.
    pub open_since: Option<DateTime<Utc>>,
    /// That attempt, to record what a lookup finds of it.
    pub open_attempt: Option<Uuid>,
    /// When the text was queued.
    pub queued_at: DateTime<Utc>,
    /// The tenant is suspended: its texts wait, unsent, until it is active again.
    pub suspended: bool,
    /// Sent by a program (an auto-reply, an API send marked as not conversational): it waits for
    /// the recipient's quiet hours to end.
    pub automated: bool,
    /// The tenant's own window for automated texts, if it set one.
    pub send_window: Option<switchboard_core::quiet::Window>,
}

impl std::fmt::Debug for SendContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendContext")
            .field("message_id", &self.message_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum SendOutcome {
    /// Flowroute took it, with this id: it is never sent again.
    Accepted(String),
    /// The text fails for good: refused by Flowroute (with its status), or given up on.
    Refused { status: Option<u16>, detail: String },
    /// A failure worth retrying.
    Failed { status: Option<u16>, detail: String },
    /// The request went out and no answer came back.
    Unknown(String),
}

/// An outcome to record: of an attempt, or (with no attempt) of the message as a whole.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub message_id: Uuid,
    pub attempt_id: Option<Uuid>,
    pub outcome: SendOutcome,
}

/// A status a message moves to, with what the move records.
pub(crate) struct StatusChange<'a> {
    pub id: Uuid,
    pub status: MessageStatus,
    pub provider_id: Option<&'a str>,
    pub error: Option<(Option<i32>, &'a str)>,
}

/// The outcomes of attempts, in the order given.
type Outcomes<T> = Vec<Result<T, StoreError>>;

/// The answer to a request for a send slot.
#[derive(Debug, Clone)]
pub enum Slot {
    /// Send now; report the outcome against this attempt.
    Granted { attempt_id: Uuid, event: Option<AppendedEvent> },
    /// The number is at its limit: try again at this time.
    Wait(DateTime<Utc>),
}

impl Store {
    /// Everything needed to send each of `ids` that exists, by message id — in a few queries
    /// whatever the count, with each provider's secret opened once.
    pub async fn send_contexts(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, SendContext>, StoreError> {
        let mut messages = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(sql::CHUNK) {
            messages.extend(
                message::Entity::find().filter(message::Column::Id.is_in(chunk.to_vec())).all(self.db()).await?,
            );
        }
        let wanted: BTreeSet<&str> = messages.iter().map(|m| m.number.as_str()).collect();
        let mut numbers: HashMap<(Uuid, String), number::Model> = HashMap::new();
        for chunk in wanted.into_iter().collect::<Vec<_>>().chunks(sql::CHUNK) {
            for n in number::Entity::find().filter(number::Column::E164.is_in(chunk.to_vec())).all(self.db()).await? {
                numbers.insert((n.tenant_id, n.e164.clone()), n);
            }
        }
        // A round's numbers share few providers, prefixes and policies.
        let of = |f: fn(&number::Model) -> Option<Uuid>| -> Vec<Uuid> {
            numbers.values().filter_map(f).collect::<BTreeSet<_>>().into_iter().collect()
        };
        let providers: HashMap<Uuid, provider::Model> = provider::Entity::find()
            .filter(provider::Column::Id.is_in(of(|n| Some(n.provider_id))))
            .all(self.db())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let prefixes: HashMap<Uuid, inbound_prefix::Model> = inbound_prefix::Entity::find()
            .filter(inbound_prefix::Column::Id.is_in(of(|n| Some(n.prefix_id))))
            .all(self.db())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let policies: HashMap<Uuid, policy::Model> = policy::Entity::find()
            .filter(policy::Column::Id.is_in(of(|n| n.policy_id)))
            .all(self.db())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let tenant_ids: BTreeSet<Uuid> = messages.iter().map(|m| m.tenant_id).collect();
        // The round's tenants that are suspended or have a window of their own for automated texts.
        let tenants: HashMap<Uuid, tenant::Model> = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(tenant_ids))
            .filter(
                sea_orm::Condition::any()
                    .add(tenant::Column::Status.eq(crate::tenants::TenantStatus::Suspended.as_str()))
                    .add(tenant::Column::SendWindowFrom.is_not_null()),
            )
            .all(self.db())
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let suspended =
            |t: Uuid| tenants.get(&t).is_some_and(|t| t.status == crate::tenants::TenantStatus::Suspended.as_str());
        let window = |t: Uuid| crate::tenants::send_window(tenants.get(&t)?)?.window();
        let mut secrets: HashMap<Uuid, SecretString> = HashMap::with_capacity(providers.len());
        for p in providers.values() {
            secrets.insert(p.id, self.open_secret(&p.secret_key_enc, &format!("provider:{}:secret_key", p.id))?);
        }
        let mut tokens: HashMap<Uuid, Option<SecretString>> = HashMap::with_capacity(prefixes.len());
        for p in prefixes.values() {
            tokens.insert(p.id, self.prefix_token(p)?);
        }
        let open = self.open_attempts(ids).await?;
        let mut out = HashMap::with_capacity(messages.len());
        for m in messages {
            let Some(n) = numbers.get(&(m.tenant_id, m.number.clone())) else { continue };
            let (Some(p), Some(secret)) = (providers.get(&n.provider_id), secrets.get(&n.provider_id)) else {
                continue;
            };
            let media_urls = m
                .media
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["url"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            out.insert(
                m.id,
                SendContext {
                    message_id: m.id,
                    tenant_id: m.tenant_id,
                    status: MessageStatus::parse(&m.status).unwrap_or(MessageStatus::Queued),
                    provider_message_id: m.provider_message_id,
                    from: m.number,
                    to: m.remote,
                    body: m.body,
                    media_urls,
                    endpoint: p.endpoint.clone(),
                    access_key: p.access_key.clone(),
                    secret_key: secret.clone(),
                    prefix: prefixes.get(&n.prefix_id).map(|x| x.prefix.clone()),
                    prefix_token: tokens.get(&n.prefix_id).cloned().flatten(),
                    per_minute: n
                        .policy_id
                        .and_then(|id| policies.get(&id))
                        .and_then(|p| u32::try_from(p.outbound_per_minute).ok()),
                    open_since: open.get(&m.id).map(|(at, _)| *at),
                    open_attempt: open.get(&m.id).map(|(_, id)| *id),
                    queued_at: m.created_at,
                    suspended: suspended(m.tenant_id),
                    automated: m.automated || m.origin == switchboard_core::status::Origin::AutoReply.as_str(),
                    send_window: window(m.tenant_id),
                },
            );
        }
        Ok(out)
    }

    /// The latest attempt of each message still waiting on an answer.
    async fn open_attempts(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, (DateTime<Utc>, Uuid)>, StoreError> {
        let mut open: HashMap<Uuid, (DateTime<Utc>, Uuid)> = HashMap::new();
        for chunk in ids.chunks(sql::CHUNK) {
            let rows = sql::query(
                self.db(),
                &format!(
                    "SELECT id, message_id, attempted_at FROM send_attempt WHERE outcome IN ('in_flight', 'unknown') \
                     AND message_id IN {}",
                    sql::tuples(1, chunk.len())
                ),
                chunk.iter().map(|id| (*id).into()).collect(),
            )
            .await?;
            for row in rows {
                let (attempt, id, at): (Uuid, Uuid, DateTime<Utc>) =
                    (row.try_get("", "id")?, row.try_get("", "message_id")?, row.try_get("", "attempted_at")?);
                let latest = open.entry(id).or_insert((at, attempt));
                if at > latest.0 {
                    *latest = (at, attempt);
                }
            }
        }
        Ok(open)
    }

    /// Reserves a send slot for each message under its number's per-minute limit (in the order
    /// given, so earlier texts of a number come first), and marks each granted one `sending`
    /// (with an event the first time) — in one transaction. If that fails for any reason but an
    /// unreachable database, each is reserved on its own, so one bad text fails alone.
    pub async fn reserve_sends(&self, ctxs: &[&SendContext]) -> Outcomes<Slot> {
        one_by_one(self.reserve_batch(ctxs).await, ctxs, |ctx| async move {
            self.reserve_batch(&[ctx]).await?.pop().ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn reserve_batch(&self, ctxs: &[&SendContext]) -> Result<Vec<Slot>, StoreError> {
        if ctxs.is_empty() {
            return Ok(Vec::new());
        }
        let at = now();
        let txn = self.write_txn().await?;
        let limited: BTreeSet<(Uuid, &str)> =
            ctxs.iter().filter(|c| c.per_minute.is_some()).map(|c| (c.tenant_id, c.from.as_str())).collect();
        let mut recent: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
        if !limited.is_empty() {
            let pairs: Vec<(Uuid, &str)> = limited.into_iter().collect();
            if self.db().get_database_backend() == DbBackend::Postgres {
                // One reservation per number at a time, across every instance; in id order, so two
                // rounds never wait on each other's numbers.
                for chunk in pairs.chunks(sql::CHUNK) {
                    sql::query(
                        &txn,
                        &format!(
                            "SELECT id FROM number WHERE (tenant_id, e164) IN ({}) ORDER BY id FOR UPDATE",
                            sql::tuples(chunk.len(), 2)
                        ),
                        chunk.iter().flat_map(|(t, n)| [(*t).into(), (*n).into()]).collect(),
                    )
                    .await?;
                }
            }
            let window_start = at - Duration::minutes(1);
            let numbers: BTreeSet<&str> = pairs.iter().map(|(_, n)| *n).collect();
            for chunk in numbers.into_iter().collect::<Vec<_>>().chunks(sql::CHUNK) {
                let mut values: Vec<sea_orm::Value> = vec![window_start.into()];
                values.extend(chunk.iter().map(|n| (*n).into()));
                let rows = sql::query(
                    &txn,
                    &format!(
                        "SELECT number, attempted_at FROM send_attempt WHERE attempted_at > $1 \
                         AND outcome IN ('in_flight', 'accepted', 'unknown', 'unanswered') AND number IN ({})",
                        (2..=chunk.len() + 1).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
                    ),
                    values,
                )
                .await?;
                for row in rows {
                    let number: String = row.try_get("", "number")?;
                    let Some(key) = chunk.iter().find(|n| **n == number) else { continue };
                    recent.entry(key).or_default().push(row.try_get("", "attempted_at")?);
                }
            }
        }
        let mut slots = Vec::with_capacity(ctxs.len());
        let mut granted: Vec<(&SendContext, Uuid)> = Vec::with_capacity(ctxs.len());
        for ctx in ctxs {
            if let Some(limit) = ctx.per_minute {
                let times = recent.entry(ctx.from.as_str()).or_default();
                if times.len() as u64 >= u64::from(limit) {
                    times.sort();
                    let oldest = times.get(times.len() - limit as usize).copied().unwrap_or(at);
                    slots.push(Slot::Wait(oldest + Duration::minutes(1) + Duration::milliseconds(10)));
                    continue;
                }
                times.push(at);
            }
            let attempt_id = new_id();
            granted.push((ctx, attempt_id));
            slots.push(Slot::Granted { attempt_id, event: None });
        }
        if !granted.is_empty() {
            // An earlier attempt whose answer never came is given up on: this one replaces it.
            for chunk in granted.chunks(sql::CHUNK) {
                sql::execute(
                    &txn,
                    &format!(
                        "UPDATE send_attempt SET outcome = 'unanswered' WHERE outcome IN ('in_flight', 'unknown') \
                         AND message_id IN {}",
                        sql::tuples(1, chunk.len())
                    ),
                    chunk.iter().map(|(c, _)| c.message_id.into()).collect(),
                )
                .await?;
            }
            let rows = granted
                .iter()
                .map(|(c, a)| {
                    let row = [(*a).into(), c.tenant_id.into(), c.message_id.into(), c.from.clone().into(), at.into()];
                    [row.as_slice(), &["in_flight".into()]].concat()
                })
                .collect();
            sql::insert_rows(
                &txn,
                "INSERT INTO send_attempt (id, tenant_id, message_id, number, attempted_at, outcome)",
                "",
                rows,
            )
            .await?;
        }
        let changes: Vec<StatusChange> = granted
            .iter()
            .filter(|(c, _)| c.status == MessageStatus::Queued)
            .map(|(c, _)| StatusChange {
                id: c.message_id,
                status: MessageStatus::Sending,
                provider_id: None,
                error: None,
            })
            .collect();
        let events = set_statuses(&txn, &changes).await?;
        txn.commit().await?;
        let mut by_message: HashMap<Uuid, AppendedEvent> =
            changes.iter().zip(events).filter_map(|(c, e)| Some((c.id, e?))).collect();
        for (slot, ctx) in slots.iter_mut().zip(ctxs) {
            if let Slot::Granted { event, .. } = slot {
                *event = by_message.remove(&ctx.message_id);
            }
        }
        Ok(slots)
    }

    /// Records how attempts ended — the attempts, the statuses they imply (`sent` with
    /// Flowroute's id, after which a text is never sent again; `failed` for good), and their
    /// events — in one transaction; one by one if that fails, as [`Store::reserve_sends`].
    /// Returns each status event, if the status moved.
    pub async fn record_outcomes(&self, results: &[SendResult]) -> Outcomes<Option<AppendedEvent>> {
        let refs: Vec<&SendResult> = results.iter().collect();
        one_by_one(self.record_batch(&refs).await, &refs, |r| async move {
            self.record_batch(&[r]).await?.pop().ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn record_batch(&self, results: &[&SendResult]) -> Result<Vec<Option<AppendedEvent>>, StoreError> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.write_txn().await?;
        let rows: Vec<Vec<sea_orm::Value>> = results
            .iter()
            .filter_map(|r| {
                let (outcome, status, detail) = match &r.outcome {
                    SendOutcome::Accepted(id) => ("accepted", None, id.as_str()),
                    SendOutcome::Refused { status, detail } => ("refused", *status, detail.as_str()),
                    SendOutcome::Failed { status, detail } => ("failed", *status, detail.as_str()),
                    SendOutcome::Unknown(detail) => ("unknown", None, detail.as_str()),
                };
                let detail: String = detail.chars().take(1000).collect();
                Some(vec![r.attempt_id?.into(), outcome.into(), status.map(i32::from).into(), detail.into()])
            })
            .collect();
        // An unknown outcome never overwrites one a receipt recorded meanwhile.
        sql::update_rows(
            &txn,
            "v(id, outcome, status_code, detail)",
            "UPDATE send_attempt SET outcome = v.outcome, status_code = v.status_code, detail = v.detail FROM v \
             WHERE send_attempt.id = v.id AND (v.outcome <> 'unknown' OR send_attempt.outcome = 'in_flight')",
            rows,
        )
        .await?;
        let mut changes = Vec::with_capacity(results.len());
        let mut moved = Vec::with_capacity(results.len());
        for (i, r) in results.iter().enumerate() {
            let change = match &r.outcome {
                SendOutcome::Accepted(id) => {
                    StatusChange { id: r.message_id, status: MessageStatus::Sent, provider_id: Some(id), error: None }
                }
                SendOutcome::Refused { status, detail } => StatusChange {
                    id: r.message_id,
                    status: MessageStatus::Failed,
                    provider_id: None,
                    error: Some((status.map(i32::from), detail)),
                },
                SendOutcome::Failed { .. } | SendOutcome::Unknown(_) => continue,
            };
            changes.push(change);
            moved.push(i);
        }
        let events = set_statuses(&txn, &changes).await?;
        txn.commit().await?;
        let mut out: Vec<Option<AppendedEvent>> = vec![None; results.len()];
        for (i, e) in moved.into_iter().zip(events) {
            if let Some(slot) = out.get_mut(i) {
                *slot = e;
            }
        }
        Ok(out)
    }

    /// Moves a message's status forward (never back), with an event; `None` when nothing moved.
    pub(crate) async fn set_status(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        id: Uuid,
        status: MessageStatus,
        provider_id: Option<&str>,
        error_code: Option<i32>,
        error_message: Option<&str>,
    ) -> Result<Option<AppendedEvent>, StoreError> {
        let error =
            if status == MessageStatus::Failed { Some((error_code, error_message.unwrap_or(""))) } else { None };
        let change = StatusChange { id, status, provider_id, error };
        Ok(set_statuses(txn, &[change]).await?.pop().flatten())
    }

    /// Puts jobs back without counting the attempt (each waited for a rate limit, it did not fail).
    pub async fn defer_jobs(&self, jobs: &[(Uuid, DateTime<Utc>)]) -> Result<(), StoreError> {
        let at = now();
        let rows = jobs.iter().map(|(id, until)| vec![(*id).into(), (*until).into(), at.into()]).collect();
        sql::update_rows(
            self.writer(),
            "v(id, until, at)",
            "UPDATE job SET state = 'pending', locked_until = NULL, next_attempt_at = v.until, \
             attempts = job.attempts - 1, updated_at = v.at FROM v WHERE job.id = v.id",
            rows,
        )
        .await
    }
}

/// Each item's outcome from `batch`; if the batch failed for any reason but an unreachable
/// database, each item again on its own with `one`.
async fn one_by_one<'a, I, T, F, Fut>(batch: Result<Vec<T>, StoreError>, items: &'a [I], one: F) -> Outcomes<T>
where
    I: Copy + 'a,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    match batch {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(StoreError::Unavailable(cause)) => {
            let cause = cause.to_string();
            items.iter().map(|_| Err(StoreError::Unavailable(sea_orm::DbErr::Custom(cause.clone())))).collect()
        }
        Err(e) if items.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = ?e, items = items.len(), "a dispatch batch failed; writing it one by one");
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(one(*item).await);
            }
            out
        }
    }
}

/// Moves each message's status forward (never back), in order, with an event for each move;
/// `None` for a change that would not move it. The messages are locked first (on PostgreSQL),
/// in id order, so a receipt applying at the same time waits instead of being overwritten.
pub(crate) async fn set_statuses(
    txn: &sea_orm::DatabaseTransaction,
    changes: &[StatusChange<'_>],
) -> Result<Vec<Option<AppendedEvent>>, StoreError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = changes.iter().map(|c| c.id).collect::<BTreeSet<_>>().into_iter().collect();
    let mut current: HashMap<Uuid, message::Model> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(sql::CHUNK) {
        let mut query = message::Entity::find().filter(message::Column::Id.is_in(chunk.to_vec()));
        if txn.get_database_backend() == DbBackend::Postgres {
            query = query.order_by_asc(message::Column::Id).lock_exclusive();
        }
        current.extend(query.all(txn).await?.into_iter().map(|m| (m.id, m)));
    }
    let at = now();
    let mut new = Vec::with_capacity(changes.len());
    let mut moved = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let m = current.get_mut(&c.id).ok_or(StoreError::NotFound)?;
        let from = MessageStatus::parse(&m.status).unwrap_or(MessageStatus::Queued);
        if !from.may_become(c.status) {
            continue;
        }
        m.status = c.status.as_str().into();
        if let Some(p) = c.provider_id {
            m.provider_message_id = Some(p.to_owned());
        }
        if let Some((code, message)) = c.error {
            m.error_code = code;
            m.error_message = Some(message.to_owned());
        }
        m.updated_at = at;
        let ordering = Some(events::ordering_key(&m.number, &m.remote));
        new.push(NewEvent { tenant_id: m.tenant_id, body: events::status_changed(m, c.status), ordering });
        moved.push(i);
    }
    // Each moved message's final state, once.
    let touched: BTreeSet<Uuid> = moved.iter().filter_map(|i| changes.get(*i)).map(|c| c.id).collect();
    let rows = touched
        .iter()
        .filter_map(|id| current.get(id))
        .map(|m| {
            vec![
                m.id.into(),
                m.status.clone().into(),
                m.provider_message_id.clone().into(),
                m.error_code.into(),
                m.error_message.clone().into(),
                m.updated_at.into(),
            ]
        })
        .collect();
    sql::update_rows(
        txn,
        "v(id, status, provider_message_id, error_code, error_message, updated_at)",
        "UPDATE message SET status = v.status, provider_message_id = v.provider_message_id, \
         error_code = v.error_code, error_message = v.error_message, updated_at = v.updated_at FROM v \
         WHERE message.id = v.id",
        rows,
    )
    .await?;
    let mut jobs = Vec::new();
    let appended = events::append_batch(txn, new, at, &mut jobs).await?;
    for chunk in jobs.chunks(sql::CHUNK) {
        job::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    let mut out: Vec<Option<AppendedEvent>> = vec![None; changes.len()];
    for (i, e) in moved.into_iter().zip(appended) {
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(e);
        }
    }
    Ok(out)
}
