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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hwm_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok((cpu, hwm_kb * 1024))
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
    let log_path = std::env::var_os("SB_BENCH_SERVER_LOG").map_or_else(|| dir.path().join("server.log"), PathBuf::from);
    let log = std::fs::File::create(log_path)?;
    let child = Command::new(&bin)
        .arg("serve")
        .current_dir(dir.path())
        .envs(env.iter().cloned())
        .stdout(log)
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server = Server { child, base, env, bin, _dir: dir };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(server);
        }
        ensure!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
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

/// A PBX that takes every delivery at once and counts it.
async fn sink() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let count = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let data = web::Data::new(count.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/hook",
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

async fn wire(server: &Server, sink_url: &str, endpoint: Option<&str>) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let token = token(server)?;
    let post = |path: &str, body: Value| {
        let req = client.post(format!("{}{path}", server.base)).bearer_auth(&token).json(&body);
        async move {
            let res = req.send().await?;
            let status = res.status();
            let text = res.text().await?;
            ensure!(status.is_success(), "{status}: {text}");
            Ok::<Value, anyhow::Error>(serde_json::from_str(&text)?)
        }
    };
    post("/api/v1/tenants", json!({"slug": "bench", "name": "Bench", "webhook_url": sink_url})).await?;
    let t = "/api/v1/tenants/bench";
    let mut provider =
        json!({"name": "Main", "kind": "flowroute", "access_key": "sim-access", "secret_key": "sim-secret"});
    if let Some(endpoint) = endpoint {
        provider["endpoint"] = json!(endpoint);
    }
    let provider = post(&format!("{t}/providers"), provider).await?;
    let provider = provider["id"].as_str().context("a provider id")?.to_owned();
    // Tokenless, so the load generator's URL is the bare prefix; only loopback may post to it.
    post(
        &format!("{t}/prefixes"),
        json!({"prefix": "benchin", "provider_id": provider, "token": null, "allowed_sources": ["127.0.0.0/8"]}),
    )
    .await?;
    for ext in ["101", "102"] {
        post(&format!("{t}/extensions"), json!({"extension": ext, "name": format!("Ext {ext}")})).await?;
    }
    post(
        &format!("{t}/numbers"),
        json!({"e164": "+12025550100", "name": "Main", "provider_id": provider, "prefix": "benchin",
               "destinations": ["101", "102"], "senders": ["101"]}),
    )
    .await?;
    Ok(())
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
                    Ok(r) if r.status().is_success() => {
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

fn text(i: usize, run: &str) -> String {
    format!(
        r#"{{"to":"12025550100","from":"1206555{:04}","body":"bench text {i}","id":"mdr2-{run}{i:010}"}}"#,
        i % 1000
    )
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
        let (db_name, database_url) = match database {
            Db::Sqlite => (None, "sqlite://switchboard.db?mode=rwc".to_owned()),
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
) -> anyhow::Result<Value> {
    setup
        .with_database(database, |database_url| async move {
            let (sink_url, delivered) = sink().await?;
            let server = start_server(setup.bin.clone(), database_url, &[]).await?;
            wire(&server, &sink_url, None).await?;
            let pid = server.child.id();
            let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
            let url = format!("{}/benchin", server.base);
            let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

            // Warm-up: connections, caches, the database's pages.
            let warm = (texts / 10).max(200);
            let (c, u, r) = (client.clone(), url.clone(), format!("w{run}"));
            load(concurrency, warm, None, None, move |i| {
                c.post(&u).header("content-type", "application/json").body(text(i, &r))
            })
            .await;

            let (cpu_before, _) = usage(pid)?;
            let (c, u, r) = (client.clone(), url.clone(), run.clone());
            let hot = load(concurrency, texts, seconds, rate, move |i| {
                c.post(&u).header("content-type", "application/json").body(text(i, &r))
            })
            .await;
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
                "{}: inbound {:.0} texts/s ({} texts, {} errors{}) p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms | \
                 no-op {:.0} req/s | ratio {:.1} % | server CPU {:.1} s, peak RSS {:.0} MB | \
                 deliveries drained {:.1} s after the last text ({:.0}/s overall)",
                label(database),
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

/// Outbound texts queued through the API while the simulator (limits and Switchboard's pacing lifted)
/// holds its answers, then dispatched as one backlog; the report as JSON.
async fn outbound(setup: &Setup, database: Db, concurrency: usize, texts: usize) -> anyhow::Result<Value> {
    setup
        .with_database(database, |database_url| async move {
            let (sink_url, _) = sink().await?;
            let sim_config = flowroute_sim::SimConfig { rate_limits: false, receipts: false, ..Default::default() };
            let sim = flowroute_sim::Sim::start(std::net::TcpListener::bind("127.0.0.1:0")?, sim_config)?;
            // The account holds the bench's number, as Switchboard checks when it is added.
            sim.add_number("sim-access", "12025550100", true);
            let server =
                start_server(setup.bin.clone(), database_url, &[("SWITCHBOARD_FLOWROUTE_PACING", "false")]).await?;
            wire(&server, &sink_url, Some(&sim.endpoint())).await?;
            let pid = server.child.id();
            let token = token(&server)?;
            let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
            let url = format!("{}/api/v1/tenants/bench/messages", server.base);
            // A thousand recipients: one conversation's texts go one at a time, in order.
            let send = move |c: &reqwest::Client, i: usize| {
                c.post(&url).bearer_auth(&token).json(&json!({
                    "from": "+12025550100", "to": format!("+1206555{:04}", i % 1000), "body": format!("bench {i}")}))
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
            let released = Instant::now();
            sim.hold(false);
            wait_for(|| sim.accepted_count() >= warm + queued.done, Duration::from_secs(600)).await?;
            let dispatched_in = released.elapsed();
            let (cpu_after, peak_rss) = usage(pid)?;
            let dispatch_rate = queued.done as f64 / dispatched_in.as_secs_f64();
            let report = json!({
                "bench": "outbound",
                "database": label(database),
                "concurrency": concurrency,
                "queued": {"texts": queued.done, "errors": queued.errors, "texts_per_s": queued.rate(),
                           "p50_ms": ms(queued.percentile(0.5)), "p99_ms": ms(queued.percentile(0.99))},
                "dispatch": {"texts_per_s": dispatch_rate, "seconds": dispatched_in.as_secs_f64()},
                "server_cpu_seconds_dispatch": cpu_after - cpu_before,
                "server_peak_rss_mb": peak_rss as f64 / 1_048_576.0,
            });
            println!(
                "{}: outbound {dispatch_rate:.0} texts/s dispatched to the simulator (a backlog of {} texts in \
                 {:.2} s; queued through the API at {:.0}/s, p99 {:.1} ms, {} errors) | server CPU {:.1} s \
                 while dispatching, peak RSS {:.0} MB",
                label(database),
                queued.done,
                dispatched_in.as_secs_f64(),
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
        let full = inbound(setup, database, 64, texts, None, None).await?;
        let half = full["inbound"]["texts_per_s"].as_f64().unwrap_or(100.0) / 2.0;
        reports.push(full);
        reports.push(inbound(setup, database, 64, texts / 2, None, Some(half)).await?);
        reports.push(outbound(setup, database, 64, texts / 2).await?);
    }
    Ok(reports)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (report, as_json) = match Cli::parse().command {
        Cmd::Inbound { database, concurrency, texts, seconds, rate, common } => {
            let setup = Setup::new(common.server, common.postgres)?;
            (vec![inbound(&setup, database, concurrency, texts, seconds, rate).await?], common.json)
        }
        Cmd::Outbound { database, concurrency, texts, common } => {
            let setup = Setup::new(common.server, common.postgres)?;
            (vec![outbound(&setup, database, concurrency, texts).await?], common.json)
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
