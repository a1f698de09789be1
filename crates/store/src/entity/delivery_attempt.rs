//! The `delivery_attempt` table: each attempt at a job that did not succeed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub job_id: Uuid,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub at: DateTimeUtc,
    /// The HTTP status answered, when there was an answer.
    pub status_code: Option<i32>,
    pub error: String,
    /// True for the last attempt, after which the job is dead.
    pub r#final: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
