//! turris-core's [`ActivityStore`]: entries as JSON with their instant as nanoseconds, pages
//! by keyset on `(at, id)` newest first.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::activity::{
    Activity, ActivityCursor, ActivityId, ActivityPage, NewActivity, Outcome,
};
use turris_core::ids::OrganizationId;
use turris_core::store::{ActivityStore, StoreResult, clamp_page_size};

use super::error::DbError;
use super::inputs::enum_text;
use super::sql::{Dialect, SqlStore, ns, ns_saturating, with_pool};

/// Appends one activity row over an executor (a pool, or `&mut *tx` inside a transaction such
/// as an inbound sync step, [`super::sync_step`]); evaluates to the `Result` of its new id.
macro_rules! insert_activity_row {
    ($exec:expr, $org:expr, $at:expr, $entry:expr, $outcome:expr) => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO activity (organization_id, at, entry, outcome)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind($org.as_str())
        .bind($at)
        .bind($entry)
        .bind($outcome)
        .fetch_one($exec)
        .await
    };
}
pub(crate) use insert_activity_row;

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: i64,
    entry: String,
}

#[async_trait]
impl ActivityStore for SqlStore {
    async fn append_activity(
        &self,
        org: &OrganizationId,
        activity: &NewActivity,
    ) -> StoreResult<Activity> {
        let at = ns(activity.at)?;
        let entry = serde_json::to_string(activity).map_err(DbError::from)?;
        let outcome = enum_text(&activity.outcome)?;
        let id: i64 = with_pool!(self, |pool| {
            insert_activity_row!(pool, org, at, &entry, &outcome).map_err(DbError::from)?
        });
        Ok(Activity {
            id: ActivityId(id as u64),
            entry: activity.clone(),
        })
    }

    async fn activity_page(
        &self,
        org: &OrganizationId,
        cursor: Option<&ActivityCursor>,
        outcome: Option<Outcome>,
        limit: usize,
    ) -> StoreResult<ActivityPage> {
        let limit = clamp_page_size(limit);
        let (before_at, before_id) = match cursor {
            Some(c) => {
                let (at, id) = c.position();
                (ns_saturating(at), i64::try_from(id.0).unwrap_or(i64::MAX))
            }
            None => (i64::MAX, i64::MAX),
        };
        // Without a filter `$6` is true and every outcome passes (one query text for both
        // databases, no untyped NULL parameter for PostgreSQL to guess at).
        let outcome = outcome.as_ref().map(enum_text).transpose()?;
        let rows: Vec<ActivityRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, entry FROM activity
                 WHERE organization_id = $1 AND (at < $2 OR (at = $2 AND id < $3))
                   AND (outcome = $5 OR $6)
                 ORDER BY at DESC, id DESC LIMIT $4",
            )
            .bind(org.as_str())
            .bind(before_at)
            .bind(before_id)
            .bind(limit as i64 + 1)
            .bind(outcome.as_deref())
            .bind(outcome.is_none())
            .fetch_all(pool)
            .await
            .map_err(DbError::from)?
        });
        let more = rows.len() > limit;
        let entries = rows
            .into_iter()
            .take(limit)
            .map(|row| {
                Ok(Activity {
                    id: ActivityId(row.id as u64),
                    entry: serde_json::from_str(&row.entry).map_err(DbError::from)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        let next = match entries.last() {
            Some(last) if more => Some(ActivityCursor::after(last.entry.at, last.id)),
            _ => None,
        };
        Ok(ActivityPage { entries, next })
    }

    async fn prune_activity(
        &self,
        org: &OrganizationId,
        before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let before = ns_saturating(before);
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM activity WHERE organization_id = $1 AND at < $2")
                .bind(org.as_str())
                .bind(before)
                .execute(pool)
                .await
                .map_err(DbError::from)?
                .rows_affected()
        }))
    }
}
