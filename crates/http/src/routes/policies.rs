//! `/api/v1/tenants/{tenant}/policies`: routing policies for numbers.

use switchboard_core::PolicySpec;
use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::api::policies::{Policy, PolicyPatch};

/// The `policies` resource.
pub struct Policies;

impl Resource for Policies {
    const COLLECTION: &'static str = "policies";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Creates a policy; every rule and every extension it names is checked.",
        list: "Lists the tenant's policies.",
        get: "Reads a policy.",
        update: "Changes a policy; given fields replace, and the result is checked as a whole.",
        delete: "Deletes a policy no number uses.",
    };

    type Key = Uuid;
    type New = PolicySpec;
    type Patch = PolicyPatch;
    type Item = Policy;

    super::resource::store_calls!(create_policy, list_policies, get_policy, update_policy, delete_policy);
}
