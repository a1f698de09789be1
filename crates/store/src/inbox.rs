//! What extensions read: their conversations (newest first, with unread counts), the messages of
//! one conversation, single messages, marking read, and the event log for live streams.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use switchboard_core::event::{ConversationUpdated, EventBody, Named};

use crate::entity::{event, message};
use crate::events;
use crate::messages::{Message, message_record};
use crate::page::{MAX_LIMIT, Page};
use crate::{Store, StoreError, now, sql};

/// Whose view: one extension's, or the whole tenant's (a tenant admin).
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    Extension(&'a str),
    Tenant,
}

/// A person reading in the portal: unread counts and read markers are theirs. Texts from before
/// their account was made count as read.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub account: Uuid,
    pub since: DateTime<Utc>,
}

impl Reader {
    /// The smallest time-ordered id made at `since`: every text made before it is below it.
    fn floor(&self) -> Uuid {
        let ms = u64::try_from(self.since.timestamp_millis()).unwrap_or(0);
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        Uuid::from_bytes(bytes)
    }
}

/// Which of the viewer's conversations a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shown {
    /// Every one, done or not.
    #[default]
    All,
    /// Those not marked done.
    Open,
    /// Those marked done.
    Done,
    /// Those the account took and has not marked done.
    TakenBy(Uuid),
}

/// What a conversation list asks for beyond its page.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConversationQuery<'a> {
    /// Digits of the other party's number, a contact's name, or a word of a text.
    pub search: Option<&'a str>,
    pub shown: Shown,
    /// Counts unread by this person; without one, by the extension (or all of the tenant's).
    pub reader: Option<Reader>,
}

/// A change to a conversation in a shared inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// The account takes it (from whoever had it).
    Take(Uuid),
    /// The account lets go of it (only its holder may).
    LetGo(Uuid),
    Done,
    Reopen,
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
    /// Texts not yet read by the reader (without one: by this extension; for a tenant admin, by
    /// all its extensions).
    pub unread: i64,
    /// Who took it, if someone has: their account and name.
    pub assigned_to: Option<(Uuid, String)>,
    pub done_at: Option<DateTime<Utc>>,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.number, c.remote, c.last_message_id, c.last_message_at, c.assigned_to, \
     a.name AS assignee, c.done_at";

fn conversation_row(r: &sea_orm::QueryResult) -> Result<Conversation, StoreError> {
    let assigned: Option<Uuid> = r.try_get("", "assigned_to")?;
    let assignee: Option<String> = r.try_get("", "assignee")?;
    Ok(Conversation {
        id: r.try_get("", "id")?,
        number: r.try_get("", "number")?,
        remote: r.try_get("", "remote")?,
        last_message_id: r.try_get("", "last_message_id")?,
        last_message_at: r.try_get("", "last_message_at")?,
        unread: r.try_get::<Option<i64>>("", "unread")?.unwrap_or(0),
        // A holder whose account is gone holds nothing.
        assigned_to: assigned.zip(assignee),
        done_at: r.try_get("", "done_at")?,
    })
}

/// An event from the log.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub seq: i64,
    pub event_type: String,
    pub payload: Value,
}

/// The condition on conversation `c` that the viewer may see it, its parameter added to `values`:
/// an extension's inbox holds the conversations it has a row of counts in (the list's rule, one
/// primary-key probe); a tenant admin's, all of them.
fn visible_to(viewer: Viewer<'_>, values: &mut Vec<sea_orm::Value>) -> String {
    match viewer {
        Viewer::Extension(ext) => {
            values.push(ext.into());
            format!(
                "AND EXISTS (SELECT 1 FROM conversation_unread u WHERE u.conversation_id = c.id AND u.extension = ${})",
                values.len()
            )
        }
        Viewer::Tenant => String::new(),
    }
}

/// One conversation (its `unread` left at 0), if the viewer may see it.
async fn fetch_conversation(
    db: &impl sea_orm::ConnectionTrait,
    tenant: Uuid,
    viewer: Viewer<'_>,
    id: Uuid,
) -> Result<Conversation, StoreError> {
    let mut values: Vec<sea_orm::Value> = vec![tenant.into(), id.into()];
    let visible = visible_to(viewer, &mut values);
    let rows = sql::query(
        db,
        &format!(
            "SELECT {CONVERSATION_COLUMNS}, CAST(0 AS BIGINT) AS unread FROM conversation c \
             LEFT JOIN account a ON a.id = c.assigned_to WHERE c.tenant_id = $1 AND c.id = $2 {visible}"
        ),
        values,
    )
    .await?;
    rows.first().map_or(Err(StoreError::NotFound), conversation_row)
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
        query: ConversationQuery<'_>,
    ) -> Result<Page<Conversation>, StoreError> {
        let after = parse_cursor(cursor)?;
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut values: Vec<sea_orm::Value> = vec![tenant.into()];
        let mut param = |v: sea_orm::Value| {
            values.push(v);
            format!("${}", values.len())
        };
        let search = match query.search.map(str::trim).filter(|s| !s.is_empty()) {
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
        let join = match viewer {
            Viewer::Extension(ext) => {
                format!(
                    "JOIN conversation_unread u ON u.conversation_id = c.id AND u.extension = {}",
                    param(ext.into())
                )
            }
            Viewer::Tenant => String::new(),
        };
        let unread = match (query.reader, viewer) {
            // A person's: the inbound texts they may see, after the last they read.
            (Some(reader), viewer) => {
                let marker = format!(
                    "COALESCE((SELECT r.read_through FROM conversation_read r WHERE r.conversation_id = c.id \
                     AND r.account_id = {}), {})",
                    param(reader.account.into()),
                    param(reader.floor().into())
                );
                match viewer {
                    Viewer::Extension(ext) => format!(
                        "(SELECT COUNT(*) FROM message_extension x JOIN message m ON m.id = x.message_id \
                         WHERE x.tenant_id = $1 AND x.extension = {} AND x.remote = c.remote AND m.number = c.number \
                         AND m.direction = 'inbound' AND x.message_id > {marker})",
                        param(ext.into())
                    ),
                    Viewer::Tenant => format!(
                        "(SELECT COUNT(*) FROM message m WHERE m.tenant_id = $1 AND m.number = c.number \
                         AND m.remote = c.remote AND m.direction = 'inbound' AND m.id > {marker})"
                    ),
                }
            }
            (None, Viewer::Extension(_)) => "CAST(u.unread AS BIGINT)".to_owned(),
            (None, Viewer::Tenant) => {
                "(SELECT CAST(COALESCE(SUM(u.unread), 0) AS BIGINT) FROM conversation_unread u WHERE u.conversation_id = c.id)"
                    .to_owned()
            }
        };
        let shown = match query.shown {
            Shown::All => String::new(),
            Shown::Open => "AND c.done_at IS NULL".to_owned(),
            Shown::Done => "AND c.done_at IS NOT NULL".to_owned(),
            Shown::TakenBy(account) => format!("AND c.done_at IS NULL AND c.assigned_to = {}", param(account.into())),
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
            "SELECT {CONVERSATION_COLUMNS}, {unread} AS unread \
             FROM conversation c {join} LEFT JOIN account a ON a.id = c.assigned_to \
             WHERE c.tenant_id = $1 {keyset} {shown} {search} \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT {lim}"
        );
        let rows = sql::query(self.db(), &text, values).await?;
        let mut items = rows.iter().map(conversation_row).collect::<Result<Vec<_>, StoreError>>()?;
        let more = items.len() as u64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|c| format!("{}_{}", c.last_message_at.timestamp_micros(), c.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The messages between the tenant (on `number`, or on any of its numbers) and `remote` that
    /// the viewer may see, newest first.
    pub async fn conversation_messages(
        &self,
        tenant: Uuid,
        viewer: Viewer<'_>,
        (number, remote): (Option<&str>, &str),
        limit: u64,
        cursor: Option<Uuid>,
    ) -> Result<Page<Message>, StoreError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut select = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::Remote.eq(remote))
            .order_by_desc(message::Column::Id);
        if let Some(number) = number {
            select = select.filter(message::Column::Number.eq(number));
        }
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

    /// The person signed in with `account`, as a reader of the inbox, and their name.
    pub async fn reader(&self, account: Uuid) -> Result<(Reader, String), StoreError> {
        let a =
            crate::entity::account::Entity::find_by_id(account).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        Ok((Reader { account: a.id, since: a.created_at }, a.name))
    }

    /// One conversation the viewer may see: a tenant admin, any of the tenant's; an extension, one
    /// it was routed a text of or sent one in.
    pub async fn conversation(&self, tenant: Uuid, viewer: Viewer<'_>, id: Uuid) -> Result<Conversation, StoreError> {
        fetch_conversation(self.db(), tenant, viewer, id).await
    }

    /// The newest conversation with `remote` the viewer may see.
    pub async fn conversation_with(&self, tenant: Uuid, viewer: Viewer<'_>, remote: &str) -> Result<Uuid, StoreError> {
        let mut values: Vec<sea_orm::Value> = vec![tenant.into(), remote.into()];
        let visible = visible_to(viewer, &mut values);
        let rows = sql::query(
            self.db(),
            &format!(
                "SELECT c.id FROM conversation c WHERE c.tenant_id = $1 AND c.remote = $2 {visible} \
                 ORDER BY c.last_message_at DESC, c.id DESC LIMIT 1"
            ),
            values,
        )
        .await?;
        rows.first().map_or(Err(StoreError::NotFound), |r| Ok(r.try_get("", "id")?))
    }

    /// Records that the reader has read the conversation up to the text `through` (never moving
    /// the marker back: a page read late does not unread what a newer one showed).
    pub async fn mark_read_by(&self, reader: Reader, conversation: Uuid, through: Uuid) -> Result<(), StoreError> {
        sql::execute(
            self.db(),
            "INSERT INTO conversation_read (conversation_id, account_id, read_through) VALUES ($1, $2, $3) \
             ON CONFLICT (conversation_id, account_id) DO UPDATE SET read_through = excluded.read_through \
             WHERE conversation_read.read_through < excluded.read_through",
            vec![conversation.into(), reader.account.into(), through.into()],
        )
        .await?;
        Ok(())
    }

    /// Takes, lets go of, finishes or reopens a conversation the viewer may see, with its
    /// `conversation.updated` event (for the live streams of everyone who shares it). `by` is the
    /// name of the person.
    pub async fn handle_conversation(
        &self,
        tenant: Uuid,
        viewer: Viewer<'_>,
        id: Uuid,
        handling: Handling,
        by: &str,
    ) -> Result<(Conversation, events::AppendedEvent), StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        fetch_conversation(&txn, tenant, viewer, id).await?;
        // What to set, and the condition that makes the change (beyond the id and tenant, $1 and $2).
        let (set, condition, values): (&str, &str, Vec<sea_orm::Value>) = match handling {
            Handling::Take(account) => {
                ("assigned_to = $3, assigned_at = $4", "", vec![id.into(), tenant.into(), account.into(), at.into()])
            }
            Handling::LetGo(account) => (
                "assigned_to = NULL, assigned_at = NULL",
                "AND assigned_to = $3",
                vec![id.into(), tenant.into(), account.into()],
            ),
            Handling::Done => ("done_at = $3", "AND done_at IS NULL", vec![id.into(), tenant.into(), at.into()]),
            Handling::Reopen => ("done_at = NULL", "", vec![id.into(), tenant.into()]),
        };
        let changed = sql::execute(
            &txn,
            &format!("UPDATE conversation SET {set} WHERE id = $1 AND tenant_id = $2 {condition}"),
            values,
        )
        .await?;
        if changed == 0 && matches!(handling, Handling::LetGo(_)) {
            return Err(StoreError::Conflict("only the person who has this conversation can let it go".into()));
        }
        let c = fetch_conversation(&txn, tenant, Viewer::Tenant, id).await?;
        let rows = sql::query(
            &txn,
            "SELECT extension FROM conversation_unread WHERE conversation_id = $1 ORDER BY extension",
            vec![c.id.into()],
        )
        .await?;
        let extensions = rows.iter().map(|r| r.try_get("", "extension")).collect::<Result<Vec<String>, _>>()?;
        let body = EventBody::ConversationUpdated(ConversationUpdated {
            conversation_id: c.id,
            number: c.number.clone(),
            remote: c.remote.clone(),
            extensions,
            assigned_to: c.assigned_to.clone().map(|(id, name)| Named { id, name }),
            done: c.done_at.is_some(),
            changed_by: by.to_owned(),
        });
        let event = events::append_unrouted(&txn, tenant, body, at).await?;
        txn.commit().await?;
        Ok((c, event))
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
