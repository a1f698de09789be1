//! Tenants: bodies of `/api/v1/tenants`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Patch;
use switchboard_core::status::TenantStatus;
use switchboard_store::tenants as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A tenant. Its webhook secret is never part of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    /// Unique, `[a-z0-9-]{2,63}`; the tenant's name in paths and tokens.
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    /// Where events are delivered (Standard Webhooks signed); none means no delivery.
    pub webhook_url: Option<String>,
    /// When the webhook secret was last rotated.
    pub webhook_secret_rotated_at: Option<DateTime<Utc>>,
    /// Whether every person of the tenant must use a second factor (TOTP) to sign in.
    pub require_totp: bool,
    /// The IANA time zone the portal shows the tenant's people times in.
    #[schema(example = "America/New_York")]
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Tenant => Tenant {
    id, slug, name, status, webhook_url, webhook_secret_rotated_at, require_totp, timezone, created_at, updated_at
});

/// The answer to a creation: the tenant and, this once, its webhook signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// `whsec_` + base64; shown only here and when rotated.
    pub webhook_secret: String,
}
convert!(store::TenantCreated => TenantCreated { tenant, webhook_secret });

/// A new webhook secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecretRotated {
    /// The new secret, `whsec_` + base64.
    pub webhook_secret: String,
    /// Until then deliveries are signed with the previous secret too.
    pub previous_secret_valid_until: DateTime<Utc>,
}
convert!(store::WebhookSecretRotated => WebhookSecretRotated { webhook_secret, previous_secret_valid_until });

/// Body of `POST /api/v1/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Dental")]
    pub name: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// An IANA time zone for the portal's times; `UTC` when left out.
    #[serde(default)]
    #[schema(example = "America/New_York")]
    pub timezone: Option<String>,
}
convert!(NewTenant => store::NewTenant { slug, name, webhook_url, timezone });

/// Body of `PATCH /api/v1/tenants/{tenant}`; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    pub name: Option<String>,
    /// `null` stops delivery.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Patch<String>,
    /// Only the system administrator may change it.
    #[serde(default)]
    pub status: Option<TenantStatus>,
    /// `true` makes a second factor a rule for the tenant's people: one without it may only set
    /// it up (`403 second_factor_enrollment_required` for anything else) until they have.
    #[serde(default)]
    pub require_totp: Option<bool>,
    /// An IANA time zone for the portal's times.
    #[serde(default)]
    pub timezone: Option<String>,
}
convert!(TenantPatch => store::TenantPatch { name, webhook_url, status, require_totp, timezone });
