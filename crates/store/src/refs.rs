//! Lookups of records inside one tenant, used to check references and to name referrers.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{extension, number};

/// Finds the record `id` of `tenant`, or `None` when it is absent or belongs to another tenant.
pub(crate) async fn owned<E, C>(
    db: &C,
    tenant_col: E::Column,
    id_col: E::Column,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<E::Model>, StoreError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    Ok(E::find().filter(tenant_col.eq(tenant)).filter(id_col.eq(id)).one(db).await?)
}

/// Resolves extension names to ids within `tenant`, adding a field error for each unknown one.
pub(crate) async fn extension_ids<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    field: &str,
    names: &[String],
    errors: &mut switchboard_core::FieldErrors,
) -> Result<Vec<Uuid>, StoreError> {
    // A name no extension can have is not looked up (it is simply not found): PostgreSQL refuses a
    // text parameter holding NUL outright.
    let valid: Vec<String> =
        names.iter().filter(|n| switchboard_core::names::check_extension(n).is_ok()).cloned().collect();
    let found: HashMap<String, Uuid> = if valid.is_empty() {
        HashMap::new()
    } else {
        extension::Entity::find()
            .filter(extension::Column::TenantId.eq(tenant))
            .filter(extension::Column::Extension.is_in(valid))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.extension, e.id))
            .collect()
    };
    let mut ids = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        match found.get(name) {
            Some(id) => ids.push(*id),
            None => errors.add(format!("{field}[{i}]"), format!("extension '{name}' does not exist in this tenant")),
        }
    }
    Ok(ids)
}

/// Extension names by id.
pub(crate) async fn extension_names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, StoreError> {
    Ok(extension::Entity::find()
        .filter(extension::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e.extension))
        .collect())
}

/// The numbers whose `column` is `id`, named for a `409`.
pub(crate) async fn numbers_using<C: ConnectionTrait>(
    db: &C,
    column: number::Column,
    id: Uuid,
) -> Result<Vec<String>, StoreError> {
    Ok(number::Entity::find()
        .filter(column.eq(id))
        .order_by_asc(number::Column::E164)
        .all(db)
        .await?
        .into_iter()
        .map(|n| format!("number {}", n.e164))
        .collect())
}

/// A `409` naming who still uses a record: "… is still used by number +12025550100 and 2 more".
pub(crate) fn in_use(what: &str, referrers: &[String]) -> Result<(), StoreError> {
    match referrers {
        [] => Ok(()),
        [one] => Err(StoreError::Conflict(format!("{what} is still used by {one}; change or delete that first"))),
        [first, rest @ ..] => Err(StoreError::Conflict(format!(
            "{what} is still used by {first} and {} more; change or delete those first",
            rest.len()
        ))),
    }
}
