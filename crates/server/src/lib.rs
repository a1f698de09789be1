//! The `switchboard` binary's library: configuration, keys, startup and shutdown, so tests can
//! start the real application in-process.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod keys;
pub mod telemetry;

pub use app::{App, Settings};
