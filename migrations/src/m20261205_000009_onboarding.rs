//! Onboarding a Flowroute account.
//!
//! - Each provider keeps the last check of its keys: what it found (`ok`, `bad_credentials`,
//!   `unreachable`), Flowroute's words, and when.
//! - Each number keeps where Flowroute posts its texts and receipts, as Switchboard last found it:
//!   `callbacks_state` (`set`: all four callbacks point at the number's prefix URL; `drifted`: one
//!   points elsewhere; `unknown`: Flowroute shows none for it; `failed`: setting them failed),
//!   `callbacks_detail` in words (URLs without their query, so no token is kept), when Switchboard
//!   last set them and when it last looked.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let columns = [
            ("provider", string_len_null("check_status", 32)),
            ("provider", text_null("check_detail")),
            ("provider", timestamp_with_time_zone_null("checked_at")),
            ("number", string_len_null("callbacks_state", 16)),
            ("number", text_null("callbacks_detail")),
            ("number", timestamp_with_time_zone_null("callbacks_set_at")),
            ("number", timestamp_with_time_zone_null("callbacks_checked_at")),
        ];
        for (table, column) in columns {
            m.alter_table(Table::alter().table(table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ("provider", "check_status"),
            ("provider", "check_detail"),
            ("provider", "checked_at"),
            ("number", "callbacks_state"),
            ("number", "callbacks_detail"),
            ("number", "callbacks_set_at"),
            ("number", "callbacks_checked_at"),
        ];
        for (table, column) in columns {
            m.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
