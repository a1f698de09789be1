//! Indexes for claims that are fair across tenants, and a lookup that stays one probe.
//!
//! - A claim walks each tenant's unfinished jobs of a kind in creation order and stops at that
//!   tenant's room under its cap (`outbox::picked`): `ix_job_open_tenant`. The walk over every
//!   tenant's jobs in creation order (`ix_job_open_order`) is unused since.
//! - Every claim counts each tenant's running jobs of the kind: `ix_job_running` holds those only
//!   (at most the workers' places), where PostgreSQL otherwise filtered every open job of the kind
//!   (5 ms a claim with 6,800 deliveries queued).
//! - The per-tenant unique index on provider message ids leads with the id again. Led by
//!   `tenant_id`, it shared its first column with `ix_message_tenant (tenant_id, id)`, and
//!   PostgreSQL, planning the inbound batch's duplicate lookup while a tenant's messages were few,
//!   sometimes probed that index and filtered every message of the tenant per key (inbound fell
//!   from about 1,500 to 800 texts/s, docs/BENCHMARKS.md). Led by the id, no index competes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OPEN: &str = "state IN ('pending', 'running')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_message_provider_id_tenant \
             ON message (provider_message_id, direction, tenant_id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ux_message_tenant_provider_id").await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_job_running ON job (kind, tenant_id, locked_until) WHERE state = 'running'",
        )
        .await?;
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_job_open_tenant ON job (tenant_id, kind, created_at, id) WHERE {OPEN}"
        ))
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_open_order").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_job_open_order ON job (kind, created_at, id) WHERE {OPEN}"
        ))
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_open_tenant").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_running").await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_message_tenant_provider_id \
             ON message (tenant_id, direction, provider_message_id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ux_message_provider_id_tenant").await?;
        Ok(())
    }
}
