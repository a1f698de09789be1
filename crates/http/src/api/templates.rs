//! Quick replies: bodies of `…/reply-templates`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_store::templates as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// A quick reply: a text the tenant's people pick in the inbox's reply box.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyTemplate {
    pub id: Uuid,
    /// What people pick it by.
    #[schema(example = "Hours")]
    pub name: String,
    /// The text, up to 1,600 characters.
    #[schema(example = "We are open 8 to 5, Monday to Friday.")]
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Template => ReplyTemplate { id, name, body, created_at, updated_at });

/// Body of `POST …/reply-templates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyTemplateInput {
    /// 1 to 100 characters.
    pub name: String,
    /// 1 to 1,600 characters.
    pub body: String,
}
convert!(ReplyTemplateInput => store::TemplateInput { name, body });

/// Body of `PATCH …/reply-templates/{id}`; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyTemplatePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}
convert!(ReplyTemplatePatch => store::TemplatePatch { name, body });
