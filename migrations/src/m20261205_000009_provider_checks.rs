//! Onboarding a Flowroute account: each provider keeps the last check of its keys — what it found
//! (`ok`, `bad_credentials`, `unreachable`), Flowroute's words, and when.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [string_len_null("check_status", 32), text_null("check_detail")] {
            m.alter_table(Table::alter().table("provider").add_column(column).to_owned()).await?;
        }
        m.alter_table(
            Table::alter().table("provider").add_column(timestamp_with_time_zone_null("checked_at")).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in ["check_status", "check_detail", "checked_at"] {
            m.alter_table(Table::alter().table("provider").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
