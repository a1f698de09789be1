//! PostgreSQL stopped and started under load, with Switchboard left running throughout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard_test_macros::suite_test;

use crate::load::{self, delivered_once};
use crate::server::take_over;
use crate::support::TestApp;

const TEXTS: usize = 600;
const SENDERS: usize = 8;
const PEOPLE: usize = 20;

async fn readyz(client: &reqwest::Client, base: &str) -> Option<u16> {
    Some(client.get(format!("{base}/readyz")).send().await.ok()?.status().as_u16())
}

async fn wait_ready(client: &reqwest::Client, base: &str, want: u16, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = readyz(client, base).await;
        if got == Some(want) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "/readyz stayed {got:?}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[suite_test(crate::On::OwnPostgres)]
async fn postgres_down_is_503_then_recovers_without_a_restart(mut app: TestApp) {
    let cluster = crate::cluster::OWN.lock().unwrap().clone().expect("the test's own PostgreSQL");
    let (_dir, log, mut server, w) = take_over(&mut app).await;
    let url = format!("{}/acmein", server.base);
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (next, acknowledged, failures, url) = (next.clone(), acknowledged.clone(), failures.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            let client = load::client();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TEXTS {
                    break;
                }
                let failed = load::post_until_acknowledged(&client, &url, i, PEOPLE, Duration::from_secs(120)).await;
                acknowledged.fetch_add(1, Ordering::SeqCst);
                failures.lock().unwrap().extend(failed);
                // A steady stream rather than a flood, so the outage falls in the middle of it.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.load(Ordering::SeqCst) < TEXTS / 4 {
        assert!(tokio::time::Instant::now() < deadline, "the load is too slow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let client = load::client();
    cluster.stop();
    let stopped_at = acknowledged.load(Ordering::SeqCst);
    wait_ready(&client, &server.base, 503, Duration::from_secs(10)).await;
    // While it is down, an inbound text is refused with a problem, not left hanging or half-taken.
    let probe = client
        .post(&url)
        .header("content-type", "application/json")
        .body(load::text(TEXTS + 1, PEOPLE))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status().as_u16(), 503, "an inbound text while PostgreSQL is down");
    let ct = probe.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let problem: serde_json::Value = probe.json().await.unwrap();
    assert_eq!(ct, "application/problem+json");
    assert_eq!(problem["code"], "unavailable", "{problem}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(acknowledged.load(Ordering::SeqCst) <= stopped_at + SENDERS, "texts were acknowledged with no database");
    assert!(server.is_running(), "the server exited while PostgreSQL was down");

    cluster.resume();
    wait_ready(&client, &server.base, 200, Duration::from_secs(30)).await;
    for s in senders {
        s.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(failures.contains(&Some(503)), "no sender saw the outage");
    let unexpected: Vec<_> = failures.iter().filter(|f| **f != Some(503)).collect();
    assert!(unexpected.is_empty(), "answers other than 503 during the outage: {unexpected:?}");

    let seen = delivered_once(&w.sink, TEXTS, Duration::from_secs(90)).await;
    let (messages, events, jobs) = crate::kill::whole_texts(&app).await;
    assert_eq!((messages, events, jobs), (TEXTS as i64, TEXTS as i64, TEXTS as i64), "each text stored once, whole");
    assert!(server.is_running(), "the server exited");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains("panicked"), "a panic in the log");
    println!(
        "{} answers of 503 while down; {TEXTS} texts delivered; {} repeated deliveries",
        failures.len(),
        seen.repeats()
    );
    server.kill();
}
