//! The dispatcher against the Flowroute simulator: the bytes Flowroute receives, retries of
//! transient failures, no retry of a refusal, and the limits per number and per access key.

use std::time::Duration;

use flowroute_sim::Fault;
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::support::TestApp;
use crate::wired::{Wired, wire};

async fn send(app: &TestApp, to: &str, body: &str) -> String {
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let r = app.post("/api/v1/messages", &ext, json!({"to": to, "body": body})).await;
    r.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned()
}

async fn message(app: &TestApp, w: &Wired, id: &str) -> Value {
    app.get(&format!("{}/messages/{id}", w.base), &w.token).await.json.clone()
}

/// Waits until the message has `status`, or panics.
async fn until_status(app: &TestApp, w: &Wired, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = message(app, w, id).await;
        if m["status"] == status {
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never {status}: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[suite_test]
async fn a_queued_text_reaches_flowroute_exactly_as_documented(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let id = send(&app, "+12065550123", "Your appointment is confirmed").await;
    let m = until_status(&app, &w, &id, "sent").await;
    let got = w.sim.accepted();
    assert_eq!(got.len(), 1);
    assert_eq!(m["provider_message_id"], got[0].id.as_str(), "the mdr2- id is recorded");
    assert_eq!(
        got[0].raw,
        r#"{"data":{"type":"message","attributes":{"to":"12065550123","from":"12025550100","body":"Your appointment is confirmed","dlr_callback":"https://sms.example.net/acmein"}}}"#
    );
    assert_eq!(got[0].access_key, "sim-access");
    // The PBX hears queued, sending, sent, in that order.
    let events = w.sink.wait_for(3, Duration::from_secs(10)).await;
    let statuses: Vec<&str> = events.iter().map(|e| e.json["data"]["status"].as_str().unwrap_or("")).collect();
    assert_eq!(statuses, vec!["queued", "sending", "sent"]);
}

#[suite_test]
async fn transient_failures_are_retried_and_sent_once(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    w.sim.inject(Fault::ServerError, 2);
    let id = send(&app, "+12065550123", "hello").await;
    until_status(&app, &w, &id, "sent").await;
    assert_eq!((w.sim.requests(), w.sim.accepted().len()), (3, 1), "500, 500, 202");
    w.sim.inject(Fault::TooMany, 1);
    let id = send(&app, "+12065550124", "again").await;
    until_status(&app, &w, &id, "sent").await;
    assert_eq!((w.sim.requests(), w.sim.accepted().len()), (5, 2), "429, then 202");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(w.sim.accepted().len(), 2, "nothing sent again after a 202");
}

#[suite_test]
async fn rate_limit_answers_wait_without_spending_retries(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    // Five 429s in a row, more failures than these tests' retry schedule allows (three): each is
    // Flowroute saying "slower" (as when two instances share a key), not the text failing.
    w.sim.inject(Fault::TooMany, 5);
    let started = tokio::time::Instant::now();
    let id = send(&app, "+12065550123", "busy key").await;
    until_status(&app, &w, &id, "sent").await;
    assert_eq!((w.sim.requests(), w.sim.accepted().len()), (6, 1), "five 429s, then 202");
    assert!(started.elapsed() >= Duration::from_secs(5), "each 429 waits a second at least: {:?}", started.elapsed());

    // A text turned away for over an hour spends its retries again, and fails when they run out.
    w.sim.hold(true);
    let id = send(&app, "+12065550124", "long ago").await;
    until_status(&app, &w, &id, "sending").await;
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    app.sql("UPDATE message SET created_at = $1 WHERE id = $2", vec![long_ago.into(), uuid.into()]).await;
    w.sim.inject(Fault::TooMany, 10);
    w.sim.hold(false);
    let m = until_status(&app, &w, &id, "failed").await;
    assert!(m["error_message"].as_str().unwrap().contains("Too Many Requests"), "{m}");
    // The attempt in flight when the text was moved back waits uncounted; four more are counted.
    assert_eq!((w.sim.requests(), w.sim.accepted().len()), (6 + 5, 1));
}

#[suite_test]
async fn a_refusal_fails_the_text_without_retry(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    w.sim.inject(Fault::BadRequest, 1);
    let id = send(&app, "+12065550123", "hello").await;
    let m = until_status(&app, &w, &id, "failed").await;
    assert_eq!(m["error_code"], 400);
    assert!(m["error_message"].as_str().unwrap().contains("Bad Request"), "{m}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!((w.sim.requests(), w.sim.accepted().len()), (1, 0), "a 4xx is never retried");
}

#[suite_test]
async fn limits_per_number_and_per_key_hold(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    // Flowroute's 5 SMS/s per key: eight texts to eight people, paced, none refused with 429.
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(send(&app, &format!("+1206555013{i}"), "hi").await);
    }
    for id in &ids {
        until_status(&app, &w, id, "sent").await;
    }
    assert_eq!((w.sim.requests(), w.sim.accepted().len()), (8, 8), "paced under 5 per second");
    // The policy's per-number limit: 3 a minute, counted in the store.
    let policy = app
        .post(
            &format!("{}/policies", w.base),
            &w.token,
            json!({"name": "Slow", "timezone": "UTC", "outbound_per_minute": 3}),
        )
        .await;
    let pid = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"policy_id": pid}))
        .await
        .expect(StatusCode::OK);
    // The eight sends of the last minute count: nothing more may go for now.
    let held = send(&app, "+12065550199", "wait your turn").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.sim.accepted().len(), 8, "no more than the limit in any minute");
    let m = message(&app, &w, &held).await;
    assert_eq!(m["status"], "queued", "waiting for the window, not failed: {m}");
}

#[suite_test]
async fn an_mms_flowroute_cannot_fetch_fails_with_its_reason(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let body = json!({"to": "+12065550123", "body": "the map", "media_urls": ["https://files.invalid/map.png"]});
    let r = app.post("/api/v1/messages", &ext, body).await;
    let id = r.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let m = until_status(&app, &w, &id, "failed").await;
    assert_eq!(m["error_code"], 422);
    assert!(m["error_message"].as_str().unwrap().contains("Error fetching media"), "{m}");
    assert!(w.sim.accepted().is_empty());
    assert_eq!(w.sim.requests(), 1, "a 422 is not retried");
}

/// One tenant whose Flowroute never answers, with three hundred texts queued to three hundred
/// people (so all are due at once), holds its share of the dispatcher and no more: another
/// tenant's texts reach its Flowroute within a second each, p99 over twenty. The first tenant
/// even names the other's access key (with a secret of its own), and does not take its pace.
#[suite_test]
async fn a_hanging_flowroute_does_not_slow_another_tenant(app: TestApp) {
    use futures_util::StreamExt;
    // A's Flowroute account has the same access key as B's, with a secret of its own.
    let accounts = vec![("sim-access".into(), "sim-secret".into()), ("sim-access".into(), "not-globex-secret".into())];
    let sim = flowroute_sim::SimConfig { receipts: false, accounts, ..Default::default() };
    let a = crate::wired::wire_with(&app, "acme", "acmein", "+12025550100", sim).await;
    let b = wire(&app, "globex", "globexin", "+12025550199").await;
    let provider = format!("{}/providers/{}", a.base, a.provider);
    app.patch(&provider, &a.token, json!({"secret_key": "not-globex-secret"})).await.expect(StatusCode::OK);
    a.sim.hold(true);
    let ext_a = app.token(Role::Extension, Some("acme"), Some("101"));
    let sends = (0..300).map(|i| {
        let (app, ext) = (&app, &ext_a);
        async move {
            let body = json!({"to": format!("+1206{:07}", 5_550_000 + i), "body": format!("flood {i}")});
            app.post("/api/v1/messages", ext, body).await.status
        }
    });
    let statuses: Vec<StatusCode> = futures_util::stream::iter(sends).buffer_unordered(16).collect().await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{:?}",
        statuses.iter().find(|s| **s != StatusCode::ACCEPTED)
    );
    // A's sends are hanging now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while crate::support::column(&app, "SELECT status FROM message WHERE status = 'sending'").await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "A's Flowroute was never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ext_b = app.token(Role::Extension, Some("globex"), Some("101"));
    let mut latencies = Vec::new();
    for i in 0..20 {
        let started = std::time::Instant::now();
        let body = json!({"to": "+12065550123", "body": format!("b {i}")});
        app.post("/api/v1/messages", &ext_b, body).await.expect(StatusCode::ACCEPTED);
        while b.sim.accepted_count() <= i {
            assert!(started.elapsed() < Duration::from_secs(30), "B's text {i} never reached Flowroute");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p99 = latencies[latencies.len() - 1];
    assert!(p99 < Duration::from_secs(1), "B's p99 {p99:?} with A's Flowroute hanging: {latencies:?}");
    assert!(a.sim.accepted().is_empty(), "A's Flowroute took nothing while held");
}

/// A send whose answer is lost is settled by looking up the account's messages within seconds,
/// with no receipt to wait for: Flowroute took it, so it is not sent again. One Flowroute never
/// took (no answer, nothing listed) goes again as soon as the lookup says so.
#[suite_test]
async fn a_lost_answer_is_settled_by_a_lookup_not_a_second_send(app: TestApp) {
    // No receipts: only the lookup can tell. The client gives up after 5 s, the lookup comes
    // 3 s later (the tests' unknown-outcome wait), where a receipt would have been waited for.
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    w.sim.inject(Fault::LostAnswer, 1);
    let taken = send(&app, "+12065550123", "did this go?").await;
    let m = until_status(&app, &w, &taken, "sent").await;
    let accepted = w.sim.accepted();
    assert_eq!(accepted.len(), 1, "sent once: {accepted:?}");
    assert_eq!(m["provider_message_id"], accepted[0].id.as_str(), "the id the lookup found");

    // Flowroute never took this one: the lookup finds nothing, and it goes again.
    w.sim.inject(Fault::Timeout, 1);
    let lost = send(&app, "+12065550124", "try me again").await;
    let m = until_status(&app, &w, &lost, "sent").await;
    let accepted = w.sim.accepted();
    let copies = accepted.iter().filter(|a| a.body.as_deref() == Some("try me again")).count();
    assert_eq!(copies, 1, "{accepted:?}");
    assert_eq!(m["provider_message_id"], accepted[1].id.as_str());
    // The first text was not sent again meanwhile.
    assert_eq!(accepted.iter().filter(|a| a.body.as_deref() == Some("did this go?")).count(), 1);
}

/// When the text `id`'s send job is next due.
async fn due_at(app: &TestApp, id: &str) -> chrono::DateTime<chrono::Utc> {
    use sea_orm::ConnectionTrait;
    let db = app.db().await;
    let sql = "SELECT next_attempt_at FROM job WHERE kind = 'provider_send' AND message_id = $1";
    let id = uuid::Uuid::parse_str(id).unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, [id.into()]))
        .await
        .unwrap()
        .expect("the text's send job");
    row.try_get_by_index::<chrono::DateTime<chrono::Utc>>(0).unwrap()
}

/// Quiet hours. The tenant's window for automated texts is closed now where the recipient is
/// (New York, area code 212):
/// - an API send marked `conversational: false` stays queued, unsent, due when the window next
///   opens there;
/// - a person's text to the same number at the same moment goes at once;
/// - an after-hours auto-reply waits as well.
/// A window the law leaves no room for is refused.
#[suite_test]
async fn automated_texts_wait_for_the_recipients_quiet_hours(app: TestApp) {
    use switchboard_core::quiet::{Window, held_until};
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let tenant = "/api/v1/tenants/acme";
    let refused = app.patch(tenant, &w.token, json!({"send_window": {"from": "21:30", "until": "23:00"}})).await;
    assert_eq!(
        refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["errors"][0]["field"],
        "send_window"
    );
    // Of two one-hour windows, one is closed in New York now.
    let recipient = switchboard_core::E164::parse("+12125550199").unwrap();
    let (from, until) = [("10:00", "11:00"), ("12:00", "13:00")]
        .into_iter()
        .find(|(f, u)| held_until(&recipient, chrono::Utc::now(), Window::parse(f, u).ok()).is_some())
        .unwrap();
    let window = Window::parse(from, until).ok();
    let set = app.patch(tenant, &w.token, json!({"send_window": {"from": from, "until": until}})).await;
    assert_eq!(set.expect(StatusCode::OK)["send_window"], json!({"from": from, "until": until}));

    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let body = json!({"to": "+12125550199", "body": "Your appointment is tomorrow", "conversational": false});
    let posted = chrono::Utc::now();
    let held =
        app.post("/api/v1/messages", &ext, body).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let person = send(&app, "+12125550199", "On my way").await;
    until_status(&app, &w, &person, "sent").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent: Vec<Option<String>> = w.sim.accepted().into_iter().map(|s| s.body).collect();
    assert_eq!(sent, [Some("On my way".to_owned())], "only the person's text went");
    assert_eq!(message(&app, &w, &held).await["status"], "queued");
    let expected = held_until(&recipient, posted, window).unwrap();
    let due = due_at(&app, &held).await;
    assert!((due - expected).num_seconds().abs() <= 2, "due at {due}, the window opens at {expected}");
    assert!(due > chrono::Utc::now(), "{due}");

    // After hours, the auto-reply to a New York customer waits too.
    w.always_after_hours(&app, "We are closed.").await;
    let text = br#"{"to":"12025550100","from":"12125550177","body":"open?","id":"mdr2-quiet-1"}"#;
    app.flowroute("acmein", text).await.expect(StatusCode::OK);
    let out = app.get(&format!("{}/messages?direction=outbound&remote=%2B12125550177", w.base), &w.token).await;
    let reply = out.expect(StatusCode::OK)["items"][0].clone();
    assert_eq!(reply["body"], "We are closed.");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(message(&app, &w, reply["id"].as_str().unwrap()).await["status"], "queued");
    assert_eq!(w.sim.accepted().len(), 1, "the auto-reply waits with the reminder");
}
