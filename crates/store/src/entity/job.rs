//! The `job` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    pub message_id: Option<Uuid>,
    pub event_id: Option<i64>,
    pub ordering_key: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub media_id: Option<Uuid>,
    /// The dead delivery this one plays again.
    pub replay_of: Option<Uuid>,
    /// The extension a SIP delivery is for.
    pub extension_id: Option<Uuid>,
    /// Found waiting behind an unfinished older job of its ordering key: claims do not visit it
    /// until that job finishes (`outbox`).
    pub behind: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
