//! Instances on one PostgreSQL tell each other what they wrote (`LISTEN/NOTIFY`): a configuration
//! change made through one is used by another within a second (its routing cache otherwise keeps
//! an entry 60 s), a text taken by one reaches a stream on another within a second (its fallback
//! poll is 2 s), and both hold after the listener's connection is killed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::load;
use crate::server::{Server, take_over};
use crate::support::TestApp;

fn text(id: &str) -> Vec<u8> {
    format!(r#"{{"to":"12025550100","from":"12065550123","body":"note {id}","id":"mdr2-notes-{id}"}}"#).into_bytes()
}

/// Posts text `id` to `base`, then waits for the PBX to get it and answers where it was routed.
async fn routed(base: &str, id: &str, w: &crate::wired::Wired) -> Value {
    let client = load::client();
    let res = client.post(format!("{base}/acmein")).header("content-type", "application/json").body(text(id));
    assert_eq!(res.send().await.unwrap().status(), StatusCode::OK, "text {id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = w.sink.accepted().into_iter().find(|d| d.json["data"]["body"] == format!("note {id}"));
        if let Some(d) = found {
            return d.json["data"]["extensions"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "text {id} never reached the PBX");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Changes where the number's texts go, through `base`, and answers when the change committed.
async fn route_to(app: &TestApp, base: &str, w: &crate::wired::Wired, ext: &str) -> tokio::time::Instant {
    let url = format!("{base}{}/numbers/+12025550100", w.base);
    let res = app.client.patch(url).bearer_auth(&w.token).json(&json!({"destinations": [ext]})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    tokio::time::Instant::now()
}

/// Changes the routing through `a` and posts texts to `b` until one goes where the change says;
/// answers how long after the change that took.
async fn change_seen(app: &TestApp, a: &str, b: &str, w: &crate::wired::Wired, ext: &str, tag: &str) -> Duration {
    let changed = route_to(app, a, w, ext).await;
    let mut tries = 0;
    loop {
        tries += 1;
        let went = routed(b, &format!("{tag}-{tries}"), w).await;
        if went == json!([ext]) {
            return changed.elapsed();
        }
        assert!(changed.elapsed() < Duration::from_secs(5), "after 5 s the other instance still routes to {went}");
    }
}

/// Reads a stream until an event of `kind` about body `body` arrives; answers when.
async fn event_seen(res: &mut reqwest::Response, buf: &mut String, body: &str) -> tokio::time::Instant {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(at) = buf.find(&format!("\"body\":\"{body}\"")) {
            buf.drain(..at + body.len());
            return tokio::time::Instant::now();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(bytes))) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("the stream never showed {body}: {other:?}"),
        }
    }
}

#[suite_test(crate::On::Postgres)]
async fn instances_hear_each_others_changes_within_a_second(mut app: TestApp) {
    let (dir, _log, a, w) = take_over(&mut app).await;
    let b = Server::start(&app, &dir.path().join("second.log")).await;

    // B routes by the number's destinations, and keeps them in its cache.
    assert_eq!(routed(&b.base, "warm", &w).await, json!(["101", "102"]));
    let took = change_seen(&app, &a.base, &b.base, &w, "200", "first").await;
    println!("B used A's change after {took:?}");
    assert!(took < Duration::from_secs(1), "B used A's change after {took:?}");

    // A stream on B sees texts A took, each within a second (B's own poll looks every 2 s).
    let admin = app.token(Role::TenantAdmin, Some("acme"), None);
    let mut stream = app.client.get(format!("{}/api/v1/events", b.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut buf = String::new();
    let mut waits = Vec::new();
    for i in 0..5 {
        let id = format!("live-{i}");
        let posted = tokio::time::Instant::now();
        let res = load::client().post(format!("{}/acmein", a.base)).header("content-type", "application/json");
        assert_eq!(res.body(text(&id)).send().await.unwrap().status(), StatusCode::OK);
        waits.push(event_seen(&mut stream, &mut buf, &format!("note {id}")).await - posted);
    }
    waits.sort();
    println!("a stream on B saw A's texts after {waits:?}");
    assert!(waits[4] < Duration::from_secs(1), "a stream on B saw A's texts after {waits:?}");
    assert!(waits[2] < Duration::from_millis(500), "the median wait was {:?}: {waits:?}", waits[2]);

    // Kill the connections that listen, as a failover or an idle-connection reaper would: each
    // instance notices, listens again and catches up, and changes still travel within a second.
    let killed = crate::support::column(
        &app,
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;
    assert_eq!(killed, ["true", "true"], "one listener per instance");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while crate::support::column(
        &app,
        "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await
        != ["2"]
    {
        assert!(tokio::time::Instant::now() < deadline, "the instances did not listen again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = change_seen(&app, &a.base, &b.base, &w, "300", "after").await;
    assert!(took < Duration::from_secs(1), "after the listeners were killed, B used A's change after {took:?}");
    drop((a, b));
}
