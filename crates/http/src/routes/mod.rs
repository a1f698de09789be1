//! The HTTP routes, one module per resource.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod deliveries;
pub mod directory;
pub mod events;
pub mod extensions;
pub mod inbox;
pub mod ingress;
pub mod media;
pub mod messages;
pub mod numbers;
pub mod operators;
pub mod ops;
pub mod policies;
pub mod prefixes;
pub mod providers;
pub mod resource;
pub mod send;
pub mod templates;
pub mod tenants;
pub mod usage;
pub mod users;

use serde::Deserialize;
use switchboard_store::PageRequest;
use uuid::Uuid;

use crate::error::ApiError;

/// `limit` and `cursor` of list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The page asked for, or `422` naming the bad parameter.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse(self.limit.as_deref(), self.cursor.as_deref())?)
    }
}

/// An id from a path; text that is not a UUID names nothing, so it is `404`.
pub fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::not_found())
}

/// Something done for every admin resource: routing it, documenting it.
pub trait ForEachResource {
    fn resource<R: resource::Resource>(&mut self);
}

/// Every tenant resource an admin manages with create, list, read, change and delete: routed
/// ([`configure`]) and documented ([`crate::openapi`]) from this one list.
pub fn admin_resources(each: &mut impl ForEachResource) {
    each.resource::<providers::Providers>();
    each.resource::<prefixes::Prefixes>();
    each.resource::<extensions::Extensions>();
    each.resource::<numbers::Numbers>();
    each.resource::<policies::Policies>();
    each.resource::<directory::Companies>();
    each.resource::<directory::Contacts>();
    each.resource::<users::Users>();
    each.resource::<templates::ReplyTemplates>();
    each.resource::<api_keys::ApiKeys>();
}

struct Routed<'a>(&'a mut actix_web::web::ServiceConfig);

impl ForEachResource for Routed<'_> {
    fn resource<R: resource::Resource>(&mut self) {
        resource::configure::<R>(self.0);
    }
}

/// Every resource route, in one place, so the app and the OpenAPI document agree.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    auth::configure(cfg);
    audit::configure(cfg);
    operators::configure(cfg);
    tenants::configure(cfg);
    admin_resources(&mut Routed(cfg));
    messages::configure(cfg);
    deliveries::configure(cfg);
    usage::configure(cfg);
    inbox::configure(cfg);
    cfg.service(users::reinvite).service(providers::check_keys).service(directory::import_contacts);
    cfg.service(directory::import_companies);
    cfg.service(providers::remote_numbers).service(providers::import_numbers);
    cfg.service(providers::apply_callbacks).service(providers::check_callbacks).service(providers::enable_messaging);
    cfg.service(events::events).service(media::media).service(send::send).service(send::admin_send);
    cfg.service(media::public_media).service(ingress::receive_email);
}
