//! The rows a batch writes: each text's (built as it is decided), then one statement per table
//! for the whole batch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::Set;
use serde_json::Value;
use switchboard_core::event::MediaLink;
use switchboard_core::routing::RouteDecision;
use switchboard_core::segments;
use switchboard_core::status::{Direction, MessageStatus, Origin};
use uuid::Uuid;

use super::types::InboundText;
use crate::channels::Routed;
use crate::entity::{conversation, job, media, message};
use crate::events::{self, Work};
use crate::sql::Script;
use crate::{StoreError, new_id};

/// Adds to `script` the batch's messages, media, routing rows, unread counts and conversation heads.
pub(super) fn write_rows(
    script: &mut Script,
    messages: Vec<message::ActiveModel>,
    media_rows: Vec<media::ActiveModel>,
    routed: &[Routed],
    unread: &BTreeMap<(Uuid, String), i32>,
    updated: &[&conversation::Model],
) -> Result<(), StoreError> {
    script.insert_models(messages)?;
    script.insert_models(media_rows)?;
    let rows = routed
        .iter()
        .map(|r| vec![r.message_id.into(), r.tenant_id.into(), r.extension.clone().into(), r.remote.clone().into()])
        .collect();
    script.insert_rows("INSERT INTO message_extension (message_id, tenant_id, extension, remote)", "", rows);
    let rows = unread.iter().map(|((conv, ext), n)| vec![(*conv).into(), ext.clone().into(), (*n).into()]).collect();
    script.insert_rows(
        "INSERT INTO conversation_unread (conversation_id, extension, unread)",
        "ON CONFLICT (conversation_id, extension) DO UPDATE SET unread = conversation_unread.unread + excluded.unread",
        rows,
    );
    // The rows exist (and are locked): an upsert on the id is a many-row update both databases accept.
    let rows = updated
        .iter()
        .map(|c| {
            vec![
                c.id.into(),
                c.tenant_id.into(),
                c.number.clone().into(),
                c.remote.clone().into(),
                c.last_message_id.into(),
                c.last_message_at.into(),
                c.created_at.into(),
                c.last_auto_reply_at.into(),
            ]
        })
        .collect();
    script.insert_rows(
        "INSERT INTO conversation (id, tenant_id, number, remote, last_message_id, last_message_at, created_at, \
         last_auto_reply_at)",
        // A new text from the other party opens a conversation marked done again.
        "ON CONFLICT (id) DO UPDATE SET last_message_id = excluded.last_message_id, \
         last_message_at = excluded.last_message_at, last_auto_reply_at = excluded.last_auto_reply_at, done_at = NULL",
        rows,
    );
    Ok(())
}

/// A text's attachments: a row and a fetch job each, and the links its event shows.
pub(super) fn media_rows(
    text: &InboundText,
    message_id: Uuid,
    at: DateTime<Utc>,
    rows: &mut Vec<media::ActiveModel>,
    jobs: &mut Vec<job::ActiveModel>,
) -> Vec<MediaLink> {
    let mut links = Vec::with_capacity(text.media.len());
    for m in &text.media {
        let id = new_id();
        links.push(MediaLink {
            id,
            url: format!("{}/{id}", text.media_base_url),
            mime_type: m.mime_type.clone(),
            size: m.size,
            file_name: m.file_name.clone(),
        });
        rows.push(media::ActiveModel {
            id: Set(id),
            tenant_id: Set(text.tenant_id),
            message_id: Set(message_id),
            source_url: Set(m.url.clone()),
            file_name: Set(m.file_name.clone()),
            mime_type: Set(m.mime_type.clone()),
            size: Set(m.size.and_then(|s| i64::try_from(s).ok()).unwrap_or(-1)),
            storage_path: Set(None),
            state: Set("pending".into()),
            public_token: Set(None),
            created_at: Set(at),
        });
        let key = format!("media:{id}");
        let mut job = events::job_model(new_id(), text.tenant_id, &key, Work::Media { media_id: id }, at);
        job.message_id = Set(Some(message_id));
        jobs.push(job);
    }
    links
}

/// The text's message row: `received`, routed as decided, named after its contact and company.
pub(super) fn message_row(
    text: &InboundText,
    message_id: Uuid,
    links: &[MediaLink],
    decision: &RouteDecision,
    (contact_id, company_id): (Option<Uuid>, Option<Uuid>),
    at: DateTime<Utc>,
) -> Result<message::ActiveModel, StoreError> {
    let (encoding, segment_count) = segments::count(text.body.as_deref());
    let media = serde_json::to_value(links).map_err(StoreError::json)?;
    Ok(message::ActiveModel {
        id: Set(message_id),
        tenant_id: Set(text.tenant_id),
        direction: Set(Direction::Inbound.as_str().into()),
        number: Set(text.number.clone()),
        remote: Set(text.remote.clone()),
        body: Set(text.body.clone()),
        media: Set(media),
        segments: Set(i32::try_from(segment_count).unwrap_or(i32::MAX)),
        encoding: Set(encoding.code()),
        status: Set(MessageStatus::Received.as_str().into()),
        provider_message_id: Set(Some(text.provider_message_id.clone())),
        error_code: Set(None),
        // The record on the message of attachments not kept.
        error_message: Set((text.media_dropped > 0).then(|| {
            format!(
                "{} attachments beyond the first {} were not kept (media_max_per_text)",
                text.media_dropped,
                text.media.len()
            )
        })),
        extensions: Set(Value::from(decision.destinations.clone())),
        sender_extension: Set(None),
        contact_id: Set(contact_id),
        company_id: Set(company_id),
        keyword: Set(decision.keyword.map(str::to_owned)),
        created_at: Set(at),
        updated_at: Set(at),
        origin: Set(Origin::Provider.as_str().into()),
        automated: Set(false),
    })
}
