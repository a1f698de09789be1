//! Tenant isolation: for every resource, another tenant's admin gets `404` on read, update and
//! delete, sees nothing of it in lists, and the resource is untouched afterwards.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_http::Role;

use switchboard_test_macros::suite_test;

use crate::support::TestApp;

#[suite_test]
async fn another_tenants_resources_are_404_everywhere(app: TestApp) {
    let a = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let b = app.configured_tenant("globex", "globexin", "+12025550101").await;
    let ta = &a.base;
    let company = app.post(&format!("{ta}/companies"), &a.token, json!({"name": "Walk-ins"})).await;
    let company_id = company.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let contact = app.post(&format!("{ta}/contacts"), &a.token, json!({"name": "Pat", "phone": "+12065550123"})).await;
    let contact_id = contact.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let policy = app.post(&format!("{ta}/policies"), &a.token, json!({"name": "P", "timezone": "UTC"})).await;
    // An extension name only A has (both tenants have 101 and 102 of their own).
    app.post(&format!("{ta}/extensions"), &a.token, json!({"extension": "777", "name": "A only"}))
        .await
        .expect(StatusCode::CREATED);
    let policy_id = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();

    // (item path under a tenant, a harmless patch body or none where the resource has no PATCH)
    let items: Vec<(String, Option<Value>)> = vec![
        (format!("providers/{}", a.provider), Some(json!({"name": "pwned"}))),
        ("prefixes/acmein".into(), None),
        ("extensions/777".into(), Some(json!({"name": "pwned"}))),
        ("numbers/+12025550100".into(), Some(json!({"name": "pwned"}))),
        (format!("policies/{policy_id}"), Some(json!({"name": "pwned"}))),
        (format!("companies/{company_id}"), Some(json!({"name": "pwned"}))),
        (format!("contacts/{contact_id}"), Some(json!({"name": "pwned"}))),
    ];
    for (item, patch) in &items {
        // Through B's own tenant path: the id names nothing there.
        let own = format!("{}/{item}", b.base);
        // Through A's path with B's token: the whole tenant is invisible.
        let foreign = format!("{ta}/{item}");
        for path in [&own, &foreign] {
            if item.starts_with("prefixes/") && path == &own {
                continue; // B has a prefix of its own name space; acmein is simply not B's.
            }
            app.get(path, &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
            if let Some(body) = patch {
                app.patch(path, &b.token, body.clone()).await.problem(StatusCode::NOT_FOUND, "not_found");
            }
            app.delete(path, &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
        }
        // Untouched for its owner.
        let mine = app.get(&foreign, &a.token).await;
        assert_ne!(mine.expect(StatusCode::OK)["name"], "pwned", "{item}");
    }
    app.get(&format!("{}/prefixes/acmein", b.base), &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.delete(&format!("{}/prefixes/acmein", b.base), &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");

    // The tenant itself, and tenant-level actions.
    app.get(ta, &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.patch(ta, &b.token, json!({"name": "pwned"})).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.delete(ta, &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.post(&format!("{ta}/webhook-secret:rotate"), &b.token, json!({}))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    for list in
        ["providers", "prefixes", "extensions", "numbers", "policies", "companies", "contacts", "messages", "opt-outs"]
    {
        app.get(&format!("{ta}/{list}"), &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
        // Creating inside A with B's token is refused too.
        app.post(&format!("{ta}/{list}"), &b.token, json!({})).await.problem(StatusCode::NOT_FOUND, "not_found");
    }
    // B's lists hold only B's own things.
    let numbers = app.get(&format!("{}/numbers", b.base), &b.token).await;
    let listed: Vec<&str> = numbers.expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["e164"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["+12025550101"]);
    assert_eq!(app.get(&format!("{}/companies", b.base), &b.token).await.json["items"], json!([]));
    assert_eq!(app.get(&format!("{}/contacts", b.base), &b.token).await.json["items"], json!([]));

    // References across tenants are refused as if the target did not exist.
    let r = app
        .post(
            &format!("{}/numbers", b.base),
            &b.token,
            json!({"e164": "+12025550102", "name": "x", "provider_id": a.provider, "prefix": "acmein", "policy_id": policy_id}),
        )
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["policy_id", "prefix", "provider_id"]);
    let r = app
        .post(
            &format!("{}/contacts", b.base),
            &b.token,
            json!({"name": "x", "phone": "+12065550199", "company_id": company_id}),
        )
        .await;
    assert_eq!(
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone()["errors"][0]["field"],
        "company_id"
    );

    // Messages and opt-outs of A, by id, are invisible to B.
    let tenant_id = uuid::Uuid::parse_str(app.get(ta, &a.token).await.json["id"].as_str().unwrap()).unwrap();
    let msg = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    app.sql(
        "INSERT INTO message (id, tenant_id, direction, number, remote, body, media, segments, encoding, status, \
         extensions, created_at, updated_at) VALUES ($1, $2, 'inbound', '+12025550100', '+12065550123', 'hi', $3, 1, 0, \
         'received', $4, $5, $6)",
        vec![msg.into(), tenant_id.into(), json!([]).into(), json!([]).into(), now.into(), now.into()],
    )
    .await;
    app.sql(
        "INSERT INTO opt_out (id, tenant_id, scope, remote, keyword, created_at) VALUES ($1, $2, 'all', '+12065550123', 'STOP', $3)",
        vec![uuid::Uuid::now_v7().into(), tenant_id.into(), now.into()],
    )
    .await;
    app.get(&format!("{}/messages/{msg}", b.base), &b.token).await.problem(StatusCode::NOT_FOUND, "not_found");
    app.delete(&format!("{}/opt-outs/+12065550123", b.base), &b.token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get(&format!("{}/messages", b.base), &b.token).await.json["items"], json!([]));
    assert_eq!(app.get(&format!("{}/opt-outs", b.base), &b.token).await.json["items"], json!([]));
    app.get(&format!("{ta}/messages/{msg}"), &a.token).await.expect(StatusCode::OK);
    assert_eq!(app.get(&format!("{ta}/opt-outs"), &a.token).await.json["items"].as_array().unwrap().len(), 1);
}

/// The matrix: every documented route with a path parameter, every method, called by another
/// tenant with this tenant's real ids — `404` each time, and the owner still sees each resource.
/// Generated from `/api/v1/openapi.json`, so a new route is covered the day it is documented.
#[suite_test]
async fn every_documented_route_hides_another_tenants_data(app: TestApp) {
    let w = crate::wired::wire(&app, "acme", "acmein", "+12025550100").await;
    let b = app.configured_tenant("globex", "globexin", "+12025550101").await;
    let a_ext = app.token(Role::Extension, Some("acme"), Some("101"));
    let b_ext = app.token(Role::Extension, Some("globex"), Some("101"));
    // Signed-in admins of each tenant, for the routes of one's own sessions.
    use crate::accounts::{PASSWORD, account, login, token_of};
    account(&app, "a@example.com", Role::TenantAdmin, Some("acme"), None).await;
    account(&app, "b@example.com", Role::TenantAdmin, Some("globex"), None).await;
    let a_signed = login(&app, "a@example.com", PASSWORD).await;
    let (a_session, b_session) = (token_of(&a_signed), token_of(&login(&app, "b@example.com", PASSWORD).await));
    let t = &w.base;
    let a_user = app
        .post(&format!("{t}/users"), &w.token, json!({"email": "c@example.com", "name": "C", "role": "tenant_admin"}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_key = app
        .post(&format!("{t}/api-keys"), &w.token, json!({"name": "K", "scopes": ["read"]}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = |path: &str, body: Value| {
        let (path, token) = (format!("{t}/{path}"), w.token.clone());
        let app = &app;
        async move { app.post(&path, &token, body).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned() }
    };
    let policy = created("policies", json!({"name": "P", "timezone": "UTC"})).await;
    let company = created("companies", json!({"name": "Walk-ins"})).await;
    let template = created("reply-templates", json!({"name": "Hours", "body": "Open 8 to 5."})).await;
    let contact = created("contacts", json!({"name": "Lee", "phone": "+12065550177"})).await;
    app.post(&format!("{t}/extensions"), &w.token, json!({"extension": "777", "name": "A only"}))
        .await
        .expect(StatusCode::CREATED);
    // A text with a picture from +12065550123, and an opt-out from +12065550124.
    let host = crate::media::media_host().await;
    let r = app.flowroute("acmein", &crate::media::mms("mdr2-iso-1", &host, &[("img.jpg", "image/jpeg")])).await;
    let message = r.expect(StatusCode::OK)["message_id"].as_str().unwrap().to_owned();
    let stop = br#"{"to":"12025550100","from":"12065550124","body":"STOP","id":"mdr2-iso-2"}"#;
    app.flowroute("acmein", stop).await.expect(StatusCode::OK);
    // Two conversations: their deliveries may arrive in either order.
    let events = w.sink.wait_for(2, std::time::Duration::from_secs(10)).await;
    let media_url =
        events.iter().find_map(|e| e.json["data"]["media"][0]["url"].as_str()).expect("the MMS's event").to_owned();
    crate::media::settled(&app, &media_url, &a_ext).await;
    let media = media_url.rsplit('/').next().unwrap().to_owned();
    // The PBX delivery of the MMS's event, from its text's timeline.
    let timeline = app.get(&format!("{t}/messages/{message}/timeline"), &w.token).await;
    let delivery = timeline.expect(StatusCode::OK)["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "webhook_delivery")
        .expect("the MMS's PBX delivery")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A's value for each path parameter, chosen by the collection it follows.
    let value = |path: &str, param: &str| -> String {
        let collection = path.split('/').take_while(|s| *s != format!("{{{param}}}")).last().unwrap_or("");
        match (param, collection) {
            ("tenant", _) => "acme".into(),
            ("prefix", _) => "acmein".into(),
            ("ext", _) => "777".into(),
            ("remote", _) => "+12065550123".into(),
            ("e164", "numbers") => "+12025550100".into(),
            ("e164", "opt-outs") => "+12065550124".into(),
            ("id", "providers") => w.provider.clone(),
            ("id", "policies") => policy.clone(),
            ("id", "companies") => company.clone(),
            ("id", "reply-templates") => template.clone(),
            ("id", "contacts") => contact.clone(),
            ("id", "messages") => message.clone(),
            ("id", "media") => media.clone(),
            ("id", "sessions") => a_signed.json["session_id"].as_str().unwrap().to_owned(),
            ("id", "users") => a_user.clone(),
            ("id", "api-keys") => a_key.clone(),
            ("id", "webhook-deliveries") => delivery.clone(),
            _ => panic!("the isolation matrix has no value for {{{param}}} in {path}: add one"),
        }
    };
    let fill = |path: &str| {
        let mut out = path.to_owned();
        while let Some(start) = out.find('{') {
            let end = out[start..].find('}').unwrap() + start;
            let param = out[start + 1..end].to_owned();
            out.replace_range(start..=end, &value(path, &param));
        }
        out
    };
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let mut checked = Vec::new();
    let mut controls = Vec::new();
    for (path, item) in doc.json["paths"].as_object().unwrap() {
        // Operators belong to no tenant: `operators::*` checks that no tenant's credential reaches them.
        if !path.starts_with("/api/") || !path.contains('{') || path.starts_with("/api/v1/operators") {
            continue;
        }
        let tenant_scoped = path.contains("{tenant}");
        let (theirs, ours) = if path.starts_with("/api/v1/auth/") {
            (&b_session, &a_session)
        } else if tenant_scoped {
            (&b.token, &w.token)
        } else {
            (&b_ext, &a_ext)
        };
        let concrete = fill(path);
        // Through B's own tenant path too, where the rest of the path names A's things.
        let mut urls = vec![concrete.clone()];
        if tenant_scoped && path.matches('{').count() > 1 {
            urls.push(concrete.replacen("/tenants/acme", "/tenants/globex", 1));
        }
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            // A body the route would take from its owner, so only isolation can refuse it.
            let body = match m {
                Method::PATCH if path.contains("/prefixes/") => Some(json!({"allowed_sources": ["flowroute"]})),
                Method::PATCH => Some(json!({"name": "pwned"})),
                Method::POST => Some(json!({})),
                _ => None,
            };
            for url in &urls {
                let r = app.call(m.clone(), url, Some(theirs), body.clone()).await;
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {url} by another tenant: {}", r.text);
                r.problem(StatusCode::NOT_FOUND, "not_found");
                checked.push(format!("{method} {url}"));
            }
            if m == Method::GET {
                controls.push((concrete.clone(), ours.clone()));
            }
        }
    }
    assert!(checked.len() >= 40, "only {} calls in the matrix: {checked:?}", checked.len());
    // Nothing was touched, and the control: the owner sees each of them (so the 404s above were
    // isolation, not ids that named nothing).
    for (url, token) in controls {
        let r = app.get(&url, &token).await;
        assert_eq!(r.status, StatusCode::OK, "GET {url} by its owner: {}", r.text);
        assert!(!r.text.contains("pwned"), "GET {url}: changed by another tenant: {}", r.text);
    }
    let sessions = app.get("/api/v1/auth/sessions", &a_session).await;
    assert_eq!(sessions.json[0]["id"], a_signed.json["session_id"], "A's session lives on: {}", sessions.text);
}
