//! Notes between instances on one PostgreSQL (`LISTEN/NOTIFY`): what one instance wrote that the
//! others should act on at once (new work, a configuration change, numbered events). The notes
//! are hints, never the data: a note sent while a listener was away is lost, so whoever hears of a
//! lost connection looks at the database again. SQLite serves one process, which tells itself.

use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::sync::mpsc;

use crate::{Store, StoreError};

/// The one channel Switchboard's instances talk on.
pub const CHANNEL: &str = "switchboard";

/// PostgreSQL refuses a payload of 8,000 bytes or more.
pub const MAX_NOTE: usize = 7_900;

/// What a listener heard.
#[derive(Debug)]
pub enum Heard {
    /// A note's payload.
    Note(String),
    /// The connection was lost (and is being made again): notes sent meanwhile are gone.
    Lost,
}

/// A connection of its own, outside the pool, that hears [`CHANNEL`]. Its notes arrive on
/// [`Listener::heard`]; dropping it closes the connection.
#[derive(Debug)]
pub struct Listener {
    pub heard: mpsc::Receiver<Heard>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A failure of a connection made outside the pool (the listener's, the migration lock's).
pub(crate) fn unavailable(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Unavailable(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))
}

/// How many notes may wait unread before the listener waits for its reader.
const BUFFER: usize = 1_024;

impl Store {
    /// True when several instances may share this database (PostgreSQL), so what one writes must
    /// be told to the others.
    pub fn is_shared(&self) -> bool {
        self.db().get_database_backend() == DbBackend::Postgres
    }

    /// Starts hearing [`CHANNEL`] on a connection of its own (made with the pool's settings, not
    /// taken from it); `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        if !self.is_shared() {
            return Ok(None);
        }
        let options = self.db().get_postgres_connection_pool().connect_options();
        // A pool of one, used only to make (and remake) the listener's connection.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with((*options).clone())
            .await
            .map_err(unavailable)?;
        let mut listener = PgListener::connect_with(&own).await.map_err(unavailable)?;
        listener.ignore_pool_close_event(true);
        listener.listen(CHANNEL).await.map_err(unavailable)?;
        let (tx, heard) = mpsc::channel(BUFFER);
        let task = tokio::spawn(async move {
            loop {
                let said = match listener.try_recv().await {
                    Ok(Some(note)) => Heard::Note(note.payload().to_owned()),
                    Ok(None) => Heard::Lost,
                    Err(e) => {
                        tracing::warn!(error = %e, "the listener for other instances' notes failed; connecting again");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        Heard::Lost
                    }
                };
                if tx.send(said).await.is_err() {
                    return; // Nobody reads any more.
                }
            }
        });
        Ok(Some(Listener { heard, task }))
    }

    /// Sends a note to every instance listening (itself included); nothing on SQLite. The note is
    /// sent on its own, at once: it is a hint about writes already committed.
    pub async fn notify(&self, payload: &str) -> Result<(), StoreError> {
        if !self.is_shared() {
            return Ok(());
        }
        if payload.len() >= MAX_NOTE {
            return Err(StoreError::internal(format!("a note of {} bytes is too long to send", payload.len())));
        }
        self.db()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            ))
            .await?;
        Ok(())
    }
}
