//! Switchboard's schema as sea-orm-migration migrations, identical in effect on SQLite and PostgreSQL
//! but for two things: `event.seq` may be NULL on PostgreSQL (migration 5), and PostgreSQL marks
//! queued sends `behind` as they are written, with an index of the sends claims look at
//! (migration 20).

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_inbound;
mod m20261122_000003_dispatch;
mod m20261122_000004_job_heads;
mod m20261203_000005_event_sequencer;
mod m20261204_000006_provider_id_per_tenant;
mod m20261204_000007_fair_claim_indexes;
mod m20261205_000008_accounts;
mod m20261205_000009_onboarding;
mod m20261205_000010_tenant_timezone;
mod m20261205_000011_holidays_and_attempts;
mod m20261205_000012_reply_templates;
mod m20261205_000013_shared_inbox;
mod m20261205_000014_instances;
mod m20261205_000015_quiet_hours;
mod m20261206_000016_sip_delivery;
mod m20261206_000017_email_fallback;
mod m20261206_000018_job_behind;
mod m20261206_000019_unused_job_ordering_index;
mod m20261207_000020_send_marks;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_inbound::Migration),
            Box::new(m20261122_000003_dispatch::Migration),
            Box::new(m20261122_000004_job_heads::Migration),
            Box::new(m20261203_000005_event_sequencer::Migration),
            Box::new(m20261204_000006_provider_id_per_tenant::Migration),
            Box::new(m20261204_000007_fair_claim_indexes::Migration),
            Box::new(m20261205_000008_accounts::Migration),
            Box::new(m20261205_000009_onboarding::Migration),
            Box::new(m20261205_000010_tenant_timezone::Migration),
            Box::new(m20261205_000011_holidays_and_attempts::Migration),
            Box::new(m20261205_000012_reply_templates::Migration),
            Box::new(m20261205_000013_shared_inbox::Migration),
            Box::new(m20261205_000014_instances::Migration),
            Box::new(m20261205_000015_quiet_hours::Migration),
            Box::new(m20261206_000016_sip_delivery::Migration),
            Box::new(m20261206_000017_email_fallback::Migration),
            Box::new(m20261206_000018_job_behind::Migration),
            Box::new(m20261206_000019_unused_job_ordering_index::Migration),
            Box::new(m20261207_000020_send_marks::Migration),
        ]
    }
}
