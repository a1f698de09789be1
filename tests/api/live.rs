//! The extension API: live events over SSE with resume, and the inbox (conversations, messages,
//! mark-read), each scoped to what the caller may see.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_http::Role;

use crate::support::TestApp;
use crate::wired::wire;

/// An open event stream.
struct Sse {
    res: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> Self {
        let mut req = app.client.get(format!("{}/api/v1/events", app.base)).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Self { res, buf: String::new() }
    }

    /// The next `n` events as (id, type, data), or panics after `within`.
    async fn take(&mut self, n: usize, within: Duration) -> Vec<(i64, String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        let mut out = Vec::new();
        while out.len() < n {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, String::new(), Value::Null);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap();
                    }
                }
                if let Some(id) = id {
                    out.push((id, kind, data));
                }
            }
            if out.len() >= n {
                break;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "only {} of {n} events arrived: {out:?}", out.len());
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(other) => panic!("the stream ended: {other:?}"),
                Err(_) => panic!("only {} of {n} events arrived: {out:?}", out.len()),
            }
        }
        out
    }

    /// Asserts nothing more arrives for a while.
    async fn quiet(&mut self, for_: Duration) {
        let got = tokio::time::timeout(for_, self.take(1, for_ + Duration::from_secs(1))).await;
        assert!(got.is_err(), "unexpected event: {got:?}");
    }
}

fn text(id: &str, body: &str) -> Vec<u8> {
    format!(r#"{{"to":"12025550100","from":"12065550123","body":"{body}","id":"{id}"}}"#).into_bytes()
}

async fn sales_policy(app: &TestApp, base: &str, token: &str) {
    let policy = app
        .post(
            &format!("{base}/policies"),
            token,
            json!({"name": "Desk", "timezone": "UTC", "keywords": [{"keyword": "SALES", "destinations": ["300"]}]}),
        )
        .await;
    let pid = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.patch(&format!("{base}/numbers/+12025550100"), token, json!({"policy_id": pid})).await.expect(StatusCode::OK);
}

pub async fn event_streams_resume_and_show_each_caller_only_its_texts(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    sales_policy(&app, &w.base, &w.token).await;
    let mut admin = Sse::open(&app, &w.token, None).await;
    app.flowroute("acmein", &text("mdr2-l1", "hello")).await.expect(StatusCode::OK);
    app.flowroute("acmein", &text("mdr2-l2", "sales please")).await.expect(StatusCode::OK);
    let got = admin.take(2, Duration::from_secs(10)).await;
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2], "ids are the tenant's sequence");
    assert!(got.iter().all(|e| e.1 == "message.received"));
    assert_eq!(got[1].2["data"]["extensions"], json!(["300"]));

    let ext300 = app.token(Role::Extension, Some("acme"), Some("300"));
    let mut sales = Sse::open(&app, &ext300, Some(0)).await;
    let got = sales.take(1, Duration::from_secs(10)).await;
    assert_eq!((got[0].0, got[0].2["data"]["body"].as_str()), (2, Some("sales please")), "replayed, and only its own");

    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let mut front = Sse::open(&app, &ext101, Some(1)).await;
    front.quiet(Duration::from_millis(700)).await;
    app.flowroute("acmein", &text("mdr2-l3", "are you open?")).await.expect(StatusCode::OK);
    let got = front.take(1, Duration::from_secs(10)).await;
    assert_eq!((got[0].0, got[0].2["data"]["body"].as_str()), (3, Some("are you open?")), "live after the replay");
    sales.quiet(Duration::from_millis(700)).await;

    let mut resumed = Sse::open(&app, &w.token, Some(2)).await;
    assert_eq!(resumed.take(1, Duration::from_secs(10)).await[0].0, 3);

    // A bad resume point is refused; the system administrator has no tenant stream.
    let r = app
        .client
        .get(format!("{}/api/v1/events", app.base))
        .bearer_auth(&w.token)
        .header("last-event-id", "x")
        .send()
        .await;
    assert_eq!(r.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let sys = app.system.clone();
    app.get("/api/v1/events", &sys).await.problem(StatusCode::FORBIDDEN, "forbidden");
    // Another tenant's admin sees none of it.
    let other = app.tenant("globex").await;
    let mut foreign = Sse::open(&app, &other, Some(0)).await;
    foreign.quiet(Duration::from_millis(700)).await;
}

pub async fn inboxes_show_each_extension_its_conversations_and_unread_counts(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    sales_policy(&app, &w.base, &w.token).await;
    app.flowroute("acmein", &text("mdr2-i1", "hello")).await.expect(StatusCode::OK);
    let sales_id =
        app.flowroute("acmein", &text("mdr2-i2", "sales please")).await.json["message_id"].as_str().unwrap().to_owned();
    app.flowroute("acmein", &text("mdr2-i3", "anyone?")).await.expect(StatusCode::OK);
    let other = br#"{"to":"12025550100","from":"12065550124","body":"hi from someone else","id":"mdr2-i4"}"#;
    app.flowroute("acmein", other).await.expect(StatusCode::OK);

    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let ext300 = app.token(Role::Extension, Some("acme"), Some("300"));
    let convs = app.get("/api/v1/conversations", &ext101).await;
    let items = convs.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["remote"], "+12065550124", "newest first");
    assert_eq!((items[1]["remote"].as_str(), items[1]["unread"].as_i64()), (Some("+12065550123"), Some(2)));
    let convs = app.get("/api/v1/conversations", &ext300).await;
    let items = convs.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!((items.len(), items[0]["unread"].as_i64()), (1, Some(1)));
    // Paging by cursor walks every conversation once.
    let first = app.get("/api/v1/conversations?limit=1", &ext101).await;
    let cursor = first.json["next_cursor"].as_str().unwrap().to_owned();
    let second = app.get(&format!("/api/v1/conversations?limit=1&cursor={cursor}"), &ext101).await;
    assert_eq!(second.json["items"][0]["remote"], "+12065550123");
    assert!(second.json["next_cursor"].is_null());
    let bad = app.get("/api/v1/conversations?cursor=garbage", &ext101).await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let msgs = app.get("/api/v1/conversations/+12065550123/messages", &ext101).await;
    let bodies: Vec<&str> =
        msgs.expect(StatusCode::OK)["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["anyone?", "hello"], "not the text routed to 300");
    app.get(&format!("/api/v1/messages/{sales_id}"), &ext101).await.problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.get(&format!("/api/v1/messages/{sales_id}"), &ext300).await.expect(StatusCode::OK)["body"],
        "sales please"
    );
    app.get("/api/v1/conversations/+12065550199/messages", &ext101).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.get("/api/v1/conversations/not-a-number/messages", &ext101).await.problem(StatusCode::NOT_FOUND, "not_found");

    app.call(reqwest::Method::POST, "/api/v1/conversations/+12065550123/read", Some(&ext101), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let convs = app.get("/api/v1/conversations", &ext101).await;
    assert_eq!(convs.json["items"][1]["unread"], 0);
    let convs = app.get("/api/v1/conversations", &ext300).await;
    assert_eq!(convs.json["items"][0]["unread"], 1, "another extension's unread count is its own");
    // The tenant admin sees everything, with unread counts summed over extensions.
    let all = app.get("/api/v1/conversations", &w.token).await;
    let items = all.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["unread"], 3, "102 has two unread, 300 one, 101 none");
    let msgs = app.get("/api/v1/conversations/+12065550123/messages", &w.token).await;
    assert_eq!(msgs.json["items"].as_array().unwrap().len(), 3);
    // Another tenant's extension, or an extension that no longer exists, reaches nothing.
    app.tenant("globex").await;
    let foreign = app.token(Role::Extension, Some("globex"), Some("101"));
    app.get(&format!("/api/v1/messages/{sales_id}"), &foreign).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let ghost = app.token(Role::Extension, Some("acme"), Some("999"));
    app.get("/api/v1/conversations", &ghost).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
}
