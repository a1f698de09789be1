//! Every attempt to hand a text to the provider, so the per-number rate limit can be counted in
//! the store (and so holds across instances), and so the history of a send can be read back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("send_attempt")
                .if_not_exists()
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("message_id"))
                .col(string_len("number", 16))
                .col(timestamp_with_time_zone("attempted_at"))
                .col(string_len("outcome", 16))
                .col(integer_null("status_code"))
                .col(text_null("detail"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_send_attempt_message_id")
                        .from("send_attempt", "message_id")
                        .to("message", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_send_attempt_window")
                .table("send_attempt")
                .col("number")
                .col("attempted_at")
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_send_attempt_message")
                .table("send_attempt")
                .col("message_id")
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("send_attempt").if_exists().to_owned()).await?;
        Ok(())
    }
}
