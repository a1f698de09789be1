//! The `audit_entry` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub at: DateTimeUtc,
    pub actor: String,
    pub credential: Option<String>,
    pub address: Option<String>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: i32,
    pub changes: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
