//! The `conversation` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub number: String,
    pub remote: String,
    pub last_message_id: Option<Uuid>,
    pub last_message_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub last_auto_reply_at: Option<DateTimeUtc>,
    /// The account that took the conversation, if one has.
    pub assigned_to: Option<Uuid>,
    pub assigned_at: Option<DateTimeUtc>,
    /// When it was marked done; a new text from the other party opens it again.
    pub done_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
