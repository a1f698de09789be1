//! Group commit, for inbound texts ([`crate::inbound::Inbound`]). Each lane is a task that takes
//! every item waiting for it and writes them in one transaction ([`Batch::write`]), then answers each caller:
//! under load, one commit (one fsync) and one statement per table serve many texts; alone, a
//! text is written at once, with no added wait.
//!
//! A conversation's texts always go to the same lane, so its batches commit one after another,
//! in order, and copies of one text meet in one lane. SQLite has one lane, as it has one writer;
//! PostgreSQL has [`POSTGRES_LANES`], whose batches run in parallel: there events are numbered
//! after commit (`events::numbers_after_commit`), so a batch holds no lock of its tenant's. One
//! lane made bigger batches at a third less CPU a text, but one transaction at a time ran slower
//! (docs/BENCHMARKS.md, 2026-12-07 twelfth part).
//!
//! On SQLite the workers' claims and settles ride in the lane too ([`Ride`]): they run in the
//! transaction of the texts waiting beside them, after those texts, so one commit serves both and
//! the one writer is not taken and given back once for each.
//!
//! When a batch fails, nothing of it is written; unless the database is unreachable, its texts
//! are then written one by one and its rides run each alone, so one bad text fails alone.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::slice;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::outbox::{Ridden, Ride};
use crate::{StoreError, begin_write, micros};

/// What lanes commit in batches.
pub(crate) trait Batch: 'static {
    type Item: Send + Sync + 'static;
    type Outcome: Send + 'static;

    /// Items with equal keys go to one lane, so they are written in order and meet in one batch.
    fn lane_key(item: &Self::Item) -> impl Hash;

    /// Writes `items` in `txn`: one outcome per item, in order (`None` where one is missing,
    /// which is a fault); an error rolls the whole batch back.
    fn write(
        txn: &DatabaseTransaction,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Option<Self::Outcome>>, StoreError>> + Send;
}

/// Most texts in one transaction.
pub const MAX_BATCH: usize = 256;
/// Lanes on PostgreSQL.
pub const POSTGRES_LANES: usize = 4;
/// Texts waiting per lane before callers wait to hand theirs over.
const QUEUE: usize = 4096;

type Answer<B> = oneshot::Sender<Result<<B as Batch>::Outcome, StoreError>>;
type RideAnswer = oneshot::Sender<Result<Ridden, StoreError>>;

/// What waits in a lane: an item of its batch, or a ride.
enum Entry<B: Batch> {
    Item(B::Item, Answer<B>),
    Ride(Ride, RideAnswer),
}

/// The lanes of one store. Dropping the last sender (the last clone of the store) ends them.
pub(crate) struct Lanes<B: Batch> {
    lanes: Vec<mpsc::Sender<Entry<B>>>,
}

impl<B: Batch> std::fmt::Debug for Lanes<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes").field("lanes", &self.lanes.len()).finish()
    }
}

impl<B: Batch> Lanes<B> {
    /// Starts the lanes for `db` on the current runtime.
    pub(crate) fn start(db: &DatabaseConnection) -> Self {
        let count = match db.get_database_backend() {
            DbBackend::Postgres => POSTGRES_LANES,
            _ => 1,
        };
        let lanes = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run::<B>(db.clone(), rx));
                tx
            })
            .collect();
        Self { lanes }
    }

    /// The lane of an item: always the same for one key.
    fn lane(&self, item: &B::Item) -> Option<&mpsc::Sender<Entry<B>>> {
        let mut h = std::hash::DefaultHasher::new();
        B::lane_key(item).hash(&mut h);
        let n = u64::try_from(self.lanes.len()).ok()?.max(1);
        self.lanes.get(usize::try_from(h.finish() % n).ok()?)
    }

    /// Hands an item to its lane and waits until it is durable (or refused).
    pub(crate) async fn submit(&self, item: B::Item) -> Result<B::Outcome, StoreError> {
        let lane = self.lane(&item).ok_or_else(|| stopped("no lane"))?;
        let (tx, rx) = oneshot::channel();
        lane.send(Entry::Item(item, tx)).await.map_err(|_| stopped("the batch writer has stopped"))?;
        // A dropped answer means the batch's task panicked: nothing of it was committed.
        rx.await.map_err(|_| stopped("the batch failed"))?
    }

    /// Hands a ride to the first lane, calls `queued` once it waits there (so whatever the caller
    /// hands in next commits with it or after it), and waits until its transaction commits. For
    /// SQLite, whose one lane is its one writer.
    pub(crate) async fn ride(&self, ride: Ride, queued: impl FnOnce()) -> Result<Ridden, StoreError> {
        let lane = self.lanes.first().ok_or_else(|| stopped("no lane"))?;
        let (tx, rx) = oneshot::channel();
        lane.send(Entry::Ride(ride, tx)).await.map_err(|_| stopped("the batch writer has stopped"))?;
        queued();
        rx.await.map_err(|_| stopped("the batch failed"))?
    }
}

fn stopped(why: &str) -> StoreError {
    StoreError::Internal(DbErr::Custom(why.to_owned()))
}

async fn run<B: Batch>(db: DatabaseConnection, mut rx: mpsc::Receiver<Entry<B>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let taken = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        // Its own task, so a panic fails this batch (its callers get an error) and not the lane.
        let task = tokio::spawn(commit::<B>(db.clone(), taken));
        if let Err(e) = task.await {
            tracing::error!(error = %e, "a batch panicked; its items were refused");
        }
    }
}

async fn commit<B: Batch>(db: DatabaseConnection, batch: Vec<Entry<B>>) {
    let (mut items, mut answers, mut rides, mut riders) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for entry in batch {
        match entry {
            Entry::Item(item, answer) => {
                items.push(item);
                answers.push(answer);
            }
            Entry::Ride(ride, answer) => {
                rides.push(ride);
                riders.push(answer);
            }
        }
    }
    let (outcomes, ridden) = if rides.is_empty() {
        (write::<B>(&db, &items).await, Vec::new())
    } else {
        together::<B>(&db, &items, &rides).await
    };
    for (answer, outcome) in answers.into_iter().zip(outcomes) {
        let _ = answer.send(outcome);
    }
    for (answer, outcome) in riders.into_iter().zip(ridden) {
        let _ = answer.send(outcome);
    }
}

/// Writes `items` and runs `rides` in one transaction; if that fails for any reason but an
/// unreachable database, the items as [`write`] does and each ride alone. One outcome per item
/// and per ride, in order.
async fn together<B: Batch>(
    db: &DatabaseConnection,
    items: &[B::Item],
    rides: &[Ride],
) -> (Vec<Result<B::Outcome, StoreError>>, Vec<Result<Ridden, StoreError>>) {
    match attempt::<B>(db, items, rides).await {
        Ok((outcomes, ridden)) => (answered(outcomes), ridden.into_iter().map(Ok).collect()),
        Err(StoreError::Unavailable(cause)) => {
            let cause = cause.to_string();
            let down = || StoreError::Unavailable(DbErr::Custom(cause.clone()));
            (items.iter().map(|_| Err(down())).collect(), rides.iter().map(|_| Err(down())).collect())
        }
        Err(e) => {
            tracing::warn!(error = ?e, items = items.len(), rides = rides.len(), "a batch with rides failed; writing its parts alone");
            let outcomes = if items.is_empty() { Vec::new() } else { write::<B>(db, items).await };
            let mut ridden = Vec::with_capacity(rides.len());
            for ride in rides {
                let one = attempt::<B>(db, &[], slice::from_ref(ride))
                    .await
                    .and_then(|(_, mut r)| r.pop().ok_or_else(|| stopped("the ride has no outcome")));
                ridden.push(one);
            }
            (outcomes, ridden)
        }
    }
}

/// One transaction: `items` written, then `rides` run, then the commit.
async fn attempt<B: Batch>(
    db: &DatabaseConnection,
    items: &[B::Item],
    rides: &[Ride],
) -> Result<(Vec<Option<B::Outcome>>, Vec<Ridden>), StoreError> {
    let started = std::time::Instant::now();
    let txn = begin_write(db).await?;
    let locked = started.elapsed();
    let outcomes = if items.is_empty() { Vec::new() } else { B::write(&txn, items).await? };
    let written = started.elapsed();
    let ridden = crate::outbox::ride(&txn, rides).await?;
    let rode = started.elapsed();
    txn.commit().await?;
    // Where a batch's time goes, for profiles (docs/BENCHMARKS.md).
    tracing::debug!(
        items = items.len(),
        rides = rides.len(),
        wait_us = micros(locked),
        write_us = micros(written - locked),
        ride_us = micros(rode - written),
        commit_us = micros(started.elapsed() - rode),
        "batch committed"
    );
    Ok((outcomes, ridden))
}

fn answered<O>(outcomes: Vec<Option<O>>) -> Vec<Result<O, StoreError>> {
    outcomes.into_iter().map(|o| o.ok_or_else(|| stopped("an item of the batch has no outcome"))).collect()
}

/// Writes `items` as one batch; if that fails for any reason but an unreachable database, each
/// item on its own. One outcome per item, in order.
pub(crate) async fn write<B: Batch>(db: &DatabaseConnection, items: &[B::Item]) -> Vec<Result<B::Outcome, StoreError>> {
    match attempt::<B>(db, items, &[]).await {
        Ok((outcomes, _)) => answered(outcomes),
        Err(StoreError::Unavailable(cause)) => {
            let cause = cause.to_string();
            items.iter().map(|_| Err(StoreError::Unavailable(DbErr::Custom(cause.clone())))).collect()
        }
        Err(e) if items.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = ?e, items = items.len(), "a batch failed; writing its items one by one");
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let one = attempt::<B>(db, slice::from_ref(item), &[])
                    .await
                    .and_then(|(mut o, _)| o.pop().flatten().ok_or_else(|| stopped("the item has no outcome")));
                out.push(one);
            }
            out
        }
    }
}
