//! Connecting a tenant's Flowroute account: its keys are tried with the cheapest read-only call
//! (one number of the account), through the same guarded client as every request Switchboard
//! makes, within [`CHECK_TIME`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use switchboard_core::event::{CallbacksDrifted, DriftedCallback, EventBody};
use switchboard_core::status::ConnectionStatus;
use switchboard_flowroute::{Account, ApiError, CallbackKind, Credentials};
use switchboard_store::numbers::{CallbackTarget, CallbacksState};
use switchboard_store::providers::{ConnectionCheck, ProviderAccess};
use tokio::sync::watch;
use uuid::Uuid;

use crate::Engine;

/// What the account API answers with, for the HTTP layer.
pub use switchboard_flowroute::{ApiError as ProviderError, NUMBERS_PAGE, Provisioning};

/// The longest a check of a provider's keys waits for Flowroute.
pub const CHECK_TIME: Duration = Duration::from_secs(10);

/// The credentials of a provider, for its API.
pub fn credentials(access: &ProviderAccess) -> Credentials {
    credentials_of(&access.access_key, access.secret_key.clone())
}

/// Credentials from an access key and a secret given in a request.
pub fn credentials_of(access_key: &str, secret_key: SecretString) -> Credentials {
    Credentials { access_key: access_key.to_owned(), secret_key }
}

impl Engine {
    /// The account API of the provider at `endpoint`; an address written into it that requests
    /// may not go to is [`ApiError::Unreachable`] (names are checked as they are resolved).
    pub fn account<'a>(&'a self, endpoint: &str, creds: &'a Credentials) -> Result<Account<'a>, ApiError> {
        crate::net::check_literal(endpoint, &self.targets).map_err(ApiError::Unreachable)?;
        Ok(self.flowroute.account(endpoint, creds))
    }

    /// Whether `creds` work at `endpoint`: `ok`, `bad_credentials` (Flowroute answered `401` or
    /// `403`), or `unreachable` (anything else, with what happened in words).
    pub async fn check_connection(&self, endpoint: &str, creds: &Credentials) -> ConnectionCheck {
        let found = |status, detail: Option<String>| ConnectionCheck { status, detail, checked_at: chrono::Utc::now() };
        let account = match self.account(endpoint, creds) {
            Ok(a) => a,
            Err(e) => return found(ConnectionStatus::Unreachable, Some(e.to_string())),
        };
        match tokio::time::timeout(CHECK_TIME, account.check()).await {
            Ok(Ok(())) => found(ConnectionStatus::Ok, None),
            Ok(Err(ApiError::Unauthorized(detail))) => {
                found(ConnectionStatus::BadCredentials, Some(format!("Flowroute refused the keys: {detail}")))
            }
            Ok(Err(e)) => found(ConnectionStatus::Unreachable, Some(e.to_string())),
            Err(_) => {
                found(ConnectionStatus::Unreachable, Some(format!("no answer within {} s", CHECK_TIME.as_secs())))
            }
        }
    }
}

/// Why a number could not be shown to be one of a provider account's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHeld {
    /// Flowroute says the account does not hold it.
    Missing,
    /// Flowroute refused the provider's keys.
    BadCredentials(String),
    /// Flowroute could not be asked.
    Unreachable(String),
}

impl Engine {
    /// Whether the account at `endpoint` holds the number with these 11 `digits`.
    pub async fn provider_holds(&self, endpoint: &str, creds: &Credentials, digits: &str) -> Result<(), NotHeld> {
        let account = self.account(endpoint, creds).map_err(|e| NotHeld::Unreachable(e.to_string()))?;
        match tokio::time::timeout(CHECK_TIME, account.number(digits)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(ApiError::NotFound(_))) => Err(NotHeld::Missing),
            Ok(Err(ApiError::Unauthorized(detail))) => Err(NotHeld::BadCredentials(detail)),
            Ok(Err(e)) => Err(NotHeld::Unreachable(e.to_string())),
            Err(_) => Err(NotHeld::Unreachable(format!("no answer within {} s", CHECK_TIME.as_secs()))),
        }
    }
}

/// Why pointing Flowroute at Switchboard (or looking where it points) stopped.
#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Pointing numbers at the shared ingress, which is off.
    #[error("the shared ingress is off (the operator sets shared_ingress_token or shared_ingress_sources)")]
    SharedIngressOff,
}

/// Where `callbacks:apply` points a provider's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destination {
    /// Each number's prefix URL.
    #[default]
    Prefix,
    /// The operator's shared ingress.
    Shared,
}

/// What Switchboard did with, or found of, one number's callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberCallbacks {
    pub e164: String,
    pub state: CallbacksState,
    pub detail: Option<String>,
    /// Whether Switchboard changed any of them in this run.
    pub changed: bool,
}

/// A URL as it may be shown: without its query and fragment, where a token may be.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            if had_query { format!("{u}?…") } else { u.to_string() }
        }
        Err(_) => "a URL that does not parse".into(),
    }
}

/// The URL Flowroute posts to for `prefix` (with its token, if it has one).
pub fn prefix_url(public_url: &str, prefix: &str, token: Option<&str>) -> String {
    let base = format!("{}/{prefix}", public_url.trim_end_matches('/'));
    match token {
        Some(t) => format!("{base}?token={t}"),
        None => base,
    }
}

/// How long an enable of messaging is waited for before its answer says "processing".
const PROVISION_WAIT: Duration = Duration::from_secs(10);

impl Engine {
    /// Points Flowroute at Switchboard for every number of the tenant on `provider`: each number's
    /// four callbacks (SMS, MMS and both receipts) to its prefix's URL, and the account's too when
    /// all those numbers share one URL (so that which of the two Flowroute prefers does not
    /// matter). Only callbacks that differ are set, so a second run changes nothing; each is read
    /// back, and each number's state recorded.
    pub async fn apply_callbacks(
        &self,
        tenant: Uuid,
        provider: Uuid,
        target: Destination,
    ) -> Result<Vec<NumberCallbacks>, OnboardError> {
        self.callbacks(tenant, provider, Some(target)).await
    }

    /// The shared ingress's URL (with its token), if it is on.
    pub fn shared_ingress_url(&self) -> Option<String> {
        let shared = self.config.shared_ingress.as_ref()?;
        let base = format!("{}/ingress", self.config.public_url.trim_end_matches('/'));
        Some(prefix_url(&base, &shared.name, shared.token.as_ref().map(ExposeSecret::expose_secret)))
    }

    /// Looks where Flowroute posts for each number of the tenant on `provider`, records it, and
    /// tells the tenant (`callbacks.drifted`) of each number that has just drifted.
    pub async fn check_callbacks(&self, tenant: Uuid, provider: Uuid) -> Result<Vec<NumberCallbacks>, OnboardError> {
        self.callbacks(tenant, provider, None).await
    }

    async fn callbacks(
        &self,
        tenant: Uuid,
        provider: Uuid,
        apply: Option<Destination>,
    ) -> Result<Vec<NumberCallbacks>, OnboardError> {
        let shared_url = self.shared_ingress_url();
        if apply == Some(Destination::Shared) && shared_url.is_none() {
            return Err(OnboardError::SharedIngressOff);
        }
        let access = self.store.provider_access(tenant, provider).await?;
        let creds = credentials(&access);
        let account = self.account(&access.endpoint, &creds)?;
        let targets = self.store.callback_targets(tenant, provider).await?;
        let public = &self.config.public_url;
        // Each number's own URL (its prefix's), and the one to set: that, or the shared ingress.
        let own: Vec<String> = targets
            .iter()
            .map(|t| prefix_url(public, &t.prefix, t.token.as_ref().map(ExposeSecret::expose_secret)))
            .collect();
        let expected: Vec<String> = match (&apply, &shared_url) {
            (Some(Destination::Shared), Some(shared)) => vec![shared.clone(); own.len()],
            _ => own.clone(),
        };
        let apply = apply.is_some();
        let mut at_account = BTreeMap::new();
        for kind in CallbackKind::ALL {
            if let Some(url) = account.account_callback(kind).await? {
                at_account.insert(kind, url);
            }
        }
        let shared: BTreeSet<&String> = expected.iter().collect();
        if apply && let [one] = shared.into_iter().collect::<Vec<_>>().as_slice() {
            for kind in CallbackKind::ALL {
                if at_account.get(&kind) != Some(*one) {
                    account.set_account_callback(kind, one).await?;
                    match account.account_callback(kind).await? {
                        Some(url) => at_account.insert(kind, url),
                        None => at_account.remove(&kind),
                    };
                }
            }
        }
        let mut out = Vec::with_capacity(targets.len());
        for ((target, expected), own) in targets.iter().zip(&expected).zip(&own) {
            // Both reach Switchboard for this number: either is no drift.
            let ours: Vec<&str> = std::iter::once(own.as_str()).chain(shared_url.as_deref()).collect();
            let (found, elsewhere) =
                self.number_callbacks(&account, target, expected, &ours, &at_account, apply).await?;
            let set_at = found.changed.then(chrono::Utc::now);
            let moved = self
                .store
                .record_callbacks(tenant, target.number_id, found.state, found.detail.clone(), set_at)
                .await?;
            // Told once per drift, however many instances look at the same moment.
            if found.state == CallbacksState::Drifted && moved {
                self.drifted(tenant, &target.e164, elsewhere).await;
            }
            out.push(found);
        }
        Ok(out)
    }

    /// One number: its own callbacks set where they differ (when applying), then read and judged;
    /// with the callbacks that point elsewhere.
    async fn number_callbacks(
        &self,
        account: &Account<'_>,
        target: &CallbackTarget,
        expected: &str,
        ours: &[&str],
        at_account: &BTreeMap<CallbackKind, String>,
        apply: bool,
    ) -> Result<(NumberCallbacks, Vec<DriftedCallback>), OnboardError> {
        let digits = target.e164.trim_start_matches('+');
        let gone = || {
            let detail = Some("the provider's Flowroute account no longer holds it".to_owned());
            (
                NumberCallbacks { e164: target.e164.clone(), state: CallbacksState::Failed, detail, changed: false },
                vec![],
            )
        };
        let mut own = match account.number_callbacks(digits).await {
            Ok(own) => own,
            Err(ProviderError::NotFound(_)) => return Ok(gone()),
            Err(e) => return Err(e.into()),
        };
        let mut changed = false;
        if apply {
            for kind in CallbackKind::ALL {
                if own.get(&kind).map(String::as_str) != Some(expected) {
                    match account.set_number_callback(digits, kind, expected).await {
                        Ok(()) => changed = true,
                        Err(ProviderError::NotFound(_)) => return Ok(gone()),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if changed {
                own = account.number_callbacks(digits).await?;
            }
        }
        let (mut wrong, mut missing) = (Vec::new(), Vec::new());
        for kind in CallbackKind::ALL {
            match own.get(&kind).or_else(|| at_account.get(&kind)) {
                Some(url) if ours.contains(&url.as_str()) => {}
                Some(url) => wrong.push(DriftedCallback { kind: kind.as_str().into(), found: shown_url(url) }),
                None => missing.push(kind.as_str()),
            }
        }
        let (state, detail) = if !wrong.is_empty() {
            let said: Vec<String> = wrong.iter().map(|w| format!("{} points at {}", w.kind, w.found)).collect();
            (CallbacksState::Drifted, Some(said.join("; ")))
        } else if !missing.is_empty() {
            (CallbacksState::Unknown, Some(format!("Flowroute shows no {} for it", missing.join(", "))))
        } else {
            (CallbacksState::Set, None)
        };
        Ok((NumberCallbacks { e164: target.e164.clone(), state, detail, changed }, wrong))
    }

    /// Tells the tenant that a number's callbacks point elsewhere.
    async fn drifted(&self, tenant: Uuid, e164: &str, callbacks: Vec<DriftedCallback>) {
        tracing::warn!(%tenant, number = e164, ?callbacks, "a number's callbacks point elsewhere");
        let body = EventBody::CallbacksDrifted(CallbacksDrifted { number: e164.to_owned(), callbacks });
        match self.store.append_tenant_event(tenant, body).await {
            Ok(event) => self.published(&event),
            Err(e) => tracing::error!(%tenant, error = %e, "could not record a callbacks event"),
        }
    }

    /// Enables messaging on the tenant's numbers on `provider` that lack it (or on those of
    /// `only`), and waits a little for Flowroute to finish. `None`: every one has it already.
    pub async fn enable_messaging(
        &self,
        tenant: Uuid,
        provider: Uuid,
        only: Option<&[String]>,
    ) -> Result<Option<Provisioning>, OnboardError> {
        let access = self.store.provider_access(tenant, provider).await?;
        let creds = credentials(&access);
        let account = self.account(&access.endpoint, &creds)?;
        let mine: BTreeSet<String> = self
            .store
            .callback_targets(tenant, provider)
            .await?
            .into_iter()
            .map(|t| t.e164)
            .filter(|e| only.is_none_or(|list| list.contains(e)))
            .collect();
        let mut lacking = Vec::new();
        for e164 in &mine {
            let digits = e164.trim_start_matches('+');
            match account.number(digits).await {
                Ok(n) if n.messaging_enabled == Some(true) => {}
                Ok(_) => lacking.push(digits.to_owned()),
                Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if lacking.is_empty() {
            return Ok(None);
        }
        let mut task = account.provision_messaging(&lacking, true).await?;
        let deadline = tokio::time::Instant::now() + PROVISION_WAIT;
        while !task.finished() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            task = account.provisioning(&task.task).await?;
        }
        Ok(Some(task))
    }
}

/// Looks, every `interval`, where Flowroute posts for every number whose callbacks Switchboard has
/// set or looked at, so that a number pointed elsewhere (by hand in Flowroute's portal, or by
/// another system) is reported within one interval. Per instance: each instance looks (a read).
pub async fn run_callback_checks(engine: std::sync::Arc<Engine>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        let accounts = match engine.store.callback_accounts().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the accounts whose callbacks to check");
                continue;
            }
        };
        for (tenant, provider) in accounts {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = engine.check_callbacks(tenant, provider).await {
                tracing::warn!(%tenant, %provider, error = %e, "could not check where Flowroute posts");
            }
        }
    }
}
