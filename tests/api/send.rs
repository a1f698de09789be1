//! Sending: validation, sender resolution, opt-outs and idempotency, each refusal with its code.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::support::{Reply, TestApp};
use crate::wired::wire;

async fn send(app: &TestApp, token: &str, body: Value, key: Option<&str>) -> Reply {
    let mut req = app.client.post(format!("{}/api/v1/messages", app.base)).bearer_auth(token).json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    Reply::read(req.send().await.unwrap()).await
}

#[suite_test]
async fn extensions_send_from_their_numbers_and_refusals_say_why(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let ext102 = app.token(Role::Extension, Some("acme"), Some("102"));
    let r = send(&app, &ext101, json!({"to": "+12065550123", "body": "Your appointment is confirmed"}), None).await;
    let q = r.expect(StatusCode::ACCEPTED).clone();
    assert_eq!(
        (q["status"].as_str(), q["from"].as_str(), q["to"].as_str()),
        (Some("queued"), Some("+12025550100"), Some("+12065550123"))
    );
    assert_eq!(q["segments"], 1);
    let long = "é".repeat(71);
    let r = send(&app, &ext101, json!({"to": "+12065550123", "body": long}), None).await;
    assert_eq!(r.expect(StatusCode::ACCEPTED)["segments"], 2, "UCS-2 at 70 per segment");

    // The PBX hears of it, and the sender's inbox holds it.
    let got = w.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(
        (got[0].json["type"].as_str(), got[0].json["data"]["status"].as_str()),
        (Some("message.status"), Some("queued"))
    );
    assert_eq!(got[0].json["data"]["sender_extension"], "101");
    let mine = app.get("/api/v1/conversations/+12065550123/messages", &ext101).await;
    assert_eq!(mine.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 2);

    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "ext101",
            json!({"to": "+442071838750", "body": "hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_destination",
        ),
        ("ext101", json!({"to": "2065550123", "body": "hi"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("ext101", json!({"to": "+12065550123"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            "ext101",
            json!({"to": "+12065550123", "media_urls": ["http://files.example.net/a.png"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "ext101",
            json!({"to": "+12065550123", "body": "hi", "from": "+12025550177"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "sender_not_allowed",
        ),
        ("ext102", json!({"to": "+12065550123", "body": "hi"}), StatusCode::UNPROCESSABLE_ENTITY, "sender_not_allowed"),
        (
            "ext102",
            json!({"to": "+12065550123", "body": "hi", "from": "+12025550100"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "sender_not_allowed",
        ),
    ];
    for (who, body, status, code) in cases {
        let token = if who == "ext101" { &ext101 } else { &ext102 };
        let r = send(&app, token, body.clone(), None).await;
        assert_eq!(r.status, status, "{who} {body}: {}", r.text);
        r.problem(status, code);
    }
    // With a provider default number, an extension without a number of its own can send.
    app.patch(&format!("{}/providers/{}", w.base, w.provider), &w.token, json!({"default_did": "+12025550100"}))
        .await
        .expect(StatusCode::OK);
    let r = send(&app, &ext102, json!({"to": "+12065550124", "body": "hello"}), None).await;
    assert_eq!(r.expect(StatusCode::ACCEPTED)["from"], "+12025550100");
    // A disabled extension may not send.
    app.patch(&format!("{}/extensions/102", w.base), &w.token, json!({"enabled": false})).await.expect(StatusCode::OK);
    send(&app, &ext102, json!({"to": "+12065550124", "body": "hello"}), None)
        .await
        .problem(StatusCode::FORBIDDEN, "extension_disabled");
    // A tenant admin names the number.
    let r = app
        .post(&format!("{}/messages", w.base), &w.token, json!({"to": "+12065550125", "body": "from the office"}))
        .await;
    assert_eq!(r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone()["errors"][0]["field"], "from");
    let r = app
        .post(
            &format!("{}/messages", w.base),
            &w.token,
            json!({"to": "+12065550125", "body": "from the office", "from": "+12025550100"}),
        )
        .await;
    r.expect(StatusCode::ACCEPTED);
    // A party that texted STOP cannot be texted from that number.
    let stop = br#"{"to":"12025550100","from":"12065550123","body":"STOP","id":"mdr2-stop-1"}"#;
    app.flowroute("acmein", stop).await.expect(StatusCode::OK);
    send(&app, &ext101, json!({"to": "+12065550123", "body": "one more thing"}), None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "opted_out");
    let out = app.get(&format!("{}/messages?direction=outbound", w.base), &w.token).await;
    assert_eq!(out.json["items"].as_array().unwrap().len(), 4, "refused sends queued nothing");
    let _ = Method::POST;
}

#[suite_test]
async fn an_idempotency_key_sends_once(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let body = json!({"to": "+12065550123", "body": "Your appointment is confirmed"});
    let app_ref = &app;
    let tries = (0..6).map(|_| {
        let (token, body) = (ext101.clone(), body.clone());
        async move { send(app_ref, &token, body, Some("booking-42")).await }
    });
    let replies = futures_util::future::join_all(tries).await;
    let ids: Vec<Value> = replies.iter().map(|r| r.expect(StatusCode::ACCEPTED)["id"].clone()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one message for one key: {ids:?}");
    let out = app.get(&format!("{}/messages?direction=outbound", w.base), &w.token).await;
    assert_eq!(out.json["items"].as_array().unwrap().len(), 1);
    let other = send(&app, &ext101, json!({"to": "+12065550123", "body": "something else"}), Some("booking-42")).await;
    other.problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_conflict");
    // Keys are per sender: another extension's same key is its own.
    app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"senders": ["101", "102"]}))
        .await
        .expect(StatusCode::OK);
    let ext102 = app.token(Role::Extension, Some("acme"), Some("102"));
    let theirs = send(&app, &ext102, body.clone(), Some("booking-42")).await;
    assert_ne!(theirs.expect(StatusCode::ACCEPTED)["id"], ids[0]);
}

/// A send reads the sender's rights inside its own transaction: with a pool of one connection,
/// which the transaction holds, a read through the pool beside it would wait for ever (and, with
/// more connections, race the write it guards).
#[suite_test]
async fn sends_read_the_senders_rights_inside_their_transaction(app: TestApp) {
    use base64::Engine as _;
    use switchboard_store::outbound::{SendInput, Sender};

    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let tenant: uuid::Uuid =
        app.get(&w.base, &w.token).await.expect(StatusCode::OK)["id"].as_str().unwrap().parse().unwrap();
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = switchboard_store::Store::connect_with(&app.database_url, &key, 1).await.unwrap();
    let sends = (0..8).map(|i| {
        let store = store.clone();
        async move {
            let input = SendInput {
                to: format!("+1206555{:04}", 100 + i),
                body: Some(format!("text {i}")),
                from: Some("+12025550100".into()),
                media_urls: vec![],
                attachments: vec![],
                automated: false,
            };
            tokio::time::timeout(
                Duration::from_secs(20),
                store.queue_outbound(tenant, Sender::Extension("101".into()), input, None),
            )
            .await
        }
    });
    for (i, outcome) in futures_util::future::join_all(sends).await.into_iter().enumerate() {
        match outcome {
            Ok(Ok((queued, _))) => assert_eq!(queued.status, "queued", "send {i}"),
            Ok(Err(e)) => panic!("send {i} failed: {e}"),
            Err(_) => panic!("send {i} hung"),
        }
    }
    // And the rule it reads still holds: 102 is no sender of the number.
    let input = SendInput {
        to: "+12065550123".into(),
        body: Some("hi".into()),
        from: Some("+12025550100".into()),
        media_urls: vec![],
        attachments: vec![],
        automated: false,
    };
    let refused = store.queue_outbound(tenant, Sender::Extension("102".into()), input, None).await;
    assert!(refused.is_err(), "102 may not send from the number: {refused:?}");
}
