//! Inbound prefixes: bodies of `…/prefixes`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Patch;
use switchboard_store::prefixes as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// An inbound prefix: the URL Flowroute posts a tenant's texts to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prefix {
    pub id: Uuid,
    /// Lower case, `[a-z0-9_-]{3,64}`.
    #[schema(example = "flowrouteinbound")]
    pub prefix: String,
    pub provider_id: Uuid,
    /// The URL to enter in Flowroute as the inbound and delivery-receipt callback. On creation it
    /// carries the prefix's token (`?token=…`); later answers leave the token out.
    #[schema(example = "https://sms.example.net/flowrouteinbound?token=3q2-7wAAbP0Xk1dKQ9vNwJmTg6cR5yZs")]
    pub webhook_url: String,
    /// Whether callbacks must carry `?token=`.
    pub token_required: bool,
    /// The token, in the answer to the creation only (never shown again): the one given, or the
    /// one Switchboard generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Source addresses allowed to post, as given; `null` allows any.
    pub allowed_sources: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
}
convert!(store::Prefix => Prefix {
    id, prefix, provider_id, webhook_url, token_required, token, allowed_sources, created_at
});

/// Body of `POST …/prefixes`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrefix {
    /// Case-insensitive; stored in lower case.
    pub prefix: String,
    pub provider_id: Uuid,
    /// A secret Flowroute must send as `?token=` (16 to 128 URL-safe characters); sealed at rest.
    /// Left out, Switchboard generates one (shown once, in the answer); `null` means no token,
    /// which needs `allowed_sources` (else anyone who learns the prefix could post to it).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub token: Patch<String>,
    /// Addresses or CIDR blocks allowed to post, or `flowroute` for Flowroute's documented ones.
    #[serde(default)]
    pub allowed_sources: Option<Vec<String>>,
}
convert!(NewPrefix => store::NewPrefix { prefix, provider_id, token, allowed_sources });

/// Body of `PATCH …/prefixes/{prefix}`: the hardening settings; `null` removes one.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrefixPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub token: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_sources: Patch<Vec<String>>,
}
convert!(PrefixPatch => store::PrefixPatch { token, allowed_sources });
