//! The `number` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "number")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub e164: String,
    pub name: String,
    pub provider_id: Uuid,
    pub prefix_id: Uuid,
    pub policy_id: Option<Uuid>,
    pub callbacks_state: Option<String>,
    pub callbacks_detail: Option<String>,
    pub callbacks_set_at: Option<DateTimeUtc>,
    pub callbacks_checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
