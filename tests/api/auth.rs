//! Bearer tokens: HS256 only, expiry required, claims that fit the role, roles enforced per route.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::support::TestApp;

fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// A token whose header names `alg` but whose signature is HMAC-SHA256 with the server's secret:
/// the algorithm-confusion attack (an RS256 verifier fed the HMAC of its own public key).
fn confused(alg: &str, secret: &str, claims: &Value) -> String {
    use hmac::Mac;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[suite_test]
async fn tokens_are_hs256_with_expiry_only(app: TestApp) {
    app.tenant("acme").await;
    let exp = chrono::Utc::now().timestamp() + 600;
    let good = json!({"sub": "t", "role": "system", "exp": exp});
    let secret = app.jwt_secret.clone();
    assert_eq!(
        app.get("/api/v1/tenants", &sign(Algorithm::HS256, &secret, &good)).await.status,
        StatusCode::OK,
        "the control: a proper HS256 token works"
    );
    assert_eq!(
        app.get("/api/v1/tenants", &confused("HS256", &secret, &good)).await.status,
        StatusCode::OK,
        "the control: the hand-made token is valid when it names HS256"
    );
    let refused = [
        ("alg none", unsigned(&good)),
        ("RS256 header, HMAC signature", confused("RS256", &secret, &good)),
        ("ES256 header, HMAC signature", confused("ES256", &secret, &good)),
        ("PS256 header, HMAC signature", confused("PS256", &secret, &good)),
        ("None header, HMAC signature", confused("None", &secret, &good)),
        ("HS384", sign(Algorithm::HS384, &secret, &good)),
        ("HS512", sign(Algorithm::HS512, &secret, &good)),
        ("wrong secret", sign(Algorithm::HS256, "another-secret-that-is-long-enough-000", &good)),
        ("expired", sign(Algorithm::HS256, &secret, &json!({"sub": "t", "role": "system", "exp": exp - 4000}))),
        ("no exp", sign(Algorithm::HS256, &secret, &json!({"sub": "t", "role": "system"}))),
        ("no sub", sign(Algorithm::HS256, &secret, &json!({"role": "system", "exp": exp}))),
        ("no role", sign(Algorithm::HS256, &secret, &json!({"sub": "t", "exp": exp}))),
        ("unknown role", sign(Algorithm::HS256, &secret, &json!({"sub": "t", "role": "root", "exp": exp}))),
        (
            "admin without tenant",
            sign(Algorithm::HS256, &secret, &json!({"sub": "t", "role": "tenant_admin", "exp": exp})),
        ),
        (
            "system with tenant",
            sign(Algorithm::HS256, &secret, &json!({"sub": "t", "role": "system", "tenant": "acme", "exp": exp})),
        ),
        (
            "extension without ext",
            sign(Algorithm::HS256, &secret, &json!({"sub": "t", "role": "extension", "tenant": "acme", "exp": exp})),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in refused {
        let r = app.get("/api/v1/tenants/acme", &token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        r.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let none = app.call(Method::GET, "/api/v1/tenants/acme", None, None).await;
    none.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let res = app
        .client
        .get(format!("{}/api/v1/tenants/acme", app.base))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[suite_test]
async fn roles_are_enforced_per_route(app: TestApp) {
    let acme = app.tenant("acme").await;
    app.tenant("globex").await;
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let other_ext = app.token(Role::Extension, Some("globex"), Some("101"));
    let ghost = app.admin("no-such-tenant");

    // Tenant admins may not list or create tenants.
    app.get("/api/v1/tenants", &acme).await.problem(StatusCode::FORBIDDEN, "forbidden");
    app.post("/api/v1/tenants", &acme, json!({"slug": "mine", "name": "Mine"}))
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    // Extensions may not manage anything of their tenant: 403; of another tenant: 404.
    for path in ["/api/v1/tenants/acme", "/api/v1/tenants/acme/numbers", "/api/v1/tenants/acme/providers"] {
        app.get(path, &ext).await.problem(StatusCode::FORBIDDEN, "forbidden");
        app.get(path, &other_ext).await.problem(StatusCode::NOT_FOUND, "not_found");
    }
    app.get("/api/v1/tenants", &ext).await.problem(StatusCode::FORBIDDEN, "forbidden");
    // A token for a tenant that does not exist reaches nothing.
    app.get("/api/v1/tenants/no-such-tenant/numbers", &ghost).await.problem(StatusCode::NOT_FOUND, "not_found");
    // The system administrator can act in any tenant.
    let sys = app.system.clone();
    let r = app.post("/api/v1/tenants/acme/extensions", &sys, json!({"extension": "101", "name": "Front"})).await;
    r.expect(StatusCode::CREATED);
    app.get("/api/v1/tenants/acme/extensions/101", &acme).await.expect(StatusCode::OK);
}

/// A suspended tenant may read, nothing else (the system administrator may still change it), and
/// its queued texts wait unsent until it is active again.
#[suite_test]
async fn a_suspended_tenant_may_read_and_its_sends_wait(app: TestApp) {
    use base64::Engine as _;
    use switchboard_store::outbound::{SendInput, Sender};

    let w = crate::wired::wire(&app, "acme", "acmein", "+12025550100").await;
    let ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let tenant: uuid::Uuid =
        app.get(&w.base, &w.token).await.expect(StatusCode::OK)["id"].as_str().unwrap().parse().unwrap();
    let sys = app.system.clone();
    app.patch(&w.base, &sys, json!({"status": "suspended"})).await.expect(StatusCode::OK);

    app.get(&w.base, &w.token).await.expect(StatusCode::OK);
    app.get(&format!("{}/numbers", w.base), &w.token).await.expect(StatusCode::OK);
    app.get("/api/v1/conversations", &ext).await.expect(StatusCode::OK);
    let suspended = |r: crate::support::Reply| {
        r.problem(StatusCode::FORBIDDEN, "tenant_suspended");
    };
    suspended(app.post(&format!("{}/extensions", w.base), &w.token, json!({"extension": "400", "name": "x"})).await);
    suspended(app.patch(&format!("{}/numbers/+12025550100", w.base), &w.token, json!({"name": "y"})).await);
    suspended(app.patch(&w.base, &w.token, json!({"name": "z"})).await);
    suspended(app.call(Method::DELETE, &format!("{}/extensions/300", w.base), Some(&w.token), None).await);
    suspended(app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "hi"})).await);
    suspended(
        app.post(
            &format!("{}/messages", w.base),
            &w.token,
            json!({"from": "+12025550100", "to": "+12065550123", "body": "hi"}),
        )
        .await,
    );
    assert_eq!(
        app.get(&format!("{}/extensions/300", w.base), &w.token).await.status,
        StatusCode::OK,
        "nothing changed"
    );

    // A text queued before the suspension (written here directly) waits.
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = switchboard_store::Store::connect(&app.database_url, &key).await.unwrap();
    let input = SendInput {
        to: "+12065550123".into(),
        body: Some("queued".into()),
        from: Some("+12025550100".into()),
        media_urls: vec![],
        attachments: vec![],
        automated: false,
    };
    let (queued, _) = store.queue_outbound(tenant, Sender::Extension("101".into()), input, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.sim.requests(), 0, "a suspended tenant's text went out");
    let m = app.get(&format!("{}/messages/{}", w.base, queued.id), &w.token).await;
    assert_eq!(m.expect(StatusCode::OK)["status"], "queued");

    app.patch(&w.base, &sys, json!({"status": "active"})).await.expect(StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while w.sim.accepted().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the waiting text was never sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.sim.accepted().len(), 1);
    app.post(&format!("{}/extensions", w.base), &w.token, json!({"extension": "400", "name": "x"}))
        .await
        .expect(StatusCode::CREATED);
}

/// Tokens name their tenant by slug, and a deleted tenant's slug can be taken again: a token issued
/// before its tenant was created (a deleted namesake's) opens nothing, nor one that does not say
/// when it was issued.
#[suite_test]
async fn a_deleted_tenants_token_does_not_open_its_namesake(app: TestApp) {
    let sys = app.system.clone();
    let old_admin = app.tenant("acme").await;
    let old_ext = app.token(Role::Extension, Some("acme"), Some("101"));
    app.post("/api/v1/tenants/acme/extensions", &old_admin, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);
    app.call(Method::DELETE, "/api/v1/tenants/acme", Some(&sys), None).await.expect(StatusCode::NO_CONTENT);
    // Issued at least a second before the new tenant exists.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.post("/api/v1/tenants", &sys, json!({"slug": "acme", "name": "Another Acme"}))
        .await
        .expect(StatusCode::CREATED);
    app.post("/api/v1/tenants/acme/extensions", &sys, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);
    app.get("/api/v1/tenants/acme", &old_admin).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    app.get("/api/v1/conversations", &old_ext).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    // A token without iat is refused for a tenant (the system administrator's needs none).
    let exp = chrono::Utc::now().timestamp() + 600;
    let no_iat = sign(
        Algorithm::HS256,
        &app.jwt_secret,
        &json!({"sub": "x", "role": "tenant_admin", "tenant": "acme", "exp": exp}),
    );
    app.get("/api/v1/tenants/acme", &no_iat).await.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    // Tokens issued now open the new tenant.
    app.get("/api/v1/tenants/acme", &app.admin("acme")).await.expect(StatusCode::OK);
    app.get("/api/v1/conversations", &app.token(Role::Extension, Some("acme"), Some("101")))
        .await
        .expect(StatusCode::OK);
}
