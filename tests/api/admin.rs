//! The tenant admin's management surface: create, read, update, delete every resource.

use reqwest::StatusCode;
use serde_json::json;

use futures_util::StreamExt;

use switchboard_test_macros::suite_test;

use crate::support::TestApp;

#[suite_test]
async fn tenant_lifecycle_shows_the_secret_once(app: TestApp) {
    let sys = app.system.clone();
    let created = app.post("/api/v1/tenants", &sys, json!({"slug": "acme", "name": "Acme Dental"})).await;
    let body = created.expect(StatusCode::CREATED).clone();
    let secret = body["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 30, "{secret}");
    assert_eq!(body["slug"], "acme");
    assert_eq!(body["status"], "active");

    let admin = app.admin("acme");
    let got = app.get("/api/v1/tenants/acme", &admin).await;
    assert!(got.json.get("webhook_secret").is_none(), "the secret is shown only at creation: {}", got.text);
    assert!(!got.text.contains(&secret));

    let patched = app
        .patch("/api/v1/tenants/acme", &admin, json!({"webhook_url": "https://pbx.example.com/hook", "name": "Acme"}))
        .await;
    assert_eq!(patched.expect(StatusCode::OK)["webhook_url"], "https://pbx.example.com/hook");
    assert_eq!(patched.json["name"], "Acme");

    let rotated = app.post("/api/v1/tenants/acme/webhook-secret:rotate", &admin, json!({})).await;
    let new_secret = rotated.expect(StatusCode::OK)["webhook_secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated.json["previous_secret_valid_until"].is_string());
    let got = app.get("/api/v1/tenants/acme", &admin).await;
    assert!(got.json["webhook_secret_rotated_at"].is_string());

    // Only the system administrator suspends or deletes.
    app.patch("/api/v1/tenants/acme", &admin, json!({"status": "suspended"}))
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.delete("/api/v1/tenants/acme", &admin).await.problem(StatusCode::FORBIDDEN, "forbidden");
    let s = app.patch("/api/v1/tenants/acme", &sys, json!({"status": "suspended"})).await;
    assert_eq!(s.expect(StatusCode::OK)["status"], "suspended");
    // Suspended, its admin may change nothing at all.
    app.delete("/api/v1/tenants/acme", &admin).await.problem(StatusCode::FORBIDDEN, "tenant_suspended");

    let list = app.get("/api/v1/tenants", &sys).await;
    assert_eq!(list.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1);
    app.delete("/api/v1/tenants/acme", &sys).await.expect(StatusCode::NO_CONTENT);
    app.get("/api/v1/tenants/acme", &sys).await.problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/v1/tenants", &sys).await.json["items"], json!([]));
}

#[suite_test]
async fn a_tenants_time_zone_is_utc_until_set_to_an_iana_zone(app: TestApp) {
    let sys = app.system.clone();
    let bad =
        app.post("/api/v1/tenants", &sys, json!({"slug": "acme", "name": "Acme", "timezone": "Mars/Olympus"})).await;
    assert_eq!(bad.expect(StatusCode::UNPROCESSABLE_ENTITY)["errors"][0]["field"], "timezone");
    let created = app.post("/api/v1/tenants", &sys, json!({"slug": "acme", "name": "Acme"})).await;
    assert_eq!(created.expect(StatusCode::CREATED)["timezone"], "UTC");
    let admin = app.admin("acme");
    let refused = app.patch("/api/v1/tenants/acme", &admin, json!({"timezone": "EST5EDT-ish"})).await;
    assert_eq!(refused.expect(StatusCode::UNPROCESSABLE_ENTITY)["errors"][0]["field"], "timezone");
    let set = app.patch("/api/v1/tenants/acme", &admin, json!({"timezone": "America/Chicago"})).await;
    assert_eq!(set.expect(StatusCode::OK)["timezone"], "America/Chicago");
    let got = app.get("/api/v1/tenants/acme", &admin).await;
    assert_eq!(got.expect(StatusCode::OK)["timezone"], "America/Chicago");
    let zoned = app
        .post("/api/v1/tenants", &sys, json!({"slug": "globex", "name": "Globex", "timezone": "Europe/Paris"}))
        .await;
    assert_eq!(zoned.expect(StatusCode::CREATED)["timezone"], "Europe/Paris");
}

#[suite_test]
async fn a_tenant_is_configured_end_to_end_through_the_api(app: TestApp) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let company = app.post(&format!("{t}/companies"), &admin, json!({"name": "Walk-ins"})).await;
    let company_id = company.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let provider = app
        .post(
            &format!("{t}/providers"),
            &admin,
            json!({"name": "Flowroute main", "kind": "flowroute", "access_key": "AK00001234", "secret_key": "SK-secret",
                   "catch_all_company_id": company_id, "sender_id": "ACME"}),
        )
        .await;
    let p = provider.expect(StatusCode::CREATED).clone();
    let provider_id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["endpoint"], "https://api.flowroute.com/v2.2/messages");
    assert_eq!(p["secret_key_set"], true);
    assert_eq!(p["access_key_hint"], "…1234");
    assert_eq!(p["catch_all_company_id"], company_id.as_str());

    let prefix = app
        .post(&format!("{t}/prefixes"), &admin, json!({"prefix": "FlowrouteInbound", "provider_id": provider_id}))
        .await;
    let prefix = prefix.expect(StatusCode::CREATED);
    assert_eq!(prefix["prefix"], "flowrouteinbound", "prefixes are case-insensitive, stored in lower case");
    // A token was generated: shown once, in the URL Flowroute is given; later answers leave it out.
    let token = prefix["token"].as_str().unwrap().to_owned();
    assert_eq!(prefix["webhook_url"], format!("https://sms.example.net/flowrouteinbound?token={token}"));
    assert_eq!(prefix["token_required"], true);
    let again = app.get(&format!("{t}/prefixes/flowrouteinbound"), &admin).await;
    assert_eq!(again.expect(StatusCode::OK)["webhook_url"], "https://sms.example.net/flowrouteinbound");
    assert!(!again.text.contains(&token), "the token is shown only once");
    assert_eq!(
        app.get(&format!("{t}/prefixes/FLOWROUTEINBOUND"), &admin).await.expect(StatusCode::OK)["provider_id"],
        provider_id.as_str()
    );

    for (ext, name) in [("101", "Reception"), ("200", "After hours"), ("300", "Sales")] {
        let e = app.post(&format!("{t}/extensions"), &admin, json!({"extension": ext, "name": name})).await;
        assert_eq!(e.expect(StatusCode::CREATED)["enabled"], true);
    }
    let policy = app
        .post(
            &format!("{t}/policies"),
            &admin,
            json!({
                "name": "Front desk",
                "timezone": "America/New_York",
                "business_hours": [{"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "17:00"}],
                "after_hours": {"destinations": ["200"], "auto_reply": "We are closed; we will text you back at 9am."},
                "keywords": [{"keyword": "SALES", "destinations": ["300"]}],
                "auto_reply_interval_minutes": 1440,
                "outbound_per_minute": 60,
                "help_reply": "Acme Dental: reply STOP to opt out."
            }),
        )
        .await;
    let pol = policy.expect(StatusCode::CREATED).clone();
    let policy_id = pol["id"].as_str().unwrap().to_owned();
    assert_eq!(pol["opt_out_handling"], true, "defaults apply");
    assert_eq!(pol["keywords"][0]["destinations"], json!(["300"]));

    let number = app
        .post(
            &format!("{t}/numbers"),
            &admin,
            json!({"e164": "+12025550100", "name": "Main line", "provider_id": provider_id, "prefix": "flowrouteinbound",
                   "policy_id": policy_id, "destinations": ["101", "300"], "senders": ["101"]}),
        )
        .await;
    let n = number.expect(StatusCode::CREATED);
    assert_eq!(n["destinations"], json!(["101", "300"]), "order kept");
    assert_eq!(n["senders"], json!(["101"]));
    assert_eq!(n["policy_id"], policy_id.as_str());
    assert_eq!(n["prefix"], "flowrouteinbound");

    // The provider's default DID must be a number of the tenant; now it is.
    let p = app.patch(&format!("{t}/providers/{provider_id}"), &admin, json!({"default_did": "+12025550100"})).await;
    assert_eq!(p.expect(StatusCode::OK)["default_did"], "+12025550100");

    let contact = app
        .post(
            &format!("{t}/contacts"),
            &admin,
            json!({"name": "Pat Doe", "phone": "+12065550123", "company_id": company_id}),
        )
        .await;
    assert_eq!(contact.expect(StatusCode::CREATED)["company_id"], company_id.as_str());

    // Everything reads back.
    let got = app.get(&format!("{t}/numbers/+12025550100"), &admin).await;
    assert_eq!(got.expect(StatusCode::OK)["name"], "Main line");
    assert_eq!(
        app.get(&format!("{t}/numbers/%2B12025550100"), &admin).await.expect(StatusCode::OK)["e164"],
        "+12025550100"
    );
    assert_eq!(
        app.get(&format!("{t}/policies/{policy_id}"), &admin).await.expect(StatusCode::OK)["timezone"],
        "America/New_York"
    );
    assert_eq!(app.get(&format!("{t}/extensions/300"), &admin).await.expect(StatusCode::OK)["name"], "Sales");
    for list in
        ["providers", "prefixes", "extensions", "numbers", "policies", "companies", "contacts", "messages", "opt-outs"]
    {
        let r = app.get(&format!("{t}/{list}"), &admin).await;
        let body = r.expect(StatusCode::OK);
        assert!(body["items"].is_array() && body.get("next_cursor").is_some(), "{list}: {}", r.text);
    }
    assert_eq!(app.get(&format!("{t}/extensions"), &admin).await.json["items"].as_array().unwrap().len(), 3);
}

#[suite_test]
async fn deleting_something_in_use_is_409_naming_the_referrer(app: TestApp) {
    let c = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let (t, tok) = (&c.base, &c.token);
    let r = app.delete(&format!("{t}/extensions/101"), tok).await;
    assert!(
        r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("number +12025550100"),
        "{}",
        r.text
    );
    let r = app.delete(&format!("{t}/prefixes/acmein"), tok).await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("+12025550100"));
    let r = app.delete(&format!("{t}/providers/{}", c.provider), tok).await;
    assert!(
        r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("prefix 'acmein' and 1 more"),
        "{}",
        r.text
    );

    let policy = app
        .post(
            &format!("{t}/policies"),
            tok,
            json!({"name": "Nights", "timezone": "UTC",
            "after_hours": {"destinations": ["102"]}}),
        )
        .await;
    let policy_id = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.patch(&format!("{t}/numbers/+12025550100"), tok, json!({"policy_id": policy_id})).await.expect(StatusCode::OK);
    let r = app.delete(&format!("{t}/policies/{policy_id}"), tok).await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("number +12025550100"));
    // The extension a policy names cannot go either, even once no number lists it.
    app.patch(&format!("{t}/numbers/+12025550100"), tok, json!({"destinations": ["101"]})).await.expect(StatusCode::OK);
    let r = app.delete(&format!("{t}/extensions/102"), tok).await;
    assert!(
        r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("policy 'Nights'"),
        "{}",
        r.text
    );

    let company = app.post(&format!("{t}/companies"), tok, json!({"name": "Walk-ins"})).await;
    let company_id = company.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.post(&format!("{t}/contacts"), tok, json!({"name": "Pat", "phone": "+12065550123", "company_id": company_id}))
        .await
        .expect(StatusCode::CREATED);
    let r = app.delete(&format!("{t}/companies/{company_id}"), tok).await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("Pat"));
    app.patch(&format!("{t}/providers/{}", c.provider), tok, json!({"default_did": "+12025550100"}))
        .await
        .expect(StatusCode::OK);
    let r = app.delete(&format!("{t}/numbers/+12025550100"), tok).await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("provider 'Main'"));
    let sys = app.system.clone();
    let r = app.delete(t, &sys).await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("number"));

    // Everything refused is still there; released in order, everything goes.
    app.get(&format!("{t}/extensions/101"), tok).await.expect(StatusCode::OK);
    app.patch(&format!("{t}/providers/{}", c.provider), tok, json!({"default_did": null})).await.expect(StatusCode::OK);
    app.delete(&format!("{t}/numbers/+12025550100"), tok).await.expect(StatusCode::NO_CONTENT);
    app.delete(&format!("{t}/policies/{policy_id}"), tok).await.expect(StatusCode::NO_CONTENT);
    for ext in ["101", "102"] {
        app.delete(&format!("{t}/extensions/{ext}"), tok).await.expect(StatusCode::NO_CONTENT);
    }
    app.delete(&format!("{t}/prefixes/acmein"), tok).await.expect(StatusCode::NO_CONTENT);
    app.delete(&format!("{t}/providers/{}", c.provider), tok).await.expect(StatusCode::NO_CONTENT);
    app.delete(t, &sys).await.expect(StatusCode::NO_CONTENT);
}

#[suite_test]
async fn names_taken_anywhere_are_409(app: TestApp) {
    let a = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let b = app.configured_tenant("globex", "globexin", "+12025550101").await;
    let sys = app.system.clone();
    app.post("/api/v1/tenants", &sys, json!({"slug": "acme", "name": "Again"}))
        .await
        .problem(StatusCode::CONFLICT, "conflict");
    // Another tenant's prefix and number are taken too.
    let r = app
        .post(&format!("{}/prefixes", b.base), &b.token, json!({"prefix": "ACMEIN", "provider_id": b.provider}))
        .await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("acmein"));
    let r = app
        .post(
            &format!("{}/numbers", b.base),
            &b.token,
            json!({"e164": "+12025550100", "name": "Stolen", "provider_id": b.provider, "prefix": "globexin"}),
        )
        .await;
    assert!(r.problem(StatusCode::CONFLICT, "conflict")["detail"].as_str().unwrap().contains("+12025550100"));
    // Within a tenant: extension and contact phone.
    app.post(&format!("{}/extensions", a.base), &a.token, json!({"extension": "101", "name": "Dup"}))
        .await
        .problem(StatusCode::CONFLICT, "conflict");
    app.post(&format!("{}/contacts", a.base), &a.token, json!({"name": "A", "phone": "+12065550123"}))
        .await
        .expect(StatusCode::CREATED);
    app.post(&format!("{}/contacts", a.base), &a.token, json!({"name": "B", "phone": "+12065550123"}))
        .await
        .problem(StatusCode::CONFLICT, "conflict");
    // The same extension and contact phone in another tenant are fine.
    app.post(&format!("{}/contacts", b.base), &b.token, json!({"name": "A", "phone": "+12065550123"}))
        .await
        .expect(StatusCode::CREATED);
    // The loser of a conflict wrote nothing.
    let numbers = app.get(&format!("{}/numbers", b.base), &b.token).await;
    assert_eq!(numbers.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&format!("{}/prefixes", b.base), &b.token).await.json["items"].as_array().unwrap().len(), 1);
}

#[suite_test]
async fn lists_paginate_with_cursors(app: TestApp) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let mut made = Vec::new();
    for i in 0..7 {
        let ext = format!("{}", 100 + i);
        app.post(&format!("{t}/extensions"), &admin, json!({"extension": ext, "name": "x"}))
            .await
            .expect(StatusCode::CREATED);
        made.push(ext);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".into(),
        };
        let page = app.get(&format!("{t}/extensions{q}"), &admin).await;
        let body = page.expect(StatusCode::OK);
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|i| i["extension"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, made, "every item once, oldest first");
    for bad in ["?limit=0", "?limit=201", "?limit=ten", "?cursor=nope", "?limit=5&sort=name"] {
        let r = app.get(&format!("{t}/extensions{bad}"), &admin).await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let r = app.get(&format!("{t}/extensions?limit=0"), &admin).await;
    assert_eq!(r.fields(), vec!["limit"]);
}

#[suite_test]
async fn patches_set_clear_and_keep_fields(app: TestApp) {
    let c = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let (t, tok) = (&c.base, &c.token);
    let company = app.post(&format!("{t}/companies"), tok, json!({"name": "Walk-ins"})).await;
    let company_id = company.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let p = format!("{t}/providers/{}", c.provider);
    let r = app.patch(&p, tok, json!({"catch_all_company_id": company_id, "sender_id": "ACME"})).await;
    assert_eq!(r.expect(StatusCode::OK)["catch_all_company_id"], company_id.as_str());
    let r = app.patch(&p, tok, json!({"name": "Renamed"})).await;
    let body = r.expect(StatusCode::OK);
    assert_eq!(body["catch_all_company_id"], company_id.as_str(), "absent keeps");
    assert_eq!(body["sender_id"], "ACME");
    let r = app.patch(&p, tok, json!({"catch_all_company_id": null})).await;
    assert!(r.expect(StatusCode::OK)["catch_all_company_id"].is_null(), "null clears");

    let n = format!("{t}/numbers/+12025550100");
    let r = app.patch(&n, tok, json!({"senders": ["101", "102"], "name": "Front"})).await;
    let body = r.expect(StatusCode::OK);
    assert_eq!(body["senders"], json!(["101", "102"]));
    assert_eq!(body["destinations"], json!(["101", "102"]), "lists not given stay");
    let r = app.patch(&format!("{t}/extensions/102"), tok, json!({"enabled": false})).await;
    assert_eq!(r.expect(StatusCode::OK)["enabled"], false);

    let policy = app
        .post(&format!("{t}/policies"), tok, json!({"name": "P", "timezone": "Europe/Paris", "help_reply": "Help!"}))
        .await;
    let pid = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let r =
        app.patch(&format!("{t}/policies/{pid}"), tok, json!({"help_reply": null, "outbound_per_minute": 10})).await;
    let body = r.expect(StatusCode::OK);
    assert!(body["help_reply"].is_null());
    assert_eq!(body["outbound_per_minute"], 10);
    assert_eq!(body["timezone"], "Europe/Paris");
    // A patch that would make the policy invalid is refused as a whole.
    let r = app.patch(&format!("{t}/policies/{pid}"), tok, json!({"name": "Q", "timezone": "Nowhere/Else"})).await;
    assert_eq!(
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone()["errors"][0]["field"],
        "timezone"
    );
    assert_eq!(app.get(&format!("{t}/policies/{pid}"), tok).await.json["name"], "P");
    let contact = app.post(&format!("{t}/contacts"), tok, json!({"name": "Pat", "phone": "+12065550123"})).await;
    let cid = contact.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(&format!("{t}/contacts/{cid}"), tok, json!({"phone": "+12065550124", "company_id": company_id}))
        .await;
    assert_eq!(r.expect(StatusCode::OK)["phone"], "+12065550124");
    let r = app.patch(&format!("{t}/companies/{company_id}"), tok, json!({"name": "Walk-in clients"})).await;
    assert_eq!(r.expect(StatusCode::OK)["name"], "Walk-in clients");
    app.delete(&format!("{t}/contacts/{cid}"), tok).await.expect(StatusCode::NO_CONTENT);
    app.delete(&format!("{t}/contacts/{cid}"), tok).await.problem(StatusCode::NOT_FOUND, "not_found");
}

#[suite_test]
async fn provider_secret_is_never_returned_nor_stored_in_plain_text(app: TestApp) {
    let secret = "FR-SECRET-7f3a9c1e5b";
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let created = app
        .post(
            &format!("{t}/providers"),
            &admin,
            json!({"name": "Main", "kind": "flowroute", "access_key": "AKEY-42", "secret_key": secret}),
        )
        .await;
    created.expect(StatusCode::CREATED);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let mut texts = vec![created.text.clone()];
    texts.push(app.get(&format!("{t}/providers/{id}"), &admin).await.text);
    texts.push(app.get(&format!("{t}/providers"), &admin).await.text);
    texts.push(app.patch(&format!("{t}/providers/{id}"), &admin, json!({"name": "Renamed"})).await.text);
    // A validation error on the secret does not echo it either.
    texts.push(
        app.patch(&format!("{t}/providers/{id}"), &admin, json!({"secret_key": format!("{secret} x")})).await.text,
    );
    for text in &texts {
        assert!(!text.contains(secret) && !text.contains("AKEY-42"), "leaked in {text}");
    }
    assert!(texts[1].contains("\"secret_key_set\":true"));

    // At rest: no row holds it in plain text; a stored value is a versioned ciphertext.
    let db = app.db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT secret_key_enc FROM provider".to_owned(),
        ))
        .await
        .unwrap();
    let stored: String = rows[0].try_get("", "secret_key_enc").unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains(secret), "{stored}");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT webhook_secret_enc FROM tenant".to_owned(),
        ))
        .await
        .unwrap();
    let stored: String = rows[0].try_get("", "webhook_secret_enc").unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains("whsec_"), "{stored}");
    db.close().await.ok();
    // On SQLite, not a byte of the database file or its WAL holds it.
    if let Some(dir) = &app.sqlite_dir {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "plain secret found on disk");
        }
    }
    // A rotation of the secret stores a fresh ciphertext (fresh nonce), still not plain.
    app.patch(&format!("{t}/providers/{id}"), &admin, json!({"secret_key": secret})).await.expect(StatusCode::OK);
}

#[suite_test]
async fn messages_and_opt_outs_are_readable_filtered_and_liftable(app: TestApp) {
    let c = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let tenant_id = uuid::Uuid::parse_str(app.get(&c.base, &c.token).await.json["id"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now();
    let ids = [uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7()];
    for (i, (dir, status)) in [("inbound", "received"), ("outbound", "sent"), ("outbound", "failed")].iter().enumerate()
    {
        app.sql(
            "INSERT INTO message (id, tenant_id, direction, number, remote, body, media, segments, encoding, status, \
             extensions, created_at, updated_at) VALUES ($1, $2, $3, '+12025550100', '+12065550123', $4, $5, 1, 0, $6, \
             $7, $8, $9)",
            vec![
                ids[i].into(),
                tenant_id.into(),
                (*dir).into(),
                format!("text {i}").into(),
                json!([]).into(),
                (*status).into(),
                json!(["101"]).into(),
                now.into(),
                now.into(),
            ],
        )
        .await;
    }
    for (scope, keyword) in [("+12025550100", "STOP"), ("all", "STOPALL")] {
        app.sql(
            "INSERT INTO opt_out (id, tenant_id, scope, remote, keyword, created_at) VALUES ($1, $2, $3, '+12065550123', $4, $5)",
            vec![uuid::Uuid::now_v7().into(), tenant_id.into(), scope.into(), keyword.into(), now.into()],
        )
        .await;
    }
    let t = &c.base;
    let all = app.get(&format!("{t}/messages"), &c.token).await;
    let items = all.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    let got: Vec<&str> = items.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = ids.iter().rev().map(|i| i.to_string()).collect();
    assert_eq!(got, expected, "newest first");
    assert_eq!(items[2]["body"], "text 0");
    assert_eq!(items[2]["extensions"], json!(["101"]));
    let outbound = app.get(&format!("{t}/messages?direction=outbound&status=failed"), &c.token).await;
    assert_eq!(outbound.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1);
    let by_remote =
        app.get(&format!("{t}/messages?remote=%2B12065550123&number=%2B12025550100&limit=2"), &c.token).await;
    assert_eq!(by_remote.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 2);
    assert!(by_remote.json["next_cursor"].is_string());
    let bad = app.get(&format!("{t}/messages?direction=sideways&remote=123"), &c.token).await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields = bad.fields();
    fields.sort();
    assert_eq!(fields, vec!["direction", "remote"]);
    let one = app.get(&format!("{t}/messages/{}", ids[1]), &c.token).await;
    assert_eq!(one.expect(StatusCode::OK)["status"], "sent");
    app.get(&format!("{t}/messages/{}", uuid::Uuid::now_v7()), &c.token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    let opt = app.get(&format!("{t}/opt-outs"), &c.token).await;
    let scopes: Vec<&str> =
        opt.expect(StatusCode::OK)["items"].as_array().unwrap().iter().map(|o| o["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, vec!["+12025550100", "all"]);
    app.delete(&format!("{t}/opt-outs/+12065550123"), &c.token).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{t}/opt-outs"), &c.token).await.json["items"], json!([]));
    app.delete(&format!("{t}/opt-outs/+12065550123"), &c.token).await.problem(StatusCode::NOT_FOUND, "not_found");
}

#[suite_test]
async fn concurrent_writers_queue_instead_of_failing(app: TestApp) {
    let a = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let b = app.configured_tenant("globex", "globexin", "+12025550101").await;
    // Forty writers at once, each in its own transaction that reads before it writes.
    let creates = (0..40).map(|i| {
        let (base, token) = if i % 2 == 0 { (&a.base, &a.token) } else { (&b.base, &b.token) };
        let app = &app;
        async move {
            let body = json!({"name": format!("P{i}"), "timezone": "UTC",
                              "keywords": [{"keyword": "SALES", "destinations": ["101"]}]});
            app.post(&format!("{base}/policies"), token, body).await.status
        }
    });
    let statuses = futures_util::future::join_all(creates).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    // Two tenants racing for one number: exactly one wins, the other gets 409, nothing half-written.
    let race = [(&a, "acmein"), (&b, "globexin")].map(|(c, prefix)| {
        let app = &app;
        async move {
            app.post(
                &format!("{}/numbers", c.base),
                &c.token,
                json!({"e164": "+12025550150", "name": "race", "provider_id": c.provider, "prefix": prefix,
                       "destinations": ["101"]}),
            )
            .await
            .status
        }
    });
    let mut statuses = futures_util::future::join_all(race).await;
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::CREATED, StatusCode::CONFLICT]);
    let held: usize = [&a, &b]
        .iter()
        .map(|c| async {
            app.get(&format!("{}/numbers", c.base), &c.token).await.json["items"].as_array().unwrap().len()
        })
        .collect::<futures_util::stream::FuturesOrdered<_>>()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    assert_eq!(held, 3, "two numbers from setup plus the one winner");
}

/// A provider's secret was given for its endpoint: moving the endpoint to another host needs the
/// secret again, so a stored secret is never sent where the admin did not send it.
#[suite_test]
async fn moving_a_providers_endpoint_needs_its_secret_again(app: TestApp) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let created = app
        .post(
            &format!("{t}/providers"),
            &admin,
            json!({"name": "Main", "kind": "flowroute", "access_key": "AKEY-42", "secret_key": "FR-SECRET-1",
                   "endpoint": "https://api.flowroute.com/v2.2/messages"}),
        )
        .await;
    let id = created.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let p = format!("{t}/providers/{id}");
    let moved = app.patch(&p, &admin, json!({"endpoint": "https://collector.example.org/v2.2/messages"})).await;
    moved.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(moved.fields(), ["secret_key"]);
    let kept = app.get(&p, &admin).await;
    assert_eq!(kept.expect(StatusCode::OK)["endpoint"], "https://api.flowroute.com/v2.2/messages", "nothing changed");
    // The same endpoint again, or other fields, need no secret.
    app.patch(&p, &admin, json!({"endpoint": "https://api.flowroute.com/v2.2/messages", "name": "Renamed"}))
        .await
        .expect(StatusCode::OK);
    let moved = app
        .patch(
            &p,
            &admin,
            json!({"endpoint": "https://collector.example.org/v2.2/messages", "secret_key": "FR-SECRET-2"}),
        )
        .await;
    assert_eq!(moved.expect(StatusCode::OK)["endpoint"], "https://collector.example.org/v2.2/messages");
}

/// Quick replies: added, listed, changed in part, refused by field, deleted; another tenant's are
/// not found.
#[suite_test]
async fn quick_replies_are_kept_per_tenant(app: TestApp) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme/reply-templates";
    let made = app.post(t, &admin, json!({"name": "Hours", "body": "Open 8 to 5, Monday to Friday."})).await;
    let id = made.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let changed = app.patch(&format!("{t}/{id}"), &admin, json!({"body": "Open 8 to 6."})).await;
    let changed = changed.expect(StatusCode::OK).clone();
    assert_eq!((changed["name"].as_str(), changed["body"].as_str()), (Some("Hours"), Some("Open 8 to 6.")));
    let long = "x".repeat(1601);
    let refused = app.post(t, &admin, json!({"name": " ", "body": long})).await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(refused.fields(), vec!["name", "body"]);
    let listed = app.get(t, &admin).await;
    assert_eq!(listed.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1);
    let other = app.tenant("globex").await;
    app.get(&format!("/api/v1/tenants/globex/reply-templates/{id}"), &other).await.expect(StatusCode::NOT_FOUND);
    let theirs = app.get("/api/v1/tenants/globex/reply-templates", &other).await;
    assert_eq!(theirs.expect(StatusCode::OK)["items"], json!([]));
    app.delete(&format!("{t}/{id}"), &admin).await.expect(StatusCode::NO_CONTENT);
    app.get(&format!("{t}/{id}"), &admin).await.expect(StatusCode::NOT_FOUND);
}

/// Companies named in one step: the missing ones added, the known ones (ignoring case) left as
/// they are; a refused row refuses all and names its row; another tenant's admin cannot import.
#[suite_test]
async fn companies_import_adds_the_missing_ones_all_or_nothing(app: TestApp) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    app.post(&format!("{t}/companies"), &admin, json!({"name": "Doe Plumbing"})).await.expect(StatusCode::CREATED);
    let refused = app
        .post(
            &format!("{t}/companies:import"),
            &admin,
            json!({"rows": [{"name": "Lee Dental"}, {"name": " "}, {"name": "lee dental"}]}),
        )
        .await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(refused.fields(), vec!["rows[1].name", "rows[2].name"]);
    let listed = app.get(&format!("{t}/companies"), &admin).await;
    assert_eq!(listed.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1, "nothing half-written");
    let done = app
        .post(
            &format!("{t}/companies:import"),
            &admin,
            json!({"rows": [{"name": "doe plumbing"}, {"name": "Lee Dental"}, {"name": " Roe Roofing "}]}),
        )
        .await;
    assert_eq!(done.expect(StatusCode::OK).clone(), json!({"created": 2, "existing": 1}));
    let listed = app.get(&format!("{t}/companies"), &admin).await;
    let mut names: Vec<String> = listed.expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Doe Plumbing", "Lee Dental", "Roe Roofing"]);
    let other = app.tenant("globex").await;
    let foreign = app.post(&format!("{t}/companies:import"), &other, json!({"rows": [{"name": "X"}]})).await;
    foreign.expect(StatusCode::NOT_FOUND);
}

/// A CRM's export, imported at once: new contacts added, known phones updated, companies matched
/// by name or made; a refused row refuses the whole import and names its row.
#[suite_test]
async fn contacts_import_all_or_nothing_and_update_by_phone(app: TestApp) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let doe = app.post(&format!("{t}/companies"), &admin, json!({"name": "Doe Plumbing"})).await;
    let doe = doe.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    app.post(&format!("{t}/contacts"), &admin, json!({"name": "Pat", "phone": "+12065550123"}))
        .await
        .expect(StatusCode::CREATED);

    let refused = app
        .post(
            &format!("{t}/contacts:import"),
            &admin,
            json!({"rows": [
                {"name": "Ann", "phone": "+12065550124"},
                {"name": "Bob", "phone": "206-555"},
                {"name": "Cy", "phone": "+12065550124"}
            ]}),
        )
        .await;
    let body = refused.expect(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["rows[1].phone", "rows[2].phone"], "{body}");
    let listed = app.get(&format!("{t}/contacts"), &admin).await;
    assert_eq!(listed.expect(StatusCode::OK)["items"].as_array().unwrap().len(), 1, "nothing half-written");

    let done = app
        .post(
            &format!("{t}/contacts:import"),
            &admin,
            json!({"rows": [
                {"name": "Pat Doe", "phone": "+1 206 555 0123", "company": "doe plumbing"},
                {"name": "Ann Lee", "phone": "+12065550124", "company": "Lee Dental"},
                {"name": "Bob Roe", "phone": "(206) 555-0125", "company": "  "}
            ]}),
        )
        .await;
    assert_eq!(done.expect(StatusCode::OK).clone(), json!({"created": 2, "updated": 1, "companies_created": 1}));
    let listed = app.get(&format!("{t}/contacts?limit=10"), &admin).await;
    let items = listed.expect(StatusCode::OK)["items"].as_array().unwrap().clone();
    let pat = items.iter().find(|c| c["phone"] == "+12065550123").unwrap();
    assert_eq!((pat["name"].as_str(), pat["company_id"].as_str()), (Some("Pat Doe"), Some(doe.as_str())));
    let bob = items.iter().find(|c| c["phone"] == "+12065550125").unwrap();
    assert!(bob["company_id"].is_null());
    let companies = app.get(&format!("{t}/companies"), &admin).await;
    let names: Vec<&str> = companies.expect(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Doe Plumbing", "Lee Dental"]);

    let empty = app.post(&format!("{t}/contacts:import"), &admin, json!({"rows": []})).await;
    assert_eq!(empty.expect(StatusCode::UNPROCESSABLE_ENTITY)["errors"][0]["field"], "rows");
    let other = app.tenant("globex").await;
    let foreign = app
        .post(&format!("{t}/contacts:import"), &other, json!({"rows": [{"name": "X", "phone": "+12065550199"}]}))
        .await;
    foreign.expect(StatusCode::NOT_FOUND);
}
