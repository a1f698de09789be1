//! API keys: shown once, scoped on every route (a matrix generated from the OpenAPI document),
//! and refused on the very next request once revoked.

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_test_macros::suite_test;

use crate::support::TestApp;

/// Creates a key of `acme` with `scopes`; returns its id and the key.
async fn key(app: &TestApp, admin: &str, scopes: &[&str]) -> (String, String) {
    let made = app.post("/api/v1/tenants/acme/api-keys", admin, json!({"name": "PBX", "scopes": scopes})).await;
    let body = made.expect(StatusCode::CREATED);
    (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
}

#[suite_test]
async fn api_keys_are_shown_once_scoped_and_revocable(app: TestApp) {
    let acme = app.configured_tenant("acme", "acmein", "+12025550100").await;
    app.tenant("other").await;
    let keys = "/api/v1/tenants/acme/api-keys";
    for (body, field) in
        [(json!({"name": "X", "scopes": []}), "scopes"), (json!({"name": "", "scopes": ["read"]}), "name")]
    {
        let refused = app.post(keys, &acme.token, body).await;
        assert_eq!(refused.json["errors"][0]["field"], field, "{}", refused.text);
    }
    let unknown = app.post(keys, &acme.token, json!({"name": "X", "scopes": ["superuser"]})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.text);

    let (send_id, send) = key(&app, &acme.token, &["send"]).await;
    let (_, read) = key(&app, &acme.token, &["read"]).await;
    let (_, admin) = key(&app, &acme.token, &["admin", "admin"]).await;
    assert!(send.starts_with("sbk_") && send.len() > 40, "{send}");
    let listed = app.get(keys, &acme.token).await;
    assert!(!listed.text.contains(&send[12..]), "a key is shown once: {}", listed.text);
    assert_eq!(listed.json["items"][0]["prefix"], send[..12]);
    assert_eq!(listed.json["items"][2]["scopes"], json!(["admin"]));

    // Each key does what its scopes say, and nothing more.
    let text = json!({"from": "+12025550100", "to": "+12065550123", "body": "Your appointment is confirmed"});
    let sent = app.post("/api/v1/tenants/acme/messages", &send, text.clone()).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    let scoped = app.get("/api/v1/tenants/acme/messages", &send).await;
    assert_eq!((scoped.status, scoped.json["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_scope")));
    assert_eq!(app.get("/api/v1/tenants/acme/messages", &read).await.json["items"].as_array().unwrap().len(), 1);
    let write = app.post("/api/v1/tenants/acme/extensions", &read, json!({"extension": "300", "name": "X"})).await;
    assert_eq!(write.json["code"], "insufficient_scope", "{}", write.text);
    let sent_by_read = app.post("/api/v1/tenants/acme/messages", &read, text).await;
    assert_eq!(sent_by_read.json["code"], "insufficient_scope");
    let made = app.post("/api/v1/tenants/acme/extensions", &admin, json!({"extension": "300", "name": "X"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    for path in [keys, "/api/v1/tenants/acme/users", "/api/v1/auth/sessions"] {
        let r = app.get(path, &admin).await;
        assert_eq!(r.json["code"], "insufficient_scope", "{path}: {}", r.text);
    }
    assert_eq!(app.get("/api/v1/tenants", &admin).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/tenants/other", &admin).await.status, StatusCode::NOT_FOUND);

    let used = app.get(&format!("{keys}/{send_id}"), &acme.token).await;
    assert!(used.json["last_used_at"].is_string(), "{}", used.text);

    // Revoked: refused on the next request, still listed, not revoked twice.
    assert_eq!(app.delete(&format!("{keys}/{send_id}"), &acme.token).await.status, StatusCode::NO_CONTENT);
    let after = app.get("/api/v1/tenants/acme/messages", &send).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
    let post = app.post("/api/v1/tenants/acme/messages", &send, json!({})).await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);
    assert!(app.get(&format!("{keys}/{send_id}"), &acme.token).await.json["revoked_at"].is_string());
    assert_eq!(app.delete(&format!("{keys}/{send_id}"), &acme.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tenants/acme", &read).await.status, StatusCode::OK, "other keys go on");
}

/// Every documented operation, called with a read-only key and a send-only key: a read key may
/// only read, a send key may only send, and neither reaches people, sessions or keys. Generated
/// from the OpenAPI document, so a new route is covered without a change here.
#[suite_test]
async fn key_scopes_hold_on_every_documented_route(app: TestApp) {
    app.configured_tenant("acme", "acmein", "+12025550100").await;
    let admin = app.admin("acme");
    let (_, read) = key(&app, &admin, &["read"]).await;
    let (_, send) = key(&app, &admin, &["send"]).await;
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let mut checked = 0;
    for (path, item) in doc.json["paths"].as_object().unwrap() {
        let concrete = crate::support::sample_path(path);
        for (method, op) in item.as_object().unwrap() {
            if op["security"].is_null() || !path.starts_with("/api/") {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let people = path.starts_with("/api/v1/auth/")
                || path.starts_with("/api/v1/operators")
                || path.contains("/users")
                || path.contains("/api-keys");
            let sending =
                m == Method::POST && (path == "/api/v1/messages" || path == "/api/v1/tenants/{tenant}/messages");
            for (credential, allowed) in [(&read, m == Method::GET && !people), (&send, sending)] {
                if path == "/api/v1/events" {
                    // A live stream: only its status is read, not its endless body.
                    let res =
                        app.client.get(format!("{}{concrete}", app.base)).bearer_auth(credential).send().await.unwrap();
                    assert_eq!(res.status() == StatusCode::OK, allowed, "GET {path}: {}", res.status());
                    checked += 1;
                    continue;
                }
                let r = app.call(m.clone(), &concrete, Some(credential), Some(json!({}))).await;
                let refused = r.status == StatusCode::FORBIDDEN && r.json["code"] == "insufficient_scope";
                assert_eq!(
                    !refused,
                    allowed,
                    "{method} {path} with a {} key: {}",
                    if *credential == read { "read" } else { "send" },
                    r.text
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 80, "only {checked} calls in the matrix");
}
