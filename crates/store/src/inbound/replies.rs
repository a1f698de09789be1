//! The rare paths of a text, written as it is decided so a later text of its batch sees them:
//! the opt-out change its keyword makes, and the automatic replies it gets.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use switchboard_core::routing::{OptOutChange, Reply, RouteDecision};
use switchboard_core::status::Origin;
use uuid::Uuid;

use super::types::InboundText;
use crate::entity::job;
use crate::events::{self, Work};
use crate::outbound::{NewOutbound, insert_outbound, is_opted_out};
use crate::{StoreError, new_id, sql};

/// Queues the decision's automatic replies (auto-reply, HELP answer) to a sender that can be
/// texted back, in the conversation's order (`ordering`); returns whether one was queued.
pub(super) async fn queue_replies(
    txn: &impl ConnectionTrait,
    text: &InboundText,
    decision: &RouteDecision,
    (contact_id, company_id): (Option<Uuid>, Option<Uuid>),
    ordering: &str,
    at: DateTime<Utc>,
    jobs: &mut Vec<job::ActiveModel>,
) -> Result<bool, StoreError> {
    if !text.remote_reachable || decision.replies.is_empty() {
        return Ok(false);
    }
    let opted_out = is_opted_out(txn, text.tenant_id, &text.remote, &text.number).await?;
    let mut replied = false;
    for reply in &decision.replies {
        let (origin, body) = match reply {
            // Nothing but the HELP answer goes to a party that has opted out.
            Reply::AutoReply { .. } if opted_out => continue,
            Reply::AutoReply { body } => (Origin::AutoReply, body),
            Reply::Help { body } => (Origin::HelpReply, body),
        };
        // Either kind starts the day in which the remote gets no other automatic reply.
        replied = true;
        let reply_id = new_id();
        insert_outbound(
            txn,
            NewOutbound {
                id: reply_id,
                tenant: text.tenant_id,
                number: &text.number,
                remote: &text.remote,
                body: Some(body),
                media_urls: &[],
                attachments: &[],
                sender_extension: None,
                contact_id,
                company_id,
                origin,
                automated: origin == Origin::AutoReply,
                at,
            },
        )
        .await?;
        // An auto-reply may wait for quiet hours: on a key of its own, it holds up nothing else.
        let send = if origin == Origin::AutoReply { events::automated_key(reply_id) } else { ordering.to_owned() };
        jobs.push(events::job_model(new_id(), text.tenant_id, &send, Work::Send { message_id: reply_id }, at));
    }
    Ok(replied)
}

/// Records a STOP (or START) the decision found.
pub(super) async fn apply_opt_out(
    db: &impl ConnectionTrait,
    text: &InboundText,
    decision: &RouteDecision,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match decision.opt_out {
        Some(OptOutChange::OptOut { all_numbers }) => {
            let scope = if all_numbers { "all".to_owned() } else { text.number.clone() };
            sql::execute(
                db,
                "INSERT INTO opt_out (id, tenant_id, scope, remote, keyword, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, remote, scope) DO NOTHING",
                vec![
                    new_id().into(),
                    text.tenant_id.into(),
                    scope.into(),
                    text.remote.clone().into(),
                    decision.keyword.unwrap_or("STOP").into(),
                    at.into(),
                ],
            )
            .await?;
        }
        Some(OptOutChange::OptIn) => {
            sql::execute(
                db,
                "DELETE FROM opt_out WHERE tenant_id = $1 AND remote = $2 AND (scope = $3 OR scope = 'all')",
                vec![text.tenant_id.into(), text.remote.clone().into(), text.number.clone().into()],
            )
            .await?;
        }
        None => {}
    }
    Ok(())
}
