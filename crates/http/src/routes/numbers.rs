//! `/api/v1/tenants/{tenant}/numbers`: the tenant's numbers (DIDs), addressed in E.164.

use super::resource::{Docs, Resource};
use crate::api::numbers::{NewNumber, Number, NumberPatch};

/// The `numbers` resource.
pub struct Numbers;

impl Resource for Numbers {
    const COLLECTION: &'static str = "numbers";
    const KEY: (&'static str, Option<&'static str>) = ("e164", Some("E.164 with its +"));
    const DOCS: Docs = Docs {
        create: "Adds a number; a number held by any tenant is `409`.",
        list: "Lists the tenant's numbers.",
        get: "Reads a number.",
        update: "Changes a number; given lists replace the current ones.",
        delete: "Releases a number; its messages stay in the history.",
    };
    const CREATE_CONFLICTS: bool = true;

    type Key = String;
    type New = NewNumber;
    type Patch = NumberPatch;
    type Item = Number;

    super::resource::store_calls!(create_number, list_numbers, get_number, update_number, delete_number);
}
