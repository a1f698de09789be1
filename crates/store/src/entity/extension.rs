//! The `extension` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "extension")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub extension: String,
    pub name: String,
    pub enabled: bool,
    /// The user part of the extension's SIP address on the tenant's PBX; none: no SIP delivery.
    pub sip_user: Option<String>,
    /// Where its texts are emailed when nobody read them within `email_delay_minutes`.
    pub email: Option<String>,
    pub email_delay_minutes: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
