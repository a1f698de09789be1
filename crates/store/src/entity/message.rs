//! The `message` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "message")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub direction: String,
    pub number: String,
    pub remote: String,
    pub body: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub media: Json,
    pub segments: i32,
    pub encoding: i16,
    pub status: String,
    pub provider_message_id: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub extensions: Json,
    pub sender_extension: Option<String>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub keyword: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub origin: String,
    /// Sent by a program, not a person in a conversation: held to quiet hours.
    pub automated: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
