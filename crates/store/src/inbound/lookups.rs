//! What a batch reads before it writes: its conversations (created and locked), the texts already
//! stored, and the contacts and companies its senders name.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Value as Sql};
use switchboard_core::event::Named;
use uuid::Uuid;

use super::types::{ConvKey, InboundText, Item, conv_key};
use crate::entity::conversation;
use crate::{StoreError, new_id, sql};

/// Contacts (by tenant and phone) and companies (by id) the batch's senders name.
pub(super) struct Directory {
    contacts: HashMap<(Uuid, String), (Uuid, String, Option<Uuid>)>,
    companies: HashMap<Uuid, (Uuid, String)>,
}

impl Directory {
    pub(super) async fn load(db: &impl ConnectionTrait, items: &[Item]) -> Result<Self, StoreError> {
        let pairs: BTreeSet<(Uuid, &str)> = items.iter().map(|i| (i.text.tenant_id, i.text.remote.as_str())).collect();
        let columns = "c.id, c.tenant_id, c.phone, c.name, c.company_id";
        let rows = if db.get_database_backend() == DbBackend::Postgres {
            let (tenants, phones): (Vec<Uuid>, Vec<String>) = pairs.iter().map(|(t, p)| (*t, (*p).to_owned())).unzip();
            sql::query(
                db,
                &format!(
                    "SELECT {columns} FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, phone) CROSS JOIN LATERAL \
                     (SELECT * FROM contact WHERE tenant_id = k.tenant_id AND phone = k.phone LIMIT 1) c"
                ),
                vec![tenants.into(), phones.into()],
            )
            .await?
        } else {
            let mut values: Vec<Sql> = Vec::with_capacity(pairs.len() * 2);
            for (t, phone) in &pairs {
                values.push((*t).into());
                values.push((*phone).into());
            }
            sql::query(
                db,
                &format!(
                    "SELECT {columns} FROM (VALUES {}) AS k JOIN contact c ON c.tenant_id = k.column1 AND c.phone = k.column2",
                    sql::tuples(pairs.len(), 2)
                ),
                values,
            )
            .await?
        };
        let mut contacts = HashMap::new();
        for r in &rows {
            let tenant: Uuid = r.try_get("", "tenant_id")?;
            contacts.insert(
                (tenant, r.try_get::<String>("", "phone")?),
                (r.try_get("", "id")?, r.try_get("", "name")?, r.try_get("", "company_id")?),
            );
        }
        let ids: BTreeSet<Uuid> = contacts
            .values()
            .filter_map(|c| c.2)
            .chain(items.iter().filter_map(|i| i.text.catch_all_company_id))
            .collect();
        let mut companies = HashMap::new();
        if !ids.is_empty() {
            let rows = sql::query(
                db,
                &format!("SELECT id, tenant_id, name FROM company WHERE id IN {}", sql::tuples(1, ids.len())),
                ids.iter().map(|id| (*id).into()).collect(),
            )
            .await?;
            for r in &rows {
                companies.insert(r.try_get("", "id")?, (r.try_get("", "tenant_id")?, r.try_get("", "name")?));
            }
        }
        Ok(Self { contacts, companies })
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

/// Creates the batch's missing conversations, then locks all of them (in key order, so two
/// batches never wait on each other in a cycle) and returns them by key.
pub(super) async fn conversations(
    db: &impl ConnectionTrait,
    items: &[Item],
    at: DateTime<Utc>,
) -> Result<HashMap<ConvKey, conversation::Model>, StoreError> {
    let keys: BTreeSet<ConvKey> = items.iter().map(|i| conv_key(&i.text)).collect();
    let rows = keys
        .iter()
        .map(|(tenant, number, remote)| {
            vec![new_id().into(), (*tenant).into(), number.clone().into(), remote.clone().into(), at.into(), at.into()]
        })
        .collect();
    sql::insert_rows(
        db,
        "INSERT INTO conversation (id, tenant_id, number, remote, last_message_at, created_at)",
        "ON CONFLICT (tenant_id, number, remote) DO NOTHING",
        rows,
    )
    .await?;
    // One probe of `ux_conversation_pair` per key, whatever the statistics say (a list of row
    // values was a scan of the number's conversations on PostgreSQL and of the table on SQLite).
    // PostgreSQL locks each row as it is found, in key order (`keys` is sorted; SQLite's write
    // lock covers everything): batches, the only writers that lock several conversations, take
    // them in one order.
    let select = if db.get_database_backend() == DbBackend::Postgres {
        let mut tenants = Vec::with_capacity(keys.len());
        let mut numbers = Vec::with_capacity(keys.len());
        let mut remotes = Vec::with_capacity(keys.len());
        for (tenant, number, remote) in &keys {
            tenants.push(*tenant);
            numbers.push(number.clone());
            remotes.push(remote.clone());
        }
        sql::statement(
            DbBackend::Postgres,
            "SELECT c.* FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS k(tenant_id, number, remote, n) \
             CROSS JOIN LATERAL (SELECT * FROM conversation WHERE tenant_id = k.tenant_id AND number = k.number \
             AND remote = k.remote LIMIT 1 FOR UPDATE) c ORDER BY k.n",
            vec![tenants.into(), numbers.into(), remotes.into()],
        )
    } else {
        let mut values: Vec<Sql> = Vec::with_capacity(keys.len() * 3);
        for (tenant, number, remote) in &keys {
            values.extend([(*tenant).into(), number.clone().into(), remote.clone().into()]);
        }
        sql::statement(
            db.get_database_backend(),
            &format!(
                "SELECT c.* FROM (VALUES {}) AS k JOIN conversation c \
                 ON c.tenant_id = k.column1 AND c.number = k.column2 AND c.remote = k.column3",
                sql::tuples(keys.len(), 3)
            ),
            values,
        )
    };
    let rows = db.query_all_raw(select).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let c = conversation::Model::from_query_result(row, "")?;
        found.insert((c.tenant_id, c.number.clone(), c.remote.clone()), c);
    }
    Ok(found)
}

/// The inbound messages of the batch already stored, by tenant and provider id: ids are unique
/// per tenant only, so another tenant's text with the same id is no duplicate.
pub(super) async fn stored(
    db: &impl ConnectionTrait,
    items: &[Item],
) -> Result<HashMap<(Uuid, String), Uuid>, StoreError> {
    let keys: BTreeSet<(Uuid, &str)> =
        items.iter().map(|i| (i.text.tenant_id, i.text.provider_message_id.as_str())).collect();
    let rows = if db.get_database_backend() == DbBackend::Postgres {
        // One probe of `ux_message_provider_id_tenant` per key: as `IN (…)`, PostgreSQL planned it
        // (on statistics that lagged a burst) as a scan of every inbound message.
        let tenants: Vec<Uuid> = keys.iter().map(|(t, _)| *t).collect();
        let ids: Vec<String> = keys.iter().map(|(_, id)| (*id).to_owned()).collect();
        sql::query(
            db,
            "SELECT m.id, m.tenant_id, m.provider_message_id FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, id) \
             CROSS JOIN LATERAL (SELECT id, tenant_id, provider_message_id FROM message WHERE tenant_id = k.tenant_id \
             AND direction = 'inbound' AND provider_message_id = k.id LIMIT 1) m",
            vec![tenants.into(), ids.into()],
        )
        .await?
    } else {
        sql::query(
            db,
            &format!(
                "SELECT m.id, m.tenant_id, m.provider_message_id FROM (VALUES {}) AS k \
                 JOIN message m ON m.tenant_id = k.column1 AND m.direction = 'inbound' \
                 AND m.provider_message_id = k.column2",
                sql::tuples(keys.len(), 2)
            ),
            keys.iter().flat_map(|(t, id)| [(*t).into(), (*id).into()]).collect(),
        )
        .await?
    };
    rows.iter()
        .map(|r| Ok(((r.try_get("", "tenant_id")?, r.try_get("", "provider_message_id")?), r.try_get("", "id")?)))
        .collect()
}
