//! Periodic pruning across organizations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::DbResult;
use super::sql::{Dialect, SqlStore, ns_saturating, with_pool};

/// Periodic pruning, across organizations.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes activity entries recorded strictly before `before`, in every organization.
    async fn prune_activity_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
    /// Deletes delivered or failed events created strictly before `before`, with their
    /// attempts and payloads; pending events stay. Returns how many events.
    async fn prune_deliveries_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
    /// Deletes processed or failed inbound events received strictly before `before`, consumed
    /// compliance changes recorded before it, and OAuth states expired before it. Returns how
    /// many inbound events.
    async fn prune_inbound_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
}

#[async_trait]
impl RetentionStore for SqlStore {
    async fn prune_activity_before(&self, before: DateTime<Utc>) -> DbResult<u64> {
        let before = ns_saturating(before);
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM activity WHERE at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    async fn prune_deliveries_before(&self, before: DateTime<Utc>) -> DbResult<u64> {
        let before = ns_saturating(before);
        // Attempts go with their events (ON DELETE CASCADE).
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM delivery_events WHERE status <> 'pending' AND created_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    async fn prune_inbound_before(&self, before: DateTime<Utc>) -> DbResult<u64> {
        let before = ns_saturating(before);
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let pruned = sqlx::query(
                "DELETE FROM inbound_events WHERE status <> 'pending' AND received_at < $1",
            )
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "DELETE FROM compliance_changes WHERE consumed_at IS NOT NULL AND recorded_at < $1",
            )
            .bind(before)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(pruned)
        })
    }
}
