//! Provider message ids are unique per tenant, not across all of them: two tenants on different
//! Flowroute accounts (or a forged callback at another tenant's prefix) must never make one
//! tenant's text a "duplicate" of another's and drop it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_message_tenant_provider_id \
             ON message (tenant_id, direction, provider_message_id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ux_message_provider_id").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // Fails, leaving the per-tenant index, where two tenants already share an id.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_message_provider_id ON message (direction, provider_message_id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ux_message_tenant_provider_id").await?;
        Ok(())
    }
}
