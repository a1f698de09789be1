//! A PostgreSQL server of the test's own, on a free port, so a test can stop and start it without
//! touching the machine's server that other tests use.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The server of the one test that runs on its own (`On::OwnPostgres`).
pub static OWN: std::sync::Mutex<Option<std::sync::Arc<Cluster>>> = std::sync::Mutex::new(None);

pub struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    port: u16,
    /// As root, PostgreSQL's tools run as the `postgres` user (the server refuses to run as root).
    as_postgres: bool,
}

/// The directory of `pg_ctl`, from `pg_config` or Debian's layout.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("pg_ctl").exists() {
            return Some(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

impl Cluster {
    /// Whether this machine can start one.
    pub fn available() -> bool {
        bin_dir().is_some()
    }

    /// Creates and starts a server; panics with the reason when it cannot.
    pub fn start() -> Self {
        let bin = bin_dir().expect("PostgreSQL's server programs (pg_ctl, initdb)");
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let ok = Command::new("chown").arg("postgres:postgres").arg(&data).status().unwrap().success();
            assert!(ok, "chown the data directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = data.join("server.log");
        let me = Self { _dir: dir, data, log, bin, port, as_postgres };
        me.run("initdb", &["-D", path(&me.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        me.resume();
        me
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// An administrative URL, as `SB_TEST_POSTGRES_URL` would be.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn resume(&self) {
        let options =
            format!("-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=60", self.port, path(&self.data));
        self.run("pg_ctl", &["-D", path(&self.data), "-l", path(&self.log), "-o", &options, "-w", "-t", "60", "start"]);
    }

    /// Stops the server: `fast` ends every session at once, as an operator's restart does.
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", path(&self.data), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let args = ["-D", path(&self.data), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}
