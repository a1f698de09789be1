//! Flowroute failing a third of sends at random — 429, 500, or no answer at all.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::server::take_over_with;
use crate::support::TestApp;

const TEXTS: usize = 40;

#[suite_test(crate::On::Both)]
async fn a_flaky_flowroute_gets_every_text_once(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig {
        receipts: false,
        failure_rate: 1.0 / 3.0,
        stall: Duration::from_secs(3),
        ..Default::default()
    };
    let env = [
        // Twelve quick retries: a text fails for good only after twelve failures in a row (1 in 500,000).
        ("SWITCHBOARD_FLOWROUTE_RETRY_SCHEDULE_SECS", "1,1,1,1,1,1,1,1,1,1,1,1"),
        // A stalled request is given up after 2 s, before the simulator's 3 s stall ends.
        ("SWITCHBOARD_FLOWROUTE_TIMEOUT_SECS", "2"),
        // A stalled send may have been taken; nothing will name it here, so it goes again after 3 s.
        ("SWITCHBOARD_FLOWROUTE_UNKNOWN_OUTCOME_WAIT_SECS", "3"),
    ];
    let (_dir, log, server, w) = take_over_with(&mut app, &env, sim).await;
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    for i in 0..TEXTS {
        let body = json!({"to": format!("+120655502{:02}", i), "body": format!("flaky {i}")});
        app.post("/api/v1/messages", &ext, body).await.expect(StatusCode::ACCEPTED);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let sent = app.get(&format!("{}/messages?direction=outbound&status=sent&limit=100", w.base), &w.token).await;
        let failed =
            app.get(&format!("{}/messages?direction=outbound&status=failed&limit=100", w.base), &w.token).await;
        assert_eq!(failed.json["items"].as_array().map(Vec::len), Some(0), "a text failed: {}", failed.text);
        if sent.json["items"].as_array().map(Vec::len) == Some(TEXTS) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not every text was sent: {}", sent.text);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let accepted = w.sim.accepted();
    for i in 0..TEXTS {
        let body = format!("flaky {i}");
        let times = accepted.iter().filter(|a| a.body.as_deref() == Some(body.as_str())).count();
        assert_eq!(times, 1, "{body} was accepted by Flowroute {times} times");
    }
    let refused = w.sim.requests() - accepted.len();
    assert!(refused >= 5, "the simulator failed only {refused} of {} requests", w.sim.requests());
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains("sim-secret"), "the provider's secret key reached the log");
    println!("{TEXTS} texts sent once each; {refused} requests failed on the way");
    server.kill();
}
