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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Number => Number {
    id, e164, name, provider_id, prefix, policy_id, destinations, senders, created_at, updated_at
});

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
