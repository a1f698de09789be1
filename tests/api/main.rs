//! End-to-end tests of the admin API: each test starts the real application on 127.0.0.1:0 and
//! runs once on SQLite and once on PostgreSQL (a fresh database per test).
//!
//! PostgreSQL runs when `SB_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); without it
//! those variants are reported as ignored and a line says PostgreSQL was not covered.
//!
//! A test is a private `async fn name(app: TestApp)` in one of the modules below, marked
//! `#[suite_test]`: it registers itself, and no list is kept here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server;
mod sink;
mod support;
mod wired;

mod accounts;
mod admin;
mod audit;
mod auth;
mod crash;
mod dispatch;
mod inbound;
mod isolation;
mod keys;
mod live;
mod mail;
mod media;
mod onboarding;
mod ops;
mod phones;
mod security;
mod seed_models;
mod send;
mod validation;

use std::future::Future;
use std::pin::Pin;

use libtest_mimic::{Arguments, Trial};
use support::{Backend, TestApp};

/// The longest any one test may take.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

type TestFn = fn(TestApp) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A test, registered by `#[suite_test]` on its function.
pub struct Registered {
    /// The test's module (`api::admin`).
    pub module: &'static str,
    pub name: &'static str,
    pub run: TestFn,
}

inventory::collect!(Registered);

/// What `#[suite_test]` expands to after the function it marks.
macro_rules! register_test {
    ($name:ident, ()) => {
        inventory::submit! {
            crate::Registered { module: module_path!(), name: stringify!($name), run: |app| Box::pin($name(app)) }
        }
    };
}
pub(crate) use register_test;

/// Every registered test as `module_function` (`admin_names_taken_anywhere_are_409`), by name.
fn registered() -> Vec<(String, TestFn)> {
    let mut all: Vec<(String, TestFn)> = inventory::iter::<Registered>
        .into_iter()
        .map(|t| {
            let module = t.module.split_once("::").map_or(t.module, |(_, m)| m);
            (format!("{module}::{}", t.name).replace("::", "_"), t.run)
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var("SB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty());
    let all = registered();
    assert!(!all.is_empty(), "no test registered itself: is `#[suite_test]` on the test functions?");
    if postgres.is_none() && std::env::var_os("SB_TEST_REQUIRE_POSTGRES").is_some() {
        eprintln!("SB_TEST_REQUIRE_POSTGRES is set but SB_TEST_POSTGRES_URL is not");
        std::process::exit(2);
    }
    if postgres.is_none() {
        eprintln!(
            "note: PostgreSQL was not covered: set SB_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
             to run every test on PostgreSQL too (.ci/run does)"
        );
    }
    let mut trials = Vec::new();
    for (name, test) in all {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let pg = postgres.clone();
            let skip = backend == Backend::Postgres && pg.is_none();
            let trial = Trial::test(format!("{}::{name}", backend.name()), move || {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                rt.block_on(async move {
                    let app = TestApp::spawn(backend, pg.as_deref()).await;
                    let teardown = app.teardown_handle();
                    // The test runs as a task so a failure still lets its database be dropped.
                    // A hung test fails with its name instead of stalling the whole run.
                    let outcome = tokio::time::timeout(TEST_TIMEOUT, tokio::spawn(test(app))).await;
                    teardown.run().await;
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
