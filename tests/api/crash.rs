//! The durable promise under a crash: the real binary, killed with SIGKILL after it answered `200`
//! but before it could deliver, delivers every text exactly once after a restart.

use std::time::Duration;

use reqwest::StatusCode;

use crate::server::{Server, take_over};
use crate::support::TestApp;

pub async fn a_crash_after_the_200_loses_and_repeats_nothing(mut app: TestApp) {
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

pub async fn a_crash_mid_dispatch_sends_everything_and_nothing_twice_after_its_202(mut app: TestApp) {
    use sea_orm::ConnectionTrait;
    let (_dir, log, first, w) = take_over(&mut app).await;
    let ext = app.token(switchboard_http::Role::Extension, Some("acme"), Some("101"));
    // Twenty texts to twenty people, paced at five a second: four seconds of sending, so the kill
    // half a second after the last is queued lands mid-dispatch.
    for i in 0..20 {
        let body = serde_json::json!({"to": format!("+120655501{:02}", 40 + i), "body": format!("text {i}")});
        app.post("/api/v1/messages", &ext, body).await.expect(StatusCode::ACCEPTED);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill();
    let sent_before = w.sim.accepted().len();
    assert!(sent_before > 0 && sent_before < 20, "the kill should land mid-dispatch ({sent_before} sent)");
    // What the store recorded as accepted at the moment of the crash.
    let db = app.db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT body FROM message WHERE direction = 'outbound' AND provider_message_id IS NOT NULL".to_owned(),
        ))
        .await
        .unwrap();
    db.close().await.ok();
    let recorded: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "body").unwrap()).collect();

    let second = Server::start(&app, &log).await;
    app.base = second.base.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let out = app.get(&format!("{}/messages?direction=outbound&status=sent", w.base), &w.token).await;
        if out.json["items"].as_array().unwrap().len() == 20 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not every text was sent after the restart: {}", out.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let accepted = w.sim.accepted();
    for i in 0..20 {
        let body = format!("text {i}");
        let times = accepted.iter().filter(|a| a.body.as_deref() == Some(body.as_str())).count();
        assert!(times >= 1, "{body} was never sent");
        if recorded.contains(&body) {
            assert_eq!(times, 1, "{body} was sent again after its 202 was recorded");
        }
    }
    second.kill();
}
