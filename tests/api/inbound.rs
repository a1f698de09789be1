//! Inbound texts end to end: Flowroute's payloads posted to a prefix reach a PBX sink signed, once,
//! in order, with the right extensions, contact and company — and what must be refused is refused
//! without storing anything.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_engine::signing;

use switchboard_test_macros::suite_test;

use crate::sink::{Delivery, Sink};
use crate::support::TestApp;
use crate::wired::wire;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../flowroute/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The first `n` `message.received` deliveries (status events of replies left out).
async fn received(sink: &Sink, n: usize) -> Vec<Delivery> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got: Vec<Delivery> = sink.accepted().into_iter().filter(|d| d.json["type"] == "message.received").collect();
        if got.len() >= n {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {} of {n} texts delivered", got.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verified(d: &Delivery, secret: &str) {
    assert!(signing::verify(secret, &d.id, d.timestamp, &d.body, &d.signature), "a bad signature on {d:?}");
    assert!((chrono::Utc::now().timestamp() - d.timestamp).abs() < 60);
    assert_eq!(d.json["id"], d.id.as_str(), "webhook-id is the event's id");
}

#[suite_test]
async fn every_inbound_fixture_reaches_the_pbx_signed(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let fixtures = [
        "inbound_sms_jsonapi.json",
        "inbound_sms_compact.json",
        "inbound_sms_unicode.json",
        "inbound_mms_jsonapi.json",
        "inbound_mms_null_body.json",
    ];
    for f in fixtures {
        let r = app.flowroute("acmein", &fixture(f)).await;
        assert_eq!(r.expect(StatusCode::OK)["status"], "stored", "{f}");
    }
    let got = w.sink.wait_for(fixtures.len(), Duration::from_secs(20)).await;
    assert_eq!(got.len(), fixtures.len());
    let mut ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), fixtures.len(), "one webhook-id per event");
    for d in &got {
        verified(d, &w.secret);
        let data = &d.json["data"];
        assert_eq!(d.json["type"], "message.received");
        assert_eq!(d.json["tenant"], "acme");
        assert_eq!(data["extensions"], json!(["101", "102"]));
        assert_eq!((data["number"].as_str(), data["from"].as_str()), (Some("+12025550100"), Some("+12065550123")));
        assert_eq!(data["contact"]["name"], "Pat Doe");
        assert_eq!(data["company"]["name"], "Doe Plumbing");
        assert!(data["keyword"].is_null());
    }
    let bodies: Vec<&Value> = got.iter().map(|d| &d.json["data"]["body"]).collect();
    assert!(bodies.contains(&&json!("Merci beaucoup! \u{1F600} \u{e0} demain")));
    assert!(bodies.contains(&&Value::Null), "an MMS without text");
    let mms = got.iter().find(|d| d.json["data"]["body"] == "photo of the damage").unwrap();
    let media = mms.json["data"]["media"].as_array().unwrap();
    assert_eq!(media.len(), 2);
    assert_eq!(media[0]["mime_type"], "image/jpeg");
    assert_eq!(media[0]["size"], 662_315);
    assert!(media[0]["url"].as_str().unwrap().starts_with("https://sms.example.net/api/v1/media/"));
    // The message log holds them, newest first, with segments and encoding.
    let log = app.get(&format!("{}/messages?direction=inbound", w.base), &w.token).await;
    let items = log.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), fixtures.len());
    let unicode = items.iter().find(|m| m["body"].as_str().is_some_and(|b| b.starts_with("Merci"))).unwrap();
    assert_eq!((unicode["encoding"].as_i64(), unicode["segments"].as_i64()), (Some(8), Some(1)));
    assert_eq!(unicode["status"], "received");
}

#[suite_test]
async fn unknown_senders_get_the_catch_all_company(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let body = br#"{"to": "12025550100", "from": "12065550199", "body": "who is this?", "id": "mdr2-unknown-1"}"#;
    app.flowroute("acmein", body).await.expect(StatusCode::OK);
    let d = &w.sink.wait_for(1, Duration::from_secs(10)).await[0];
    assert!(d.json["data"]["contact"].is_null());
    assert_eq!(d.json["data"]["company"]["name"], "Unknown senders");
    // A short code is a sender too; it cannot be texted back, so it gets no auto-reply either.
    let body = br#"{"to": "12025550100", "from": "22395", "body": "Your code is 1234", "id": "mdr2-short-1"}"#;
    app.flowroute("acmein", body).await.expect(StatusCode::OK);
    let got = w.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got[1].json["data"]["from"], "22395");
}

#[suite_test]
async fn the_same_text_posted_concurrently_is_stored_and_delivered_once(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let body = fixture("inbound_sms_jsonapi.json");
    let posts = (0..12).map(|_| app.flowroute("acmein", &body));
    let replies = futures_util::future::join_all(posts).await;
    let mut statuses: Vec<&str> =
        replies.iter().map(|r| r.expect(StatusCode::OK)["status"].as_str().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == "stored").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "duplicate").count(), 11);
    let ids: Vec<&Value> = replies.iter().map(|r| &r.json["message_id"]).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "every copy names the one message");
    w.sink.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.sink.accepted().len(), 1, "delivered once");
    let log = app.get(&format!("{}/messages", w.base), &w.token).await;
    assert_eq!(log.json["items"].as_array().unwrap().len(), 1);
    // A later retry by Flowroute is still a duplicate.
    assert_eq!(app.flowroute("acmein", &body).await.json["status"], "duplicate");
}

async fn stored_rows(app: &TestApp) -> (i64, i64, i64, i64) {
    use sea_orm::ConnectionTrait;
    let db = app.db().await;
    let mut counts = Vec::new();
    for table in ["message", "event", "job", "conversation"] {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap();
        counts.push(rows[0].try_get::<i64>("", "n").unwrap());
    }
    db.close().await.ok();
    (counts[0], counts[1], counts[2], counts[3])
}

#[suite_test]
async fn what_must_be_refused_is_refused_and_stores_nothing(app: TestApp) {
    let _a = wire(&app, "acme", "acmein", "+12025550100").await;
    let _b = wire(&app, "globex", "globexin", "+12025550101").await;
    // Globex's number posted on Acme's prefix: 404, and no trace in either tenant.
    let foreign = br#"{"to": "12025550101", "from": "12065550123", "body": "hi", "id": "mdr2-foreign-1"}"#;
    app.flowroute("acmein", foreign).await.problem(StatusCode::NOT_FOUND, "not_found");
    let nobody = br#"{"to": "12025550177", "from": "12065550123", "body": "hi", "id": "mdr2-nobody-1"}"#;
    app.flowroute("acmein", nobody).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.flowroute("no-such-prefix", &fixture("inbound_sms_jsonapi.json"))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.flowroute("acmein", b"{not json").await.problem(StatusCode::BAD_REQUEST, "malformed_body");
    let r = app.flowroute("acmein", br#"{"data": {"type": "message", "attributes": {"to": "12025550100"}}}"#).await;
    assert!(r.problem(StatusCode::BAD_REQUEST, "malformed_body")["detail"].as_str().unwrap().contains("'id'"));
    let big =
        format!(r#"{{"to":"12025550100","from":"12065550123","id":"mdr2-big","body":"{}"}}"#, "x".repeat(1_100_000));
    app.flowroute("acmein", big.as_bytes()).await.problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let receipt = app.flowroute("acmein", &fixture("dlr_jsonapi_level1.json")).await;
    receipt.problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(stored_rows(&app).await, (0, 0, 0, 0), "messages, events, jobs, conversations");
    // A suspended tenant's texts are refused (Flowroute retries them).
    let sys = app.system.clone();
    app.patch("/api/v1/tenants/acme", &sys, json!({"status": "suspended"})).await.expect(StatusCode::OK);
    let r = app.flowroute("acmein", &fixture("inbound_sms_jsonapi.json")).await;
    r.problem(StatusCode::FORBIDDEN, "tenant_suspended");
    app.patch("/api/v1/tenants/acme", &sys, json!({"status": "active"})).await.expect(StatusCode::OK);
    app.flowroute("acmein", &fixture("inbound_sms_jsonapi.json")).await.expect(StatusCode::OK);
    // Moving the number to another tenant takes effect at once (the routing cache is invalidated).
    let a = app.admin("acme");
    app.delete("/api/v1/tenants/acme/numbers/+12025550100", &a).await.expect(StatusCode::NO_CONTENT);
    let again = br#"{"to": "12025550100", "from": "12065550123", "body": "still there?", "id": "mdr2-after-delete"}"#;
    app.flowroute("acmein", again).await.problem(StatusCode::NOT_FOUND, "not_found");
}

#[suite_test]
async fn a_pbx_outage_delays_but_never_loses_or_repeats(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    w.sink.set_down(true);
    for i in 0..4 {
        let body = format!(r#"{{"to":"12025550100","from":"12065550123","body":"part {i}","id":"mdr2-order-{i}"}}"#);
        app.flowroute("acmein", body.as_bytes()).await.expect(StatusCode::OK);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.sink.refused() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the deliverer never tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(w.sink.accepted().is_empty());
    w.sink.set_down(false);
    let got = w.sink.wait_for(4, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after = w.sink.accepted();
    assert_eq!(got_after.len(), 4, "each delivered exactly once: {got_after:?}");
    let bodies: Vec<&str> = got.iter().map(|d| d.json["data"]["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["part 0", "part 1", "part 2", "part 3"], "in order within the conversation");
    for d in &got {
        verified(d, &w.secret);
    }
}

#[suite_test]
async fn a_delivery_that_never_succeeds_goes_dead_with_an_event(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    w.sink.set_down(true);
    app.flowroute("acmein", &fixture("inbound_sms_compact.json")).await.expect(StatusCode::OK);
    // The test schedule: 0.5 s, 1 s, 1 s, so four attempts within a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        use sea_orm::ConnectionTrait;
        let db = app.db().await;
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT state, attempts, last_error FROM job WHERE kind = 'webhook_delivery'".to_owned(),
            ))
            .await
            .unwrap();
        db.close().await.ok();
        let state: String = rows[0].try_get("", "state").unwrap();
        if state == "dead" {
            assert_eq!(rows[0].try_get::<i32>("", "attempts").unwrap(), 4);
            assert!(rows[0].try_get::<String>("", "last_error").unwrap().contains("503"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never went dead (state {state})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(w.sink.refused(), 4);
    use sea_orm::ConnectionTrait;
    let db = app.db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT event_type FROM event ORDER BY seq".to_owned(),
        ))
        .await
        .unwrap();
    let types: Vec<String> = rows.iter().map(|r| r.try_get("", "event_type").unwrap()).collect();
    assert_eq!(types, vec!["message.received", "delivery.dead"]);

    // The admin sees it dead, with each attempt's answer, on the text's timeline too.
    let admin = app.admin("acme");
    let dead = app.get("/api/v1/tenants/acme/webhook-deliveries?state=dead", &admin).await;
    let items = dead.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    let d = &items[0];
    assert_eq!(d["state"], "dead");
    assert_eq!(d["event_type"], "message.received");
    let failures = d["failures"].as_array().unwrap();
    let codes: Vec<i64> = failures.iter().map(|f| f["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, vec![503, 503, 503, 503]);
    let lasts: Vec<bool> = failures.iter().map(|f| f["last"].as_bool().unwrap()).collect();
    assert_eq!(lasts, vec![false, false, false, true]);
    let (id, message) = (d["id"].as_str().unwrap().to_owned(), d["message_id"].as_str().unwrap().to_owned());
    let retrying = app.get("/api/v1/tenants/acme/webhook-deliveries?state=retrying", &admin).await;
    assert_eq!(retrying.expect(StatusCode::OK)["items"], json!([]));
    let timeline = app.get(&format!("/api/v1/tenants/acme/messages/{message}/timeline"), &admin).await;
    let timeline = timeline.expect(StatusCode::OK).clone();
    let types: Vec<&str> = timeline["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["message.received", "delivery.dead"], "{timeline}");
    let jobs = timeline["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{timeline}");
    assert_eq!(jobs[0]["id"], id.as_str());
    assert_eq!(jobs[0]["failures"].as_array().unwrap().len(), 4);
    app.get("/api/v1/tenants/acme/webhook-deliveries?state=gone", &admin)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Another tenant's admin finds none of it.
    app.tenant("globex").await;
    let other = app.admin("globex");
    app.get(&format!("/api/v1/tenants/globex/webhook-deliveries/{id}"), &other).await.expect(StatusCode::NOT_FOUND);
    let their = app.post(&format!("/api/v1/tenants/globex/webhook-deliveries/{id}/replay"), &other, json!({})).await;
    their.expect(StatusCode::NOT_FOUND);
    app.get(&format!("/api/v1/tenants/globex/messages/{message}/timeline"), &other).await.expect(StatusCode::NOT_FOUND);
    let none = app.post("/api/v1/tenants/globex/webhook-deliveries:replay-dead", &other, json!({})).await;
    assert_eq!(none.expect(StatusCode::OK)["replayed"], 0);
    app.get(&format!("/api/v1/tenants/acme/webhook-deliveries/{id}"), &other).await.expect(StatusCode::NOT_FOUND);

    // Played again once the PBX is back: delivered once, with the same webhook-id; the dead one
    // is marked replayed and cannot be played twice.
    w.sink.set_down(false);
    let replay = app.post(&format!("/api/v1/tenants/acme/webhook-deliveries/{id}/replay"), &admin, json!({})).await;
    let replayed = replay.expect(StatusCode::ACCEPTED).clone();
    assert_eq!(replayed["replay_of"], id.as_str());
    let again = app.post(&format!("/api/v1/tenants/acme/webhook-deliveries/{id}/replay"), &admin, json!({})).await;
    again.problem(StatusCode::CONFLICT, "conflict");
    let got = w.sink.wait_for(1, Duration::from_secs(20)).await;
    verified(&got[0], &w.secret);
    assert_eq!(got[0].json["type"], "message.received");
    let old = app.get(&format!("/api/v1/tenants/acme/webhook-deliveries/{id}"), &admin).await;
    assert_eq!(old.expect(StatusCode::OK)["state"], "replayed");
    let new_id = replayed["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let new = app.get(&format!("/api/v1/tenants/acme/webhook-deliveries/{new_id}"), &admin).await;
        if new.expect(StatusCode::OK)["state"] == "done" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the replay never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let none = app.post("/api/v1/tenants/acme/webhook-deliveries:replay-dead", &admin, json!({})).await;
    assert_eq!(none.expect(StatusCode::OK)["replayed"], 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.sink.accepted().len(), 1, "played again exactly once");

    // The attempts go with their tenant.
    let attempts = || crate::support::column(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM delivery_attempt");
    assert_eq!(attempts().await, vec!["4".to_owned()]);
    app.delete("/api/v1/tenants/acme/numbers/+12025550100", &admin).await.expect(StatusCode::NO_CONTENT);
    app.delete("/api/v1/tenants/acme", &app.system.clone()).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(attempts().await, vec!["0".to_owned()]);
}

#[suite_test]
async fn policies_route_reply_and_record_opt_outs(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let policy = app
        .post(
            &format!("{}/policies", w.base),
            &w.token,
            json!({"name": "Desk", "timezone": "UTC", "keywords": [{"keyword": "SALES", "destinations": ["300"]}],
                   "business_hours": [], "help_reply": "Acme: reply STOP to opt out."}),
        )
        .await;
    let pid = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"policy_id": pid}))
        .await
        .expect(StatusCode::OK);
    let text =
        |id: &str, body: &str| format!(r#"{{"to":"12025550100","from":"12065550123","body":"{body}","id":"{id}"}}"#);
    app.flowroute("acmein", text("mdr2-k1", "Sales: a quote please").as_bytes()).await.expect(StatusCode::OK);
    app.flowroute("acmein", text("mdr2-k2", "STOP").as_bytes()).await.expect(StatusCode::OK);
    app.flowroute("acmein", text("mdr2-k3", "help").as_bytes()).await.expect(StatusCode::OK);
    let got = received(&w.sink, 3).await;
    assert_eq!(got[0].json["data"]["extensions"], json!(["300"]), "keyword rule");
    assert_eq!(got[1].json["data"]["keyword"], "STOP");
    assert_eq!(got[1].json["data"]["extensions"], json!(["101", "102"]), "a STOP is still delivered");
    assert_eq!(got[2].json["data"]["keyword"], "HELP");
    let opt = app.get(&format!("{}/opt-outs", w.base), &w.token).await;
    let items = opt.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0]["remote"].as_str(), items[0]["scope"].as_str()), (Some("+12065550123"), Some("+12025550100")));
    // The HELP answer goes out through Flowroute, even to a party that opted out.
    let out = app.get(&format!("{}/messages?direction=outbound", w.base), &w.token).await;
    let out = out.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["body"], "Acme: reply STOP to opt out.");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.sim.accepted().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the HELP reply was never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = &w.sim.accepted()[0];
    assert_eq!((sent.to.as_str(), sent.body.as_deref()), ("12065550123", Some("Acme: reply STOP to opt out.")));
    // START lifts it; disabling an extension takes it out of routing at once.
    app.flowroute("acmein", text("mdr2-k4", "start").as_bytes()).await.expect(StatusCode::OK);
    assert_eq!(app.get(&format!("{}/opt-outs", w.base), &w.token).await.json["items"], json!([]));
    app.patch(&format!("{}/extensions/102", w.base), &w.token, json!({"enabled": false})).await.expect(StatusCode::OK);
    app.flowroute("acmein", text("mdr2-k5", "hello").as_bytes()).await.expect(StatusCode::OK);
    let got = received(&w.sink, 5).await;
    assert_eq!(got[4].json["data"]["extensions"], json!(["101"]));
}

#[suite_test]
async fn after_hours_auto_reply_goes_once_per_interval(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    // The conversation exists before the race, so nothing but its lock can serialise the texts.
    let first = br#"{"to":"12025550100","from":"12065550123","body":"hello","id":"mdr2-ah-first"}"#;
    app.flowroute("acmein", first).await.expect(StatusCode::OK);
    w.always_after_hours(&app, "We are closed.").await;
    let app = &app;
    let posts = (0..6).map(|i| {
        let body = format!(r#"{{"to":"12025550100","from":"12065550123","body":"anyone? {i}","id":"mdr2-ah-{i}"}}"#);
        async move { app.flowroute("acmein", body.as_bytes()).await.status }
    });
    let statuses = futures_util::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    let out = app.get(&format!("{}/messages?direction=outbound", w.base), &w.token).await;
    let out = out.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(out.len(), 1, "six concurrent texts, one auto-reply: {out:?}");
    assert_eq!(out[0]["body"], "We are closed.");
    // Seven texts reach the PBX (besides the auto-reply's status events), all after hours to 200.
    let got = received(&w.sink, 7).await;
    assert!(got[1..].iter().all(|d| d.json["data"]["extensions"] == json!(["200"])));
}

#[suite_test]
async fn a_holiday_is_after_hours_all_day(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    // Always open but for the holidays: today and tomorrow (UTC), so midnight cannot race the test.
    let today = chrono::Utc::now().date_naive();
    let days = [today, today + chrono::Days::new(1)].map(|d| d.format("%Y-%m-%d").to_string());
    let policy = app
        .post(
            &format!("{}/policies", w.base),
            &w.token,
            json!({"name": "Holidays", "timezone": "UTC",
                   "holidays": [{"date": days[0], "name": "Founders' day"}, {"date": days[1]}],
                   "after_hours": {"destinations": ["200"], "auto_reply": "Closed for the holiday."}}),
        )
        .await;
    let policy = policy.expect(StatusCode::CREATED).clone();
    assert_eq!(policy["holidays"][0], json!({"date": days[0], "name": "Founders' day"}));
    assert_eq!(policy["holidays"][1], json!({"date": days[1], "name": null}));
    let pid = policy["id"].as_str().unwrap().to_owned();
    app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"policy_id": pid}))
        .await
        .expect(StatusCode::OK);
    let text = br#"{"to":"12025550100","from":"12065550123","body":"open today?","id":"mdr2-holiday-1"}"#;
    app.flowroute("acmein", text).await.expect(StatusCode::OK);
    let got = received(&w.sink, 1).await;
    assert_eq!(got[0].json["data"]["extensions"], json!(["200"]), "a holiday is after hours");
    let out = app.get(&format!("{}/messages?direction=outbound", w.base), &w.token).await;
    assert_eq!(out.expect(StatusCode::OK)["items"][0]["body"], "Closed for the holiday.");
    // Without the holidays, the number's own destinations again.
    let path = format!("{}/policies/{pid}", w.base);
    let cleared = app.patch(&path, &w.token, json!({"holidays": []})).await;
    assert_eq!(cleared.expect(StatusCode::OK)["holidays"], json!([]));
    let text = br#"{"to":"12025550100","from":"12065550123","body":"and now?","id":"mdr2-holiday-2"}"#;
    app.flowroute("acmein", text).await.expect(StatusCode::OK);
    let got = received(&w.sink, 2).await;
    assert_eq!(got[1].json["data"]["extensions"], json!(["101", "102"]));
    // A date that is not one, or one listed twice, is refused by field.
    let bad = app
        .patch(
            &path,
            &w.token,
            json!({"holidays": [{"date": "2026-02-30"}, {"date": "2026-12-25"}, {"date": "2026-12-25"}]}),
        )
        .await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(bad.fields(), vec!["holidays[0].date", "holidays[2].date"]);
}

#[suite_test]
async fn the_operator_sees_each_tenants_use_by_month(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    app.tenant("globex").await;
    let long = "x".repeat(200); // two GSM-7 segments
    for (i, body) in ["hello", long.as_str()].iter().enumerate() {
        let text = format!(r#"{{"to":"12025550100","from":"12065550123","body":"{body}","id":"mdr2-use-{i}"}}"#);
        app.flowroute("acmein", text.as_bytes()).await.expect(StatusCode::OK);
    }
    let sys = app.system.clone();
    let now = app.get("/api/v1/usage", &sys).await;
    let now = now.expect(StatusCode::OK).clone();
    assert_eq!(now["month"], chrono::Utc::now().format("%Y-%m").to_string());
    let of = |slug: &str| now["tenants"].as_array().unwrap().iter().find(|t| t["slug"] == slug).unwrap().clone();
    let acme = of("acme");
    assert_eq!((acme["texts_in"].as_u64(), acme["segments_in"].as_u64()), (Some(2), Some(3)), "{acme}");
    assert_eq!((acme["texts_out"].as_u64(), acme["numbers"].as_u64()), (Some(0), Some(1)), "{acme}");
    let globex = of("globex");
    assert_eq!((globex["texts_in"].as_u64(), globex["numbers"].as_u64()), (Some(0), Some(0)), "{globex}");
    let before = app.get("/api/v1/usage?month=2020-01", &sys).await;
    let before = before.expect(StatusCode::OK).clone();
    assert!(before["tenants"].as_array().unwrap().iter().all(|t| t["texts_in"] == 0), "{before}");
    assert_eq!(before["since"], "2020-01-01T00:00:00Z");
    assert_eq!(before["until"], "2020-02-01T00:00:00Z");
    for bad in ["2026-13", "2026-1", "december", "2026-12-01"] {
        let r = app.get(&format!("/api/v1/usage?month={bad}"), &sys).await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(r.fields(), vec!["month"], "{bad}");
    }
    // A tenant's admin sees no one's use, its own included, here.
    app.get("/api/v1/usage", &w.token).await.expect(StatusCode::FORBIDDEN);
}

#[suite_test]
async fn delivery_receipts_move_status_forward_only(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let tenant_id = uuid::Uuid::parse_str(app.get(&w.base, &w.token).await.json["id"].as_str().unwrap()).unwrap();
    let id = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    app.sql(
        "INSERT INTO message (id, tenant_id, direction, number, remote, body, media, segments, encoding, status, \
         provider_message_id, extensions, sender_extension, created_at, updated_at) VALUES ($1, $2, 'outbound', \
         '+12025550100', '+12065550123', 'Your appointment is confirmed', $3, 1, 0, 'sending', \
         'mdr2-39cadeace66e11e7aff806cd7f24ba2d', $4, '101', $5, $6)",
        vec![id.into(), tenant_id.into(), json!([]).into(), json!([]).into(), now.into(), now.into()],
    )
    .await;
    let path = format!("{}/messages/{id}", w.base);
    let status = || app.get(&path, &w.token);
    let r = app.flowroute("acmein", &fixture("dlr_jsonapi_level1.json")).await;
    assert_eq!(r.expect(StatusCode::OK)["status"], "receipt_applied");
    assert_eq!(status().await.json["status"], "sent");
    let r = app.flowroute("acmein", &fixture("dlr_jsonapi_level2.json")).await;
    assert_eq!(r.expect(StatusCode::OK)["status"], "receipt_unchanged", "1003 is still 'sent'");
    let r = app.flowroute("acmein", &fixture("dlr_jsonapi_failed.json")).await;
    assert_eq!(r.expect(StatusCode::OK)["status"], "receipt_applied");
    let m = status().await.json;
    assert_eq!((m["status"].as_str(), m["error_code"].as_i64()), (Some("failed"), Some(1110)));
    assert_eq!(m["error_message"], "User Opted Out (STOP)");
    for late in ["dlr_jsonapi_level1.json", "dlr_compact.json", "dlr_jsonapi_failed.json"] {
        let r = app.flowroute("acmein", &fixture(late)).await;
        assert_ne!(r.json["status"], "receipt_applied", "{late} must not move a final status");
    }
    assert_eq!(status().await.json["status"], "failed");
    let got = w.sink.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.sink.accepted().len(), 2, "one event per change");
    assert_eq!(got[0].json["type"], "message.status");
    assert_eq!(got[0].json["data"]["status"], "sent");
    assert_eq!(got[1].json["data"]["status"], "failed");
    assert_eq!(got[1].json["data"]["error_code"], 1110);
    assert_eq!(got[1].json["data"]["sender_extension"], "101");
    let _ = &w.provider;
}

#[suite_test]
async fn a_rotated_secret_signs_alongside_the_previous_one(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let rotated = app.post("/api/v1/tenants/acme/webhook-secret:rotate", &w.token, json!({})).await;
    let new_secret = rotated.expect(StatusCode::OK)["webhook_secret"].as_str().unwrap().to_owned();
    app.flowroute("acmein", &fixture("inbound_sms_compact.json")).await.expect(StatusCode::OK);
    let d = &w.sink.wait_for(1, Duration::from_secs(10)).await[0];
    assert_eq!(d.signature.split(' ').count(), 2, "both signatures during the grace period: {}", d.signature);
    verified(d, &new_secret);
    verified(d, &w.secret);
    assert!(!signing::verify("whsec_c29tZS1vdGhlci1zZWNyZXQ=", &d.id, d.timestamp, &d.body, &d.signature));
}

#[suite_test]
async fn a_hardened_prefix_answers_only_its_token_and_sources(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let p = format!("{}/prefixes/acmein", w.base);
    let token = "tok_0123456789abcdef";
    let r = app.patch(&p, &w.token, json!({"token": token})).await;
    let body = r.expect(StatusCode::OK).clone();
    assert_eq!(body["token_required"], true);
    assert!(!r.text.contains(token), "the token is never shown back");
    let text = |n: u32| format!(r#"{{"to":"12025550100","from":"12065550123","body":"t{n}","id":"mdr2-tok-{n}"}}"#);
    app.flowroute("acmein", text(1).as_bytes()).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.flowroute("acmein?token=tok_0123456789abcdeX", text(2).as_bytes())
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let ok = app.flowroute(&format!("acmein?token={token}"), text(3).as_bytes()).await;
    assert_eq!(ok.expect(StatusCode::OK)["status"], "stored");
    // Texts sent from the number ask for receipts at a URL that carries the token.
    let ext = app.token(switchboard_http::Role::Extension, Some("acme"), Some("101"));
    app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "hi"})).await.expect(StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.sim.accepted().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        w.sim.accepted()[0].dlr_callback.as_deref(),
        Some(format!("https://sms.example.net/acmein?token={token}").as_str())
    );

    // Flowroute's documented addresses only: this test's 127.0.0.1 is refused, then allowed.
    app.patch(&p, &w.token, json!({"allowed_sources": ["flowroute"]})).await.expect(StatusCode::OK);
    app.flowroute(&format!("acmein?token={token}"), text(4).as_bytes())
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let r = app.patch(&p, &w.token, json!({"allowed_sources": ["flowroute", "127.0.0.0/8"], "token": null})).await;
    assert_eq!(r.expect(StatusCode::OK)["allowed_sources"], json!(["flowroute", "127.0.0.0/8"]));
    assert_eq!(r.json["token_required"], false);
    assert_eq!(app.flowroute("acmein", text(5).as_bytes()).await.expect(StatusCode::OK)["status"], "stored");
    let r = app.patch(&p, &w.token, json!({"token": "short", "allowed_sources": ["not-an-address"]})).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["allowed_sources", "token"]);
    let texts = app.get(&format!("{}/messages?direction=inbound", w.base), &w.token).await;
    assert_eq!(texts.json["items"].as_array().unwrap().len(), 2, "only the accepted callbacks were stored");
}

/// A batch as the store's lanes write it, given directly so that its make-up is certain: copies
/// of one text, a text that cannot be written, three texts of one conversation.
#[suite_test]
async fn a_batch_keeps_every_promise_of_a_single_text(app: TestApp) {
    use base64::Engine as _;
    use switchboard_core::routing::{Reply, RouteDecision, RouteReason};
    use switchboard_store::inbound::{InboundOutcome, InboundText};

    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let tenant: uuid::Uuid =
        app.get("/api/v1/tenants/acme", &w.token).await.expect(StatusCode::OK)["id"].as_str().unwrap().parse().unwrap();
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = switchboard_store::Store::connect(&app.database_url, &key).await.unwrap();
    let text = |tenant: uuid::Uuid, id: &str, from: &str| InboundText {
        tenant_id: tenant,
        provider_message_id: id.to_owned(),
        number: "+12025550100".into(),
        remote: from.to_owned(),
        remote_reachable: true,
        body: Some(format!("text {id}")),
        media: vec![],
        media_dropped: 0,
        catch_all_company_id: None,
        media_base_url: format!("{}/api/v1/media", app.base),
    };
    // Auto-replies when the conversation never had one: the batch must pass each text the state
    // the texts before it left.
    let decide = |last: Option<chrono::DateTime<chrono::Utc>>| RouteDecision {
        destinations: vec!["101".into()],
        reason: RouteReason::Default,
        keyword: None,
        opt_out: None,
        replies: if last.is_none() { vec![Reply::AutoReply { body: "Thanks!".into() }] } else { vec![] },
    };
    // Not a tenant: its rows break a foreign key on both databases, which fails the whole batch.
    let stranger = uuid::Uuid::from_u128(tenant.as_u128() ^ 0xff);
    let batch = vec![
        (text(tenant, "mdr2-b1", "+12065550123"), decide),
        (text(tenant, "mdr2-b1", "+12065550123"), decide),
        (text(stranger, "mdr2-b2", "+12065550123"), decide),
        (text(tenant, "mdr2-b3", "+12065550123"), decide),
        (text(tenant, "mdr2-b4", "+12065550124"), decide),
        (text(tenant, "mdr2-b5", "+12065550123"), decide),
    ];
    let out = store.record_inbound_batch(batch).await;
    let stored = |i: usize| match &out[i] {
        Ok(InboundOutcome::Stored { message_id, .. }) => *message_id,
        other => panic!("text {i} not stored: {other:?}"),
    };
    let first = stored(0);
    assert!(matches!(out[1], Ok(InboundOutcome::Duplicate { message_id }) if message_id == first), "{:?}", out[1]);
    assert!(matches!(out[2], Err(switchboard_store::StoreError::Conflict(_))), "{:?}", out[2]);
    let ids = [first, stored(3), stored(4), stored(5)];

    // The same again, all good now: one batch, copies of one text inside it.
    let again = vec![
        (text(tenant, "mdr2-b6", "+12065550125"), decide),
        (text(tenant, "mdr2-b6", "+12065550125"), decide),
        (text(tenant, "mdr2-b3", "+12065550123"), decide),
    ];
    let out = store.record_inbound_batch(again).await;
    let sixth = match &out[0] {
        Ok(InboundOutcome::Stored { message_id, .. }) => *message_id,
        other => panic!("{other:?}"),
    };
    assert!(matches!(out[1], Ok(InboundOutcome::Duplicate { message_id }) if message_id == sixth), "{:?}", out[1]);
    assert!(matches!(out[2], Ok(InboundOutcome::Duplicate { message_id }) if message_id == ids[1]), "{:?}", out[2]);
    store.close().await;

    // Five texts stored, nothing of the stranger's; one auto-reply per conversation.
    let (messages, _, _, conversations) = stored_rows(&app).await;
    assert_eq!((messages, conversations), (5 + 3, 3), "5 texts and 3 replies in 3 conversations");
    let received_events =
        crate::support::column(&app, "SELECT event_type FROM event WHERE event_type = 'message.received'").await;
    assert_eq!(received_events.len(), 5);
    let out = app.get(&format!("{}/messages?direction=outbound", w.base), &w.token).await;
    let replies = out.expect(StatusCode::OK)["items"].as_array().unwrap().len();
    assert_eq!(replies, 3, "one auto-reply per conversation, not per text");
    // The PBX gets each text once, each conversation's in order.
    let got = received(&w.sink, 5).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_ids: Vec<String> =
        received(&w.sink, 5).await.iter().map(|d| d.json["data"]["message_id"].to_string()).collect();
    assert_eq!(got_ids.len(), 5, "each text once: {got_ids:?}");
    let order: Vec<String> = got
        .iter()
        .filter(|d| d.json["data"]["from"] == "+12065550123")
        .map(|d| d.json["data"]["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, [ids[0], ids[1], ids[3]].map(|i| i.to_string()), "one conversation, in order");
}

#[suite_test]
async fn overlong_media_names_are_shortened_not_refused(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let long_name = format!("{}.jpg", "a".repeat(400));
    let long_type = format!("image/{}", "x".repeat(300));
    let body = String::from_utf8(fixture("inbound_mms_jsonapi.json"))
        .unwrap()
        .replace(r#""file_name": "IMG_6735.jpg""#, &format!(r#""file_name": "{long_name}""#))
        .replace(r#""mime_type": "image/jpeg""#, &format!(r#""mime_type": "{long_type}""#));
    // Refused, it would come back from Flowroute for ever; stored whole, it would not fit PostgreSQL's columns.
    app.flowroute("acmein", body.as_bytes()).await.expect(StatusCode::OK);
    let got = received(&w.sink, 1).await;
    let media = &got[0].json["data"]["media"][0];
    assert_eq!(media["file_name"].as_str().unwrap(), &long_name[..255]);
    assert_eq!(media["mime_type"].as_str().unwrap(), &long_type[..127]);
}

/// Provider ids are unique per tenant: another tenant's text with the same id (another Flowroute
/// account, or a forged callback) is not a duplicate of this tenant's, and is not dropped.
#[suite_test]
async fn provider_ids_are_unique_per_tenant_only(app: TestApp) {
    let acme = wire(&app, "acme", "acmein", "+12025550100").await;
    let globex = wire(&app, "globex", "globexin", "+12025550199").await;
    let text = |to: &str| format!(r#"{{"to":"{to}","from":"12065550123","body":"same id","id":"mdr2-shared-1"}}"#);
    let first = app.flowroute("globexin", text("12025550199").as_bytes()).await;
    assert_eq!(first.expect(StatusCode::OK)["status"], "stored");
    let second = app.flowroute("acmein", text("12025550100").as_bytes()).await;
    assert_eq!(second.expect(StatusCode::OK)["status"], "stored", "another tenant's id is no duplicate");
    let again = app.flowroute("acmein", text("12025550100").as_bytes()).await;
    assert_eq!(again.expect(StatusCode::OK)["status"], "duplicate", "the same tenant's is");
    assert_ne!(second.json["message_id"], first.json["message_id"]);
    assert_eq!(again.json["message_id"], second.json["message_id"]);
    // The same through the batch path, both tenants' copies in one batch.
    let batch: Vec<_> = (0..6)
        .map(|i| {
            let (prefix, to) = if i % 2 == 0 { ("acmein", "12025550100") } else { ("globexin", "12025550199") };
            let body = format!(r#"{{"to":"{to}","from":"12065550124","body":"b","id":"mdr2-shared-2"}}"#);
            let app = &app;
            async move { app.flowroute(prefix, body.as_bytes()).await.json["status"].as_str().unwrap().to_owned() }
        })
        .collect();
    let mut statuses = futures_util::future::join_all(batch).await;
    statuses.sort();
    assert_eq!(statuses, ["duplicate", "duplicate", "duplicate", "duplicate", "stored", "stored"]);
    for (w, n) in [(&acme, 2), (&globex, 2)] {
        let got = w.sink.wait_for(n, Duration::from_secs(10)).await;
        assert_eq!(got.len(), n, "each tenant's PBX gets each of its texts once");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((acme.sink.accepted().len(), globex.sink.accepted().len()), (2, 2));
}

/// Automatic replies (HELP's answer, the after-hours text) go only to US and Canadian numbers, and
/// at most once a day to one remote from one number: forged or pumped senders cannot turn texts
/// into a stream of paid replies.
#[suite_test]
async fn automatic_replies_go_to_nanp_numbers_at_most_daily(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let policy = app
        .post(
            &format!("{}/policies", w.base),
            &w.token,
            json!({"name": "Closed", "timezone": "UTC", "help_reply": "Acme: reply STOP to opt out.",
                   "business_hours": [{"days": ["mon"], "start": "00:00", "end": "00:01"}],
                   "after_hours": {"auto_reply": "We are closed."}}),
        )
        .await;
    let pid = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"policy_id": pid}))
        .await
        .expect(StatusCode::OK);
    let text = |id: &str, from: &str, body: &str| {
        format!(r#"{{"to":"12025550100","from":"{from}","body":"{body}","id":"{id}"}}"#).into_bytes()
    };
    for (i, body) in ["hello", "HELP", "hello again", "help"].iter().enumerate() {
        let r = app.flowroute("acmein", &text(&format!("mdr2-d{i}"), "12065550123", body)).await;
        assert_eq!(r.expect(StatusCode::OK)["status"], "stored");
    }
    // International, and a short code: stored and delivered, never answered.
    for (i, from) in ["442071838750", "88811"].iter().enumerate() {
        app.flowroute("acmein", &text(&format!("mdr2-i{i}"), from, "HELP")).await.expect(StatusCode::OK);
    }
    let url = format!("{}/messages?direction=outbound", w.base);
    let outbound = || async {
        let r = app.get(&url, &w.token).await;
        let items = r.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
        items.iter().map(|m| (m["remote"].clone(), m["body"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(outbound().await, [(json!("+12065550123"), json!("We are closed."))], "one reply in the day");
    // A day later the remote may be answered again.
    let day_ago = chrono::Utc::now() - chrono::Duration::hours(25);
    crate::support::execute(&app, "UPDATE conversation SET last_auto_reply_at = $1", vec![day_ago.into()]).await;
    app.flowroute("acmein", &text("mdr2-d9", "12065550123", "HELP")).await.expect(StatusCode::OK);
    let out = outbound().await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.contains(&(json!("+12065550123"), json!("Acme: reply STOP to opt out."))), "{out:?}");
}

/// One tenant whose PBX never answers, with a thousand deliveries queued (a thousand conversations,
/// so a thousand are due at once), holds its share of the deliverer and no more: another tenant's
/// texts reach its PBX within a second each, p99 over twenty.
#[suite_test]
async fn a_hanging_pbx_does_not_slow_another_tenant(app: TestApp) {
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/hook", hanging.local_addr().unwrap());
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    // Reads each request and answers nothing, counting the connections open at once.
    let (held, most) = (std::sync::Arc::new(AtomicUsize::new(0)), std::sync::Arc::new(AtomicUsize::new(0)));
    let (h, m) = (held.clone(), most.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = hanging.accept().await {
            let (h, m) = (h.clone(), m.clone());
            tokio::spawn(async move {
                m.fetch_max(h.fetch_add(1, SeqCst) + 1, SeqCst);
                let mut buf = [0u8; 4096];
                while tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await.is_ok_and(|n| n > 0) {}
                h.fetch_sub(1, SeqCst);
            });
        }
    });
    let a = wire(&app, "acme", "acmein", "+12025550100").await;
    app.patch(&a.base, &app.system, json!({"webhook_url": hanging_url})).await.expect(StatusCode::OK);
    let b = wire(&app, "globex", "globexin", "+12025550199").await;
    let posts = (0..1000).map(|i| {
        let body = format!(
            r#"{{"to":"12025550100","from":"1206{:07}","body":"flood {i}","id":"mdr2-flood-{i}"}}"#,
            5_550_000 + i
        );
        let app = &app;
        async move { app.flowroute("acmein", body.as_bytes()).await.status }
    });
    let statuses: Vec<StatusCode> = futures_util::stream::iter(posts).buffer_unordered(16).collect().await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{:?}", statuses.iter().find(|s| **s != StatusCode::OK));
    // A's deliveries are hanging now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while held.load(SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "A's PBX was never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies = Vec::new();
    for i in 0..20 {
        let body = format!(r#"{{"to":"12025550199","from":"12065550123","body":"b {i}","id":"mdr2-b-{i}"}}"#);
        let started = std::time::Instant::now();
        app.flowroute("globexin", body.as_bytes()).await.expect(StatusCode::OK);
        while b.sink.accepted().len() <= i {
            assert!(started.elapsed() < Duration::from_secs(30), "B's text {i} never arrived");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p99 = latencies[latencies.len() - 1];
    assert!(p99 < Duration::from_secs(1), "B's p99 {p99:?} with A's PBX hanging: {latencies:?}");
    // A held its share of the deliverer (a quarter) at once, and no more.
    let share = usize::try_from(switchboard_engine::EngineConfig::new("http://x").webhook_per_tenant).unwrap();
    let most = most.load(SeqCst);
    assert!((1..=share).contains(&most), "A's PBX had {most} requests open at once");
}

/// A PBX that keeps failing is backed off as a whole: after a few failures in a row its deliveries
/// wait (without spending their retries) and one probe a cooldown tries it, instead of each
/// delivery hammering it on its own schedule; the tenant hears of it through events, and when the
/// PBX answers again everything is delivered, once.
#[suite_test]
async fn a_failing_pbx_is_backed_off_as_a_whole(app: TestApp) {
    use futures_util::StreamExt;
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    w.sink.set_down(true);
    let posts = (0..30).map(|i| {
        let body =
            format!(r#"{{"to":"12025550100","from":"1206{:07}","body":"t {i}","id":"mdr2-cb-{i}"}}"#, 5_550_000 + i);
        let app = &app;
        async move { app.flowroute("acmein", body.as_bytes()).await.status }
    });
    let statuses: Vec<StatusCode> = futures_util::stream::iter(posts).buffer_unordered(8).collect().await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    // Thirty deliveries retried every second or less would be over a hundred requests by now. Backed
    // off as a whole, the PBX sees each delivery's first attempt at most (a tenant's share of the
    // deliverer is more than thirty, so all may be on their way before five failures open the
    // breaker) and a probe.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let refused = w.sink.refused();
    assert!((5..=32).contains(&refused), "the failing PBX got {refused} requests in 4 s");
    let types = crate::support::column(&app, "SELECT event_type FROM event ORDER BY id").await;
    assert!(types.iter().any(|t| t == "endpoint.unavailable"), "{types:?}");
    w.sink.set_down(false);
    let got = w.sink.wait_for(30, Duration::from_secs(30)).await;
    let mut ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "each delivered once");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.sink.accepted().len(), 30, "nothing delivered twice");
    let types = crate::support::column(&app, "SELECT event_type FROM event ORDER BY id").await;
    assert!(types.iter().any(|t| t == "endpoint.recovered"), "{types:?}");
    let dead = crate::support::column(&app, "SELECT kind FROM job WHERE state = 'dead'").await;
    assert!(dead.is_empty(), "deliveries died while the PBX was backed off: {dead:?}");
}
