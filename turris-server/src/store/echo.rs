//! The echo ledger: one row per property we wrote to a HubSpot object.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::{HubSpotId, OrganizationId};
use turris_core::planner::RecentWrite;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, from_ns, ns, ns_saturating, with_pool};

/// Our recent writes to HubSpot (turris-core's [`RecentWrite`]), shared by every replica so
/// the echo of a write is recognised whichever process receives the webhook.
#[async_trait]
pub trait EchoLedgerStore: Send + Sync {
    /// Remembers writes we just made.
    async fn record_hubspot_writes(
        &self,
        org: &OrganizationId,
        writes: &[RecentWrite],
    ) -> DbResult<()>;
    /// Our writes to these objects at or after `since`, oldest first.
    async fn recent_hubspot_writes(
        &self,
        org: &OrganizationId,
        objects: &[HubSpotId],
        since: DateTime<Utc>,
    ) -> DbResult<Vec<RecentWrite>>;
    /// Forgets writes made strictly before `before`, in every organization.
    async fn prune_hubspot_writes_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
}

/// Records one write in the ledger over an executor (a pool, or `&mut *tx` inside a
/// transaction such as an outbound create's, [`super::outbound`]); `$at` is the pair of
/// [`write_times`]; evaluates to the `Result` of `execute`.
macro_rules! insert_hubspot_write_row {
    ($exec:expr, $org:expr, $write:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO hubspot_writes (organization_id, object_id, property, value, at,
             edited_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($org.as_str())
        .bind($write.object_id.as_str())
        .bind(&$write.property)
        .bind(&$write.value)
        .bind($at.0)
        .bind($at.1)
        .execute($exec)
        .await
    };
}
pub(crate) use insert_hubspot_write_row;

/// A write's `at` and `edited_at` as stored.
pub(crate) fn write_times(write: &RecentWrite) -> DbResult<(i64, i64)> {
    Ok((ns(write.at)?, ns(write.edited_at)?))
}

#[derive(sqlx::FromRow)]
struct WriteRow {
    object_id: String,
    property: String,
    value: Option<String>,
    at: i64,
    edited_at: Option<i64>,
}

#[async_trait]
impl EchoLedgerStore for SqlStore {
    async fn record_hubspot_writes(
        &self,
        org: &OrganizationId,
        writes: &[RecentWrite],
    ) -> DbResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let at = writes
            .iter()
            .map(write_times)
            .collect::<DbResult<Vec<_>>>()?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for (write, at) in writes.iter().zip(&at) {
                insert_hubspot_write_row!(&mut *tx, org, write, at)?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn recent_hubspot_writes(
        &self,
        org: &OrganizationId,
        objects: &[HubSpotId],
        since: DateTime<Utc>,
    ) -> DbResult<Vec<RecentWrite>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let since = ns_saturating(since);
        let placeholders: Vec<String> = (3..3 + objects.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT object_id, property, value, at, edited_at FROM hubspot_writes
             WHERE organization_id = $1 AND at >= $2 AND object_id IN ({})
             ORDER BY at, id",
            placeholders.join(", ")
        );
        let rows: Vec<WriteRow> = with_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(org.as_str()).bind(since);
            for object in objects {
                query = query.bind(object.as_str());
            }
            query.fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(RecentWrite {
                    object_id: HubSpotId::parse(&row.object_id).map_err(DbError::corrupt)?,
                    property: row.property,
                    value: row.value,
                    at: from_ns(row.at),
                    edited_at: from_ns(row.edited_at.unwrap_or(row.at)),
                })
            })
            .collect()
    }

    async fn prune_hubspot_writes_before(&self, before: DateTime<Utc>) -> DbResult<u64> {
        let before = ns_saturating(before);
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM hubspot_writes WHERE at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
