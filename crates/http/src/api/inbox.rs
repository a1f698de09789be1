//! The extension's inbox: bodies of `/api/v1/conversations`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_store::inbox as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A conversation as an inbox shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    /// The tenant's number.
    pub number: String,
    /// The other party.
    pub remote: String,
    pub last_message_id: Option<Uuid>,
    pub last_message_at: DateTime<Utc>,
    /// Texts not yet read by this extension (for a tenant admin: by all its extensions).
    pub unread: i64,
}
convert!(store::Conversation => Conversation { id, number, remote, last_message_id, last_message_at, unread });
