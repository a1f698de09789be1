//! What each tenant used over a period: texts in and out, their segments (what Flowroute bills),
//! failures, and the numbers it holds now — for the operator, who bills tenants and watches load.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{EntityTrait, QueryOrder};
use uuid::Uuid;

use crate::entity::tenant;
use crate::{Store, StoreError, sql};

/// One tenant's use over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUsage {
    pub tenant_id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    /// Numbers it holds now.
    pub numbers: u64,
    pub texts_in: u64,
    pub texts_out: u64,
    pub segments_in: u64,
    pub segments_out: u64,
    /// Outbound texts that failed.
    pub failed_out: u64,
}

fn count(row: &sea_orm::QueryResult, col: &str) -> Result<u64, StoreError> {
    // SUM over no rows is NULL; PostgreSQL's SUM of integers is a bigint (or numeric, cast here).
    let n: Option<i64> = row.try_get("", col)?;
    Ok(n.unwrap_or(0).max(0).cast_unsigned())
}

impl Store {
    /// Every tenant's texts in `[since, until)` (found by their time-ordered ids: one range of the
    /// primary key), and the numbers each holds now, by slug.
    pub async fn usage(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<TenantUsage>, StoreError> {
        let (from, to) = (crate::page::id_floor(since), crate::page::id_floor(until));
        let rows = sql::query(
            self.db(),
            "SELECT tenant_id, direction, COUNT(*) AS n, CAST(SUM(segments) AS BIGINT) AS segments, \
               CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed \
             FROM message WHERE id >= $1 AND id < $2 GROUP BY tenant_id, direction",
            vec![from.into(), to.into()],
        )
        .await?;
        let mut texts: HashMap<Uuid, TenantUsage> = HashMap::new();
        for row in rows {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            let direction: String = row.try_get("", "direction")?;
            let u = texts.entry(tenant).or_default();
            let (n, segments) = (count(&row, "n")?, count(&row, "segments")?);
            if direction == "inbound" {
                u.texts_in += n;
                u.segments_in += segments;
            } else {
                u.texts_out += n;
                u.segments_out += segments;
                u.failed_out += count(&row, "failed")?;
            }
        }
        let numbers = sql::query(self.db(), "SELECT tenant_id, COUNT(*) AS n FROM number GROUP BY tenant_id", vec![])
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<Uuid>("", "tenant_id")?, count(r, "n")?)))
            .collect::<Result<HashMap<Uuid, u64>, StoreError>>()?;
        let tenants = tenant::Entity::find().order_by_asc(tenant::Column::Slug).all(self.db()).await?;
        Ok(tenants
            .into_iter()
            .map(|t| {
                let used = texts.remove(&t.id).unwrap_or_default();
                TenantUsage {
                    tenant_id: t.id,
                    numbers: numbers.get(&t.id).copied().unwrap_or(0),
                    status: t.status.clone(),
                    slug: t.slug,
                    name: t.name,
                    ..used
                }
            })
            .collect())
    }
}
