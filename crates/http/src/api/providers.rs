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
