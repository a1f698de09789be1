//! Numbers (DIDs): unique across all tenants, each with its provider, prefix, policy, the
//! extensions that receive its texts and the extensions that may send from it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use switchboard_core::validation::text;
use switchboard_core::{E164, FieldErrors};
use uuid::Uuid;

use crate::entity::{inbound_prefix, number, number_destination, number_sender, policy, provider};
use crate::error::OnUnique;
use crate::page::{self, Page, PageRequest};
use crate::refs::{extension_ids, extension_names, in_use, owned};
use crate::{Patch, Store, StoreError, new_id, now};

/// A number, as stored.
#[derive(Debug, Clone)]
pub struct Number {
    pub id: Uuid,
    pub e164: String,
    pub name: String,
    pub provider_id: Uuid,
    /// The inbound prefix Flowroute posts this number's texts to.
    pub prefix: String,
    pub policy_id: Option<Uuid>,
    /// Extensions that receive texts to this number, in order.
    pub destinations: Vec<String>,
    /// Extensions that may send from this number.
    pub senders: Vec<String>,
    /// Where Flowroute posts its texts and receipts, as Switchboard last found it.
    pub callbacks: Option<Callbacks>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where Flowroute posts a number's texts and receipts, as Switchboard last found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callbacks {
    pub state: CallbacksState,
    /// What was found, in words (URLs without their query).
    pub detail: Option<String>,
    /// When Switchboard last set them.
    pub set_at: Option<DateTime<Utc>>,
    /// When Switchboard last looked.
    pub checked_at: DateTime<Utc>,
}

/// Where a number's callbacks stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbacksState {
    /// All four point at the number's prefix URL.
    Set,
    /// One points elsewhere.
    Drifted,
    /// Flowroute shows none for one of them (at the number or the account).
    Unknown,
    /// Setting them failed.
    Failed,
}

impl CallbacksState {
    const ALL: [Self; 4] = [Self::Set, Self::Drifted, Self::Unknown, Self::Failed];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::Drifted => "drifted",
            Self::Unknown => "unknown",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A number with what it takes to point Flowroute at it: its prefix and the prefix's token.
pub struct CallbackTarget {
    pub number_id: Uuid,
    pub e164: String,
    pub prefix: String,
    pub token: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for CallbackTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackTarget").field("e164", &self.e164).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// A number to add.
#[derive(Debug, Clone)]
pub struct NewNumber {
    pub e164: String,
    pub name: String,
    pub provider_id: Uuid,
    pub prefix: String,
    pub policy_id: Option<Uuid>,
    pub destinations: Vec<String>,
    pub senders: Vec<String>,
}

/// A change to a number; absent fields stay as they are, and the number itself cannot change.
#[derive(Debug, Clone, Default)]
pub struct NumberPatch {
    pub name: Option<String>,
    pub provider_id: Option<Uuid>,
    pub prefix: Option<String>,
    pub policy_id: Patch<Uuid>,
    pub destinations: Option<Vec<String>>,
    pub senders: Option<Vec<String>>,
}

/// Numbers to import from a provider account, with the settings they all get.
#[derive(Debug, Clone)]
pub struct Import {
    pub provider_id: Uuid,
    pub prefix: String,
    pub policy_id: Option<Uuid>,
    pub destinations: Vec<String>,
    pub senders: Vec<String>,
    /// Each number with its name (the account's alias for it, or the number).
    pub numbers: Vec<(E164, String)>,
}

/// What an import did with each number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub created: Vec<String>,
    /// Numbers left as they were, with why.
    pub skipped: Vec<(String, SkipReason)>,
}

/// Why an imported number was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The tenant has it already.
    AlreadyAdded,
    /// Another tenant has it (the two share a Flowroute account).
    HeldByAnotherTenant,
}

/// The settings of a number after a create or a patch, before they are checked against the store.
struct Settings {
    name: String,
    provider_id: Uuid,
    prefix: String,
    policy_id: Option<Uuid>,
    destinations: Vec<String>,
    senders: Vec<String>,
}

impl Settings {
    /// A new number's settings.
    fn of(input: NewNumber) -> Self {
        Self {
            name: input.name,
            provider_id: input.provider_id,
            prefix: input.prefix,
            policy_id: input.policy_id,
            destinations: input.destinations,
            senders: input.senders,
        }
    }
}

/// The same settings, checked: every reference resolved inside the tenant.
struct Resolved {
    prefix_id: Uuid,
    destination_ids: Vec<Uuid>,
    sender_ids: Vec<Uuid>,
}

fn check_list(errors: &mut FieldErrors, field: &str, list: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for (i, ext) in list.iter().enumerate() {
        if !seen.insert(ext) {
            errors.add(format!("{field}[{i}]"), format!("extension '{ext}' is listed twice"));
        }
    }
    if list.len() > 100 {
        errors.add(field, "must name at most 100 extensions");
    }
}

async fn resolve<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    s: &Settings,
    mut errors: FieldErrors,
) -> Result<Resolved, StoreError> {
    text(&mut errors, "name", &s.name, 200);
    check_list(&mut errors, "destinations", &s.destinations);
    check_list(&mut errors, "senders", &s.senders);
    let provider =
        owned::<provider::Entity, _>(db, provider::Column::TenantId, provider::Column::Id, tenant, s.provider_id)
            .await?;
    if provider.is_none() {
        errors.add("provider_id", "no such provider in this tenant");
    }
    let prefix = inbound_prefix::Entity::find()
        .filter(inbound_prefix::Column::TenantId.eq(tenant))
        .filter(inbound_prefix::Column::Prefix.eq(s.prefix.to_ascii_lowercase()))
        .one(db)
        .await?;
    match &prefix {
        None => errors.add("prefix", "no such prefix in this tenant"),
        Some(p) if provider.is_some() && p.provider_id != s.provider_id => {
            errors.add("prefix", format!("prefix '{}' is bound to another provider", p.prefix))
        }
        Some(_) => {}
    }
    if let Some(pid) = s.policy_id
        && owned::<policy::Entity, _>(db, policy::Column::TenantId, policy::Column::Id, tenant, pid).await?.is_none()
    {
        errors.add("policy_id", "no such policy in this tenant");
    }
    let destination_ids = extension_ids(db, tenant, "destinations", &s.destinations, &mut errors).await?;
    let sender_ids = extension_ids(db, tenant, "senders", &s.senders, &mut errors).await?;
    errors.finish().map_err(StoreError::Invalid)?;
    Ok(Resolved { prefix_id: prefix.map(|p| p.id).unwrap_or_default(), destination_ids, sender_ids })
}

/// Writes a new number of the tenant with its checked settings and links; a number any tenant
/// holds is a conflict.
async fn insert_number<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    e164: &str,
    name: String,
    settings: &Settings,
    resolved: &Resolved,
) -> Result<number::Model, StoreError> {
    let at = now();
    let model = number::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant),
        e164: Set(e164.to_owned()),
        name: Set(name),
        provider_id: Set(settings.provider_id),
        prefix_id: Set(resolved.prefix_id),
        policy_id: Set(settings.policy_id),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique(|| format!("number {e164} is already held"))?;
    write_links(db, model.id, resolved).await?;
    Ok(model)
}

async fn write_links<C: ConnectionTrait>(db: &C, number_id: Uuid, r: &Resolved) -> Result<(), StoreError> {
    number_destination::Entity::delete_many()
        .filter(number_destination::Column::NumberId.eq(number_id))
        .exec(db)
        .await?;
    number_sender::Entity::delete_many().filter(number_sender::Column::NumberId.eq(number_id)).exec(db).await?;
    if !r.destination_ids.is_empty() {
        number_destination::Entity::insert_many(r.destination_ids.iter().enumerate().map(|(i, ext)| {
            number_destination::ActiveModel {
                number_id: Set(number_id),
                extension_id: Set(*ext),
                position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            }
        }))
        .exec(db)
        .await?;
    }
    if !r.sender_ids.is_empty() {
        number_sender::Entity::insert_many(
            r.sender_ids
                .iter()
                .map(|ext| number_sender::ActiveModel { number_id: Set(number_id), extension_id: Set(*ext) }),
        )
        .exec(db)
        .await?;
    }
    Ok(())
}

/// Builds API records for a batch of numbers with four queries, whatever the batch size.
async fn records<C: ConnectionTrait>(db: &C, models: Vec<number::Model>) -> Result<Vec<Number>, StoreError> {
    let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
    let dests = number_destination::Entity::find()
        .filter(number_destination::Column::NumberId.is_in(ids.clone()))
        .order_by_asc(number_destination::Column::Position)
        .all(db)
        .await?;
    let senders = number_sender::Entity::find().filter(number_sender::Column::NumberId.is_in(ids)).all(db).await?;
    let names =
        extension_names(db, dests.iter().map(|d| d.extension_id).chain(senders.iter().map(|s| s.extension_id))).await?;
    let prefixes: HashMap<Uuid, String> = inbound_prefix::Entity::find()
        .filter(inbound_prefix::Column::Id.is_in(models.iter().map(|m| m.prefix_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.prefix))
        .collect();
    let name_of = |id: &Uuid| names.get(id).cloned().unwrap_or_default();
    Ok(models
        .into_iter()
        .map(|m| {
            let mut senders_of: Vec<String> =
                senders.iter().filter(|s| s.number_id == m.id).map(|s| name_of(&s.extension_id)).collect();
            senders_of.sort();
            Number {
                destinations: dests.iter().filter(|d| d.number_id == m.id).map(|d| name_of(&d.extension_id)).collect(),
                senders: senders_of,
                prefix: prefixes.get(&m.prefix_id).cloned().unwrap_or_default(),
                id: m.id,
                e164: m.e164,
                name: m.name,
                provider_id: m.provider_id,
                policy_id: m.policy_id,
                callbacks: match (m.callbacks_state.as_deref().and_then(CallbacksState::parse), m.callbacks_checked_at)
                {
                    (Some(state), Some(checked_at)) => {
                        Some(Callbacks { state, detail: m.callbacks_detail, set_at: m.callbacks_set_at, checked_at })
                    }
                    _ => None,
                },
                created_at: m.created_at,
                updated_at: m.updated_at,
            }
        })
        .collect())
}

async fn one_record<C: ConnectionTrait>(db: &C, model: number::Model) -> Result<Number, StoreError> {
    records(db, vec![model]).await?.pop().ok_or(StoreError::NotFound)
}

/// Parses a number given in a path; anything that is not a valid E.164 number cannot exist.
fn path_number(e164: &str) -> Result<E164, StoreError> {
    E164::parse(e164).map_err(|_| StoreError::NotFound)
}

async fn number_model<C: ConnectionTrait>(db: &C, tenant: Uuid, e164: &E164) -> Result<number::Model, StoreError> {
    number::Entity::find()
        .filter(number::Column::TenantId.eq(tenant))
        .filter(number::Column::E164.eq(e164.as_str()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

impl Store {
    /// Checks a number to add as [`Store::create_number`] will, without writing (whether another
    /// tenant holds it is not looked at): its E.164 form, or the errors.
    pub async fn check_new_number(&self, tenant: Uuid, input: &NewNumber) -> Result<E164, StoreError> {
        let mut errors = FieldErrors::new();
        let e164 = errors.check("e164", E164::parse(&input.e164));
        resolve(self.db(), tenant, &Settings::of(input.clone()), errors).await?;
        e164.ok_or_else(|| StoreError::Internal(sea_orm::DbErr::Custom("a number checked without its E.164".into())))
    }

    /// The tenant's numbers on a provider, with their prefixes and tokens, to point Flowroute at.
    pub async fn callback_targets(&self, tenant: Uuid, provider: Uuid) -> Result<Vec<CallbackTarget>, StoreError> {
        let numbers = number::Entity::find()
            .filter(number::Column::TenantId.eq(tenant))
            .filter(number::Column::ProviderId.eq(provider))
            .order_by_asc(number::Column::E164)
            .all(self.db())
            .await?;
        let prefixes: HashMap<Uuid, inbound_prefix::Model> = inbound_prefix::Entity::find()
            .filter(inbound_prefix::Column::TenantId.eq(tenant))
            .all(self.db())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            let Some(prefix) = prefixes.get(&n.prefix_id) else { continue };
            out.push(CallbackTarget {
                number_id: n.id,
                e164: n.e164,
                prefix: prefix.prefix.clone(),
                token: self.prefix_token(prefix)?,
            });
        }
        Ok(out)
    }

    /// Records where a number's callbacks stand (`set_at` when Switchboard just set them). True
    /// when this call moved the number into `state` from another: of several instances recording
    /// the same drift at once, exactly one is told so (one statement decides).
    pub async fn record_callbacks(
        &self,
        tenant: Uuid,
        number_id: Uuid,
        state: CallbacksState,
        detail: Option<String>,
        set_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        use sea_orm::sea_query::{Condition, Expr};
        let update = || {
            let mut update = number::Entity::update_many()
                .col_expr(number::Column::CallbacksState, Expr::value(state.as_str()))
                .col_expr(number::Column::CallbacksDetail, Expr::value(detail.clone()))
                .col_expr(number::Column::CallbacksCheckedAt, Expr::value(now()));
            if let Some(at) = set_at {
                update = update.col_expr(number::Column::CallbacksSetAt, Expr::value(at));
            }
            update.filter(number::Column::TenantId.eq(tenant)).filter(number::Column::Id.eq(number_id))
        };
        let moved = update()
            .filter(
                Condition::any()
                    .add(number::Column::CallbacksState.is_null())
                    .add(number::Column::CallbacksState.ne(state.as_str())),
            )
            .exec(self.db())
            .await?
            .rows_affected
            == 1;
        if !moved {
            update().exec(self.db()).await?;
        }
        Ok(moved)
    }

    /// Every (tenant, provider) with a number whose callbacks Switchboard has set or looked at: what
    /// the scheduled drift check looks at.
    pub async fn callback_accounts(&self) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let rows: Vec<(Uuid, Uuid)> = number::Entity::find()
            .select_only()
            .column(number::Column::TenantId)
            .column(number::Column::ProviderId)
            .filter(number::Column::CallbacksState.is_not_null())
            .distinct()
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(rows)
    }

    /// Which of `e164s` the tenant holds.
    pub async fn numbers_held(&self, tenant: Uuid, e164s: &[String]) -> Result<Vec<String>, StoreError> {
        let mut held = Vec::new();
        for chunk in e164s.chunks(500) {
            let found = number::Entity::find()
                .filter(number::Column::TenantId.eq(tenant))
                .filter(number::Column::E164.is_in(chunk.to_vec()))
                .all(self.db())
                .await?;
            held.extend(found.into_iter().map(|m| m.e164));
        }
        Ok(held)
    }

    /// The prefixes of the tenant bound to a provider, by name.
    pub async fn provider_prefixes(&self, tenant: Uuid, provider: Uuid) -> Result<Vec<String>, StoreError> {
        let found = inbound_prefix::Entity::find()
            .filter(inbound_prefix::Column::TenantId.eq(tenant))
            .filter(inbound_prefix::Column::ProviderId.eq(provider))
            .order_by_asc(inbound_prefix::Column::Prefix)
            .all(self.db())
            .await?;
        Ok(found.into_iter().map(|p| p.prefix).collect())
    }

    /// Adds many numbers with the same settings in one transaction (all or none), leaving alone
    /// those the tenant or another tenant has already.
    pub async fn import_numbers(&self, tenant: Uuid, import: Import) -> Result<Imported, StoreError> {
        let mut errors = FieldErrors::new();
        if import.numbers.is_empty() {
            errors.add("numbers", "names no number to import");
        }
        let settings = Settings {
            name: "imported".into(),
            provider_id: import.provider_id,
            prefix: import.prefix,
            policy_id: import.policy_id,
            destinations: import.destinations,
            senders: import.senders,
        };
        let txn = self.write_txn().await?;
        let resolved = resolve(&txn, tenant, &settings, errors).await?;
        let wanted: Vec<String> = import.numbers.iter().map(|(e, _)| e.to_string()).collect();
        let mut held: HashMap<String, Uuid> = HashMap::new();
        for chunk in wanted.chunks(500) {
            let found = number::Entity::find().filter(number::Column::E164.is_in(chunk.to_vec())).all(&txn).await?;
            held.extend(found.into_iter().map(|m| (m.e164, m.tenant_id)));
        }
        let mut out = Imported::default();
        for (e164, name) in import.numbers {
            let e164 = e164.to_string();
            match held.get(&e164) {
                Some(owner) if *owner == tenant => out.skipped.push((e164, SkipReason::AlreadyAdded)),
                Some(_) => out.skipped.push((e164, SkipReason::HeldByAnotherTenant)),
                None => {
                    let name: String = name.chars().take(200).collect();
                    insert_number(&txn, tenant, &e164, name, &settings, &resolved).await?;
                    held.insert(e164.clone(), tenant);
                    out.created.push(e164);
                }
            }
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Adds a number to the tenant; a number held by any tenant is a conflict.
    pub async fn create_number(&self, tenant: Uuid, input: NewNumber) -> Result<Number, StoreError> {
        let mut errors = FieldErrors::new();
        let e164 = errors.check("e164", E164::parse(&input.e164));
        let settings = Settings::of(input);
        let txn = self.write_txn().await?;
        let resolved = resolve(&txn, tenant, &settings, errors).await?;
        let e164 = e164.map(|e| e.to_string()).unwrap_or_default();
        let model = insert_number(&txn, tenant, &e164, settings.name.clone(), &settings, &resolved).await?;
        let out = one_record(&txn, model).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// The tenant's numbers, oldest first.
    pub async fn list_numbers(&self, tenant: Uuid, req: PageRequest) -> Result<Page<Number>, StoreError> {
        let select = number::Entity::find().filter(number::Column::TenantId.eq(tenant));
        let page = page::fetch(self.db(), select, number::Column::Id, |m| m.id, req, false).await?;
        Ok(Page { items: records(self.db(), page.items).await?, next_cursor: page.next_cursor })
    }

    /// The tenant's numbers whose E.164 holds the query's digits (3 or more) or whose name
    /// holds the query (case-insensitive), oldest first.
    pub async fn search_numbers(
        &self,
        tenant: Uuid,
        query: &str,
        req: PageRequest,
    ) -> Result<Page<Number>, StoreError> {
        use sea_orm::sea_query::{Expr, ExprTrait, Func};
        let query = query.trim();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        let like = |s: &str| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let mut matches = sea_orm::Condition::any().add(
            Expr::expr(Func::lower(Expr::col(number::Column::Name)))
                .like(sea_orm::sea_query::LikeExpr::new(like(&query.to_lowercase())).escape('\\')),
        );
        if digits.len() >= 3 {
            matches =
                matches.add(number::Column::E164.like(sea_orm::sea_query::LikeExpr::new(like(&digits)).escape('\\')));
        }
        let select = number::Entity::find().filter(number::Column::TenantId.eq(tenant)).filter(matches);
        let page = page::fetch(self.db(), select, number::Column::Id, |m| m.id, req, false).await?;
        Ok(Page { items: records(self.db(), page.items).await?, next_cursor: page.next_cursor })
    }

    /// One number of the tenant.
    pub async fn get_number(&self, tenant: Uuid, e164: &str) -> Result<Number, StoreError> {
        let model = number_model(self.db(), tenant, &path_number(e164)?).await?;
        one_record(self.db(), model).await
    }

    /// Changes a number's settings; lists given replace the current ones.
    pub async fn update_number(&self, tenant: Uuid, e164: &str, patch: NumberPatch) -> Result<Number, StoreError> {
        let e164 = path_number(e164)?;
        let txn = self.write_txn().await?;
        let current = number_model(&txn, tenant, &e164).await?;
        let now_record = one_record(&txn, current.clone()).await?;
        let settings = Settings {
            name: patch.name.unwrap_or(now_record.name),
            provider_id: patch.provider_id.unwrap_or(now_record.provider_id),
            prefix: patch.prefix.unwrap_or(now_record.prefix),
            policy_id: patch.policy_id.apply(now_record.policy_id),
            destinations: patch.destinations.unwrap_or(now_record.destinations),
            senders: patch.senders.unwrap_or(now_record.senders),
        };
        let resolved = resolve(&txn, tenant, &settings, FieldErrors::new()).await?;
        let mut model: number::ActiveModel = current.into();
        model.name = Set(settings.name);
        model.provider_id = Set(settings.provider_id);
        model.prefix_id = Set(resolved.prefix_id);
        model.policy_id = Set(settings.policy_id);
        model.updated_at = Set(now());
        let model = model.update(&txn).await?;
        write_links(&txn, model.id, &resolved).await?;
        let out = one_record(&txn, model).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Releases a number; its messages stay in the tenant's history.
    pub async fn delete_number(&self, tenant: Uuid, e164: &str) -> Result<(), StoreError> {
        let e164 = path_number(e164)?;
        let txn = self.write_txn().await?;
        let current = number_model(&txn, tenant, &e164).await?;
        let referrers: Vec<String> = provider::Entity::find()
            .filter(provider::Column::TenantId.eq(tenant))
            .filter(provider::Column::DefaultDid.eq(e164.as_str()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| format!("provider '{}' (as its default_did)", p.name))
            .collect();
        in_use(&format!("number {e164}"), &referrers)?;
        number::Entity::delete_by_id(current.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
