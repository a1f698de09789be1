//! The durable promise under a crash: the real binary, killed with SIGKILL after it answered `200`
//! but before it could deliver, delivers every text exactly once after a restart.

use std::time::Duration;

use reqwest::StatusCode;

use switchboard_test_macros::suite_test;

use crate::server::{Server, take_over, take_over_with};
use crate::support::TestApp;

#[suite_test]
async fn a_crash_after_the_200_loses_and_repeats_nothing(mut app: TestApp) {
    let (_dir, log, first, w) = take_over(&mut app).await;
    w.sink.set_down(true);
    for i in 0..3 {
        let body = format!(r#"{{"to":"12025550100","from":"12065550123","body":"crash {i}","id":"mdr2-crash-{i}"}}"#);
        let r = app.flowroute("acmein", body.as_bytes()).await;
        assert_eq!(r.json["status"], "stored", "{} {}", r.status, r.text);
    }
    first.kill();
    assert!(w.sink.accepted().is_empty(), "nothing was delivered before the crash");

    w.sink.set_down(false);
    let second = Server::start(&app, &log).await;
    app.base = second.base.clone();
    let got = w.sink.wait_for(3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after = w.sink.accepted();
    assert_eq!(got_after.len(), 3, "exactly once each: {got_after:?}");
    let bodies: Vec<&str> = got.iter().map(|d| d.json["data"]["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["crash 0", "crash 1", "crash 2"]);
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains(&app.jwt_secret) && !log_text.contains(&app.master_key), "a secret reached the log");
    assert!(!log_text.contains(&w.secret), "the webhook secret reached the log");
    // The same texts posted again by Flowroute's retries are duplicates.
    let again = br#"{"to":"12025550100","from":"12065550123","body":"crash 0","id":"mdr2-crash-0"}"#;
    let r = app.flowroute("acmein", again).await;
    assert_eq!(r.json["status"], "duplicate", "{} {}", r.status, r.text);
    second.kill();
}

#[suite_test]
async fn a_crash_mid_dispatch_sends_everything_exactly_once(mut app: TestApp) {
    // Flowroute posts receipts a second after a send (so none has come when the kill does) and
    // retries them once a second; a send whose answer the crash lost waits up to 12 s for one
    // before it is sent again.
    let sim = flowroute_sim::SimConfig {
        receipts: true,
        receipt_delay: Duration::from_secs(1),
        receipt_retries: 15,
        receipt_retry_interval: Duration::from_secs(1),
        stall: Duration::from_secs(30),
        ..Default::default()
    };
    let env = [("SWITCHBOARD_FLOWROUTE_UNKNOWN_OUTCOME_WAIT_SECS", "12")];
    let (_dir, log, first, w) = take_over_with(&mut app, &env, sim).await;
    let first_base = first.base.clone();
    let ext = app.token(switchboard_http::Role::Extension, Some("acme"), Some("101"));
    // Flowroute answers the first three sends and takes the fourth but holds its answer; the kill
    // comes while Switchboard waits for it — the text is sent, and nothing in the store says so.
    w.sim.inject(flowroute_sim::Fault::Pass, 3);
    w.sim.inject(flowroute_sim::Fault::LostAnswer, 1);
    // Twenty texts to twenty people, paced at five a second: four seconds of sending.
    for i in 0..20 {
        let body = serde_json::json!({"to": format!("+120655501{:02}", 40 + i), "body": format!("text {i}")});
        app.post("/api/v1/messages", &ext, body).await.expect(StatusCode::ACCEPTED);
    }
    let recorded = || {
        let sql = "SELECT body FROM message WHERE direction = 'outbound' AND provider_message_id IS NOT NULL";
        crate::support::column(&app, sql)
    };
    // The three answered sends are recorded as they are answered, while the fourth is held.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while w.sim.accepted().len() < 4 || recorded().await.len() < 3 {
        let (sent, kept) = (w.sim.accepted().len(), recorded().await.len());
        assert!(tokio::time::Instant::now() < deadline, "{sent} sent, {kept} recorded while the fourth was held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    let accepted = w.sim.accepted();
    let sent_before = accepted.len();
    assert!(sent_before < 20, "the kill should land mid-dispatch ({sent_before} sent)");
    // What the store recorded as accepted at the moment of the crash: never the held send.
    let held = accepted[3].body.clone().unwrap();
    let recorded = recorded().await;
    assert!(!recorded.contains(&held), "{held} was recorded although its answer never came: {recorded:?}");
    assert!(recorded.len() >= 3 && recorded.len() < sent_before, "recorded {recorded:?} of {sent_before} sent");

    // Back where it was: Flowroute's receipts, retried, reach it at the same URL.
    let second = Server::restart(&app, &log, &env, &first_base).await;
    app.base = second.base.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = app.get(&format!("{}/messages?direction=outbound&limit=100", w.base), &w.token).await;
        let items = out.json["items"].as_array().unwrap();
        let done = items.iter().filter(|m| m["status"] == "sent" || m["status"] == "delivered").count();
        if done == 20 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not every text was sent after the restart: {}", out.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past the wait, so a text that was going to be sent again would have been.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let accepted = w.sim.accepted();
    for i in 0..20 {
        let body = format!("text {i}");
        let times = accepted.iter().filter(|a| a.body.as_deref() == Some(body.as_str())).count();
        assert_eq!(times, 1, "{body} was accepted by Flowroute {times} times");
    }
    let adopted =
        std::fs::read_to_string(&log).unwrap().matches("a receipt named a send whose answer was lost").count();
    // At least the held one; a receipt that outruns a recorded 202 is matched the same way.
    assert!(adopted >= 1, "the send the crash cut off was not matched by its receipt");
    second.kill();
}

#[suite_test]
async fn a_send_whose_answer_is_lost_is_matched_by_its_receipt(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig {
        receipts: true,
        receipt_delay: Duration::from_millis(300),
        stall: Duration::from_secs(4),
        ..Default::default()
    };
    let env = [("SWITCHBOARD_FLOWROUTE_TIMEOUT_SECS", "2"), ("SWITCHBOARD_FLOWROUTE_UNKNOWN_OUTCOME_WAIT_SECS", "8")];
    let (_dir, log, server, w) = take_over_with(&mut app, &env, sim).await;
    // Flowroute takes the text but its answer never arrives: the client times out after 2 s.
    w.sim.inject(flowroute_sim::Fault::LostAnswer, 1);
    let ext = app.token(switchboard_http::Role::Extension, Some("acme"), Some("101"));
    let r =
        app.post("/api/v1/messages", &ext, serde_json::json!({"to": "+12065550177", "body": "are you there?"})).await;
    let id = r.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(20);
    let m = loop {
        let m = app.get(&format!("{}/messages/{id}", w.base), &w.token).await.json.clone();
        if m["status"] == "delivered" {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never delivered: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Well past the 8 s wait: had the receipt not been matched, the text would have gone again.
    tokio::time::sleep_until(started + Duration::from_secs(12)).await;
    let accepted = w.sim.accepted();
    assert_eq!(accepted.len(), 1, "sent again after its answer was lost: {accepted:?}");
    assert_eq!(m["provider_message_id"], accepted[0].id.as_str(), "the receipt's id is the text's");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("a receipt named a send whose answer was lost"));
    server.kill();
}
