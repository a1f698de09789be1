//! The deliveries to people an inbound batch adds beside the PBX webhook: a SIP MESSAGE to each
//! routed extension with a SIP user (of a tenant with a SIP server), and an email, due after the
//! extension's delay, to each with an email address.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::QueryResult;
use uuid::Uuid;

use crate::entity::job;
use crate::events::{self, Work};
use crate::sql::{self, Script};
use crate::{StoreError, new_id};

/// An inbound text routed to an extension, as a batch records it.
pub(crate) struct Routed {
    pub message_id: Uuid,
    pub tenant_id: Uuid,
    pub extension: String,
    pub number: String,
    pub remote: String,
}

/// An extension's channels beyond the webhook.
struct Channels {
    id: Uuid,
    sip: bool,
    /// The email's delay, when it has an address.
    email_after: Option<Duration>,
}

/// Adds to `script` the query of the routed extensions' channels, one statement a chunk of
/// routed pairs; [`channel_jobs`] reads its rows.
pub(crate) fn query_channels(script: &mut Script, routed: &[Routed]) {
    let pairs: BTreeSet<(Uuid, &str)> = routed.iter().map(|r| (r.tenant_id, r.extension.as_str())).collect();
    let pairs: Vec<(Uuid, &str)> = pairs.into_iter().collect();
    for chunk in pairs.chunks(sql::CHUNK) {
        let values = chunk.iter().flat_map(|(t, e)| [(*t).into(), (*e).to_owned().into()]).collect();
        script.push(
            format!(
                "SELECT e.id, e.tenant_id, e.extension, \
                   CASE WHEN e.sip_user IS NOT NULL AND t.sip_server IS NOT NULL THEN 1 ELSE 0 END AS sip, \
                   CASE WHEN e.email IS NOT NULL THEN e.email_delay_minutes END AS email_after \
                 FROM extension e JOIN tenant t ON t.id = e.tenant_id \
                 WHERE (e.tenant_id, e.extension) IN (VALUES {}) AND e.enabled \
                   AND ((e.sip_user IS NOT NULL AND t.sip_server IS NOT NULL) OR e.email IS NOT NULL)",
                sql::tuples(chunk.len(), 2)
            ),
            values,
        );
    }
}

/// The jobs the batch's routed texts need, from the `rows` of [`query_channels`], and the texts
/// that got a SIP delivery (whose worker is woken). Each channel's ordering key is the extension
/// and the conversation: one phone, or one mailbox, gets a conversation's texts in order.
pub(crate) fn channel_jobs(
    rows: &[QueryResult],
    routed: &[Routed],
    at: DateTime<Utc>,
) -> Result<(Vec<job::ActiveModel>, HashSet<Uuid>), StoreError> {
    let mut found: HashMap<(Uuid, String), Channels> = HashMap::with_capacity(rows.len());
    for row in rows {
        let sip: i32 = row.try_get("", "sip")?;
        let after: Option<i32> = row.try_get("", "email_after")?;
        let channels = Channels {
            id: row.try_get("", "id")?,
            sip: sip == 1,
            email_after: after.map(|m| Duration::minutes(i64::from(m))),
        };
        found.insert((row.try_get("", "tenant_id")?, row.try_get("", "extension")?), channels);
    }
    let (mut jobs, mut phones) = (Vec::new(), HashSet::new());
    if found.is_empty() {
        return Ok((jobs, phones));
    }
    for r in routed {
        let Some(c) = found.get(&(r.tenant_id, r.extension.clone())) else { continue };
        let conversation = events::ordering_key(&r.number, &r.remote);
        let (message_id, extension_id) = (r.message_id, c.id);
        if c.sip {
            let key = format!("sip|{extension_id}|{conversation}");
            jobs.push(events::job_model(new_id(), r.tenant_id, &key, Work::Sip { message_id, extension_id }, at));
            phones.insert(message_id);
        }
        if let Some(after) = c.email_after {
            let key = format!("email|{extension_id}|{conversation}");
            let work = Work::Email { message_id, extension_id };
            let mut job = events::job_model(new_id(), r.tenant_id, &key, work, at);
            job.next_attempt_at = sea_orm::Set(at + after);
            jobs.push(job);
        }
    }
    Ok((jobs, phones))
}
