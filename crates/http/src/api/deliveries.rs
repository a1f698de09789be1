//! Bodies of `…/webhook-deliveries` and a text's `…/timeline`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_core::JobKind;
use switchboard_store::deliveries as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// An attempt at a job that did not succeed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedAttempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The HTTP status the other side answered; `null` when it did not answer.
    pub status_code: Option<i32>,
    /// What went wrong, in words.
    pub error: String,
    /// True for the attempt after which the job was given up.
    pub last: bool,
}
convert!(store::FailedAttempt => FailedAttempt { attempt, at, status_code, error, last });

/// A job: a PBX webhook delivery, a send to the provider or a media fetch, and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub kind: JobKind,
    /// `pending`, `running`, `done`, `dead`, or `replayed` (dead, then played again as another
    /// job, whose `replay_of` names this one).
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// When it last changed: done, put back, or given up.
    pub updated_at: DateTime<Utc>,
    /// When it is tried next, while it waits.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The event a PBX delivery carries, and its type.
    pub event_id: Option<i64>,
    pub event_type: Option<String>,
    pub message_id: Option<Uuid>,
    pub replay_of: Option<Uuid>,
    /// The attempts that failed, oldest first (a success is the job's `done`).
    pub failures: Vec<FailedAttempt>,
}

impl From<store::Delivery> for Delivery {
    fn from(d: store::Delivery) -> Self {
        Self {
            id: d.id,
            kind: d.kind,
            state: d.state,
            attempts: d.attempts,
            created_at: d.created_at,
            updated_at: d.updated_at,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            event_id: d.event_id,
            event_type: d.event_type,
            message_id: d.message_id,
            replay_of: d.replay_of,
            failures: d.failures.into_iter().map(Into::into).collect(),
        }
    }
}

/// An event of a text's, as posted and streamed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    /// Its number in the tenant's live stream.
    pub seq: Option<i64>,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    /// The event itself.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<store::TimelineEvent> for TimelineEvent {
    fn from(e: store::TimelineEvent) -> Self {
        Self { seq: e.seq, event_type: e.event_type, created_at: e.created_at, event: e.payload }
    }
}

/// Everything recorded about one text, oldest first: its events, and the jobs done for it (the
/// deliveries of its events to the PBX, its send, its media fetches) with their failed attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub events: Vec<TimelineEvent>,
    pub jobs: Vec<Delivery>,
}

impl From<store::Timeline> for Timeline {
    fn from(t: store::Timeline) -> Self {
        Self {
            events: t.events.into_iter().map(Into::into).collect(),
            jobs: t.jobs.into_iter().map(Into::into).collect(),
        }
    }
}

/// Answer of `POST …/webhook-deliveries:replay-dead`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// How many dead deliveries were played again (at most 500 a call: call again while it
    /// answers 500).
    pub replayed: usize,
}
