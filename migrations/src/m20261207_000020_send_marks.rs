//! On PostgreSQL, a queued send is marked `behind` as it is written, and send claims visit only
//! tenants with a send to look at. Before, every send claim walked all 1,000 tenants of a busy
//! bench, about 17 buffers each, though most tenants' only due send was out with the provider and
//! the rest were queued behind it (docs/BENCHMARKS.md, 2026-12-07 eleventh part).
//!
//! The trigger marks a new send only while it holds its conversation's newest older unfinished
//! send `FOR SHARE SKIP LOCKED`. That send's finish then waits for the insert to commit, and its
//! `release_next` (which clears the mark of the conversation's new head) sees the new send. A
//! predecessor locked at that moment (being finished, claimed or put back) leaves the new send
//! unmarked, which only costs a claim a look at it. Claims still check that a job is its
//! conversation's head; a mark only ever leaves a job out of their walk.
//!
//! `ix_job_send_waiting` holds the sends a claim may find due: pending and not marked. Sends only:
//! the trigger fires for no other kind (`WHEN`), and the index holds no other kind's rows, so
//! inbound texts' deliveries pay for neither. SQLite marks at claim time instead (`outbox::marks`)
//! and gets neither.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const MARK: &str = "CREATE OR REPLACE FUNCTION job_mark_behind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM job p
   WHERE p.id = (SELECT e.id FROM job e
                  WHERE e.ordering_key = NEW.ordering_key AND e.kind = NEW.kind
                    AND e.state IN ('pending', 'running')
                    AND (e.created_at, e.id) < (NEW.created_at, NEW.id)
                  ORDER BY e.ordering_key DESC, e.kind DESC, e.created_at DESC, e.id DESC
                  LIMIT 1)
     AND p.state IN ('pending', 'running')
   FOR SHARE SKIP LOCKED;
  IF FOUND THEN
    NEW.behind := TRUE;
  END IF;
  RETURN NEW;
END $$";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        db.execute_unprepared(MARK).await?;
        db.execute_unprepared(
            "CREATE TRIGGER job_mark_behind BEFORE INSERT ON job FOR EACH ROW \
             WHEN (NEW.kind = 'provider_send') EXECUTE FUNCTION job_mark_behind()",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_job_send_waiting ON job (tenant_id) \
             WHERE kind = 'provider_send' AND state = 'pending' AND behind = FALSE",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        db.execute_unprepared("DROP INDEX IF EXISTS ix_job_send_waiting").await?;
        db.execute_unprepared("DROP TRIGGER IF EXISTS job_mark_behind ON job").await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS job_mark_behind()").await?;
        // Claims on PostgreSQL before this migration neither mark nor clear.
        db.execute_unprepared("UPDATE job SET behind = FALSE WHERE behind = TRUE").await?;
        Ok(())
    }
}
