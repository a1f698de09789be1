//! Flowroute's account API as the client calls it and the simulator answers it: the two must agree,
//! and each answer Flowroute documents (`401`, `404`, `429`) must reach the caller as its error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use flowroute_sim::{Fault, InboundFormat, Sim, SimConfig};
use secrecy::SecretString;
use switchboard_core::E164;
use switchboard_flowroute::{ApiError, CallbackKind, Client, Credentials, Outgoing};

fn creds(access: &str, secret: &str) -> Credentials {
    Credentials { access_key: access.into(), secret_key: SecretString::from(secret.to_owned()) }
}

fn sim(config: SimConfig) -> Sim {
    let accounts = vec![("acct-a".into(), "secret-a".into()), ("acct-b".into(), "secret-b".into())];
    Sim::start(TcpListener::bind("127.0.0.1:0").unwrap(), SimConfig { accounts, ..config }).unwrap()
}

/// The path and body of each post a receiver took.
type Posts = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver that keeps the path and body of every post.
async fn receiver() -> (String, Posts) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(seen.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |req: actix_web::HttpRequest, body: web::Bytes, seen: web::Data<Posts>| async move {
                seen.lock().unwrap().push((req.path().to_owned(), String::from_utf8_lossy(&body).into_owned()));
                HttpResponse::Ok().finish()
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (url, seen)
}

#[tokio::test]
async fn keys_are_checked_and_each_documented_failure_is_told_apart() {
    let sim = sim(SimConfig::default());
    let client = Client::new().unwrap();
    let good = creds("acct-a", "secret-a");
    client.account(&sim.endpoint(), &good).check().await.unwrap();

    let bad = creds("acct-a", "wrong");
    let refused = client.account(&sim.endpoint(), &bad).check().await.unwrap_err();
    assert!(matches!(&refused, ApiError::Unauthorized(d) if d.contains("Authentication failed")), "{refused:?}");
    assert!(!refused.is_transient());

    sim.inject_api(Fault::TooMany, 1);
    let limited = client.account(&sim.endpoint(), &good).check().await.unwrap_err();
    assert!(matches!(limited, ApiError::RateLimited { .. }), "{limited:?}");
    assert!(limited.is_transient());
    sim.inject_api(Fault::ServerError, 1);
    let failed = client.account(&sim.endpoint(), &good).check().await.unwrap_err();
    assert!(matches!(failed, ApiError::Unavailable { status: 500, .. }), "{failed:?}");

    // Nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = client.account(&format!("http://{closed}/v2.2/messages"), &good).check().await.unwrap_err();
    assert!(matches!(&gone, ApiError::Unreachable(d) if d.contains("could not connect")), "{gone:?}");
    // The secret never shows in an error.
    assert!(!format!("{refused} {gone} {refused:?} {gone:?}").contains("secret-a"));
}

#[tokio::test]
async fn an_account_lists_its_own_numbers_by_pages_of_200() {
    let sim = sim(SimConfig::default());
    for i in 0..450 {
        sim.add_number("acct-a", &format!("1202555{i:04}"), i % 2 == 0);
    }
    sim.add_number("acct-b", "13125550100", true);
    let client = Client::new().unwrap();
    let a = creds("acct-a", "secret-a");
    let api = client.account(&sim.endpoint(), &a);

    let first = api.numbers(200, 0).await.unwrap();
    assert_eq!((first.numbers.len(), first.more), (200, true));
    let last = api.numbers(200, 400).await.unwrap();
    assert_eq!((last.numbers.len(), last.more), (50, false));
    let all = api.all_numbers(1000).await.unwrap();
    assert_eq!(all.len(), 450);
    assert!(all.iter().all(|n| n.digits.starts_with("1202555")), "another account's number listed");
    assert_eq!(all[0].messaging_enabled, Some(true));
    assert_eq!(all[1].messaging_enabled, Some(false));
    assert!(matches!(api.all_numbers(300).await, Err(ApiError::Refused { .. })), "past the most asked for");

    assert_eq!(api.number("12025550007").await.unwrap().digits, "12025550007");
    // Another account's number is as unknown as one nobody holds.
    assert_eq!(api.number("13125550100").await.unwrap_err(), ApiError::NotFound("number".into()));
    assert_eq!(api.number("19995550100").await.unwrap_err(), ApiError::NotFound("number".into()));
}

#[tokio::test]
async fn a_numbers_own_callback_outranks_its_accounts() {
    let sim = sim(SimConfig::default());
    sim.add_number("acct-a", "12025550100", true);
    sim.add_number("acct-a", "12025550101", true);
    let (url, seen) = receiver().await;
    let client = Client::new().unwrap();
    let a = creds("acct-a", "secret-a");
    let api = client.account(&sim.endpoint(), &a);

    assert_eq!(api.account_callback(CallbackKind::Sms).await.unwrap(), None);
    api.set_account_callback(CallbackKind::Sms, &format!("{url}/account")).await.unwrap();
    assert_eq!(api.account_callback(CallbackKind::Sms).await.unwrap(), Some(format!("{url}/account")));
    api.set_number_callback("12025550100", CallbackKind::Sms, &format!("{url}/number")).await.unwrap();
    let not_held = api.set_number_callback("13125550100", CallbackKind::Sms, &format!("{url}/x")).await;
    assert_eq!(not_held.unwrap_err(), ApiError::NotFound("number".into()));

    assert_eq!(sim.text_in("+13125550199", "12025550100", Some("hi"), &[], InboundFormat::JsonApi).await.unwrap(), 200);
    assert_eq!(sim.text_in("+13125550199", "12025550101", Some("hi"), &[], InboundFormat::Compact).await.unwrap(), 200);
    let paths: Vec<String> = seen.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(paths, ["/number", "/account"]);
    // No MMS callback anywhere: Flowroute has nowhere to post an MMS.
    assert!(
        sim.text_in("+13125550199", "12025550100", None, &["https://x/y.jpg".into()], InboundFormat::JsonApi)
            .await
            .is_err()
    );

    api.delete_account_callback(CallbackKind::Sms).await.unwrap();
    assert_eq!(api.account_callback(CallbackKind::Sms).await.unwrap(), None);
    assert!(sim.text_in("+13125550199", "12025550101", Some("hi"), &[], InboundFormat::Compact).await.is_err());
}

#[tokio::test]
async fn messaging_is_enabled_by_a_task_that_finishes_later() {
    let sim = sim(SimConfig::default());
    sim.add_number("acct-a", "12025550100", false);
    let client = Client::new().unwrap();
    let a = creds("acct-a", "secret-a");
    let api = client.account(&sim.endpoint(), &a);

    let task = api.provision_messaging(&["12025550100".into(), "13125550100".into()], true).await.unwrap();
    assert_eq!(task.processing, ["12025550100"]);
    assert_eq!(task.failed, ["13125550100"], "a number the account does not hold");
    assert!(!task.finished());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let done = api.provisioning(&task.task).await.unwrap();
    assert!(done.finished(), "{done:?}");
    assert_eq!(done.successful, ["12025550100"]);
    assert_eq!(api.number("12025550100").await.unwrap().messaging_enabled, Some(true));
    // Another account cannot read the task.
    let b = creds("acct-b", "secret-b");
    assert!(matches!(client.account(&sim.endpoint(), &b).provisioning(&task.task).await, Err(ApiError::NotFound(_))));
}

#[tokio::test]
async fn a_sent_message_can_be_looked_up_by_its_account_only() {
    let sim = sim(SimConfig { strict_numbers: true, receipts: false, ..SimConfig::default() });
    sim.add_number("acct-a", "12025550100", true);
    sim.add_number("acct-a", "12025550101", false);
    let client = Client::new().unwrap();
    let a = creds("acct-a", "secret-a");
    let (from, off, to) = (
        E164::parse("+12025550100").unwrap(),
        E164::parse("+12025550101").unwrap(),
        E164::parse("+13125550199").unwrap(),
    );
    let msg = Outgoing { from: &from, to: &to, body: Some("hello"), media_urls: &[], dlr_callback: None };
    let sent = client.send(&sim.endpoint(), &a, &msg).await.unwrap();
    // Messaging is off on this number: Flowroute refuses to send from it.
    let refused = client.send(&sim.endpoint(), &a, &Outgoing { from: &off, ..msg.clone() }).await;
    assert!(matches!(refused, Err(switchboard_flowroute::SendError::Permanent { status: 403, .. })), "{refused:?}");

    let api = client.account(&sim.endpoint(), &a);
    let found = api.message(&sent.id).await.unwrap().expect("the message");
    assert_eq!(
        (found.from.as_str(), found.to.as_str(), found.body.as_deref()),
        ("12025550100", "13125550199", Some("hello"))
    );
    assert_eq!(api.message("mdr2-00000000000000000000000000000000").await.unwrap(), None);
    let b = creds("acct-b", "secret-b");
    assert_eq!(client.account(&sim.endpoint(), &b).message(&sent.id).await.unwrap(), None);

    let now = chrono::Utc::now();
    let window =
        api.messages(now - chrono::Duration::minutes(1), now + chrono::Duration::minutes(1), 50, 0).await.unwrap();
    assert_eq!(window.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [sent.id.as_str()]);
    let before = api.messages(now - chrono::Duration::hours(2), now - chrono::Duration::hours(1), 50, 0).await.unwrap();
    assert!(before.is_empty());
}
