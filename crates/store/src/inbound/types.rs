//! What an inbound text is, and what recording it did.

use chrono::{DateTime, Utc};
use switchboard_core::routing::RouteDecision;
use uuid::Uuid;

use crate::events::AppendedEvent;

/// One attachment as the provider described it.
#[derive(Debug, Clone)]
pub struct MediaIn {
    pub url: String,
    pub file_name: Option<String>,
    pub mime_type: String,
    pub size: Option<u64>,
}

/// An inbound text, resolved to its tenant and number.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub tenant_id: Uuid,
    /// The provider's id (`mdr2-…`), the deduplication key.
    pub provider_message_id: String,
    /// The tenant's number, E.164.
    pub number: String,
    /// The sender: E.164 or a short code.
    pub remote: String,
    /// True when the sender can be texted back (a number, not a short code).
    pub remote_reachable: bool,
    pub body: Option<String>,
    pub media: Vec<MediaIn>,
    /// Attachments the callback listed beyond those kept (`media_max_per_text`).
    pub media_dropped: usize,
    /// The provider's catch-all company for senders that match no contact.
    pub catch_all_company_id: Option<Uuid>,
    /// `<public url>/api/v1/media`, for the media links in the event.
    pub media_base_url: String,
}

/// What recording a text did.
#[derive(Debug, Clone)]
pub enum InboundOutcome {
    /// Stored now, with its event; `phones` when SIP deliveries were queued for it.
    Stored { message_id: Uuid, event: AppendedEvent, decision: RouteDecision, phones: bool },
    /// Already stored by an earlier copy; nothing was written.
    Duplicate { message_id: Uuid },
}

/// Routes a text, given when its conversation last got an auto-reply. It may run more than once
/// (when a batch is retried text by text), so it must not have side effects.
pub(crate) type Decide = Box<dyn Fn(Option<DateTime<Utc>>) -> RouteDecision + Send + Sync>;

/// A text waiting for a batch.
pub(crate) struct Item {
    pub text: InboundText,
    pub decide: Decide,
}

/// A conversation: tenant, number, remote.
pub(super) type ConvKey = (Uuid, String, String);

pub(super) fn conv_key(text: &InboundText) -> ConvKey {
    (text.tenant_id, text.number.clone(), text.remote.clone())
}
