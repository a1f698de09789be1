//! `/api/v1/tenants/{tenant}/extensions`: the PBX's extensions, addressed by their own name.

use super::resource::{Docs, Resource};
use crate::api::extensions::{Extension, ExtensionPatch, NewExtension};

/// The `extensions` resource.
pub struct Extensions;

impl Resource for Extensions {
    const COLLECTION: &'static str = "extensions";
    const KEY: (&'static str, Option<&'static str>) = ("ext", None);
    const DOCS: Docs = Docs {
        create: "Adds an extension.",
        list: "Lists the tenant's extensions.",
        get: "Reads an extension.",
        update: "Renames, enables or disables an extension.",
        delete: "Deletes an extension that no number or policy names.",
    };
    const CREATE_CONFLICTS: bool = true;

    type Key = String;
    type New = NewExtension;
    type Patch = ExtensionPatch;
    type Item = Extension;

    super::resource::store_calls!(create_extension, list_extensions, get_extension, update_extension, delete_extension);
}
