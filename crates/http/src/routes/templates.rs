//! `/api/v1/tenants/{tenant}/reply-templates`: the tenant's quick replies.

use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::api::templates::{ReplyTemplate, ReplyTemplateInput, ReplyTemplatePatch};

/// The `reply-templates` resource.
pub struct ReplyTemplates;

impl Resource for ReplyTemplates {
    const COLLECTION: &'static str = "reply-templates";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Adds a quick reply.",
        list: "Lists the tenant's quick replies (the inbox's reply box offers them).",
        get: "Reads a quick reply.",
        update: "Changes a quick reply's name and text.",
        delete: "Deletes a quick reply.",
    };
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = ReplyTemplateInput;
    type Patch = ReplyTemplatePatch;
    type Item = ReplyTemplate;

    super::resource::store_calls!(create_template, list_templates, get_template, update_template, delete_template);
}
