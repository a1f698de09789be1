//! Email when nobody answers: each extension's address and how long a text may go unread before
//! it is emailed there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("extension").add_column(string_len_null("email", 254)).to_owned()).await?;
        m.alter_table(
            Table::alter().table("extension").add_column(integer("email_delay_minutes").default(5)).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("extension").drop_column("email_delay_minutes").to_owned()).await?;
        m.alter_table(Table::alter().table("extension").drop_column("email").to_owned()).await
    }
}
