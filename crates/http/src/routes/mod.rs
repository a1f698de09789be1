//! The HTTP routes, one module per resource.

pub mod directory;
pub mod events;
pub mod extensions;
pub mod inbox;
pub mod ingress;
pub mod media;
pub mod messages;
pub mod numbers;
pub mod ops;
pub mod policies;
pub mod prefixes;
pub mod providers;
pub mod send;
pub mod tenants;

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

/// Every resource route, in one place, so the app and the OpenAPI document agree.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    tenants::configure(cfg);
    providers::configure(cfg);
    prefixes::configure(cfg);
    extensions::configure(cfg);
    numbers::configure(cfg);
    policies::configure(cfg);
    directory::configure(cfg);
    messages::configure(cfg);
    inbox::configure(cfg);
    cfg.service(events::events).service(media::media).service(send::send).service(send::admin_send);
}
