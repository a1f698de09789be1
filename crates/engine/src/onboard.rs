//! Connecting a tenant's Flowroute account: its keys are tried with the cheapest read-only call
//! (one number of the account), through the same guarded client as every request Switchboard
//! makes, within [`CHECK_TIME`].

use std::time::Duration;

use secrecy::SecretString;
use switchboard_core::status::ConnectionStatus;
use switchboard_flowroute::{Account, ApiError, Credentials};
use switchboard_store::providers::{ConnectionCheck, ProviderAccess};

use crate::Engine;

/// What the account API answers with, for the HTTP layer.
pub use switchboard_flowroute::{ApiError as ProviderError, NUMBERS_PAGE};

/// The longest a check of a provider's keys waits for Flowroute.
pub const CHECK_TIME: Duration = Duration::from_secs(10);

/// The credentials of a provider, for its API.
pub fn credentials(access: &ProviderAccess) -> Credentials {
    Credentials { access_key: access.access_key.clone(), secret_key: access.secret_key.clone() }
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
