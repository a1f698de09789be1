//! Starting the real application for a test, and a small client for its API.

// Shared by the `api` and `fault` test targets; each uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::{SecretBox, SecretString};
use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::keys::Keys;
use switchboard::{App, Settings};
use switchboard_engine::RetryPolicy;
use switchboard_http::{Claims, JwtKeys, Role};
use tokio::sync::oneshot;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub jwt_secret: String,
    /// The master key, base64, to start the real binary on the same database.
    pub master_key: String,
    pub database_url: String,
    pub system: String,
    pub sqlite_dir: Option<tempfile::TempDir>,
    /// Kept alive for the app's lifetime: fetched media live here.
    pub _media_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    finished: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    admin_url: Option<String>,
    db_name: Option<String>,
}

/// Stops the app and drops its PostgreSQL database after a test.
pub struct Teardown {
    admin_url: Option<String>,
    db_name: Option<String>,
}

impl Teardown {
    pub async fn run(self) {
        if let (Some(admin), Some(name)) = (self.admin_url, self.db_name)
            && let Ok(db) = Database::connect(admin).await
        {
            let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    for chunk in b.chunks_mut(16) {
        let id = uuid::Uuid::new_v4();
        chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
    }
    b
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let root = match base.rfind('/') {
        Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => &base[..i],
        _ => base,
    };
    format!("{root}/{name}{query}")
}

impl TestApp {
    /// Starts the application on a fresh database of `backend`.
    pub async fn spawn(backend: Backend, postgres: Option<&str>) -> Self {
        let media_dir = tempfile::tempdir().unwrap();
        let (database_url, sqlite_dir, admin_url, db_name) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/switchboard.db?mode=rwc", dir.path().display());
                (url, Some(dir), None, None)
            }
            Backend::Postgres => {
                let admin = postgres.expect("SB_TEST_POSTGRES_URL").to_owned();
                let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
                let db = Database::connect(admin.clone()).await.expect("connect to PostgreSQL");
                db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
                db.close().await.ok();
                (with_database(&admin, &name), None, Some(admin), Some(name))
            }
        };
        let jwt_secret = base64::engine::general_purpose::STANDARD.encode(random_bytes::<48>());
        let master_key = random_bytes::<32>();
        let config = Config {
            database_url: database_url.clone(),
            // Tests run side by side on one PostgreSQL (100 connections): each app takes few.
            database_max_connections: 6,
            public_url: Some("https://sms.example.net".into()),
            workers: Some(2),
            shutdown_timeout_secs: 10,
            media_dir: media_dir.path().to_owned(),
            media_allow_http: true,
            webhook_timeout_secs: 5,
            flowroute_timeout_secs: 5,
            flowroute_unknown_outcome_wait_secs: 3,
            // Requests from 127.0.0.9 come through a proxy that names the client.
            trusted_proxies: vec!["127.0.0.9/32".into()],
            // Small, so the limits tests reach them cheaply.
            stream_limit_per_extension: 3,
            stream_limit_per_tenant: 6,
            // The simulator and the PBX sink listen on loopback.
            private_targets: vec!["127.0.0.0/8".into()],
            // Nothing a test does leaves the machine: a provider at api.flowroute.com is unreachable.
            public_targets: false,
            // The operator's shared ingress, at /ingress/hosted?token=….
            shared_ingress_name: "hosted".into(),
            shared_ingress_token: Some(SecretString::from(SHARED_INGRESS_TOKEN)),
            ..Config::default()
        };
        let keys = Keys {
            jwt_secret: SecretString::from(jwt_secret.clone()),
            master_key: SecretBox::new(Box::new(master_key)),
            file: None,
        };
        let mut settings = Settings::new(&config, keys);
        // Fast retries, without jitter, so outage tests finish in seconds.
        settings.engine.retry = RetryPolicy {
            schedule: vec![Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(1)],
            jitter: 0.0,
            max_retry_after: Duration::from_secs(2),
        };
        settings.engine.send_retry = RetryPolicy {
            schedule: vec![Duration::from_millis(200), Duration::from_millis(500), Duration::from_secs(1)],
            jitter: 0.0,
            max_retry_after: Duration::from_secs(2),
        };
        // Often, so a stream its client closed is noticed (and its place freed) within a second.
        settings.http.stream_heartbeat = Duration::from_millis(500);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = App::build(settings, listener).await.unwrap();
        let base = format!("http://{}", app.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        let finished = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let mut me = Self {
            base,
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
            jwt_secret,
            master_key: base64::engine::general_purpose::STANDARD.encode(master_key),
            database_url,
            system: String::new(),
            sqlite_dir,
            _media_dir: media_dir,
            shutdown: Some(tx),
            finished: Some(finished),
            admin_url,
            db_name,
        };
        me.system = me.token(Role::System, None, None);
        me
    }

    pub fn teardown_handle(&self) -> Teardown {
        Teardown { admin_url: self.admin_url.clone(), db_name: self.db_name.clone() }
    }

    /// Signals shutdown without waiting.
    pub fn begin_stop(&mut self) -> Option<tokio::task::JoinHandle<anyhow::Result<()>>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.finished.take()
    }

    /// A token signed with the application's secret.
    pub fn token(&self, role: Role, tenant: Option<&str>, ext: Option<&str>) -> String {
        let exp = (chrono::Utc::now().timestamp() + 3600) as u64;
        let claims = Claims {
            sub: "test".into(),
            role,
            tenant: tenant.map(str::to_owned),
            ext: ext.map(str::to_owned),
            exp,
            iat: Some(chrono::Utc::now().timestamp() as u64),
            sid: None,
            tid: None,
        };
        JwtKeys::new(&SecretString::from(self.jwt_secret.clone())).sign(&claims).unwrap()
    }

    /// A tenant admin token for `slug`.
    pub fn admin(&self, slug: &str) -> String {
        self.token(Role::TenantAdmin, Some(slug), None)
    }

    /// Sends a request; returns status, headers and the body parsed as JSON (or as a JSON string).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a tenant as the system administrator and returns its admin token.
    pub async fn tenant(&self, slug: &str) -> String {
        let r = self.post("/api/v1/tenants", &self.system, json!({"slug": slug, "name": format!("{slug} Inc")})).await;
        r.expect(StatusCode::CREATED);
        self.admin(slug)
    }

    /// A tenant with a provider, a prefix, two extensions and a number: what most tests need.
    pub async fn configured_tenant(&self, slug: &str, prefix: &str, e164: &str) -> Configured {
        let token = self.tenant(slug).await;
        let t = format!("/api/v1/tenants/{slug}");
        let provider = self
            .post(
                &format!("{t}/providers"),
                &token,
                json!({"name": "Main", "kind": "flowroute", "access_key": "AK123456", "secret_key": "sk-test-secret"}),
            )
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let tokenless =
            json!({"prefix": prefix, "provider_id": provider, "token": null, "allowed_sources": ["127.0.0.0/8"]});
        self.post(&format!("{t}/prefixes"), &token, tokenless).await.expect(StatusCode::CREATED);
        for ext in ["101", "102"] {
            self.post(&format!("{t}/extensions"), &token, json!({"extension": ext, "name": format!("Ext {ext}")}))
                .await
                .expect(StatusCode::CREATED);
        }
        self.post(
            &format!("{t}/numbers"),
            &token,
            json!({"e164": e164, "name": "Main line", "provider_id": provider, "prefix": prefix,
                   "destinations": ["101", "102"], "senders": ["101"]}),
        )
        .await
        .expect(StatusCode::CREATED);
        Configured { token, base: t, provider }
    }

    /// A separate connection to the application's database, for checks the API cannot make.
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(self.database_url.clone()).await.unwrap()
    }

    /// Runs SQL on the application's database; write `$1`, `$2`… for the values, in order.
    pub async fn sql(&self, sql: &str, values: Vec<sea_orm::Value>) {
        let db = self.db().await;
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => sql.to_owned(),
            _ => {
                let mut out = sql.to_owned();
                for i in (1..=values.len()).rev() {
                    out = out.replace(&format!("${i}"), "?");
                }
                out
            }
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
        db.close().await.ok();
    }
}

/// What [`TestApp::configured_tenant`] made.
pub struct Configured {
    pub token: String,
    /// `/api/v1/tenants/<slug>`.
    pub base: String,
    pub provider: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Self { status, headers, text, json }
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        &self.json
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn problem(&self, status: StatusCode, code: &str) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        let ct = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(ct, "application/problem+json", "content type of {}", self.text);
        assert_eq!(self.json["code"], code, "body: {}", self.text);
        assert_eq!(self.json["status"], status.as_u16(), "body: {}", self.text);
        assert_eq!(self.json["type"], format!("urn:switchboard:problem:{code}"));
        assert!(self.json["title"].is_string() && self.json["detail"].is_string(), "body: {}", self.text);
        &self.json
    }

    /// The field names of a validation problem.
    pub fn fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

/// One text column from a test's database.
/// Runs one statement on the app's database with `values` bound to `$1`, `$2`, …
pub async fn execute(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) {
    let db = app.db().await;
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await.unwrap();
    db.close().await.ok();
}

/// The shared ingress's token in every test app.
pub const SHARED_INGRESS_TOKEN: &str = "shared-ingress-token-of-the-tests";

pub async fn column(app: &TestApp, sql: &str) -> Vec<String> {
    let db = app.db().await;
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    db.close().await.ok();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

/// A documented path with each parameter filled by a plausible value of tenant `acme` (a fresh id
/// for `{id}`, so it names nothing that exists).
pub fn sample_path(path: &str) -> String {
    path.replace("{tenant}", "acme")
        .replace("{e164}", "+12025550100")
        .replace("{id}", &uuid::Uuid::now_v7().to_string())
        .replace("{ext}", "101")
        .replace("{prefix}", "acmein")
        .replace("{remote}", "+12065550123")
}
