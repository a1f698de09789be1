//! Quiet hours: a tenant's own window for automated texts (narrower than the law's), and which
//! texts are automated (an API send marked as not conversational; auto-replies are known by their
//! origin).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("tenant").add_column(string_len_null("send_window_from", 5)).to_owned())
            .await?;
        m.alter_table(Table::alter().table("tenant").add_column(string_len_null("send_window_until", 5)).to_owned())
            .await?;
        m.alter_table(Table::alter().table("message").add_column(boolean("automated").default(false)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("message").drop_column("automated").to_owned()).await?;
        m.alter_table(Table::alter().table("tenant").drop_column("send_window_until").to_owned()).await?;
        m.alter_table(Table::alter().table("tenant").drop_column("send_window_from").to_owned()).await
    }
}
