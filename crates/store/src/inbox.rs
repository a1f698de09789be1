//! What extensions read: their conversations (newest first, with unread counts), the messages of
//! one conversation, single messages, marking read, and the event log for live streams.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{event, message};
use crate::messages::{Message, message_record};
use crate::page::{MAX_LIMIT, Page};
use crate::{Store, StoreError, sql};

/// Whose view: one extension's, or the whole tenant's (a tenant admin).
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    Extension(&'a str),
    Tenant,
}

/// A conversation as an inbox shows it.
#[derive(Debug, Clone)]
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
}

/// An event from the log.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub seq: i64,
    pub event_type: String,
    pub payload: Value,
}

/// `%text%` for LIKE, with LIKE's own characters escaped by `\`.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Who the other party of a conversation is, where the tenant knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyName {
    pub contact: Option<String>,
    pub company: Option<String>,
}

fn parse_cursor(cursor: Option<&str>) -> Result<Option<(DateTime<Utc>, Uuid)>, StoreError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else { return Ok(None) };
    let bad = || StoreError::invalid("cursor", "must be a next_cursor value from a previous page");
    let (micros, id) = c.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok(Some((at, Uuid::try_parse(id).map_err(|_| bad())?)))
}

impl Store {
    /// Conversations newest first; an extension sees those it was ever routed a text of. With
    /// `search`, only those whose other party's number holds its digits, whose contact's name
    /// holds it, or one of whose texts the viewer may see holds it (ignoring ASCII case).
    pub async fn list_conversations(
        &self,
        tenant: Uuid,
        viewer: Viewer<'_>,
        limit: u64,
        cursor: Option<&str>,
        search: Option<&str>,
    ) -> Result<Page<Conversation>, StoreError> {
        let after = parse_cursor(cursor)?;
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut values: Vec<sea_orm::Value> = vec![tenant.into()];
        let mut param = |v: sea_orm::Value| {
            values.push(v);
            format!("${}", values.len())
        };
        let search = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => {
                let words = param(like_pattern(&s.to_lowercase()).into());
                let digits: String = s.chars().filter(char::is_ascii_digit).collect();
                let by_number = if digits.len() >= 3 {
                    format!("c.remote LIKE {} ESCAPE '\\' OR ", param(like_pattern(&digits).into()))
                } else {
                    String::new()
                };
                let visible = match viewer {
                    Viewer::Extension(ext) => format!(
                        "AND m.id IN (SELECT x.message_id FROM message_extension x WHERE x.tenant_id = $1 \
                         AND x.extension = {} AND x.remote = c.remote)",
                        param(ext.into())
                    ),
                    Viewer::Tenant => String::new(),
                };
                format!(
                    "AND ({by_number}\
                     c.remote IN (SELECT p.phone FROM contact p WHERE p.tenant_id = $1 AND LOWER(p.name) LIKE {words} ESCAPE '\\') OR \
                     EXISTS (SELECT 1 FROM message m WHERE m.tenant_id = $1 AND m.number = c.number AND m.remote = c.remote \
                       AND LOWER(m.body) LIKE {words} ESCAPE '\\' {visible}))"
                )
            }
            None => String::new(),
        };
        let (unread, join) = match viewer {
            Viewer::Extension(ext) => (
                "CAST(u.unread AS BIGINT)".to_owned(),
                format!("JOIN conversation_unread u ON u.conversation_id = c.id AND u.extension = {}", param(ext.into())),
            ),
            Viewer::Tenant => (
                "(SELECT CAST(COALESCE(SUM(u.unread), 0) AS BIGINT) FROM conversation_unread u WHERE u.conversation_id = c.id)"
                    .to_owned(),
                String::new(),
            ),
        };
        let keyset = match after {
            Some((at, id)) => {
                let (a, b, i) = (param(at.into()), param(at.into()), param(id.into()));
                format!("AND (c.last_message_at < {a} OR (c.last_message_at = {b} AND c.id < {i}))")
            }
            None => String::new(),
        };
        let lim = param(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
        let text = format!(
            "SELECT c.id, c.number, c.remote, c.last_message_id, c.last_message_at, {unread} AS unread \
             FROM conversation c {join} WHERE c.tenant_id = $1 {keyset} {search} \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT {lim}"
        );
        let rows = sql::query(self.db(), &text, values).await?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(Conversation {
                    id: r.try_get("", "id")?,
                    number: r.try_get("", "number")?,
                    remote: r.try_get("", "remote")?,
                    last_message_id: r.try_get("", "last_message_id")?,
                    last_message_at: r.try_get("", "last_message_at")?,
                    unread: r.try_get::<Option<i64>>("", "unread")?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let more = items.len() as u64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|c| format!("{}_{}", c.last_message_at.timestamp_micros(), c.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The messages between the tenant and `remote` that the viewer may see, newest first.
    pub async fn conversation_messages(
        &self,
        tenant: Uuid,
        viewer: Viewer<'_>,
        remote: &str,
        limit: u64,
        cursor: Option<Uuid>,
    ) -> Result<Page<Message>, StoreError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut select = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::Remote.eq(remote))
            .order_by_desc(message::Column::Id);
        if let Viewer::Extension(ext) = viewer {
            let ids = self.visible_ids(tenant, ext, Some(remote)).await?;
            select = select.filter(message::Column::Id.is_in(ids));
        }
        let req = crate::PageRequest { limit, cursor };
        let page = crate::page::fetch(self.db(), select, message::Column::Id, |m| m.id, req, true).await?;
        if page.items.is_empty() && cursor.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(page.map(message_record))
    }

    async fn visible_ids(&self, tenant: Uuid, ext: &str, remote: Option<&str>) -> Result<Vec<Uuid>, StoreError> {
        let rows =
            match remote {
                Some(r) => sql::query(
                    self.db(),
                    "SELECT message_id FROM message_extension WHERE tenant_id = $1 AND extension = $2 AND remote = $3",
                    vec![tenant.into(), ext.into(), r.into()],
                )
                .await?,
                None => {
                    sql::query(
                        self.db(),
                        "SELECT message_id FROM message_extension WHERE tenant_id = $1 AND extension = $2",
                        vec![tenant.into(), ext.into()],
                    )
                    .await?
                }
            };
        rows.iter().map(|r| Ok(r.try_get("", "message_id")?)).collect()
    }

    /// One message the viewer may see.
    pub async fn viewer_message(&self, tenant: Uuid, viewer: Viewer<'_>, id: Uuid) -> Result<Message, StoreError> {
        if let Viewer::Extension(ext) = viewer {
            let rows = sql::query(
                self.db(),
                "SELECT 1 AS x FROM message_extension WHERE tenant_id = $1 AND extension = $2 AND message_id = $3",
                vec![tenant.into(), ext.into(), id.into()],
            )
            .await?;
            if rows.is_empty() {
                return Err(StoreError::NotFound);
            }
        }
        self.get_message(tenant, id).await
    }

    /// Marks the viewer's conversations with `remote` read; `NotFound` when there are none.
    pub async fn mark_read(&self, tenant: Uuid, viewer: Viewer<'_>, remote: &str) -> Result<(), StoreError> {
        let exists = sql::query(
            self.db(),
            "SELECT 1 AS x FROM conversation WHERE tenant_id = $1 AND remote = $2",
            vec![tenant.into(), remote.into()],
        )
        .await?;
        if exists.is_empty() {
            return Err(StoreError::NotFound);
        }
        let mut values = vec![tenant.into(), remote.into()];
        let filter = match viewer {
            Viewer::Extension(e) => {
                values.push(e.into());
                "AND extension = $3"
            }
            Viewer::Tenant => "",
        };
        sql::execute(
            self.db(),
            &format!(
                "UPDATE conversation_unread SET unread = 0 WHERE conversation_id IN \
                 (SELECT id FROM conversation WHERE tenant_id = $1 AND remote = $2) {filter}"
            ),
            values,
        )
        .await?;
        Ok(())
    }

    /// The sequence number of the tenant's last numbered event (0 before the first).
    pub async fn event_tail(&self, tenant: Uuid) -> Result<i64, StoreError> {
        let rows = sql::query(self.db(), "SELECT event_seq FROM tenant WHERE id = $1", vec![tenant.into()]).await?;
        rows.first().map_or(Err(StoreError::NotFound), |r| Ok(r.try_get("", "event_seq")?))
    }

    /// The last event number of each of `tenants` (those that exist), in one query.
    pub async fn event_tails(&self, tenants: &[Uuid]) -> Result<std::collections::HashMap<Uuid, i64>, StoreError> {
        let mut out = std::collections::HashMap::with_capacity(tenants.len());
        for chunk in tenants.chunks(crate::sql::CHUNK) {
            let rows = sql::query(
                self.db(),
                &format!("SELECT id, event_seq FROM tenant WHERE id IN {}", crate::sql::tuples(1, chunk.len())),
                chunk.iter().map(|t| (*t).into()).collect(),
            )
            .await?;
            for r in rows {
                out.insert(r.try_get("", "id")?, r.try_get("", "event_seq")?);
            }
        }
        Ok(out)
    }

    /// The tenant's events after `seq`, oldest first, at most `limit`.
    pub async fn events_after(&self, tenant: Uuid, seq: i64, limit: u64) -> Result<Vec<LoggedEvent>, StoreError> {
        use sea_orm::QuerySelect;
        Ok(event::Entity::find()
            .filter(event::Column::TenantId.eq(tenant))
            .filter(event::Column::Seq.gt(seq))
            .order_by_asc(event::Column::Seq)
            .limit(limit)
            .all(self.db())
            .await?
            .into_iter()
            // `seq > …` holds only for numbered events.
            .filter_map(|e| Some(LoggedEvent { seq: e.seq?, event_type: e.event_type, payload: e.payload }))
            .collect())
    }

    /// The contact (and its company) of each of `remotes` the tenant knows, by phone.
    pub async fn party_names(
        &self,
        tenant: Uuid,
        remotes: &[String],
    ) -> Result<std::collections::HashMap<String, PartyName>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for chunk in remotes.chunks(sql::CHUNK) {
            let mut values: Vec<sea_orm::Value> = chunk.iter().map(|r| r.clone().into()).collect();
            values.push(tenant.into());
            let rows = sql::query(
                self.db(),
                &format!(
                    "SELECT p.phone, p.name, c.name AS company FROM contact p LEFT JOIN company c ON c.id = p.company_id \
                     WHERE p.phone IN {} AND p.tenant_id = ${}",
                    sql::tuples(1, chunk.len()),
                    chunk.len() + 1
                ),
                values,
            )
            .await?;
            for r in rows {
                out.insert(
                    r.try_get("", "phone")?,
                    PartyName { contact: Some(r.try_get("", "name")?), company: r.try_get("", "company")? },
                );
            }
        }
        Ok(out)
    }

    /// The numbers `ext` may send from, in order; every number of the tenant for a tenant admin
    /// (`Viewer::Tenant`), at most `limit`.
    pub async fn sending_numbers(
        &self,
        tenant: Uuid,
        viewer: Viewer<'_>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match viewer {
            Viewer::Extension(ext) => {
                sql::query(
                    self.db(),
                    "SELECT n.e164 FROM number n JOIN number_sender s ON s.number_id = n.id \
                     JOIN extension e ON e.id = s.extension_id \
                     WHERE n.tenant_id = $1 AND e.tenant_id = $1 AND e.extension = $2 ORDER BY n.e164 LIMIT $3",
                    vec![tenant.into(), ext.into(), limit.into()],
                )
                .await?
            }
            Viewer::Tenant => {
                sql::query(
                    self.db(),
                    "SELECT e164 FROM number WHERE tenant_id = $1 ORDER BY e164 LIMIT $2",
                    vec![tenant.into(), limit.into()],
                )
                .await?
            }
        };
        rows.iter().map(|r| Ok(r.try_get("", "e164")?)).collect()
    }

    /// True when `remote` opted out of `number` (or of every number of the tenant).
    pub async fn opted_out(&self, tenant: Uuid, remote: &str, number: &str) -> Result<bool, StoreError> {
        crate::outbound::is_opted_out(self.db(), tenant, remote, number).await
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn a_search_matches_its_characters_literally() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
        assert_eq!(like_pattern("dentist"), "%dentist%");
    }
}
