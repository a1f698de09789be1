//! `/api/v1/tenants/{tenant}/providers`: connected Flowroute accounts.

use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::api::providers::{NewProvider, Provider, ProviderPatch};

/// The `providers` resource.
pub struct Providers;

impl Resource for Providers {
    const COLLECTION: &'static str = "providers";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Connects a provider account; `secret_key` is sealed at rest and never returned.",
        list: "Lists the tenant's providers.",
        get: "Reads a provider.",
        update: "Changes a provider; a new `secret_key` replaces the old one.",
        delete: "Deletes a provider that no prefix or number uses.",
    };

    type Key = Uuid;
    type New = NewProvider;
    type Patch = ProviderPatch;
    type Item = Provider;

    super::resource::store_calls!(create_provider, list_providers, get_provider, update_provider, delete_provider);
}
