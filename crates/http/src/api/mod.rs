//! The API's own request and response bodies, with their OpenAPI schemas.
//!
//! The store takes and returns types of its own; each body here is converted to or from one of
//! them by [`convert!`], field by field. The wire contract therefore changes only in this module:
//! a field added to a store record does not reach clients until it is added here, and a field
//! renamed there fails to compile here.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod deliveries;
pub mod directory;
pub mod extensions;
pub mod inbox;
pub mod messages;
pub mod numbers;
pub mod policies;
pub mod prefixes;
pub mod providers;
pub mod send;
pub mod templates;
pub mod tenants;
pub mod users;

use serde::Serialize;
use utoipa::ToSchema;

/// `impl From<$from> for $to`, moving each named field across (with `.into()`, so a field whose
/// type has its own conversion is converted too). Both types must have exactly these fields.
macro_rules! convert {
    ($from:ty => $to:ty { $($field:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> Self {
                Self { $($field: v.$field.into()),* }
            }
        }
    };
}
pub(crate) use convert;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T, S: Into<T>> From<switchboard_store::Page<S>> for Page<T> {
    fn from(page: switchboard_store::Page<S>) -> Self {
        Self { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }
    }
}
