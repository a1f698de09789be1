//! What the inbound path needs beyond the first schema: when a conversation last got an
//! auto-reply (so concurrent texts cannot both trigger one), where an outbound message came from,
//! and jobs that fetch MMS media.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("conversation")
                .add_column(timestamp_with_time_zone_null("last_auto_reply_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table("message").add_column(string_len("origin", 16).default("provider")).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("job").add_column(uuid_null("media_id")).to_owned()).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("job").drop_column("media_id").to_owned()).await?;
        m.alter_table(Table::alter().table("message").drop_column("origin").to_owned()).await?;
        m.alter_table(Table::alter().table("conversation").drop_column("last_auto_reply_at").to_owned()).await?;
        Ok(())
    }
}
