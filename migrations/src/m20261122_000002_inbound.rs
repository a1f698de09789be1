//! What the inbound path needs beyond the first schema: when a conversation last got an
//! auto-reply (so concurrent texts cannot both trigger one), where an outbound message came from,
//! jobs that fetch MMS media, optional hardening of inbound prefixes (a token, a source
//! allow-list), and which extensions may see which messages (indexed, so an
//! extension's inbox is a range scan on both databases).

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
        m.alter_table(Table::alter().table("inbound_prefix").add_column(text_null("token_enc")).to_owned()).await?;
        m.alter_table(
            Table::alter().table("inbound_prefix").add_column(json_binary_null("allowed_sources")).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("message_extension")
                .if_not_exists()
                .col(uuid("message_id"))
                .col(uuid("tenant_id"))
                .col(string_len("extension", 32))
                .col(string_len("remote", 16))
                .primary_key(Index::create().col("message_id").col("extension"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_message_extension_message_id")
                        .from("message_extension", "message_id")
                        .to("message", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_message_extension_inbox")
                .table("message_extension")
                .col("tenant_id")
                .col("extension")
                .col("remote")
                .col("message_id")
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("message_extension").if_exists().to_owned()).await?;
        m.alter_table(Table::alter().table("inbound_prefix").drop_column("allowed_sources").to_owned()).await?;
        m.alter_table(Table::alter().table("inbound_prefix").drop_column("token_enc").to_owned()).await?;
        m.alter_table(Table::alter().table("job").drop_column("media_id").to_owned()).await?;
        m.alter_table(Table::alter().table("message").drop_column("origin").to_owned()).await?;
        m.alter_table(Table::alter().table("conversation").drop_column("last_auto_reply_at").to_owned()).await?;
        Ok(())
    }
}
