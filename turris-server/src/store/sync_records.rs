//! The CRM sync record ([`turris_core::audit`]): every write to HubSpot, stored as JSON with
//! its filter columns, listed newest first by keyset on `(at, id)`, pruned after the configured
//! retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::activity::Outcome;
use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncHealth};
use turris_core::ids::OrganizationId;

use super::error::{DbError, DbResult};
use super::inputs::enum_text;
use super::sql::{Dialect, SqlStore, ns, ns_saturating, with_pool};

/// A stored sync record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmSyncRecord {
    /// Its id, increasing in insertion order.
    pub id: i64,
    /// What was written.
    pub entry: CrmSyncEntry,
}

/// Which records to list; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRecordFilter {
    /// Of this HubSpot object kind.
    pub object: Option<CrmObject>,
    /// About this HubSpot object.
    pub object_id: Option<String>,
    /// Of this operation.
    pub operation: Option<CrmOperation>,
    /// With this outcome.
    pub outcome: Option<Outcome>,
    /// About this Turris record.
    pub turris_id: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// The CRM sync record.
#[async_trait]
pub trait SyncRecordStore: Send + Sync {
    /// Appends entries, in one transaction.
    async fn append_sync_records(
        &self,
        org: &OrganizationId,
        entries: &[CrmSyncEntry],
    ) -> DbResult<()>;
    /// Up to `limit` records matching `filter`, newest first, strictly older than `before`
    /// (the `(at, id)` of the previous page's last record).
    async fn sync_records(
        &self,
        org: &OrganizationId,
        filter: &SyncRecordFilter,
        before: Option<(DateTime<Utc>, i64)>,
        limit: usize,
    ) -> DbResult<Vec<CrmSyncRecord>>;
    /// Deletes records older than `before`, of every organization; how many.
    async fn prune_sync_records_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
    /// The last successful write, and the failures since `since` with the latest of them.
    async fn sync_health(&self, org: &OrganizationId, since: DateTime<Utc>)
    -> DbResult<SyncHealth>;
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    entry: String,
}

/// The filter columns of one entry.
struct Columns {
    at: i64,
    object: String,
    operation: String,
    outcome: String,
    entry: String,
}

fn columns(entry: &CrmSyncEntry) -> DbResult<Columns> {
    Ok(Columns {
        at: ns(entry.at)?,
        object: enum_text(&entry.object)?,
        operation: enum_text(&entry.operation)?,
        outcome: enum_text(&entry.outcome)?,
        entry: serde_json::to_string(entry)?,
    })
}

#[async_trait]
impl SyncRecordStore for SqlStore {
    async fn append_sync_records(
        &self,
        org: &OrganizationId,
        entries: &[CrmSyncEntry],
    ) -> DbResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = entries.iter().map(columns).collect::<DbResult<Vec<_>>>()?;
        let now = ns(Utc::now())?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (row, entry) in rows.iter().zip(entries) {
                sqlx::query(
                    "INSERT INTO crm_sync_records (organization_id, at, object_type, object_id,
                     operation, turris_id, outcome, entry) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(org.as_str())
                .bind(row.at)
                .bind(&row.object)
                .bind(entry.object_id.as_deref())
                .bind(&row.operation)
                .bind(entry.turris.as_ref().map(|t| t.id()))
                .bind(&row.outcome)
                .bind(&row.entry)
                .execute(&mut *tx)
                .await?;
            }
            // A record's lists follow the tags HubSpot took.
            for (object, id, tags) in super::lists::tags_written(entries) {
                super::lists::record_tags_written!(tx, org, object, id, tags, now);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn sync_records(
        &self,
        org: &OrganizationId,
        filter: &SyncRecordFilter,
        before: Option<(DateTime<Utc>, i64)>,
        limit: usize,
    ) -> DbResult<Vec<CrmSyncRecord>> {
        let (before_at, before_id) = match before {
            Some((at, id)) => (ns_saturating(at), id),
            None => (i64::MAX, i64::MAX),
        };
        let object = filter.object.as_ref().map(enum_text).transpose()?;
        let operation = filter.operation.as_ref().map(enum_text).transpose()?;
        let outcome = filter.outcome.as_ref().map(enum_text).transpose()?;
        let since = filter.since.map_or(i64::MIN, ns_saturating);
        let until = filter.until.map_or(i64::MAX, ns_saturating);
        // An unset filter passes its `OR $n` flag as true: one query text for both databases
        // and no untyped NULL for PostgreSQL to guess at.
        let rows: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, entry FROM crm_sync_records
                 WHERE organization_id = $1 AND (at < $2 OR (at = $2 AND id < $3))
                   AND at >= $5 AND at < $6
                   AND (object_type = $7 OR $8) AND (object_id = $9 OR $10)
                   AND (operation = $11 OR $12) AND (outcome = $13 OR $14)
                   AND (turris_id = $15 OR $16)
                 ORDER BY at DESC, id DESC LIMIT $4",
            )
            .bind(org.as_str())
            .bind(before_at)
            .bind(before_id)
            .bind(limit as i64)
            .bind(since)
            .bind(until)
            .bind(object.as_deref())
            .bind(object.is_none())
            .bind(filter.object_id.as_deref())
            .bind(filter.object_id.is_none())
            .bind(operation.as_deref())
            .bind(operation.is_none())
            .bind(outcome.as_deref())
            .bind(outcome.is_none())
            .bind(filter.turris_id.as_deref())
            .bind(filter.turris_id.is_none())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(CrmSyncRecord {
                    id: row.id,
                    entry: serde_json::from_str(&row.entry).map_err(DbError::from)?,
                })
            })
            .collect()
    }

    async fn sync_health(
        &self,
        org: &OrganizationId,
        since: DateTime<Utc>,
    ) -> DbResult<SyncHealth> {
        let since = ns_saturating(since);
        let (success, failure) = (enum_text(&Outcome::Success)?, enum_text(&Outcome::Failure)?);
        let (last_success, failures, latest): (Option<i64>, i64, Option<String>) =
            with_pool!(self, |pool| {
                let last = sqlx::query_scalar(
                    "SELECT MAX(at) FROM crm_sync_records
                     WHERE organization_id = $1 AND outcome = $2",
                )
                .bind(org.as_str())
                .bind(&success)
                .fetch_one(pool)
                .await?;
                let failures = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM crm_sync_records
                     WHERE organization_id = $1 AND outcome = $2 AND at >= $3",
                )
                .bind(org.as_str())
                .bind(&failure)
                .bind(since)
                .fetch_one(pool)
                .await?;
                let latest = sqlx::query_scalar(
                    "SELECT entry FROM crm_sync_records
                     WHERE organization_id = $1 AND outcome = $2 AND at >= $3
                     ORDER BY at DESC, id DESC LIMIT 1",
                )
                .bind(org.as_str())
                .bind(&failure)
                .bind(since)
                .fetch_optional(pool)
                .await?;
                (last, failures, latest)
            });
        Ok(SyncHealth {
            last_success_at: last_success.map(super::sql::from_ns),
            failures: failures.max(0) as u64,
            last_failure: latest.map(|e| serde_json::from_str(&e)).transpose()?,
        })
    }

    async fn prune_sync_records_before(&self, before: DateTime<Utc>) -> DbResult<u64> {
        let before = ns_saturating(before);
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM crm_sync_records WHERE at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
