//! Claims that visit heads only: a job found waiting behind an unfinished older job of its
//! conversation is marked `behind`, and the index claims walk (`ix_job_head_tenant`) leaves marked
//! jobs out. Before, every claim walked each tenant's every unfinished job of the kind, checking
//! each against its conversation's head: with 1,000 tenants and 15,000 status deliveries queued
//! behind their heads, 11–17 ms of the single SQLite writer per claim (docs/BENCHMARKS.md).
//!
//! The mark is a hint that only ever leaves a job out of the walk: the claim still checks that a
//! job is its conversation's head. A finished head clears the mark of the next job of its
//! conversation in the same transaction. Only SQLite marks (`outbox::marks`); on PostgreSQL the
//! column stays false and the index holds every unfinished job, as `ix_job_open_tenant` did
//! (until migration 20, which marks sends there as they are written).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OPEN: &str = "state IN ('pending', 'running')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("job").add_column(boolean("behind").default(false)).to_owned()).await?;
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_job_head_tenant ON job (tenant_id, kind, created_at, id) \
             WHERE {OPEN} AND behind = FALSE"
        ))
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_open_tenant").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // The drop first: it locks `job` exclusively at once. Building the index first would hold
        // a share lock and then ask for the exclusive one, and a claim that had read `job` and
        // then wrote it would wait on this while this waited on it: a deadlock on PostgreSQL.
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_head_tenant").await?;
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_job_open_tenant ON job (tenant_id, kind, created_at, id) WHERE {OPEN}"
        ))
        .await?;
        m.alter_table(Table::alter().table("job").drop_column("behind").to_owned()).await
    }
}
