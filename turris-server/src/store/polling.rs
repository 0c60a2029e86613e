//! Polling's cursors: per organization and object type, the modification time searched up to,
//! under a fenced lease (as the journal's position, `journal.rs`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use uuid::Uuid;

use super::error::DbResult;
use super::sql::{Dialect, SqlStore, ns, plus, with_pool};

/// One object type's cursor held by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollLease {
    /// The organization.
    pub organization: OrganizationId,
    /// `company` or `contact`.
    pub object: String,
    /// The fencing token.
    pub token: String,
    /// Records modified at or after this time (milliseconds) are searched; `None` before the
    /// first poll.
    pub modified_after: Option<i64>,
}

/// Storage of the polling worker.
#[async_trait]
pub trait PollCursorStore: Send + Sync {
    /// Takes the cursor of `org`'s `object` unless another process holds it.
    async fn lease_poll_cursor(
        &self,
        org: &OrganizationId,
        object: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<Option<PollLease>>;

    /// Moves the cursor and lets the lease go; `false` (nothing written) when the lease was
    /// lost to another process.
    async fn advance_poll_cursor(&self, lease: &PollLease, modified_after: i64) -> DbResult<bool>;
}

#[async_trait]
impl PollCursorStore for SqlStore {
    async fn lease_poll_cursor(
        &self,
        org: &OrganizationId,
        object: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<Option<PollLease>> {
        let token = Uuid::new_v4().to_string();
        let (now_ns, until) = (ns(now)?, ns(plus(now, lease_for))?);
        let taken: Option<(Option<i64>,)> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_as(
                "INSERT INTO hubspot_poll_cursors (organization_id, object_type, lease_token,
                 leased_until) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (organization_id, object_type) DO UPDATE
                 SET lease_token = excluded.lease_token, leased_until = excluded.leased_until
                 WHERE hubspot_poll_cursors.leased_until <= $5
                 RETURNING modified_after",
            )
            .bind(org.as_str())
            .bind(object)
            .bind(&token)
            .bind(until)
            .bind(now_ns)
            .fetch_optional(pool)
            .await?
        });
        Ok(taken.map(|(modified_after,)| PollLease {
            organization: org.clone(),
            object: object.to_owned(),
            token,
            modified_after,
        }))
    }

    async fn advance_poll_cursor(&self, lease: &PollLease, modified_after: i64) -> DbResult<bool> {
        let written = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_poll_cursors SET modified_after = $3, leased_until = 0
                 WHERE organization_id = $1 AND object_type = $2 AND lease_token = $4",
            )
            .bind(lease.organization.as_str())
            .bind(&lease.object)
            .bind(modified_after)
            .bind(&lease.token)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(written == 1)
    }
}
