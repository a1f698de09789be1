//! The `number_destination` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "number_destination")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub number_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub extension_id: Uuid,
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
