//! Sending: bodies of `POST /api/v1/messages` and `POST /api/v1/tenants/{tenant}/messages`.

use serde::{Deserialize, Serialize};
use switchboard_store::outbound as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// Body of `POST /api/v1/messages` and `POST /api/v1/tenants/{tenant}/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// The recipient, E.164 (US and Canada only).
    #[schema(example = "+12065550123")]
    pub to: String,
    #[serde(default)]
    pub body: Option<String>,
    /// The number to send from; an extension may omit it (its own number is used).
    #[serde(default)]
    pub from: Option<String>,
    /// https links to attach, at most 10.
    #[serde(default)]
    pub media_urls: Vec<String>,
}
impl From<SendInput> for store::SendInput {
    fn from(v: SendInput) -> Self {
        Self { to: v.to, body: v.body, from: v.from, media_urls: v.media_urls, attachments: vec![] }
    }
}

/// A queued text, as the API answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub id: Uuid,
    #[schema(example = "queued")]
    pub status: String,
    pub from: String,
    pub to: String,
    pub segments: i32,
}
convert!(store::Queued => Queued { id, status, from, to, segments });
