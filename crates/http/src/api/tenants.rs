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
    /// The hours, in the recipient's local time, the tenant's automated texts (auto-replies, API
    /// sends with `conversational: false`) may arrive in, within the law's (8:00 to 21:00, stricter
    /// in some states); `null`: the law's alone.
    pub send_window: Option<SendWindow>,
    /// The tenant's PBX as a SIP server, where texts for extensions with a `sip_user` are sent
    /// as SIP MESSAGEs; `null`: no SIP delivery.
    pub sip: Option<SipSettings>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Tenant> for Tenant {
    fn from(v: store::Tenant) -> Self {
        Self {
            id: v.id,
            slug: v.slug,
            name: v.name,
            status: v.status,
            webhook_url: v.webhook_url,
            webhook_secret_rotated_at: v.webhook_secret_rotated_at,
            require_totp: v.require_totp,
            timezone: v.timezone,
            send_window: v.send_window.map(|w| SendWindow { from: w.from, until: w.until }),
            sip: v.sip.map(|s| SipSettings {
                server: s.server,
                domain: s.domain,
                transport: s.transport.as_str().to_owned(),
                username: s.username,
                has_password: s.has_password,
            }),
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// A daily window in the recipient's local time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendWindow {
    /// `HH:MM`, when automated texts may start arriving.
    #[schema(example = "09:00")]
    pub from: String,
    /// `HH:MM`, when they must stop; after `from`, leaving at least an hour between 08:00 and 21:00.
    #[schema(example = "18:00")]
    pub until: String,
}

/// The tenant's PBX as a SIP server. The password is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct SipSettings {
    /// Where SIP requests go: `host` or `host:port` (5061 for TLS, 5060 otherwise, when left out).
    #[schema(example = "pbx.example.com")]
    pub server: String,
    /// The domain of the extensions' addresses, `sip:<sip_user>@<domain>`; `null`: the server's host.
    pub domain: Option<String>,
    /// `tls`, `tcp` or `udp` (UDP only for requests under 1,300 bytes; larger ones go over TCP).
    #[schema(example = "tls")]
    pub transport: String,
    /// The user Switchboard answers the PBX's digest challenges (`401`, `407`) as.
    pub username: Option<String>,
    /// Whether a password is set.
    pub has_password: bool,
}

/// SIP settings to set, whole. The password, kept sealed, stays as it is unless one is given;
/// leaving out `username` removes both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SipSettingsInput {
    #[schema(example = "pbx.example.com")]
    pub server: String,
    #[serde(default)]
    pub domain: Option<String>,
    /// `tls` (the default), `tcp` or `udp`.
    #[serde(default)]
    pub transport: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for SipSettingsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipSettingsInput").field("server", &self.server).finish_non_exhaustive()
    }
}

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
    /// The hours the tenant's automated texts may arrive in; `null` leaves the law's alone.
    #[serde(default)]
    #[schema(value_type = Option<SendWindow>)]
    pub send_window: Patch<SendWindow>,
    /// The PBX as a SIP server; `null` stops SIP delivery.
    #[serde(default)]
    #[schema(value_type = Option<SipSettingsInput>)]
    pub sip: Patch<SipSettingsInput>,
}

impl From<TenantPatch> for store::TenantPatch {
    fn from(v: TenantPatch) -> Self {
        Self {
            name: v.name,
            webhook_url: v.webhook_url,
            status: v.status,
            require_totp: v.require_totp,
            timezone: v.timezone,
            send_window: match v.send_window {
                Patch::Absent => Patch::Absent,
                Patch::Null => Patch::Null,
                Patch::Value(w) => Patch::Value(store::SendWindow { from: w.from, until: w.until }),
            },
            sip: match v.sip {
                Patch::Absent => Patch::Absent,
                Patch::Null => Patch::Null,
                Patch::Value(s) => Patch::Value(store::SipSettingsInput {
                    server: s.server,
                    domain: s.domain,
                    transport: s.transport,
                    username: s.username,
                    password: s.password,
                }),
            },
        }
    }
}
