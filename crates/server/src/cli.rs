//! The command line: `serve`, `migrate`, `demo`, `token` and `user create`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::ExposeSecret;
use switchboard_http::{Claims, JwtKeys, Role};

use crate::config::{Config, FlagOverrides};
use crate::{App, Settings, keys, telemetry};

/// Switchboard: multi-tenant SMS/MMS routing for hosted PBX platforms.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// A TOML configuration file (the lowest layer, under SWITCHBOARD_* variables and flags).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, global = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve HTTP until SIGINT or SIGTERM.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// The base URL Flowroute reaches (default http://<listen>).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Apply migrations and exit.
    Migrate,
    /// Ask a running instance whether it is ready (its `/readyz`): exit 0 if it answers 200,
    /// 1 otherwise, saying why. For container health checks, so an image needs no curl.
    Healthcheck {
        /// The instance's base URL (default: http://<listen>, an unspecified address asked on
        /// loopback).
        #[arg(long)]
        url: Option<String>,
    },
    /// Show a text routed end to end: a temporary database, a simulated Flowroute, no setup. Then
    /// serve the portal, signed in as the demo tenant's admin, until Ctrl-C.
    Demo {
        /// Exit when the walk-through is done, instead of serving the portal.
        #[arg(long)]
        exit: bool,
    },
    /// Print a signed API token.
    Token {
        #[arg(long, value_enum)]
        role: CliRole,
        /// Tenant slug (tenant_admin and extension).
        #[arg(long)]
        tenant: Option<String>,
        /// Extension (extension role).
        #[arg(long)]
        extension: Option<String>,
        /// Lifetime, such as 30m, 24h or 90d (at most 3650d).
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// The token's subject (default: derived from role, tenant and extension).
        #[arg(long)]
        subject: Option<String>,
    },
    /// Manage the accounts people sign in with.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// What to do with accounts.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account, such as the first operator of a fresh install (applies migrations first).
    /// The password is read from SWITCHBOARD_USER_PASSWORD or, when that is unset, from one line of
    /// standard input; it is never taken as a flag, which would leave it in the shell's history.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: CliRole,
        /// Tenant slug (tenant_admin and extension).
        #[arg(long)]
        tenant: Option<String>,
        /// The extension the user is (extension role).
        #[arg(long)]
        extension: Option<String>,
    },
}

/// Roles a token can carry.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum CliRole {
    System,
    TenantAdmin,
    Extension,
}

fn load(cli: &Cli, listen: Option<String>, public_url: Option<String>) -> anyhow::Result<Config> {
    let flags = FlagOverrides { database_url: cli.database.clone(), listen, public_url };
    Ok(Config::load(cli.config.as_deref(), std::env::vars(), &flags)?)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen, public_url } => {
            let config = load(&cli, listen.clone(), public_url.clone())?;
            telemetry::init(config.log_format, &config.log);
            let keys = keys::resolve(&config)?;
            let listener = std::net::TcpListener::bind(config.listen)
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let app = App::build(Settings::new(&config, keys), listener).await?;
            app.run_until(shutdown_signal()).await
        }
        Command::Demo { exit } => {
            let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
            telemetry::init(crate::config::LogFormat::Text, &filter);
            crate::demo::run(!*exit).await
        }
        Command::Migrate => {
            let config = load(&cli, None, None)?;
            telemetry::init(config.log_format, &config.log);
            let keys = keys::resolve(&config)?;
            let store =
                switchboard_store::Store::connect(&config.database_url, keys.master_key.expose_secret()).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend_name());
            Ok(())
        }
        Command::User { command: UserCommand::Create { email, name, role, tenant, extension } } => {
            let config = load(&cli, None, None)?;
            let keys = keys::resolve(&config)?;
            let password = read_password()?;
            let store =
                switchboard_store::Store::connect(&config.database_url, keys.master_key.expose_secret()).await?;
            store.migrate().await?;
            let tenant_id = match tenant {
                Some(slug) => Some(store.tenant_by_slug(slug).await.with_context(|| format!("tenant '{slug}'"))?.id),
                None => None,
            };
            let new = switchboard_store::accounts::NewAccount {
                email: email.clone(),
                name: name.clone(),
                role: role.role(),
                tenant_id,
                extension: extension.clone(),
                password: Some(password),
            };
            let account = store.create_account(new).await.map_err(explain)?;
            println!("created {} ({}), id {}", account.email, account.role.as_str(), account.id);
            Ok(())
        }
        Command::Healthcheck { url } => {
            let base = match url {
                Some(u) => u.trim_end_matches('/').to_owned(),
                None => local_base(load(&cli, None, None)?.listen),
            };
            let target = format!("{base}/readyz");
            reqwest::Url::parse(&target).with_context(|| format!("--url {base} is not an http(s) URL"))?;
            switchboard_engine::install_tls();
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).no_proxy().build()?;
            let res = client.get(&target).send().await.with_context(|| format!("{target} did not answer"))?;
            anyhow::ensure!(res.status().is_success(), "{target} answered {}: not ready", res.status());
            println!("ready: {target}");
            Ok(())
        }
        Command::Token { role, tenant, extension, ttl, subject } => {
            let config = load(&cli, None, None)?;
            let keys = keys::resolve(&config)?;
            let claims = token_claims(*role, tenant.clone(), extension.clone(), *ttl, subject.clone())?;
            let token = JwtKeys::new(&keys.jwt_secret).sign(&claims)?;
            println!("{token}");
            Ok(())
        }
    }
}

/// The base URL a health check on this machine asks: the listen address, with an unspecified one
/// (`0.0.0.0`, `[::]`) asked on loopback.
fn local_base(listen: std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, listen.port()))
}

impl CliRole {
    fn role(self) -> Role {
        match self {
            Self::System => Role::System,
            Self::TenantAdmin => Role::TenantAdmin,
            Self::Extension => Role::Extension,
        }
    }
}

/// The new account's password: SWITCHBOARD_USER_PASSWORD, else one line of standard input.
fn read_password() -> anyhow::Result<secrecy::SecretString> {
    if let Ok(p) = std::env::var("SWITCHBOARD_USER_PASSWORD") {
        return Ok(p.into());
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password: set SWITCHBOARD_USER_PASSWORD or give it on standard input");
    Ok(password.into())
}

/// A store refusal in words an operator can act on.
fn explain(e: switchboard_store::StoreError) -> anyhow::Error {
    match e {
        switchboard_store::StoreError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        ),
        other => anyhow::Error::new(other),
    }
}

/// The claims of a CLI-issued token, checked for the role's required fields.
pub fn token_claims(
    role: CliRole,
    tenant: Option<String>,
    extension: Option<String>,
    ttl: Duration,
    subject: Option<String>,
) -> anyhow::Result<Claims> {
    anyhow::ensure!(ttl >= Duration::from_secs(1), "--ttl must be at least 1s");
    anyhow::ensure!(ttl <= Duration::from_secs(3650 * 86_400), "--ttl must be at most 3650d");
    let (role, tenant, ext) = match role {
        CliRole::System => {
            anyhow::ensure!(tenant.is_none() && extension.is_none(), "--role system takes no --tenant or --extension");
            (Role::System, None, None)
        }
        CliRole::TenantAdmin => {
            let t = tenant.context("--role tenant_admin needs --tenant SLUG")?;
            anyhow::ensure!(extension.is_none(), "--role tenant_admin takes no --extension");
            switchboard_core::names::check_slug(&t).map_err(|e| anyhow::anyhow!("--tenant {e}"))?;
            (Role::TenantAdmin, Some(t), None)
        }
        CliRole::Extension => {
            let t = tenant.context("--role extension needs --tenant SLUG")?;
            let e = extension.context("--role extension needs --extension EXT")?;
            switchboard_core::names::check_slug(&t).map_err(|e| anyhow::anyhow!("--tenant {e}"))?;
            switchboard_core::names::check_extension(&e).map_err(|e| anyhow::anyhow!("--extension {e}"))?;
            (Role::Extension, Some(t), Some(e))
        }
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let sub = subject.unwrap_or_else(|| {
        let mut s = format!(
            "cli:{}",
            match role {
                Role::System => "system",
                Role::TenantAdmin => "tenant_admin",
                Role::Extension => "extension",
            }
        );
        for part in [&tenant, &ext].into_iter().flatten() {
            s.push(':');
            s.push_str(part);
        }
        s
    });
    Ok(Claims { sub, role, tenant, ext, exp: now + ttl.as_secs(), iat: Some(now), sid: None, tid: None })
}
