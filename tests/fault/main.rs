//! The fault suite: the real binary under load while things break — SIGKILL, PostgreSQL stopped and
//! started, Flowroute failing a third of sends, the PBX down for a minute, two servers sharing one
//! database — and proof afterwards that no acknowledged text was lost or delivered twice.
//!
//! Not part of `cargo test`: `.ci/run` runs it with `cargo test -p switchboard --test fault`. Each
//! test runs on SQLite and on PostgreSQL where the scenario applies to both; PostgreSQL as for the
//! `api` target (`SB_TEST_POSTGRES_URL`), except the outage test, which starts a server of its own.
//! A test is a private `async fn name(app: TestApp)` marked `#[suite_test(crate::On::…)]`, saying
//! where it runs; it registers itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../api/server.rs"]
mod server;
#[path = "../api/sink.rs"]
mod sink;
#[path = "../api/support.rs"]
mod support;
#[path = "../api/wired.rs"]
mod wired;

mod cluster;
mod fleet;
mod kill;
mod load;
mod notes;
mod outage;
mod pair;
mod pbx;
mod provider;

use std::future::Future;
use std::pin::Pin;

use futures_util::StreamExt;
use libtest_mimic::{Arguments, Trial};
use sea_orm::{ConnectionTrait, Statement};
use support::{Backend, TestApp};

/// The longest any one test may take.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

type TestFn = fn(TestApp) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A test, registered by `#[suite_test(On::…)]` on its function.
pub struct Registered {
    /// The test's module (`fault::kill`).
    pub module: &'static str,
    pub name: &'static str,
    pub on: On,
    pub run: TestFn,
}

inventory::collect!(Registered);

/// What `#[suite_test(on)]` expands to after the function it marks.
macro_rules! register_test {
    ($name:ident, ($on:expr)) => {
        inventory::submit! {
            crate::Registered { module: module_path!(), name: stringify!($name), on: $on, run: |app| Box::pin($name(app)) }
        }
    };
}
pub(crate) use register_test;

/// Every registered test as `module_function`, by name, with where it runs.
fn registered() -> Vec<(String, On, TestFn)> {
    let mut all: Vec<(String, On, TestFn)> = inventory::iter::<Registered>
        .into_iter()
        .map(|t| {
            let module = t.module.split_once("::").map_or(t.module, |(_, m)| m);
            (format!("{module}_{}", t.name), t.on, t.run)
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// Where a test runs.
#[derive(Clone, Copy, PartialEq)]
pub enum On {
    /// SQLite and the shared PostgreSQL.
    Both,
    /// The shared PostgreSQL only.
    Postgres,
    /// A PostgreSQL server of the test's own, which it may stop.
    OwnPostgres,
}

/// One number from the test's database.
pub async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let db = app.db().await;
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    db.close().await.ok();
    row.unwrap().try_get_by_index::<i64>(0).unwrap()
}

/// Runs `task` for every item, `width` at a time.
pub async fn in_parallel<T, F, Fut>(items: Vec<T>, width: usize, task: F)
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = ()>,
{
    futures_util::stream::iter(items.into_iter().map(task)).buffer_unordered(width).collect::<Vec<()>>().await;
}

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var("SB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty());
    let require = std::env::var_os("SB_TEST_REQUIRE_POSTGRES").is_some();
    if postgres.is_none() && require {
        eprintln!("SB_TEST_REQUIRE_POSTGRES is set but SB_TEST_POSTGRES_URL is not");
        std::process::exit(2);
    }
    let all = registered();
    assert!(!all.is_empty(), "no test registered itself: is `#[suite_test(On::…)]` on the test functions?");
    let mut trials = Vec::new();
    for (name, on, test) in all {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if backend == Backend::Sqlite && on != On::Both {
                continue;
            }
            let pg = postgres.clone();
            let skip = match on {
                On::OwnPostgres => !cluster::Cluster::available() && !require,
                _ => backend == Backend::Postgres && pg.is_none(),
            };
            let trial = Trial::test(format!("{}::{name}", backend.name()), move || {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                rt.block_on(async move {
                    let own = (on == On::OwnPostgres).then(cluster::Cluster::start);
                    let admin = own.as_ref().map(cluster::Cluster::url).or(pg);
                    let app = TestApp::spawn(backend, admin.as_deref()).await;
                    *cluster::OWN.lock().unwrap() = own.map(std::sync::Arc::new);
                    let teardown = app.teardown_handle();
                    let outcome = tokio::time::timeout(TEST_TIMEOUT, tokio::spawn(test(app))).await;
                    teardown.run().await;
                    drop(cluster::OWN.lock().unwrap().take());
                    match outcome {
                        Err(_) => panic!("timed out after {TEST_TIMEOUT:?}"),
                        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Ok(_) => {}
                    }
                });
                Ok(())
            })
            .with_ignored_flag(skip);
            trials.push(trial);
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
