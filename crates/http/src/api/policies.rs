//! Policies: bodies of `…/policies`. A new policy is a [`PolicySpec`] as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::{AfterHours, BusinessWindow, Holiday, KeywordRule, Patch, PolicySpec};
use switchboard_store::policies as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A policy: its id, the spec as written, and timestamps.
#[derive(Debug, Serialize, ToSchema)]
pub struct Policy {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: PolicySpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Policy => Policy { id, spec, created_at, updated_at });

/// Body of `PATCH …/policies/{id}`; absent fields stay as they are, given ones replace.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub business_hours: Option<Vec<BusinessWindow>>,
    #[serde(default)]
    pub holidays: Option<Vec<Holiday>>,
    #[serde(default)]
    #[schema(value_type = Option<AfterHours>)]
    pub after_hours: Patch<AfterHours>,
    #[serde(default)]
    pub keywords: Option<Vec<KeywordRule>>,
    #[serde(default)]
    pub auto_reply_interval_minutes: Option<u32>,
    #[serde(default)]
    pub outbound_per_minute: Option<u32>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub help_reply: Patch<String>,
    #[serde(default)]
    pub opt_out_handling: Option<bool>,
}
convert!(PolicyPatch => store::PolicyPatch {
    name, timezone, business_hours, holidays, after_hours, keywords, auto_reply_interval_minutes, outbound_per_minute,
    help_reply, opt_out_handling,
});
