//! A tenant wired for texts both ways: a PBX sink, a simulated Flowroute, a prefix and a number.

// Shared by the `api` and `fault` test targets; each uses part of it.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::sink::Sink;
use crate::support::{Reply, TestApp};

/// A tenant wired for inbound texts: webhook at a sink, a provider with a catch-all company, a
/// prefix, extensions, a number, and a contact for the fixtures' sender.
pub struct Wired {
    pub base: String,
    pub token: String,
    pub secret: String,
    pub sink: Sink,
    pub provider: String,
    /// The provider's Flowroute, simulated.
    pub sim: flowroute_sim::Sim,
}

pub async fn wire(app: &TestApp, slug: &str, prefix: &str, e164: &str) -> Wired {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    wire_with(app, slug, prefix, e164, sim).await
}

/// [`wire`] with a simulated Flowroute configured as given.
pub async fn wire_with(app: &TestApp, slug: &str, prefix: &str, e164: &str, sim: flowroute_sim::SimConfig) -> Wired {
    let sink = Sink::start().await;
    let sim = flowroute_sim::Sim::start(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), sim).unwrap();
    let sys = app.system.clone();
    let created = app.post("/api/v1/tenants", &sys, json!({"slug": slug, "name": slug, "webhook_url": sink.url})).await;
    let secret = created.expect(StatusCode::CREATED)["webhook_secret"].as_str().unwrap().to_owned();
    let token = app.admin(slug);
    let base = format!("/api/v1/tenants/{slug}");
    let post = |path: &str, body: Value| {
        let (base, token) = (base.clone(), token.clone());
        let path = path.to_owned();
        async move { app.post(&format!("{base}/{path}"), &token, body).await.expect(StatusCode::CREATED).clone() }
    };
    let catch_all = post("companies", json!({"name": "Unknown senders"})).await["id"].as_str().unwrap().to_owned();
    let plumbing = post("companies", json!({"name": "Doe Plumbing"})).await["id"].as_str().unwrap().to_owned();
    let provider = post(
        "providers",
        json!({"name": "Main", "kind": "flowroute", "access_key": "sim-access", "secret_key": "sim-secret",
               "endpoint": sim.endpoint(), "catch_all_company_id": catch_all}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Tokenless, which needs an allow-list: the tests post from loopback (prefix tokens have their own tests).
    post(
        "prefixes",
        json!({"prefix": prefix, "provider_id": provider, "token": null, "allowed_sources": ["127.0.0.0/8"]}),
    )
    .await;
    for ext in ["101", "102", "200", "300"] {
        post("extensions", json!({"extension": ext, "name": format!("Ext {ext}")})).await;
    }
    // The account holds the number, with messaging on.
    sim.add_number("sim-access", e164.trim_start_matches('+'), true);
    post(
        "numbers",
        json!({"e164": e164, "name": "Main", "provider_id": provider, "prefix": prefix, "destinations": ["101", "102"],
               "senders": ["101"]}),
    )
    .await;
    post("contacts", json!({"name": "Pat Doe", "phone": "+12065550123", "company_id": plumbing})).await;
    Wired { base, token, secret, sink, provider, sim }
}

impl Wired {
    /// Gives the number a policy whose window is never open (a minute on Mondays at midnight UTC,
    /// so always after hours in practice): texts go to 200, and the sender gets `auto_reply`.
    pub async fn always_after_hours(&self, app: &TestApp, auto_reply: &str) {
        let policy = json!({"name": "Closed", "timezone": "UTC",
                            "business_hours": [{"days": ["mon"], "start": "00:00", "end": "00:01"}],
                            "after_hours": {"destinations": ["200"], "auto_reply": auto_reply}});
        let created = app.post(&format!("{}/policies", self.base), &self.token, policy).await;
        let id = created.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let number = format!("{}/numbers/+12025550100", self.base);
        app.patch(&number, &self.token, json!({"policy_id": id})).await.expect(StatusCode::OK);
    }
}

impl TestApp {
    /// Posts a body to a prefix as Flowroute does.
    pub async fn flowroute(&self, prefix: &str, body: &[u8]) -> Reply {
        let res = self
            .client
            .post(format!("{}/{prefix}", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        Reply::read(res).await
    }
}
