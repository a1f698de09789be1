//! Connecting a Flowroute account: keys are tried when they are given and on demand, keys
//! Flowroute refuses are never saved, and the last check shows on the provider.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_test_macros::suite_test;

use crate::support::TestApp;

fn sim() -> flowroute_sim::Sim {
    let accounts = vec![("sim-access".into(), "sim-secret".into()), ("other-access".into(), "other-secret".into())];
    let config = flowroute_sim::SimConfig { accounts, receipts: false, ..Default::default() };
    flowroute_sim::Sim::start(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap()
}

/// Tenant acme with an admin and a provider at the simulator's `sim-access` account: the tenant's
/// path, the admin's token and the provider's id.
async fn connected(app: &TestApp, sim: &flowroute_sim::Sim) -> (&'static str, String, String) {
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let body = json!({"name": "Main", "kind": "flowroute", "access_key": "sim-access", "secret_key": "sim-secret",
                      "endpoint": sim.endpoint()});
    let created = app.post(&format!("{t}/providers"), &admin, body).await;
    let provider = created.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    (t, admin, provider)
}

#[suite_test]
async fn a_providers_keys_are_tried_when_given_and_on_demand(app: TestApp) {
    let sim = sim();
    let admin = app.tenant("acme").await;
    let t = "/api/v1/tenants/acme";
    let provider = |access: &str, secret: &str| json!({"name": "Main", "kind": "flowroute", "access_key": access, "secret_key": secret, "endpoint": sim.endpoint()});

    // Keys Flowroute refuses are not saved, and the answer says why next to both fields.
    let refused = app.post(&format!("{t}/providers"), &admin, provider("sim-access", "typo-secret")).await;
    refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields = refused.fields();
    fields.sort();
    assert_eq!(fields, ["access_key", "secret_key"]);
    assert!(refused.text.contains("Authentication failed"), "{}", refused.text);
    assert!(!refused.text.contains("typo-secret"), "the secret is never echoed");
    assert_eq!(app.get(&format!("{t}/providers"), &admin).await.json["items"], json!([]));
    // Input wrong on its face is refused before Flowroute is asked.
    let asked = sim.requests();
    let bad = app.post(&format!("{t}/providers"), &admin, provider("", "x y")).await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(sim.requests(), asked);

    // Keys that work: saved, with the check.
    let created = app.post(&format!("{t}/providers"), &admin, provider("sim-access", "sim-secret")).await;
    let p = created.expect(StatusCode::CREATED).clone();
    assert_eq!(p["connection"]["status"], "ok", "{p}");
    assert!(p["connection"]["checked_at"].is_string());
    let item = format!("{t}/providers/{}", p["id"].as_str().unwrap());

    // On demand: ok; then Flowroute limits the call, and then fails: unreachable, with the reason.
    let checked = app.post(&format!("{item}/check"), &admin, json!({})).await;
    assert_eq!(checked.expect(StatusCode::OK)["status"], "ok");
    sim.inject_api(flowroute_sim::Fault::TooMany, 1);
    let limited = app.post(&format!("{item}/check"), &admin, json!({})).await;
    let limited = limited.expect(StatusCode::OK).clone();
    assert_eq!(limited["status"], "unreachable");
    assert!(limited["detail"].as_str().unwrap().contains("limiting"), "{limited}");
    // The provider shows the last result and its time.
    let shown = app.get(&item, &admin).await.expect(StatusCode::OK).clone();
    assert_eq!(shown["connection"], limited);

    // A renamed provider keeps its check; new keys are tried first, and refused ones change nothing.
    app.patch(&item, &admin, json!({"name": "Renamed"})).await.expect(StatusCode::OK);
    assert_eq!(app.get(&item, &admin).await.json["connection"], limited);
    let typo = app.patch(&item, &admin, json!({"access_key": "other-access", "secret_key": "sim-secret"})).await;
    typo.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(app.get(&item, &admin).await.json["access_key_hint"], "…cess");
    let moved = app.patch(&item, &admin, json!({"access_key": "other-access", "secret_key": "other-secret"})).await;
    let moved = moved.expect(StatusCode::OK).clone();
    assert_eq!(moved["connection"]["status"], "ok");
    assert_eq!(moved["access_key_hint"], "…cess");
    // Only the access key changes: it is tried with the stored secret.
    let mismatched = app.patch(&item, &admin, json!({"access_key": "sim-access"})).await;
    mismatched.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // A Flowroute that cannot be reached does not stop the change; the provider says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let away = app
        .patch(
            &item,
            &admin,
            json!({"endpoint": format!("http://{closed}/v2.2/messages"), "secret_key": "other-secret"}),
        )
        .await;
    let away = away.expect(StatusCode::OK).clone();
    assert_eq!(away["connection"]["status"], "unreachable");
    assert!(away["connection"]["detail"].as_str().unwrap().contains("could not connect"), "{away}");
    // Flowroute's own host is not reachable from the tests (nothing leaves the machine): a
    // provider there is saved, unreachable.
    let default = app
        .post(
            &format!("{t}/providers"),
            &admin,
            json!({"name": "Real", "kind": "flowroute", "access_key": "AK", "secret_key": "SK-123"}),
        )
        .await;
    assert_eq!(default.expect(StatusCode::CREATED)["connection"]["status"], "unreachable");

    // No answer carried a secret.
    for r in [&created, &checked] {
        assert!(!r.text.contains("sim-secret"));
    }
}

/// A number is added only if the provider's Flowroute account holds it, asked before anything else
/// is looked at: a tenant cannot claim another's number, nor learn that another holds it.
#[suite_test]
async fn a_number_is_added_only_if_the_providers_account_holds_it(app: TestApp) {
    use crate::accounts::{PASSWORD, account, login, token_of};
    let sim = sim();
    sim.add_number("sim-access", "12025550100", true);
    sim.add_number("sim-access", "12025550101", true);
    sim.add_number("other-access", "12025550300", true);
    // Two tenants, each with its own Flowroute account at the simulator and a signed-in admin.
    let mut admins = Vec::new();
    for (slug, access, secret) in [("acme", "sim-access", "sim-secret"), ("globex", "other-access", "other-secret")] {
        app.tenant(slug).await;
        let email = format!("admin@{slug}.example");
        account(&app, &email, switchboard_http::Role::TenantAdmin, Some(slug), None).await;
        let token = token_of(&login(&app, &email, PASSWORD).await);
        let t = format!("/api/v1/tenants/{slug}");
        let body = json!({"name": "Main", "kind": "flowroute", "access_key": access, "secret_key": secret,
                          "endpoint": sim.endpoint()});
        let provider = app.post(&format!("{t}/providers"), &token, body).await;
        let provider = provider.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let prefix = format!("{slug}in");
        app.post(&format!("{t}/prefixes"), &token, json!({"prefix": prefix, "provider_id": provider}))
            .await
            .expect(StatusCode::CREATED);
        admins.push((t, token, provider, prefix));
    }
    let number = |e164: &str, provider: &str, prefix: &str| json!({"e164": e164, "name": "Line", "provider_id": provider, "prefix": prefix});
    let (a, b) = (&admins[0], &admins[1]);
    // Globex holds +12025550300 in Switchboard.
    app.post(&format!("{}/numbers", b.0), &b.1, number("+12025550300", &b.2, &b.3)).await.expect(StatusCode::CREATED);

    // Acme's account holds +12025550100: added.
    app.post(&format!("{}/numbers", a.0), &a.1, number("+12025550100", &a.2, &a.3)).await.expect(StatusCode::CREATED);
    // Not one of Acme's: refused on e164, whether nobody holds it or Globex does (never 409).
    for e164 in ["+12025550199", "+12025550300"] {
        let r = app.post(&format!("{}/numbers", a.0), &a.1, number(e164, &a.2, &a.3)).await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(r.fields(), ["e164"], "{e164}");
        assert!(r.text.contains("does not hold"), "{}", r.text);
    }
    // A tenant admin may not skip the question.
    let mut skipped = number("+12025550199", &a.2, &a.3);
    skipped["skip_provider_check"] = json!(true);
    app.post(&format!("{}/numbers", a.0), &a.1, skipped.clone()).await.problem(StatusCode::FORBIDDEN, "forbidden");
    // Flowroute cannot be asked: the admin is told to try later, and nothing is added.
    sim.inject_api(flowroute_sim::Fault::ServerError, 1);
    let r = app.post(&format!("{}/numbers", a.0), &a.1, number("+12025550101", &a.2, &a.3)).await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE, "provider_unreachable");
    app.get(&format!("{}/numbers/+12025550101", a.0), &a.1).await.problem(StatusCode::NOT_FOUND, "not_found");
    // Wrong on its face: the store's own errors, before Flowroute is asked.
    let asked = sim.requests();
    let r = app.post(&format!("{}/numbers", a.0), &a.1, number("+12025550101", &a.2, "nope")).await;
    assert_eq!(
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").clone()["errors"][0]["field"],
        "prefix"
    );
    assert_eq!(sim.requests(), asked);

    // The operator adds a number being ported in without asking.
    app.post(&format!("{}/numbers", a.0), &app.system, skipped).await.expect(StatusCode::CREATED);

    // Moving a number to a provider whose account does not hold it is refused the same way.
    let second = app
        .post(
            &format!("{}/providers", a.0),
            &a.1,
            json!({"name": "Second", "kind": "flowroute", "access_key": "other-access", "secret_key": "other-secret",
                   "endpoint": sim.endpoint()}),
        )
        .await;
    let second = second.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let moved = app.patch(&format!("{}/numbers/+12025550100", a.0), &a.1, json!({"provider_id": second})).await;
    moved.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(moved.fields(), ["e164"]);
}

/// The account's numbers are listed with what Switchboard has of them, and imported in one step.
#[suite_test]
async fn an_accounts_numbers_are_listed_and_imported(app: TestApp) {
    let sim = sim();
    sim.add_number("sim-access", "12025550100", true);
    sim.add_number("sim-access", "12025550101", false);
    sim.add_number("sim-access", "12025550102", true);
    sim.add_number("other-access", "12025550300", true);
    let (t, admin, provider) = connected(&app, &sim).await;
    let p = format!("{t}/providers/{provider}");
    app.post(&format!("{t}/extensions"), &admin, json!({"extension": "101", "name": "Desk"}))
        .await
        .expect(StatusCode::CREATED);

    // No prefix yet: the import says what is missing, before Flowroute is asked.
    let r = app.post(&format!("{p}/remote-numbers:import"), &admin, json!({})).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.fields(), ["prefix"]);
    app.post(&format!("{t}/prefixes"), &admin, json!({"prefix": "acmein", "provider_id": provider}))
        .await
        .expect(StatusCode::CREATED);

    // Listed by pages, only this account's numbers.
    let all = app.get(&format!("{p}/remote-numbers"), &admin).await.expect(StatusCode::OK).clone();
    let listed: Vec<(&str, &Value, &Value)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["e164"].as_str().unwrap(), &n["messaging_enabled"], &n["in_switchboard"]))
        .collect();
    let (t_, f_) = (json!(true), json!(false));
    assert_eq!(listed, [("+12025550100", &t_, &f_), ("+12025550101", &f_, &f_), ("+12025550102", &t_, &f_)], "{all}");
    assert_eq!(all["next_offset"], Value::Null);
    let first = app.get(&format!("{p}/remote-numbers?limit=2"), &admin).await;
    assert_eq!((first.json["items"].as_array().unwrap().len(), &first.json["next_offset"]), (2, &json!(2)));
    let rest = app.get(&format!("{p}/remote-numbers?limit=2&offset=2"), &admin).await;
    assert_eq!(rest.json["items"][0]["e164"], "+12025550102");
    assert_eq!(rest.json["next_offset"], Value::Null);
    let bad = app.get(&format!("{p}/remote-numbers?limit=500"), &admin).await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // One named number, then a number the account does not hold (nothing added).
    let one = app
        .post(
            &format!("{p}/remote-numbers:import"),
            &admin,
            json!({"numbers": ["+12025550100"], "destinations": ["101"]}),
        )
        .await;
    assert_eq!(one.expect(StatusCode::OK).clone(), json!({"created": ["+12025550100"], "skipped": []}));
    let number = app.get(&format!("{t}/numbers/+12025550100"), &admin).await.expect(StatusCode::OK).clone();
    assert_eq!((number["prefix"].as_str(), &number["destinations"]), (Some("acmein"), &json!(["101"])));
    let foreign = app
        .post(&format!("{p}/remote-numbers:import"), &admin, json!({"numbers": ["+12025550102", "+12025550300"]}))
        .await;
    foreign.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(foreign.fields(), ["numbers[1]"]);
    app.get(&format!("{t}/numbers/+12025550102"), &admin).await.problem(StatusCode::NOT_FOUND, "not_found");
    // A reference that does not hold: nothing added either.
    let r = app.post(&format!("{p}/remote-numbers:import"), &admin, json!({"policy_id": uuid::Uuid::now_v7()})).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(app.get(&format!("{t}/numbers"), &admin).await.json["items"].as_array().unwrap().len(), 1);

    // Flowroute failing: the import waits for it.
    sim.inject_api(flowroute_sim::Fault::ServerError, 1);
    let r = app.post(&format!("{p}/remote-numbers:import"), &admin, json!({})).await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE, "provider_unreachable");

    // All of them: the rest are added, the one already there left alone; running it again adds none.
    let every = app.post(&format!("{p}/remote-numbers:import"), &admin, json!({"destinations": ["101"]})).await;
    assert_eq!(
        every.expect(StatusCode::OK).clone(),
        json!({"created": ["+12025550101", "+12025550102"],
               "skipped": [{"e164": "+12025550100", "reason": "already_added"}]})
    );
    let again = app.post(&format!("{p}/remote-numbers:import"), &admin, json!({})).await;
    assert_eq!(again.expect(StatusCode::OK)["created"], json!([]));
    let listed = app.get(&format!("{p}/remote-numbers"), &admin).await;
    assert!(listed.json["items"].as_array().unwrap().iter().all(|n| n["in_switchboard"] == true), "{}", listed.text);
}

/// One call points Flowroute at Switchboard for every number; a second changes nothing; a callback
/// changed behind Switchboard's back is reported; messaging is enabled where it is missing.
#[suite_test]
async fn flowroute_is_pointed_at_switchboard_and_drift_is_reported(app: TestApp) {
    use flowroute_sim::CallbackKind;
    let sim = sim();
    sim.add_number("sim-access", "12025550100", true);
    sim.add_number("sim-access", "12025550101", false);
    let (t, admin, provider) = connected(&app, &sim).await;
    let p = format!("{t}/providers/{provider}");
    let prefix = app.post(&format!("{t}/prefixes"), &admin, json!({"prefix": "acmein", "provider_id": provider})).await;
    // The URL with its token, shown once: what every callback must point at.
    let url = prefix.expect(StatusCode::CREATED)["webhook_url"].as_str().unwrap().to_owned();
    assert!(url.contains("?token="), "{url}");
    app.post(&format!("{p}/remote-numbers:import"), &admin, json!({})).await.expect(StatusCode::OK);

    let applied = app.post(&format!("{p}/callbacks:apply"), &admin, json!({})).await.expect(StatusCode::OK).clone();
    assert_eq!(
        applied,
        json!({"numbers": [
            {"e164": "+12025550100", "state": "set", "detail": null, "changed": true},
            {"e164": "+12025550101", "state": "set", "detail": null, "changed": true}]})
    );
    for digits in ["12025550100", "12025550101"] {
        let (_, number) = sim.number(digits).unwrap();
        assert_eq!(number.callbacks.values().collect::<Vec<_>>(), [&url, &url, &url, &url], "{digits}");
        assert_eq!(sim.callback_for(digits, false), Some(url.clone()));
        assert_eq!(sim.callback_for(digits, true), Some(url.clone()));
    }
    // One prefix for all: the account's callbacks point there too.
    for kind in CallbackKind::ALL {
        assert_eq!(sim.account_callback("sim-access", kind), Some(url.clone()), "{kind:?}");
    }
    let number = app.get(&format!("{t}/numbers/+12025550100"), &admin).await.expect(StatusCode::OK).clone();
    assert_eq!(number["callbacks"]["state"], "set");
    let set_at = number["callbacks"]["set_at"].clone();
    assert!(set_at.is_string());
    // A text to the number goes where Flowroute was pointed: the prefix, with its token.
    let to = url.split_once("/acmein").unwrap().1;
    let posted = app
        .flowroute(&format!("acmein{to}"), br#"{"to":"12025550100","from":"12065550123","body":"Hi","id":"mdr2-cb-1"}"#)
        .await;
    posted.expect(StatusCode::OK);

    // Again: nothing to change.
    let again = app.post(&format!("{p}/callbacks:apply"), &admin, json!({})).await.expect(StatusCode::OK).clone();
    assert!(
        again["numbers"].as_array().unwrap().iter().all(|n| n["changed"] == false && n["state"] == "set"),
        "{again}"
    );
    let number = app.get(&format!("{t}/numbers/+12025550100"), &admin).await;
    assert_eq!(number.json["callbacks"]["set_at"], set_at, "not set again");

    // Someone points the number's SMS elsewhere in Flowroute's portal: the check finds it and says
    // where, without the other URL's token, and the tenant hears of it once.
    sim.set_number_callback("12025550100", CallbackKind::Sms, "https://elsewhere.example/hook?token=theirs");
    let events = || crate::support::column(&app, "SELECT event_type FROM event WHERE event_type = 'callbacks.drifted'");
    for _ in 0..2 {
        let checked = app.post(&format!("{p}/callbacks:check"), &admin, json!({})).await;
        let checked = checked.expect(StatusCode::OK).clone();
        let first = &checked["numbers"][0];
        assert_eq!((first["state"].as_str(), &first["changed"]), (Some("drifted"), &json!(false)), "{checked}");
        let detail = first["detail"].as_str().unwrap();
        assert!(detail.contains("sms_callback points at https://elsewhere.example/hook?…"), "{detail}");
        assert!(!checked.to_string().contains("theirs"));
        assert_eq!(checked["numbers"][1]["state"], "set");
    }
    assert_eq!(events().await.len(), 1, "told once");
    assert_eq!(app.get(&format!("{t}/numbers/+12025550100"), &admin).await.json["callbacks"]["state"], "drifted");
    // Applying again puts it back.
    let fixed = app.post(&format!("{p}/callbacks:apply"), &admin, json!({})).await.expect(StatusCode::OK).clone();
    assert_eq!((&fixed["numbers"][0]["state"], &fixed["numbers"][0]["changed"]), (&json!("set"), &json!(true)));
    assert_eq!(sim.callback_for("12025550100", false), Some(url.clone()));

    // Messaging: enabled where it is missing, then nothing left to do.
    let enabled = app.post(&format!("{p}/messaging:enable"), &admin, json!({})).await.expect(StatusCode::OK).clone();
    assert_eq!(enabled["successful"], json!(["+12025550101"]), "{enabled}");
    assert_eq!(enabled["processing"], json!([]));
    assert!(sim.number("12025550101").unwrap().1.messaging_enabled);
    let again = app.post(&format!("{p}/messaging:enable"), &admin, json!({})).await.expect(StatusCode::OK).clone();
    assert_eq!((&again["status"], &again["task"]), (&json!("already_enabled"), &Value::Null));

    // Flowroute failing mid-way: 503, and the numbers keep their last state.
    sim.inject_api(flowroute_sim::Fault::ServerError, 1);
    let r = app.post(&format!("{p}/callbacks:check"), &admin, json!({})).await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE, "provider_unreachable");
}

/// Hosted platforms give Flowroute one URL for all their customers: the shared ingress finds each
/// text's tenant by the number texted, and each receipt's by the message it names.
#[suite_test]
async fn the_shared_ingress_routes_two_tenants_texts_by_number_alone(app: TestApp) {
    use std::time::Duration;
    let a = crate::wired::wire(&app, "acme", "acmein", "+12025550100").await;
    let b = crate::wired::wire(&app, "globex", "globexin", "+12025550101").await;
    let shared = format!("ingress/hosted?token={}", crate::support::SHARED_INGRESS_TOKEN);
    let text = |to: &str, id: &str| {
        format!(
            r#"{{"data":{{"type":"message","id":"{id}","attributes":{{"to":"{to}","from":"12065550123",
            "body":"Hello {to}","direction":"inbound","is_mms":false,"message_encoding":0,"message_type":"longcode",
            "status":"delivered","timestamp":"2026-12-05T10:00:00Z","amount_nanodollars":"4000000"}}}}}}"#
        )
    };
    let r = app.flowroute(&shared, text("12025550100", "mdr2-shared-1").as_bytes()).await;
    assert_eq!(r.expect(StatusCode::OK)["status"], "stored");
    let compact = br#"{"to":"12025550101","from":"12065550123","body":"Hello globex","id":"mdr2-shared-2"}"#;
    assert_eq!(app.flowroute(&shared, compact).await.expect(StatusCode::OK)["status"], "stored");
    // Each tenant's PBX gets its own text, and only its own.
    let got_a = a.sink.wait_for(1, Duration::from_secs(10)).await;
    let got_b = b.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got_a[0].json["data"]["body"], "Hello 12025550100");
    assert_eq!(got_b[0].json["data"]["body"], "Hello globex");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((a.sink.accepted().len(), b.sink.accepted().len()), (1, 1), "each text went to one tenant");
    // Flowroute's retry of the same text is a duplicate, whichever URL it comes to.
    let again = app.flowroute(&shared, text("12025550100", "mdr2-shared-1").as_bytes()).await;
    assert_eq!(again.expect(StatusCode::OK)["status"], "duplicate");
    let via_prefix = app.flowroute("acmein", text("12025550100", "mdr2-shared-1").as_bytes()).await;
    assert_eq!(via_prefix.expect(StatusCode::OK)["status"], "duplicate");

    // Refusals: no token, a wrong name, a number nobody has.
    app.flowroute("ingress/hosted", compact).await.problem(StatusCode::NOT_FOUND, "not_found");
    let wrong = format!("ingress/other?token={}", crate::support::SHARED_INGRESS_TOKEN);
    app.flowroute(&wrong, compact).await.problem(StatusCode::NOT_FOUND, "not_found");
    let nobody = br#"{"to":"12025550177","from":"12065550123","body":"?","id":"mdr2-shared-3"}"#;
    app.flowroute(&shared, nobody).await.problem(StatusCode::NOT_FOUND, "not_found");

    // A reply from acme, and its receipt through the shared ingress.
    let ext = app.token(switchboard_http::Role::Extension, Some("acme"), Some("101"));
    let sent = app.post("/api/v1/messages", &ext, json!({"to": "+12065550123", "body": "Hi back"})).await;
    let message_id = sent.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    // Flowroute's id, once Switchboard has recorded its answer (a receipt that outruns the answer
    // is answered 404 and retried by Flowroute; the lookup of a lost answer records the id).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let provider_id = loop {
        let m = app.get(&format!("/api/v1/messages/{message_id}"), &ext).await.json.clone();
        if let Some(id) = m["provider_message_id"].as_str() {
            break id.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "the reply never reached Flowroute: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(a.sim.accepted()[0].id, provider_id);
    let receipt = format!(
        r#"{{"data":{{"id":"{provider_id}","type":"delivery_receipt","attributes":{{"level":2,"status":"delivered",
            "status_code":1004,"status_code_description":"Message delivered to handset","body":"Hi back",
            "timestamp":"2026-12-05T10:00:05Z"}}}}}}"#
    );
    let applied = app.flowroute(&shared, receipt.as_bytes()).await;
    assert_eq!(applied.expect(StatusCode::OK)["status"], "receipt_applied");
    let m = app.get(&format!("/api/v1/messages/{message_id}"), &ext).await;
    assert_eq!(m.expect(StatusCode::OK)["status"], "delivered");
    let unknown = receipt.replace(&provider_id, "mdr2-00000000000000000000000000000000");
    app.flowroute(&shared, unknown.as_bytes()).await.problem(StatusCode::NOT_FOUND, "not_found");

    // A suspended tenant's texts are refused there too; the other tenant's are not.
    app.patch("/api/v1/tenants/globex", &app.system, json!({"status": "suspended"})).await.expect(StatusCode::OK);
    let later = br#"{"to":"12025550101","from":"12065550123","body":"Still there?","id":"mdr2-shared-4"}"#;
    app.flowroute(&shared, later).await.problem(StatusCode::FORBIDDEN, "tenant_suspended");
    let fine = app.flowroute(&shared, text("12025550100", "mdr2-shared-5").as_bytes()).await;
    assert_eq!(fine.expect(StatusCode::OK)["status"], "stored");
}

/// The real binary looks where Flowroute posts on its own schedule: a callback changed behind
/// Switchboard's back is found without anyone asking, and told once.
#[suite_test]
async fn drift_is_found_on_a_schedule_and_told_once(mut app: TestApp) {
    use std::time::Duration;
    let env = [
        ("SWITCHBOARD_CALLBACK_CHECK_INTERVAL_SECS", "10"),
        ("SWITCHBOARD_SHARED_INGRESS_TOKEN", crate::support::SHARED_INGRESS_TOKEN),
    ];
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    let (_dir, log, server, w) = crate::server::take_over_with(&mut app, &env, sim).await;
    // A shared ingress guarded by its token alone: the operator is told what that leaves open.
    let started = std::fs::read_to_string(&log).unwrap();
    assert!(started.contains("the shared ingress takes callbacks by token alone"), "{started}");
    assert!(!started.contains(crate::support::SHARED_INGRESS_TOKEN), "the token is not logged");
    let p = format!("{}/providers/{}", w.base, w.provider);
    let applied = app.post(&format!("{p}/callbacks:apply"), &w.token, json!({})).await;
    assert_eq!(applied.expect(StatusCode::OK)["numbers"][0]["state"], "set");
    w.sim.set_number_callback("12025550100", flowroute_sim::CallbackKind::MmsDlr, "https://elsewhere.example/dlr");
    let number = format!("{}/numbers/+12025550100", w.base);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n = app.get(&number, &w.token).await.json.clone();
        if n["callbacks"]["state"] == "drifted" {
            assert!(
                n["callbacks"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("mms_dlr_callback points at https://elsewhere.example/dlr")
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the schedule never found the drift: {n}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Another look later finds it again, and says nothing more.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let events =
        crate::support::column(&app, "SELECT event_type FROM event WHERE event_type = 'callbacks.drifted'").await;
    assert_eq!(events.len(), 1, "{events:?}");
    server.kill();
}
