//! What several instances on one database share besides the queue: each Flowroute key's pace
//! (the earliest time its next request may leave, a generic cell rate algorithm's "theoretical
//! arrival time"), leases for the tasks only one instance runs at a time, each taken with a
//! fencing number that grows with every new holder, and media bytes when the database is where
//! media are kept (`media_store = "database"`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("send_pace")
                // The account's access key and a keyed fingerprint of its secret.
                .col(string_len("key", 200).primary_key())
                .col(timestamp_with_time_zone("next_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("lease")
                .col(string_len("name", 100).primary_key())
                .col(uuid("holder"))
                .col(big_integer("fence"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("media_blob")
                .col(string_len("key", 200).primary_key())
                .col(blob("bytes"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("media_blob").to_owned()).await?;
        m.drop_table(Table::drop().table("lease").to_owned()).await?;
        m.drop_table(Table::drop().table("send_pace").to_owned()).await
    }
}
