//! Hostile callers: oversized bodies on every route, guessing at the ingress, SQL in every text
//! field, and a log searched for every secret after a busy session at debug level.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_http::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use switchboard_test_macros::suite_test;

use crate::server::take_over_with;
use crate::support::TestApp;
use crate::wired::wire;

/// Sends only a request head and reads the answer's status and body: the server must answer
/// without waiting for a body it will not take.
async fn head_only(base: &str, method: &str, path: &str, content_length: usize) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok());
                if len.is_some_and(|len| body.len() >= len) {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{method} {path}: no answer while the body was still owed");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[suite_test]
async fn every_route_refuses_an_oversized_body_up_front(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let mut checked = 0;
    for (path, item) in doc.json["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{tenant}", "acme")
            .replace("{prefix}", "acmein")
            .replace("{name}", "hosted")
            .replace("{id}", "0190b6a1-7c3e-7000-8000-000000000000")
            .replace("{ext}", "101")
            .replace("{e164}", "+12025550100")
            .replace("{remote}", "+12065550123")
            .replace("{token}", "aBcD_-0123456789aBcD_-0123456789aBcD_-01234");
        assert!(!concrete.contains('{'), "a parameter this test does not know: {path}");
        let limit = if path.starts_with("/api/") { 256 * 1024 } else { 1024 * 1024 };
        for method in item.as_object().unwrap().keys() {
            let (status, text) = head_only(&app.base, &method.to_ascii_uppercase(), &concrete, limit + 1).await;
            assert_eq!(status, 413, "{method} {path}: {text}");
            assert!(text.contains("application/problem+json") && text.contains("payload_too_large"), "{text}");
            assert!(text.to_ascii_lowercase().contains("x-content-type-options: nosniff"), "{text}");
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} routes checked");
    // Routes outside the document too: the docs, an unknown path.
    for path in ["/docs/", "/no/such/path"] {
        assert_eq!(head_only(&app.base, "POST", path, 2 * 1024 * 1024).await.0, 413, "{path}");
    }
    // At the limit a callback is read and judged on its content, not refused for its size.
    let mut at_limit = vec![b' '; 1024 * 1024];
    at_limit[0] = b'{';
    let r = app.client.post(format!("{}/acmein", app.base)).body(at_limit).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a body at the limit is read, and refused as malformed");
    drop(w);
}

#[suite_test]
async fn guessing_at_the_ingress_blocks_only_the_guesser(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    // The guesser comes from 127.0.0.2; the tenant's real traffic from 127.0.0.1.
    let guesser = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let text = |i: usize| format!(r#"{{"to":"12025550100","from":"12065550123","body":"real {i}","id":"mdr2-g-{i}"}}"#);
    let guess = |path: String| {
        let guesser = guesser.clone();
        async move {
            let r = guesser.post(path).header("content-type", "application/json").body(text(999)).send().await.unwrap();
            let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            (r.status(), retry_after)
        }
    };
    // The default limit: 30 unknown prefixes a minute are answered 404 like any unknown path.
    for i in 0..30 {
        let (status, _) = guess(format!("{}/guess{i}", app.base)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {i}");
    }
    // The 31st is counted and the source is blocked: from now on it hears 429, even for the real prefix.
    assert_eq!(guess(format!("{}/guess30", app.base)).await.0, StatusCode::NOT_FOUND);
    let (status, retry_after) = guess(format!("{}/acmein", app.base)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("300"));
    let r = guesser.post(format!("{}/guess31", app.base)).body("{}").send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Meanwhile the tenant's own traffic from another address flows as before, at full speed.
    let started = std::time::Instant::now();
    for i in 0..20 {
        let r = app.flowroute("acmein", text(i).as_bytes()).await;
        assert_eq!(r.expect(StatusCode::OK)["status"], "stored");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "legitimate callbacks were slowed");
    // Nothing of what the guesser sent was stored.
    let log = app.get(&format!("{}/messages?direction=inbound&limit=100", w.base), &w.token).await;
    assert_eq!(log.json["items"].as_array().unwrap().len(), 20);
    // Token guessing on a hardened prefix counts the same way.
    app.patch(&format!("{}/prefixes/acmein", w.base), &w.token, json!({"token": "tok_0123456789abcdef"}))
        .await
        .expect(StatusCode::OK);
    let wrong = |i: usize| format!("{}/acmein?token=tok_guess_{i:010}", app.base);
    let token_guesser =
        reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 3])).build().unwrap();
    let mut statuses = Vec::new();
    for i in 0..32 {
        let r = token_guesser.post(wrong(i)).header("content-type", "application/json").body(text(1000)).send().await;
        statuses.push(r.unwrap().status().as_u16());
    }
    assert_eq!(statuses[..31], [404; 31]);
    assert_eq!(statuses[31], 429, "{statuses:?}");
}

#[suite_test]
async fn sql_looking_strings_are_stored_and_returned_verbatim(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let hostile = [
        "Robert'); DROP TABLE company;--",
        "' OR '1'='1",
        "\"; DELETE FROM message WHERE ''='",
        "%_\\ LIKE '%' ESCAPE '\\'",
        "$1 ?1 :name @p1 -- /* */",
        "\u{0}nul byte",
    ];
    let mut ids = Vec::new();
    for name in &hostile {
        let r = app.post(&format!("{}/companies", w.base), &w.token, json!({"name": name})).await;
        if name.contains('\u{0}') {
            // A NUL cannot be stored in PostgreSQL text; it is refused as a field error, not a 500.
            r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            continue;
        }
        ids.push((r.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned(), name.to_string()));
    }
    for (id, name) in &ids {
        let got = app.get(&format!("{}/companies/{id}", w.base), &w.token).await;
        assert_eq!(got.expect(StatusCode::OK)["name"], name.as_str());
    }
    let listed = app.get(&format!("{}/companies?limit=100", w.base), &w.token).await;
    assert_eq!(listed.expect(StatusCode::OK)["items"].as_array().unwrap().len(), ids.len() + 2);

    // In a text's body, both ways.
    let body = hostile[0];
    let inbound = json!({"to": "12025550100", "from": "12065550123", "body": body, "id": "mdr2-sql-1"});
    app.flowroute("acmein", inbound.to_string().as_bytes()).await.expect(StatusCode::OK);
    let got = w.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json["data"]["body"], body);
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let sent = app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": hostile[2]})).await;
    let id = sent.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let m = app.get(&format!("{}/messages/{id}", w.base), &w.token).await;
    assert_eq!(m.expect(StatusCode::OK)["body"], hostile[2]);
    // A NUL in a text: refused from an extension, kept (as U+FFFD) from Flowroute, which would
    // otherwise retry it for ever — on SQLite and on PostgreSQL, whose text cannot hold a NUL.
    let r = app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "a\u{0}b"})).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let inbound = json!({"to": "12025550100", "from": "12065550123", "body": "nul\u{0}byte", "id": "mdr2-sql-2"});
    let r = app.flowroute("acmein", inbound.to_string().as_bytes()).await;
    assert_eq!(r.expect(StatusCode::OK)["status"], "stored");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let kept = loop {
        let got = w.sink.accepted();
        if let Some(d) = got.iter().find(|d| d.json["data"]["body"].as_str().is_some_and(|b| b.starts_with("nul"))) {
            break d.json["data"]["body"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the text with a NUL never reached the PBX");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(kept, "nul\u{fffd}byte");
    let all = app.get(&format!("{}/messages?limit=100", w.base), &w.token).await;
    assert_eq!(all.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 3, "no message was deleted");

    // In query strings and path segments: a clear refusal, never a 500.
    for q in ["status=' OR 1=1--", "direction=inbound' --", "cursor=' OR '1'='1", "limit=1;DROP TABLE message"] {
        let r = app.get(&format!("{}/messages?{q}", w.base), &w.token).await;
        assert!(r.status.is_client_error(), "{q}: {} {}", r.status, r.text);
        assert_eq!(r.headers.get("content-type").unwrap(), "application/problem+json", "{q}");
    }
    let r = app.get(&format!("{}/companies/'%20OR%20'1'='1", w.base), &w.token).await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    let r = app.get(&format!("{}/numbers/'%20OR%201=1--", w.base), &w.token).await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
}

#[suite_test]
async fn no_secret_reaches_the_log_even_at_debug_level(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let env = [("SWITCHBOARD_LOG", "debug")];
    let (_dir, log, server, w) = take_over_with(&mut app, &env, sim).await;
    let token = "tok_secret_0123456789abcdef";
    app.patch(&format!("{}/prefixes/acmein", w.base), &w.token, json!({"token": token})).await.expect(StatusCode::OK);
    let rotated = app.post(&format!("{}/webhook-secret:rotate", w.base), &w.token, json!({})).await;
    let new_secret = rotated.expect(StatusCode::OK)["webhook_secret"].as_str().unwrap().to_owned();
    let provider = app
        .post(
            &format!("{}/providers", w.base),
            &w.token,
            json!({"name": "Backup", "kind": "flowroute", "access_key": "AKBACKUP", "secret_key": "sk-backup-very-secret"}),
        )
        .await;
    provider.expect(StatusCode::CREATED);
    // Signing in: a wrong password, the right one, the session cookie and its access token.
    use crate::accounts::{PASSWORD, account, login, token_of};
    account(&app, "ann@example.com", Role::TenantAdmin, Some("acme"), None).await;
    let wrong_password = "wrong-password-0123456789";
    login(&app, "ann@example.com", wrong_password).await.expect(StatusCode::UNAUTHORIZED);
    let signed = login(&app, "ann@example.com", PASSWORD).await;
    let session_token = token_of(&signed);
    let cookie = signed.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let session_secret = cookie.split(';').next().unwrap().trim_start_matches("sb_session=").to_owned();
    app.get("/api/v1/auth/sessions", &session_token).await.expect(StatusCode::OK);
    let setup = app.post("/api/v1/auth/totp", &session_token, json!({})).await;
    let totp_secret = setup.expect(StatusCode::OK)["secret"].as_str().unwrap().to_owned();
    let made = app.post(&format!("{}/api-keys", w.base), &w.token, json!({"name": "PBX", "scopes": ["read"]})).await;
    let api_key = made.expect(StatusCode::CREATED)["key"].as_str().unwrap().to_owned();
    app.get(&format!("{}/extensions", w.base), &api_key).await.expect(StatusCode::OK);
    app.get(&format!("{}/extensions", w.base), &format!("{api_key}x")).await.expect(StatusCode::UNAUTHORIZED);
    // Traffic every way: inbound with the token, a wrong token, an outbound text with Basic auth,
    // refused bearer tokens, and the tokens themselves.
    let inbound = br#"{"to":"12025550100","from":"12065550123","body":"hello","id":"mdr2-log-1"}"#;
    app.flowroute(&format!("acmein?token={token}"), inbound).await.expect(StatusCode::OK);
    app.flowroute("acmein?token=tok_wrong_0123456789abcd", inbound).await.expect(StatusCode::NOT_FOUND);
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "reply"}))
        .await
        .expect(StatusCode::ACCEPTED);
    let forged = format!("{}x", app.system);
    app.get("/api/v1/tenants", &forged).await.expect(StatusCode::UNAUTHORIZED);
    w.sink.wait_for(2, Duration::from_secs(20)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while w.sim.accepted().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the reply was never sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.kill();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(r#""level":"DEBUG""#), "debug logging was not on:\n{text}");
    let basic = base64::engine::general_purpose::STANDARD.encode("sim-access:sim-secret");
    let secrets = [
        ("the JWT secret", app.jwt_secret.as_str()),
        ("the master key", app.master_key.as_str()),
        ("the webhook secret", w.secret.as_str()),
        ("the rotated webhook secret", new_secret.as_str()),
        ("a provider's secret key", "sim-secret"),
        ("another provider's secret key", "sk-backup-very-secret"),
        ("Flowroute Basic credentials", basic.as_str()),
        ("the prefix token", token),
        ("a guessed prefix token", "tok_wrong_0123456789abcd"),
        ("a system token", app.system.as_str()),
        ("a tenant admin token", w.token.as_str()),
        ("an extension token", ext.as_str()),
        ("a forged token", forged.as_str()),
        ("a password", PASSWORD),
        ("a wrong password", wrong_password),
        ("a session secret", session_secret.as_str()),
        ("an access token", session_token.as_str()),
        ("an API key", api_key.as_str()),
        ("a TOTP secret", totp_secret.as_str()),
    ];
    for (what, secret) in secrets {
        // The base64 secrets' key material without its padding, in case a log shortened it.
        let needle = secret.trim_end_matches('=');
        assert!(!text.contains(needle), "{what} reached the log");
    }
    // The JWT secret and master key in any other common shape.
    let raw_master = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap();
    let hex: String = raw_master.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.to_ascii_lowercase().contains(&hex), "the master key reached the log as hex");
}

#[suite_test]
async fn tenant_set_urls_cannot_reach_private_networks(mut app: TestApp) {
    // The operator lists no private network: the sink and the simulator, on loopback, are off limits.
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, _log, server, w) = take_over_with(&mut app, &[("SWITCHBOARD_PRIVATE_TARGETS", "")], sim).await;
    // The webhook by a name that resolves to loopback; the provider endpoint by address.
    let by_name = w.sink.url.replace("127.0.0.1", "localhost");
    app.patch(&w.base, &w.token, json!({"webhook_url": by_name})).await.expect(StatusCode::OK);
    let text = br#"{"to":"12025550100","from":"12065550123","body":"hello","id":"mdr2-ssrf-1"}"#;
    app.flowroute("acmein", text).await.expect(StatusCode::OK);
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "reply"}))
        .await
        .expect(StatusCode::ACCEPTED);
    let last_errors = |kind: &'static str| {
        let app = &app;
        async move {
            crate::support::column(app, &format!("SELECT COALESCE(last_error, '') FROM job WHERE kind = '{kind}'"))
                .await
        }
    };
    // Until every job of the kind (or, with `any`, one of them) failed for this reason.
    let until = |kind: &'static str, needle: &'static str, any: bool| {
        let last_errors = &last_errors;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let errors = last_errors(kind).await;
                let hit = |e: &String| e.contains(needle);
                if !errors.is_empty() && if any { errors.iter().any(hit) } else { errors.iter().all(hit) } {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "{kind}: {errors:?}, waiting for '{needle}'");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // Deliveries that were tried failed for this reason; after five failures in a row the
    // endpoint's breaker holds the rest back untried.
    until("webhook_delivery", "localhost resolves to no address Switchboard may reach", true).await;
    until("provider_send", "refusing to connect to 127.0.0.1", false).await;
    // The cloud metadata address written into the URL is refused before any connection.
    app.patch(&w.base, &w.token, json!({"webhook_url": "https://169.254.169.254/latest/meta-data"}))
        .await
        .expect(StatusCode::OK);
    until("webhook_delivery", "refusing to connect to 169.254.169.254", true).await;
    assert!(w.sink.accepted().is_empty() && w.sink.refused() == 0, "a request reached the loopback PBX");
    assert_eq!(w.sim.requests(), 0, "a request reached the loopback Flowroute");
    server.kill();
}

/// A media host on `ip` that counts its requests: `/img.jpg` is a picture, `/r{n}.jpg` redirects
/// `n` times before reaching it, and `/away.jpg` redirects to `away`.
async fn redirecting_host(ip: &str, away: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (counter, me) = (hits.clone(), base.clone());
    let server = HttpServer::new(move || {
        let (counter, me, away) = (counter.clone(), me.clone(), away.clone());
        App::new().default_service(web::to(move |req: HttpRequest| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let path = req.path().to_owned();
            let (me, away) = (me.clone(), away.clone());
            async move {
                let hop = |to: String| HttpResponse::Found().insert_header(("location", to)).finish();
                if path == "/away.jpg" {
                    return hop(away);
                }
                match path.strip_prefix("/r").and_then(|p| p.strip_suffix(".jpg")).and_then(|n| n.parse::<u32>().ok()) {
                    Some(0) | None => HttpResponse::Ok().content_type("image/jpeg").body(&b"\xff\xd8\xff\xe0 jpeg"[..]),
                    Some(n) => hop(format!("{me}/r{}.jpg", n - 1)),
                }
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (base, hits)
}

/// Every hop of every request Switchboard makes goes through the same guard: a media link that
/// redirects to an address the operator did not allow is not fetched (two loopback listeners, the
/// operator allowing 127.0.0.1 only), nor a fourth redirect; and no request follows a proxy named
/// by the environment, which would resolve and connect past the guard.
#[suite_test]
async fn every_hop_of_every_request_is_guarded(mut app: TestApp) {
    let (forbidden, forbidden_hits) = redirecting_host("127.0.0.2", String::new()).await;
    let (allowed, _) = redirecting_host("127.0.0.1", format!("{forbidden}/r0.jpg")).await;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let proxied = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = proxied.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = proxy.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(sock);
        }
    });
    let env = [
        ("SWITCHBOARD_PRIVATE_TARGETS", "127.0.0.1/32"),
        ("SWITCHBOARD_MEDIA_ALLOW_HTTP", "true"),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("https_proxy", proxy_url.as_str()),
        ("all_proxy", proxy_url.as_str()),
    ];
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, _log, server, w) = take_over_with(&mut app, &env, sim).await;
    let files =
        [("img.jpg", "image/jpeg"), ("r3.jpg", "image/jpeg"), ("r4.jpg", "image/jpeg"), ("away.jpg", "image/jpeg")];
    app.flowroute("acmein", &crate::media::mms("mdr2-hops-1", &allowed, &files)).await.expect(StatusCode::OK);
    // The PBX webhook went straight to the PBX, not to the proxy.
    let event = &w.sink.wait_for(1, Duration::from_secs(15)).await[0];
    let media = event.json["data"]["media"].as_array().unwrap().clone();
    let url = |i: usize| media[i]["url"].as_str().unwrap().to_owned();
    let (status, _, _) = crate::media::settled(&app, &url(0), &w.token).await;
    assert_eq!(status, StatusCode::OK, "the allowed host itself is fetched");
    let (status, _, _) = crate::media::settled(&app, &url(1), &w.token).await;
    assert_eq!(status, StatusCode::OK, "three redirects within the allowed host are followed");
    let (status, _, _) = crate::media::settled(&app, &url(2), &w.token).await;
    assert_eq!(status, StatusCode::GONE, "a fourth redirect is not followed");
    let (status, _, _) = crate::media::settled(&app, &url(3), &w.token).await;
    assert_eq!(status, StatusCode::GONE, "a redirect to a forbidden address is refused");
    assert_eq!(forbidden_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the forbidden host was reached");
    // A send reaches Flowroute (the simulator) directly too.
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "reply"}))
        .await
        .expect(StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while w.sim.requests() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the send never reached Flowroute");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(proxied.load(std::sync::atomic::Ordering::SeqCst), 0, "a request went through the proxy");
    server.kill();
}

/// A client's address comes from `X-Forwarded-For` only when the peer is a trusted proxy (the test
/// app trusts 127.0.0.9), read from the right: a client cannot write its way into a prefix's
/// allow-list, out of the ingress guard's count, or past it with a malformed header.
#[suite_test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    app.patch(&format!("{}/prefixes/acmein", w.base), &w.token, json!({"allowed_sources": ["203.0.113.7"]}))
        .await
        .expect(StatusCode::OK);
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let (direct, proxy) = (from(1), from(9));
    let post = |client: &reqwest::Client, path: &str, xff: Option<&str>, n: usize| {
        let mut req = client
            .post(format!("{}/{path}", app.base))
            .header("content-type", "application/json")
            .body(format!(r#"{{"to":"12025550100","from":"12065550123","body":"t{n}","id":"mdr2-xff-{n}"}}"#));
        if let Some(v) = xff {
            req = req.header("x-forwarded-for", v);
        }
        async move { req.send().await.unwrap().status() }
    };
    // Not a proxy: its header is not read.
    assert_eq!(post(&direct, "acmein", Some("203.0.113.7"), 1).await, StatusCode::NOT_FOUND);
    // The proxy names the allowed client, after whatever the client itself wrote.
    assert_eq!(post(&proxy, "acmein", Some("203.0.113.7"), 2).await, StatusCode::OK);
    assert_eq!(post(&proxy, "acmein", Some("198.51.100.1, 203.0.113.7"), 3).await, StatusCode::OK);
    // The client wrote the allowed address, the proxy appended the real one.
    assert_eq!(post(&proxy, "acmein", Some("203.0.113.7, 198.51.100.1"), 4).await, StatusCode::NOT_FOUND);
    // Malformed where it is read, or absent: the proxy's own address, which is not allowed.
    assert_eq!(post(&proxy, "acmein", Some("203.0.113.7, not-an-address"), 5).await, StatusCode::NOT_FOUND);
    assert_eq!(post(&proxy, "acmein", None, 6).await, StatusCode::NOT_FOUND);

    // The guard counts the address found so: a direct guesser cannot spread its misses over
    // made-up addresses (its refused callback above was its first miss) …
    for i in 0..30 {
        let status = post(&direct, &format!("guess{i}"), Some(&format!("198.51.100.{i}")), 100 + i).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {i}");
    }
    assert_eq!(post(&direct, "guess31", Some("198.51.100.200"), 131).await, StatusCode::TOO_MANY_REQUESTS);
    // … and behind the proxy, one client's misses block that client, not the proxy's other clients.
    for i in 0..31 {
        let status = post(&proxy, &format!("guess{i}"), Some("192.0.2.1, 198.51.100.50"), 200 + i).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {i} through the proxy");
    }
    assert_eq!(post(&proxy, "acmein", Some("198.51.100.50"), 300).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(post(&proxy, "acmein", Some("203.0.113.7"), 301).await, StatusCode::OK);
    let stored = app.get(&format!("{}/messages?direction=inbound&limit=100", w.base), &w.token).await;
    assert_eq!(stored.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 3);
}

/// A new prefix gets an unguessable token unless the admin opts out, and opting out needs a
/// source allow-list: knowing (or guessing) a prefix is not enough to post a forged STOP in a
/// tenant's name.
#[suite_test]
async fn prefixes_need_a_token_or_an_allow_list(app: TestApp) {
    let w = wire(&app, "acme", "acmein", "+12025550100").await;
    let created = app
        .post(&format!("{}/prefixes", w.base), &w.token, json!({"prefix": "acmesms", "provider_id": w.provider}))
        .await;
    let token = created.expect(StatusCode::CREATED)["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
    let other = app
        .post(&format!("{}/prefixes", w.base), &w.token, json!({"prefix": "acmemms", "provider_id": w.provider}))
        .await;
    assert_ne!(other.expect(StatusCode::CREATED)["token"].as_str().unwrap(), token, "each prefix its own token");
    app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"prefix": "acmesms"}))
        .await
        .expect(StatusCode::OK);
    let stop = br#"{"to":"12025550100","from":"12065550123","body":"STOP","id":"mdr2-forged-stop"}"#;
    app.flowroute("acmesms", stop).await.problem(StatusCode::NOT_FOUND, "not_found");
    let opt_outs = app.get(&format!("{}/opt-outs", w.base), &w.token).await;
    assert_eq!(opt_outs.expect(StatusCode::OK)["items"], json!([]), "a forged STOP opted nobody out");
    let real = br#"{"to":"12025550100","from":"12065550123","body":"hello","id":"mdr2-real-1"}"#;
    let ok = app.flowroute(&format!("acmesms?token={token}"), real).await;
    assert_eq!(ok.expect(StatusCode::OK)["status"], "stored");

    // Without a token only with an allow-list, at creation and later.
    let bare = json!({"prefix": "acmeopen", "provider_id": w.provider, "token": null});
    let r = app.post(&format!("{}/prefixes", w.base), &w.token, bare).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.fields(), ["token"]);
    let p = format!("{}/prefixes/acmesms", w.base);
    let r = app.patch(&p, &w.token, json!({"token": null})).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.fields(), ["token"]);
    app.patch(&p, &w.token, json!({"token": null, "allowed_sources": ["flowroute"]})).await.expect(StatusCode::OK);
    // A tokenless prefix keeps its allow-list.
    let r = app.patch(&p, &w.token, json!({"allowed_sources": null})).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.fields(), ["allowed_sources"]);
    assert_eq!(app.get(&p, &w.token).await.json["allowed_sources"], json!(["flowroute"]), "nothing changed");
}
