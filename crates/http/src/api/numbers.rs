//! Numbers (DIDs): bodies of `…/numbers`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Patch;
use switchboard_store::numbers as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A number (DID) of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Number {
    pub id: Uuid,
    #[schema(example = "+12025550100")]
    pub e164: String,
    pub name: String,
    pub provider_id: Uuid,
    /// The inbound prefix Flowroute posts this number's texts to.
    #[schema(example = "flowrouteinbound")]
    pub prefix: String,
    pub policy_id: Option<Uuid>,
    /// Extensions that receive texts to this number, in order.
    pub destinations: Vec<String>,
    /// Extensions that may send from this number.
    pub senders: Vec<String>,
    /// Where Flowroute posts its texts and receipts, as Switchboard last found it (set by
    /// `POST …/providers/{id}/callbacks:apply`, looked at by `…/callbacks:check` and on a
    /// schedule); `null` until then.
    pub callbacks: Option<Callbacks>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Number> for Number {
    fn from(v: store::Number) -> Self {
        Self {
            id: v.id,
            e164: v.e164,
            name: v.name,
            provider_id: v.provider_id,
            prefix: v.prefix,
            policy_id: v.policy_id,
            destinations: v.destinations,
            senders: v.senders,
            callbacks: v.callbacks.map(Into::into),
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// Where Flowroute posts a number's texts and receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbacksState {
    /// All four callbacks (SMS, MMS and their receipts) point at the number's prefix.
    Set,
    /// One points elsewhere (`detail` says which, and where).
    Drifted,
    /// Flowroute shows none for one of them, at the number or the account.
    Unknown,
    /// Setting them failed (`detail` says why).
    Failed,
}

impl From<store::CallbacksState> for CallbacksState {
    fn from(s: store::CallbacksState) -> Self {
        match s {
            store::CallbacksState::Set => Self::Set,
            store::CallbacksState::Drifted => Self::Drifted,
            store::CallbacksState::Unknown => Self::Unknown,
            store::CallbacksState::Failed => Self::Failed,
        }
    }
}

/// A number's callbacks as Switchboard last found them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Callbacks {
    pub state: CallbacksState,
    /// What was found, in words; URLs are shown without their query.
    pub detail: Option<String>,
    /// When Switchboard last set them.
    pub set_at: Option<DateTime<Utc>>,
    /// When Switchboard last looked.
    pub checked_at: DateTime<Utc>,
}
convert!(store::Callbacks => Callbacks { state, detail, set_at, checked_at });

/// Body of `POST …/numbers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNumber {
    #[schema(example = "+12025550100")]
    pub e164: String,
    pub name: String,
    pub provider_id: Uuid,
    #[schema(example = "flowrouteinbound")]
    pub prefix: String,
    #[serde(default)]
    pub policy_id: Option<Uuid>,
    #[serde(default)]
    pub destinations: Vec<String>,
    #[serde(default)]
    pub senders: Vec<String>,
    /// Add it without asking the provider's Flowroute account whether it holds the number (a
    /// number being ported in, say). The operator only (`403` for anyone else).
    #[serde(default)]
    pub skip_provider_check: bool,
}
convert!(NewNumber => store::NewNumber { e164, name, provider_id, prefix, policy_id, destinations, senders });

/// Body of `PATCH …/numbers/{e164}`; the number itself cannot change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub provider_id: Option<Uuid>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub policy_id: Patch<Uuid>,
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    #[serde(default)]
    pub senders: Option<Vec<String>>,
    /// Move it to another provider without asking that provider's Flowroute account whether it
    /// holds the number. Operators only.
    #[serde(default)]
    pub skip_provider_check: bool,
}
convert!(NumberPatch => store::NumberPatch { name, provider_id, prefix, policy_id, destinations, senders });
