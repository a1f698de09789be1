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
    /// `false` for a text a program sends on its own (a reminder, a notice), not a person's
    /// message in a conversation: it waits while the recipient's quiet hours last (8:00 to 21:00
    /// in each of their area code's time zones, stricter where their state says so, narrower if
    /// the tenant's `send_window` says so). `true` (the default) sends at once.
    #[serde(default = "conversational")]
    pub conversational: bool,
}

fn conversational() -> bool {
    true
}

impl From<SendInput> for store::SendInput {
    fn from(v: SendInput) -> Self {
        Self {
            to: v.to,
            body: v.body,
            from: v.from,
            media_urls: v.media_urls,
            attachments: vec![],
            automated: !v.conversational,
        }
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
