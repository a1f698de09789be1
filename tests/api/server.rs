//! The real `switchboard` binary, started on a test's database, for tests that kill it or run two.

// Shared by the `api` and `fault` test targets; each uses part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::TestApp;
use crate::wired::{Wired, wire_with};

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub async fn start(app: &TestApp, log: &std::path::Path) -> Self {
        Self::start_with(app, log, &[]).await
    }

    /// Starts the binary with more settings (`SWITCHBOARD_…` variables), which override the defaults.
    pub async fn start_with(app: &TestApp, log: &std::path::Path, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(app, log, extra, port).await
    }

    /// Starts it again where a killed one listened: the same public URL, as a restarted server has.
    pub async fn restart(app: &TestApp, log: &std::path::Path, extra: &[(&str, &str)], killed: &str) -> Self {
        let port = killed.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
        Self::start_on(app, log, extra, port).await
    }

    async fn start_on(app: &TestApp, log: &std::path::Path, extra: &[(&str, &str)], port: u16) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env_clear()
            .env("SWITCHBOARD_DATABASE_URL", &app.database_url)
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_DATABASE_MAX_CONNECTIONS", "6")
            // Its own address, so the simulator's delivery receipts come back to it.
            .env("SWITCHBOARD_PUBLIC_URL", &base)
            .env("SWITCHBOARD_JWT_SECRET", &app.jwt_secret)
            .env("SWITCHBOARD_MASTER_KEY", &app.master_key)
            .env("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE_SECS", "1,1,1,1,1,1")
            .env("SWITCHBOARD_WEBHOOK_RETRY_JITTER", "0")
            // A delivery the killed server held is claimed again after 2 × 2 s + 5 s.
            .env("SWITCHBOARD_WEBHOOK_TIMEOUT_SECS", "2")
            // A send the killed server held is claimed again after 2 × 2 s + 5 s.
            .env("SWITCHBOARD_FLOWROUTE_TIMEOUT_SECS", "2")
            .env("SWITCHBOARD_LOG_FORMAT", "json")
            .env("SWITCHBOARD_MEDIA_DIR", log.with_file_name("media"))
            // The PBX sink and the simulated Flowroute listen on loopback.
            .env("SWITCHBOARD_PRIVATE_TARGETS", "127.0.0.0/8")
            // Nothing a test does leaves the machine.
            .env("SWITCHBOARD_PUBLIC_TARGETS", "false")
            .envs(extra.iter().copied())
            .stdout(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, base }
    }

    /// Whether the process is still running (it has not exited or panicked its way out).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM (a graceful stop) without waiting.
    pub fn terminate(&mut self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits up to `within` for the process to exit; its status.
    pub async fn exited(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL: no shutdown code runs
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    /// A failing test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops the in-process app and starts the real binary on its database, with a wired tenant.
pub async fn take_over(app: &mut TestApp) -> (tempfile::TempDir, std::path::PathBuf, Server, Wired) {
    let sim = flowroute_sim::SimConfig { receipts: false, ..Default::default() };
    take_over_with(app, &[], sim).await
}

/// [`take_over`] with more server settings and a simulated Flowroute configured as given.
pub async fn take_over_with(
    app: &mut TestApp,
    env: &[(&str, &str)],
    sim: flowroute_sim::SimConfig,
) -> (tempfile::TempDir, std::path::PathBuf, Server, Wired) {
    if let Some(stopped) = app.begin_stop() {
        stopped.await.unwrap().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let first = Server::start_with(app, &log, env).await;
    app.base = first.base.clone();
    let w = wire_with(app, "acme", "acmein", "+12025550100", sim).await;
    (dir, log, first, w)
}
