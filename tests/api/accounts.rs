//! Accounts and sessions: signing in, the cookie and the access token, renewing, signing out,
//! revoking, and a disabled account, each refused on the very next request.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_core::Role;
use switchboard_store::Store;
use switchboard_store::accounts::NewAccount;
use switchboard_test_macros::suite_test;

use crate::support::{Reply, TestApp};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Creates an account straight in the store (as `switchboard user create` does).
pub(crate) async fn account(
    app: &TestApp,
    email: &str,
    role: Role,
    tenant: Option<&str>,
    ext: Option<&str>,
) -> uuid::Uuid {
    use base64::Engine as _;
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(&app.master_key).unwrap().try_into().unwrap();
    let store = Store::connect_with(&app.database_url, &key, 1).await.unwrap();
    let tenant_id = match tenant {
        Some(slug) => Some(store.tenant_by_slug(slug).await.unwrap().id),
        None => None,
    };
    let new = NewAccount {
        email: email.into(),
        name: "Ann Lee".into(),
        role,
        tenant_id,
        extension: ext.map(str::to_owned),
        password: Some(PASSWORD.to_owned().into()),
    };
    store.create_account(new).await.unwrap().id
}

pub(crate) async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    app.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email, "password": password}))).await
}

/// The `sb_session` cookie's value and attributes from a sign-in answer.
fn session_cookie(reply: &Reply) -> (String, String) {
    let header = reply.headers.get("set-cookie").expect("a session cookie").to_str().unwrap().to_owned();
    let value = header.split(';').next().unwrap().strip_prefix("sb_session=").expect("named sb_session").to_owned();
    (value, header)
}

/// Sends a request with only the session cookie.
async fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str) -> Reply {
    let res = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("cookie", format!("sb_session={cookie}"))
        .header("content-type", "application/json")
        .body(r#"{"extension":"102","name":"Sales"}"#)
        .send()
        .await
        .unwrap();
    Reply::read(res).await
}

pub(crate) fn token_of(reply: &Reply) -> String {
    reply.json["access_token"].as_str().expect("an access token").to_owned()
}

#[suite_test]
async fn sign_in_renew_and_sign_out(app: TestApp) {
    app.tenant("acme").await;
    app.tenant("other").await;
    let id = account(&app, "Ann.Lee@Example.com", Role::TenantAdmin, Some("acme"), None).await;

    let wrong = login(&app, "ann.lee@example.com", "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    assert_eq!(wrong.json["code"], "invalid_credentials");
    let unknown = login(&app, "nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!((&unknown.json["code"], &unknown.json["detail"]), (&wrong.json["code"], &wrong.json["detail"]));
    assert!(wrong.headers.get("set-cookie").is_none(), "no cookie for a refusal");

    let signed = login(&app, "  ANN.LEE@example.com ", PASSWORD).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    assert_eq!(signed.json["token_type"], "Bearer");
    assert_eq!(signed.json["expires_in"], 900);
    assert_eq!(signed.json["account"], json!({"id": id, "role": "tenant_admin", "tenant": "acme", "extension": null}));
    let (cookie, attributes) = session_cookie(&signed);
    assert!(cookie.starts_with("sbs_") && cookie.len() > 40, "{cookie}");
    // The test app's public URL is https, so the cookie is Secure.
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure", "Max-Age=1209600"] {
        assert!(attributes.contains(attribute), "{attribute} in {attributes}");
    }
    assert!(!signed.text.contains(&cookie), "the session secret is only in the cookie");
    let token = token_of(&signed);
    // The token names the account, its session and the tenant by id.
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let tenant_id = app.get("/api/v1/tenants/acme", &app.system).await.json["id"].clone();
    assert_eq!((&claims["sub"], &claims["sid"], &claims["tid"]), (&json!(id), &signed.json["session_id"], &tenant_id));

    // The access token opens the tenant, and only the tenant, as a tenant admin's.
    assert_eq!(app.get("/api/v1/tenants/acme/extensions", &token).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/tenants/other/extensions", &token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tenants", &token).await.status, StatusCode::FORBIDDEN);
    let created =
        app.post("/api/v1/tenants/acme/extensions", &token, json!({"extension": "101", "name": "Desk"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    // The cookie reads; it does not write (a page of another site could send it).
    assert_eq!(with_cookie(&app, Method::GET, "/api/v1/tenants/acme/extensions", &cookie).await.status, StatusCode::OK);
    let write = with_cookie(&app, Method::POST, "/api/v1/tenants/acme/extensions", &cookie).await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED, "{}", write.text);
    assert_eq!(app.get("/api/v1/tenants/acme/extensions/102", &token).await.status, StatusCode::NOT_FOUND);

    let sessions = app.get("/api/v1/auth/sessions", &token).await;
    assert_eq!(sessions.status, StatusCode::OK, "{}", sessions.text);
    assert_eq!(sessions.json.as_array().unwrap().len(), 1);
    assert_eq!(sessions.json[0]["id"], signed.json["session_id"]);
    assert_eq!(sessions.json[0]["current"], true);
    assert_eq!(sessions.json[0]["address"], "127.0.0.1");

    // Renewed from the cookie, and from a live access token.
    let renewed = with_cookie(&app, Method::POST, "/api/v1/auth/token", &cookie).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    assert_eq!(renewed.json["session_id"], signed.json["session_id"]);
    let renewed_token = token_of(&renewed);
    assert_eq!(app.get("/api/v1/tenants/acme", &renewed_token).await.status, StatusCode::OK);
    let again = app.call(Method::POST, "/api/v1/auth/token", Some(&token), None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);

    // Signing out ends the session for every credential that came from it, at once.
    let out = app.call(Method::POST, "/api/v1/auth/logout", Some(&renewed_token), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let cleared = out.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.starts_with("sb_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    for t in [&token, &renewed_token, &token_of(&again)] {
        let refused = app.get("/api/v1/tenants/acme", t).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    }
    let by_cookie = with_cookie(&app, Method::GET, "/api/v1/tenants/acme", &cookie).await;
    assert_eq!(by_cookie.status, StatusCode::UNAUTHORIZED);
    let renew = with_cookie(&app, Method::POST, "/api/v1/auth/token", &cookie).await;
    assert_eq!(renew.status, StatusCode::UNAUTHORIZED);

    // A CLI token has no session to list or end.
    let cli = app.admin("acme");
    assert_eq!(app.get("/api/v1/auth/sessions", &cli).await.json["code"], "no_session");
}

#[suite_test]
async fn a_revoked_session_or_disabled_user_is_refused_on_the_next_request(app: TestApp) {
    app.tenant("acme").await;
    app.tenant("other").await;
    account(&app, "ann@example.com", Role::TenantAdmin, Some("acme"), None).await;
    account(&app, "bob@example.com", Role::TenantAdmin, Some("other"), None).await;
    let first = login(&app, "ann@example.com", PASSWORD).await;
    let second = login(&app, "ann@example.com", PASSWORD).await;
    let bob = login(&app, "bob@example.com", PASSWORD).await;
    let (a, b, c) = (token_of(&first), token_of(&second), token_of(&bob));

    let listed = app.get("/api/v1/auth/sessions", &a).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 2, "{}", listed.text);
    assert_eq!(listed.json[0]["id"], second.json["session_id"], "newest first");
    assert_eq!(listed.json[0]["current"], false);

    // Another account's session is not there to revoke.
    let bobs = bob.json["session_id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/auth/sessions/{bobs}"), &a).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete("/api/v1/auth/sessions/not-an-id", &a).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tenants/other", &c).await.status, StatusCode::OK);

    let seconds = second.json["session_id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/auth/sessions/{seconds}"), &a).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/tenants/acme", &b).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/tenants/acme", &a).await.status, StatusCode::OK);
    assert_eq!(app.delete(&format!("/api/v1/auth/sessions/{seconds}"), &a).await.status, StatusCode::NOT_FOUND);

    // Disabling the account ends every session of it, and signing in is refused like a wrong password.
    app.sql(
        "UPDATE account SET disabled_at = $1 WHERE email = $2",
        vec![chrono::Utc::now().into(), "ann@example.com".into()],
    )
    .await;
    assert_eq!(app.get("/api/v1/tenants/acme", &a).await.status, StatusCode::UNAUTHORIZED);
    let refused = login(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["code"], "invalid_credentials");
    assert_eq!(app.get("/api/v1/tenants/other", &c).await.status, StatusCode::OK, "other accounts go on");
}

#[suite_test]
async fn an_extension_user_is_its_extension(app: TestApp) {
    app.tenant("acme").await;
    let admin = app.admin("acme");
    assert_eq!(
        app.post("/api/v1/tenants/acme/extensions", &admin, json!({"extension": "101", "name": "Desk"})).await.status,
        StatusCode::CREATED
    );
    account(&app, "desk@example.com", Role::Extension, Some("acme"), Some("101")).await;
    let signed = login(&app, "desk@example.com", PASSWORD).await;
    assert_eq!(signed.json["account"]["extension"], "101", "{}", signed.text);
    let token = token_of(&signed);
    assert_eq!(app.get("/api/v1/conversations", &token).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/tenants/acme/extensions", &token).await.status, StatusCode::FORBIDDEN);

    // Its extension cannot be deleted from under it; disabled, it opens nothing.
    let delete = app.delete("/api/v1/tenants/acme/extensions/101", &admin).await;
    assert_eq!(delete.status, StatusCode::CONFLICT, "{}", delete.text);
    assert!(delete.json["detail"].as_str().unwrap().contains("desk@example.com"), "{}", delete.text);
    app.patch("/api/v1/tenants/acme/extensions/101", &admin, json!({"enabled": false})).await;
    let refused = app.get("/api/v1/conversations", &token).await;
    assert_eq!(refused.json["code"], "extension_disabled", "{}", refused.text);
}

/// A sign-in with an unknown email costs what one with a known email and a wrong password costs,
/// so timing does not tell which emails have accounts.
#[suite_test]
async fn timing_does_not_reveal_whether_an_email_exists(app: TestApp) {
    app.tenant("acme").await;
    account(&app, "ann@example.com", Role::TenantAdmin, Some("acme"), None).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..7 {
        for (email, into) in [("ann@example.com", &mut known), ("nobody@example.com", &mut unknown)] {
            let started = Instant::now();
            let r = login(&app, email, "not the password at all").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            into.push(started.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    let ratio = u / k;
    assert!((0.5..2.0).contains(&ratio), "unknown {u:.4}s vs known {k:.4}s (ratio {ratio:.2})");
}

/// Runs `switchboard user create` on the app's database with `password` on standard input.
async fn user_create(app: &TestApp, args: &[&str], password: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["user", "create"])
        .args(args)
        .env_clear()
        .env("SWITCHBOARD_DATABASE_URL", &app.database_url)
        .env("SWITCHBOARD_JWT_SECRET", &app.jwt_secret)
        .env("SWITCHBOARD_MASTER_KEY", &app.master_key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{password}\n").as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

#[suite_test]
async fn the_first_operator_is_created_from_the_command_line(app: TestApp) {
    let operator = ["--email", "op@example.com", "--name", "Operator", "--role", "system"];
    for (weak, why) in [
        ("short", "password: must be at least 12 characters"),
        ("OP@example.com", "password: must not be the email address"),
    ] {
        let refused = user_create(&app, &operator, weak).await;
        let said = String::from_utf8_lossy(&refused.stderr).into_owned();
        assert!(!refused.status.success());
        assert!(said.contains(why), "{said}");
    }

    let made = user_create(&app, &operator, PASSWORD).await;
    let out = format!("{}{}", String::from_utf8_lossy(&made.stdout), String::from_utf8_lossy(&made.stderr));
    assert!(made.status.success(), "{out}");
    assert!(out.contains("created op@example.com (system)"), "{out}");
    assert!(!out.contains(PASSWORD), "the password is not echoed: {out}");

    let again = user_create(&app, &operator, PASSWORD).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("an account with the email op@example.com exists"));
    let nowhere = user_create(
        &app,
        &["--email", "x@example.com", "--name", "X", "--role", "tenant_admin", "--tenant", "nope"],
        PASSWORD,
    )
    .await;
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("tenant 'nope'"));

    let signed = login(&app, "op@example.com", PASSWORD).await;
    assert_eq!(signed.json["account"]["role"], "system", "{}", signed.text);
    assert_eq!(app.get("/api/v1/tenants", &token_of(&signed)).await.status, StatusCode::OK);
}

/// Signs in from `client` (whose local address the test chose).
async fn login_from(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> Reply {
    let res = client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    Reply::read(res).await
}

#[suite_test]
async fn refused_sign_ins_are_throttled_per_account_and_per_address(app: TestApp) {
    app.tenant("acme").await;
    account(&app, "ann@example.com", Role::TenantAdmin, Some("acme"), None).await;
    account(&app, "bob@example.com", Role::TenantAdmin, Some("acme"), None).await;
    let elsewhere = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();

    // Ten refusals for one email (the default limit); the eleventh attempt is not even checked.
    for _ in 0..10 {
        assert_eq!(login(&app, "ann@example.com", "not the password at all").await.json["code"], "invalid_credentials");
    }
    let throttled = login(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "{}", throttled.text);
    assert_eq!(throttled.json["code"], "too_many_attempts");
    let wait: u64 = throttled.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((850..=900).contains(&wait), "Retry-After {wait}");
    assert_eq!(login_from(&app, &elsewhere, "ANN@example.com", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    // An unknown email is throttled the same way, so the throttle does not tell which emails exist.
    for _ in 0..10 {
        assert_eq!(login(&app, "ghost@example.com", "not the password at all").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&app, "ghost@example.com", PASSWORD).await.json["code"], "too_many_attempts");
    // Another account signs in from the same address, which is still under its limit (50).
    let bob = login(&app, "bob@example.com", PASSWORD).await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.text);

    // Past fifty refusals from one address, nobody signs in from it; from another address, bob does.
    for i in 0..30 {
        let r = login(&app, &format!("guess{i}@example.com"), "not the password at all").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}: {}", r.text);
    }
    assert_eq!(login(&app, "bob@example.com", PASSWORD).await.json["code"], "too_many_attempts");
    assert_eq!(login_from(&app, &elsewhere, "bob@example.com", PASSWORD).await.status, StatusCode::OK);

    // The counts are in the database (so every instance sees them), and no email is kept in clear.
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT kind, key FROM sign_in_failure"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2 * 50, "one row per refusal per kind");
    for row in rows {
        let key: String = row.try_get("", "key").unwrap();
        assert!(!key.contains('@') && !key.contains('.') && key.len() == 64, "{key}");
    }
}

/// Accepts an invitation with `password`.
async fn accept(app: &TestApp, token: &str, password: &str) -> Reply {
    app.call(Method::POST, "/api/v1/auth/invitations/accept", None, Some(json!({"token": token, "password": password})))
        .await
}

#[suite_test]
async fn an_invited_admin_signs_in_and_manages_the_tenants_users(app: TestApp) {
    app.tenant("acme").await;
    let cli = app.admin("acme");
    let users = "/api/v1/tenants/acme/users";

    let invited =
        app.post(users, &cli, json!({"email": "Ann@Example.com", "name": "Ann", "role": "tenant_admin"})).await;
    let ann = invited.expect(StatusCode::CREATED).clone();
    assert_eq!((ann["email"].as_str(), ann["status"].as_str()), (Some("ann@example.com"), Some("invited")));
    let token = ann["invitation"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sbi_"), "{token}");
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let read = app.get(&format!("{users}/{ann_id}"), &cli).await;
    assert!(read.json.get("invitation").is_none() && !read.text.contains(&token), "shown once: {}", read.text);
    assert_eq!(login(&app, "ann@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED, "no password yet");

    assert_eq!(accept(&app, &token, "short").await.json["errors"][0]["field"], "password");
    assert_eq!(accept(&app, &format!("{token}x"), PASSWORD).await.status, StatusCode::NOT_FOUND);
    assert_eq!(accept(&app, &token, PASSWORD).await.status, StatusCode::NO_CONTENT);
    assert_eq!(accept(&app, &token, "another good password").await.status, StatusCode::NOT_FOUND, "spent");
    let signed = login(&app, "ann@example.com", PASSWORD).await;
    let ann_token = token_of(&signed);
    assert_eq!(app.get(&format!("{users}/{ann_id}"), &ann_token).await.json["status"], "active");

    // Ann invites the front desk's user; a lost invitation is replaced, and the old one stops working.
    app.post("/api/v1/tenants/acme/extensions", &ann_token, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);
    let refused = app.post(users, &ann_token, json!({"email": "x@example.com", "name": "X", "role": "system"})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    let unknown_ext = app
        .post(
            users,
            &ann_token,
            json!({"email": "x@example.com", "name": "X", "role": "extension", "extension": "999"}),
        )
        .await;
    assert_eq!(unknown_ext.json["errors"][0]["field"], "extension", "{}", unknown_ext.text);
    let taken =
        app.post(users, &ann_token, json!({"email": "ANN@example.com", "name": "Again", "role": "tenant_admin"})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
    let desk = app
        .post(
            users,
            &ann_token,
            json!({"email": "desk@example.com", "name": "Desk", "role": "extension", "extension": "101"}),
        )
        .await;
    let desk = desk.expect(StatusCode::CREATED).clone();
    let desk_id = desk["id"].as_str().unwrap().to_owned();
    let lost = desk["invitation"]["token"].as_str().unwrap().to_owned();
    let again = app.post(&format!("{users}/{desk_id}/invitation"), &ann_token, json!({})).await;
    let fresh = again.expect(StatusCode::OK)["invitation"]["token"].as_str().unwrap().to_owned();
    assert_eq!(accept(&app, &lost, PASSWORD).await.status, StatusCode::NOT_FOUND, "replaced");
    assert_eq!(accept(&app, &fresh, PASSWORD).await.status, StatusCode::NO_CONTENT);
    let desk_token = token_of(&login(&app, "desk@example.com", PASSWORD).await);
    assert_eq!(app.get("/api/v1/conversations", &desk_token).await.status, StatusCode::OK);
    let listed = app.get(users, &ann_token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 2, "{}", listed.text);
    assert_eq!(listed.json["items"][1]["extension"], "101");

    // Disabled: refused at once, and enabling again does not bring the old session back.
    let off = app.patch(&format!("{users}/{desk_id}"), &ann_token, json!({"disabled": true})).await;
    assert_eq!(off.expect(StatusCode::OK)["status"], "disabled");
    assert_eq!(app.get("/api/v1/conversations", &desk_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "desk@example.com", PASSWORD).await.json["code"], "invalid_credentials");
    app.patch(&format!("{users}/{desk_id}"), &ann_token, json!({"disabled": false})).await.expect(StatusCode::OK);
    assert_eq!(app.get("/api/v1/conversations", &desk_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "desk@example.com", PASSWORD).await.status, StatusCode::OK);

    // A password change keeps this session and ends the others.
    let other = token_of(&login(&app, "ann@example.com", PASSWORD).await);
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let wrong =
        app.post("/api/v1/auth/password", &ann_token, change("wrong password here", "a brand new password")).await;
    assert_eq!(wrong.json["errors"][0]["field"], "current_password", "{}", wrong.text);
    let weak = app.post("/api/v1/auth/password", &ann_token, change(PASSWORD, "ann@example.com")).await;
    assert_eq!(weak.json["errors"][0]["field"], "new_password", "{}", weak.text);
    let changed = app.post("/api/v1/auth/password", &ann_token, change(PASSWORD, "a brand new password")).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text);
    assert_eq!(app.get("/api/v1/tenants/acme", &ann_token).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/tenants/acme", &other).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "ann@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "ann@example.com", "a brand new password").await.status, StatusCode::OK);

    // A user is deleted with their sessions; a tenant is deleted with its users.
    assert_eq!(app.delete(&format!("{users}/{desk_id}"), &ann_token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{users}/{desk_id}"), &ann_token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(login(&app, "desk@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    app.tenant("gone").await;
    let gone = app.admin("gone");
    app.post("/api/v1/tenants/gone/extensions", &gone, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/tenants/gone/users",
        &gone,
        json!({"email": "g@example.com", "name": "G", "role": "extension", "extension": "101"}),
    )
    .await
    .expect(StatusCode::CREATED);
    let deleted = app.delete("/api/v1/tenants/gone", &app.system).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let reused = app
        .post(
            "/api/v1/tenants/acme/users",
            &ann_token,
            json!({"email": "g@example.com", "name": "G", "role": "tenant_admin"}),
        )
        .await;
    assert_eq!(reused.status, StatusCode::CREATED, "the email is free again: {}", reused.text);
}

/// The code an authenticator holding `secret` (base32) shows at `offset` seconds from now.
fn authenticator(secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(bytes.to_vec()).with_account_name("x").build().unwrap();
    let at = u64::try_from(chrono::Utc::now().timestamp() + offset).unwrap();
    totp.generate(at).to_string()
}

async fn login_with_code(app: &TestApp, email: &str, code: &str) -> Reply {
    let body = json!({"email": email, "password": PASSWORD, "code": code});
    app.call(Method::POST, "/api/v1/auth/login", None, Some(body)).await
}

#[suite_test]
async fn a_second_factor_is_set_up_used_once_per_code_and_required_by_a_tenant(app: TestApp) {
    app.tenant("acme").await;
    account(&app, "ann@example.com", Role::TenantAdmin, Some("acme"), None).await;
    account(&app, "bob@example.com", Role::TenantAdmin, Some("acme"), None).await;
    let ann = token_of(&login(&app, "ann@example.com", PASSWORD).await);

    // Set up: nothing changes until a current code is confirmed.
    let setup = app.post("/api/v1/auth/totp", &ann, json!({})).await;
    let secret = setup.expect(StatusCode::OK)["secret"].as_str().unwrap().to_owned();
    assert!(setup.json["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/Switchboard:ann%40example.com?"));
    assert_eq!(login(&app, "ann@example.com", PASSWORD).await.status, StatusCode::OK, "not on until confirmed");
    let wrong = app.post("/api/v1/auth/totp/confirm", &ann, json!({"code": "000000"})).await;
    assert_eq!(wrong.json["errors"][0]["field"], "code", "{}", wrong.text);
    let confirmed = app.post("/api/v1/auth/totp/confirm", &ann, json!({"code": authenticator(&secret, 0)})).await;
    let codes: Vec<String> = confirmed.expect(StatusCode::OK)["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(app.post("/api/v1/auth/totp", &ann, json!({})).await.status, StatusCode::CONFLICT);

    // Signing in now needs a code; each code counts once.
    assert_eq!(login(&app, "ann@example.com", PASSWORD).await.json["code"], "second_factor_required");
    assert_eq!(login(&app, "ann@example.com", "not the password at all").await.json["code"], "invalid_credentials");
    assert_eq!(login_with_code(&app, "ann@example.com", "123456").await.json["code"], "second_factor_invalid");
    let next = authenticator(&secret, 30);
    assert_eq!(login_with_code(&app, "ann@example.com", &next).await.status, StatusCode::OK);
    assert_eq!(login_with_code(&app, "ann@example.com", &next).await.json["code"], "second_factor_invalid", "replayed");
    let recovery = codes[3].to_uppercase().replace('-', " ");
    assert_eq!(login_with_code(&app, "ann@example.com", &recovery).await.status, StatusCode::OK);
    assert_eq!(login_with_code(&app, "ann@example.com", &codes[3]).await.json["code"], "second_factor_invalid");

    // A tenant that requires it: bob, without one, may only set one up.
    let required = app.patch("/api/v1/tenants/acme", &ann, json!({"require_totp": true})).await;
    assert_eq!(required.expect(StatusCode::OK)["require_totp"], true);
    let bob = token_of(&login(&app, "bob@example.com", PASSWORD).await);
    let blocked = app.get("/api/v1/tenants/acme/extensions", &bob).await;
    assert_eq!(blocked.json["code"], "second_factor_enrollment_required", "{}", blocked.text);
    let bob_secret = app.post("/api/v1/auth/totp", &bob, json!({})).await.expect(StatusCode::OK)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_code = authenticator(&bob_secret, 0);
    app.post("/api/v1/auth/totp/confirm", &bob, json!({"code": bob_code})).await.expect(StatusCode::OK);
    assert_eq!(app.get("/api/v1/tenants/acme/extensions", &bob).await.status, StatusCode::OK);
    let off = app.post("/api/v1/auth/totp/disable", &bob, json!({"password": PASSWORD})).await;
    assert_eq!(off.status, StatusCode::UNPROCESSABLE_ENTITY, "required by the tenant: {}", off.text);

    // Where it is not required, it can be turned off with the password.
    app.patch("/api/v1/tenants/acme", &ann, json!({"require_totp": false})).await.expect(StatusCode::OK);
    let wrong_password = app.post("/api/v1/auth/totp/disable", &ann, json!({"password": "wrong wrong wrong"})).await;
    assert_eq!(wrong_password.json["errors"][0]["field"], "password");
    assert_eq!(
        app.post("/api/v1/auth/totp/disable", &ann, json!({"password": PASSWORD})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(login(&app, "ann@example.com", PASSWORD).await.status, StatusCode::OK);
}

#[suite_test]
async fn operators_invite_operators_and_no_tenant_reaches_them(app: TestApp) {
    app.tenant("acme").await;
    let tenant_user = app
        .post(
            "/api/v1/tenants/acme/users",
            &app.admin("acme"),
            json!({"email": "t@example.com", "name": "T", "role": "tenant_admin"}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let op = json!({"email": "op2@example.com", "name": "Second operator", "role": "system"});
    for token in [app.admin("acme"), app.token(Role::Extension, Some("acme"), Some("101"))] {
        assert_eq!(app.post("/api/v1/operators", &token, op.clone()).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get("/api/v1/operators", &token).await.status, StatusCode::FORBIDDEN);
    }
    let wrong_role = app
        .post("/api/v1/operators", &app.system, json!({"email": "x@example.com", "name": "X", "role": "tenant_admin"}))
        .await;
    assert_eq!(wrong_role.json["errors"][0]["field"], "role", "{}", wrong_role.text);

    let invited = app.post("/api/v1/operators", &app.system, op).await;
    let invited = invited.expect(StatusCode::CREATED).clone();
    let token = invited["invitation"]["token"].as_str().unwrap();
    let accepted = app
        .call(
            Method::POST,
            "/api/v1/auth/invitations/accept",
            None,
            Some(json!({"token": token, "password": PASSWORD})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::NO_CONTENT);
    let op2 = token_of(&login(&app, "op2@example.com", PASSWORD).await);
    assert_eq!(app.get("/api/v1/tenants", &op2).await.status, StatusCode::OK);
    let listed = app.get("/api/v1/operators", &op2).await;
    assert_eq!(
        listed.json["items"].as_array().unwrap().len(),
        1,
        "a tenant's users are not operators: {}",
        listed.text
    );
    assert_eq!(listed.json["items"][0]["status"], "active");
    assert_eq!(app.get(&format!("/api/v1/operators/{tenant_user}"), &op2).await.status, StatusCode::NOT_FOUND);

    // An operator disabled by another is shut out at once.
    let op3 = app
        .post("/api/v1/operators", &op2, json!({"email": "op3@example.com", "name": "Third", "role": "system"}))
        .await;
    let op3 = op3.expect(StatusCode::CREATED).clone();
    let op3_id = op3["id"].as_str().unwrap();
    let op3_invite = op3["invitation"]["token"].as_str().unwrap();
    app.call(
        Method::POST,
        "/api/v1/auth/invitations/accept",
        None,
        Some(json!({"token": op3_invite, "password": PASSWORD})),
    )
    .await;
    let op3_token = token_of(&login(&app, "op3@example.com", PASSWORD).await);
    assert_eq!(app.get("/api/v1/tenants", &op3_token).await.status, StatusCode::OK);
    let off = app.patch(&format!("/api/v1/operators/{op3_id}"), &op2, json!({"disabled": true})).await;
    assert_eq!(off.expect(StatusCode::OK)["status"], "disabled");
    assert_eq!(app.get("/api/v1/tenants", &op3_token).await.status, StatusCode::UNAUTHORIZED);
    let audit = app.get("/api/v1/audit", &op2).await;
    assert!(audit.text.contains("/api/v1/operators/{id}"), "operators' writes are audited: {}", audit.text);
}
