//! The message log and opt-outs: bodies of `…/messages` and `…/opt-outs`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_store::messages as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A text, inbound or outbound.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The tenant's number.
    pub number: String,
    /// The other party.
    pub remote: String,
    pub body: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub media: serde_json::Value,
    pub segments: i32,
    /// 0 for GSM/ASCII, 8 for UCS-2.
    pub encoding: i16,
    /// `received`, `queued`, `sending`, `sent`, `delivered` or `failed`.
    pub status: String,
    pub provider_message_id: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    /// Extensions the text was routed to.
    #[schema(value_type = Vec<String>)]
    pub extensions: serde_json::Value,
    pub sender_extension: Option<String>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    /// The compliance keyword the text carried, if any.
    pub keyword: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Message => Message {
    id, direction, number, remote, body, media, segments, encoding, status, provider_message_id, error_code,
    error_message, extensions, sender_extension, contact_id, company_id, keyword, created_at, updated_at,
});

/// A party's opt-out from a number, or from the whole tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptOut {
    pub id: Uuid,
    /// The party that opted out.
    pub remote: String,
    /// The number opted out of, or `all` for every number of the tenant (STOPALL).
    pub scope: String,
    /// The keyword that recorded it.
    pub keyword: String,
    pub created_at: DateTime<Utc>,
}
convert!(store::OptOut => OptOut { id, remote, scope, keyword, created_at });
