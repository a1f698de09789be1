//! The audit log: every write made with a credential, and every sign-in and accepted invitation,
//! with who, which credential and what changed (secrets redacted); readable by the tenant's admins,
//! and by operators for all tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_test_macros::suite_test;

use crate::accounts::{PASSWORD, login, token_of};
use crate::support::TestApp;

#[suite_test]
async fn an_admin_is_invited_signs_in_and_every_step_is_audited(app: TestApp) {
    // The operator's automation creates the tenant and invites its admin.
    let created = app.post("/api/v1/tenants", &app.system, json!({"slug": "acme", "name": "Acme"})).await;
    created.expect(StatusCode::CREATED);
    let cli = app.admin("acme");
    let invited = app
        .post(
            "/api/v1/tenants/acme/users",
            &cli,
            json!({"email": "ann@example.com", "name": "Ann", "role": "tenant_admin"}),
        )
        .await;
    let invitation = invited.expect(StatusCode::CREATED)["invitation"]["token"].as_str().unwrap().to_owned();
    let accepted = app
        .call(
            Method::POST,
            "/api/v1/auth/invitations/accept",
            None,
            Some(json!({"token": invitation, "password": PASSWORD})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::NO_CONTENT);
    let signed = login(&app, "ann@example.com", PASSWORD).await;
    let (ann, session) = (token_of(&signed), signed.json["session_id"].as_str().unwrap().to_owned());
    let ann_id = signed.json["account"]["id"].as_str().unwrap().to_owned();

    // Ann connects a provider, creates a key for her PBX, the PBX uses it, and she revokes it.
    let provider = json!({"name": "Main", "kind": "flowroute", "access_key": "AK-visible-nowhere", "secret_key": "SK-visible-nowhere"});
    app.post("/api/v1/tenants/acme/providers", &ann, provider).await.expect(StatusCode::CREATED);
    let refused = app.post("/api/v1/tenants/acme/extensions", &ann, json!({"extension": "", "name": "X"})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let made = app.post("/api/v1/tenants/acme/api-keys", &ann, json!({"name": "PBX", "scopes": ["admin"]})).await;
    let made = made.expect(StatusCode::CREATED).clone();
    let (key_id, key) = (made["id"].as_str().unwrap().to_owned(), made["key"].as_str().unwrap().to_owned());
    app.post("/api/v1/tenants/acme/extensions", &key, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        app.delete(&format!("/api/v1/tenants/acme/api-keys/{key_id}"), &ann).await.status,
        StatusCode::NO_CONTENT
    );

    let log = app.get("/api/v1/tenants/acme/audit", &ann).await;
    let entries = log.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    let steps: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("method"), s("route"), s("actor"))
        })
        .collect();
    let account = format!("account:{ann_id}");
    let want = [
        ("DELETE", "/api/v1/tenants/{tenant}/api-keys/{id}", account.as_str()),
        ("POST", "/api/v1/tenants/{tenant}/extensions", &format!("key:{key_id}")),
        ("POST", "/api/v1/tenants/{tenant}/api-keys", account.as_str()),
        ("POST", "/api/v1/tenants/{tenant}/providers", account.as_str()),
        ("POST", "/api/v1/auth/login", account.as_str()),
        ("POST", "/api/v1/auth/invitations/accept", account.as_str()),
        ("POST", "/api/v1/tenants/{tenant}/users", "cli:test"),
        ("POST", "/api/v1/tenants", "cli:test"),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(m, r, a)| ((*m).to_owned(), (*r).to_owned(), (*a).to_owned())).collect();
    assert_eq!(steps, want, "newest first, refused writes left out: {}", log.text);
    assert_eq!(entries[4]["credential"], format!("session:{session}"), "the sign-in names the session it started");
    assert_eq!(entries[4]["changes"], serde_json::Value::Null, "nothing of the password");
    assert_eq!(entries[0]["credential"], format!("session:{session}"));
    assert_eq!(entries[0]["status"], 204);
    assert_eq!(entries[0]["address"], "127.0.0.1");
    assert_eq!(entries[2]["changes"], json!({"name": "PBX", "scopes": ["admin"]}));
    assert_eq!(entries[3]["changes"]["secret_key"], "[redacted]");
    for secret in ["AK-visible-nowhere", "SK-visible-nowhere", &invitation, &key, PASSWORD] {
        assert!(!log.text.contains(secret), "a secret in the audit log: {secret}");
    }
    let by_key = app.get(&format!("/api/v1/tenants/acme/audit?actor=key:{key_id}"), &ann).await;
    assert_eq!(by_key.json["items"].as_array().unwrap().len(), 1, "{}", by_key.text);
    let bad = app.get("/api/v1/tenants/acme/audit?since=yesterday", &ann).await;
    assert_eq!(bad.json["errors"][0]["field"], "since", "{}", bad.text);

    // Operators read every tenant's log; a tenant admin reads only its own.
    assert_eq!(app.get("/api/v1/audit", &ann).await.status, StatusCode::FORBIDDEN);
    let all = app.get("/api/v1/audit", &app.system).await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 8, "{}", all.text);
    app.tenant("other").await;
    assert_eq!(app.get("/api/v1/tenants/acme/audit", &app.admin("other")).await.status, StatusCode::NOT_FOUND);
}
