//! Two Switchboard processes on one PostgreSQL database, both taking texts and both running
//! workers: every text is still delivered and sent exactly once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::load::{self, delivered_once};
use crate::server::{Server, take_over_with};
use crate::support::TestApp;

const INBOUND: usize = 1_000;
const OUTBOUND: usize = 30;
const SENDERS: usize = 16;
const PEOPLE: usize = 40;

/// How many lines of a server's log contain `what`.
fn logged(log: &std::path::Path, what: &str) -> usize {
    std::fs::read_to_string(log).unwrap().lines().filter(|l| l.contains(what)).count()
}

#[suite_test(crate::On::Postgres)]
async fn two_servers_share_the_work_exactly_once(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (dir, log_a, a, w) = take_over_with(&mut app, &[], sim).await;
    let log_b = dir.path().join("second.log");
    let b = Server::start(&app, &log_b).await;
    let bases = [a.base.clone(), b.base.clone()];

    // Outbound texts queued through both, then inbound texts posted to both, alternately.
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let client = load::client();
    for i in 0..OUTBOUND {
        let body = json!({"to": format!("+120655503{:02}", i), "body": format!("pair {i}")});
        let r = client.post(format!("{}/api/v1/messages", bases[i % 2])).bearer_auth(&ext).json(&body).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::ACCEPTED);
    }
    crate::in_parallel((0..INBOUND).collect(), SENDERS, |i| {
        let (client, url) = (client.clone(), format!("{}/acmein", bases[i % 2]));
        async move {
            assert_eq!(load::post(&client, &url, i, PEOPLE).await, Some(200), "text {i}");
        }
    })
    .await;

    let seen = delivered_once(&w.sink, INBOUND, Duration::from_secs(120)).await;
    assert_eq!(seen.repeats(), 0, "with no crash, nothing is delivered twice");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let troubles = || {
        [&log_a, &log_b]
            .iter()
            .flat_map(|log| {
                std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect::<Vec<_>>()
            })
            .filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\""))
            .collect::<Vec<_>>()
    };
    while w.sim.accepted().len() < OUTBOUND {
        if tokio::time::Instant::now() >= deadline {
            panic!("only {} of {OUTBOUND} sent; warnings:\n{}", w.sim.accepted().len(), troubles().join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("warnings and errors logged: {}", troubles().len());
    tokio::time::sleep(Duration::from_secs(2)).await;
    load::sent_once(&w.sim, "pair", OUTBOUND);
    // Both processes did some of the delivering and sending.
    let delivered = (logged(&log_a, "delivered to the PBX"), logged(&log_b, "delivered to the PBX"));
    let sent = (logged(&log_a, "\"sent\""), logged(&log_b, "\"sent\""));
    let throttled = logged(&log_a, "(429)") + logged(&log_b, "(429)");
    println!("deliveries by process: {delivered:?}; sends by process: {sent:?}; 429s: {throttled}");
    assert!(delivered.0 > 0 && delivered.1 > 0, "one process did all the delivering: {delivered:?}");
    assert!(delivered.0 + delivered.1 >= INBOUND, "deliveries logged: {delivered:?}");
    a.kill();
    b.kill();
}

/// Flowroute allows 5 SMS a second per key. Two servers with one account's texts queued through
/// both take their slots from one row: no one-second window holds more than five, and the
/// simulator (which refuses the sixth with `429`) refuses none. Paced in each process, the two
/// would send ten a second.
#[suite_test(crate::On::Postgres)]
async fn two_servers_keep_one_pace_per_key(mut app: TestApp) {
    const TEXTS: usize = 40;
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (dir, _log_a, a, w) = take_over_with(&mut app, &[], sim).await;
    let b = Server::start(&app, &dir.path().join("second.log")).await;
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let client = load::client();
    for i in 0..TEXTS {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let body = json!({"to": format!("+120655504{:02}", i), "body": format!("pace {i}")});
        let r = client.post(format!("{base}/api/v1/messages")).bearer_auth(&ext).json(&body).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::ACCEPTED);
    }
    load::accepted(&w.sim, TEXTS, Duration::from_secs(60)).await;
    let (busiest, tightest) = load::busiest_second(&w.sim);
    assert_eq!(busiest, 5, "the most sends in any one second (six span at least {tightest:?} ms)");
    assert_eq!(w.sim.requests(), TEXTS, "none turned away with 429");
    a.kill();
    b.kill();
}

/// A send whose reservation is held up past its paced slot must not crowd the key's next slots,
/// which the other server uses on time. One number of the account has a per-minute limit, so each
/// reservation of its texts locks its row; the test holds that lock for 400 ms at a time while
/// both servers send from it and from a second number on the same key. Sent when they were freed,
/// its texts would leave together with the other number's, six or more in a second (`429`s).
#[suite_test(crate::On::Postgres)]
async fn a_send_held_past_its_slot_takes_a_fresh_one(mut app: TestApp) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    const TEXTS: usize = 40;
    const CAPPED: &str = "+12025550100";
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    // The retakes are logged at debug.
    let env = [("SWITCHBOARD_LOG", "info,switchboard_engine::dispatch=debug")];
    let (dir, log_a, a, w) = take_over_with(&mut app, &env, sim).await;
    let log_b = dir.path().join("second.log");
    let b = Server::start_with(&app, &log_b, &env).await;
    let policy = json!({"name": "Capped", "timezone": "UTC", "outbound_per_minute": 1000});
    let id = app.post(&format!("{}/policies", w.base), &w.token, policy).await.expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let capped = format!("{}/numbers/{CAPPED}", w.base);
    app.patch(&capped, &w.token, json!({"policy_id": id})).await.expect(StatusCode::OK);
    w.sim.add_number("sim-access", "12025550101", true);
    let second = json!({"e164": "+12025550101", "name": "Second", "provider_id": w.provider,
                        "prefix": "acmein", "destinations": ["101"], "senders": ["101"]});
    app.post(&format!("{}/numbers", w.base), &w.token, second).await.expect(StatusCode::CREATED);

    let db = app.db().await;
    let locking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let locker = {
        let locking = locking.clone();
        tokio::spawn(async move {
            let mut held = 0;
            while locking.load(std::sync::atomic::Ordering::Relaxed) {
                let txn = db.begin().await.unwrap();
                txn.execute_unprepared(&format!("SELECT id FROM number WHERE e164 = '{CAPPED}' FOR UPDATE"))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(400)).await;
                txn.commit().await.unwrap();
                held += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            held
        })
    };
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let client = load::client();
    for i in 0..TEXTS {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let from = if i % 4 < 2 { CAPPED } else { "+12025550101" };
        let body = json!({"to": format!("+120655505{:02}", i), "from": from, "body": format!("late {i}")});
        let r = client.post(format!("{base}/api/v1/messages")).bearer_auth(&ext).json(&body).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::ACCEPTED);
    }
    load::accepted(&w.sim, TEXTS, Duration::from_secs(90)).await;
    locking.store(false, std::sync::atomic::Ordering::Relaxed);
    let held = locker.await.unwrap();
    let missed = logged(&log_a, "missed its paced slot") + logged(&log_b, "missed its paced slot");
    let (busiest, tightest) = load::busiest_second(&w.sim);
    println!("the number's row locked {held} times; {missed} sends took a fresh slot; six span {tightest:?} ms");
    assert!(missed > 0, "no send was held past its slot: the test did not hold any up");
    assert!(busiest <= 5, "{busiest} sends in one second (six span {tightest:?} ms)");
    assert_eq!(w.sim.requests(), TEXTS, "none turned away with 429");
    load::sent_once(&w.sim, "late", TEXTS);
    a.kill();
    b.kill();
}
