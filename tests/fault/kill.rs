//! SIGKILL of the server in the middle of an inbound burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard_test_macros::suite_test;

use crate::load::{self, delivered_once};
use crate::server::{Server, take_over};
use crate::support::TestApp;

const TEXTS: usize = 2_000;
const SENDERS: usize = 32;
const PEOPLE: usize = 50;
/// The kill comes once this many texts were acknowledged.
const KILL_AFTER: usize = 600;

/// Inbound rows that must come together: each text, its `message.received` event, its PBX delivery job.
pub async fn whole_texts(app: &TestApp) -> (i64, i64, i64) {
    let messages = crate::scalar(app, "SELECT count(*) FROM message WHERE direction = 'inbound'").await;
    let events = crate::scalar(app, "SELECT count(*) FROM event WHERE event_type = 'message.received'").await;
    let jobs = crate::scalar(
        app,
        "SELECT count(*) FROM job j JOIN event e ON e.id = j.event_id \
         WHERE j.kind = 'webhook_delivery' AND e.event_type = 'message.received'",
    )
    .await;
    (messages, events, jobs)
}

#[suite_test(crate::On::Both)]
async fn a_kill_during_an_inbound_burst_loses_and_repeats_nothing(mut app: TestApp) {
    let (_dir, log, first, w) = take_over(&mut app).await;
    let url = format!("{}/acmein", first.base);
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(std::sync::Mutex::new(vec![None; TEXTS]));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (next, acknowledged, answers, url) = (next.clone(), acknowledged.clone(), answers.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            let client = load::client();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TEXTS {
                    break;
                }
                let answer = load::post(&client, &url, i, PEOPLE).await;
                if answer == Some(200) {
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                answers.lock().unwrap()[i] = answer;
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(tokio::time::Instant::now() < deadline, "the burst is too slow to reach {KILL_AFTER} texts");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    for s in senders {
        s.await.unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    let acked: Vec<usize> = (0..TEXTS).filter(|i| answers[*i] == Some(200)).collect();
    let unanswered: Vec<usize> = (0..TEXTS).filter(|i| answers[*i].is_none()).collect();
    let other: Vec<(usize, Option<u16>)> =
        (0..TEXTS).filter(|i| !matches!(answers[*i], None | Some(200))).map(|i| (i, answers[i])).collect();
    assert!(other.is_empty(), "answers other than 200 or none: {other:?}");
    assert!(acked.len() < TEXTS && !unanswered.is_empty(), "the kill landed after the burst");

    // Straight after the kill: every acknowledged text is stored, and every stored text is whole.
    let stored =
        crate::support::column(&app, "SELECT provider_message_id FROM message WHERE direction = 'inbound'").await;
    let stored: std::collections::HashSet<String> = stored.into_iter().collect();
    for i in &acked {
        assert!(stored.contains(&format!("mdr2-fault-{i:06}")), "text {i} got a 200 but is not stored");
    }
    let (messages, events, jobs) = whole_texts(&app).await;
    assert_eq!((messages, events), (messages, messages), "a text without its event (half-stored)");
    assert_eq!(jobs, messages, "a text without its PBX delivery (half-stored)");
    println!(
        "killed after {} acknowledged; {} unanswered; {} stored at the kill; {} delivered before it",
        acked.len(),
        unanswered.len(),
        messages,
        load::Seen::of(&w.sink).ids.len()
    );

    // Restarted, the server takes Flowroute's retries of every unacknowledged text.
    let second = Server::start(&app, &log).await;
    let url = format!("{}/acmein", second.base);
    let client = load::client();
    let retried: Vec<usize> = (0..TEXTS).filter(|i| answers[*i] != Some(200)).collect();
    crate::in_parallel(retried, SENDERS, |i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            load::post_until_acknowledged(&client, &url, i, PEOPLE, Duration::from_secs(60)).await;
        }
    })
    .await;
    let seen = delivered_once(&w.sink, TEXTS, Duration::from_secs(120)).await;
    let (messages, _, _) = whole_texts(&app).await;
    assert_eq!(messages, TEXTS as i64, "each text stored once");
    println!(
        "after restart: {TEXTS} texts delivered; {} repeated deliveries under the same webhook-id",
        seen.repeats()
    );
    second.kill();
}
