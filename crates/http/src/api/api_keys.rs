//! API keys: bodies of `…/api-keys`.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use switchboard_core::Scope;
use switchboard_store::api_keys as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// Body of `POST …/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    #[schema(example = "PBX integration")]
    pub name: String,
    /// What the key may do: `admin` (everything a tenant admin may, but managing users and keys),
    /// `send` (send texts), `read` (every `GET`).
    pub scopes: Vec<Scope>,
}
convert!(NewApiKey => store::NewApiKey { name, scopes });

/// Body of `PATCH …/api-keys/{id}`: a key's scopes cannot change; create another.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyPatch {
    #[serde(default)]
    pub name: Option<String>,
}
convert!(ApiKeyPatch => store::ApiKeyPatch { name });

/// An API key of the tenant. The key itself is in the answer that creates it, and nowhere else.
#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, to recognise it by.
    #[schema(example = "sbk_Ab3dE5fG")]
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last request it opened, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked key opens nothing.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key: send it as `Authorization: Bearer …`. Only in the answer that creates it; stored
    /// as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<store::ApiKey> for ApiKey {
    fn from(k: store::ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            key: None,
        }
    }
}

impl ApiKey {
    /// A key just created, with the key itself.
    pub fn created((key, secret): (store::ApiKey, SecretString)) -> Self {
        Self { key: Some(secret.expose_secret().to_owned()), ..Self::from(key) }
    }
}
