//! Providers: bodies of `…/providers`. The secret key goes in and never comes out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Patch;
use switchboard_core::status::ConnectionStatus;
use switchboard_store::providers as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A provider: no secret, and only the last characters of the access key.
#[derive(Debug, Serialize, ToSchema)]
pub struct Provider {
    pub id: Uuid,
    pub name: String,
    /// Always `flowroute` for now.
    pub kind: String,
    /// The last four characters of the access key, to tell accounts apart.
    #[schema(example = "…a1b2")]
    pub access_key_hint: String,
    /// Always true: a provider cannot exist without its secret key, which is never returned.
    pub secret_key_set: bool,
    pub endpoint: String,
    pub default_did: Option<String>,
    pub sender_id: Option<String>,
    pub catch_all_company_id: Option<Uuid>,
    /// The last check of its keys (made when it is created, when its keys or endpoint change,
    /// and by `POST …/providers/{id}/check`); `null` until one is made.
    pub connection: Option<Connection>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Provider> for Provider {
    fn from(v: store::Provider) -> Self {
        Self {
            id: v.id,
            name: v.name,
            kind: v.kind,
            access_key_hint: v.access_key_hint,
            secret_key_set: v.secret_key_set,
            endpoint: v.endpoint,
            default_did: v.default_did,
            sender_id: v.sender_id,
            catch_all_company_id: v.catch_all_company_id,
            connection: v.connection.map(Into::into),
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// What a check of a provider's keys found: `ok`, `bad_credentials` (Flowroute refused them) or
/// `unreachable` (Flowroute could not be asked), and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct Connection {
    pub status: ConnectionStatus,
    /// What Flowroute answered, or what went wrong, in words.
    #[schema(example = "Flowroute refused the keys: Authentication failed.")]
    pub detail: Option<String>,
    pub checked_at: DateTime<Utc>,
}
convert!(store::ConnectionCheck => Connection { status, detail, checked_at });

/// Body of `POST …/providers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    pub name: String,
    #[schema(example = "flowroute")]
    pub kind: String,
    pub access_key: String,
    /// Write-only.
    pub secret_key: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A number of this tenant used when a sender has no number of its own.
    #[serde(default)]
    pub default_did: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Company given to senders that match no contact.
    #[serde(default)]
    pub catch_all_company_id: Option<Uuid>,
}
convert!(NewProvider => store::NewProvider {
    name, kind, access_key, secret_key, endpoint, default_did, sender_id, catch_all_company_id
});

/// Body of `PATCH …/providers/{id}`; absent fields stay as they are.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub access_key: Option<String>,
    /// Write-only.
    #[serde(default)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub default_did: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sender_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub catch_all_company_id: Patch<Uuid>,
}
convert!(ProviderPatch => store::ProviderPatch {
    name, access_key, secret_key, endpoint, default_did, sender_id, catch_all_company_id
});

/// A number the provider's Flowroute account holds, as `GET …/providers/{id}/remote-numbers`
/// lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteNumber {
    #[schema(example = "+12025550100")]
    pub e164: String,
    /// The account's name for it.
    pub alias: Option<String>,
    pub number_type: Option<String>,
    pub rate_center: Option<String>,
    pub state: Option<String>,
    /// Whether texting is enabled on it; `null` where Flowroute's answer does not say.
    pub messaging_enabled: Option<bool>,
    /// Whether this tenant has it in Switchboard.
    pub in_switchboard: bool,
}

/// One page of the account's numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteNumbers {
    pub items: Vec<RemoteNumber>,
    /// Pass as `offset` for the next page; `null` on the last.
    pub next_offset: Option<u64>,
}

/// Body of `POST …/providers/{id}/remote-numbers:import`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportNumbers {
    /// The numbers to import (E.164), each one the account holds; absent: every number it holds.
    #[serde(default)]
    pub numbers: Option<Vec<String>>,
    /// The prefix they receive through; absent: the provider's only prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The policy they all get.
    #[serde(default)]
    pub policy_id: Option<Uuid>,
    /// The extensions their texts go to.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// The extensions that may send from them.
    #[serde(default)]
    pub senders: Vec<String>,
}

/// Why an imported number was left alone.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The tenant has it already.
    AlreadyAdded,
    /// Another tenant has it (the two share a Flowroute account).
    HeldByAnotherTenant,
}

impl From<switchboard_store::numbers::SkipReason> for SkipReason {
    fn from(r: switchboard_store::numbers::SkipReason) -> Self {
        match r {
            switchboard_store::numbers::SkipReason::AlreadyAdded => Self::AlreadyAdded,
            switchboard_store::numbers::SkipReason::HeldByAnotherTenant => Self::HeldByAnotherTenant,
        }
    }
}

/// A number an import left alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Skipped {
    pub e164: String,
    pub reason: SkipReason,
}

/// What an import did: the numbers added, and those left alone with why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub created: Vec<String>,
    pub skipped: Vec<Skipped>,
}

impl From<switchboard_store::numbers::Imported> for ImportResult {
    fn from(i: switchboard_store::numbers::Imported) -> Self {
        Self {
            created: i.created,
            skipped: i.skipped.into_iter().map(|(e164, reason)| Skipped { e164, reason: reason.into() }).collect(),
        }
    }
}

/// What `…/callbacks:apply` or `…/callbacks:check` did with, or found of, one number's callbacks.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberCallbacks {
    pub e164: String,
    pub state: super::numbers::CallbacksState,
    pub detail: Option<String>,
    /// Whether this run changed any of them.
    pub changed: bool,
}

impl From<switchboard_engine::onboard::NumberCallbacks> for NumberCallbacks {
    fn from(n: switchboard_engine::onboard::NumberCallbacks) -> Self {
        Self { e164: n.e164, state: n.state.into(), detail: n.detail, changed: n.changed }
    }
}

/// Body of `POST …/providers/{id}/callbacks:apply`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCallbacks {
    /// Where to point the numbers: `prefix` (each number's prefix URL, the default) or `shared`
    /// (the operator's shared ingress, for a platform that gives Flowroute one URL).
    #[serde(default)]
    pub to: CallbackDestination,
}

/// Where `callbacks:apply` points a provider's numbers.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackDestination {
    #[default]
    Prefix,
    Shared,
}

impl From<CallbackDestination> for switchboard_engine::onboard::Destination {
    fn from(d: CallbackDestination) -> Self {
        match d {
            CallbackDestination::Prefix => Self::Prefix,
            CallbackDestination::Shared => Self::Shared,
        }
    }
}

/// The answer of `…/callbacks:apply` and `…/callbacks:check`: each of the provider's numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackResults {
    pub numbers: Vec<NumberCallbacks>,
}

/// Body of `POST …/providers/{id}/messaging:enable`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableMessaging {
    /// The numbers (E.164) to enable; absent: every number of the tenant on this provider.
    #[serde(default)]
    pub numbers: Option<Vec<String>>,
}

/// Where enabling messaging stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagingResult {
    /// Flowroute's task; `null` when every number had messaging already.
    pub task: Option<String>,
    /// Flowroute's word for the task (`processing`, `completed`, …), or `already_enabled`.
    pub status: String,
    /// The numbers (E.164) enabled, still in progress, and refused.
    pub successful: Vec<String>,
    pub processing: Vec<String>,
    pub failed: Vec<String>,
}

impl From<Option<switchboard_engine::onboard::Provisioning>> for MessagingResult {
    fn from(p: Option<switchboard_engine::onboard::Provisioning>) -> Self {
        let plus = |list: Vec<String>| list.into_iter().map(|d| format!("+{d}")).collect();
        match p {
            None => Self {
                task: None,
                status: "already_enabled".into(),
                successful: Vec::new(),
                processing: Vec::new(),
                failed: Vec::new(),
            },
            Some(p) => Self {
                task: Some(p.task),
                status: p.status,
                successful: plus(p.successful),
                processing: plus(p.processing),
                failed: plus(p.failed),
            },
        }
    }
}
