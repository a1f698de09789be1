//! Every event Switchboard emits, as one type. The stored event, the PBX webhook body and the live
//! stream's `data:` line are all this type serialized: a new event is a new variant of
//! [`EventBody`] and its payload struct, nothing else.
//!
//! On the wire an event is
//! `{"type": "message.received", "id": "evt_…", "tenant": "acme", "created_at": "…", "data": {…}}`:
//! the envelope's fields beside `type` and `data`, which [`EventBody`] carries.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::jobs::JobKind;
use crate::status::MessageStatus;

/// An event as PBX webhooks and live streams receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// `evt_…`, unique across tenants and stable across webhook retries: deduplicate on it (it is
    /// also the `webhook-id` header).
    #[schema(example = "evt_0193a5b0c2d47e5f9a1b2c3d4e5f6a7b")]
    pub id: String,
    /// The tenant's slug.
    #[schema(example = "acme")]
    pub tenant: String,
    /// When the event was written, UTC, in milliseconds.
    #[serde(serialize_with = "millis", deserialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-21T10:00:00.000Z")]
    pub created_at: DateTime<Utc>,
    /// `type` and `data`.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened: the event's `type` and its `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    /// An inbound text, stored and routed to `extensions`.
    #[serde(rename = "message.received")]
    MessageReceived(MessageReceived),
    /// A text sent by the tenant moved to a new status.
    #[serde(rename = "message.status")]
    MessageStatus(StatusChanged),
    /// A PBX delivery, send or media fetch failed for the last time (live stream only).
    #[serde(rename = "delivery.dead")]
    DeliveryDead(DeliveryDead),
    /// The PBX webhook failed several times in a row; its deliveries wait (live stream only).
    #[serde(rename = "endpoint.unavailable")]
    EndpointUnavailable(EndpointUnavailable),
    /// The PBX webhook answered a probe; the waiting deliveries follow (live stream only).
    #[serde(rename = "endpoint.recovered")]
    EndpointRecovered(EndpointRecovered),
    /// Flowroute posts one of a number's texts or receipts somewhere other than the number's prefix
    /// (live stream only).
    #[serde(rename = "callbacks.drifted")]
    CallbacksDrifted(CallbacksDrifted),
    /// Someone took, let go of, finished or reopened a conversation in the inbox (live stream only).
    #[serde(rename = "conversation.updated")]
    ConversationUpdated(ConversationUpdated),
    /// One attempt to deliver a text to an extension over one channel (SIP MESSAGE, email), and
    /// how it went (live stream only).
    #[serde(rename = "message.delivery")]
    MessageDelivery(DeliveryAttempted),
}

impl EventBody {
    /// The text the event is about, if it is about one.
    pub fn message_id(&self) -> Option<Uuid> {
        match self {
            Self::MessageReceived(m) => Some(m.message_id),
            Self::MessageStatus(s) => Some(s.message_id),
            Self::DeliveryDead(d) => d.message_id,
            Self::MessageDelivery(d) => Some(d.message_id),
            Self::EndpointUnavailable(_)
            | Self::EndpointRecovered(_)
            | Self::CallbacksDrifted(_)
            | Self::ConversationUpdated(_) => None,
        }
    }

    /// The event's `type`, as stored, streamed (`event:`) and posted.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageReceived(_) => "message.received",
            Self::MessageStatus(_) => "message.status",
            Self::DeliveryDead(_) => "delivery.dead",
            Self::EndpointUnavailable(_) => "endpoint.unavailable",
            Self::EndpointRecovered(_) => "endpoint.recovered",
            Self::CallbacksDrifted(_) => "callbacks.drifted",
            Self::ConversationUpdated(_) => "conversation.updated",
            Self::MessageDelivery(_) => "message.delivery",
        }
    }
}

/// Where a text was delivered to an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryChannel {
    /// A SIP MESSAGE to the extension's address on the tenant's PBX.
    Sip,
    /// An email to the extension's address, when nobody read the text in time.
    Email,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The phone took it (SIP `200`), or the mail server took the email.
    Delivered,
    /// The PBX stored it to hand on (SIP `202`, a store-and-forward server).
    Accepted,
    /// It failed and will be tried again.
    Retrying,
    /// It failed for good; `reason` says why.
    Failed,
    /// Not needed: someone already saw the text (`reason` says how), so no email went.
    Skipped,
}

/// `message.delivery`: one attempt to deliver a text to one extension over one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempted {
    pub message_id: Uuid,
    /// The extension the text was for.
    pub extension: String,
    pub channel: DeliveryChannel,
    /// Where it went: the SIP address, or the email address.
    pub address: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub outcome: DeliveryOutcome,
    /// The final status the other side answered (SIP), when it answered.
    pub status: Option<u16>,
    /// Why it failed, in words; absent when it did not.
    pub reason: Option<String>,
}

/// `conversation.updated`: a conversation's holder or state changed in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationUpdated {
    pub conversation_id: Uuid,
    /// The tenant's number.
    pub number: String,
    /// The other party.
    pub remote: String,
    /// The extensions that have texts in the conversation (whose streams see this event).
    pub extensions: Vec<String>,
    /// The person who has it, if someone took it.
    pub assigned_to: Option<Named>,
    /// Marked done (a new text from `remote` opens it again).
    pub done: bool,
    /// The name of the person who made the change.
    pub changed_by: String,
}

/// `message.received`: an inbound text as the PBX and the extensions it was routed to see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageReceived {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The tenant's number that was texted (E.164).
    pub number: String,
    /// The sender: E.164 or a short code.
    pub from: String,
    pub to: String,
    /// The text; `null` for an MMS without one.
    pub body: Option<String>,
    /// Attachments kept (MMS), each served by Switchboard.
    pub media: Vec<MediaLink>,
    /// Attachments the callback listed beyond `media_max_per_text`, which were not kept; present
    /// only when not zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub media_dropped: usize,
    /// The extensions the text was routed to.
    pub extensions: Vec<String>,
    /// The tenant's contact with the sender's number.
    pub contact: Option<Named>,
    /// The contact's company or, failing that, the provider's catch-all company.
    pub company: Option<Named>,
    /// The compliance keyword the text was (`STOP`, `HELP`, …), upper case.
    pub keyword: Option<String>,
}

/// An attachment of a received text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaLink {
    pub id: Uuid,
    /// `<public_url>/api/v1/media/<id>`, for callers who may see the text.
    pub url: String,
    pub mime_type: String,
    /// Bytes, as the provider stated them.
    pub size: Option<u64>,
    pub file_name: Option<String>,
}

/// A contact or company, by id and name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

/// `message.status`: a sent text's new status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusChanged {
    pub message_id: Uuid,
    pub status: MessageStatus,
    /// The tenant's number it is sent from.
    pub number: String,
    /// The recipient.
    pub to: String,
    /// The extension that sent it; absent for texts sent by an admin or an auto-reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_extension: Option<String>,
    /// Why it failed, as the provider put it (`error_code`, `error_message`): present only on
    /// `failed`.
    #[serde(flatten)]
    #[schema(value_type = Failure)]
    pub error: Option<Failure>,
}

/// A failed text's reason: the provider's status or receipt code and its words, either `null`
/// when the provider gave none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Failure {
    #[schema(required = false)]
    pub error_code: Option<i32>,
    #[schema(required = false)]
    pub error_message: Option<String>,
}

/// `delivery.dead`: work given up after its last retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryDead {
    pub job_id: Uuid,
    pub kind: JobKind,
    /// The event a PBX delivery carried.
    pub event_id: Option<i64>,
    /// The text the work was for: a send's, a media fetch's, or the one a PBX delivery's event is about.
    pub message_id: Option<Uuid>,
    pub attempts: i32,
    pub last_error: String,
}

/// `endpoint.unavailable`: the PBX webhook's breaker opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EndpointUnavailable {
    pub url: String,
    /// Failures in a row.
    pub failures: u32,
    /// When a probe next tries it.
    pub retry_at: DateTime<Utc>,
}

/// `endpoint.recovered`: the PBX webhook answered again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EndpointRecovered {
    pub url: String,
    /// Since when it had been failing.
    pub failing_since: DateTime<Utc>,
}

/// `callbacks.drifted`: a number's callbacks no longer all point at its prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallbacksDrifted {
    /// The number (E.164).
    pub number: String,
    /// Each callback that points elsewhere.
    pub callbacks: Vec<DriftedCallback>,
}

/// One callback that points elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DriftedCallback {
    /// `sms_callback`, `mms_callback`, `sms_dlr_callback` or `mms_dlr_callback`.
    pub kind: String,
    /// Where it points, without the URL's query (which may hold a token).
    pub found: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn millis<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123456Z").unwrap().with_timezone(&Utc)
    }

    fn event(body: EventBody) -> Event {
        Event { id: "evt_1".into(), tenant: "acme".into(), created_at: at(), body }
    }

    fn samples() -> Vec<EventBody> {
        let id = Uuid::nil();
        vec![
            EventBody::MessageReceived(MessageReceived {
                message_id: id,
                conversation_id: id,
                number: "+12025550100".into(),
                from: "+12065550123".into(),
                to: "+12025550100".into(),
                body: Some("Hi".into()),
                media: vec![MediaLink {
                    id,
                    url: "https://sb.example/api/v1/media/x".into(),
                    mime_type: "image/jpeg".into(),
                    size: Some(12),
                    file_name: None,
                }],
                media_dropped: 2,
                extensions: vec!["101".into()],
                contact: Some(Named { id, name: "Pat".into() }),
                company: None,
                keyword: Some("STOP".into()),
            }),
            EventBody::MessageStatus(StatusChanged {
                message_id: id,
                status: MessageStatus::Failed,
                number: "+12025550100".into(),
                to: "+12065550123".into(),
                sender_extension: Some("101".into()),
                error: Some(Failure { error_code: Some(1011), error_message: None }),
            }),
            EventBody::DeliveryDead(DeliveryDead {
                job_id: id,
                kind: JobKind::WebhookDelivery,
                event_id: Some(4),
                message_id: None,
                attempts: 8,
                last_error: "HTTP 500".into(),
            }),
            EventBody::EndpointUnavailable(EndpointUnavailable {
                url: "https://pbx.example/hook".into(),
                failures: 5,
                retry_at: at(),
            }),
            EventBody::EndpointRecovered(EndpointRecovered {
                url: "https://pbx.example/hook".into(),
                failing_since: at(),
            }),
            EventBody::CallbacksDrifted(CallbacksDrifted {
                number: "+12025550100".into(),
                callbacks: vec![DriftedCallback {
                    kind: "sms_callback".into(),
                    found: "https://elsewhere.example/x".into(),
                }],
            }),
        ]
    }

    #[test]
    fn every_event_carries_its_name_as_type_and_reads_back_as_written() {
        for body in samples() {
            let name = body.name();
            let value = serde_json::to_value(event(body.clone())).unwrap();
            assert_eq!(value["type"], name);
            assert_eq!(value["created_at"], "2026-11-21T10:00:00.123Z");
            assert!(value["data"].is_object(), "{name}: data is an object");
            let back: Event = serde_json::from_value(value).unwrap();
            assert_eq!(back.body, body);
        }
    }

    #[test]
    fn the_wire_shape_is_the_documented_one() {
        let status = EventBody::MessageStatus(StatusChanged {
            message_id: Uuid::nil(),
            status: MessageStatus::Failed,
            number: "+12025550100".into(),
            to: "+12065550123".into(),
            sender_extension: None,
            error: Some(Failure { error_code: Some(1011), error_message: Some("unreachable".into()) }),
        });
        assert_eq!(
            serde_json::to_value(event(status)).unwrap(),
            json!({"type": "message.status", "id": "evt_1", "tenant": "acme",
                   "created_at": "2026-11-21T10:00:00.123Z",
                   "data": {"message_id": Uuid::nil(), "status": "failed", "number": "+12025550100",
                            "to": "+12065550123", "error_code": 1011, "error_message": "unreachable"}})
        );
        let samples = samples();
        let received = serde_json::to_value(&samples[0]).unwrap();
        assert_eq!(received["data"]["media_dropped"], 2);
        assert_eq!(received["data"]["company"], serde_json::Value::Null);
        assert_eq!(received["data"]["media"][0]["file_name"], serde_json::Value::Null);
        let dead = serde_json::to_value(&samples[2]).unwrap();
        assert_eq!(dead["data"]["kind"], "webhook_delivery");
        assert_eq!(dead["data"]["message_id"], serde_json::Value::Null);
    }
}
