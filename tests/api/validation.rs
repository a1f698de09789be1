//! Malformed input: a table of bad requests, each with the problem it must get, and proof that
//! none of them changed anything.

use reqwest::StatusCode;
use serde_json::{Value, json};

use switchboard_test_macros::suite_test;

use crate::support::TestApp;

/// Everything the tenant's lists hold, to compare before and after.
async fn snapshot(app: &TestApp, base: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for list in ["providers", "prefixes", "extensions", "numbers", "policies", "companies", "contacts"] {
        out.push(app.get(&format!("{base}/{list}?limit=200"), token).await.json["items"].clone());
    }
    out.push(app.get(base, token).await.json.clone());
    out
}

#[suite_test]
async fn malformed_input_gets_a_clear_problem_and_changes_nothing(app: TestApp) {
    let c = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let (t, tok) = (c.base.clone(), c.token.clone());
    let company = app.post(&format!("{t}/companies"), &tok, json!({"name": "Walk-ins"})).await;
    let company_id = company.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let policy = app.post(&format!("{t}/policies"), &tok, json!({"name": "P", "timezone": "UTC"})).await;
    let policy_id = policy.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let before = snapshot(&app, &t, &tok).await;
    let p = c.provider.clone();
    let number = |over: Value| {
        let mut base = json!({"e164": "+12025550199", "name": "n", "provider_id": p, "prefix": "acmein"});
        for (k, v) in over.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let policy_with = |over: Value| {
        let mut base = json!({"name": "X", "timezone": "America/New_York"});
        for (k, v) in over.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let sys = app.system.clone();
    // (method, path, body, expected fields); every case must be 422 validation_failed.
    let cases: Vec<(&str, String, Value, Vec<&str>)> = vec![
        ("POST", "/api/v1/tenants".into(), json!({"slug": "A!", "name": "x"}), vec!["slug"]),
        ("POST", "/api/v1/tenants".into(), json!({"slug": "ok-slug", "name": ""}), vec!["name"]),
        (
            "POST",
            "/api/v1/tenants".into(),
            json!({"slug": "ok-slug", "name": "x", "webhook_url": "http://pbx.example.com"}),
            vec!["webhook_url"],
        ),
        ("POST", "/api/v1/tenants".into(), json!({"slug": "ok-slug"}), vec!["body"]),
        ("POST", "/api/v1/tenants".into(), json!({"slug": 5, "name": "x"}), vec!["slug"]),
        ("POST", "/api/v1/tenants".into(), json!({"slug": "ok-slug", "name": "x", "colour": "red"}), vec!["colour"]),
        ("PATCH", t.clone(), json!({"webhook_url": "ftp://pbx.example.com"}), vec!["webhook_url"]),
        ("PATCH", t.clone(), json!({"status": "deleted"}), vec!["status"]),
        (
            "POST",
            format!("{t}/providers"),
            json!({"name": "x", "kind": "twilio", "access_key": "a", "secret_key": "b"}),
            vec!["kind"],
        ),
        (
            "POST",
            format!("{t}/providers"),
            json!({"name": "x", "kind": "flowroute", "access_key": "", "secret_key": "b c"}),
            vec!["access_key", "secret_key"],
        ),
        (
            "POST",
            format!("{t}/providers"),
            json!({"name": "x", "kind": "flowroute", "access_key": "a", "secret_key": "b", "endpoint": "http://api.flowroute.com/v2.2/messages"}),
            vec!["endpoint"],
        ),
        (
            "POST",
            format!("{t}/providers"),
            json!({"name": "x", "kind": "flowroute", "access_key": "a", "secret_key": "b", "default_did": "+12025550177"}),
            vec!["default_did"],
        ),
        (
            "POST",
            format!("{t}/providers"),
            json!({"name": "x", "kind": "flowroute", "access_key": "a", "secret_key": "b", "catch_all_company_id": uuid::Uuid::now_v7()}),
            vec!["catch_all_company_id"],
        ),
        ("PATCH", format!("{t}/providers/{}", c.provider), json!({"default_did": "202-555-0100"}), vec!["default_did"]),
        ("POST", format!("{t}/prefixes"), json!({"prefix": "api", "provider_id": c.provider}), vec!["prefix"]),
        ("POST", format!("{t}/prefixes"), json!({"prefix": "no/slash", "provider_id": c.provider}), vec!["prefix"]),
        (
            "POST",
            format!("{t}/prefixes"),
            json!({"prefix": "fine-prefix", "provider_id": "not-a-uuid"}),
            vec!["provider_id"],
        ),
        (
            "POST",
            format!("{t}/prefixes"),
            json!({"prefix": "fine-prefix", "provider_id": uuid::Uuid::now_v7()}),
            vec!["provider_id"],
        ),
        ("POST", format!("{t}/extensions"), json!({"extension": "1 01", "name": "x"}), vec!["extension"]),
        ("POST", format!("{t}/extensions"), json!({"extension": "103", "name": " "}), vec!["name"]),
        ("PATCH", format!("{t}/extensions/101"), json!({"enabled": "yes"}), vec!["enabled"]),
        ("POST", format!("{t}/numbers"), number(json!({"e164": "12025550199"})), vec!["e164"]),
        ("POST", format!("{t}/numbers"), number(json!({"e164": "+11005550100"})), vec!["e164"]),
        ("POST", format!("{t}/numbers"), number(json!({"destinations": ["999"]})), vec!["destinations[0]"]),
        ("POST", format!("{t}/numbers"), number(json!({"senders": ["101", "101"]})), vec!["senders[1]"]),
        ("POST", format!("{t}/numbers"), number(json!({"prefix": "nope"})), vec!["prefix"]),
        ("POST", format!("{t}/numbers"), number(json!({"policy_id": uuid::Uuid::now_v7()})), vec!["policy_id"]),
        (
            "PATCH",
            format!("{t}/numbers/+12025550100"),
            json!({"destinations": ["101", "404"]}),
            vec!["destinations[1]"],
        ),
        ("PATCH", format!("{t}/numbers/+12025550100"), json!({"e164": "+12025550111"}), vec!["e164"]),
        ("POST", format!("{t}/policies"), policy_with(json!({"timezone": "America/Gotham"})), vec!["timezone"]),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"business_hours": [{"days": ["mon"], "start": "17:00", "end": "09:00"}]})),
            vec!["business_hours[0].end"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"business_hours": [{"days": ["funday"], "start": "09:00", "end": "17:00"}]})),
            vec!["business_hours[0].days[0]"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"business_hours": [{"days": ["mon"], "start": "25:00", "end": "26:00"}]})),
            vec!["business_hours[0].start", "business_hours[0].end"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"keywords": [{"keyword": "STOP", "destinations": ["101"]}]})),
            vec!["keywords[0].keyword"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"keywords": [{"keyword": "SALES", "destinations": ["777"]}]})),
            vec!["keywords[0].destinations[0]"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"after_hours": {"destinations": ["888"], "auto_reply": ""}})),
            vec!["after_hours.auto_reply", "after_hours.destinations[0]"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"auto_reply_interval_minutes": 0, "outbound_per_minute": -1})),
            vec!["outbound_per_minute"],
        ),
        (
            "POST",
            format!("{t}/policies"),
            policy_with(json!({"auto_reply_interval_minutes": 0})),
            vec!["auto_reply_interval_minutes"],
        ),
        (
            "PATCH",
            format!("{t}/policies/{policy_id}"),
            json!({"keywords": [{"keyword": "a b", "destinations": []}]}),
            vec!["keywords[0].destinations", "keywords[0].keyword"],
        ),
        ("POST", format!("{t}/contacts"), json!({"name": "x", "phone": "555-0100"}), vec!["phone"]),
        (
            "POST",
            format!("{t}/contacts"),
            json!({"name": "x", "phone": "+12065550111", "company_id": uuid::Uuid::now_v7()}),
            vec!["company_id"],
        ),
        ("PATCH", format!("{t}/companies/{company_id}"), json!({"name": ""}), vec!["name"]),
    ];
    for (method, path, body, fields) in cases {
        let token = if path == "/api/v1/tenants" { &sys } else { &tok };
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = app.call(m, &path, Some(token), Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {body}: {}", r.text);
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let (mut got, mut fields) = (r.fields(), fields);
        got.sort();
        fields.sort();
        assert_eq!(got, fields, "{method} {path} {body}: {}", r.text);
        for e in r.json["errors"].as_array().unwrap() {
            assert!(!e["message"].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(snapshot(&app, &t, &tok).await, before, "no refused request changed anything");
    assert_eq!(app.get("/api/v1/tenants", &sys).await.json["items"].as_array().unwrap().len(), 1);
}

#[suite_test]
async fn bodies_must_be_json_and_small(app: TestApp) {
    let sys = app.system.clone();
    let url = format!("{}/api/v1/tenants", app.base);
    let send = |body: Vec<u8>, ct: Option<&'static str>| {
        let mut req = app.client.post(&url).bearer_auth(&sys).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let r = crate::support::Reply::read(send(b"{\"slug\": ".to_vec(), Some("application/json")).await.unwrap()).await;
    r.problem(StatusCode::BAD_REQUEST, "malformed_body");
    let r = crate::support::Reply::read(send(b"".to_vec(), Some("application/json")).await.unwrap()).await;
    r.problem(StatusCode::BAD_REQUEST, "malformed_body");
    let r = crate::support::Reply::read(
        send(b"slug=acme".to_vec(), Some("application/x-www-form-urlencoded")).await.unwrap(),
    )
    .await;
    r.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let r = crate::support::Reply::read(send(br#"{"slug":"acme","name":"A"}"#.to_vec(), None).await.unwrap()).await;
    r.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let big = format!(r#"{{"slug":"acme","name":"{}"}}"#, "x".repeat(300 * 1024));
    let r = crate::support::Reply::read(send(big.into_bytes(), Some("application/json")).await.unwrap()).await;
    r.problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // A charset parameter and a +json type are fine.
    let r = crate::support::Reply::read(
        send(br#"{"slug":"acme","name":"A"}"#.to_vec(), Some("application/json; charset=utf-8")).await.unwrap(),
    )
    .await;
    r.expect(StatusCode::CREATED);
    assert_eq!(app.get("/api/v1/tenants", &sys).await.json["items"].as_array().unwrap().len(), 1);
}

/// A NUL character (which PostgreSQL will not store) in a name that is looked up is refused by
/// field, never a `500`: found by schemathesis in a policy's keyword destinations.
#[suite_test]
async fn a_nul_character_is_refused_by_field_not_failed_on(app: TestApp) {
    let c = app.configured_tenant("acme", "acmein", "+12025550100").await;
    let spec = json!({"name": "P", "timezone": "UTC",
        "keywords": [{"keyword": "SALES", "destinations": ["10\u{0}1"]}],
        "after_hours": {"destinations": ["\u{0}"]}});
    let r = app.post(&format!("{}/policies", c.base), &c.token, spec).await;
    let body = r.expect(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(
        fields.contains(&"keywords[0].destinations[0]") && fields.contains(&"after_hours.destinations[0]"),
        "{body}"
    );
    let number = json!({"destinations": ["1\u{0}"], "senders": ["\u{0}"]});
    let r = app.patch(&format!("{}/numbers/+12025550100", c.base), &c.token, number).await;
    let body = r.expect(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["destinations[0]", "senders[0]"], "{body}");
}
