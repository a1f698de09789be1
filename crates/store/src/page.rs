//! Cursor pagination over time-ordered (UUIDv7) ids.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

use crate::StoreError;

/// Largest page a client may ask for.
pub const MAX_LIMIT: u64 = 200;
/// Page size when the client names none.
pub const DEFAULT_LIMIT: u64 = 50;

/// Which page to read: at most `limit` items after the item whose id is `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Items per page, 1 to [`MAX_LIMIT`].
    pub limit: u64,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { limit: DEFAULT_LIMIT, cursor: None }
    }
}

impl PageRequest {
    /// Parses the `limit` and `cursor` query parameters.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, StoreError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<u64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(StoreError::invalid("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
            },
        };
        let cursor = match cursor {
            None | Some("") => None,
            Some(c) => Some(
                Uuid::try_parse(c)
                    .map_err(|_| StoreError::invalid("cursor", "must be a next_cursor value from a previous page"))?,
            ),
        };
        Ok(Self { limit, cursor })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Converts every item.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

/// Reads one page of `select`, ordered by `id_col` (oldest first, or newest first).
pub(crate) async fn fetch<E, C>(
    db: &C,
    select: Select<E>,
    id_col: E::Column,
    id_of: impl Fn(&E::Model) -> Uuid,
    req: PageRequest,
    newest_first: bool,
) -> Result<Page<E::Model>, StoreError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut select = select.order_by(id_col, if newest_first { Order::Desc } else { Order::Asc });
    if let Some(cursor) = req.cursor {
        select = select.filter(if newest_first { id_col.lt(cursor) } else { id_col.gt(cursor) });
    }
    let mut items = select.limit(req.limit + 1).all(db).await?;
    let more = items.len() as u64 > req.limit;
    items.truncate(req.limit as usize);
    let next_cursor = if more { items.last().map(|m| id_of(m).to_string()) } else { None };
    Ok(Page { items, next_cursor })
}

/// The smallest time-ordered id made at or after `at`: ids `>=` it were made since.
pub(crate) fn id_floor(at: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let ms = at.timestamp_millis().max(0).cast_unsigned();
    uuid::Builder::from_unix_timestamp_millis(ms, &[0u8; 10]).into_uuid()
}
