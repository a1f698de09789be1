//! What Flowroute posts to a prefix: inbound texts (SMS and MMS) and delivery receipts.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use switchboard_core::{E164, Party};

use crate::lenient::{opt_bool, opt_string, opt_timestamp, opt_u64};

/// Which of Flowroute's two callback formats a payload used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// `{"data": {"type", "id", "attributes"}, "included": [...]}`.
    JsonApi,
    /// Flat: `{"to", "from", "body", "id"}`, or `{"type", "id", "attributes"}` for receipts.
    Compact,
}

/// One attachment of an inbound MMS. The URL is pre-signed and expires after about a week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMedia {
    pub id: Option<String>,
    pub url: String,
    pub file_name: Option<String>,
    pub mime_type: String,
    pub file_size: Option<u64>,
}

/// An inbound SMS or MMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// Flowroute's message id (`mdr2-…`): the deduplication key.
    pub id: String,
    /// The sender.
    pub from: Party,
    /// The tenant's number that received the text.
    pub to: E164,
    /// The text; MMS may come without one.
    pub body: Option<String>,
    pub is_mms: bool,
    /// 0 (GSM/ASCII) or 8 (UCS-2), when given.
    pub encoding: Option<u8>,
    /// `inbound` when given.
    pub direction: Option<String>,
    /// `longcode` or `toll-free`, when given.
    pub message_type: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub amount_nanodollars: Option<u64>,
    pub media: Vec<InboundMedia>,
    pub format: WireFormat,
}

/// A delivery receipt for one of our outbound messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The `mdr2-…` id Flowroute gave our outbound message.
    pub id: String,
    /// 1 (submitted to the carrier) or 2 (the carrier's answer), when given.
    pub level: Option<u8>,
    /// Such as `smsc submit`, `message buffered`, `delivered`; may be empty.
    pub status: String,
    /// Flowroute's code (1001–1222), when given.
    pub status_code: Option<u32>,
    pub status_description: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    /// The message's text, which both shapes carry: it lets a receipt for a send whose answer was
    /// lost name its message.
    pub body: Option<String>,
    /// The recipient and sender, in the compact shape only; `None` when absent or not a number.
    pub to: Option<E164>,
    pub from: Option<E164>,
    pub format: WireFormat,
}

/// What a callback carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Message(InboundMessage),
    Receipt(DeliveryReceipt),
}

/// Why a callback could not be read. Each is a `400` at the ingress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    /// JSON, but none of Flowroute's callback shapes.
    #[error("{0}")]
    Shape(String),
    /// A required field is missing or unusable.
    #[error("field '{field}' {message}")]
    Field { field: &'static str, message: String },
}

#[derive(Debug, Default, Deserialize)]
struct RawAttributes {
    #[serde(default, deserialize_with = "opt_string")]
    to: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    from: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    body: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    direction: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    is_mms: Option<bool>,
    #[serde(default, deserialize_with = "opt_u64")]
    message_encoding: Option<u64>,
    #[serde(default, deserialize_with = "opt_string")]
    message_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_timestamp")]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "opt_u64")]
    amount_nanodollars: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    level: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    status_code: Option<u64>,
    #[serde(default, deserialize_with = "opt_string")]
    status_code_description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRef {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRefList {
    #[serde(default)]
    data: Option<Vec<RawRef>>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRelationships {
    #[serde(default)]
    media: Option<RawRefList>,
}

#[derive(Debug, Default, Deserialize)]
struct RawResource {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "opt_string")]
    kind: Option<String>,
    #[serde(default)]
    attributes: Option<RawAttributes>,
    #[serde(default)]
    relationships: Option<RawRelationships>,
}

#[derive(Debug, Default, Deserialize)]
struct RawMediaAttributes {
    #[serde(default, deserialize_with = "opt_string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    file_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    mime_type: Option<String>,
    #[serde(default, deserialize_with = "opt_u64")]
    file_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct RawIncluded {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "opt_string")]
    kind: Option<String>,
    #[serde(default)]
    attributes: Option<RawMediaAttributes>,
}

#[derive(Debug, Default, Deserialize)]
struct RawCallback {
    #[serde(default)]
    data: Option<RawResource>,
    #[serde(default)]
    included: Option<Vec<RawIncluded>>,
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "opt_string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    to: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    from: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    body: Option<String>,
    #[serde(default)]
    attributes: Option<RawAttributes>,
}

const MAX_ID: usize = 64;

fn message_id(id: Option<String>) -> Result<String, ParseError> {
    let id = id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let id = id.ok_or(ParseError::Field { field: "id", message: "is required".into() })?;
    if id.len() > MAX_ID || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(ParseError::Field {
            field: "id",
            message: format!("must be 1 to {MAX_ID} letters, digits, '-', '_' or '.'"),
        });
    }
    Ok(id)
}

fn to_number(raw: Option<String>) -> Result<E164, ParseError> {
    let raw = raw.ok_or(ParseError::Field { field: "to", message: "is required".into() })?;
    E164::from_provider(&raw).map_err(|e| ParseError::Field { field: "to", message: e.to_string() })
}

fn from_party(raw: Option<String>) -> Result<Party, ParseError> {
    let raw = raw.ok_or(ParseError::Field { field: "from", message: "is required".into() })?;
    Party::from_provider(&raw).map_err(|e| ParseError::Field { field: "from", message: e.to_string() })
}

fn media_of(relationships: Option<RawRelationships>, included: Vec<RawIncluded>) -> Vec<InboundMedia> {
    let wanted: Option<Vec<String>> = relationships
        .and_then(|r| r.media)
        .and_then(|m| m.data)
        .map(|refs| refs.into_iter().filter_map(|r| r.id).collect());
    let mut media: Vec<(Option<String>, InboundMedia)> = included
        .into_iter()
        .filter(|i| i.kind.as_deref().is_none_or(|k| k == "media"))
        .filter_map(|i| {
            let a = i.attributes?;
            let url = a.url.filter(|u| !u.trim().is_empty())?;
            let item = InboundMedia {
                id: i.id.clone(),
                url,
                file_name: a.file_name,
                mime_type: a.mime_type.filter(|m| !m.is_empty()).unwrap_or_else(|| "application/octet-stream".into()),
                file_size: a.file_size,
            };
            Some((i.id, item))
        })
        .collect();
    match wanted {
        // The relationship lists the message's media in order; `included` may hold them in any order.
        Some(ids) if !ids.is_empty() => ids
            .iter()
            .filter_map(|id| media.iter().position(|(mid, _)| mid.as_deref() == Some(id)).map(|i| media.remove(i).1))
            .collect(),
        _ => media.into_iter().map(|(_, m)| m).collect(),
    }
}

fn receipt(id: Option<String>, a: RawAttributes, format: WireFormat) -> Result<DeliveryReceipt, ParseError> {
    Ok(DeliveryReceipt {
        id: message_id(id)?,
        level: a.level.and_then(|l| u8::try_from(l).ok()),
        status: a.status.unwrap_or_default(),
        status_code: a.status_code.and_then(|c| u32::try_from(c).ok()),
        status_description: a.status_code_description,
        timestamp: a.timestamp,
        body: a.body,
        to: a.to.as_deref().and_then(|n| E164::from_provider(n).ok()),
        from: a.from.as_deref().and_then(|n| E164::from_provider(n).ok()),
        format,
    })
}

/// Reads one callback body.
pub fn parse_callback(bytes: &[u8]) -> Result<Callback, ParseError> {
    let raw: RawCallback = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ParseError::Shape("the body is JSON but not a Flowroute callback object".into())
        } else {
            ParseError::Json(e.to_string())
        }
    })?;
    if let Some(data) = raw.data {
        let attributes = data.attributes.unwrap_or_default();
        return match data.kind.as_deref() {
            Some("delivery_receipt") => receipt(data.id, attributes, WireFormat::JsonApi).map(Callback::Receipt),
            Some("message") | None => {
                let media = media_of(data.relationships, raw.included.unwrap_or_default());
                Ok(Callback::Message(InboundMessage {
                    id: message_id(data.id)?,
                    to: to_number(attributes.to)?,
                    from: from_party(attributes.from)?,
                    is_mms: attributes.is_mms.unwrap_or(!media.is_empty()),
                    body: attributes.body,
                    encoding: attributes.message_encoding.and_then(|e| u8::try_from(e).ok()),
                    direction: attributes.direction,
                    message_type: attributes.message_type,
                    timestamp: attributes.timestamp,
                    amount_nanodollars: attributes.amount_nanodollars,
                    media,
                    format: WireFormat::JsonApi,
                }))
            }
            Some(other) => {
                Err(ParseError::Shape(format!("data.type '{other}' is neither 'message' nor 'delivery_receipt'")))
            }
        };
    }
    if raw.kind.as_deref() == Some("delivery_receipt") {
        return receipt(raw.id, raw.attributes.unwrap_or_default(), WireFormat::Compact).map(Callback::Receipt);
    }
    if raw.to.is_some() || raw.from.is_some() {
        return Ok(Callback::Message(InboundMessage {
            id: message_id(raw.id)?,
            to: to_number(raw.to)?,
            from: from_party(raw.from)?,
            body: raw.body,
            is_mms: false,
            encoding: None,
            direction: None,
            message_type: None,
            timestamp: None,
            amount_nanodollars: None,
            media: Vec::new(),
            format: WireFormat::Compact,
        }));
    }
    Err(ParseError::Shape(
        "expected a Flowroute message or delivery receipt (JSON:API 'data', or compact 'to'/'from' or 'type')".into(),
    ))
}
