//! Switchboard's durable store: connection setup for SQLite and PostgreSQL, migrations, the
//! repositories behind the admin API, and encryption of secrets at rest.
//!
//! Other crates see plain records and input types of its own (the HTTP crate maps its API types
//! to and from them) and [`StoreError`]; the sea-orm entities stay private to this crate.

mod crypto;
mod entity;
mod error;
mod group;
mod page;
mod refs;
mod sql;

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod blobs;
mod channels;
pub mod deliveries;
pub mod directory;
pub mod dispatch;
pub mod email;
pub mod events;
pub mod extensions;
pub mod housekeeping;
pub mod inbound;
pub mod inbox;
pub mod media;
pub mod messages;
pub mod numbers;
pub mod outbound;
pub mod outbox;
pub mod pace;
pub mod policies;
pub mod prefixes;
pub mod providers;
pub mod receipts;
pub mod routes;
pub mod second_factor;
pub mod signals;
pub mod sip;
pub mod templates;
pub mod tenants;
pub mod usage;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use switchboard_migrations::MigratorTrait;

pub use crypto::{MASTER_KEY_LEN, SecretCipher};
pub use error::StoreError;
pub use page::{Page, PageRequest};
pub use sea_orm::DbErr;
pub use switchboard_core::Patch;

/// How long a write waits for SQLite's one writer before it fails.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// SQLite's page cache per connection, in KiB. Each of the pool's read connections keeps its own
/// (SQLite's default is about 2 MiB), and under load every one of them is open: with 16, their
/// caches held 32 MiB of the process's memory for pages the operating system caches anyway
/// (docs/BENCHMARKS.md, "1,000,000 numbers"). The one writing connection keeps SQLite's default:
/// its cache spares every batch the reads of the pages it writes.
const READ_CACHE_KIB: u32 = 512;
const WRITE_CACHE_KIB: u32 = 2000;

/// The advisory lock instances take turns on to migrate (an arbitrary constant: "SWBD").
const MIGRATION_LOCK: i64 = 0x5357_4244;

/// The store: a connection pool and the cipher for secrets at rest. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where write transactions run: on SQLite a pool of its own with one connection, so writers
    /// queue in order for it (not on SQLite's busy timeout, which sleeps and retries) and its page
    /// cache stays warm (a connection's cache is dropped whenever another connection wrote); on
    /// PostgreSQL (and an in-memory SQLite database) the same pool as reads.
    writer: DatabaseConnection,
    cipher: Arc<SecretCipher>,
    inbound: Arc<group::Lanes<inbound::Inbound>>,
    /// When claims mark jobs queued behind their heads (`outbox`).
    marking: Arc<outbox::Marking>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.db.get_database_backend()).finish_non_exhaustive()
    }
}

/// The store's settings, derived from the configuration in one function
/// (`switchboard::config::Config::store_settings`).
pub struct StoreSettings {
    /// `sqlite://…` or `postgres://…`; may hold a password, so it is never shown.
    pub database_url: String,
    /// Pooled database connections at most.
    pub max_connections: u32,
    /// Seals provider and webhook secrets.
    pub master_key: secrecy::SecretBox<[u8; MASTER_KEY_LEN]>,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings").field("max_connections", &self.max_connections).finish_non_exhaustive()
    }
}

impl Store {
    /// Connects as `settings` say.
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        use secrecy::ExposeSecret;
        Self::connect_with(&settings.database_url, settings.master_key.expose_secret(), settings.max_connections).await
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    ///
    /// SQLite runs in WAL mode with `synchronous=FULL`, so a write acknowledged by a commit survives
    /// a crash of the process or of the machine; foreign keys are enforced.
    pub async fn connect(url: &str, master_key: &[u8; MASTER_KEY_LEN]) -> Result<Self, StoreError> {
        Self::connect_with(url, master_key, 16).await
    }

    /// Connects with at most `max_connections` pooled connections.
    pub async fn connect_with(
        url: &str,
        master_key: &[u8; MASTER_KEY_LEN],
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        // A pool of at most `max` connections; `wait` is how long a caller waits for one; on
        // SQLite, each connection keeps up to `cache_kib` of the database's pages.
        let options = |max: u32, wait: Duration, cache_kib: u32, statements: usize| {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.sqlx_logging(false)
                .acquire_timeout(wait)
                .connect_timeout(Duration::from_secs(5))
                .max_connections(max)
                .min_connections(1)
                .map_sqlx_sqlite_opts(move |o| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .busy_timeout(WRITE_WAIT)
                        .foreign_keys(true)
                        // Negative: a size in KiB rather than a number of pages.
                        .pragma("cache_size", format!("-{cache_kib}"))
                        // A statement that writes many rows keeps the pages it changes in a
                        // statement journal, to undo itself alone; past 64 KiB that journal went
                        // to a temporary file, 5 % of the server's CPU at 2,000 texts/s
                        // (docs/BENCHMARKS.md, 2026-12-06 fifth part). In memory, it is never written.
                        .pragma("temp_store", "memory")
                        .statement_cache_capacity(statements)
                })
                // A SQLite connection is a file no server can drop, and it is pinged as it goes
                // back to the pool anyway: pinging it again at every checkout cost each write
                // transaction a second round trip to the connection's thread
                // (docs/BENCHMARKS.md, 2026-12-06 fourth part). PostgreSQL's pool still checks
                // every connection at checkout, so one the server dropped is replaced unseen.
                .map_sqlx_sqlite_pool_opts(|pool| pool.test_before_acquire(false));
            opts
        };
        // Prepared statements kept per SQLite connection: sqlx's default 100 on the read pool.
        // The one writing connection keeps 500: a batch inserts with one statement per table and
        // batch size, so the lane alone uses a few hundred distinct statements, and with 100 they
        // were prepared again and again (8 MB more at peak under load, docs/BENCHMARKS.md
        // 2026-12-06 fifth part).
        let db =
            Database::connect(options(max_connections.max(1), Duration::from_secs(5), READ_CACHE_KIB, 100)).await?;
        // An in-memory database lives in its pool: a second pool would open another one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if db.get_database_backend() == DbBackend::Sqlite && !in_memory {
            // Writers wait for its one connection as long as they waited for SQLite's lock.
            Database::connect(options(1, WRITE_WAIT, WRITE_CACHE_KIB, 500)).await?
        } else {
            db.clone()
        };
        let inbound = Arc::new(group::Lanes::start(&writer));
        Ok(Self { db, writer, cipher: Arc::new(SecretCipher::new(master_key)), inbound, marking: Arc::default() })
    }

    /// Applies every pending migration. On PostgreSQL, instances starting together take turns
    /// (a session advisory lock on a connection of its own): the first migrates, the others then
    /// find nothing pending.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if !self.is_shared() {
            return switchboard_migrations::Migrator::up(&self.db, None).await.map_err(StoreError::from);
        }
        use sea_orm::sqlx::{Connection, Executor};
        use signals::unavailable;
        let options = self.db.get_postgres_connection_pool().connect_options();
        let mut lock = sea_orm::sqlx::PgConnection::connect_with(&options).await.map_err(unavailable)?;
        lock.execute(sea_orm::sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK))
            .await
            .map_err(unavailable)?;
        let migrated = switchboard_migrations::Migrator::up(&self.db, None).await.map_err(StoreError::from);
        // Closing the session releases the lock whatever happens.
        let _ = lock.close().await;
        migrated
    }

    /// Undoes every migration from the one named `name` (its module name, such as
    /// `m20261205_000011_holidays_and_attempts`) to the last, then applies them all again: for
    /// tests of what a migration does to rows written before it. Named, not counted, so a later
    /// migration cannot quietly turn such a test into one of itself.
    #[doc(hidden)]
    pub async fn remigrate_from(&self, name: &str) -> Result<(), StoreError> {
        use switchboard_migrations::MigratorTrait as _;
        let names: Vec<String> =
            switchboard_migrations::Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        let at = names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| StoreError::internal(format!("no migration is named {name}")))?;
        let steps = u32::try_from(names.len() - at).unwrap_or(u32::MAX);
        switchboard_migrations::Migrator::down(&self.db, Some(steps)).await?;
        self.migrate().await
    }

    /// True when the store answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// Which database this store runs on, for logs: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            _ => "other",
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(self) {
        let _ = self.writer.close().await;
        let _ = self.db.close().await;
    }

    /// True when events are numbered after they commit, by [`Store::number_events`] (PostgreSQL);
    /// false when the writer numbers them itself (SQLite).
    pub fn numbers_after_commit(&self) -> bool {
        events::numbers_after_commit(self.db.get_database_backend())
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Where a write outside a transaction goes (see the `writer` field of [`Store`]).
    pub(crate) fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// Begins a transaction that will write, on the writer's connection. On SQLite it takes the
    /// write lock at once (`BEGIN IMMEDIATE`), so a write made outside the writer's pool queues on
    /// the busy timeout instead of one failing when it upgrades a read lock; PostgreSQL ignores
    /// the option.
    pub(crate) async fn write_txn(&self) -> Result<DatabaseTransaction, StoreError> {
        begin_write(&self.writer).await
    }

    /// Opens a secret sealed for `aad`; a failure (wrong master key, tampering) is an internal error.
    pub(crate) fn open_secret(&self, sealed: &str, aad: &str) -> Result<secrecy::SecretString, StoreError> {
        self.cipher.open(sealed, aad).map_err(|e| StoreError::Internal(sea_orm::DbErr::Custom(e.to_string())))
    }

    /// A prefix's token, when it has one.
    pub(crate) fn prefix_token(
        &self,
        prefix: &entity::inbound_prefix::Model,
    ) -> Result<Option<secrecy::SecretString>, StoreError> {
        prefix.token_enc.as_deref().map(|sealed| self.open_secret(sealed, &prefixes::token_aad(prefix.id))).transpose()
    }

    pub(crate) fn cipher(&self) -> &SecretCipher {
        &self.cipher
    }
}

/// Begins a transaction that will write (see [`Store::write_txn`]).
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Whole microseconds, for the logs that profiles read (docs/BENCHMARKS.md).
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A fresh time-ordered id (UUIDv7): ids sort in creation order, which cursor pagination uses.
pub(crate) fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// The current time, truncated to microseconds so it round-trips through both databases exactly.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
