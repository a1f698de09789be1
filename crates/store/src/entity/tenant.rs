//! The `tenant` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub webhook_url: Option<String>,
    pub webhook_secret_enc: String,
    pub webhook_secret_prev_enc: Option<String>,
    pub webhook_secret_rotated_at: Option<DateTimeUtc>,
    pub event_seq: i64,
    pub require_totp: bool,
    pub timezone: String,
    pub send_window_from: Option<String>,
    pub send_window_until: Option<String>,
    /// The PBX's SIP server, `host` or `host:port`, where SIP MESSAGEs go; none: no SIP delivery.
    pub sip_server: Option<String>,
    /// The domain of the extensions' SIP addresses; none: the server's host.
    pub sip_domain: Option<String>,
    /// `tls`, `tcp` or `udp`.
    pub sip_transport: Option<String>,
    pub sip_username: Option<String>,
    /// The digest password, sealed.
    pub sip_password_enc: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
