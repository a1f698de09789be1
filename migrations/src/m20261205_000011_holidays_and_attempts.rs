//! Holidays on policies, and a record of each failed delivery attempt.
//!
//! - `policy.holidays`: days a number is closed all day (JSON, `[]` for existing policies).
//! - `delivery_attempt`: one row per attempt at a job that did not succeed (a PBX webhook post, a
//!   send to the provider, a media fetch), with the status code when there was an answer. A job's
//!   success is its own row (`state = 'done'`), so the hot path writes nothing more.
//! - `job.replay_of`: a dead webhook delivery played again is a new job pointing at the old one.
//! - `event.message_id`: the text an event is about, so a message's page shows its events.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::prelude::{Json, Uuid};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("policy").add_column(json_binary("holidays").default("[]")).to_owned())
            .await?;
        // Before `delivery_attempt`: making its foreign key to `job` locks `job` against writes,
        // and adding the column after it would ask for an exclusive lock while holding that one,
        // a deadlock on PostgreSQL with a claim that had read `job` and then wrote it.
        m.alter_table(Table::alter().table("job").add_column(uuid_null("replay_of")).to_owned()).await?;
        m.create_table(
            Table::create()
                .table("delivery_attempt")
                .col(big_integer("id").auto_increment().primary_key())
                .col(uuid("tenant_id"))
                .col(uuid("job_id"))
                .col(integer("attempt"))
                .col(timestamp_with_time_zone("at"))
                .col(integer_null("status_code"))
                .col(string_len("error", 1000))
                .col(boolean("final"))
                // Gone with its tenant, and with its job when finished jobs are pruned.
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_delivery_attempt_tenant_id")
                        .from("delivery_attempt", "tenant_id")
                        .to("tenant", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_delivery_attempt_job_id")
                        .from("delivery_attempt", "job_id")
                        .to("job", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_delivery_attempt_job")
                .table("delivery_attempt")
                .col("job_id")
                .col("id")
                .to_owned(),
        )
        .await?;
        // A tenant's latest failures: the health of its PBX endpoint.
        m.create_index(
            Index::create()
                .name("ix_delivery_attempt_tenant")
                .table("delivery_attempt")
                .col("tenant_id")
                .col("id")
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("event").add_column(uuid_null("message_id")).to_owned()).await?;
        m.create_index(Index::create().name("ix_event_message").table("event").col("message_id").to_owned()).await?;
        m.create_index(Index::create().name("ix_job_message").table("job").col("message_id").to_owned()).await?;
        // The dead deliveries of a tenant, for the screen that plays them again: few rows.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS ix_job_dead ON job (tenant_id, kind, updated_at) WHERE state = 'dead'",
            )
            .await?;
        link_events_to_messages(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP INDEX IF EXISTS ix_job_dead").await?;
        m.drop_index(Index::drop().name("ix_job_message").table("job").to_owned()).await?;
        m.drop_index(Index::drop().name("ix_event_message").table("event").to_owned()).await?;
        m.alter_table(Table::alter().table("event").drop_column("message_id").to_owned()).await?;
        m.alter_table(Table::alter().table("job").drop_column("replay_of").to_owned()).await?;
        m.drop_table(Table::drop().table("delivery_attempt").to_owned()).await?;
        m.alter_table(Table::alter().table("policy").drop_column("holidays").to_owned()).await
    }
}

/// Fills `event.message_id` of the events written before this migration, from their payloads:
/// one statement on PostgreSQL; on SQLite (whose uuids are stored as blobs, which its JSON
/// functions cannot make) in batches read and written here.
async fn link_events_to_messages(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    const TYPES: &str = "event_type IN ('message.received', 'message.status')";
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!(
            "UPDATE event SET message_id = (payload->'data'->>'message_id')::uuid WHERE {TYPES} AND message_id IS NULL"
        ))
        .await?;
        return Ok(());
    }
    let mut after: i64 = 0;
    loop {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("SELECT id, payload FROM event WHERE id > ? AND {TYPES} ORDER BY id LIMIT 500"),
                [after.into()],
            ))
            .await?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.try_get("", "id")?;
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let payload: Json = row.try_get("", "payload")?;
            let message =
                payload.pointer("/data/message_id").and_then(Json::as_str).and_then(|s| Uuid::parse_str(s).ok());
            if let Some(message) = message {
                db.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "UPDATE event SET message_id = ? WHERE id = ?",
                    [message.into(), id.into()],
                ))
                .await?;
            }
        }
    }
}
