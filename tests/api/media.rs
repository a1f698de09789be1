//! MMS media: fetched promptly from the provider's expiring links, kept within limits, retried when
//! the host fails, and served only to those who may see the text.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use serde_json::json;
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::support::TestApp;
use crate::wired::wire;

pub const JPEG: &[u8] = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes all the same";

pub async fn media_host() -> String {
    let flaky = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let flaky = flaky.clone();
        App::new()
            .route("/img.jpg", web::get().to(|| async { HttpResponse::Ok().content_type("image/jpeg").body(JPEG) }))
            .route(
                "/big.png",
                web::get().to(|| async {
                    // No Content-Length: the cap must hold while streaming.
                    let chunk = web::Bytes::from(vec![0u8; 1024 * 1024]);
                    let body =
                        futures_util::stream::iter((0..16).map(move |_| Ok::<_, actix_web::Error>(chunk.clone())));
                    HttpResponse::Ok().content_type("image/png").streaming(body)
                }),
            )
            .route(
                "/page.html",
                web::get().to(|| async { HttpResponse::Ok().content_type("text/html").body("<script>") }),
            )
            .route(
                "/flaky.jpg",
                web::get().to(move || {
                    let n = flaky.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == 0 {
                            HttpResponse::InternalServerError().finish()
                        } else {
                            HttpResponse::Ok().content_type("image/jpeg").body(JPEG)
                        }
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

pub fn mms(id: &str, host: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let included: Vec<_> = files
        .iter()
        .map(|(name, mime)| {
            json!({"type": "media", "id": name, "attributes": {"url": format!("{host}/{name}"), "file_name": name,
                   "mime_type": mime, "file_size": 10}})
        })
        .collect();
    let refs: Vec<_> = files.iter().map(|(name, _)| json!({"type": "media", "id": name})).collect();
    json!({"data": {"type": "message", "id": id, "attributes": {"to": "12025550100", "from": "12065550123", "body": null,
            "is_mms": true, "direction": "inbound"}, "relationships": {"media": {"data": refs}}}, "included": included})
    .to_string()
    .into_bytes()
}

async fn fetch(app: &TestApp, url: &str, token: &str) -> (StatusCode, Vec<u8>, String) {
    // The in-process app says it is at sms.example.net; the real binary gives its own address.
    let path = url.trim_start_matches("https://sms.example.net").trim_start_matches(app.base.as_str());
    let res = app.client.get(format!("{}{path}", app.base)).bearer_auth(token).send().await.unwrap();
    let status = res.status();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, res.bytes().await.unwrap().to_vec(), ct)
}

pub async fn settled(app: &TestApp, url: &str, token: &str) -> (StatusCode, Vec<u8>, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = fetch(app, url, token).await;
        if got.0 != StatusCode::SERVICE_UNAVAILABLE {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "{url} never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[suite_test]
async fn mms_media_are_fetched_kept_and_served_to_who_may_see_them(app: TestApp) {
    let host = media_host().await;
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let files =
        [("img.jpg", "image/jpeg"), ("big.png", "image/png"), ("page.html", "text/html"), ("flaky.jpg", "image/jpeg")];
    app.flowroute("acmein", &mms("mdr2-mms-1", &host, &files)).await.expect(StatusCode::OK);
    let event = &w.sink.wait_for(1, Duration::from_secs(10)).await[0];
    let media = event.json["data"]["media"].as_array().unwrap().clone();
    assert_eq!(media.len(), 4, "the text is delivered at once, media links included");
    let url = |i: usize| media[i]["url"].as_str().unwrap().to_owned();

    let (status, bytes, ct) = settled(&app, &url(0), &w.token).await;
    assert_eq!((status, bytes.as_slice(), ct.as_str()), (StatusCode::OK, JPEG, "image/jpeg"));
    let (status, _, _) = settled(&app, &url(1), &w.token).await;
    assert_eq!(status, StatusCode::GONE, "over 15 MB");
    let (status, _, _) = settled(&app, &url(2), &w.token).await;
    assert_eq!(status, StatusCode::GONE, "an HTML page is not kept");
    let (status, bytes, _) = settled(&app, &url(3), &w.token).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, JPEG), "a failed fetch is retried");

    // An extension the text was routed to may see it; another may not; another tenant never.
    let ext101 = app.token(Role::Extension, Some("acme"), Some("101"));
    let ext300 = app.token(Role::Extension, Some("acme"), Some("300"));
    assert_eq!(fetch(&app, &url(0), &ext101).await.0, StatusCode::OK);
    assert_eq!(fetch(&app, &url(0), &ext300).await.0, StatusCode::NOT_FOUND);
    let other = app.tenant("globex").await;
    assert_eq!(fetch(&app, &url(0), &other).await.0, StatusCode::NOT_FOUND);
    let anonymous =
        app.client.get(format!("{}{}", app.base, url(0).trim_start_matches("https://sms.example.net"))).send().await;
    assert_eq!(anonymous.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// A callback listing many attachments keeps the first `media_max_per_text` (3 here), and says so
/// on the message; a tenant keeps at most `media_quota_mb_per_tenant` (1 MB here) of media, counted
/// as each attachment is recorded, so fetches finishing together cannot pass it; another tenant's
/// quota is its own.
#[suite_test]
async fn attachments_are_capped_per_text_and_per_tenant(mut app: TestApp) {
    const SIZE: usize = 700 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok().content_type("image/jpeg").body(vec![0xffu8; SIZE])
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    let env = [
        ("SWITCHBOARD_MEDIA_ALLOW_HTTP", "true"),
        ("SWITCHBOARD_MEDIA_MAX_PER_TEXT", "3"),
        ("SWITCHBOARD_MEDIA_QUOTA_MB_PER_TENANT", "1"),
    ];
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, _log, server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    let files: Vec<(String, &str)> = (1..=5).map(|i| (format!("a{i}.jpg"), "image/jpeg")).collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    let r = app.flowroute("acmein", &mms("mdr2-cap-1", &host, &files)).await;
    let message_id = r.expect(StatusCode::OK)["message_id"].as_str().unwrap().to_owned();
    let event = &w.sink.wait_for(1, Duration::from_secs(10)).await[0];
    let media = event.json["data"]["media"].as_array().unwrap().clone();
    assert_eq!(media.len(), 3, "the first three are kept");
    assert_eq!(event.json["data"]["media_dropped"], 2);
    let m = app.get(&format!("{}/messages/{message_id}", w.base), &w.token).await;
    let note = m.expect(StatusCode::OK)["error_message"].as_str().unwrap_or_default().to_owned();
    assert!(note.contains("2 attachments beyond the first 3"), "{note}");
    let mut statuses = Vec::new();
    for x in &media {
        statuses.push(settled(&app, x["url"].as_str().unwrap(), &w.token).await.0);
    }
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::GONE, StatusCode::GONE], "one fits the 1 MB quota");
    let kept = crate::support::column(&app, "SELECT state FROM media ORDER BY state").await;
    assert_eq!(kept, ["over_quota", "over_quota", "stored"]);
    // Another tenant's attachment is fetched under its own quota.
    let g = crate::wired::wire(&app, "globex", "globexin", "+12025550199").await;
    let body = String::from_utf8(mms("mdr2-cap-2", &host, &files[..1])).unwrap().replace("12025550100", "12025550199");
    app.flowroute("globexin", body.as_bytes()).await.expect(StatusCode::OK);
    let event = &g.sink.wait_for(1, Duration::from_secs(10)).await[0];
    let url = event.json["data"]["media"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(settled(&app, &url, &g.token).await.0, StatusCode::OK);
    server.kill();
}

/// Files (not directories) under `dir`, at any depth (0 when it does not exist).
pub fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries.filter_map(Result::ok).map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
    })
}

/// Runs the real binary with media kept as `env` says (on PostgreSQL two instances), and checks:
/// an attachment fetched through one is served by the other, a failed fetch is retried, one past
/// the cap is refused (its partial bytes dropped), and nothing is written to the local disk.
async fn kept_in_a_shared_store(app: &mut TestApp, env: &[(&str, &str)]) {
    let host = media_host().await;
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    // The test's media host is plain http.
    let env = [env, &[("SWITCHBOARD_MEDIA_ALLOW_HTTP", "true")]].concat();
    let (dir, _log, a, w) = crate::server::take_over_with(app, &env, sim).await;
    let postgres = app.database_url.starts_with("postgres");
    let b = if postgres {
        Some(crate::server::Server::start_with(app, &dir.path().join("b.log"), &env).await)
    } else {
        None
    };
    let files = [("img.jpg", "image/jpeg"), ("big.png", "image/png"), ("flaky.jpg", "image/jpeg")];
    app.flowroute("acmein", &mms("mdr2-shared-1", &host, &files)).await.expect(StatusCode::OK);
    let event = &w.sink.wait_for(1, Duration::from_secs(10)).await[0];
    let media = event.json["data"]["media"].as_array().unwrap().clone();
    let url = |i: usize| media[i]["url"].as_str().unwrap().to_owned();
    for (i, expected) in [(0, StatusCode::OK), (1, StatusCode::GONE), (2, StatusCode::OK)] {
        assert_eq!(settled(app, &url(i), &w.token).await.0, expected, "{}", url(i));
    }
    // Served by the other instance too (or the same one again, on SQLite).
    app.base = b.as_ref().map_or(a.base.clone(), |b| b.base.clone());
    for i in [0, 2] {
        let path = url(i).split_off(url(i).find("/api/").unwrap());
        let (status, bytes, ct) = fetch(app, &path, &w.token).await;
        assert_eq!((status, bytes.as_slice(), ct.as_str()), (StatusCode::OK, JPEG, "image/jpeg"));
    }
    assert_eq!(files_under(&dir.path().join("media")), 0, "nothing on the local disk");
    drop((a, b));
}

#[suite_test]
async fn media_kept_in_the_database_are_served_by_every_instance(mut app: TestApp) {
    kept_in_a_shared_store(&mut app, &[("SWITCHBOARD_MEDIA_STORE", "database")]).await;
    let kept = crate::support::column(&app, "SELECT key FROM media_blob").await;
    assert_eq!(kept.len(), 2, "the two attachments kept, the one past the cap not: {kept:?}");
}

/// The same against an S3 server (`moto` from PyPI, which `.ci/run` starts and names in
/// `SB_TEST_S3_ENDPOINT`); without one the test says so and checks nothing, unless
/// `SB_TEST_REQUIRE_S3` is set (`.ci/run` sets it).
#[suite_test]
async fn media_kept_in_s3_are_served_by_every_instance(mut app: TestApp) {
    let Some(endpoint) = std::env::var("SB_TEST_S3_ENDPOINT").ok().filter(|e| !e.is_empty()) else {
        assert!(
            std::env::var_os("SB_TEST_REQUIRE_S3").is_none(),
            "SB_TEST_REQUIRE_S3 is set without SB_TEST_S3_ENDPOINT"
        );
        eprintln!("note: S3 media were not covered: set SB_TEST_S3_ENDPOINT to an S3 server (.ci/run starts moto)");
        return;
    };
    let bucket = format!("sb-{}", uuid::Uuid::new_v4().simple());
    let made = app.client.put(format!("{endpoint}/{bucket}")).send().await.unwrap();
    assert!(made.status().is_success(), "creating the bucket: {}", made.status());
    let env = [
        ("SWITCHBOARD_MEDIA_STORE", "s3"),
        ("SWITCHBOARD_MEDIA_S3_BUCKET", bucket.as_str()),
        ("SWITCHBOARD_MEDIA_S3_ENDPOINT", endpoint.as_str()),
        ("SWITCHBOARD_MEDIA_S3_ACCESS_KEY_ID", "switchboard-test"),
        ("SWITCHBOARD_MEDIA_S3_SECRET_ACCESS_KEY", "switchboard-test-secret"),
    ];
    kept_in_a_shared_store(&mut app, &env).await;
    let listing = app.client.get(format!("{endpoint}/{bucket}?list-type=2")).send().await.unwrap();
    let listing = listing.text().await.unwrap();
    assert_eq!(listing.matches("<Key>").count(), 2, "two objects in the bucket: {listing}");
}
