//! Writing one batch of inbound texts in one transaction: each text's rows are gathered as it is
//! decided ([`Batch::record`]), then written with one statement per table ([`Batch::write`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use switchboard_core::EventBody;
use switchboard_core::event::{MediaLink, MessageReceived, Named};
use switchboard_core::routing::RouteDecision;
use uuid::Uuid;

use super::lookups::{self, Directory, EventsRead};
use super::replies::{apply_opt_out, queue_replies};
use super::rows::{media_rows, message_row, write_rows};
use super::types::{ConvKey, InboundOutcome, InboundText, Item, conv_key};
use crate::channels::{Routed, channel_jobs, query_channels};
use crate::entity::{conversation, job, media, message};
use crate::events::{self, NewEvent};
use crate::sql::Script;
use crate::{StoreError, micros, new_id, now};

/// Writes one batch in `txn` and returns each text's outcome, in order. Any error rolls the
/// whole batch back.
pub(super) async fn record_batch(
    txn: &DatabaseTransaction,
    items: &[Item],
) -> Result<Vec<Option<InboundOutcome>>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    // Where a batch's time goes, for profiles (docs/BENCHMARKS.md): reading, deciding, writing
    // (the lane logs the wait for the writer and the commit).
    let started = Instant::now();
    let mut batch = Batch::read(txn, items, at).await?;
    let read = started.elapsed();
    for (index, item) in items.iter().enumerate() {
        batch.record(txn, index, item).await?;
    }
    let decided = started.elapsed();
    let outcomes = batch.write(txn).await?;
    tracing::debug!(
        texts = items.len(),
        read_us = micros(read),
        decide_us = micros(decided - read),
        write_us = micros(started.elapsed() - decided),
        "inbound batch"
    );
    Ok(outcomes)
}

/// A text's `message.received` event, appended once the batch's sequence numbers are known.
struct PendingEvent {
    item: usize,
    message_id: Uuid,
    decision: RouteDecision,
    event: NewEvent,
}

/// A batch being recorded: what it read, and everything it will write besides what the rare paths
/// (opt-out changes, replies) write as they go.
struct Batch {
    at: DateTime<Utc>,
    /// The batch's conversations, locked.
    convs: HashMap<ConvKey, conversation::Model>,
    /// Stored texts by tenant and provider id, this batch's included.
    seen: HashMap<(Uuid, String), Uuid>,
    directory: Directory,
    /// What the events need, read with the rest.
    for_events: EventsRead,
    /// Conversations whose head moved.
    changed: HashSet<Uuid>,
    /// One per text so far: a duplicate's now, a stored text's once its event is appended.
    outcomes: Vec<Option<InboundOutcome>>,
    messages: Vec<message::ActiveModel>,
    media: Vec<media::ActiveModel>,
    jobs: Vec<job::ActiveModel>,
    routed: Vec<Routed>,
    /// (conversation, extension) → texts to add to its unread count
    unread: BTreeMap<(Uuid, String), i32>,
    events: Vec<PendingEvent>,
}

impl Batch {
    /// Reads what the batch needs: its conversations (created if missing, then locked), the
    /// texts already stored, the senders' contacts and companies.
    async fn read(txn: &impl ConnectionTrait, items: &[Item], at: DateTime<Utc>) -> Result<Self, StoreError> {
        let read = lookups::read(txn, items, at).await?;
        Ok(Self {
            at,
            convs: read.conversations,
            seen: read.stored,
            directory: read.directory,
            for_events: read.events,
            changed: HashSet::new(),
            outcomes: Vec::with_capacity(items.len()),
            messages: Vec::with_capacity(items.len()),
            media: Vec::new(),
            jobs: Vec::new(),
            routed: Vec::new(),
            unread: BTreeMap::new(),
            events: Vec::with_capacity(items.len()),
        })
    }

    /// Decides one text and gathers its rows; a copy of a stored text is a duplicate.
    async fn record(&mut self, txn: &impl ConnectionTrait, index: usize, item: &Item) -> Result<(), StoreError> {
        let Item { text, decide } = item;
        let at = self.at;
        let key = (text.tenant_id, text.provider_message_id.clone());
        if let Some(existing) = self.seen.get(&key) {
            self.outcomes.push(Some(InboundOutcome::Duplicate { message_id: *existing }));
            return Ok(());
        }
        let conv = self.convs.get_mut(&conv_key(text)).ok_or(StoreError::NotFound)?;
        let decision = decide(conv.last_auto_reply_at);
        let (contact, company) = self.directory.named(text);
        let named = (contact.as_ref().map(|c| c.id), company.as_ref().map(|c| c.id));
        let message_id = new_id();
        self.seen.insert(key, message_id);
        let ordering = events::ordering_key(&text.number, &text.remote);

        let links = media_rows(text, message_id, at, &mut self.media, &mut self.jobs);
        self.messages.push(message_row(text, message_id, &links, &decision, named, at)?);
        for ext in &decision.destinations {
            *self.unread.entry((conv.id, ext.clone())).or_default() += 1;
            self.routed.push(Routed {
                message_id,
                tenant_id: text.tenant_id,
                extension: ext.clone(),
                number: text.number.clone(),
                remote: text.remote.clone(),
            });
        }
        // The rare paths write as they go, in order, so a later text of the batch sees them.
        apply_opt_out(txn, text, &decision, at).await?;
        let auto_replied = queue_replies(txn, text, &decision, named, &ordering, at, &mut self.jobs).await?;

        conv.last_message_id = Some(message_id);
        conv.last_message_at = at;
        if auto_replied {
            conv.last_auto_reply_at = Some(at);
        }
        self.changed.insert(conv.id);
        let body = received(text, message_id, conv.id, links, &decision, contact, company);
        let event = NewEvent { tenant_id: text.tenant_id, body, ordering: Some(ordering) };
        self.events.push(PendingEvent { item: index, message_id, decision, event });
        self.outcomes.push(None);
        Ok(())
    }

    /// Writes the gathered rows, appends the events (and their deliveries), inserts the jobs, and
    /// returns each text's outcome.
    async fn write(self, txn: &impl ConnectionTrait) -> Result<Vec<Option<InboundOutcome>>, StoreError> {
        let Self {
            at,
            convs,
            for_events,
            changed,
            mut outcomes,
            messages,
            media,
            mut jobs,
            routed,
            unread,
            events,
            ..
        } = self;
        let updated: Vec<&conversation::Model> = convs.values().filter(|c| changed.contains(&c.id)).collect();
        let started = Instant::now();
        let (pending, new): (Vec<_>, Vec<_>) =
            events.into_iter().map(|p| ((p.item, p.message_id, p.decision), p.event)).unzip();
        // The rows, the events where their numbers and ids are known (SQLite), and the channels'
        // query go as one script, none reading what another writes: on SQLite, one call; on
        // PostgreSQL, one statement (the inserts as its `WITH` parts).
        let mut script = Script::default();
        write_rows(&mut script, messages, media, &routed, &unread, &updated)?;
        let (appended, later) = match for_events {
            EventsRead::Numbered(known) => (events::append_in_script(&mut script, new, known, at, &mut jobs)?, None),
            EventsRead::Unnumbered(tenants) => (Vec::new(), Some((new, tenants))),
        };
        query_channels(&mut script, &routed);
        let found = script.run_at_once(txn).await?;
        let rows = started.elapsed();
        let (channel, phones) = channel_jobs(&found, &routed, at)?;
        let channels = started.elapsed();
        jobs.extend(channel);
        let appended = match later {
            Some((new, tenants)) => events::append_batch_read(txn, new, tenants, at, &mut jobs).await?,
            None => appended,
        };
        let evented = started.elapsed();
        for ((index, message_id, decision), event) in pending.into_iter().zip(appended) {
            if let Some(slot) = outcomes.get_mut(index) {
                let phones = phones.contains(&message_id);
                *slot = Some(InboundOutcome::Stored { message_id, event, decision, phones });
            }
        }
        let mut script = Script::default();
        script.insert_models(jobs)?;
        script.run(txn).await?;
        tracing::debug!(
            rows_us = micros(rows),
            channels_us = micros(channels - rows),
            events_us = micros(evented - channels),
            jobs_us = micros(started.elapsed() - evented),
            "inbound batch written"
        );
        Ok(outcomes)
    }
}

/// The text's `message.received` event.
fn received(
    text: &InboundText,
    message_id: Uuid,
    conversation_id: Uuid,
    media: Vec<MediaLink>,
    decision: &RouteDecision,
    contact: Option<Named>,
    company: Option<Named>,
) -> EventBody {
    EventBody::MessageReceived(MessageReceived {
        message_id,
        conversation_id,
        number: text.number.clone(),
        from: text.remote.clone(),
        to: text.number.clone(),
        body: text.body.clone(),
        media,
        media_dropped: text.media_dropped,
        extensions: decision.destinations.clone(),
        contact,
        company,
        keyword: decision.keyword.map(str::to_owned),
    })
}
