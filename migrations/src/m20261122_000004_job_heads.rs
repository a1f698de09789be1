//! Claiming jobs in time independent of the backlog: partial indexes over unfinished jobs only, so
//! the claim walks them in creation order and stops at its limit instead of sorting every due job,
//! and the "no older unfinished job of this conversation" check is one index probe. Done jobs,
//! which are never pruned yet, no longer weigh on either.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OPEN: &str = "state IN ('pending', 'running')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on SQLite and PostgreSQL (both have partial indexes).
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_job_open_order ON job (kind, created_at, id) WHERE {OPEN}"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_job_open_key ON job (ordering_key, kind, created_at, id) WHERE {OPEN}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_open_order").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_open_key").await?;
        Ok(())
    }
}
