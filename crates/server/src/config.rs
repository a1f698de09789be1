//! Configuration in fixed layers: defaults in code → an optional TOML file (`--config`) →
//! `SWITCHBOARD_*` environment variables → command-line flags. Unknown keys and malformed values
//! are refused with a message naming the key. Secrets are `SecretString`s: never printed, not even
//! by `Debug`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use switchboard_engine::{EngineConfig, RetryPolicy};
use switchboard_http::{ClientAddresses, HttpSettings};
use switchboard_store::{MASTER_KEY_LEN, StoreSettings};

/// The embedded default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./switchboard.db?mode=rwc";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, text when it is.
    Auto,
    Json,
    Text,
}

/// Where media bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaStoreKind {
    /// Files under `media_dir` (one instance, or a volume every instance shares).
    Disk,
    /// Rows in the database: every instance on one PostgreSQL serves them.
    Database,
    /// An S3-compatible bucket (`media_s3_*`).
    S3,
}

/// The header trusted proxies name the client in, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeaderName {
    XForwardedFor,
    Forwarded,
}

impl From<ForwardedHeaderName> for switchboard_core::sources::ForwardedHeader {
    fn from(name: ForwardedHeaderName) -> Self {
        match name {
            ForwardedHeaderName::XForwardedFor => Self::XForwardedFor,
            ForwardedHeaderName::Forwarded => Self::Forwarded,
        }
    }
}

/// Every configuration key, as read from the layers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// The largest number of database connections this process holds (1 to 1000).
    pub database_max_connections: u32,
    /// The base URL Flowroute reaches (delivery-receipt callbacks, prefix URLs); defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// HS256 key for API tokens (at least 32 bytes). Generated beside a SQLite database if absent.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    /// 32 bytes, base64: encrypts provider and webhook secrets. Generated beside a SQLite database if absent.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// HTTP worker threads; defaults to the number of CPUs.
    pub workers: Option<usize>,
    /// Seconds a graceful stop waits for requests in flight.
    pub shutdown_timeout_secs: u64,
    /// Seconds a stopping instance keeps serving with `/readyz` unready, so a load balancer takes
    /// it out before it stops listening.
    pub shutdown_drain_secs: u64,
    /// `auto`, `json` or `text`.
    pub log_format: LogFormat,
    /// A tracing filter, such as `info` or `switchboard=debug,info`.
    pub log: String,
    /// Waits between PBX delivery attempts, in seconds (the last one's failure makes a delivery dead).
    pub webhook_retry_schedule_secs: Vec<u64>,
    /// How much each wait varies, as a fraction (0.2 is ±20 %).
    pub webhook_retry_jitter: f64,
    /// How long one PBX delivery may take, in seconds (1 to 120).
    pub webhook_timeout_secs: u64,
    /// How long one request to Flowroute may take, in seconds (1 to 120).
    pub flowroute_timeout_secs: u64,
    /// After a send that went out unanswered (a timeout), how long to wait for a delivery receipt
    /// naming it before sending it again, in seconds (0 to 3,600).
    pub flowroute_unknown_outcome_wait_secs: u64,
    /// Waits between attempts of a send Flowroute refused for now (429, 5xx, no answer), in seconds;
    /// the last one's failure fails the text.
    pub flowroute_retry_schedule_secs: Vec<u64>,
    /// Space sends per provider account under Flowroute's default limits (5 SMS/s, 1 MMS/s). Turn off
    /// only for an account whose limits Flowroute raised, or against a simulator.
    pub flowroute_pacing: bool,
    /// Where media are kept: `disk` (under `media_dir`), `database` or `s3`.
    pub media_store: MediaStoreKind,
    /// Where media are kept on disk (`media_store = "disk"`).
    pub media_dir: std::path::PathBuf,
    /// The bucket (`media_store = "s3"`).
    pub media_s3_bucket: Option<String>,
    /// An S3-compatible service's URL (MinIO, Ceph…); AWS when absent.
    pub media_s3_endpoint: Option<String>,
    /// The bucket's region.
    pub media_s3_region: String,
    /// The access key; with none, the environment's credentials (`AWS_*`, an instance role).
    pub media_s3_access_key_id: Option<String>,
    #[serde(skip_serializing)]
    pub media_s3_secret_access_key: Option<SecretString>,
    /// Fetch media over plain http too (for a local Flowroute simulator; never in production).
    pub media_allow_http: bool,
    /// Attachments kept of one inbound text (1 to 100); those beyond are dropped, and the message says so.
    pub media_max_per_text: u32,
    /// Megabytes of fetched media one tenant may keep (1 to 10,000,000); attachments past it are not kept.
    pub media_quota_mb_per_tenant: u64,
    /// Replaced by `trusted_proxies`; `true` is refused with a message saying so.
    #[serde(skip_serializing, default)]
    pub trust_forwarded_for: bool,
    /// Networks (CIDR) of the proxies in front of Switchboard: only a peer in them is believed
    /// about the client's address, read from `forwarded_header`. Empty: every peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies name the client in: `x-forwarded-for` or `forwarded` (RFC 7239).
    pub forwarded_header: ForwardedHeaderName,
    /// Live streams (`GET /api/v1/events`) one extension may hold open at once (1 to 1,000).
    pub stream_limit_per_extension: u32,
    /// Live streams one tenant may hold open at once, its extensions and admins together (1 to 100,000).
    pub stream_limit_per_tenant: u32,
    /// A live stream with no event for this long ends; clients resume with `Last-Event-ID` (60 to 86,400).
    pub stream_idle_timeout_secs: u64,
    /// A bearer token `/metrics` requires; without one, `/metrics` answers anyone.
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// The last segment of the shared ingress's path, `POST /ingress/<name>` (3 to 64 of
    /// `a-z 0-9 _ -`).
    pub shared_ingress_name: String,
    /// The token the shared ingress requires as `?token=` (16 to 128 URL-safe characters); with
    /// `shared_ingress_sources`, it turns the shared ingress on.
    #[serde(skip_serializing)]
    pub shared_ingress_token: Option<SecretString>,
    /// The networks (CIDR) allowed to post to the shared ingress; with or without a token, it turns
    /// the shared ingress on.
    pub shared_ingress_sources: Vec<String>,
    /// Callbacks a minute from one source naming no prefix (or missing a prefix's token or
    /// allow-list) before that source is answered `429`; 0 turns the guard off.
    pub ingress_failure_limit: u32,
    /// How long such a source is answered `429`, in seconds (1 to 86,400).
    pub ingress_block_secs: u64,
    /// Non-public networks (CIDR) that webhook URLs and provider endpoints may reach, such as an
    /// on-premises PBX's LAN; every other target must be a public address.
    pub private_targets: Vec<String>,
    /// Whether those requests may go to public internet addresses at all (default true). Off
    /// locks Switchboard's own requests to `private_targets`: for a deployment whose PBX and
    /// provider are all on private networks, and for tests that must not reach the internet.
    pub public_targets: bool,
    /// How often Switchboard looks where Flowroute posts for the numbers whose callbacks it set,
    /// to report drift, in seconds (default 21,600: six hours; 0: never; otherwise at least 10).
    pub callback_check_interval_secs: u64,
    /// Refused sign-ins for one email within `sign_in_window_secs` before more are refused
    /// unchecked (`429`); 0 turns this limit off.
    pub sign_in_failures_per_account: u32,
    /// Refused sign-ins from one source (an address, or an IPv6 /64) within the window; 0 turns
    /// this limit off.
    pub sign_in_failures_per_address: u32,
    /// The window sign-in failures are counted in, in seconds (60 to 86,400).
    pub sign_in_window_secs: u64,
    /// How long a session lasts from signing in, in days (1 to 365).
    pub session_ttl_days: u64,
    /// Days finished (done or dead) jobs are kept, with their delivery attempts; 0: for ever.
    pub retention_finished_jobs_days: u64,
    /// Days events are kept (a stream resumes only within them); 0: for ever.
    pub retention_events_days: u64,
    /// Days answered send attempts are kept; 0: for ever.
    pub retention_send_attempts_days: u64,
    /// Days stored media bytes are kept (their rows stay, `expired`); 0: for ever.
    pub retention_media_days: u64,
    /// Days texts are kept, with their media; 0: for ever.
    pub retention_messages_days: u64,
    /// How often one instance puts back abandoned jobs and prunes, in seconds (0: never;
    /// otherwise 10 to 86,400).
    pub housekeeping_interval_secs: u64,
    /// How long one SIP MESSAGE to a PBX may wait for its final answer, in seconds (1 to 60).
    pub sip_timeout_secs: u64,
    /// The CA certificates (PEM) that SIP over TLS trusts; unset: the system's bundle
    /// (`/etc/ssl/certs/ca-certificates.crt`).
    pub sip_ca_file: Option<std::path::PathBuf>,
    /// The SMTP server texts nobody read are emailed through; unset: no email.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// `starttls` (the default; STARTTLS must succeed) or `tls` (TLS from the first byte).
    pub smtp_security: String,
    pub smtp_username: Option<String>,
    #[serde(skip_serializing)]
    pub smtp_password: Option<SecretString>,
    /// The CA certificates (PEM) the SMTP server's certificate is checked against; unset: the
    /// system's.
    pub smtp_ca_file: Option<std::path::PathBuf>,
    /// The address emails come from; needed with `smtp_host`.
    pub email_from: Option<String>,
    /// The domain of reply addresses (`reply+<token>@<domain>`); unset: `email_from`'s domain.
    pub email_reply_domain: Option<String>,
    /// The token `POST /email/inbound` requires (16 to 128 URL-safe characters); unset: email
    /// replies are off.
    #[serde(skip_serializing)]
    pub email_ingress_token: Option<SecretString>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_max_connections: 16,
            public_url: None,
            jwt_secret: None,
            master_key: None,
            workers: None,
            shutdown_timeout_secs: 30,
            shutdown_drain_secs: 0,
            log_format: LogFormat::Auto,
            log: "info".into(),
            webhook_retry_schedule_secs: RetryPolicy::default().schedule.iter().map(|d| d.as_secs()).collect(),
            webhook_retry_jitter: 0.2,
            webhook_timeout_secs: 15,
            flowroute_timeout_secs: 30,
            flowroute_unknown_outcome_wait_secs: 150,
            flowroute_retry_schedule_secs: EngineConfig::new("")
                .send_retry
                .schedule
                .iter()
                .map(|d| d.as_secs())
                .collect(),
            media_store: MediaStoreKind::Disk,
            media_dir: "./switchboard-media".into(),
            media_s3_bucket: None,
            media_s3_endpoint: None,
            media_s3_region: "us-east-1".into(),
            media_s3_access_key_id: None,
            media_s3_secret_access_key: None,
            media_allow_http: false,
            media_max_per_text: 10,
            media_quota_mb_per_tenant: 1024,
            flowroute_pacing: true,
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeaderName::XForwardedFor,
            metrics_token: None,
            shared_ingress_name: "flowroute".into(),
            shared_ingress_token: None,
            shared_ingress_sources: Vec::new(),
            stream_limit_per_extension: 25,
            stream_limit_per_tenant: 200,
            stream_idle_timeout_secs: 1800,
            ingress_failure_limit: 30,
            ingress_block_secs: 300,
            private_targets: Vec::new(),
            public_targets: true,
            callback_check_interval_secs: 21_600,
            sign_in_failures_per_account: 10,
            sign_in_failures_per_address: 50,
            sign_in_window_secs: 900,
            session_ttl_days: 14,
            retention_finished_jobs_days: 7,
            retention_events_days: 30,
            retention_send_attempts_days: 90,
            retention_media_days: 180,
            retention_messages_days: 0,
            housekeeping_interval_secs: 300,
            sip_timeout_secs: 10,
            sip_ca_file: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_security: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_ca_file: None,
            email_from: None,
            email_reply_domain: None,
            email_ingress_token: None,
        }
    }
}

/// Values given as command-line flags; they override every other layer.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads the layers. `env` is the process environment, passed in so tests control it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &FlagOverrides,
    ) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("SWITCHBOARD_").map(|rest| (rest.to_ascii_lowercase(), v)))
            .filter(|(k, _)| !NOT_CONFIGURATION.contains(&k.as_str()))
            .collect();
        for (key, value) in vars {
            fig = fig.merge(Serialized::default(&key, value_for(&key, value)));
        }
        fig = fig.merge(Serialized::defaults(flags));
        let config: Config = fig.extract().map_err(|e| ConfigError::Invalid(describe(e)))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database_url (SWITCHBOARD_DATABASE_URL) must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        if let Some(url) = &self.public_url {
            switchboard_core::validation::web_url(url, true)
                .map_err(|e| ConfigError::Invalid(format!("public_url (SWITCHBOARD_PUBLIC_URL) {e}")))?;
        }
        if self.webhook_retry_schedule_secs.is_empty()
            || self.webhook_retry_schedule_secs.iter().any(|s| *s > 7 * 86_400)
        {
            return Err(ConfigError::Invalid(
                "webhook_retry_schedule_secs (SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE_SECS) must list 1 or more waits of at most 7 days"
                    .into(),
            ));
        }
        if self.flowroute_retry_schedule_secs.is_empty()
            || self.flowroute_retry_schedule_secs.iter().any(|s| *s > 7 * 86_400)
        {
            return Err(ConfigError::Invalid(
                "flowroute_retry_schedule_secs (SWITCHBOARD_FLOWROUTE_RETRY_SCHEDULE_SECS) must list 1 or more waits of at most 7 days"
                    .into(),
            ));
        }
        if !(1..=120).contains(&self.flowroute_timeout_secs) {
            return Err(ConfigError::Invalid(
                "flowroute_timeout_secs (SWITCHBOARD_FLOWROUTE_TIMEOUT_SECS) must be between 1 and 120".into(),
            ));
        }
        if !(1..=120).contains(&self.webhook_timeout_secs) {
            return Err(ConfigError::Invalid(
                "webhook_timeout_secs (SWITCHBOARD_WEBHOOK_TIMEOUT_SECS) must be between 1 and 120".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.webhook_retry_jitter) {
            return Err(ConfigError::Invalid(
                "webhook_retry_jitter (SWITCHBOARD_WEBHOOK_RETRY_JITTER) must be between 0 and 1".into(),
            ));
        }
        if !(1..=1000).contains(&self.database_max_connections) {
            return Err(ConfigError::Invalid(
                "database_max_connections (SWITCHBOARD_DATABASE_MAX_CONNECTIONS) must be between 1 and 1000".into(),
            ));
        }
        if let Err(e) = self.private_target_nets() {
            return Err(ConfigError::Invalid(format!("private_targets (SWITCHBOARD_PRIVATE_TARGETS): {e}")));
        }
        if let Err(e) = self.trusted_proxy_nets() {
            return Err(ConfigError::Invalid(format!("trusted_proxies (SWITCHBOARD_TRUSTED_PROXIES): {e}")));
        }
        if self.trust_forwarded_for {
            return Err(ConfigError::Invalid(
                "trust_forwarded_for (SWITCHBOARD_TRUST_FORWARDED_FOR) is replaced by trusted_proxies: list the \
                 networks of the proxies in front of Switchboard (it believed any caller's header)"
                    .into(),
            ));
        }
        if let Some(token) = &self.metrics_token
            && token.expose_secret().len() < 16
        {
            return Err(ConfigError::Invalid(
                "metrics_token (SWITCHBOARD_METRICS_TOKEN) must be at least 16 characters".into(),
            ));
        }
        if let Err(e) = switchboard_core::names::normalize_prefix(&self.shared_ingress_name) {
            return Err(ConfigError::Invalid(format!("shared_ingress_name (SWITCHBOARD_SHARED_INGRESS_NAME) {e}")));
        }
        if let Some(token) = &self.shared_ingress_token
            && let Err(e) = switchboard_core::sources::check_token(token.expose_secret())
        {
            return Err(ConfigError::Invalid(format!("shared_ingress_token (SWITCHBOARD_SHARED_INGRESS_TOKEN) {e}")));
        }
        if let Err(e) = networks(&self.shared_ingress_sources) {
            return Err(ConfigError::Invalid(format!(
                "shared_ingress_sources (SWITCHBOARD_SHARED_INGRESS_SOURCES): {e}"
            )));
        }
        if (1..10).contains(&self.callback_check_interval_secs) {
            return Err(ConfigError::Invalid(
                "callback_check_interval_secs (SWITCHBOARD_CALLBACK_CHECK_INTERVAL_SECS) must be 0 (never) or at least 10"
                    .into(),
            ));
        }
        if self.flowroute_unknown_outcome_wait_secs > 3600 {
            return Err(ConfigError::Invalid(
                "flowroute_unknown_outcome_wait_secs (SWITCHBOARD_FLOWROUTE_UNKNOWN_OUTCOME_WAIT_SECS) must be at most 3600"
                    .into(),
            ));
        }
        if !(60..=86_400).contains(&self.sign_in_window_secs) {
            return Err(ConfigError::Invalid(
                "sign_in_window_secs (SWITCHBOARD_SIGN_IN_WINDOW_SECS) must be between 60 and 86400".into(),
            ));
        }
        self.check_media_store()?;
        if self.housekeeping_interval_secs != 0 && !(10..=86_400).contains(&self.housekeeping_interval_secs) {
            return Err(ConfigError::Invalid(
                "housekeeping_interval_secs (SWITCHBOARD_HOUSEKEEPING_INTERVAL_SECS) must be 0 (never) or between 10 and 86400"
                    .into(),
            ));
        }
        if !(1..=60).contains(&self.sip_timeout_secs) {
            return Err(ConfigError::Invalid(
                "sip_timeout_secs (SWITCHBOARD_SIP_TIMEOUT_SECS) must be between 1 and 60".into(),
            ));
        }
        if let Some(path) = &self.sip_ca_file
            && !path.is_file()
        {
            return Err(ConfigError::Invalid(format!(
                "sip_ca_file (SWITCHBOARD_SIP_CA_FILE) {} is not a readable file",
                path.display()
            )));
        }
        self.check_email()?;
        for (key, days) in [
            ("retention_finished_jobs_days", self.retention_finished_jobs_days),
            ("retention_events_days", self.retention_events_days),
            ("retention_send_attempts_days", self.retention_send_attempts_days),
            ("retention_media_days", self.retention_media_days),
            ("retention_messages_days", self.retention_messages_days),
        ] {
            if days > 36_500 {
                return Err(ConfigError::Invalid(format!(
                    "{key} (SWITCHBOARD_{}) must be 0 (for ever) or at most 36500",
                    key.to_uppercase()
                )));
            }
        }
        if !(1..=365).contains(&self.session_ttl_days) {
            return Err(ConfigError::Invalid(
                "session_ttl_days (SWITCHBOARD_SESSION_TTL_DAYS) must be between 1 and 365".into(),
            ));
        }
        if !(1..=86_400).contains(&self.ingress_block_secs) {
            return Err(ConfigError::Invalid(
                "ingress_block_secs (SWITCHBOARD_INGRESS_BLOCK_SECS) must be between 1 and 86400".into(),
            ));
        }
        if !(1..=1000).contains(&self.stream_limit_per_extension) {
            return Err(ConfigError::Invalid(
                "stream_limit_per_extension (SWITCHBOARD_STREAM_LIMIT_PER_EXTENSION) must be between 1 and 1000".into(),
            ));
        }
        if !(1..=100_000).contains(&self.stream_limit_per_tenant) {
            return Err(ConfigError::Invalid(
                "stream_limit_per_tenant (SWITCHBOARD_STREAM_LIMIT_PER_TENANT) must be between 1 and 100000".into(),
            ));
        }
        if !(60..=86_400).contains(&self.stream_idle_timeout_secs) {
            return Err(ConfigError::Invalid(
                "stream_idle_timeout_secs (SWITCHBOARD_STREAM_IDLE_TIMEOUT_SECS) must be between 60 and 86400".into(),
            ));
        }
        if !(1..=100).contains(&self.media_max_per_text) {
            return Err(ConfigError::Invalid(
                "media_max_per_text (SWITCHBOARD_MEDIA_MAX_PER_TEXT) must be between 1 and 100".into(),
            ));
        }
        if !(1..=10_000_000).contains(&self.media_quota_mb_per_tenant) {
            return Err(ConfigError::Invalid(
                "media_quota_mb_per_tenant (SWITCHBOARD_MEDIA_QUOTA_MB_PER_TENANT) must be between 1 and 10000000"
                    .into(),
            ));
        }
        if self.workers == Some(0) {
            return Err(ConfigError::Invalid("workers (SWITCHBOARD_WORKERS) must be at least 1".into()));
        }
        Ok(())
    }

    /// `private_targets` as networks.
    pub fn private_target_nets(&self) -> Result<Vec<ipnet::IpNet>, String> {
        networks(&self.private_targets)
    }

    /// The shared ingress, when a token or sources turn it on.
    pub fn shared_ingress(&self) -> Option<switchboard_engine::SharedIngress> {
        let sources = networks(&self.shared_ingress_sources).unwrap_or_default();
        if self.shared_ingress_token.is_none() && sources.is_empty() {
            return None;
        }
        Some(switchboard_engine::SharedIngress {
            name: self.shared_ingress_name.to_ascii_lowercase(),
            token: self.shared_ingress_token.clone(),
            allowed_sources: (!sources.is_empty()).then_some(sources),
        })
    }

    /// `trusted_proxies` as networks.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, String> {
        networks(&self.trusted_proxies)
    }

    /// The retry policy of sends Flowroute refused for now.
    pub fn send_retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            schedule: self.flowroute_retry_schedule_secs.iter().map(|s| std::time::Duration::from_secs(*s)).collect(),
            ..EngineConfig::new("").send_retry
        }
    }

    /// The PBX delivery retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            schedule: self.webhook_retry_schedule_secs.iter().map(|s| std::time::Duration::from_secs(*s)).collect(),
            jitter: self.webhook_retry_jitter,
            ..RetryPolicy::default()
        }
    }

    fn check_media_store(&self) -> Result<(), ConfigError> {
        if self.media_store != MediaStoreKind::S3 {
            return Ok(());
        }
        if self.media_s3_bucket.as_deref().is_none_or(|b| b.trim().is_empty()) {
            return Err(ConfigError::Invalid(
                "media_s3_bucket (SWITCHBOARD_MEDIA_S3_BUCKET) must name the bucket when media_store is s3".into(),
            ));
        }
        if let Some(endpoint) = &self.media_s3_endpoint
            && !reqwest::Url::parse(endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        {
            return Err(ConfigError::Invalid(format!(
                "media_s3_endpoint (SWITCHBOARD_MEDIA_S3_ENDPOINT) '{endpoint}' is not an http(s) URL"
            )));
        }
        if self.media_s3_access_key_id.is_some() != self.media_s3_secret_access_key.is_some() {
            return Err(ConfigError::Invalid(
                "media_s3_access_key_id and media_s3_secret_access_key go together: set both, or neither to use the environment's credentials"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Where media are kept, as the engine takes it.
    fn media_store(&self) -> switchboard_engine::MediaStore {
        match self.media_store {
            MediaStoreKind::Disk => switchboard_engine::MediaStore::Disk(self.media_dir.clone()),
            MediaStoreKind::Database => switchboard_engine::MediaStore::Database,
            MediaStoreKind::S3 => switchboard_engine::MediaStore::S3(switchboard_engine::S3Settings {
                bucket: self.media_s3_bucket.clone().unwrap_or_default(),
                endpoint: self.media_s3_endpoint.clone(),
                region: self.media_s3_region.clone(),
                access_key_id: self.media_s3_access_key_id.clone(),
                secret_access_key: self.media_s3_secret_access_key.clone(),
                allow_http: self.media_s3_endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
            }),
        }
    }

    /// The store's settings: the one place they are derived from the configuration.
    pub fn store_settings(&self, master_key: SecretBox<[u8; MASTER_KEY_LEN]>) -> StoreSettings {
        StoreSettings {
            database_url: self.database_url.clone(),
            max_connections: self.database_max_connections,
            master_key,
        }
    }

    /// Checks the email settings: all or nothing, an address to send from, a file of CAs.
    fn check_email(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !matches!(self.smtp_security.as_str(), "starttls" | "tls") {
            return invalid("smtp_security (SWITCHBOARD_SMTP_SECURITY) must be starttls or tls".into());
        }
        if let Some(from) = &self.email_from
            && switchboard_core::identity::normalize_email(from).is_none()
        {
            return invalid(format!("email_from (SWITCHBOARD_EMAIL_FROM) '{from}' is not an email address"));
        }
        if self.smtp_host.is_some() != self.email_from.is_some() {
            return invalid(
                "smtp_host (SWITCHBOARD_SMTP_HOST) and email_from (SWITCHBOARD_EMAIL_FROM) go together: set both, or neither"
                    .into(),
            );
        }
        if let Some(domain) = &self.email_reply_domain
            && let Err(e) = switchboard_core::sip::check_domain(domain)
        {
            return invalid(format!("email_reply_domain (SWITCHBOARD_EMAIL_REPLY_DOMAIN) {e}"));
        }
        if let Some(token) = &self.email_ingress_token
            && let Err(e) = switchboard_core::sources::check_token(token.expose_secret())
        {
            return invalid(format!("email_ingress_token (SWITCHBOARD_EMAIL_INGRESS_TOKEN) {e}"));
        }
        if let Some(path) = &self.smtp_ca_file
            && !path.is_file()
        {
            return invalid(format!(
                "smtp_ca_file (SWITCHBOARD_SMTP_CA_FILE) {} is not a readable file",
                path.display()
            ));
        }
        Ok(())
    }

    /// The outgoing mail's settings, when `smtp_host` and `email_from` are set.
    fn email(&self) -> Option<switchboard_engine::email::EmailSettings> {
        use switchboard_engine::email::{EmailSettings, SmtpSecurity};
        let (host, from) = (self.smtp_host.clone()?, self.email_from.clone()?);
        let reply_domain = self
            .email_reply_domain
            .clone()
            .or_else(|| from.rsplit_once('@').map(|(_, d)| d.to_owned()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        Some(EmailSettings {
            host,
            port: self.smtp_port,
            security: if self.smtp_security == "tls" { SmtpSecurity::Tls } else { SmtpSecurity::StartTls },
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            ca_file: self.smtp_ca_file.clone(),
            from,
            reply_domain,
            timeout: std::time::Duration::from_secs(30),
            ingress_token: self.email_ingress_token.clone(),
        })
    }

    /// The engine's settings (the workers, the ingress, media): the one place they are derived
    /// from the configuration. What has no key keeps the engine's default.
    pub fn engine_config(&self) -> EngineConfig {
        let secs = std::time::Duration::from_secs;
        let days = |d: u64| (d > 0).then(|| secs(d * 86_400));
        EngineConfig {
            retry: self.retry_policy(),
            webhook_timeout: secs(self.webhook_timeout_secs),
            send_retry: self.send_retry_policy(),
            send_timeout: secs(self.flowroute_timeout_secs),
            unknown_outcome_wait: secs(self.flowroute_unknown_outcome_wait_secs),
            pace_provider: self.flowroute_pacing,
            media_store: self.media_store(),
            media_allow_http: self.media_allow_http,
            media_max_per_text: self.media_max_per_text as usize,
            media_quota_bytes: self.media_quota_mb_per_tenant.saturating_mul(1024 * 1024),
            ingress_failure_limit: self.ingress_failure_limit,
            ingress_block: secs(self.ingress_block_secs),
            // Validated when the configuration was loaded.
            private_targets: self.private_target_nets().unwrap_or_default(),
            public_targets: self.public_targets,
            callback_check_interval: secs(self.callback_check_interval_secs),
            shared_ingress: self.shared_ingress(),
            retention: switchboard_engine::housekeeping::Retention {
                finished_jobs: days(self.retention_finished_jobs_days),
                events: days(self.retention_events_days),
                send_attempts: days(self.retention_send_attempts_days),
                media: days(self.retention_media_days),
                messages: days(self.retention_messages_days),
            },
            housekeeping_interval: secs(self.housekeeping_interval_secs),
            stop_deadline: secs(self.shutdown_timeout_secs),
            sip_timeout: secs(self.sip_timeout_secs),
            email: self.email(),
            sip_ca_file: self.sip_ca_file.clone().or_else(|| EngineConfig::new(self.public_url()).sip_ca_file),
            ..EngineConfig::new(self.public_url())
        }
    }

    /// The HTTP layer's settings: the one place they are derived from the configuration.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            public_url: self.public_url(),
            workers: self.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_secs),
            shutdown_drain: std::time::Duration::from_secs(self.shutdown_drain_secs),
            clients: ClientAddresses {
                // Validated when the configuration was loaded.
                trusted_proxies: self.trusted_proxy_nets().unwrap_or_default(),
                header: self.forwarded_header.into(),
            },
            metrics_token: self.metrics_token.clone(),
            streams_per_extension: self.stream_limit_per_extension as usize,
            streams_per_tenant: self.stream_limit_per_tenant as usize,
            stream_idle_timeout: std::time::Duration::from_secs(self.stream_idle_timeout_secs),
            stream_heartbeat: std::time::Duration::from_secs(15),
            sign_in: switchboard_store::accounts::Throttle {
                per_account: self.sign_in_failures_per_account,
                per_address: self.sign_in_failures_per_address,
                window: std::time::Duration::from_secs(self.sign_in_window_secs),
                session_ttl: std::time::Duration::from_secs(self.session_ttl_days * 86_400),
            },
        }
    }

    /// The public URL, defaulting to the listen address.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// The SQLite file this configuration uses, if it uses a file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or("");
        if path.is_empty() || path == ":memory:" { None } else { Some(PathBuf::from(path)) }
    }
}

/// Networks written as CIDR blocks (a lone address is a block of one).
fn networks(list: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("'{s}' is not a network such as 10.20.0.0/16"))
        })
        .collect()
}

/// Environment values arrive as text; numbers are parsed so `SWITCHBOARD_WORKERS=4` reads as 4.
fn value_for(key: &str, value: String) -> figment::value::Value {
    use figment::value::{Tag, Value};
    if (key == "workers"
        || key == "database_max_connections"
        || key == "shutdown_timeout_secs"
        || key == "shutdown_drain_secs"
        || key == "webhook_timeout_secs"
        || key == "flowroute_timeout_secs"
        || key == "flowroute_unknown_outcome_wait_secs"
        || key == "callback_check_interval_secs"
        || key == "ingress_failure_limit"
        || key == "ingress_block_secs"
        || key == "sign_in_failures_per_account"
        || key == "sign_in_failures_per_address"
        || key == "sign_in_window_secs"
        || key == "session_ttl_days"
        || key == "retention_finished_jobs_days"
        || key == "retention_events_days"
        || key == "retention_send_attempts_days"
        || key == "retention_media_days"
        || key == "retention_messages_days"
        || key == "housekeeping_interval_secs"
        || key == "sip_timeout_secs"
        || key == "smtp_port"
        || key == "stream_limit_per_extension"
        || key == "stream_limit_per_tenant"
        || key == "stream_idle_timeout_secs"
        || key == "media_max_per_text"
        || key == "media_quota_mb_per_tenant")
        && let Ok(n) = value.parse::<u64>()
    {
        return Value::from(n);
    }
    if key == "webhook_retry_jitter"
        && let Ok(f) = value.parse::<f64>()
    {
        return Value::from(f);
    }
    if (key == "media_allow_http"
        || key == "trust_forwarded_for"
        || key == "flowroute_pacing"
        || key == "public_targets")
        && let Ok(b) = value.parse::<bool>()
    {
        return Value::from(b);
    }
    if key == "private_targets" || key == "trusted_proxies" || key == "shared_ingress_sources" {
        // A comma-separated list: `10.20.0.0/16,192.168.1.0/24`; empty for none.
        let items: Vec<String> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        return Value::from(items);
    }
    if key == "webhook_retry_schedule_secs" || key == "flowroute_retry_schedule_secs" {
        // A comma-separated list: `5,300,1800`.
        let items: Result<Vec<u64>, _> = value.split(',').map(|s| s.trim().parse::<u64>()).collect();
        if let Ok(items) = items {
            return Value::from(items);
        }
    }
    Value::String(Tag::Default, value)
}

/// A figment error as one line that names the key and where it came from, never the value of a secret.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let key = if key.is_empty() { "(top level)".to_owned() } else { key };
            let env = format!("SWITCHBOARD_{}", key.to_ascii_uppercase());
            let kind = match &e.kind {
                figment::error::Kind::UnknownField(f, _) => {
                    format!("unknown key '{f}' (environment variable SWITCHBOARD_{})", f.to_ascii_uppercase())
                }
                other => format!("key '{key}' ({env}): {other}"),
            };
            let source = e.metadata.as_ref().map(|m| format!(" [from {}]", m.name)).unwrap_or_default();
            format!("{kind}{source}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `SWITCHBOARD_*` variables read by commands, not configuration keys: the file to load, the
/// password `switchboard user create` takes, and the binary the peers' benchmark harness runs
/// (`../shared/peers/switchboard/run.sh` documents `SWITCHBOARD_BIN` and passes every
/// `SWITCHBOARD_*` variable through to the server, which refused it as an unknown key).
const NOT_CONFIGURATION: &[&str] = &["config", "user_password", "bin"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_accounts_password_is_not_taken_for_a_configuration_key() {
        let e = env(&[("SWITCHBOARD_USER_PASSWORD", "a long passphrase"), ("SWITCHBOARD_CONFIG", "/nowhere")]);
        assert!(Config::load(None, e, &FlagOverrides::default()).is_ok());
    }

    #[test]
    fn the_benchmark_harness_binary_is_not_taken_for_a_configuration_key() {
        let e = env(&[("SWITCHBOARD_BIN", "/opt/sb/switchboard")]);
        assert!(Config::load(None, e, &FlagOverrides::default()).is_ok());
        // Only that name: a near miss is still refused.
        assert!(error_of(None, &[("SWITCHBOARD_BINS", "x")]).contains("SWITCHBOARD_BINS"));
    }

    #[test]
    fn an_s3_media_store_needs_a_bucket_a_url_and_both_keys_or_none() {
        let s3 = ("SWITCHBOARD_MEDIA_STORE", "s3");
        assert!(error_of(None, &[s3]).contains("media_s3_bucket (SWITCHBOARD_MEDIA_S3_BUCKET) must name the bucket"));
        let bucket = ("SWITCHBOARD_MEDIA_S3_BUCKET", "texts");
        let bad = ("SWITCHBOARD_MEDIA_S3_ENDPOINT", "minio:9000");
        assert!(error_of(None, &[s3, bucket, bad]).contains("'minio:9000' is not an http(s) URL"));
        let half = ("SWITCHBOARD_MEDIA_S3_ACCESS_KEY_ID", "AKIA0");
        assert!(error_of(None, &[s3, bucket, half]).contains("go together"));
        let secret = ("SWITCHBOARD_MEDIA_S3_SECRET_ACCESS_KEY", "do-not-show-this");
        let c = Config::load(None, env(&[s3, bucket, half, secret]), &FlagOverrides::default()).unwrap();
        assert!(!format!("{c:?}").contains("do-not-show-this"), "the secret never shows");
        let unknown = ("SWITCHBOARD_MEDIA_STORE", "nfs");
        assert!(error_of(None, &[unknown]).contains("media_store"), "{}", error_of(None, &[unknown]));
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn error_of(file: Option<&Path>, pairs: &[(&str, &str)]) -> String {
        Config::load(file, env(pairs), &FlagOverrides::default()).unwrap_err().to_string()
    }

    /// The keys documented in docs/configuration.md's table of keys, with their default cells.
    fn documented() -> Vec<(String, String)> {
        include_str!("../../../docs/configuration.md")
            .lines()
            .skip_while(|line| !line.starts_with("| key | type | default | meaning |"))
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((key.to_owned(), (*cells.get(3)?).to_owned()))
            })
            .collect()
    }

    /// A default as the documentation writes it: in backticks, lists as `[a, b]`.
    fn written(value: &serde_json::Value) -> Option<String> {
        let plain = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match value {
            // Computed when absent (the number of CPUs, `http://<listen>`): the text says how.
            serde_json::Value::Null => None,
            serde_json::Value::Array(items) => {
                Some(format!("`[{}]`", items.iter().map(plain).collect::<Vec<_>>().join(", ")))
            }
            other => Some(format!("`{}`", plain(other))),
        }
    }

    #[test]
    fn every_key_is_documented_with_its_default() {
        let docs = documented();
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let serde_json::Value::Object(defaults) = defaults else { panic!("the defaults are not a map") };
        // Secrets and the retired key are not serialized; their rows have no default to compare.
        let unserialized = [
            "jwt_secret",
            "master_key",
            "media_s3_secret_access_key",
            "metrics_token",
            "shared_ingress_token",
            "smtp_password",
            "email_ingress_token",
            "trust_forwarded_for",
        ];
        let mut keys: Vec<&str> = defaults.keys().map(String::as_str).chain(unserialized).collect();
        keys.sort_unstable();
        let mut documented_keys: Vec<&str> = docs.iter().map(|(k, _)| k.as_str()).collect();
        documented_keys.sort_unstable();
        assert_eq!(documented_keys, keys, "docs/configuration.md lists exactly the configuration keys");
        for (key, cell) in &docs {
            let Some(expected) = defaults.get(key).and_then(written) else { continue };
            assert_eq!(cell, &expected, "docs/configuration.md gives `{key}` a default that is not its own");
        }
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = Config::load(None, env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
        assert_eq!(c.sqlite_path(), Some(PathBuf::from("./switchboard.db")));
        assert!(c.jwt_secret.is_none() && c.master_key.is_none());
    }

    #[test]
    fn flags_beat_env_which_beats_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sb.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1000\"\npublic_url = \"https://file.example/\"\nworkers = 2\n")
            .unwrap();
        let e = env(&[("SWITCHBOARD_LISTEN", "127.0.0.1:2000"), ("SWITCHBOARD_WORKERS", "3"), ("HOME", "/root")]);
        let flags = FlagOverrides { listen: Some("127.0.0.1:3000".into()), ..Default::default() };
        let c = Config::load(Some(&file), e, &flags).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.workers, Some(3));
        assert_eq!(c.public_url(), "https://file.example");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = error_of(None, &[("SWITCHBOARD_LISTN", "x")]);
        assert!(err.contains("SWITCHBOARD_LISTN"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sb.toml");
        std::fs::write(&file, "databse_url = \"sqlite::memory:\"\n").unwrap();
        let err = error_of(Some(&file), &[]);
        assert!(err.contains("databse_url"), "{err}");
        let err = error_of(Some(&dir.path().join("missing.toml")), &[]);
        assert!(err.contains("missing.toml"), "{err}");
    }

    #[test]
    fn malformed_values_name_their_key() {
        let cases = [
            ("SWITCHBOARD_LISTEN", "not-an-address", "listen"),
            ("SWITCHBOARD_WORKERS", "many", "workers"),
            ("SWITCHBOARD_WORKERS", "0", "workers"),
            ("SWITCHBOARD_LOG_FORMAT", "xml", "log_format"),
            ("SWITCHBOARD_DATABASE_URL", "mysql://x", "database_url"),
            ("SWITCHBOARD_PUBLIC_URL", "not a url", "public_url"),
            ("SWITCHBOARD_FLOWROUTE_RETRY_SCHEDULE_SECS", "1,x", "flowroute_retry_schedule_secs"),
            ("SWITCHBOARD_FLOWROUTE_RETRY_SCHEDULE_SECS", "999999999", "flowroute_retry_schedule_secs"),
            ("SWITCHBOARD_PRIVATE_TARGETS", "10.0.0.0/8,lan", "private_targets"),
            ("SWITCHBOARD_TRUSTED_PROXIES", "10.0.0.0/33", "trusted_proxies"),
            ("SWITCHBOARD_TRUST_FORWARDED_FOR", "true", "trusted_proxies"),
            ("SWITCHBOARD_FORWARDED_HEADER", "x-real-ip", "forwarded_header"),
            ("SWITCHBOARD_METRICS_TOKEN", "short", "metrics_token"),
            ("SWITCHBOARD_STREAM_LIMIT_PER_EXTENSION", "0", "stream_limit_per_extension"),
            ("SWITCHBOARD_STREAM_IDLE_TIMEOUT_SECS", "5", "stream_idle_timeout_secs"),
            ("SWITCHBOARD_MEDIA_MAX_PER_TEXT", "0", "media_max_per_text"),
            ("SWITCHBOARD_MEDIA_QUOTA_MB_PER_TENANT", "none", "media_quota_mb_per_tenant"),
        ];
        for (k, v, key) in cases {
            let err = error_of(None, &[(k, v)]);
            assert!(err.contains(key), "{k}={v}: {err}");
        }
    }

    #[test]
    fn retry_schedules_are_comma_separated_seconds() {
        let e = env(&[
            ("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE_SECS", "1, 2,3"),
            ("SWITCHBOARD_FLOWROUTE_RETRY_SCHEDULE_SECS", "4,5"),
        ]);
        let c = Config::load(None, e, &FlagOverrides::default()).unwrap();
        let secs = |p: RetryPolicy| p.schedule.iter().map(|d| d.as_secs()).collect::<Vec<_>>();
        assert_eq!(secs(c.retry_policy()), vec![1, 2, 3]);
        assert_eq!(secs(c.send_retry_policy()), vec![4, 5]);
        let e = env(&[("SWITCHBOARD_PRIVATE_TARGETS", "10.20.0.0/16, 127.0.0.0/8")]);
        let c = Config::load(None, e, &FlagOverrides::default()).unwrap();
        assert_eq!(c.private_target_nets().unwrap().len(), 2);
        let c = Config::load(None, env(&[("SWITCHBOARD_PRIVATE_TARGETS", "")]), &FlagOverrides::default()).unwrap();
        assert!(c.private_target_nets().unwrap().is_empty());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let secret = "super-secret-jwt-value-0123456789abcdef";
        let c = Config::load(None, env(&[("SWITCHBOARD_JWT_SECRET", secret)]), &FlagOverrides::default()).unwrap();
        assert!(!format!("{c:?}").contains("super-secret"), "{c:?}");
        assert_eq!(c.jwt_secret.unwrap().expose_secret(), secret);
    }
}
