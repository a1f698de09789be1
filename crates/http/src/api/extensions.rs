//! Extensions: bodies of `…/extensions`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Patch;
use switchboard_store::extensions as store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::convert;

/// An extension of the tenant's PBX.
#[derive(Debug, Serialize, ToSchema)]
pub struct Extension {
    pub id: Uuid,
    /// As the PBX knows it, such as `101`.
    #[schema(example = "101")]
    pub extension: String,
    pub name: String,
    /// A disabled extension receives no texts and may not send.
    pub enabled: bool,
    /// The user part of its SIP address on the tenant's PBX: texts routed to it are also sent
    /// as SIP MESSAGEs to `sip:<sip_user>@<the tenant's SIP domain>` (the tenant's `sip`
    /// settings say where). `null`: no SIP delivery.
    #[schema(example = "101")]
    pub sip_user: Option<String>,
    /// Where its texts are emailed when nobody read them (nor its phone took them) within
    /// `email_delay_minutes`; replies to that email go back to the customer by text. `null`: no email.
    #[schema(example = "front.desk@example.com")]
    pub email: Option<String>,
    /// 1 to 1,440; 5 unless set.
    pub email_delay_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
convert!(store::Extension => Extension { id, extension, name, enabled, sip_user, email, email_delay_minutes, created_at, updated_at });

/// Body of `POST …/extensions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExtension {
    #[schema(example = "101")]
    pub extension: String,
    #[schema(example = "Front desk")]
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// 1 to 64 letters, digits and `. _ - + ~ *`.
    #[serde(default)]
    #[schema(example = "101")]
    pub sip_user: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_delay_minutes: Option<i32>,
}
convert!(NewExtension => store::NewExtension { extension, name, enabled, sip_user, email, email_delay_minutes });

/// Body of `PATCH …/extensions/{ext}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `null` stops SIP delivery.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sip_user: Patch<String>,
    /// `null` stops email.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    pub email_delay_minutes: Option<i32>,
}
convert!(ExtensionPatch => store::ExtensionPatch { name, enabled, sip_user, email, email_delay_minutes });
