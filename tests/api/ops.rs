//! Operations: health, readiness, metrics, the OpenAPI document and its page, request ids,
//! security headers, and a graceful stop.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use switchboard_test_macros::suite_test;

use crate::support::TestApp;

#[suite_test]
async fn health_metrics_openapi_and_docs_need_no_token(app: TestApp) {
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.expect(StatusCode::OK)["status"], "ok");
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await.expect(StatusCode::OK)["status"], "ready");
    let sys = app.system.clone();
    app.get("/api/v1/tenants", &sys).await.expect(StatusCode::OK);
    app.get("/api/v1/tenants/nope", &sys).await.expect(StatusCode::NOT_FOUND);

    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert!(metrics.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text;
    assert!(
        text.contains(r#"switchboard_http_requests_total{method="GET",route="/api/v1/tenants",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/v1/tenants/{tenant}",status="404""#), "{text}");
    assert!(text.contains("switchboard_http_request_duration_seconds_bucket"), "{text}");

    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let doc = doc.expect(StatusCode::OK).clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/tenants", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/webhook-secret:rotate", &["post"][..]),
        ("/api/v1/tenants/{tenant}/providers", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}/check", &["post"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}/remote-numbers", &["get"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}/remote-numbers:import", &["post"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}/callbacks:apply", &["post"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}/callbacks:check", &["post"][..]),
        ("/api/v1/tenants/{tenant}/providers/{id}/messaging:enable", &["post"][..]),
        ("/api/v1/tenants/{tenant}/contacts:import", &["post"][..]),
        ("/api/v1/tenants/{tenant}/prefixes", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/prefixes/{prefix}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/extensions", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/extensions/{ext}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/numbers", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/numbers/{e164}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/policies", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/policies/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/companies", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/companies/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/reply-templates", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/reply-templates/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/contacts", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/contacts/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/tenants/{tenant}/messages", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/messages/{id}", &["get"][..]),
        ("/api/v1/tenants/{tenant}/messages/{id}/timeline", &["get"][..]),
        ("/api/v1/usage", &["get"][..]),
        ("/api/v1/tenants/{tenant}/companies:import", &["post"][..]),
        ("/api/v1/tenants/{tenant}/webhook-deliveries", &["get"][..]),
        ("/api/v1/tenants/{tenant}/webhook-deliveries/{id}", &["get"][..]),
        ("/api/v1/tenants/{tenant}/webhook-deliveries/{id}/replay", &["post"][..]),
        ("/api/v1/tenants/{tenant}/webhook-deliveries:replay-dead", &["post"][..]),
        ("/api/v1/tenants/{tenant}/opt-outs", &["get"][..]),
        ("/api/v1/tenants/{tenant}/opt-outs/{e164}", &["delete"][..]),
        ("/healthz", &["get"][..]),
        ("/readyz", &["get"][..]),
        ("/metrics", &["get"][..]),
        ("/{prefix}", &["post"][..]),
        ("/ingress/{name}", &["post"][..]),
        ("/api/v1/conversations", &["get"][..]),
        ("/api/v1/conversations/{remote}/messages", &["get"][..]),
        ("/api/v1/conversations/{remote}/read", &["post"][..]),
        ("/api/v1/messages/{id}", &["get"][..]),
        ("/api/v1/messages", &["post"][..]),
        ("/api/v1/events", &["get"][..]),
        ("/api/v1/media/{id}", &["get"][..]),
        ("/media/{token}", &["get"][..]),
        ("/email/inbound", &["post"][..]),
        ("/api/v1/auth/login", &["post"][..]),
        ("/api/v1/auth/token", &["post"][..]),
        ("/api/v1/auth/logout", &["post"][..]),
        ("/api/v1/auth/password", &["post"][..]),
        ("/api/v1/auth/invitations/accept", &["post"][..]),
        ("/api/v1/auth/sessions", &["get"][..]),
        ("/api/v1/auth/sessions/{id}", &["delete"][..]),
        ("/api/v1/tenants/{tenant}/users", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/users/{id}", &["delete", "get", "patch"][..]),
        ("/api/v1/tenants/{tenant}/users/{id}/invitation", &["post"][..]),
        ("/api/v1/tenants/{tenant}/api-keys", &["get", "post"][..]),
        ("/api/v1/tenants/{tenant}/api-keys/{id}", &["delete", "get", "patch"][..]),
        ("/api/v1/tenants/{tenant}/audit", &["get"][..]),
        ("/api/v1/audit", &["get"][..]),
        ("/api/v1/auth/totp", &["post"][..]),
        ("/api/v1/operators", &["get", "post"][..]),
        ("/api/v1/operators/{id}", &["delete", "get", "patch"][..]),
        ("/api/v1/operators/{id}/invitation", &["post"][..]),
        ("/api/v1/auth/totp/confirm", &["post"][..]),
        ("/api/v1/auth/totp/disable", &["post"][..]),
    ];
    assert_eq!(paths.len(), expected.len(), "documented paths: {:?}", paths.keys().collect::<Vec<_>>());
    for (path, methods) in expected {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} is not documented"));
        let mut documented: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        documented.retain(|k| ["get", "post", "patch", "delete", "put"].contains(k));
        documented.sort();
        let mut want = methods.to_vec();
        want.sort();
        assert_eq!(documented, want, "{path}");
    }
    // Every documented operation is really served: an unauthenticated call is 401, never 404; one
    // documented as needing no token (signing in, accepting an invitation) reads the body instead.
    for (path, item) in paths {
        if !path.starts_with("/api/") {
            continue;
        }
        let concrete = crate::support::sample_path(path);
        for (method, op) in item.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.call(m, &concrete, None, Some(json!({}))).await;
            let public = op["security"].is_null();
            let want = if public { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::UNAUTHORIZED };
            assert_eq!(r.status, want, "{method} {concrete}: {}", r.text);
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in ["Problem", "PolicySpec", "Tenant", "Provider", "Number"] {
        assert!(schemas.contains_key(s), "schema {s}");
    }

    let page = app.client.get(format!("{}/docs/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"), "the docs page renders Swagger UI");
    let page = app.client.get(format!("{}/docs/swagger-ui.css", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "assets are served by Switchboard itself");
    let redirect = app.client.get(format!("{}/docs", app.base)).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::OK, "/docs redirects to the page");

    app.call(Method::GET, "/no/such/route", None, None).await.problem(StatusCode::NOT_FOUND, "not_found");
}

#[suite_test]
async fn every_response_carries_a_request_id_and_security_headers(app: TestApp) {
    let a = app.call(Method::GET, "/healthz", None, None).await;
    let b = app.call(Method::GET, "/api/v1/tenants", None, None).await;
    let id_a = a.headers["x-request-id"].to_str().unwrap().to_owned();
    let id_b = b.headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(!id_a.is_empty() && id_a != id_b, "a fresh id per request");
    for r in [&a, &b] {
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["x-frame-options"], "DENY");
    }
    let given =
        app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "pbx-trace-42").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "pbx-trace-42", "a caller's id is kept for correlation");
    let hostile =
        app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "a b\"c").send().await.unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a b\"c", "an id that is not a plain token is replaced");
}

#[suite_test]
async fn graceful_shutdown_finishes_requests_in_flight(mut app: TestApp) {
    let body = br#"{"slug":"inflight","name":"Sent slowly"}"#;
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        app.system,
        body.len()
    );
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stopping = app.begin_stop().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stopping.is_finished(), "the stop waits for the request in flight");
    conn.write_all(&body[10..]).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("\"slug\":\"inflight\""), "{answer}");
    tokio::time::timeout(Duration::from_secs(15), stopping).await.unwrap().unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "no new connections after the stop");
}

#[suite_test]
async fn the_demo_routes_a_text_end_to_end(_app: TestApp) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["demo", "--exit"])
        .env_clear()
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for step in [
        "answers 200",
        "Extension 101 sees it",
        "Hi, can I move my appointment to Friday?",
        "Pat Doe",
        "answers 202",
        "now 'delivered'",
        "sign in as admin@acme.example with the password",
    ] {
        assert!(stdout.contains(step), "missing '{step}' in:\n{stdout}");
    }
}

/// Without `--exit`, the demo keeps serving: the portal's address and sign-in it prints work, and
/// Ctrl-C ends it cleanly.
#[suite_test]
async fn the_demo_serves_the_portal_it_prints_until_interrupted(_app: TestApp) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("demo")
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut portal, mut password) = (None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("The portal: ") {
                portal = Some(url.trim().to_owned());
            }
            if let Some((_, pw)) = line.split_once("sign in as admin@acme.example with the password ") {
                password = Some(pw.trim().to_owned());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.expect("the demo printed no sign-in");
    let (portal, password) = (portal.expect("no portal address"), password.expect("no password"));
    let origin = portal.trim_end_matches("/portal/").to_owned();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let signed_in = client
        .post(format!("{origin}/portal/sign-in"))
        .header("origin", &origin)
        .header("content-type", "application/x-www-form-urlencoded")
        // The demo's password is letters, digits and '-': nothing to escape.
        .body(format!("email=admin%40acme.example&password={password}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = client.get(format!("{origin}/portal/t/acme/messages")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Hi, can I move my appointment to Friday?"));
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status =
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("Ctrl-C did not end it").unwrap();
    assert!(status.success(), "{status}");
}

/// `/metrics` keeps one series per label value, for the life of the process: label values come
/// from fixed sets, so made-up methods and paths cannot grow it (12,000 such requests once made it
/// 23.7 MB).
#[suite_test]
async fn metrics_labels_come_from_fixed_sets(app: TestApp) {
    let before = app.call(Method::GET, "/metrics", None, None).await.text.len();
    for i in 0..300 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let path = if i % 2 == 0 { format!("/api/v1/made/up/{i}") } else { format!("/nothing{i}/here") };
        let _ = app.client.request(method, format!("{}{path}", app.base)).send().await.unwrap();
    }
    let text = app.call(Method::GET, "/metrics", None, None).await.text;
    assert!(!text.contains("MADEUP"), "a made-up method became a label value");
    assert!(!text.contains("/made/up/") && !text.contains("/nothing1"), "a made-up path became a label value");
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(text.len() < before + 20_000, "{} bytes after 300 made-up requests, {before} before", text.len());
}

/// With `metrics_token` set, `/metrics` answers only that bearer token.
#[suite_test]
async fn metrics_can_require_a_token(mut app: TestApp) {
    let token = "metrics-token-0123456789";
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let env = [("SWITCHBOARD_METRICS_TOKEN", token)];
    let (_dir, log, server, _w) = crate::server::take_over_with(&mut app, &env, sim).await;
    let get = |bearer: Option<&str>| {
        let mut req = app.client.get(format!("{}/metrics", app.base));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        async move { crate::support::Reply::read(req.send().await.unwrap()).await }
    };
    get(None).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    get(Some("metrics-token-012345678X")).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    get(Some(&app.system)).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let ok = get(Some(token)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.text.contains("switchboard_http_requests_total"), "{}", ok.text);
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK, "health stays open");
    server.kill();
    assert!(!std::fs::read_to_string(log).unwrap().contains(token), "the metrics token was logged");
}

/// `switchboard healthcheck` (what a container image runs instead of curl): exit 0 while the
/// instance answers `/readyz` with 200, at its configured address (an unspecified one asked on
/// loopback) or at `--url`; exit 1, saying why, when it answers otherwise or not at all.
#[suite_test]
async fn the_healthcheck_command_says_whether_an_instance_is_ready(app: TestApp) {
    async fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("healthcheck")
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .await
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), said)
    }
    let ready = format!("ready: {}/readyz", app.base);
    assert_eq!(healthcheck(&["--url", &app.base], &[]).await, (true, format!("{ready}\n")));
    let port = app.base.rsplit(':').next().unwrap();
    let (ok, said) = healthcheck(&[], &[("SWITCHBOARD_LISTEN", &format!("0.0.0.0:{port}"))]).await;
    assert!(ok && said.contains(&format!("ready: http://127.0.0.1:{port}/readyz")), "{said}");

    // An instance that is up but not ready (its database gone): 503.
    let unready = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let unready_url = format!("http://{}", unready.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = unready.accept().await {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let answer = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    let (ok, said) = healthcheck(&["--url", &unready_url], &[]).await;
    assert!(!ok && said.contains("answered 503 Service Unavailable: not ready"), "{said}");
    let (ok, said) = healthcheck(&["--url", "not a url"], &[]).await;
    assert!(!ok && said.contains("--url not a url is not an http(s) URL"), "{said}");
    // Nobody there at all.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (ok, said) = healthcheck(&["--url", &format!("http://{gone}")], &[]).await;
    assert!(!ok && said.contains("did not answer"), "{said}");
}

/// A stopping instance turns unready first: from SIGTERM `/readyz` answers `503 stopping` while
/// requests are still served for `shutdown_drain_secs`, so a load balancer takes it out before it
/// stops listening; then it stops cleanly.
#[suite_test]
async fn a_stopping_instance_is_unready_while_it_drains(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, _log, mut server, _w) =
        crate::server::take_over_with(&mut app, &[("SWITCHBOARD_SHUTDOWN_DRAIN_SECS", "3")], sim).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let ready = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let admin = app.token(switchboard_http::Role::TenantAdmin, Some("acme"), None);
    let mut stream = app.client.get(format!("{}/api/v1/events", server.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let signalled = tokio::time::Instant::now();
    server.terminate();
    // The stream ends at once, telling its client to come back within about a second (through
    // the load balancer, to another instance).
    let mut said = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.chunk()).await {
            Ok(Ok(Some(bytes))) => said.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => break,
            other => panic!("the stream did not end when the instance began to stop: {other:?} after {said:?}"),
        }
    }
    let hint = said.rsplit("retry: ").next().and_then(|t| t.split('\n').next()).and_then(|ms| ms.parse::<u64>().ok());
    assert!(hint.is_some_and(|ms| (250..1250).contains(&ms)), "its last words: {said:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unready = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(unready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unready.json::<serde_json::Value>().await.unwrap()["code"], "stopping");
    // Still serving meanwhile: liveness, and the API.
    let live = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let api = client.get(format!("{}/api/v1/tenants", server.base)).bearer_auth(&app.system).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let status = server.exited(Duration::from_secs(15)).await.expect("it stops after the drain");
    assert!(status.success(), "{status:?}");
    assert!(signalled.elapsed() >= Duration::from_secs(3), "it served through the drain: {:?}", signalled.elapsed());
}

/// A stopping instance hands back the jobs it still holds when its deadline comes: three sends
/// hang at Flowroute, the instance stops with a one-second deadline, and the jobs are due for any
/// instance at once, their claim not counted, instead of leased to a process that is gone until
/// the lease lapses (the claim not counted: `sql::housekeeping_…`). The next instance looks each
/// one up (Flowroute never took them) and sends each exactly once.
#[suite_test]
async fn a_stopping_instance_hands_back_the_jobs_it_still_holds(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    // A send may take 20 s; the stop waits one.
    let env = [("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "1"), ("SWITCHBOARD_FLOWROUTE_TIMEOUT_SECS", "20")];
    let (dir, log, mut server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    w.sim.hold(true);
    let ext = app.token(switchboard_http::Role::Extension, Some("acme"), Some("101"));
    for i in 0..3 {
        let body = json!({"to": format!("+1206555014{i}"), "body": format!("held {i}")});
        app.post("/api/v1/messages", &ext, body).await.expect(StatusCode::ACCEPTED);
    }
    let sending = "SELECT status FROM message WHERE status = 'sending'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while crate::support::column(&app, sending).await.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the sends never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.terminate();
    let status = server.exited(Duration::from_secs(10)).await.expect("it stops without waiting for the sends");
    assert!(status.success(), "{status:?}");
    // Handed back (or, for a send whose connection failed as the process stopped, put back to
    // retry): due for any instance, leased to none.
    let jobs = "SELECT state FROM job WHERE kind = 'provider_send' AND locked_until IS NULL";
    assert_eq!(crate::support::column(&app, jobs).await, ["pending", "pending", "pending"]);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("stopping: handed back jobs still in flight"), "{said}");

    w.sim.hold(false);
    let next = crate::server::Server::start(&app, &dir.path().join("next.log")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while w.sim.accepted().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "only {} sent after the restart", w.sim.accepted().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut bodies: Vec<String> = w.sim.accepted().iter().filter_map(|s| s.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, ["held 0", "held 1", "held 2"], "each sent once");
    drop(next);
}

/// Housekeeping runs on its own, within one interval:
/// - a delivery done eight days ago (past the 7-day default) goes, this week's stays;
/// - an event past a 1-day retention goes;
/// - a text past a 1-day retention goes, with its conversation, while a newer one stays;
/// - an attachment kept 200 days (past the 180-day default) is removed from the media store and
///   answers `410`, while its text stays.
#[suite_test]
async fn housekeeping_prunes_what_is_past_its_retention(mut app: TestApp) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let env = [
        ("SWITCHBOARD_HOUSEKEEPING_INTERVAL_SECS", "10"),
        ("SWITCHBOARD_RETENTION_EVENTS_DAYS", "1"),
        ("SWITCHBOARD_RETENTION_MESSAGES_DAYS", "1"),
        ("SWITCHBOARD_MEDIA_ALLOW_HTTP", "true"),
    ];
    let (dir, log, _server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    let host = crate::media::media_host().await;
    // "old 0" from one person, "old 1" from another, and a picture from a third.
    for (i, from) in [(0, "12065550123"), (1, "12065550124")] {
        let body = format!(r#"{{"to":"12025550100","from":"{from}","body":"old {i}","id":"mdr2-hk-{i}"}}"#);
        app.flowroute("acmein", body.as_bytes()).await.expect(StatusCode::OK);
    }
    let mms = crate::media::mms("mdr2-hk-pic", &host, &[("img.jpg", "image/jpeg")]);
    let mms = String::from_utf8(mms).unwrap().replace("12065550123", "12065550125");
    app.flowroute("acmein", mms.as_bytes()).await.expect(StatusCode::OK);
    let delivered = w.sink.wait_for(3, Duration::from_secs(10)).await;
    let mut picture = delivered.iter().find_map(|d| d.json["data"]["media"][0]["url"].as_str()).unwrap().to_owned();
    let picture = picture.split_off(picture.find("/api/").unwrap());
    let (status, _, _) = crate::media::settled(&app, &picture, &w.token).await;
    assert_eq!(status, StatusCode::OK, "the picture was kept");
    assert_eq!(crate::media::files_under(&dir.path().join("media")), 1);
    let done = "SELECT state FROM job WHERE kind = 'webhook_delivery' AND state = 'done'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while crate::support::column(&app, done).await.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the deliveries were never recorded done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Make "old 0", its delivery and its event old, and the picture's bytes. A round may run
    // between two of these updates: the text, which the wait below watches, is aged last, so the
    // round that prunes it has seen everything else aged (it prunes jobs and events before texts).
    let ago = |days: i64| chrono::Utc::now() - chrono::Duration::days(days);
    let old = "(SELECT id FROM message WHERE body = 'old 0')";
    for (sql, when) in [
        ("UPDATE conversation SET last_message_at = $1 WHERE remote = '+12065550123'".to_owned(), ago(2)),
        (format!("UPDATE job SET updated_at = $1 WHERE message_id IN {old}"), ago(8)),
        (format!("UPDATE event SET created_at = $1 WHERE message_id IN {old}"), ago(2)),
        ("UPDATE media SET created_at = $1".to_owned(), ago(200)),
        (format!("UPDATE message SET created_at = $1 WHERE id IN {old}"), ago(2)),
    ] {
        crate::support::execute(&app, &sql, vec![when.into()]).await;
    }
    // What should be left: this week's text and its delivery, the two newer texts' events and
    // conversations, and the picture's row, expired. Waited for as a whole: a round may run while
    // the rows above are being aged.
    let texts = "SELECT body FROM message WHERE body LIKE 'old %' ORDER BY body";
    let deliveries = "SELECT state FROM job WHERE kind = 'webhook_delivery'";
    let events = "SELECT event_type FROM event WHERE event_type = 'message.received'";
    let conversations = "SELECT remote FROM conversation ORDER BY remote";
    let left = || async {
        (
            crate::support::column(&app, texts).await,
            crate::support::column(&app, deliveries).await.len(),
            crate::support::column(&app, events).await.len(),
            crate::support::column(&app, conversations).await,
            crate::support::column(&app, "SELECT state FROM media").await,
        )
    };
    let expected = (
        vec!["old 1".to_owned()],
        2,
        2,
        vec!["+12065550124".to_owned(), "+12065550125".to_owned()],
        vec!["expired".to_owned()],
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        let now = left().await;
        if now == expected {
            break;
        }
        // (texts, deliveries, events, conversations, media)
        assert!(tokio::time::Instant::now() < deadline, "after two rounds: {now:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The picture's text stays; its bytes are gone, and it says so.
    let res = app.client.get(format!("{}{picture}", app.base)).bearer_auth(&w.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(crate::media::files_under(&dir.path().join("media")), 0, "the bytes were removed");
    let said = std::fs::read_to_string(&log).unwrap();
    for what in ["\"finished jobs\"", "\"events\"", "\"media\"", "\"texts\""] {
        assert!(said.contains(what), "no {what} pruned in the log");
    }
}
