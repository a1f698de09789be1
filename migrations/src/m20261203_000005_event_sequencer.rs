//! Events numbered after commit on PostgreSQL: `event.seq` may be NULL there until the sequencer
//! numbers the tenant's committed events (`Store::number_events`), so writers no longer hold the
//! tenant's counter until they commit. SQLite has one writer at a time, numbers events in the
//! writer's own transaction at no extra cost, and keeps the column `NOT NULL` (SQLite cannot drop a
//! constraint without rebuilding the table). Both get the index the sequencer looks through.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE event ALTER COLUMN seq DROP NOT NULL").await?;
        }
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_event_unnumbered ON event (tenant_id, id) WHERE seq IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_event_unnumbered").await?;
        if db.get_database_backend() == DbBackend::Postgres {
            // Events still unnumbered cannot keep a NULL under the constraint.
            db.execute_unprepared("DELETE FROM job WHERE event_id IN (SELECT id FROM event WHERE seq IS NULL)").await?;
            db.execute_unprepared("DELETE FROM event WHERE seq IS NULL").await?;
            db.execute_unprepared("ALTER TABLE event ALTER COLUMN seq SET NOT NULL").await?;
        }
        Ok(())
    }
}
