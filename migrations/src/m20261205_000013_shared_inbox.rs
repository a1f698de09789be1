//! The shared inbox: a conversation can be taken by one person and marked done; each person has
//! their own read marker (so unread counts are per person, not per extension); and a picture a
//! person attaches to a reply is kept with a token that makes its public link unguessable. An
//! extension that sent in a conversation gets its (zero) row of unread counts there, as sending now
//! gives it, so its inbox lists the conversation.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column an ALTER: SQLite takes no more.
        for col in [
            uuid_null("assigned_to"),
            timestamp_with_time_zone_null("assigned_at"),
            timestamp_with_time_zone_null("done_at"),
        ] {
            m.alter_table(Table::alter().table("conversation").add_column(col).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table("conversation_read")
                .col(uuid("conversation_id"))
                .col(uuid("account_id"))
                .col(uuid("read_through"))
                .primary_key(Index::create().col("conversation_id").col("account_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_conversation_read_conversation")
                        .from("conversation_read", "conversation_id")
                        .to("conversation", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_conversation_read_account")
                        .from("conversation_read", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // An extension's inbox lists (and opens) the conversations it has a row of counts in; one
        // that only ever sent in a conversation had none until now.
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO conversation_unread (conversation_id, extension, unread) \
                 SELECT DISTINCT c.id, m.sender_extension, 0 FROM message m JOIN conversation c \
                 ON c.tenant_id = m.tenant_id AND c.number = m.number AND c.remote = m.remote \
                 WHERE m.sender_extension IS NOT NULL ON CONFLICT (conversation_id, extension) DO NOTHING",
            )
            .await?;
        m.alter_table(Table::alter().table("media").add_column(string_len_null("public_token", 64)).to_owned()).await?;
        m.create_index(
            Index::create().name("ux_media_public_token").table("media").col("public_token").unique().to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ux_media_public_token").table("media").to_owned()).await?;
        m.alter_table(Table::alter().table("media").drop_column("public_token").to_owned()).await?;
        m.drop_table(Table::drop().table("conversation_read").to_owned()).await?;
        for col in ["done_at", "assigned_at", "assigned_to"] {
            m.alter_table(Table::alter().table("conversation").drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
