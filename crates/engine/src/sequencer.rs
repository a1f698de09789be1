//! The sequencer (PostgreSQL): numbers committed events in each tenant's stream right after their
//! transactions commit, so that writers never wait on one another for the tenant's counter, and
//! tells live streams. Woken by each commit of unnumbered events; it also looks every second, for
//! events another instance or a process that died left unnumbered. Many commits that come while it
//! numbers are numbered together in its next transaction.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{Engine, LiveEvent};

/// How often the sequencer looks without being woken.
const POLL: Duration = Duration::from_secs(1);

/// Runs the sequencer until `stop` turns true; it numbers once more on the way out.
pub async fn run_sequencer(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    if !engine.store.numbers_after_commit() {
        return; // SQLite numbers events as they are written.
    }
    loop {
        match engine.store.number_events().await {
            Ok(numbered) => {
                let tenants: std::collections::HashSet<uuid::Uuid> = numbered.iter().map(|e| e.tenant_id).collect();
                for tenant in tenants {
                    engine.signals.events(tenant);
                }
                for e in numbered {
                    engine.live(LiveEvent { tenant_id: e.tenant_id, seq: e.seq, payload: e.payload });
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not number events; retrying"),
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = engine.unnumbered.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
    }
}
