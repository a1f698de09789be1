//! Drops `ix_job_ordering` (`ordering_key, id`), an index of `job` that no statement uses and every
//! job paid for: its keys are conversations, so each job of a batch wrote a page of its own there.
//! A job's conversation head is found through `ix_job_open_key` (`ordering_key, kind,
//! created_at, id`, unfinished jobs only), which serves every lookup by conversation
//! (docs/BENCHMARKS.md, 2026-12-06 fourth part).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP INDEX IF EXISTS ix_job_ordering").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("CREATE INDEX IF NOT EXISTS ix_job_ordering ON job (ordering_key, id)")
            .await?;
        Ok(())
    }
}
