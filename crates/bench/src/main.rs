//! `switchboard-bench`: load for a real `switchboard serve`, started and measured by the bench.
//!
//! `inbound` starts the server on a fresh SQLite or PostgreSQL database, wires a tenant whose PBX
//! webhook is a fast local sink, posts Flowroute inbound texts at a fixed concurrency, then loads
//! the no-op route (`/healthz`) with the same client, and reports texts/s, latency percentiles,
//! errors, the server's CPU time and peak RSS, the ratio of the two throughputs, and how fast the
//! delivery queue drained to the sink. Benchmarks are not tests: results go to docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "switchboard-bench", about = "Load and measure a real Switchboard server")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
}

/// What every command takes: the PostgreSQL to use, the server binary, the output.
#[derive(Args)]
struct Common {
    /// An administrative PostgreSQL URL; the bench creates and drops its own database on the same
    /// server, with the same options. Without TLS by default: the database is on this machine, and
    /// TLS over loopback cost PostgreSQL inbound a fifth of its rate (docs/BENCHMARKS.md).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")]
    postgres: String,
    /// The server binary (default: `switchboard` beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Print the report as JSON too.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Inbound texts against the no-op route, on one database.
    Inbound {
        #[arg(long, value_enum, default_value = "sqlite")]
        database: Db,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Texts to post (after a warm-up of a tenth as many).
        #[arg(long, default_value_t = 20_000)]
        texts: usize,
        /// Post for this many seconds instead of a number of texts.
        #[arg(long)]
        seconds: Option<u64>,
        /// Post at most this many texts a second (for latency at a given rate).
        #[arg(long)]
        rate: Option<f64>,
        /// Spread the texts over this many tenants, each with its own prefix, number and webhook
        /// path (the same 1,000 conversations in all).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_TENANTS))]
        tenants: u16,
        #[command(flatten)]
        common: Common,
    },
    /// Outbound texts queued through the API and dispatched to the simulator, limits lifted.
    Outbound {
        #[arg(long, value_enum, default_value = "sqlite")]
        database: Db,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Texts to queue (after a warm-up of a tenth as many).
        #[arg(long, default_value_t = 10_000)]
        texts: usize,
        /// Spread the texts over this many tenants, each with its own Flowroute access key and
        /// number (the same 1,000 conversations in all).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_TENANTS))]
        tenants: u16,
        /// Keep Flowroute's limits: the simulator refuses a sixth text a second from one access key
        /// (`429`), and Switchboard paces each key as it does in production.
        #[arg(long)]
        limits: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Cold start and memory with many numbers: wires the tenants through the API, adds the rest
    /// of the numbers to the stopped server's database in bulk, then times starts to ready and has
    /// the running server look up every number once (through a prefix that does not hold it, so
    /// each is loaded into the routing cache and refused, writing nothing).
    Numbers {
        #[arg(long, value_enum, default_value = "sqlite")]
        database: Db,
        /// Numbers in all, spread evenly over the tenants.
        #[arg(long, default_value_t = 1_000_000)]
        numbers: usize,
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u16).range(2..=MAX_TENANTS))]
        tenants: u16,
        /// Cold starts to time.
        #[arg(long, default_value_t = 3)]
        starts: usize,
        /// Concurrent connections for the lookups.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Inbound (full speed, then at half that rate) and outbound, on SQLite and on PostgreSQL.
    All {
        /// Inbound texts per run (outbound and the half-rate run use half as many).
        #[arg(long, default_value_t = 20_000)]
        texts: usize,
        #[command(flatten)]
        common: Common,
    },
}

/// The server under load, with its address and process id.
struct Server {
    child: Child,
    base: String,
    env: Vec<(String, String)>,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) and peak resident memory of a process, from /proc.
fn usage(pid: u32) -> anyhow::Result<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based, in clock ticks).
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = 100.0; // USER_HZ on Linux
    let cpu = (ticks(14) + ticks(15)) / hz;
    Ok((cpu, memory(pid, "VmHWM").unwrap_or(0)))
}

/// A memory figure of a process from /proc/<pid>/status (`VmRSS`, `VmHWM`…), in bytes.
fn memory(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .with_context(|| format!("{field} of process {pid}"))?;
    Ok(kb * 1024)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_key() -> String {
    use base64::Engine;
    let bytes: Vec<u8> = (0..2).flat_map(|_| *uuid::Uuid::new_v4().as_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn start_server(bin: PathBuf, database_url: String, extra: &[(&str, &str)]) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(String, String)> = vec![
        ("SWITCHBOARD_DATABASE_URL".into(), database_url),
        ("SWITCHBOARD_LISTEN".into(), format!("127.0.0.1:{port}")),
        ("SWITCHBOARD_PUBLIC_URL".into(), base.clone()),
        ("SWITCHBOARD_JWT_SECRET".into(), format!("bench-{}", uuid::Uuid::new_v4().simple())),
        ("SWITCHBOARD_MASTER_KEY".into(), random_key()),
        ("SWITCHBOARD_PRIVATE_TARGETS".into(), "127.0.0.0/8".into()),
        ("SWITCHBOARD_INGRESS_FAILURE_LIMIT".into(), "0".into()),
        // `SWITCHBOARD_LOG=switchboard_store=debug` (say) in the bench's environment reaches the server.
        ("SWITCHBOARD_LOG".into(), std::env::var("SWITCHBOARD_LOG").unwrap_or_else(|_| "warn".into())),
        ("SWITCHBOARD_LOG_FORMAT".into(), "json".into()),
        ("SWITCHBOARD_MEDIA_DIR".into(), dir.path().join("media").display().to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let child = spawn(&bin, &env, dir.path())?;
    let mut server = Server { child, base, env, bin, _dir: dir };
    server.ready().await?;
    Ok(server)
}

fn spawn(bin: &PathBuf, env: &[(String, String)], dir: &std::path::Path) -> anyhow::Result<Child> {
    let log_path = std::env::var_os("SB_BENCH_SERVER_LOG").map_or_else(|| dir.join("server.log"), PathBuf::from);
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path)?;
    Command::new(bin)
        .arg("serve")
        .current_dir(dir)
        .envs(env.iter().cloned())
        .stdout(log)
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

impl Server {
    /// Waits until `/readyz` answers `200`; how long that took.
    async fn ready(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let client = reqwest::Client::new();
        let deadline = started + Duration::from_secs(60);
        loop {
            if client.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited ({status}) before it was ready");
            }
            ensure!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Kills the server (as a crash would: what it acknowledged is on disk).
    fn stop(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        self.child.wait()?;
        Ok(())
    }

    /// Starts the server again on the same database, secrets and address; how long it took from
    /// the start of the process until it was ready.
    async fn restart(&mut self) -> anyhow::Result<Duration> {
        self.stop()?;
        let started = Instant::now();
        self.child = spawn(&self.bin, &self.env, self._dir.path())?;
        self.ready().await?;
        Ok(started.elapsed())
    }
}

fn token(server: &Server) -> anyhow::Result<String> {
    let out = Command::new(&server.bin)
        .args(["token", "--role", "system"])
        .current_dir(server._dir.path())
        .envs(server.env.iter().cloned())
        .output()?;
    ensure!(out.status.success(), "token: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A PBX that takes every delivery at once and counts it (at `/hook` and any path under it).
async fn sink() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let count = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let data = web::Data::new(count.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/hook{path:.*}",
            web::post().to(|c: web::Data<Arc<AtomicUsize>>, _body: web::Bytes| async move {
                c.fetch_add(1, Ordering::Relaxed);
                HttpResponse::NoContent().finish()
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok((url, count))
}

/// The most tenants a run may have: each takes a number `+1202555NNNN` above `…0100`.
const MAX_TENANTS: i64 = 9_000;

/// A tenant the bench wires: its slug, inbound prefix, number (11 digits) and Flowroute access key.
struct Tenant {
    slug: String,
    prefix: String,
    digits: String,
    access_key: String,
    /// Its PBX webhook: a path of its own on the sink.
    webhook: String,
}

/// The secret of every access key the bench makes.
const SECRET: &str = "sim-secret";

/// One tenant named as before multi-tenant runs existed (`bench`, `benchin`, `+12025550100`),
/// or `count` tenants each with its own names, number, key and webhook path.
fn tenants(count: u16, sink_url: &str) -> Vec<Tenant> {
    if count == 1 {
        return vec![Tenant {
            slug: "bench".into(),
            prefix: "benchin".into(),
            digits: "12025550100".into(),
            access_key: "sim-access".into(),
            webhook: sink_url.into(),
        }];
    }
    (0..u64::from(count))
        .map(|i| Tenant {
            slug: format!("bench{i:04}"),
            prefix: format!("benchin{i:04}"),
            digits: (12_025_550_100 + i).to_string(),
            access_key: format!("sim-access-{i:04}"),
            webhook: format!("{sink_url}/{i}"),
        })
        .collect()
}

/// A caller of the server's admin API with a system token.
#[derive(Clone)]
struct Admin {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    fn new(server: &Server) -> anyhow::Result<Self> {
        // Idle connections are dropped before the server's keep-alive (5 s) could close one in use.
        let client = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(2)).build()?;
        Ok(Self { client, base: server.base.clone(), token: token(server)? })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let res = self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await?;
        let status = res.status();
        let text = res.text().await?;
        ensure!(status.is_success(), "POST {path}: {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    /// A tenant whose PBX webhook is the sink, with its provider (at `endpoint`), a tokenless prefix only loopback may post to, extensions 101 and 102, and its number.
    /// Returns the ids of the tenant and its number.
    async fn wire(&self, t: &Tenant, endpoint: &str) -> anyhow::Result<(String, String)> {
        let tenant =
            self.post("/api/v1/tenants", json!({"slug": t.slug, "name": t.slug, "webhook_url": t.webhook})).await?;
        let path = format!("/api/v1/tenants/{}", t.slug);
        let provider = json!({"name": "Main", "kind": "flowroute", "access_key": t.access_key, "secret_key": SECRET,
                              "endpoint": endpoint});
        let provider = self.post(&format!("{path}/providers"), provider).await?;
        let provider = provider["id"].as_str().context("a provider id")?.to_owned();
        // Tokenless, so the load generator's URL is the bare prefix; only loopback may post to it.
        self.post(
            &format!("{path}/prefixes"),
            json!({"prefix": t.prefix, "provider_id": provider, "token": null, "allowed_sources": ["127.0.0.0/8"]}),
        )
        .await?;
        for ext in ["101", "102"] {
            self.post(&format!("{path}/extensions"), json!({"extension": ext, "name": format!("Ext {ext}")})).await?;
        }
        let number = self
            .post(
                &format!("{path}/numbers"),
                json!({"e164": format!("+{}", t.digits), "name": "Main", "provider_id": provider, "prefix": t.prefix,
                       "destinations": ["101", "102"], "senders": ["101"]}),
            )
            .await?;
        let id = |v: &Value| v["id"].as_str().map(str::to_owned).context("an id");
        Ok((id(&tenant)?, id(&number)?))
    }
}

/// A Flowroute simulator holding every tenant's account and number (so that adding them checks
/// them there, not at Flowroute), with or without Flowroute's limits; no receipts.
fn simulator(tenants: &[Tenant], limits: bool) -> anyhow::Result<flowroute_sim::Sim> {
    let accounts = tenants.iter().map(|t| (t.access_key.clone(), SECRET.to_owned())).collect();
    let config = flowroute_sim::SimConfig { accounts, rate_limits: limits, receipts: false, ..Default::default() };
    let sim = flowroute_sim::Sim::start(std::net::TcpListener::bind("127.0.0.1:0")?, config)?;
    for t in tenants {
        sim.add_number(&t.access_key, &t.digits, true);
    }
    Ok(sim)
}

/// Wires every tenant, 16 at a time; the ids of each one's tenant and number, in order.
async fn wire(server: &Server, tenants: &[Tenant], endpoint: &str) -> anyhow::Result<Vec<(String, String)>> {
    let admin = Admin::new(server)?;
    let mut ids = Vec::with_capacity(tenants.len());
    for chunk in tenants.chunks(16) {
        let wired = chunk.iter().map(|t| admin.wire(t, endpoint));
        for result in futures_util::future::join_all(wired).await {
            ids.push(result?);
        }
    }
    Ok(ids)
}

/// One phase's results.
struct Phase {
    done: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

/// Runs `count` requests (or for `seconds`) at `concurrency`, each made by `request(i)`; with a
/// `rate`, request `i` is not sent before `i / rate` seconds into the run.
async fn load<F>(concurrency: usize, count: usize, seconds: Option<u64>, rate: Option<f64>, request: F) -> Phase
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    load_expecting(concurrency, count, seconds, rate, reqwest::StatusCode::is_success, request).await
}

/// [`load`], counting as done the requests answered with a status `expected` takes.
async fn load_expecting<F>(
    concurrency: usize,
    count: usize,
    seconds: Option<u64>,
    rate: Option<f64>,
    expected: fn(&reqwest::StatusCode) -> bool,
    request: F,
) -> Phase
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = seconds.map(|s| started + Duration::from_secs(s));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (request, next) = (request.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if until.map_or(i >= count, |u| Instant::now() >= u) {
                    break;
                }
                if let Some(rate) = rate.filter(|r| *r > 0.0) {
                    tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate)).into()).await;
                }
                let t = Instant::now();
                match request(i).send().await {
                    Ok(r) if expected(&r.status()) => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut phase = Phase { done: 0, errors: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    for t in tasks {
        if let Ok((l, e)) = t.await {
            phase.latencies.extend(l);
            phase.errors += e;
        }
    }
    phase.elapsed = started.elapsed();
    phase.done = phase.latencies.len();
    phase.latencies.sort();
    phase
}

/// Text `i` of a run: from one of 1,000 senders, to the number of the tenant that sender is
/// spread to (so there are 1,000 conversations however many tenants); its tenant's index and body.
fn text(i: usize, run: &str, tenants: &[Tenant]) -> (usize, String) {
    let sender = i % 1000;
    let t = sender % tenants.len().max(1);
    let to = tenants.get(t).map_or("", |t| t.digits.as_str());
    (t, format!(r#"{{"to":"{to}","from":"1206555{sender:04}","body":"bench text {i}","id":"mdr2-{run}{i:010}"}}"#))
}

/// What every command shares: where the server binary is and which PostgreSQL to use.
#[derive(Clone)]
struct Setup {
    bin: PathBuf,
    postgres: String,
}

impl Setup {
    fn new(server: Option<PathBuf>, postgres: String) -> anyhow::Result<Self> {
        let bin = match server {
            Some(b) => b,
            None => std::env::current_exe()?.with_file_name("switchboard"),
        };
        ensure!(bin.exists(), "no server binary at {} (cargo build --release first)", bin.display());
        Ok(Self { bin, postgres })
    }

    /// Runs `body` against a fresh database of `database`'s kind, dropped afterwards.
    async fn with_database<T, F, Fut>(&self, database: Db, body: F) -> anyhow::Result<T>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let dir = tempfile::tempdir()?;
        let (db_name, database_url) = match database {
            // A directory of its own, so the database outlives a server started in it.
            Db::Sqlite => (None, format!("sqlite://{}?mode=rwc", dir.path().join("switchboard.db").display())),
            Db::Postgres => {
                let name = format!("sb_bench_{}", uuid::Uuid::new_v4().simple());
                let out =
                    Command::new("psql").args([&self.postgres, "-qc", &format!("CREATE DATABASE {name}")]).output()?;
                ensure!(out.status.success(), "creating {name}: {}", String::from_utf8_lossy(&out.stderr));
                // The same server and options (`?sslmode=…`), another database.
                let (url, query) =
                    self.postgres.split_once('?').map_or((self.postgres.as_str(), None), |(u, q)| (u, Some(q)));
                let root = url.rsplit_once('/').map_or(url, |(r, _)| r);
                let query = query.map(|q| format!("?{q}")).unwrap_or_default();
                (Some(name.clone()), format!("{root}/{name}{query}"))
            }
        };
        let result = body(database_url).await;
        drop(dir);
        if let Some(name) = db_name {
            let drop = format!("DROP DATABASE {name} WITH (FORCE)");
            let _ = Command::new("psql").args([&self.postgres, "-qc", &drop]).output();
        }
        result
    }
}

fn label(database: Db) -> &'static str {
    match database {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Inbound texts, the delivery queue's drain, and the no-op route; the report as JSON.
async fn inbound(
    setup: &Setup,
    database: Db,
    concurrency: usize,
    texts: usize,
    seconds: Option<u64>,
    rate: Option<f64>,
    tenant_count: u16,
) -> anyhow::Result<Value> {
    setup
        .with_database(database, |database_url| async move {
            let (sink_url, delivered) = sink().await?;
            let server = start_server(setup.bin.clone(), database_url, &[]).await?;
            let tenants = Arc::new(tenants(tenant_count, &sink_url));
            let sim = simulator(&tenants, false)?;
            let wiring = Instant::now();
            wire(&server, &tenants, &sim.endpoint()).await?;
            let wired_in = wiring.elapsed();
            let pid = server.child.id();
            let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
            let urls: Arc<Vec<String>> =
                Arc::new(tenants.iter().map(|t| format!("{}/{}", server.base, t.prefix)).collect());
            let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
            let post = move |c: &reqwest::Client, i: usize, run: &str| {
                let (t, body) = text(i, run, &tenants);
                c.post(urls.get(t).map_or("", String::as_str)).header("content-type", "application/json").body(body)
            };

            // Warm-up: connections, caches, the database's pages.
            let warm = (texts / 10).max(200);
            let (c, p, r) = (client.clone(), post.clone(), format!("w{run}"));
            load(concurrency, warm, None, None, move |i| p(&c, i, &r)).await;

            let (cpu_before, _) = usage(pid)?;
            let (c, p, r) = (client.clone(), post.clone(), run.clone());
            let hot = load(concurrency, texts, seconds, rate, move |i| p(&c, i, &r)).await;
            let (cpu_after, _) = usage(pid)?;
            let posted = warm + hot.done;

            // The delivery queue: how long until the sink has everything.
            let drain_started = Instant::now();
            let deadline = drain_started + Duration::from_secs(600);
            while delivered.load(Ordering::Relaxed) < posted {
                if Instant::now() > deadline {
                    bail!("only {} of {posted} deliveries arrived", delivered.load(Ordering::Relaxed));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let drained_after = drain_started.elapsed();

            let (c, u) = (client.clone(), format!("{}/healthz", server.base));
            let noop = load(concurrency, hot.done.max(1000), seconds, None, move |_| c.get(&u)).await;
            let (_, peak_rss) = usage(pid)?;
            let report = json!({
                "bench": "inbound",
                "database": label(database),
                "concurrency": concurrency,
                "tenants": tenant_count,
                "wired_in_s": wired_in.as_secs_f64(),
                "rate_limit_per_s": rate,
                "inbound": {"texts": hot.done, "errors": hot.errors, "seconds": hot.elapsed.as_secs_f64(),
                            "texts_per_s": hot.rate(), "p50_ms": ms(hot.percentile(0.5)),
                            "p95_ms": ms(hot.percentile(0.95)), "p99_ms": ms(hot.percentile(0.99))},
                "noop": {"requests": noop.done, "errors": noop.errors, "requests_per_s": noop.rate(),
                         "p50_ms": ms(noop.percentile(0.5)), "p99_ms": ms(noop.percentile(0.99))},
                "ratio_inbound_to_noop": hot.rate() / noop.rate(),
                "server_cpu_seconds_inbound": cpu_after - cpu_before,
                "server_peak_rss_mb": peak_rss as f64 / 1_048_576.0,
                "delivery": {"delivered": delivered.load(Ordering::Relaxed),
                             "drained_after_inbound_s": drained_after.as_secs_f64(),
                             "drain_rate_per_s": posted as f64 / (hot.elapsed + drained_after).as_secs_f64()},
            });
            println!(
                "{}: inbound{} {:.0} texts/s ({} texts, {} errors{}) p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms | \
                 no-op {:.0} req/s | ratio {:.1} % | server CPU {:.1} s, peak RSS {:.0} MB | \
                 deliveries drained {:.1} s after the last text ({:.0}/s overall)",
                label(database),
                across(tenant_count),
                hot.rate(),
                hot.done,
                hot.errors,
                rate.map(|r| format!(", paced at {r:.0}/s")).unwrap_or_default(),
                ms(hot.percentile(0.5)),
                ms(hot.percentile(0.95)),
                ms(hot.percentile(0.99)),
                noop.rate(),
                100.0 * hot.rate() / noop.rate(),
                cpu_after - cpu_before,
                peak_rss as f64 / 1_048_576.0,
                drained_after.as_secs_f64(),
                report["delivery"]["drain_rate_per_s"].as_f64().unwrap_or(0.0),
            );
            Ok(report)
        })
        .await
}

/// " across N tenants" after a figure of a multi-tenant run; nothing for one tenant.
fn across(tenants: u16) -> String {
    if tenants > 1 { format!(" across {tenants} tenants") } else { String::new() }
}

/// Outbound texts queued through the API while the simulator holds its answers, then dispatched
/// as one backlog; the report as JSON. Without `limits`, the simulator's limits and Switchboard's
/// pacing are lifted; with them, each tenant's access key is held to Flowroute's 5 texts a second.
async fn outbound(
    setup: &Setup,
    database: Db,
    concurrency: usize,
    texts: usize,
    tenant_count: u16,
    limits: bool,
) -> anyhow::Result<Value> {
    setup
        .with_database(database, |database_url| async move {
            let (sink_url, _) = sink().await?;
            let tenants = tenants(tenant_count, &sink_url);
            let sim = simulator(&tenants, limits)?;
            // The simulator holds the sends in flight while the backlog is queued: past the
            // default 30 s, they would time out and be looked up and sent again.
            let mut settings = vec![("SWITCHBOARD_FLOWROUTE_TIMEOUT_SECS", "120")];
            if !limits {
                settings.push(("SWITCHBOARD_FLOWROUTE_PACING", "false"));
            }
            let server = start_server(setup.bin.clone(), database_url, &settings).await?;
            wire(&server, &tenants, &sim.endpoint()).await?;
            let pid = server.child.id();
            let token = token(&server)?;
            let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
            let sends: Arc<Vec<(String, String)>> = Arc::new(
                tenants
                    .iter()
                    .map(|t| (format!("{}/api/v1/tenants/{}/messages", server.base, t.slug), format!("+{}", t.digits)))
                    .collect(),
            );
            // A thousand recipients, each spread to one tenant: one conversation's texts go one at
            // a time, in order.
            let send = move |c: &reqwest::Client, i: usize| {
                let recipient = i % 1000;
                let (url, from) = &sends[recipient % sends.len()];
                c.post(url).bearer_auth(&token).json(&json!({
                    "from": from, "to": format!("+1206555{recipient:04}"), "body": format!("bench {i}")}))
            };
            let first = send(&client, 0).send().await?;
            let status = first.status();
            ensure!(status.is_success(), "queueing a text: {status} {}", first.text().await?);
            let warm = (texts / 10).max(200);
            let c = client.clone();
            let s = send.clone();
            load(concurrency, warm, None, None, move |i| s(&c, i)).await;
            wait_for(|| sim.accepted_count() >= warm, Duration::from_secs(300)).await?;

            // The backlog: the simulator holds its answers while the texts are queued, so the
            // dispatcher's rate is measured on its own, from the release until the last is accepted.
            sim.hold(true);
            let c = client.clone();
            let queued = load(concurrency, texts, None, None, move |i| send(&c, warm + i)).await;
            let (cpu_before, _) = usage(pid)?;
            let requests_before = sim.requests();
            let released = Instant::now();
            let released_ms = sim.elapsed().as_millis();
            sim.hold(false);
            wait_for(|| sim.accepted_count() >= warm + queued.done, Duration::from_secs(600)).await?;
            let dispatched_in = released.elapsed();
            let (cpu_after, peak_rss) = usage(pid)?;
            let dispatch_rate = queued.done as f64 / dispatched_in.as_secs_f64();
            let accepted = sim.accepted();
            let backlog = accepted.get(warm..).unwrap_or_default();
            // Requests the simulator refused (`429` when a key goes over its limit).
            let refused = (sim.requests() - requests_before).saturating_sub(backlog.len());
            // The busiest second of any one access key, as the simulator took them.
            let busiest = busiest_second(backlog);
            // Sends held by the simulator at the release went out before it: the rate from the
            // release counts only those sent after it.
            let after: Vec<u128> = backlog.iter().map(|a| a.at_ms).filter(|at| *at > released_ms + 50).collect();
            let last = after.iter().max().copied().unwrap_or(released_ms);
            let steady = after.len() as f64 / ((last.saturating_sub(released_ms)).max(1) as f64 / 1000.0);
            let report = json!({
                "bench": "outbound",
                "database": label(database),
                "concurrency": concurrency,
                "tenants": tenant_count,
                "limits": limits,
                "queued": {"texts": queued.done, "errors": queued.errors, "texts_per_s": queued.rate(),
                           "p50_ms": ms(queued.percentile(0.5)), "p99_ms": ms(queued.percentile(0.99))},
                "dispatch": {"texts_per_s": dispatch_rate, "seconds": dispatched_in.as_secs_f64(),
                             "sent_after_release_per_s": steady, "sent_after_release": after.len(),
                             "refused": refused, "busiest_key_second": busiest},
                "server_cpu_seconds_dispatch": cpu_after - cpu_before,
                "server_peak_rss_mb": peak_rss as f64 / 1_048_576.0,
            });
            println!(
                "{}: outbound{}{} {dispatch_rate:.0} texts/s dispatched to the simulator (a backlog of {} texts in \
                 {:.2} s; {} sent after the release at {steady:.0}/s; {refused} refused; busiest key second {busiest}; \
                 queued through the API at {:.0}/s, p99 {:.1} ms, {} errors) | server CPU {:.1} s while \
                 dispatching, peak RSS {:.0} MB",
                label(database),
                across(tenant_count),
                if limits { ", Flowroute's limits kept" } else { "" },
                queued.done,
                dispatched_in.as_secs_f64(),
                after.len(),
                queued.rate(),
                ms(queued.percentile(0.99)),
                queued.errors,
                cpu_after - cpu_before,
                peak_rss as f64 / 1_048_576.0,
            );
            Ok(report)
        })
        .await
}

/// The busiest second of any one access key among `accepted`.
fn busiest_second(accepted: &[flowroute_sim::Accepted]) -> usize {
    let mut by_key: std::collections::HashMap<&str, Vec<u128>> = std::collections::HashMap::new();
    for a in accepted {
        by_key.entry(a.access_key.as_str()).or_default().push(a.at_ms);
    }
    by_key.into_values().map(flowroute_sim::busiest_second).max().unwrap_or(0)
}

/// The bench's numbers beyond each tenant's first: `+12024NNNNNN`, the `i`-th of them.
const NUMBERS_FROM: u64 = 12_024_000_000;
/// How many such numbers there are (`+12024000000` to `+12029999999`).
const NUMBERS_MAX: usize = 6_000_000;

/// Adds `per - 1` numbers to each wired tenant (`ids`: its id and its first number's), in the
/// database of a stopped server, routed as that first number is (its prefix, provider, policy,
/// destinations and senders): a bulk load the API would take hours over.
async fn add_numbers(database_url: &str, database: Db, ids: &[(String, String)], per: usize) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(database_url).await?;
    let more = per.saturating_sub(1);
    for (t, (tenant, seed)) in ids.iter().enumerate() {
        let first = t * more;
        // New ids at random; ids as each database keeps them (SQLite: 16 bytes).
        let (id, series, literal): (&str, String, fn(&str) -> String) = match database {
            Db::Sqlite => (
                "randomblob(16)",
                format!(
                    "(WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < {more}) SELECT x FROM k)"
                ),
                |uuid| format!("X'{}'", uuid.replace('-', "")),
            ),
            Db::Postgres => {
                ("gen_random_uuid()", format!("(SELECT generate_series(1, {more}) AS x)"), |uuid| format!("'{uuid}'"))
            }
        };
        let (tenant, seed) = (literal(tenant), literal(seed));
        let txn = sea_orm::TransactionTrait::begin(&db).await?;
        let added = txn
            .execute_unprepared(&format!(
                "INSERT INTO number (id, tenant_id, e164, name, provider_id, prefix_id, policy_id, created_at, updated_at) \
                 SELECT {id}, n.tenant_id, '+' || ({NUMBERS_FROM} + {first} + x - 1), n.name, n.provider_id, n.prefix_id, \
                 n.policy_id, n.created_at, n.updated_at FROM number n, {series} k WHERE n.id = {seed}"
            ))
            .await?
            .rows_affected();
        ensure!(added == more as u64, "added {added} numbers to tenant {t}, not {more}");
        for (table, columns) in [("number_destination", "extension_id, position"), ("number_sender", "extension_id")] {
            txn.execute_unprepared(&format!(
                "INSERT INTO {table} (number_id, {columns}) SELECT n.id, {columns} FROM number n, {table} d \
                 WHERE n.tenant_id = {tenant} AND n.id <> {seed} AND d.number_id = {seed}"
            ))
            .await?;
        }
        txn.commit().await?;
    }
    db.close().await?;
    Ok(())
}

/// Cold starts to ready, and the server's memory before and after it has looked up every number
/// once; the report as JSON.
async fn numbers(
    setup: &Setup,
    database: Db,
    count: usize,
    tenant_count: u16,
    starts: usize,
    concurrency: usize,
) -> anyhow::Result<Value> {
    let per = count / usize::from(tenant_count);
    ensure!(per >= 1 && count <= NUMBERS_MAX, "between {tenant_count} and {NUMBERS_MAX} numbers");
    setup
        .with_database(database, |database_url| async move {
            let (sink_url, _) = sink().await?;
            let tenants = tenants(tenant_count, &sink_url);
            let mut server = start_server(setup.bin.clone(), database_url.clone(), &[]).await?;
            let sim = simulator(&tenants, false)?;
            let ids = wire(&server, &tenants, &sim.endpoint()).await?;
            server.stop()?;
            let loading = Instant::now();
            add_numbers(&database_url, database, &ids, per).await?;
            let loaded_in = loading.elapsed();
            let total = per * usize::from(tenant_count);

            let mut cold = Vec::new();
            let mut at_ready = Vec::new();
            for _ in 0..starts.max(1) {
                cold.push(server.restart().await?);
                at_ready.push(memory(server.child.id(), "VmRSS")?);
            }
            let pid = server.child.id();

            // Every number once, through a prefix of another tenant: the ingress loads the number's
            // route into its cache, finds it is not that tenant's, and answers 404, writing nothing.
            let more = per.saturating_sub(1);
            let urls =
                [format!("{}/{}", server.base, tenants[0].prefix), format!("{}/{}", server.base, tenants[1].prefix)];
            let firsts: Vec<String> = tenants.iter().map(|t| t.digits.clone()).collect();
            let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
            let lookups = load_expecting(
                concurrency,
                total,
                None,
                None,
                |s| *s == reqwest::StatusCode::NOT_FOUND,
                move |i| {
                    // The tenant's first number, then its others.
                    let (t, k) = (i / per, i % per);
                    let to = if k == 0 {
                        firsts.get(t).cloned().unwrap_or_default()
                    } else {
                        (NUMBERS_FROM + (t * more + k - 1) as u64).to_string()
                    };
                    let url = &urls[usize::from(t == 0)];
                    let body =
                        format!(r#"{{"to":"{to}","from":"12065550000","body":"lookup","id":"mdr2-lookup{i:010}"}}"#);
                    client.post(url).header("content-type", "application/json").body(body)
                },
            )
            .await;
            let after = memory(pid, "VmRSS")?;
            let (_, peak) = usage(pid)?;
            cold.sort();
            let mb = |b: u64| b as f64 / 1_048_576.0;
            let median_ready = at_ready.get(at_ready.len() / 2).copied().unwrap_or(0);
            let report = json!({
                "bench": "numbers",
                "database": label(database),
                "tenants": tenant_count,
                "numbers": total,
                "bulk_load_s": loaded_in.as_secs_f64(),
                "cold_start_s": cold.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "rss_at_ready_mb": at_ready.iter().map(|b| mb(*b)).collect::<Vec<_>>(),
                "lookups": {"done": lookups.done, "errors": lookups.errors, "per_s": lookups.rate(),
                            "p99_ms": ms(lookups.percentile(0.99))},
                "rss_after_lookups_mb": mb(after),
                "peak_rss_mb": mb(peak),
            });
            println!(
                "{}: {total} numbers of {tenant_count} tenants (added in bulk in {:.1} s) | cold start to ready {} | \
                 RSS at ready {:.0} MB | every number looked up once ({} refused as expected, {} otherwise, \
                 {:.0}/s, p99 {:.1} ms) | RSS then {:.0} MB, peak {:.0} MB",
                label(database),
                loaded_in.as_secs_f64(),
                cold.iter().map(|d| format!("{:.2} s", d.as_secs_f64())).collect::<Vec<_>>().join(", "),
                mb(median_ready),
                lookups.done,
                lookups.errors,
                lookups.rate(),
                ms(lookups.percentile(0.99)),
                mb(after),
                mb(peak),
            );
            Ok(report)
        })
        .await
}

async fn wait_for(done: impl Fn() -> bool, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while !done() {
        ensure!(Instant::now() < deadline, "not done within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Everything docs/BENCHMARKS.md reports from a running server, in one go.
async fn all(setup: &Setup, texts: usize) -> anyhow::Result<Vec<Value>> {
    let mut reports = Vec::new();
    for database in [Db::Sqlite, Db::Postgres] {
        let full = inbound(setup, database, 64, texts, None, None, 1).await?;
        let half = full["inbound"]["texts_per_s"].as_f64().unwrap_or(100.0) / 2.0;
        reports.push(full);
        reports.push(inbound(setup, database, 64, texts / 2, None, Some(half), 1).await?);
        reports.push(outbound(setup, database, 64, texts / 2, 1, false).await?);
    }
    Ok(reports)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (report, as_json) = match Cli::parse().command {
        Cmd::Inbound { database, concurrency, texts, seconds, rate, tenants, common } => {
            let setup = Setup::new(common.server, common.postgres)?;
            (vec![inbound(&setup, database, concurrency, texts, seconds, rate, tenants).await?], common.json)
        }
        Cmd::Outbound { database, concurrency, texts, tenants, limits, common } => {
            let setup = Setup::new(common.server, common.postgres)?;
            (vec![outbound(&setup, database, concurrency, texts, tenants, limits).await?], common.json)
        }
        Cmd::Numbers { database, numbers: count, tenants, starts, concurrency, common } => {
            let setup = Setup::new(common.server, common.postgres)?;
            (vec![numbers(&setup, database, count, tenants, starts, concurrency).await?], common.json)
        }
        Cmd::All { texts, common } => {
            let setup = Setup::new(common.server, common.postgres)?;
            (all(&setup, texts).await?, common.json)
        }
    };
    if as_json {
        for r in report {
            println!("{r}");
        }
    }
    Ok(())
}
