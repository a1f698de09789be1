//! Recording inbound texts: message, conversation and unread counts, opt-out change, event,
//! delivery jobs, queued replies and media fetch jobs — all in one transaction, so a text is
//! either wholly stored (and will be delivered) or not at all.
//!
//! Texts are written in batches (group commit, see [`crate::group`]): the texts waiting when a
//! transaction starts share it, with one statement per table rather than per text, and each
//! caller is answered only after that transaction commits. [`batch`] writes one batch, after
//! [`lookups`] read what it needs; [`rows`] builds and inserts its rows, [`replies`] writes
//! the opt-out changes and automatic replies.

mod batch;
mod lookups;
mod replies;
mod rows;
mod types;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use switchboard_core::routing::RouteDecision;

use types::Item;
pub use types::{InboundOutcome, InboundText, MediaIn};

use crate::group;
use crate::{Store, StoreError};

impl Store {
    /// Records an inbound text exactly once and answers when it is durable. `decide` routes it,
    /// given when this conversation last got an auto-reply; it runs while the conversation is
    /// locked, so two texts from one sender cannot both trigger an auto-reply, and two copies of
    /// one text cannot both be stored.
    pub async fn record_inbound<F>(&self, text: InboundText, decide: F) -> Result<InboundOutcome, StoreError>
    where
        F: Fn(Option<DateTime<Utc>>) -> RouteDecision + Send + Sync + 'static,
    {
        self.inbound.submit(Item { text, decide: Box::new(decide) }).await
    }

    /// Writes `texts` as one batch, as a lane would (for tests of the batch itself: a bad text
    /// among good ones, copies in one batch). One outcome per text, in order.
    #[doc(hidden)]
    pub async fn record_inbound_batch<F>(&self, texts: Vec<(InboundText, F)>) -> Vec<Result<InboundOutcome, StoreError>>
    where
        F: Fn(Option<DateTime<Utc>>) -> RouteDecision + Send + Sync + 'static,
    {
        let items: Vec<Item> =
            texts.into_iter().map(|(text, decide)| Item { text, decide: Box::new(decide) }).collect();
        group::write::<Inbound>(self.writer(), &items).await
    }
}

/// Inbound texts as the group-commit lanes see them: one lane per conversation, so its texts are
/// written in order and copies of one text meet in one lane.
pub(crate) struct Inbound;

impl group::Batch for Inbound {
    type Item = Item;
    type Outcome = InboundOutcome;

    fn lane_key(item: &Item) -> impl std::hash::Hash {
        (item.text.tenant_id, &item.text.number, &item.text.remote)
    }

    async fn write(txn: &DatabaseTransaction, items: &[Item]) -> Result<Vec<Option<InboundOutcome>>, StoreError> {
        batch::record_batch(txn, items).await
    }
}
