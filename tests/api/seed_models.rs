//! The three setups Switchboard replaces, side by side (docs/migrating.md): each configures
//! Switchboard the way that system's guide configures itself, then a customer's text comes in
//! through the simulated Flowroute, as Flowroute would post it, and an extension's reply goes out,
//! its receipt coming back. A tenant admin touches nothing but Switchboard: keys are checked,
//! numbers imported, texting enabled and Flowroute pointed at Switchboard through its API.

use std::time::Duration;

use flowroute_sim::{CallbackKind, InboundFormat, Sim, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_http::Role;
use switchboard_test_macros::suite_test;

use crate::sink::Sink;
use crate::support::TestApp;

/// A Flowroute account at the simulator holding `numbers` (texting off), which refuses sends from
/// numbers without texting, posts receipts, and reaches the test app at its public URL.
fn flowroute(app: &TestApp, access: &str, secret: &str, numbers: &[&str]) -> Sim {
    let config = SimConfig {
        accounts: vec![(access.into(), secret.into())],
        strict_numbers: true,
        receipt_delay: Duration::from_millis(100),
        ..SimConfig::default()
    };
    let sim = Sim::start(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap();
    for n in numbers {
        sim.add_number(access, n, false);
    }
    sim.route_public_url("https://sms.example.net", &app.base);
    sim
}

/// A tenant whose PBX is `sink`, and a signed-in admin of it.
async fn tenant(app: &TestApp, slug: &str, sink: &Sink) -> (String, String) {
    use crate::accounts::{PASSWORD, account, login, token_of};
    let created =
        app.post("/api/v1/tenants", &app.system, json!({"slug": slug, "name": slug, "webhook_url": sink.url})).await;
    created.expect(StatusCode::CREATED);
    let email = format!("admin@{slug}.example");
    account(app, &email, Role::TenantAdmin, Some(slug), None).await;
    (format!("/api/v1/tenants/{slug}"), token_of(&login(app, &email, PASSWORD).await))
}

async fn created(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    app.post(path, token, body).await.expect(StatusCode::CREATED).clone()
}

/// Enables texting on the provider's numbers and points Flowroute at Switchboard (`to`: `prefix`
/// or `shared`), each checked.
async fn connect(app: &TestApp, p: &str, admin: &str, to: &str) {
    let enabled = app.post(&format!("{p}/messaging:enable"), admin, json!({})).await.expect(StatusCode::OK).clone();
    assert!(enabled["processing"] == json!([]) && enabled["failed"] == json!([]), "{enabled}");
    let applied = app.post(&format!("{p}/callbacks:apply"), admin, json!({"to": to})).await;
    let applied = applied.expect(StatusCode::OK).clone();
    assert!(applied["numbers"].as_array().unwrap().iter().all(|n| n["state"] == "set"), "{applied}");
}

/// A customer's text to `to`, posted by the simulated Flowroute where the account's callbacks say.
async fn text_in(sim: &Sim, sink: &Sink, to: &str, body: &str) -> Value {
    let before = sink.accepted().len();
    let status = sim.text_in("+12065550123", to, Some(body), &[], InboundFormat::JsonApi).await.unwrap();
    assert_eq!(status, 200);
    let got = sink.wait_for(before + 1, Duration::from_secs(10)).await;
    got.last().unwrap().json.clone()
}

/// Extension 101's reply, sent through the simulated Flowroute, delivered by its receipt.
async fn reply_out(app: &TestApp, slug: &str, sim: &Sim, from: &str, body: &str) {
    let ext = app.token(Role::Extension, Some(slug), Some("101"));
    let sent = app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": body})).await;
    let id = sent.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let m = app.get(&format!("/api/v1/messages/{id}"), &ext).await.json.clone();
        if m["status"] == "delivered" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never delivered: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let accepted = sim.accepted();
    let copies: Vec<_> = accepted.iter().filter(|a| a.body.as_deref() == Some(body)).collect();
    assert_eq!(copies.len(), 1, "sent once: {accepted:?}");
    assert_eq!((copies[0].from.as_str(), copies[0].to.as_str()), (from, "12065550123"));
}

/// Vodia: a provider with the access key as user and the secret key as password; numbers in E.164
/// with a name, a policy, the provider, a prefix, the extensions that send (sources) and those that
/// receive (destinations).
#[suite_test]
async fn a_vodia_setup_texts_both_ways(app: TestApp) {
    let sink = Sink::start().await;
    let sim = flowroute(&app, "vodia-user", "vodia-password", &["12025550100", "12025550101"]);
    let (t, admin) = tenant(&app, "vodia", &sink).await;
    let provider = created(
        &app,
        &format!("{t}/providers"),
        &admin,
        json!({"name": "Flowroute", "kind": "flowroute", "access_key": "vodia-user", "secret_key": "vodia-password",
               "endpoint": sim.endpoint()}),
    )
    .await;
    assert_eq!(provider["connection"]["status"], "ok");
    let p = format!("{t}/providers/{}", provider["id"].as_str().unwrap());
    created(&app, &format!("{t}/prefixes"), &admin, json!({"prefix": "vodia-sms", "provider_id": provider["id"]}))
        .await;
    let policy =
        created(&app, &format!("{t}/policies"), &admin, json!({"name": "Office", "timezone": "America/New_York"}))
            .await;
    for ext in ["101", "102"] {
        created(&app, &format!("{t}/extensions"), &admin, json!({"extension": ext, "name": format!("Ext {ext}")}))
            .await;
    }
    // The account's numbers, then the one Vodia's setup names, with its policy and extensions.
    let remote = app.get(&format!("{p}/remote-numbers"), &admin).await.expect(StatusCode::OK).clone();
    assert_eq!(remote["items"].as_array().unwrap().len(), 2);
    let import = json!({"numbers": ["+12025550100"], "policy_id": policy["id"], "destinations": ["101", "102"],
                        "senders": ["101"]});
    let imported = app.post(&format!("{p}/remote-numbers:import"), &admin, import).await;
    assert_eq!(imported.expect(StatusCode::OK)["created"], json!(["+12025550100"]));
    app.patch(&format!("{t}/numbers/+12025550100"), &admin, json!({"name": "Main line"})).await.expect(StatusCode::OK);
    connect(&app, &p, &admin, "prefix").await;

    let event = text_in(&sim, &sink, "12025550100", "Can I book a cleaning?").await;
    assert_eq!(event["data"]["extensions"], json!(["101", "102"]), "{event}");
    reply_out(&app, "vodia", &sim, "12025550100", "Tuesday at 10?").await;
}

/// 1stream: a connected account (endpoint, access and secret key, a default DID written without
/// +1, a catch-all company for unknown senders) and one platform URL for all its customers: the
/// operator's shared ingress.
#[suite_test]
async fn a_1stream_setup_texts_both_ways_through_the_platform_url(app: TestApp) {
    let sink = Sink::start().await;
    let sim = flowroute(&app, "1stream-access", "1stream-secret-key", &["13125550100"]);
    let (t, admin) = tenant(&app, "onestream", &sink).await;
    let company = created(&app, &format!("{t}/companies"), &admin, json!({"name": "Unknown senders"})).await;
    let provider = created(
        &app,
        &format!("{t}/providers"),
        &admin,
        json!({"name": "Flowroute", "kind": "flowroute", "access_key": "1stream-access",
               "secret_key": "1stream-secret-key", "endpoint": sim.endpoint(), "catch_all_company_id": company["id"]}),
    )
    .await;
    let p = format!("{t}/providers/{}", provider["id"].as_str().unwrap());
    created(&app, &format!("{t}/prefixes"), &admin, json!({"prefix": "onestream", "provider_id": provider["id"]}))
        .await;
    created(&app, &format!("{t}/extensions"), &admin, json!({"extension": "101", "name": "Reception"})).await;
    // Every number of the account, received by 101; no extension sends from a number of its own.
    let imported = app.post(&format!("{p}/remote-numbers:import"), &admin, json!({"destinations": ["101"]})).await;
    assert_eq!(imported.expect(StatusCode::OK)["created"], json!(["+13125550100"]));
    // 1stream writes the default DID without +1.
    let patched = app.patch(&p, &admin, json!({"default_did": "3125550100"})).await;
    assert_eq!(patched.expect(StatusCode::OK)["default_did"], "+13125550100");
    connect(&app, &p, &admin, "shared").await;
    let shared = format!("https://sms.example.net/ingress/hosted?token={}", crate::support::SHARED_INGRESS_TOKEN);
    assert_eq!(sim.account_callback("1stream-access", CallbackKind::Sms), Some(shared.clone()));
    assert_eq!(sim.callback_for("13125550100", false), Some(shared));

    let event = text_in(&sim, &sink, "13125550100", "Is the shop open Saturday?").await;
    assert_eq!(event["data"]["company"]["name"], "Unknown senders", "{event}");
    // 101 sends from no number of its own: the default DID.
    reply_out(&app, "onestream", &sim, "13125550100", "Yes, 9 to 1.").await;
}

/// PortSIP: a Flowroute trunk with its keys and a sender ID, and one webhook URL that PortSIP's
/// guide has pasted into Flowroute globally (the account's callbacks) or per number.
#[suite_test]
async fn a_portsip_trunk_texts_both_ways(app: TestApp) {
    let sink = Sink::start().await;
    let sim = flowroute(&app, "portsip-access", "portsip-secret", &["14155550100", "14155550101"]);
    let (t, admin) = tenant(&app, "portsip", &sink).await;
    let provider = created(
        &app,
        &format!("{t}/providers"),
        &admin,
        json!({"name": "Flowroute trunk", "kind": "flowroute", "access_key": "portsip-access",
               "secret_key": "portsip-secret", "endpoint": sim.endpoint(), "sender_id": "ACME"}),
    )
    .await;
    assert_eq!(provider["sender_id"], "ACME");
    let p = format!("{t}/providers/{}", provider["id"].as_str().unwrap());
    let prefix =
        created(&app, &format!("{t}/prefixes"), &admin, json!({"prefix": "portsip", "provider_id": provider["id"]}))
            .await;
    let webhook = prefix["webhook_url"].as_str().unwrap().to_owned();
    created(&app, &format!("{t}/extensions"), &admin, json!({"extension": "101", "name": "Sales"})).await;
    let import = json!({"destinations": ["101"], "senders": ["101"]});
    app.post(&format!("{p}/remote-numbers:import"), &admin, import).await.expect(StatusCode::OK);
    connect(&app, &p, &admin, "prefix").await;
    // The one webhook URL, globally and on each number.
    for kind in CallbackKind::ALL {
        assert_eq!(sim.account_callback("portsip-access", kind), Some(webhook.clone()), "{kind:?}");
    }
    for n in ["14155550100", "14155550101"] {
        assert_eq!(sim.callback_for(n, true), Some(webhook.clone()));
    }

    let event = text_in(&sim, &sink, "14155550101", "Do you ship to Canada?").await;
    assert_eq!(event["data"]["number"], "+14155550101");
    reply_out(&app, "portsip", &sim, "14155550100", "We do.").await;
}
