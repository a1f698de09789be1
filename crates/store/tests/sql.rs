//! The store's SQL that matters, on SQLite and on PostgreSQL: how jobs are claimed (one
//! conversation's in order, tenants in turn, each within its cap, a lapsed lease claimed again;
//! sends marked behind their conversation's head as they are written on PostgreSQL, with each
//! side of the race between a send's insert and its head's finish held open),
//! how copies of a text are told apart, that a batch waits for a conversation another writer
//! holds, that a batch larger than one statement is written whole with its events numbered, and
//! that migrations stepped back and forth beside busy tables deadlock nothing on PostgreSQL.
//!
//! PostgreSQL runs when `SB_TEST_POSTGRES_URL` names a server (`.ci/run` sets it), each test on a
//! database of its own; without it those variants are reported as ignored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use libtest_mimic::{Arguments, Trial};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use switchboard_core::JobKind;
use switchboard_core::routing::{RouteDecision, RouteReason};
use switchboard_store::events::Work;
use switchboard_store::inbound::{InboundOutcome, InboundText};
use switchboard_store::messages::MessageFilter;
use switchboard_store::tenants::NewTenant;
use switchboard_store::{PageRequest, Store};
use switchboard_test_macros::suite_test;
use uuid::Uuid;

tokio::task_local! {
    /// The test's database, for the few tests that write to it behind the store's back.
    static DATABASE_URL: String;
}

type TestFn = fn(Store) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A test, registered by `#[suite_test]`.
pub struct Registered {
    pub name: &'static str,
    pub run: TestFn,
}

inventory::collect!(Registered);

macro_rules! register_test {
    ($name:ident, ()) => {
        inventory::submit! { crate::Registered { name: stringify!($name), run: |store| Box::pin($name(store)) } }
    };
}
pub(crate) use register_test;

const NUMBER: &str = "+12025550100";

/// A tenant whose events are delivered to a webhook (so each inbound text gets a delivery job).
async fn tenant(store: &Store, slug: &str) -> Uuid {
    let created = store
        .create_tenant(NewTenant {
            slug: slug.into(),
            name: slug.into(),
            webhook_url: Some(format!("https://pbx.example.com/{slug}")),
            timezone: None,
        })
        .await
        .unwrap();
    created.tenant.id
}

fn text(tenant: Uuid, id: &str, from: &str) -> InboundText {
    InboundText {
        tenant_id: tenant,
        provider_message_id: id.to_owned(),
        number: NUMBER.into(),
        remote: from.to_owned(),
        remote_reachable: true,
        body: Some(format!("text {id}")),
        media: vec![],
        media_dropped: 0,
        catch_all_company_id: None,
        media_base_url: "https://sms.example.net/api/v1/media".into(),
    }
}

fn to_101(_: Option<DateTime<Utc>>) -> RouteDecision {
    RouteDecision {
        destinations: vec!["101".into()],
        reason: RouteReason::Default,
        keyword: None,
        opt_out: None,
        replies: vec![],
    }
}

/// Records a text on its own and returns the id of its event (whose delivery is the job).
async fn receive(store: &Store, tenant: Uuid, id: &str, from: &str) -> i64 {
    match store.record_inbound(text(tenant, id, from), to_101).await.unwrap() {
        InboundOutcome::Stored { event, .. } => event.id,
        other => panic!("{id} not stored: {other:?}"),
    }
}

/// Claims deliveries and returns the events they carry, in claim order, with their job ids.
async fn claim(store: &Store, limit: u32, per_tenant: u32, lease: chrono::Duration) -> Vec<(i64, Uuid)> {
    let jobs = store.claim_jobs(JobKind::WebhookDelivery, limit, per_tenant, lease).await.unwrap();
    jobs.iter()
        .map(|j| match j.work {
            Work::Webhook { event_id } => (event_id, j.id),
            other => panic!("a delivery claim returned {other:?}"),
        })
        .collect()
}

fn events(claimed: &[(i64, Uuid)]) -> Vec<i64> {
    let mut e: Vec<i64> = claimed.iter().map(|c| c.0).collect();
    e.sort_unstable();
    e
}

/// The test's database, on a connection of its own beside the store's.
async fn raw() -> sea_orm::DatabaseConnection {
    Database::connect(DATABASE_URL.with(String::clone)).await.unwrap()
}

/// Queues a send for conversation `key` behind the store's back: claims and settles need only the
/// job (its text is never read here). The row is the one `queue_outbound` writes.
async fn send_job(raw: &impl ConnectionTrait, tenant: Uuid, key: &str) -> Uuid {
    use chrono::SubsecRound;
    let id = Uuid::now_v7();
    let at = Utc::now().trunc_subsecs(6);
    let values: Vec<sea_orm::Value> = vec![id.into(), tenant.into(), Uuid::new_v4().into(), key.into(), at.into()];
    raw.execute_raw(sea_orm::Statement::from_sql_and_values(
        raw.get_database_backend(),
        "INSERT INTO job (id, tenant_id, kind, message_id, ordering_key, state, attempts, next_attempt_at, \
           created_at, updated_at, behind) VALUES ($1, $2, 'provider_send', $3, $4, 'pending', 0, $5, $5, $5, FALSE)",
        values,
    ))
    .await
    .unwrap();
    id
}

/// Claims sends and returns their job ids, sorted.
async fn claim_sends(store: &Store, limit: u32, per_tenant: u32, lease: chrono::Duration) -> Vec<Uuid> {
    let jobs = store.claim_jobs(JobKind::ProviderSend, limit, per_tenant, lease).await.unwrap();
    let mut ids: Vec<Uuid> = jobs.iter().map(|j| j.id).collect();
    ids.sort_unstable();
    ids
}

fn sorted<const N: usize>(mut ids: [Uuid; N]) -> Vec<Uuid> {
    ids.sort_unstable();
    ids.to_vec()
}

/// How many jobs are marked `behind`.
async fn marked(raw: &impl ConnectionTrait) -> i64 {
    let rows = raw
        .query_all_raw(sea_orm::Statement::from_string(
            raw.get_database_backend(),
            "SELECT COUNT(*) AS n FROM job WHERE behind = TRUE",
        ))
        .await
        .unwrap();
    rows[0].try_get("", "n").unwrap()
}

/// A tenant's first send, claimed for `lease`: the tenant, a connection of the test's own, and
/// the send's job.
async fn one_send_claimed(store: &Store, lease: chrono::Duration) -> (Uuid, sea_orm::DatabaseConnection, Uuid) {
    let a = tenant(store, "acme").await;
    let raw = raw().await;
    let head = send_job(&raw, a, "a-1").await;
    assert_eq!(claim_sends(store, 10, 10, lease).await, vec![head]);
    (a, raw, head)
}

/// One conversation's deliveries go one at a time, oldest first; tenants take turns, each within
/// its cap counted with the jobs it already has running; a finished job lets the next one go.
#[suite_test]
async fn claims_keep_conversation_order_and_take_tenants_in_turn(store: Store) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "bolt").await;
    let a1 = receive(&store, a, "a1", "+12065550101").await;
    let a1_second = receive(&store, a, "a1-2", "+12065550101").await;
    let _a1_third = receive(&store, a, "a1-3", "+12065550101").await;
    let mut a_others = Vec::new();
    for i in 2..7 {
        a_others.push(receive(&store, a, &format!("a{i}"), &format!("+1206555010{i}")).await);
    }
    let b1 = receive(&store, b, "b1", "+12065550201").await;

    let lease = chrono::Duration::seconds(60);
    let first = claim(&store, 4, 2, lease).await;
    assert_eq!(events(&first), vec![a1, a_others[0], b1], "A's two oldest heads and B's one; A capped at 2");
    assert!(claim(&store, 4, 2, lease).await.is_empty(), "A is at its cap with running jobs, B has none left");

    let done: Vec<Uuid> = first.iter().filter(|c| c.0 == a1).map(|c| c.1).collect();
    store.complete_jobs(JobKind::WebhookDelivery, &done).await.unwrap();
    let next = claim(&store, 4, 2, lease).await;
    assert_eq!(events(&next), vec![a1_second], "the conversation's next text, which is older than A's other heads");
}

/// Jobs a claim finds queued behind their conversation's running head are marked (on SQLite) and
/// left out of later claims' walk; the head's end, done or dead, makes the next one claimable at
/// once.
#[suite_test]
async fn a_finished_head_lets_the_next_go(store: Store) {
    let a = tenant(&store, "acme").await;
    let from = "+12065550101";
    let mut queued = Vec::new();
    for i in 0..4 {
        queued.push(receive(&store, a, &format!("q{i}"), from).await);
    }
    let other = receive(&store, a, "other", "+12065550102").await;
    let lease = chrono::Duration::seconds(60);
    let first = claim(&store, 10, 10, lease).await;
    assert_eq!(events(&first), vec![queued[0], other], "one head per conversation");
    let raw = raw().await;
    // PostgreSQL marks only sends (`outbox::marked_at_insert`).
    let marks = |n: i64| if store.is_shared() { 0 } else { n };
    assert_eq!(marked(&raw).await, marks(3), "the three behind the running head");
    assert!(claim(&store, 10, 10, lease).await.is_empty(), "nothing else is a head");

    // The head dies: the next one goes at once.
    let dead = switchboard_store::outbox::ClaimedJob {
        id: first.iter().find(|c| c.0 == queued[0]).unwrap().1,
        tenant_id: a,
        work: Work::Webhook { event_id: queued[0] },
        attempts: 1,
        message_id: None,
    };
    store.kill_job(&dead, "refused", Some(410)).await.unwrap();
    let second = claim(&store, 10, 10, lease).await;
    assert_eq!(events(&second), vec![queued[1]], "the next of the conversation, once its head died");
    assert_eq!(marked(&raw).await, marks(2));

    // It is done: the next one goes at once.
    store.complete_jobs(JobKind::WebhookDelivery, &[second[0].1]).await.unwrap();
    assert_eq!(marked(&raw).await, marks(1));
    assert_eq!(events(&claim(&store, 10, 10, lease).await), vec![queued[2]]);
    raw.close().await.unwrap();
}

/// A claim made once a settle says it is queued (`complete_jobs_then`) finds the settle done: the
/// next job of the conversation, and the tenant's room under its cap. On SQLite both ride in the
/// inbound lane, the claim in the settle's transaction or a later one; elsewhere the settle has
/// committed. The worker frees its places and claims at that moment.
#[suite_test]
async fn a_claim_after_a_queued_settle_sees_it(store: Store) {
    let a = tenant(&store, "acme").await;
    let from = "+12065550101";
    let mut queued = Vec::new();
    for i in 0..3 {
        queued.push(receive(&store, a, &format!("q{i}"), from).await);
    }
    let other = receive(&store, a, "other", "+12065550102").await;
    let lease = chrono::Duration::seconds(60);
    // One running per tenant: the second conversation's head waits for the room.
    let first = claim(&store, 10, 1, lease).await;
    assert_eq!(events(&first), vec![queued[0]]);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let done = [first[0].1];
    let settle = store.complete_jobs_then(JobKind::WebhookDelivery, &done, move || {
        let _ = tx.send(());
    });
    let next = async {
        rx.await.unwrap();
        claim(&store, 10, 1, lease).await
    };
    let (settled, next) = tokio::join!(settle, next);
    settled.unwrap();
    // Claimed before the settle, the tenant would be at its cap and the claim empty.
    assert_eq!(events(&next), vec![queued[1]], "the next of the conversation, in the room the settle made");
    store.complete_jobs(JobKind::WebhookDelivery, &[next[0].1]).await.unwrap();
    assert_eq!(events(&claim(&store, 10, 1, lease).await), vec![queued[2]], "then the next, older than {other}");
}

/// A job whose lease ran out (its worker died) is claimed again, with its attempt counted.
#[suite_test]
async fn a_lapsed_lease_is_claimed_again(store: Store) {
    let a = tenant(&store, "acme").await;
    let e = receive(&store, a, "a1", "+12065550101").await;
    let short = chrono::Duration::seconds(1);
    let first = store.claim_jobs(JobKind::WebhookDelivery, 10, 10, short).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    assert!(store.claim_jobs(JobKind::WebhookDelivery, 10, 10, short).await.unwrap().is_empty(), "leased");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let again = store.claim_jobs(JobKind::WebhookDelivery, 10, 10, short).await.unwrap();
    assert_eq!(again.len(), 1, "claimed again once its lease ended");
    assert_eq!((again[0].id, again[0].work, again[0].attempts), (first[0].id, Work::Webhook { event_id: e }, 2));
    assert!(
        store.claim_jobs(JobKind::MediaFetch, 10, 10, short).await.unwrap().is_empty(),
        "a claim takes its own kind only"
    );
}

/// Sends go as deliveries do: one conversation's one at a time and in order, tenants in turn,
/// each within its cap, a dead or finished send letting the next go. On PostgreSQL each send
/// queued behind an unfinished one is marked as it is written (migration 20), and the claim
/// visits only tenants with a send waiting; on SQLite claims mark them.
#[suite_test]
async fn sends_keep_conversation_order_and_take_tenants_in_turn(store: Store) {
    let (a, b) = (tenant(&store, "acme").await, tenant(&store, "bolt").await);
    let raw = raw().await;
    let k1: Vec<Uuid> =
        [send_job(&raw, a, "a-1").await, send_job(&raw, a, "a-1").await, send_job(&raw, a, "a-1").await].into();
    let k2 = send_job(&raw, a, "a-2").await;
    let k3 = send_job(&raw, a, "a-3").await;
    let b1 = send_job(&raw, b, "b-1").await;
    // PostgreSQL marked the two behind `k1[0]` as they were written; SQLite marks at the claim.
    assert_eq!(marked(&raw).await, if store.is_shared() { 2 } else { 0 });
    let lease = chrono::Duration::seconds(60);
    // Two running at most for a tenant: `acme`'s oldest two heads, and `bolt`'s in its turn.
    assert_eq!(claim_sends(&store, 10, 2, lease).await, sorted([k1[0], k2, b1]));
    assert_eq!(marked(&raw).await, 2, "the two behind the running head");
    assert!(claim_sends(&store, 10, 2, lease).await.is_empty(), "acme at its cap, bolt's one running");

    // The head dies: the next of its conversation goes, before `k3`, in the room it left.
    let dead = switchboard_store::outbox::ClaimedJob {
        id: k1[0],
        tenant_id: a,
        work: Work::Send { message_id: Uuid::new_v4() },
        attempts: 1,
        message_id: None,
    };
    store.kill_job(&dead, "refused", Some(400)).await.unwrap();
    assert_eq!(marked(&raw).await, 1);
    assert_eq!(claim_sends(&store, 10, 2, lease).await, vec![k1[1]]);
    // It is done, and so is `k2`: the last of the conversation goes, and `k3` beside it.
    store.complete_jobs(JobKind::ProviderSend, &[k1[1], k2]).await.unwrap();
    assert_eq!(marked(&raw).await, 0);
    assert_eq!(claim_sends(&store, 10, 2, lease).await, sorted([k1[2], k3]));
    assert!(
        store.claim_jobs(JobKind::WebhookDelivery, 10, 10, lease).await.unwrap().is_empty(),
        "a claim takes its own kind only"
    );
    raw.close().await.unwrap();
}

/// A send whose lease ran out (its worker died) is claimed again though nothing of its tenant
/// is waiting: its conversation's next send is marked behind it.
#[suite_test]
async fn a_lapsed_send_is_claimed_again(store: Store) {
    let short = chrono::Duration::seconds(1);
    let (a, raw, first) = one_send_claimed(&store, short).await;
    let next = send_job(&raw, a, "a-1").await;
    assert!(claim_sends(&store, 10, 10, short).await.is_empty(), "leased, and the next behind it");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let again = store.claim_jobs(JobKind::ProviderSend, 10, 10, short).await.unwrap();
    assert_eq!(again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), [(first, 2)]);
    store.complete_jobs(JobKind::ProviderSend, &[first]).await.unwrap();
    assert_eq!(claim_sends(&store, 10, 10, short).await, vec![next]);
    raw.close().await.unwrap();
}

/// A send written while its conversation's head is being finished (on PostgreSQL: the finish
/// not yet committed) is not left marked behind a head that is gone: the next claim takes it.
#[suite_test]
async fn a_send_written_while_its_head_finishes_is_not_stranded(store: Store) {
    let lease = chrono::Duration::seconds(60);
    let (a, raw, head) = one_send_claimed(&store, lease).await;
    let finish = raw.begin().await.unwrap();
    let done = sea_orm::Statement::from_sql_and_values(
        raw.get_database_backend(),
        "UPDATE job SET state = 'done', locked_until = NULL WHERE id = $1",
        vec![head.into()],
    );
    finish.execute_raw(done).await.unwrap();
    // SQLite has one writer: the finish commits before the send can be written.
    let next = if store.is_shared() {
        let other = self::raw().await;
        let next = send_job(&other, a, "a-1").await;
        other.close().await.unwrap();
        finish.commit().await.unwrap();
        next
    } else {
        finish.commit().await.unwrap();
        send_job(&raw, a, "a-1").await
    };
    assert_eq!(claim_sends(&store, 10, 10, lease).await, vec![next], "not stranded behind a finished head");
    raw.close().await.unwrap();
}

/// A head finished while its conversation's next send is being written (on PostgreSQL: the
/// insert not yet committed) lets that send go: the finish waits for the insert, then clears
/// the mark the insert made.
#[suite_test]
async fn a_head_finishing_while_its_next_is_written_lets_it_go(store: Store) {
    let lease = chrono::Duration::seconds(60);
    let (a, raw, head) = one_send_claimed(&store, lease).await;
    let next = if store.is_shared() {
        let write = raw.begin().await.unwrap();
        let next = send_job(&write, a, "a-1").await;
        let heads = [head];
        let finish = store.complete_jobs(JobKind::ProviderSend, &heads);
        tokio::pin!(finish);
        // The finish waits for the insert, which holds the head `FOR SHARE`.
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut finish).await;
        assert!(waited.is_err(), "the finish went ahead of the uncommitted insert: {waited:?}");
        write.commit().await.unwrap();
        finish.await.unwrap();
        next
    } else {
        let next = send_job(&raw, a, "a-1").await;
        store.complete_jobs(JobKind::ProviderSend, &[head]).await.unwrap();
        next
    };
    assert_eq!(marked(&raw).await, 0);
    assert_eq!(claim_sends(&store, 10, 10, lease).await, vec![next], "the next send goes");
    raw.close().await.unwrap();
}

/// Copies of a text are one text, inside a batch and across batches; the same provider id from
/// another tenant is another text.
#[suite_test]
async fn copies_are_told_apart_by_tenant_and_provider_id(store: Store) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "bolt").await;
    let batch = vec![
        (text(a, "mdr2-x", "+12065550101"), to_101),
        (text(a, "mdr2-x", "+12065550101"), to_101),
        (text(b, "mdr2-x", "+12065550101"), to_101),
    ];
    let out = store.record_inbound_batch(batch).await;
    let stored = |i: usize| match &out[i] {
        Ok(InboundOutcome::Stored { message_id, .. }) => *message_id,
        other => panic!("text {i} not stored: {other:?}"),
    };
    let (in_a, in_b) = (stored(0), stored(2));
    assert_ne!(in_a, in_b);
    assert!(matches!(out[1], Ok(InboundOutcome::Duplicate { message_id }) if message_id == in_a), "{:?}", out[1]);
    let later = store.record_inbound(text(b, "mdr2-x", "+12065559999"), to_101).await.unwrap();
    assert!(matches!(later, InboundOutcome::Duplicate { message_id } if message_id == in_b), "{later:?}");
}

/// A batch of more rows than one statement takes is written whole: every text, its event and its
/// delivery job; the events are numbered 1..=n with no gap once the sequencer has run.
#[suite_test]
async fn a_batch_larger_than_a_statement_is_written_whole(store: Store) {
    let a = tenant(&store, "acme").await;
    let n = 450;
    let batch: Vec<_> =
        (0..n).map(|i| (text(a, &format!("mdr2-{i}"), &format!("+1206555{:04}", i % 3)), to_101)).collect();
    let out = store.record_inbound_batch(batch.clone()).await;
    let mut seqs: Vec<i64> = Vec::new();
    for o in &out {
        match o {
            Ok(InboundOutcome::Stored { event, .. }) => seqs.extend(event.seq),
            other => panic!("{other:?}"),
        }
    }
    seqs.extend(store.number_events().await.unwrap().iter().map(|e| e.seq));
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=n as i64).collect::<Vec<_>>(), "every event numbered once, without gaps");
    let again = store.record_inbound_batch(batch).await;
    assert!(again.iter().all(|o| matches!(o, Ok(InboundOutcome::Duplicate { .. }))), "all {n} were stored");
    let heads = claim(&store, 1000, 1000, chrono::Duration::seconds(60)).await;
    assert_eq!(heads.len(), 3, "one delivery job per text, and only each conversation's first is due");
}

/// A batch locks its conversations before it decides its texts: on PostgreSQL, where another
/// instance's batch (or any other writer) may hold a conversation, the batch waits for it and then
/// decides on what that writer committed, so two instances cannot both send one sender the
/// interval's automatic reply. (SQLite's one writer serialises every batch.)
#[suite_test]
async fn a_batch_waits_for_a_conversation_another_writer_holds(store: Store) {
    use std::sync::{Arc, Mutex};
    if !store.is_shared() {
        assert_eq!(store.backend_name(), "sqlite");
        return;
    }
    let a = tenant(&store, "acme").await;
    let from = "+12065550100";
    receive(&store, a, "mdr2-first", from).await;
    let raw = raw().await;
    let holder = raw.begin().await.unwrap();
    // Only a lock at first: a write would hold up even an insert that never locks the row.
    holder
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT id FROM conversation WHERE tenant_id = $1 FOR UPDATE",
            vec![a.into()],
        ))
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<Option<DateTime<Utc>>>>> = Arc::default();
    let decide = {
        let seen = seen.clone();
        move |last: Option<DateTime<Utc>>| {
            seen.lock().unwrap().push(last);
            to_101(last)
        }
    };
    let batch = tokio::spawn({
        let store = store.clone();
        async move { store.record_inbound_batch(vec![(text(a, "mdr2-second", from), decide)]).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!batch.is_finished(), "the batch waits while another writer holds its conversation");
    assert!(seen.lock().unwrap().is_empty(), "nothing decided before the lock is had");
    let replied: DateTime<Utc> = "2026-12-07T09:30:00Z".parse().unwrap();
    holder
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "UPDATE conversation SET last_auto_reply_at = $1 WHERE tenant_id = $2",
            vec![replied.into(), a.into()],
        ))
        .await
        .unwrap();
    holder.commit().await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), batch).await.unwrap().unwrap();
    assert!(matches!(out.as_slice(), [Ok(InboundOutcome::Stored { .. })]), "{out:?}");
    assert_eq!(*seen.lock().unwrap(), vec![Some(replied)], "decided on what the holder committed");
}

/// A batch's events name each text's own tenant, and only a tenant with a webhook gets delivery
/// jobs: the slugs and webhooks come with the conversations' upsert on PostgreSQL and with the
/// events' counters on SQLite, one read for a batch of many tenants.
#[suite_test]
async fn a_batchs_events_name_their_tenants_and_only_webhooks_get_deliveries(store: Store) {
    let a = tenant(&store, "acme").await;
    let quiet = NewTenant { slug: "quiet".into(), name: "quiet".into(), webhook_url: None, timezone: None };
    let quiet = store.create_tenant(quiet).await.unwrap().tenant.id;
    let batch = vec![
        (text(a, "mdr2-a1", "+12065550101"), to_101),
        (text(quiet, "mdr2-q1", "+12065550102"), to_101),
        (text(a, "mdr2-a2", "+12065550103"), to_101),
    ];
    let mut slugs = Vec::new();
    let mut delivered = Vec::new();
    for outcome in store.record_inbound_batch(batch).await {
        match outcome {
            Ok(InboundOutcome::Stored { event, .. }) => {
                slugs.push(event.payload["tenant"].as_str().unwrap().to_owned());
                if event.tenant_id == a {
                    delivered.push(event.id);
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(slugs, ["acme", "quiet", "acme"]);
    let claimed = claim(&store, 100, 100, chrono::Duration::seconds(60)).await;
    delivered.sort_unstable();
    assert_eq!(events(&claimed), delivered, "deliveries for the tenant with a webhook only");
}

/// A batch's events take each tenant's next numbers and ids no event had: on SQLite the batch reads
/// the counters and the last id with its other reads and gives its events their ids itself. Ids
/// never go back, not even once every event is pruned, and each delivery job carries its own
/// text's event.
#[suite_test]
async fn a_batchs_events_take_each_tenants_next_numbers_and_fresh_ids(store: Store) {
    let (a, b) = (tenant(&store, "acme").await, tenant(&store, "bolt").await);
    let raw = raw().await;
    let rows = |sql: &'static str| {
        let raw = raw.clone();
        async move {
            let rows = raw.query_all_raw(sea_orm::Statement::from_string(raw.get_database_backend(), sql)).await;
            rows.unwrap()
        }
    };
    // (tenant, seq) of every event, in id order, and the last id.
    let numbered = || async {
        store.number_events().await.unwrap();
        let all = rows("SELECT id, tenant_id, seq FROM event ORDER BY id").await;
        let last: i64 = all.last().map_or(0, |r| r.try_get("", "id").unwrap());
        let seqs: Vec<(Uuid, i64)> =
            all.iter().map(|r| (r.try_get("", "tenant_id").unwrap(), r.try_get("", "seq").unwrap())).collect();
        (seqs, last)
    };
    let batch = |ids: [&str; 3]| {
        vec![
            (text(a, ids[0], "+12065550001"), to_101),
            (text(b, ids[1], "+12065550002"), to_101),
            (text(a, ids[2], "+12065550003"), to_101),
        ]
    };
    let first = store.record_inbound_batch(batch(["mdr2-a1", "mdr2-b1", "mdr2-a2"])).await;
    assert!(first.iter().all(|o| matches!(o, Ok(InboundOutcome::Stored { .. }))), "{first:?}");
    // A text on its own between two batches.
    receive(&store, b, "mdr2-b2", "+12065550004").await;
    let (seqs, last) = numbered().await;
    assert_eq!(seqs, vec![(a, 1), (b, 1), (a, 2), (b, 2)]);

    // Every event and job pruned: the next batch's ids still come after the last.
    rows("DELETE FROM job").await;
    rows("DELETE FROM event").await;
    let second = store.record_inbound_batch(batch(["mdr2-a3", "mdr2-b3", "mdr2-a4"])).await;
    let ids: Vec<i64> = second
        .iter()
        .map(|o| match o {
            Ok(InboundOutcome::Stored { event, .. }) => event.id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(ids.iter().all(|id| *id > last), "ids {ids:?} after {last}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in the batch's order: {ids:?}");
    let (seqs, _) = numbered().await;
    assert_eq!(seqs, vec![(a, 3), (b, 3), (a, 4)], "each tenant's numbers go on from its own");
    let matched = rows(
        "SELECT COUNT(*) AS n FROM job j JOIN event e ON e.id = j.event_id \
         WHERE j.kind = 'webhook_delivery' AND j.message_id = e.message_id",
    )
    .await;
    assert_eq!(matched[0].try_get::<i64>("", "n").unwrap(), 3, "each delivery carries its own text's event");
}

/// Events written before `event.message_id` existed are linked to their texts when it is added,
/// so older texts' timelines show their events too.
#[suite_test]
async fn the_migration_links_older_events_to_their_texts(store: Store) {
    let a = tenant(&store, "acme").await;
    for i in 0..3 {
        receive(&store, a, &format!("mdr2-old-{i}"), "+12065550123").await;
    }
    let page = store.list_messages(a, MessageFilter::default(), PageRequest::default()).await.unwrap();
    let texts: Vec<Uuid> = page.items.iter().map(|m| m.id).collect();
    assert_eq!(texts.len(), 3);
    let events_of = |store: Store, texts: Vec<Uuid>| async move {
        let mut out = Vec::new();
        for t in texts {
            let timeline = store.message_timeline(a, t).await.unwrap();
            let types: Vec<String> = timeline.events.into_iter().map(|e| e.event_type).collect();
            out.push((t, types, timeline.jobs.len()));
        }
        out
    };
    let before = events_of(store.clone(), texts.clone()).await;
    assert!(before.iter().all(|(_, e, jobs)| e == &["message.received"] && *jobs == 1), "{before:?}");
    // Back to the schema before it (no column), and forward again: the column is filled from the
    // payloads, whichever way the backend stores a uuid.
    store.remigrate_from("m20261205_000011_holidays_and_attempts").await.unwrap();
    assert_eq!(events_of(store.clone(), texts).await, before);
}

/// Flowroute's pace per key, shared by every instance on PostgreSQL: slots come `gap` apart and
/// only within the horizon, and callers at the same moment never get the same slot. SQLite serves
/// one process, which paces in memory.
#[suite_test]
async fn a_keys_pace_is_one_for_every_caller(store: Store) {
    if !store.is_shared() {
        assert_eq!(store.backend_name(), "sqlite");
        return;
    }
    let gap = Duration::from_millis(210);
    // A fresh key: five slots within a second (0, 210, … 840 ms), the sixth would start at 1,050.
    let first = store.take_pace("k1", 100, gap, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.taken, 5);
    assert!(first.first < Duration::from_millis(5), "{first:?}");
    assert!(first.next.abs_diff(gap * 5) < Duration::from_millis(5), "{first:?}");
    // The key's slots are all taken for the next second: none now, and when the next comes.
    let none = store.take_pace("k1", 1, gap, Duration::from_millis(500)).await.unwrap();
    assert_eq!(none.taken, 0);
    assert!(none.next > Duration::from_millis(500), "{none:?}");
    // Ten callers at once, three slots each: thirty slots end to end, none shared, so the key's
    // next free slot is 30 gaps after the first was taken (each answer counts from its own now).
    let started = std::time::Instant::now();
    let takes = (0..10).map(|_| store.take_pace("k2", 3, gap, Duration::from_secs(60)));
    let all = futures_util::future::join_all(takes).await;
    let taken: u32 = all.iter().map(|p| p.as_ref().unwrap().taken).sum();
    assert_eq!(taken, 30);
    let then = store.take_pace("k2", 1, gap, Duration::from_secs(60)).await.unwrap();
    let end = started.elapsed() + then.first;
    assert!(end >= gap * 30 - Duration::from_millis(20) && end < gap * 30 + Duration::from_secs(1), "{end:?}");
    // A 429 pushes the key's next slot a window away for everyone.
    store.slow_pace("k3", Duration::from_secs(2)).await.unwrap(); // no row yet: nothing to slow
    store.take_pace("k3", 1, gap, Duration::from_secs(1)).await.unwrap();
    store.slow_pace("k3", Duration::from_secs(2)).await.unwrap();
    let later = store.take_pace("k3", 1, gap, Duration::from_secs(5)).await.unwrap();
    assert!(later.first > Duration::from_millis(1500), "{later:?}");

    // Many keys in one call (more than one statement's worth), each its own pace, the new ones'
    // rows written on the way.
    let many: Vec<(String, u32)> = (0..250).map(|i| (format!("m{i}"), 7)).collect();
    let taken = store.take_paces(&many, gap, Duration::from_secs(1)).await.unwrap();
    assert_eq!(taken.len(), 250);
    assert!(taken.values().all(|p| p.taken == 5 && p.first < Duration::from_millis(50)), "{taken:?}");
    let again = store.take_paces(&many[..3], gap, Duration::from_millis(500)).await.unwrap();
    assert!(again.values().all(|p| p.taken == 0 && p.next > Duration::from_millis(500)), "{again:?}");
    // Callers taking the same keys in opposite orders at once queue on the rows (locked in key
    // order), neither fails, and every slot is counted once.
    let keys: Vec<(String, u32)> = (0..200).map(|i| (format!("o{i:03}"), 1)).collect();
    let reversed: Vec<(String, u32)> = keys.iter().rev().cloned().collect();
    let calls =
        (0..10).map(|i| store.take_paces(if i % 2 == 0 { &keys } else { &reversed }, gap, Duration::from_secs(60)));
    let all = futures_util::future::join_all(calls).await;
    let mut per_key: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for paced in all {
        for (key, p) in paced.unwrap() {
            *per_key.entry(key).or_default() += p.taken;
        }
    }
    assert_eq!(per_key.len(), 200);
    assert!(per_key.values().all(|n| *n == 10), "{per_key:?}");
}

/// Housekeeping's statements: one lease holder at a time (a renewal keeps the fencing number, a new
/// holder's is higher, and the old holder's batches then change nothing); finished jobs and old
/// events go in batches while unfinished jobs and the events they deliver stay; jobs a stopping
/// process hands back are due at once without the attempt counted; jobs whose lease lapsed long
/// ago are put back.
#[suite_test]
async fn housekeeping_prunes_in_fenced_batches_and_puts_jobs_back(store: Store) {
    use switchboard_store::housekeeping::Prunable;
    let a = tenant(&store, "acme").await;
    for i in 0..5 {
        receive(&store, a, &format!("hk-{i}"), &format!("+1206555010{i}")).await;
    }
    store.number_events().await.unwrap();
    let counts = |store: Store| async move {
        let mut c = store.job_counts("webhook_delivery").await.unwrap();
        c.sort();
        c
    };
    let (one, other) = (Uuid::new_v4(), Uuid::new_v4());
    let minute = chrono::Duration::seconds(60);
    let lease = store.take_lease("housekeeping", one, minute).await.unwrap().unwrap();
    assert!(store.take_lease("housekeeping", other, minute).await.unwrap().is_none(), "held by another");
    assert_eq!(store.take_lease("housekeeping", one, minute).await.unwrap().unwrap(), lease, "a renewal");

    // Three deliveries done, two still running.
    let claimed = claim(&store, 10, 10, minute).await;
    assert_eq!(claimed.len(), 5);
    let done: Vec<Uuid> = claimed[..3].iter().map(|c| c.1).collect();
    store.complete_jobs(JobKind::WebhookDelivery, &done).await.unwrap();
    let later = Utc::now() + chrono::Duration::hours(1);
    let before = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.prune_batch(Prunable::FinishedJobs, before, 2, &lease).await.unwrap(), 0, "none old enough");
    let pruned: Vec<u64> = [
        store.prune_batch(Prunable::FinishedJobs, later, 2, &lease).await.unwrap(),
        store.prune_batch(Prunable::FinishedJobs, later, 2, &lease).await.unwrap(),
        store.prune_batch(Prunable::FinishedJobs, later, 2, &lease).await.unwrap(),
    ]
    .into();
    assert_eq!(pruned, [2, 1, 0], "in batches of two");
    assert_eq!(counts(store.clone()).await, [("running".to_owned(), 2)]);
    // The events of the two running deliveries stay.
    assert_eq!(store.prune_batch(Prunable::Events, later, 100, &lease).await.unwrap(), 3);
    assert_eq!(store.events_after(a, 0, 100).await.unwrap().len(), 2);
    assert_eq!(store.prune_batch(Prunable::Events, later, 100, &lease).await.unwrap(), 0);

    // A stopping process hands its two back: due now, the claim not counted.
    let held: Vec<Uuid> = claimed[3..].iter().map(|c| c.1).collect();
    assert_eq!(store.hand_back_jobs(&held).await.unwrap(), 2);
    assert_eq!(counts(store.clone()).await, [("pending".to_owned(), 2)]);
    let again = store.claim_jobs(JobKind::WebhookDelivery, 10, 10, chrono::Duration::seconds(-30)).await.unwrap();
    assert_eq!(again.iter().map(|j| j.attempts).collect::<Vec<_>>(), [1, 1], "the handed-back claim did not count");
    assert_eq!(store.hand_back_jobs(&held).await.unwrap(), 0, "only jobs still under their lease are handed back");

    // Their lease lapsed 30 s ago (the claimer died): the rescuer puts them back, but only for the
    // lease's holder. The lease lapses and another instance takes it: a higher fence, and the old
    // holder's batches do nothing.
    let lapsed = store.take_lease("housekeeping", one, chrono::Duration::seconds(-1)).await.unwrap().unwrap();
    let taken = store.take_lease("housekeeping", other, minute).await.unwrap().unwrap();
    assert_eq!(taken.fence, lapsed.fence + 1);
    let grace = chrono::Duration::seconds(10);
    assert_eq!(store.rescue_jobs(grace, 10, &lapsed).await.unwrap(), 0, "fenced off");
    assert_eq!(store.rescue_jobs(grace, 10, &taken).await.unwrap(), 2);
    assert_eq!(counts(store.clone()).await, [("pending".to_owned(), 2)]);
    assert_eq!(store.prune_batch(Prunable::Events, later, 100, &lapsed).await.unwrap(), 0, "fenced off");
    store.release_lease(&taken).await.unwrap();
    assert!(store.take_lease("housekeeping", one, minute).await.unwrap().is_some(), "given up, taken at once");
}

/// Migrations run down and up beside writers that each read a table and then write it in one
/// transaction, as claims and the API do, without deadlocking them. A migration step that holds a
/// weaker lock on a table and then asks for a stronger one (an index built, or a foreign key to the
/// table made, before a column added or an index dropped) waits for such a writer while the writer
/// waits for it. An instance that migrates while others run (a rolling upgrade, or a test that
/// steps the schema back under a live app) depends on it. (SQLite's migrations hold its one
/// writer.)
#[suite_test]
async fn migrations_beside_busy_tables_never_deadlock(store: Store) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // The tables that migrations from the 11th on change and that the app writes.
    const TABLES: [&str; 9] =
        ["job", "event", "message", "conversation", "conversation_unread", "media", "tenant", "extension", "policy"];
    if !store.is_shared() {
        assert_eq!(store.backend_name(), "sqlite");
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for table in TABLES {
        let raw = raw().await;
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let backend = raw.get_database_backend();
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let txn = raw.begin().await.unwrap();
                let read = format!("SELECT 1 FROM {table} LIMIT 1");
                txn.query_all_raw(sea_orm::Statement::from_string(backend, read)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                // The lock an UPDATE or INSERT takes.
                let write = format!("LOCK TABLE {table} IN ROW EXCLUSIVE MODE");
                txn.execute_raw(sea_orm::Statement::from_string(backend, write)).await.unwrap();
                txn.commit().await.unwrap();
                rounds += 1;
            }
            rounds
        }));
    }
    // Every step back to the earliest one a test steps back to, and forward again.
    for _ in 0..3 {
        store.remigrate_from("m20261205_000011_holidays_and_attempts").await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for (table, writer) in TABLES.iter().zip(writers) {
        assert!(writer.await.unwrap() > 0, "{table}: the writer wrote beside the migrations");
    }
}

/// Instances that start together on a fresh PostgreSQL database all migrate it without error:
/// they take turns, and the later ones find nothing pending. (SQLite serves one process.)
#[suite_test]
async fn instances_starting_together_migrate_once(store: Store) {
    if !store.is_shared() {
        assert_eq!(store.backend_name(), "sqlite");
        return;
    }
    let admin = std::env::var("SB_TEST_POSTGRES_URL").unwrap();
    let (url, _) = database("postgres", Some(&admin)).await;
    let key = [7u8; 32];
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Store::connect_with(&url, &key, 2).await.unwrap());
    }
    let migrated = futures_util::future::join_all(stores.iter().map(Store::migrate)).await;
    for (i, m) in migrated.iter().enumerate() {
        assert!(m.is_ok(), "instance {i}: {m:?}");
    }
    assert!(stores[0].ping().await);
    for s in stores {
        s.close().await;
    }
    let name = url.rsplit('/').next().unwrap();
    let db = Database::connect(admin.as_str()).await.unwrap();
    db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
}

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var("SB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty());
    if postgres.is_none() && std::env::var_os("SB_TEST_REQUIRE_POSTGRES").is_some() {
        eprintln!("SB_TEST_REQUIRE_POSTGRES is set but SB_TEST_POSTGRES_URL is not");
        std::process::exit(2);
    }
    let mut tests: Vec<&Registered> = inventory::iter::<Registered>.into_iter().collect();
    tests.sort_by_key(|t| t.name);
    assert!(!tests.is_empty(), "no test registered itself");
    let mut trials = Vec::new();
    for t in tests {
        for backend in ["sqlite", "postgres"] {
            let pg = postgres.clone();
            let run = t.run;
            let skip = backend == "postgres" && pg.is_none();
            trials.push(
                Trial::test(format!("{backend}::{}", t.name), move || {
                    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                    rt.block_on(async move {
                        let (url, cleanup) = database(backend, pg.as_deref()).await;
                        let store = Store::connect(&url, &[7u8; 32]).await.unwrap();
                        store.migrate().await.unwrap();
                        let outcome = tokio::spawn(DATABASE_URL.scope(url.clone(), run(store))).await;
                        match cleanup {
                            Cleanup::Dir(dir) => std::fs::remove_dir_all(dir).unwrap_or_default(),
                            Cleanup::Database { admin, name } => {
                                let db = Database::connect(admin).await.unwrap();
                                db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                                    .await
                                    .unwrap();
                            }
                        }
                        if let Err(e) = outcome
                            && e.is_panic()
                        {
                            std::panic::resume_unwind(e.into_panic());
                        }
                    });
                    Ok(())
                })
                .with_ignored_flag(skip),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// What to remove after a test.
enum Cleanup {
    Dir(std::path::PathBuf),
    Database { admin: String, name: String },
}

/// A fresh database: a SQLite file in a temporary directory, or a PostgreSQL database of its own.
async fn database(backend: &str, postgres: Option<&str>) -> (String, Cleanup) {
    if backend == "sqlite" {
        let dir = std::env::temp_dir().join(format!("sb_store_test_{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        return (format!("sqlite://{}/store.db?mode=rwc", dir.display()), Cleanup::Dir(dir));
    }
    let admin = postgres.expect("SB_TEST_POSTGRES_URL").to_owned();
    let name = format!("sb_test_{}", Uuid::new_v4().simple());
    let db = Database::connect(admin.clone()).await.unwrap();
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    db.close().await.ok();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    (format!("{base}/{name}"), Cleanup::Database { admin: admin.clone(), name })
}
