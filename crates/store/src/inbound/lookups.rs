//! What a batch reads before it writes: its conversations (created and locked), the texts already
//! stored, the contacts and companies its senders name, and what its events need, in one script
//! ([`read`]).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, QueryResult, Value as Sql};
use switchboard_core::event::Named;
use uuid::Uuid;

use super::types::{ConvKey, InboundText, Item, conv_key};
use crate::entity::conversation;
use crate::events::{self, EventTenant, Known};
use crate::sql::{self, Script};
use crate::{StoreError, new_id};

/// Which query of the read's script a row answers (its `part` column).
const CONVERSATION: i32 = 1;
const STORED: i32 = 2;
const CONTACT: i32 = 3;
const COMPANY: i32 = 4;
const EVENT_TENANT: i32 = 5;
const LAST_EVENT: i32 = 6;

/// What a batch reads: its conversations, locked, by key; its texts already stored, by tenant and
/// provider id; its senders' contacts and companies; what its events need.
pub(super) struct Read {
    pub conversations: HashMap<ConvKey, conversation::Model>,
    pub stored: HashMap<(Uuid, String), Uuid>,
    pub directory: Directory,
    pub events: EventsRead,
}

/// What a batch's events need, read with the rest so that they need no read of their own; which
/// depends on where events are numbered.
pub(super) enum EventsRead {
    /// In the transaction (SQLite): each tenant's counter, slug and webhook, and the last event id.
    Numbered(Known),
    /// After commit (PostgreSQL): each tenant's slug and webhook, read with its conversations.
    Unnumbered(HashMap<Uuid, EventTenant>),
}

impl EventsRead {
    /// The counters being read, where events are numbered in the transaction.
    fn numbered(&mut self) -> Result<&mut Known, StoreError> {
        match self {
            Self::Numbered(known) => Ok(known),
            Self::Unnumbered(_) => {
                Err(StoreError::internal("the batch's read gave event counters where none are kept"))
            }
        }
    }
}

/// Creates the batch's missing conversations, then reads [`Read`], in one script: on SQLite, one
/// call. Each query names its rows with a `part` column.
pub(super) async fn read(db: &impl ConnectionTrait, items: &[Item], at: DateTime<Utc>) -> Result<Read, StoreError> {
    let mut script = Script::default();
    let backend = db.get_database_backend();
    conversations(&mut script, backend, items, at);
    if backend == DbBackend::Postgres {
        stored_and_contacts(&mut script, items);
    } else {
        stored(&mut script, items);
        Directory::contacts(&mut script, items);
    }
    Directory::catch_alls(&mut script, items);
    let numbered_here = !events::numbers_after_commit(backend);
    if numbered_here {
        let tenants: BTreeSet<Uuid> = items.iter().map(|i| i.text.tenant_id).collect();
        events::query_known(&mut script, &tenants, EVENT_TENANT, LAST_EVENT);
    }
    let mut read = Read {
        conversations: HashMap::new(),
        stored: HashMap::new(),
        directory: Directory::default(),
        events: if numbered_here {
            EventsRead::Numbered(Known::default())
        } else {
            EventsRead::Unnumbered(HashMap::new())
        },
    };
    for row in script.run(db).await? {
        match row.try_get::<i32>("", "part")? {
            CONVERSATION => {
                let c = conversation::Model::from_query_result(&row, "")?;
                if let EventsRead::Unnumbered(tenants) = &mut read.events {
                    tenants.insert(c.tenant_id, EventTenant::unnumbered(&row)?);
                }
                read.conversations.insert((c.tenant_id, c.number.clone(), c.remote.clone()), c);
            }
            STORED => {
                let key = (row.try_get("", "tenant_id")?, row.try_get("", "provider_message_id")?);
                read.stored.insert(key, row.try_get("", "id")?);
            }
            CONTACT => read.directory.contact(&row)?,
            COMPANY => {
                read.directory
                    .companies
                    .insert(row.try_get("", "id")?, (row.try_get("", "tenant_id")?, row.try_get("", "name")?));
            }
            EVENT_TENANT => read.events.numbered()?.tenant(&row)?,
            LAST_EVENT => read.events.numbered()?.last_id = row.try_get("", "last_id")?,
            other => return Err(StoreError::internal(format!("the batch's read gave a row of part {other}"))),
        }
    }
    Ok(read)
}

/// Contacts (by tenant and phone) and companies (by id) the batch's senders name.
#[derive(Default)]
pub(super) struct Directory {
    contacts: HashMap<(Uuid, String), (Uuid, String, Option<Uuid>)>,
    companies: HashMap<Uuid, (Uuid, String)>,
}

impl Directory {
    /// The senders' contacts, each with its company (SQLite; PostgreSQL reads them with the
    /// stored texts, [`stored_and_contacts`]).
    fn contacts(script: &mut Script, items: &[Item]) {
        let pairs = senders(items);
        script.push(
            format!(
                "SELECT {CONTACT} AS part, c.id, c.tenant_id, c.phone, c.name, c.company_id, \
                 co.tenant_id AS company_tenant_id, co.name AS company_name \
                 FROM (VALUES {}) AS k JOIN contact c ON c.tenant_id = k.column1 AND c.phone = k.column2 \
                 LEFT JOIN company co ON co.id = c.company_id",
                sql::tuples(pairs.len(), 2)
            ),
            tuple_values(&pairs),
        );
    }

    /// The catch-all companies the batch's texts name.
    fn catch_alls(script: &mut Script, items: &[Item]) {
        let ids: BTreeSet<Uuid> = items.iter().filter_map(|i| i.text.catch_all_company_id).collect();
        if !ids.is_empty() {
            script.push(
                format!(
                    "SELECT {COMPANY} AS part, id, tenant_id, name FROM company WHERE id IN {}",
                    sql::tuples(1, ids.len())
                ),
                ids.iter().map(|id| (*id).into()).collect(),
            );
        }
    }

    /// Keeps a contact row of [`Directory::contacts`] or [`stored_and_contacts`], and its company.
    fn contact(&mut self, r: &QueryResult) -> Result<(), StoreError> {
        let tenant: Uuid = r.try_get("", "tenant_id")?;
        let company_id: Option<Uuid> = r.try_get("", "company_id")?;
        if let Some(company) = company_id {
            let found: Option<Uuid> = r.try_get("", "company_tenant_id")?;
            if let Some(company_tenant) = found {
                self.companies.insert(company, (company_tenant, r.try_get("", "company_name")?));
            }
        }
        self.contacts.insert(
            (tenant, r.try_get::<String>("", "phone")?),
            (r.try_get("", "id")?, r.try_get("", "name")?, company_id),
        );
        Ok(())
    }

    /// The sender's contact and company (the contact's, else the catch-all).
    pub(super) fn named(&self, text: &InboundText) -> (Option<Named>, Option<Named>) {
        let found = self.contacts.get(&(text.tenant_id, text.remote.clone()));
        let company_id = found.and_then(|c| c.2).or(text.catch_all_company_id);
        let company = company_id
            .and_then(|id| self.companies.get(&id).map(|c| (id, c)))
            .filter(|(_, (tenant, _))| *tenant == text.tenant_id);
        let contact = found.map(|c| Named { id: c.0, name: c.1.clone() });
        (contact, company.map(|(id, c)| Named { id, name: c.1.clone() }))
    }
}

/// Adds the creation of the batch's missing conversations and the locking read of all of them,
/// in key order, so two batches never wait on each other in a cycle.
///
/// On PostgreSQL one statement does both: an upsert whose conflict arm changes nothing but locks
/// the row and returns it, as `SELECT … FOR UPDATE` would, through `ux_conversation_pair`, the
/// index the conflict is decided on, whatever the statistics say. Rows are locked as the
/// `VALUES` list is read, in key order (`keys` is sorted). The locking read it replaces was one
/// more statement per batch, planned afresh at every call (the planner saw its keys' count):
/// 0.6 s of PostgreSQL's time in a run of 20,000 texts (docs/BENCHMARKS.md, 2026-12-07,
/// thirteenth part). Each row comes with its tenant's slug and webhook, which the batch's events
/// need (the events read them with a statement of their own before). SQLite, whose write lock
/// covers everything, inserts and then reads (and reads its tenants with the events' counters).
fn conversations(script: &mut Script, backend: DbBackend, items: &[Item], at: DateTime<Utc>) {
    let keys: BTreeSet<ConvKey> = items.iter().map(|i| conv_key(&i.text)).collect();
    let rows = keys
        .iter()
        .map(|(tenant, number, remote)| {
            vec![new_id().into(), (*tenant).into(), number.clone().into(), remote.clone().into(), at.into(), at.into()]
        })
        .collect();
    let head = "INSERT INTO conversation (id, tenant_id, number, remote, last_message_at, created_at)";
    if backend == DbBackend::Postgres {
        script.insert_rows(
            head,
            &format!(
                "ON CONFLICT (tenant_id, number, remote) DO UPDATE SET tenant_id = excluded.tenant_id \
                 RETURNING {CONVERSATION} AS part, conversation.*, \
                 (SELECT t.slug FROM tenant t WHERE t.id = conversation.tenant_id) AS slug, \
                 (SELECT t.webhook_url FROM tenant t WHERE t.id = conversation.tenant_id) AS webhook_url"
            ),
            rows,
        );
        return;
    }
    script.insert_rows(head, "ON CONFLICT (tenant_id, number, remote) DO NOTHING", rows);
    // One probe of `ux_conversation_pair` per key (a list of row values was a scan of the table).
    let mut values: Vec<Sql> = Vec::with_capacity(keys.len() * 3);
    for (tenant, number, remote) in &keys {
        values.extend([(*tenant).into(), number.clone().into(), remote.clone().into()]);
    }
    script.push(
        format!(
            "SELECT {CONVERSATION} AS part, c.* FROM (VALUES {}) AS k JOIN conversation c \
             ON c.tenant_id = k.column1 AND c.number = k.column2 AND c.remote = k.column3",
            sql::tuples(keys.len(), 3)
        ),
        values,
    );
}

/// Adds the query of the batch's inbound messages already stored, by tenant and provider id: ids
/// are unique per tenant only, so another tenant's text with the same id is no duplicate (SQLite;
/// PostgreSQL reads them with the contacts, [`stored_and_contacts`]).
fn stored(script: &mut Script, items: &[Item]) {
    let keys = provider_ids(items);
    script.push(
        format!(
            "SELECT {STORED} AS part, m.id, m.tenant_id, m.provider_message_id FROM (VALUES {}) AS k \
             JOIN message m ON m.tenant_id = k.column1 AND m.direction = 'inbound' \
             AND m.provider_message_id = k.column2",
            sql::tuples(keys.len(), 2)
        ),
        tuple_values(&keys),
    );
}

/// On PostgreSQL, what [`stored`] and [`Directory::contacts`] read, as one statement: one round
/// trip, not two (docs/BENCHMARKS.md, 2026-12-07 fifteenth part). Its two halves are joined by
/// `UNION ALL`, each padding the other's columns with NULLs; the `part` column tells them apart.
/// Each key is one probe of its unique index (`ux_message_provider_id_tenant`,
/// `ux_contact_tenant_phone`): as `IN (…)`, PostgreSQL planned the stored texts' query (on
/// statistics that lagged a burst) as a scan of every inbound message. The keys go as arrays, so
/// the statement's text is the same for every batch.
fn stored_and_contacts(script: &mut Script, items: &[Item]) {
    let (tenants, ids) = arrays(&provider_ids(items));
    let (senders_tenants, phones) = arrays(&senders(items));
    script.push(
        format!(
            "SELECT {STORED} AS part, m.id, m.tenant_id, m.provider_message_id, NULL::text AS phone, \
               NULL::text AS name, NULL::uuid AS company_id, NULL::uuid AS company_tenant_id, \
               NULL::text AS company_name \
             FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, id) \
             CROSS JOIN LATERAL (SELECT id, tenant_id, provider_message_id FROM message \
               WHERE tenant_id = k.tenant_id AND direction = 'inbound' AND provider_message_id = k.id LIMIT 1) m \
             UNION ALL \
             SELECT {CONTACT}, c.id, c.tenant_id, NULL, c.phone, c.name, c.company_id, co.tenant_id, co.name \
             FROM unnest($3::uuid[], $4::text[]) AS k(tenant_id, phone) \
             CROSS JOIN LATERAL (SELECT * FROM contact WHERE tenant_id = k.tenant_id AND phone = k.phone LIMIT 1) c \
             LEFT JOIN company co ON co.id = c.company_id"
        ),
        vec![tenants.into(), ids.into(), senders_tenants.into(), phones.into()],
    );
}

/// The batch's provider ids, by tenant, each once.
fn provider_ids(items: &[Item]) -> BTreeSet<(Uuid, &str)> {
    items.iter().map(|i| (i.text.tenant_id, i.text.provider_message_id.as_str())).collect()
}

/// The batch's senders, by tenant, each once.
fn senders(items: &[Item]) -> BTreeSet<(Uuid, &str)> {
    items.iter().map(|i| (i.text.tenant_id, i.text.remote.as_str())).collect()
}

/// Keys by tenant as the values of `(VALUES (…), (…))` rows, a key's two in a row (SQLite).
fn tuple_values(keys: &BTreeSet<(Uuid, &str)>) -> Vec<Sql> {
    keys.iter().flat_map(|(t, key)| [(*t).into(), (*key).into()]).collect()
}

/// Keys by tenant as two arrays for `unnest`, tenants and keys in step (PostgreSQL).
fn arrays(keys: &BTreeSet<(Uuid, &str)>) -> (Vec<Uuid>, Vec<String>) {
    keys.iter().map(|(t, key)| (*t, (*key).to_owned())).unzip()
}
