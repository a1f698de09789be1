//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    ForEachResource, admin_resources, audit, auth, deliveries, directory, events, inbox, ingress, media, messages,
    operators, ops, providers, resource, send, tenants, usage, users,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The admin resources' operations, which are generic and so documented from their
/// [`resource::Resource`] implementations rather than annotations.
struct AdminResources;

impl Modify for AdminResources {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        struct Documented<'a>(&'a mut utoipa::openapi::OpenApi);
        impl ForEachResource for Documented<'_> {
            fn resource<R: resource::Resource>(&mut self) {
                resource::document::<R>(self.0);
            }
        }
        admin_resources(&mut Documented(openapi));
    }
}

/// Switchboard's HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard", description = "Multi-tenant SMS/MMS routing for hosted PBX platforms. Every error is application/problem+json with a stable `code`."),
    modifiers(&BearerAuth, &AdminResources),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        auth::login, auth::renew, auth::logout, auth::sessions, auth::revoke, auth::accept_invitation,
        auth::change_password, auth::begin_totp, auth::confirm_totp, auth::disable_totp, users::reinvite, providers::check_keys, providers::remote_numbers, providers::import_numbers, providers::apply_callbacks, providers::check_callbacks, providers::enable_messaging, directory::import_contacts, directory::import_companies, audit::tenant_audit, audit::all_audit,
        usage::usage,
        operators::invite, operators::list, operators::get_one, operators::update, operators::remove, operators::reinvite,
        tenants::create, tenants::list, tenants::get_one, tenants::update, tenants::remove, tenants::rotate,
        messages::list, messages::get_one, messages::opt_outs, messages::lift_opt_out,
        deliveries::list, deliveries::get_one, deliveries::replay, deliveries::replay_dead, deliveries::timeline,
        inbox::conversations, inbox::conversation_messages, inbox::mark_read, inbox::message, events::events,
        media::media, media::public_media,
        send::send, send::admin_send,
        ingress::receive, ingress::receive_shared, ingress::receive_email,
    ),
    components(schemas(crate::error::Problem, switchboard_core::Event)),
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A webhook consumer generates its types from the document: every event type must be there,
    /// with the schema of its `data`.
    #[test]
    fn the_document_describes_every_event_and_its_payload() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let variants = schemas["EventBody"]["oneOf"].as_array().unwrap();
        let mut types: Vec<&str> = Vec::new();
        for v in variants {
            let kind = v["properties"]["type"]["enum"][0].as_str().unwrap();
            let data = v["properties"]["data"]["$ref"].as_str().unwrap();
            let name = data.trim_start_matches("#/components/schemas/");
            assert!(schemas[name].is_object(), "{kind}: its payload {name} is described");
            types.push(kind);
        }
        types.sort_unstable();
        assert_eq!(
            types,
            [
                "callbacks.drifted",
                "conversation.updated",
                "delivery.dead",
                "endpoint.recovered",
                "endpoint.unavailable",
                "message.delivery",
                "message.received",
                "message.status"
            ]
        );
        let mut ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values().map(|op| op["operationId"].as_str().unwrap()))
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "every operation has an id of its own");
        let envelope = serde_json::to_string(&schemas["Event"]).unwrap();
        for field in ["\"id\"", "\"tenant\"", "\"created_at\"", "EventBody"] {
            assert!(envelope.contains(field), "the envelope names {field}: {envelope}");
        }
    }

    /// The contract as committed in `docs/openapi.json`, so that a change to any request or
    /// response body shows in review as a change to that file, and none slips out unnoticed.
    #[test]
    fn the_committed_document_is_the_served_one() {
        let served = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        if std::env::var_os("SB_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, serde_json::to_string_pretty(&served).unwrap() + "\n").unwrap();
        }
        let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            committed == served,
            "docs/openapi.json differs from the document the server serves; if the change is meant, \
             run `SB_UPDATE_OPENAPI=1 cargo test -p switchboard-http --lib openapi` and commit the file"
        );
    }
}
