//! The `provider` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provider")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    pub name: String,
    pub access_key: String,
    pub secret_key_enc: String,
    pub endpoint: String,
    pub default_did: Option<String>,
    pub sender_id: Option<String>,
    pub catch_all_company_id: Option<Uuid>,
    pub check_status: Option<String>,
    pub check_detail: Option<String>,
    pub checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
