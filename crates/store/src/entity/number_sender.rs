//! The `number_sender` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "number_sender")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub number_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub extension_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
