//! The `policy` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "policy")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub timezone: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub business_hours: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub after_hours: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub keywords: Json,
    pub auto_reply_interval_minutes: i32,
    pub outbound_per_minute: i32,
    pub help_reply: Option<String>,
    pub opt_out_handling: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub holidays: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
