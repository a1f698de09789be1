//! The extension API: live events over SSE with resume, and the inbox (conversations, messages,
//! mark-read), each scoped to what the caller may see.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

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

#[suite_test]
async fn event_streams_resume_and_show_each_caller_only_its_texts(app: TestApp) {
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

#[suite_test]
async fn inboxes_show_each_extension_its_conversations_and_unread_counts(app: TestApp) {
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

/// In the portal's shared inbox each person has their own unread count (texts from before their
/// account count as read, and a marker never moves back); a conversation taken, let go, finished
/// or reopened is told to the streams of the extensions in it and to no other; a new text opens a
/// finished one again; and another tenant or extension reaches none of it.
#[suite_test]
async fn people_have_their_own_unread_counts_and_see_who_has_a_conversation(app: TestApp) {
    use base64::Engine as _;
    use switchboard_store::StoreError;
    use switchboard_store::inbox::{ConversationQuery, Handling, Shown, Viewer};

    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    sales_policy(&app, &w.base, &w.token).await;
    let tenant: uuid::Uuid =
        app.get("/api/v1/tenants/acme", &w.token).await.expect(StatusCode::OK)["id"].as_str().unwrap().parse().unwrap();
    app.flowroute("acmein", &text("mdr2-p0", "before anyone joined")).await.expect(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pat = crate::accounts::account(&app, "pat@acme.test", Role::Extension, Some("acme"), Some("101")).await;
    let sam = crate::accounts::account(&app, "sam@acme.test", Role::Extension, Some("acme"), Some("101")).await;
    let first = app.flowroute("acmein", &text("mdr2-p1", "one")).await.json["message_id"].as_str().unwrap().to_owned();
    let second = app.flowroute("acmein", &text("mdr2-p2", "two")).await.json["message_id"].as_str().unwrap().to_owned();
    let (first, second): (uuid::Uuid, uuid::Uuid) = (first.parse().unwrap(), second.parse().unwrap());

    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = switchboard_store::Store::connect(&app.database_url, &key).await.unwrap();
    let (pat, pat_name) = store.reader(pat).await.unwrap();
    let (sam, _) = store.reader(sam).await.unwrap();
    let desk = Viewer::Extension("101");
    let unread = |reader, shown| {
        let store = store.clone();
        async move {
            let q = ConversationQuery { search: None, shown, reader: Some(reader) };
            let page = store.list_conversations(tenant, desk, 50, None, q).await.unwrap();
            page.items.iter().map(|c| (c.remote.clone(), c.unread)).collect::<Vec<_>>()
        }
    };
    let mine = |n| vec![("+12065550123".to_owned(), n)];
    assert_eq!(unread(pat, Shown::Open).await, mine(2), "the text from before Pat's account counts as read");
    let conv = store.conversation_with(tenant, desk, "+12065550123").await.unwrap();
    store.mark_read_by(pat, conv, second).await.unwrap();
    store.mark_read_by(pat, conv, first).await.unwrap();
    assert_eq!(unread(pat, Shown::Open).await, mine(0), "read through the newest; an older read moves nothing back");
    assert_eq!(unread(sam, Shown::Open).await, mine(2), "Sam has read nothing");

    // Pat takes it: the streams of 101 and 102 (both rung) hear who has it; 300's (no text in it) does not.
    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let ext300 = app.token(Role::Extension, Some("acme"), Some("300"));
    let (mut desk_stream, mut sales_stream) =
        (Sse::open(&app, &ext101, None).await, Sse::open(&app, &ext300, None).await);
    let (c, _) = store.handle_conversation(tenant, desk, conv, Handling::Take(pat.account), &pat_name).await.unwrap();
    assert_eq!(c.assigned_to, Some((pat.account, pat_name.clone())));
    let got = desk_stream.take(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].1, "conversation.updated");
    let data = &got[0].2["data"];
    assert_eq!(
        (data["extensions"].clone(), data["assigned_to"]["name"].clone(), data["done"].clone()),
        (json!(["101", "102"]), json!(pat_name), json!(false)),
        "{data}"
    );
    sales_stream.quiet(Duration::from_millis(2500)).await;
    let listed = app.get("/api/v1/conversations", &ext101).await;
    let item = &listed.expect(StatusCode::OK)["items"][0];
    assert_eq!(
        (item["assigned_to"]["name"].clone(), item["done_at"].clone()),
        (json!(pat_name), Value::Null),
        "{item}"
    );
    assert_eq!(unread(sam, Shown::TakenBy(sam.account)).await, vec![], "not Sam's");
    assert_eq!(unread(pat, Shown::TakenBy(pat.account)).await, mine(0));

    // Only its holder lets it go; done takes it out of the open list until the customer writes.
    let refused = store.handle_conversation(tenant, desk, conv, Handling::LetGo(sam.account), "Sam").await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    store.handle_conversation(tenant, desk, conv, Handling::Done, "Sam").await.unwrap();
    assert_eq!(unread(sam, Shown::Open).await, vec![]);
    assert_eq!(unread(sam, Shown::Done).await, mine(2));
    app.flowroute("acmein", &text("mdr2-p3", "three")).await.expect(StatusCode::OK);
    assert_eq!(unread(sam, Shown::Open).await, mine(3), "open again");
    let c = store.conversation(tenant, desk, conv).await.unwrap();
    assert_eq!((c.done_at, c.assigned_to.map(|a| a.0)), (None, Some(pat.account)), "still Pat's");

    // Nobody else reaches it: not extension 300, not another tenant.
    let sales = Viewer::Extension("300");
    assert!(matches!(store.conversation(tenant, sales, conv).await, Err(StoreError::NotFound)));
    let taken = store.handle_conversation(tenant, sales, conv, Handling::Take(sam.account), "Sam").await;
    assert!(matches!(taken, Err(StoreError::NotFound)), "{taken:?}");
    app.tenant("globex").await;
    let globex = store.tenant_by_slug("globex").await.unwrap().id;
    assert!(matches!(store.conversation(globex, Viewer::Tenant, conv).await, Err(StoreError::NotFound)));
    let taken = store.handle_conversation(globex, Viewer::Tenant, conv, Handling::Done, "Eve").await;
    assert!(matches!(taken, Err(StoreError::NotFound)), "{taken:?}");
    assert!(matches!(store.conversation_with(globex, Viewer::Tenant, "+12065550123").await, Err(StoreError::NotFound)));
}

/// The other parties of the caller's conversations, with their unread counts.
async fn remotes(app: &TestApp, token: &str) -> Vec<(String, i64)> {
    let listed = app.get("/api/v1/conversations", token).await;
    let items = listed.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    items.iter().map(|c| (c["remote"].as_str().unwrap().to_owned(), c["unread"].as_i64().unwrap())).collect()
}

/// An extension that texts someone first finds the conversation in its inbox before any answer;
/// conversations it started before this was so are given to it by the upgrade (migration 13).
#[suite_test]
async fn a_conversation_an_extension_started_is_in_its_inbox(app: TestApp) {
    use base64::Engine as _;
    use sea_orm::{ConnectionTrait, Statement};

    wire(&app, "acme", "acmein", "+12025550100").await;
    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let sent =
        app.post("/api/v1/messages", &ext101, json!({"to": "+12065550777", "body": "Your crown is ready"})).await;
    sent.expect(StatusCode::ACCEPTED);
    let started = vec![("+12065550777".to_owned(), 0)];
    assert_eq!(remotes(&app, &ext101).await, started);
    // As before the upgrade: no row of counts for the sender.
    let db = app.db().await;
    let forget = "DELETE FROM conversation_unread WHERE extension = '101'";
    db.execute_raw(Statement::from_string(db.get_database_backend(), forget)).await.unwrap();
    assert_eq!(remotes(&app, &ext101).await, vec![]);
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = switchboard_store::Store::connect(&app.database_url, &key).await.unwrap();
    store.remigrate_from("m20261205_000013_shared_inbox").await.unwrap();
    assert_eq!(remotes(&app, &ext101).await, started);
}

/// Texts written by many transactions at once — on PostgreSQL numbered after commit by the app's
/// sequencer and by two more here, as by three instances — reach a reader tailing the log
/// exactly once, numbered one after another: a reader never sees a number and then a smaller one,
/// nor a gap filled later. An event nobody announced (its writer died, or another instance wrote
/// it) is numbered within seconds.
#[suite_test]
async fn the_event_log_never_shows_a_number_below_one_already_seen(app: TestApp) {
    use base64::Engine as _;
    use switchboard_core::routing::{RouteDecision, RouteReason};
    use switchboard_store::inbound::{InboundOutcome, InboundText};

    const TEXTS: usize = 600;
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let tenant: uuid::Uuid =
        app.get("/api/v1/tenants/acme", &w.token).await.expect(StatusCode::OK)["id"].as_str().unwrap().parse().unwrap();
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = switchboard_store::Store::connect(&app.database_url, &key).await.unwrap();
    let text = move |i: usize| InboundText {
        tenant_id: tenant,
        provider_message_id: format!("mdr2-seq{i}"),
        number: "+12025550100".into(),
        remote: format!("+1206555{:04}", i % 97),
        remote_reachable: true,
        body: Some(format!("text {i}")),
        media: vec![],
        media_dropped: 0,
        catch_all_company_id: None,
        media_base_url: "https://sms.example.net/api/v1/media".into(),
    };
    let decide = |_| RouteDecision {
        destinations: vec!["101".into()],
        reason: RouteReason::Default,
        keyword: None,
        opt_out: None,
        replies: vec![],
    };
    let start = store.event_tail(tenant).await.unwrap();

    // A reader from the tail, checking every batch it reads against what it read before.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let (mut last, mut seen) = (start, Vec::new());
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while seen.len() < TEXTS {
                assert!(tokio::time::Instant::now() < deadline, "read {} of {TEXTS} events", seen.len());
                for e in store.events_after(tenant, last, 50).await.unwrap() {
                    assert_eq!(e.seq, last + 1, "after {last} the reader saw {}", e.seq);
                    last = e.seq;
                    seen.push(e.payload["data"]["message_id"].as_str().unwrap().to_owned());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        })
    };
    // Two more sequencers, numbering as fast as they can, as two more instances would.
    let (done_tx, done) = tokio::sync::watch::channel(false);
    let sequencers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                while !*done.borrow() {
                    store.number_events().await.unwrap();
                    // On SQLite it returns at once: leave the writers their threads.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    let mut written = Vec::new();
    for wave in (0..TEXTS).collect::<Vec<_>>().chunks(100) {
        let posts = wave.iter().map(|i| store.record_inbound(text(*i), decide));
        for outcome in futures_util::future::join_all(posts).await {
            match outcome.unwrap() {
                InboundOutcome::Stored { message_id, .. } => written.push(message_id.to_string()),
                other => panic!("not stored: {other:?}"),
            }
        }
    }
    let mut seen = reader.await.unwrap();
    let _ = done_tx.send(true);
    for s in sequencers {
        s.await.unwrap();
    }
    assert_eq!(store.event_tail(tenant).await.unwrap(), start + TEXTS as i64);
    seen.sort();
    written.sort();
    assert_eq!(seen, written, "every event once");

    // Written with no one told: numbered by the app's own look every second (on SQLite, as written).
    let late = store.record_inbound(text(TEXTS), decide).await.unwrap();
    let InboundOutcome::Stored { message_id, .. } = late else { panic!("not stored: {late:?}") };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let tail = store.events_after(tenant, start + TEXTS as i64, 10).await.unwrap();
        if let Some(e) = tail.first() {
            assert_eq!(
                (e.seq, e.payload["data"]["message_id"].as_str()),
                (start + TEXTS as i64 + 1, Some(&*message_id.to_string()))
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the unannounced event was never numbered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Streams are counted per extension and per tenant (the test app allows 3 and 6): one more is
/// `429` with `Retry-After`, another extension or tenant is not affected, and a closed stream frees
/// its place.
#[suite_test]
async fn streams_are_limited_per_extension_and_per_tenant(app: TestApp) {
    let _w = wire(&app, "acme", "acmein", "+12025550100").await;
    let other = app.tenant("globex").await;
    let token = |ext: &str| app.token(Role::Extension, Some("acme"), Some(ext));
    let open = |token: String| {
        let req = app.client.get(format!("{}/api/v1/events", app.base)).bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        let r = open(token("101")).await;
        assert_eq!(r.status(), StatusCode::OK);
        held.push(r);
    }
    let refused = open(token("101")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "rate_limited");
    // Another extension has its own allowance, up to the tenant's six.
    for _ in 0..3 {
        let r = open(token("102")).await;
        assert_eq!(r.status(), StatusCode::OK);
        held.push(r);
    }
    assert_eq!(open(token("200")).await.status(), StatusCode::TOO_MANY_REQUESTS, "the tenant's limit");
    let globex_admin = open(other.clone()).await;
    assert_eq!(globex_admin.status(), StatusCode::OK, "another tenant's admin: its own count");
    held.push(globex_admin);
    let globex_ext = app.token(Role::Extension, Some("globex"), Some("101"));
    app.post("/api/v1/tenants/globex/extensions", &other, json!({"extension": "101", "name": "x"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(open(globex_ext).await.status(), StatusCode::OK, "another tenant is not affected");
    // A stream closed by its client frees its place.
    drop(held.remove(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = open(token("101")).await;
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a closed stream never freed its place");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Disabling an extension shuts it out at once: its open streams end and its requests are refused.
#[suite_test]
async fn a_disabled_extension_is_shut_out_and_its_streams_closed(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let mut stream = Sse::open(&app, &ext101, None).await;
    let mut other = Sse::open(&app, &app.token(Role::Extension, Some("acme"), Some("102")), None).await;
    app.patch(&format!("{}/extensions/101", w.base), &w.token, json!({"enabled": false})).await.expect(StatusCode::OK);
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match stream.res.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the disabled extension's stream stayed open");
    app.get("/api/v1/conversations", &ext101).await.problem(StatusCode::FORBIDDEN, "extension_disabled");
    app.post("/api/v1/messages", &ext101, json!({"to": "+12065550123", "body": "hi"}))
        .await
        .problem(StatusCode::FORBIDDEN, "extension_disabled");
    let r = app.client.get(format!("{}/api/v1/events", app.base)).bearer_auth(&ext101).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Another extension's stream goes on.
    app.flowroute("acmein", br#"{"to":"12025550100","from":"12065550123","body":"hi","id":"mdr2-dis-1"}"#)
        .await
        .expect(StatusCode::OK);
    assert_eq!(other.take(1, Duration::from_secs(10)).await[0].1, "message.received");
    // Enabled again, it reads again.
    app.patch(&format!("{}/extensions/101", w.base), &w.token, json!({"enabled": true})).await.expect(StatusCode::OK);
    app.get("/api/v1/conversations", &ext101).await.expect(StatusCode::OK);
}

/// A stream with no event for `stream_idle_timeout_secs` ends (heartbeats do not count), and the
/// client resumes where it was with `Last-Event-ID`.
#[suite_test]
async fn an_idle_stream_ends_and_resumes(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let env = [("SWITCHBOARD_STREAM_IDLE_TIMEOUT_SECS", "60")];
    let (_dir, _log, server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    // A client without the test client's 30-second timeout.
    let client = reqwest::Client::new();
    let opened = tokio::time::Instant::now();
    let mut res = client.get(format!("{}/api/v1/events", app.base)).bearer_auth(&ext).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ended = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            match res.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    assert!(matches!(ended, Ok(Ok(()))), "an idle stream did not end cleanly within 90 s: {ended:?}");
    let lasted = opened.elapsed();
    assert!(lasted >= Duration::from_secs(59), "it ended after {lasted:?}, before its idle timeout");
    app.flowroute("acmein", br#"{"to":"12025550100","from":"12065550123","body":"hi","id":"mdr2-idle-1"}"#)
        .await
        .expect(StatusCode::OK);
    let mut resumed = Sse::open(&app, &ext, Some(0)).await;
    assert_eq!(resumed.take(1, Duration::from_secs(10)).await[0].1, "message.received");
    drop(w);
    server.kill();
}
