//! Reading the message log and managing opt-outs. Messages are written by the inbound and
//! outbound paths; the admin API only reads them.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use switchboard_core::status::{Direction, MessageStatus};
use switchboard_core::{E164, FieldErrors};
use uuid::Uuid;

use crate::entity::{job, message, opt_out};
use crate::page::{self, Page, PageRequest};
use crate::{Store, StoreError};

/// A text, inbound or outbound, as stored.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The tenant's number.
    pub number: String,
    /// The other party.
    pub remote: String,
    pub body: Option<String>,
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
    pub extensions: serde_json::Value,
    pub sender_extension: Option<String>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    /// The compliance keyword the text carried, if any.
    pub keyword: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of the message log; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// The tenant's number, E.164.
    pub number: Option<String>,
    /// The other party, E.164.
    pub remote: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// A status.
    pub status: Option<String>,
    /// Only texts since this moment (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Only texts before this moment.
    pub until: Option<DateTime<Utc>>,
}

/// A tenant's texts since a moment, and its delivery work now: what its dashboard shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Texts received since the moment.
    pub inbound: u64,
    /// Texts sent (or being sent) since the moment.
    pub outbound: u64,
    /// Texts of either direction since the moment whose status is `failed`.
    pub failed: u64,
    /// Deliveries and sends waiting or under way now.
    pub queued: u64,
    /// Deliveries and sends that gave up (dead), ever.
    pub dead: u64,
}

/// An opt-out, as stored.
#[derive(Debug, Clone)]
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

pub(crate) fn message_record(m: message::Model) -> Message {
    Message {
        id: m.id,
        direction: m.direction,
        number: m.number,
        remote: m.remote,
        body: m.body,
        media: m.media,
        segments: m.segments,
        encoding: m.encoding,
        status: m.status,
        provider_message_id: m.provider_message_id,
        error_code: m.error_code,
        error_message: m.error_message,
        extensions: m.extensions,
        sender_extension: m.sender_extension,
        contact_id: m.contact_id,
        company_id: m.company_id,
        keyword: m.keyword,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn opt_out_record(m: opt_out::Model) -> OptOut {
    OptOut { id: m.id, remote: m.remote, scope: m.scope, keyword: m.keyword, created_at: m.created_at }
}

impl Store {
    /// The tenant's messages, newest first, filtered.
    pub async fn list_messages(
        &self,
        tenant: Uuid,
        filter: MessageFilter,
        req: PageRequest,
    ) -> Result<Page<Message>, StoreError> {
        let mut errors = FieldErrors::new();
        let mut select = message::Entity::find().filter(message::Column::TenantId.eq(tenant));
        if let Some(n) = &filter.number
            && let Some(n) = errors.check("number", E164::parse(n))
        {
            select = select.filter(message::Column::Number.eq(n.as_str()));
        }
        if let Some(r) = &filter.remote
            && let Some(r) = errors.check("remote", E164::parse(r))
        {
            select = select.filter(message::Column::Remote.eq(r.as_str()));
        }
        if let Some(d) = &filter.direction {
            if let Some(d) = Direction::parse(d) {
                select = select.filter(message::Column::Direction.eq(d.as_str()));
            } else {
                errors.add("direction", "must be 'inbound' or 'outbound'");
            }
        }
        if let Some(s) = &filter.status {
            if let Some(s) = MessageStatus::parse(s) {
                select = select.filter(message::Column::Status.eq(s.as_str()));
            } else {
                let names: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
                errors.add("status", format!("must be one of {}", names.join(", ")));
            }
        }
        // Ids are time-ordered: a time bound is a bound on the tenant's index.
        if let Some(since) = filter.since {
            select = select.filter(message::Column::Id.gte(page::id_floor(since)));
        }
        if let Some(until) = filter.until {
            select = select.filter(message::Column::Id.lt(page::id_floor(until)));
        }
        errors.finish().map_err(StoreError::Invalid)?;
        Ok(page::fetch(self.db(), select, message::Column::Id, |m| m.id, req, true).await?.map(message_record))
    }

    /// One message of the tenant.
    pub async fn get_message(&self, tenant: Uuid, id: Uuid) -> Result<Message, StoreError> {
        message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::Id.eq(id))
            .one(self.db())
            .await?
            .map(message_record)
            .ok_or(StoreError::NotFound)
    }

    /// The tenant's texts since `since` (found by their time-ordered ids, so the count reads the
    /// tenant's index), and its jobs waiting, under way or dead now.
    pub async fn activity(&self, tenant: Uuid, since: DateTime<Utc>) -> Result<Activity, StoreError> {
        let from = crate::page::id_floor(since);
        let counts: Vec<(String, String, i64)> = message::Entity::find()
            .select_only()
            .column(message::Column::Direction)
            .column(message::Column::Status)
            .column_as(message::Column::Id.count(), "n")
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::Id.gte(from))
            .group_by(message::Column::Direction)
            .group_by(message::Column::Status)
            .into_tuple()
            .all(self.db())
            .await?;
        let mut a = Activity::default();
        for (direction, status, n) in counts {
            let n = n.max(0).cast_unsigned();
            if direction == Direction::Inbound.as_str() {
                a.inbound += n;
            } else {
                a.outbound += n;
            }
            if status == MessageStatus::Failed.as_str() {
                a.failed += n;
            }
        }
        let jobs: Vec<(String, i64)> = job::Entity::find()
            .select_only()
            .column(job::Column::State)
            .column_as(job::Column::Id.count(), "n")
            .filter(job::Column::TenantId.eq(tenant))
            .filter(job::Column::State.is_in(["pending", "running", "dead"]))
            .group_by(job::Column::State)
            .into_tuple()
            .all(self.db())
            .await?;
        for (state, n) in jobs {
            let n = n.max(0).cast_unsigned();
            if state == "dead" { a.dead += n } else { a.queued += n }
        }
        Ok(a)
    }

    /// The tenant's opt-outs, oldest first.
    pub async fn list_opt_outs(&self, tenant: Uuid, req: PageRequest) -> Result<Page<OptOut>, StoreError> {
        let select = opt_out::Entity::find().filter(opt_out::Column::TenantId.eq(tenant));
        Ok(page::fetch(self.db(), select, opt_out::Column::Id, |m| m.id, req, false).await?.map(opt_out_record))
    }

    /// Lifts every opt-out of `remote` in the tenant (per number and tenant-wide).
    pub async fn delete_opt_outs(&self, tenant: Uuid, remote: &str) -> Result<(), StoreError> {
        let remote = E164::parse(remote).map_err(|_| StoreError::NotFound)?;
        let res = opt_out::Entity::delete_many()
            .filter(opt_out::Column::TenantId.eq(tenant))
            .filter(opt_out::Column::Remote.eq(remote.as_str()))
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
