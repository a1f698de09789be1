//! Telling the other instances on one PostgreSQL what this one wrote, and hearing what they wrote:
//! new work (their workers claim it at once, not at their next poll), a tenant's configuration
//! (their routing caches empty within a second, their streams check their callers again) and
//! numbered events (their streams read them). One listener per process, on a connection of its
//! own, feeds its workers, cache and streams.
//!
//! Notes are coalesced: whatever is raised while a note is on its way goes in the next one, and
//! notes leave at most every [`COALESCE`]. They are hints: a note sent while the listener was away
//! is lost, so after any reconnection this instance catches up as if it had heard everything (the
//! cache emptied, every worker and stream woken to query). The listener is checked by a ping it
//! must hear back within [`PING_WAIT`]; one that stays silent is rebuilt. The fallback polls (each
//! worker's, the streams' and the routing cache's time to live) remain for whatever slips through.
//! SQLite serves one process, which tells itself: nothing here runs.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_store::signals::{Heard, Listener, MAX_NOTE};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::Engine;

/// The least time between two notes from one instance.
const COALESCE: Duration = Duration::from_millis(20);

/// How often the listener pings itself.
const PING_EVERY: Duration = Duration::from_secs(5);

/// How long a ping may take to come back before the listener is rebuilt.
const PING_WAIT: Duration = Duration::from_secs(5);

/// The most tenants named in one note; beyond them, the note wakes every stream.
const MAX_TENANTS: usize = 100;

/// Work a note may announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// Texts to send.
    Sends,
    /// Deliveries to the PBX.
    Deliveries,
    /// Media to fetch.
    Media,
    /// Texts to send to phones (SIP).
    Phones,
}

/// A note between instances, as JSON on the channel.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Note {
    /// The instance that sent it (which ignores its own notes, pings aside).
    from: Uuid,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    work: BTreeSet<Work>,
    /// Tenants whose streams have events to read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<Uuid>,
    /// Every stream has events to read (too many tenants to name).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    every_stream: bool,
    /// Some tenant's configuration changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    config: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ping: Option<u64>,
}

#[derive(Debug, Default)]
struct Pending {
    work: BTreeSet<Work>,
    events: HashSet<Uuid>,
    config: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.work.is_empty() && self.events.is_empty() && !self.config
    }

    fn into_note(self, from: Uuid) -> Note {
        let every_stream = self.events.len() > MAX_TENANTS;
        let events = if every_stream { Vec::new() } else { self.events.into_iter().collect() };
        Note { from, work: self.work, events, every_stream, config: self.config, ping: None }
    }
}

/// What this instance has to tell the others, gathered until the next note leaves.
#[derive(Debug)]
pub(crate) struct Signals {
    /// False on SQLite: nobody to tell.
    shared: bool,
    instance: Uuid,
    pending: std::sync::Mutex<Pending>,
    ready: Notify,
}

impl Signals {
    pub(crate) fn new(shared: bool) -> Self {
        Self { shared, instance: Uuid::new_v4(), pending: std::sync::Mutex::default(), ready: Notify::new() }
    }

    fn raise(&self, f: impl FnOnce(&mut Pending)) {
        if !self.shared {
            return;
        }
        f(&mut self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        self.ready.notify_one();
    }

    pub(crate) fn work(&self, work: Work) {
        self.raise(|p| {
            p.work.insert(work);
        });
    }

    pub(crate) fn events(&self, tenant: Uuid) {
        self.raise(|p| {
            p.events.insert(tenant);
        });
    }

    pub(crate) fn config(&self) {
        self.raise(|p| p.config = true);
    }

    fn take(&self) -> Option<Note> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut *pending).into_note(self.instance))
    }
}

/// Sends and hears notes until `stop` turns true (PostgreSQL; returns at once on SQLite).
pub async fn run_signals(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    if !engine.signals.shared {
        return;
    }
    tokio::join!(send_notes(&engine, stop.clone()), hear_notes(&engine, stop));
}

async fn send(engine: &Engine, note: &Note) -> bool {
    let payload = match serde_json::to_string(note) {
        Ok(p) if p.len() < MAX_NOTE => p,
        // Cannot happen (tenants are capped); the fallback polls find what it said.
        _ => return false,
    };
    match engine.store.notify(&payload).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not tell the other instances; they find it when they poll");
            false
        }
    }
}

async fn send_notes(engine: &Engine, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = engine.signals.ready.notified() => {}
            _ = stop.changed() => {}
        }
        let stopping = *stop.borrow();
        if let Some(note) = engine.signals.take() {
            send(engine, &note).await;
        }
        if stopping {
            return;
        }
        tokio::time::sleep(COALESCE).await;
    }
}

/// Acts on another instance's note.
fn apply(engine: &Engine, note: Note) {
    for work in note.work {
        engine.notify_here(work);
    }
    if note.config {
        engine.cache.invalidate();
        engine.access_changed_here();
    }
    if note.every_stream {
        engine.wake_every_stream();
    }
    for tenant in note.events {
        engine.wake_streams(tenant);
    }
}

/// After a reconnection (notes may have been lost): acts as if every note had been heard.
fn catch_up(engine: &Engine) {
    engine.cache.invalidate();
    engine.access_changed_here();
    for work in [Work::Sends, Work::Deliveries, Work::Media, Work::Phones] {
        engine.notify_here(work);
    }
    engine.unnumbered.notify_one();
    engine.wake_every_stream();
}

async fn hear_notes(engine: &Engine, mut stop: watch::Receiver<bool>) {
    let me = engine.signals.instance;
    let mut listener: Option<Listener> = None;
    let mut pings: u64 = 0;
    // The ping sent and not yet heard back, and when it was sent.
    let mut awaited: Option<(u64, tokio::time::Instant)> = None;
    let mut ticks = tokio::time::interval(PING_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            return;
        }
        let Some(heard) = listener.as_mut() else {
            match engine.store.listen().await {
                // SQLite: nobody else to hear.
                Ok(None) => return,
                Ok(made) => {
                    listener = made;
                    awaited = None;
                    catch_up(engine);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not listen for other instances' notes; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            continue;
        };
        tokio::select! {
            h = heard.heard.recv() => match h {
                Some(Heard::Note(payload)) => match serde_json::from_str::<Note>(&payload) {
                    Ok(note) if note.from == me => {
                        if note.ping.is_some() && awaited.is_some_and(|(n, _)| Some(n) == note.ping) {
                            awaited = None;
                        }
                    }
                    Ok(note) => apply(engine, note),
                    Err(e) => tracing::warn!(error = %e, "a note on the channel was not understood"),
                },
                Some(Heard::Lost) => {
                    tracing::warn!("lost the connection that hears other instances; catching up");
                    awaited = None;
                    catch_up(engine);
                }
                None => listener = None,
            },
            _ = ticks.tick() => {
                if let Some((_, sent)) = awaited {
                    if sent.elapsed() >= PING_WAIT {
                        tracing::warn!("the listener did not hear its own ping; making it again");
                        listener = None;
                        awaited = None;
                    }
                    continue;
                }
                pings += 1;
                if send(engine, &Note { from: me, ping: Some(pings), ..Note::default() }).await {
                    awaited = Some((pings, tokio::time::Instant::now()));
                }
            }
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_what_changed_and_keeps_small() {
        let from = Uuid::nil();
        let mut p = Pending::default();
        p.work.insert(Work::Sends);
        p.events.insert(Uuid::from_u128(7));
        p.config = true;
        let note = p.into_note(from);
        let json = serde_json::to_string(&note).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"from":"00000000-0000-0000-0000-000000000000","work":["sends"],"events":["00000000-0000-0000-0000-000000000007"],"config":true}"#
        );
        assert_eq!(serde_json::from_str::<Note>(&json).ok(), Some(note));

        // Past MAX_TENANTS tenants, one flag wakes every stream and the note stays small.
        let mut many = Pending::default();
        many.events.extend((0..5_000u128).map(Uuid::from_u128));
        let note = many.into_note(from);
        assert!(note.every_stream && note.events.is_empty());
        let biggest = Pending {
            work: [Work::Sends, Work::Deliveries, Work::Media, Work::Phones].into(),
            events: (0..MAX_TENANTS as u128).map(Uuid::from_u128).collect(),
            config: true,
        };
        assert!(serde_json::to_string(&biggest.into_note(from)).unwrap_or_default().len() < MAX_NOTE);
    }
}
