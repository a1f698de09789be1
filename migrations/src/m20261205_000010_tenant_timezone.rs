//! Each tenant's time zone: the portal shows its people times in it. Existing tenants get `UTC`
//! (what the portal showed them before), which their admins may change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("tenant").add_column(string_len("timezone", 64).default("UTC")).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("tenant").drop_column("timezone").to_owned()).await
    }
}
