//! Group commit for inbound texts. Each lane is a task that takes every text waiting for it and
//! writes them in one transaction ([`crate::inbound::record_batch`]), then answers each caller:
//! under load, one commit (one fsync) and one statement per table serve many texts; alone, a
//! text is written at once, with no added wait.
//!
//! A conversation's texts always go to the same lane, so its batches commit one after another,
//! in order, and copies of one text meet in one lane. SQLite has one lane, as it has one writer;
//! PostgreSQL has [`POSTGRES_LANES`], whose batches run in parallel up to the tenant's event
//! counter, which each holds from its update to its commit (so events stay in commit order).
//!
//! When a batch fails, nothing of it is written; unless the database is unreachable, its texts
//! are then written one by one, so one bad text fails alone.

use std::slice;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use std::hash::{Hash, Hasher};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::inbound::{InboundOutcome, InboundText, Item, record_batch};

/// Most texts in one transaction.
pub const MAX_BATCH: usize = 256;
/// Lanes on PostgreSQL.
pub const POSTGRES_LANES: usize = 4;
/// Texts waiting per lane before callers wait to hand theirs over.
const QUEUE: usize = 4096;

type Answer = oneshot::Sender<Result<InboundOutcome, StoreError>>;

/// The lanes of one store. Dropping the last sender (the last clone of the store) ends them.
pub(crate) struct Lanes {
    lanes: Vec<mpsc::Sender<(Item, Answer)>>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes").field("lanes", &self.lanes.len()).finish()
    }
}

impl Lanes {
    /// Starts the lanes for `db` on the current runtime.
    pub(crate) fn start(db: &DatabaseConnection) -> Self {
        let count = match db.get_database_backend() {
            DbBackend::Postgres => POSTGRES_LANES,
            _ => 1,
        };
        let lanes = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(db.clone(), rx));
                tx
            })
            .collect();
        Self { lanes }
    }

    /// The lane of a conversation: always the same, so its texts are written in order and its
    /// copies meet in one lane.
    fn lane(&self, text: &InboundText) -> Option<&mpsc::Sender<(Item, Answer)>> {
        let mut h = std::hash::DefaultHasher::new();
        (text.tenant_id, &text.number, &text.remote).hash(&mut h);
        let n = u64::try_from(self.lanes.len()).ok()?.max(1);
        self.lanes.get(usize::try_from(h.finish() % n).ok()?)
    }

    /// Hands a text to its conversation's lane and waits until it is durable (or refused).
    pub(crate) async fn submit(&self, item: Item) -> Result<InboundOutcome, StoreError> {
        let lane = self.lane(&item.text).ok_or_else(|| stopped("no lane"))?;
        let (tx, rx) = oneshot::channel();
        lane.send((item, tx)).await.map_err(|_| stopped("the inbound writer has stopped"))?;
        // A dropped answer means the batch's task panicked: nothing of it was committed.
        rx.await.map_err(|_| stopped("the inbound batch failed"))?
    }
}

fn stopped(why: &str) -> StoreError {
    StoreError::Internal(DbErr::Custom(why.to_owned()))
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<(Item, Answer)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let taken = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        // Its own task, so a panic fails this batch (its callers get an error) and not the lane.
        let task = tokio::spawn(commit(db.clone(), taken));
        if let Err(e) = task.await {
            tracing::error!(error = %e, "an inbound batch panicked; its texts were refused");
        }
    }
}

async fn commit(db: DatabaseConnection, batch: Vec<(Item, Answer)>) {
    let (items, answers): (Vec<Item>, Vec<Answer>) = batch.into_iter().unzip();
    for (answer, outcome) in answers.into_iter().zip(write(&db, &items).await) {
        let _ = answer.send(outcome);
    }
}

/// Writes `items` as one batch; if that fails for any reason but an unreachable database, each
/// text on its own. One outcome per text, in order.
pub(crate) async fn write(db: &DatabaseConnection, items: &[Item]) -> Vec<Result<InboundOutcome, StoreError>> {
    let started = std::time::Instant::now();
    match record_batch(db, items).await {
        Ok(outcomes) => {
            tracing::debug!(texts = items.len(), ms = started.elapsed().as_secs_f64() * 1e3, "inbound batch committed");
            outcomes.into_iter().map(|o| o.ok_or_else(|| stopped("a text of the batch has no outcome"))).collect()
        }
        Err(StoreError::Unavailable(cause)) => {
            let cause = cause.to_string();
            items.iter().map(|_| Err(StoreError::Unavailable(DbErr::Custom(cause.clone())))).collect()
        }
        Err(e) if items.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = ?e, texts = items.len(), "an inbound batch failed; writing its texts one by one");
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let one = record_batch(db, slice::from_ref(item))
                    .await
                    .and_then(|mut o| o.pop().flatten().ok_or_else(|| stopped("the text has no outcome")));
                out.push(one);
            }
            out
        }
    }
}
