//! The extension's inbox: bodies of `/api/v1/conversations`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_store::inbox as store;
use utoipa::ToSchema;
use uuid::Uuid;

use switchboard_core::event::Named;

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
    /// The portal user who took the conversation, if one has.
    pub assigned_to: Option<Named>,
    /// When it was marked done in the portal; a new text from `remote` clears it.
    pub done_at: Option<DateTime<Utc>>,
}

impl From<store::Conversation> for Conversation {
    fn from(c: store::Conversation) -> Self {
        Self {
            id: c.id,
            number: c.number,
            remote: c.remote,
            last_message_id: c.last_message_id,
            last_message_at: c.last_message_at,
            unread: c.unread,
            assigned_to: c.assigned_to.map(|(id, name)| Named { id, name }),
            done_at: c.done_at,
        }
    }
}
