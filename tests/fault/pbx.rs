//! The PBX's webhook down for a whole minute while texts keep arriving.

use std::time::Duration;

use switchboard_test_macros::suite_test;

use crate::load::{self, delivered_once};
use crate::server::take_over_with;
use crate::support::TestApp;

const PEOPLE: usize = 10;
/// One text per person every half second for the minute: 1,200 texts.
const ROUNDS: usize = 120;
const OUTAGE: Duration = Duration::from_secs(60);

#[suite_test(crate::On::Both)]
async fn a_minute_without_the_pbx_delays_but_keeps_order(mut app: TestApp) {
    let env = [
        // Retries well past the minute: 1+2+4+8+15×8 s.
        ("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE_SECS", "1,2,4,8,15,15,15,15,15,15,15,15"),
        ("SWITCHBOARD_WEBHOOK_RETRY_JITTER", "0"),
    ];
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, _log, server, w) = take_over_with(&mut app, &env, sim).await;
    let url = format!("{}/acmein", server.base);
    w.sink.set_down(true);
    let started = tokio::time::Instant::now();
    // Each person texts in turn, in order; text i is person i % PEOPLE's (i / PEOPLE)-th.
    let people: Vec<usize> = (0..PEOPLE).collect();
    crate::in_parallel(people, PEOPLE, |p| {
        let url = url.clone();
        async move {
            let client = load::client();
            for round in 0..ROUNDS {
                let i = round * PEOPLE + p;
                let answer = load::post(&client, &url, i, PEOPLE).await;
                assert_eq!(answer, Some(200), "text {i} while the PBX is down");
                tokio::time::sleep_until(started + OUTAGE * (round as u32 + 1) / ROUNDS as u32).await;
            }
        }
    })
    .await;
    tokio::time::sleep_until(started + OUTAGE).await;
    assert!(load::Seen::of(&w.sink).deliveries.is_empty(), "a delivery got through while the PBX was down");
    assert!(w.sink.refused() > 0, "no delivery was attempted while the PBX was down");
    w.sink.set_down(false);

    let total = ROUNDS * PEOPLE;
    let seen = delivered_once(&w.sink, total, Duration::from_secs(60)).await;
    assert_eq!(seen.repeats(), 0, "with no crash, nothing is delivered twice");
    for p in 0..PEOPLE {
        let from = load::remote(p, PEOPLE);
        let order: Vec<usize> = seen
            .deliveries
            .iter()
            .filter(|d| d.json["data"]["from"] == from.as_str())
            .filter_map(|d| d.json["data"]["body"].as_str()?.strip_prefix("fault ")?.parse().ok())
            .collect();
        let expected: Vec<usize> = (0..ROUNDS).map(|r| r * PEOPLE + p).collect();
        assert_eq!(order, expected, "the PBX heard {from}'s texts out of order");
    }
    println!("{total} texts held for {OUTAGE:?}, then delivered in order; {} refusals", w.sink.refused());
    server.kill();
}
