//! `switchboard demo`: the whole path in one command, on a temporary SQLite database with the
//! Flowroute simulator in the same process — a tenant configured through the API, a text arriving
//! from "Flowroute", routed to an extension, a reply sent back out, and its delivery receipt.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::{Context, bail};
use flowroute_sim::{InboundFormat, Sim, SimConfig};
use secrecy::{SecretBox, SecretString};
use serde_json::{Value, json};
use switchboard_http::{Claims, JwtKeys, Role};

use crate::app::{App, Settings};
use crate::config::Config;
use crate::keys::Keys;

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("{path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }
    async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }
}

fn token(keys: &JwtKeys, role: Role, tenant: Option<&str>, ext: Option<&str>) -> anyhow::Result<String> {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let claims = Claims {
        sub: "demo".into(),
        role,
        tenant: tenant.map(str::to_owned),
        ext: ext.map(str::to_owned),
        exp: now + 3600,
        iat: Some(now),
        sid: None,
        tid: None,
    };
    Ok(keys.sign(&claims)?)
}

async fn until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<Value>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the demo, printing what happens; then, where `serve`, serves the portal until Ctrl-C.
pub async fn run(serve: bool) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    // The usual port when it is free, so the portal's address is the one the README gives.
    let listener = TcpListener::bind("127.0.0.1:8080").or_else(|_| TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let sim =
        Sim::start(TcpListener::bind("127.0.0.1:0")?, SimConfig { strict_numbers: true, ..SimConfig::default() })?;
    // The tenant's Flowroute account holds one number, not yet enabled for texting.
    sim.add_number("sim-access", "12025550100", false);
    let jwt = SecretString::from(format!("demo-{}", uuid::Uuid::new_v4().simple()).repeat(2));
    let mut master = [0u8; 32];
    master.copy_from_slice(&uuid::Uuid::new_v4().as_bytes().repeat(2));
    let config = Config {
        database_url: format!("sqlite://{}/demo.db?mode=rwc", dir.display()),
        database_max_connections: 8,
        public_url: Some(base.clone()),
        workers: Some(2),
        shutdown_timeout_secs: 5,
        webhook_timeout_secs: 5,
        flowroute_timeout_secs: 10,
        media_dir: dir.join("media"),
        media_allow_http: true,
        // The simulator and the PBX sink listen on loopback.
        private_targets: vec!["127.0.0.0/8".into()],
        ..Config::default()
    };
    let keys = Keys { jwt_secret: jwt.clone(), master_key: SecretBox::new(Box::new(master)), file: None };
    let settings = Settings::new(&config, keys);
    let app = App::build(settings, listener).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let keys = JwtKeys::new(&jwt);
    let api = Api { base: base.clone(), http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()? };
    let result = walk_through(&api, &keys, &sim, &base).await;
    if result.is_ok() && serve {
        println!("   (Ctrl-C ends the demo and deletes its database.)");
        crate::cli::shutdown_signal().await;
    }
    let _ = stop.send(());
    running.await??;
    sim.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).context("creating a temporary directory")?;
    Ok(dir)
}

async fn walk_through(api: &Api, keys: &JwtKeys, sim: &Sim, base: &str) -> anyhow::Result<()> {
    println!("Switchboard demo: the engine on a temporary SQLite database at {base},");
    println!("with a simulated Flowroute at {}.\n", sim.url);
    let system = token(keys, Role::System, None, None)?;
    api.post("/api/v1/tenants", &system, json!({"slug": "acme", "name": "Acme Dental"})).await?;
    let admin = token(keys, Role::TenantAdmin, Some("acme"), None)?;
    let t = "/api/v1/tenants/acme";
    let provider = api
        .post(
            &format!("{t}/providers"),
            &admin,
            json!({"name": "Flowroute", "kind": "flowroute", "access_key": "sim-access", "secret_key": "sim-secret",
                   "endpoint": sim.endpoint()}),
        )
        .await?;
    let provider_id = provider["id"].as_str().unwrap_or_default().to_owned();
    let prefix = api
        .post(&format!("{t}/prefixes"), &admin, json!({"prefix": "acmeinbound", "provider_id": provider_id}))
        .await?;
    for (ext, name) in [("101", "Front desk"), ("102", "Dr. Patel")] {
        api.post(&format!("{t}/extensions"), &admin, json!({"extension": ext, "name": name})).await?;
    }
    // Onboarding, all through Switchboard: the account's number imported, texting enabled on it,
    // and Flowroute pointed at the prefix.
    let p = format!("{t}/providers/{provider_id}");
    let import = json!({"numbers": ["+12025550100"], "destinations": ["101"], "senders": ["101"]});
    api.post(&format!("{p}/remote-numbers:import"), &admin, import).await?;
    api.post(&format!("{p}/messaging:enable"), &admin, json!({})).await?;
    let applied = api.post(&format!("{p}/callbacks:apply"), &admin, json!({"to": "prefix"})).await?;
    let company = api.post(&format!("{t}/companies"), &admin, json!({"name": "Doe Plumbing"})).await?;
    api.post(
        &format!("{t}/contacts"),
        &admin,
        json!({"name": "Pat Doe", "phone": "+12065550123", "company_id": company["id"]}),
    )
    .await?;
    println!("1. Configured through the admin API: tenant 'acme', extensions 101 and 102, the contact Pat Doe");
    println!(
        "   (+12065550123), and the tenant's Flowroute account: keys checked ({}), its number +12025550100",
        text(&provider["connection"]["status"])
    );
    println!("   imported (texts go to 101), texting enabled on it, and its callbacks pointed at Switchboard");
    println!(
        "   ({}): {}\n",
        text(&applied["numbers"][0]["state"]),
        prefix["webhook_url"].as_str().unwrap_or_default()
    );

    // Flowroute posts where the callbacks now point: the prefix, with its token.
    let status = sim
        .text_in(
            "+12065550123",
            "12025550100",
            Some("Hi, can I move my appointment to Friday?"),
            &[],
            InboundFormat::JsonApi,
        )
        .await?;
    println!("2. Flowroute posts an inbound text from +12065550123 to +12025550100: Switchboard answers {status}.\n");

    let ext = token(keys, Role::Extension, Some("acme"), Some("101"))?;
    let convs = until("the text to reach extension 101", || async {
        let c = api.get("/api/v1/conversations", &ext).await?;
        Ok(c["items"].as_array().filter(|a| !a.is_empty()).map(|_| c.clone()))
    })
    .await?;
    let conv = &convs["items"][0];
    let msgs = api.get("/api/v1/conversations/+12065550123/messages", &ext).await?;
    let m = &msgs["items"][0];
    println!("3. Extension 101 sees it: a conversation with {} ({} unread):", text(&conv["remote"]), conv["unread"]);
    println!("   \"{}\"", m["body"].as_str().unwrap_or_default());
    println!(
        "   matched to contact {} of company {}.\n",
        contact_name(api, &admin, &m["contact_id"]).await?,
        text(&company["name"])
    );

    let sent = api
        .post(
            "/api/v1/messages",
            &ext,
            json!({"to": "+12065550123", "body": "Sure, Friday at 10 works. See you then!"}),
        )
        .await?;
    let id = sent["id"].as_str().unwrap_or_default().to_owned();
    println!(
        "4. Extension 101 replies; Switchboard queues it from {} ({} segment).\n",
        text(&sent["from"]),
        sent["segments"]
    );

    let accepted = until("the simulator to receive the reply", || async {
        Ok(sim
            .accepted()
            .first()
            .map(|a| json!({"id": a.id, "to": a.to, "from": a.from, "body": a.body, "raw": a.raw})))
    })
    .await?;
    println!(
        "5. Flowroute (simulated) receives it and answers 202 with id {}:",
        accepted["id"].as_str().unwrap_or_default()
    );
    println!("   {}\n", accepted["raw"].as_str().unwrap_or_default());

    let done = until("the delivery receipt", || async {
        let m = api.get(&format!("{t}/messages/{id}"), &admin).await?;
        Ok((m["status"] == "delivered").then_some(m))
    })
    .await?;
    println!(
        "6. Flowroute's delivery receipts come back to the prefix: the reply is now '{}'.",
        done["status"].as_str().unwrap_or_default()
    );
    let password = portal_sign_in(api, keys).await?;
    println!("\nEverything above went through the same HTTP API, store and workers as production.");
    println!("Run it for real with `switchboard serve`; the API reference is at {base}/docs/.\n");
    println!("The portal: {base}/portal/");
    println!("   sign in as {DEMO_ADMIN} with the password {password}");
    Ok(())
}

/// The demo tenant's admin, who signs in to the portal.
const DEMO_ADMIN: &str = "admin@acme.example";

/// Invites the demo tenant's admin and accepts the invitation with a fresh password, as a person
/// would through the API; the password, to print.
async fn portal_sign_in(api: &Api, keys: &JwtKeys) -> anyhow::Result<String> {
    let admin = token(keys, Role::TenantAdmin, Some("acme"), None)?;
    let invited = api
        .post(
            "/api/v1/tenants/acme/users",
            &admin,
            json!({"email": DEMO_ADMIN, "name": "Demo admin", "role": "tenant_admin"}),
        )
        .await?;
    let invitation = invited["invitation"]["token"].as_str().context("the invitation carries no token")?;
    let password = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    api.call(
        reqwest::Method::POST,
        "/api/v1/auth/invitations/accept",
        None,
        Some(json!({"token": invitation, "password": password})),
    )
    .await?;
    Ok(password)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

async fn contact_name(api: &Api, admin: &str, id: &Value) -> anyhow::Result<String> {
    let Some(id) = id.as_str() else { return Ok("(none)".into()) };
    let c = api.get(&format!("/api/v1/tenants/acme/contacts/{id}"), admin).await?;
    Ok(c["name"].as_str().unwrap_or_default().to_owned())
}
