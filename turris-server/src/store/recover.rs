//! Recover jobs: re-queue every failed event of a webhook created in a window, page by page.
//!
//! A job is a durable row (`webhook_recover_jobs`). Its pages run under a short lease with a
//! fencing token drawn when the job is taken: a page re-queues the next failed events after
//! the job's cursor and moves the cursor, `done` and the lease in one transaction, `WHERE
//! lease_id = $token`, so a process that lost the job (it was taken over after a pause)
//! changes nothing. A re-queued event is pending and due at once: the delivery workers send it
//! with the endpoint's limits, one more attempt.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::WebhookId;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, from_ns, ns, plus, with_pool};

/// Where a recover job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoverState {
    /// Re-queuing, a page at a time.
    Running,
    /// Every failed event of the window was re-queued.
    Done,
}

/// A recover job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecoverJob {
    /// Its id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// Failed events created at or after this...
    pub since: DateTime<Utc>,
    /// ...and before this are re-sent.
    pub until: DateTime<Utc>,
    /// `running` or `done`.
    pub state: RecoverState,
    /// The failed events in the window when the job was created.
    pub total: u64,
    /// How many of them are re-queued so far (their attempts show in each event's logs).
    pub done: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the last page was re-queued; `null` while running.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job taken by one process, with the token that fences its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedRecoverJob {
    /// The job.
    pub job: RecoverJob,
    /// The fencing token of this lease.
    pub lease: Uuid,
    cursor: Option<(i64, Uuid)>,
}

/// Durable recover jobs.
#[async_trait]
pub trait RecoverJobStore: Send + Sync {
    /// Creates a job for the organization's webhook over `[since, until)`, counting its failed
    /// events; `None` when the webhook is not the organization's.
    async fn create_recover_job(
        &self,
        org: &OrganizationId,
        webhook: WebhookId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<Option<RecoverJob>>;
    /// One of the organization's jobs for the webhook.
    async fn recover_job(
        &self,
        org: &OrganizationId,
        webhook: WebhookId,
        id: Uuid,
    ) -> DbResult<Option<RecoverJob>>;
    /// Takes the running job whose lease lapsed longest ago (or never had one), for
    /// `lease_for`, with a new token.
    async fn lease_recover_job(
        &self,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<Option<LeasedRecoverJob>>;
    /// Re-queues the next `limit` failed events after the job's cursor, moves the cursor and
    /// `done`, and extends the lease; the job finishes when a page comes back short.
    /// [`DbError::LeaseLost`] (nothing changed) when the token no longer holds the job.
    async fn recover_page(
        &self,
        job: &mut LeasedRecoverJob,
        limit: usize,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<()>;
    /// Gives the lease up (shutdown): another process may go on at once.
    async fn release_recover_job(&self, job: &LeasedRecoverJob) -> DbResult<()>;
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    webhook_id: Uuid,
    since: i64,
    until: i64,
    state: String,
    total: i64,
    done: i64,
    created_at: i64,
    finished_at: Option<i64>,
    cursor_created_at: Option<i64>,
    cursor_event_id: Option<Uuid>,
    lease_id: Option<Uuid>,
}

const JOB_COLUMNS: &str = "id, webhook_id, since, until, state, total, done, created_at, \
     finished_at, cursor_created_at, cursor_event_id, lease_id";

impl JobRow {
    fn job(&self) -> RecoverJob {
        RecoverJob {
            id: self.id,
            webhook_id: WebhookId(self.webhook_id),
            since: from_ns(self.since),
            until: from_ns(self.until),
            state: if self.state == "done" {
                RecoverState::Done
            } else {
                RecoverState::Running
            },
            total: u64::try_from(self.total).unwrap_or(0),
            done: u64::try_from(self.done).unwrap_or(0),
            created_at: from_ns(self.created_at),
            finished_at: self.finished_at.map(from_ns),
        }
    }
}

/// The failed events of webhook `$1` created in `[$2, $3)` after the cursor `($4, $5)`.
const FAILED_IN_WINDOW: &str = "webhook_id = $1 AND status = 'failed'
     AND created_at >= $2 AND created_at < $3
     AND ($4 IS NULL OR created_at > $4 OR (created_at = $4 AND event_id > $5))";

#[async_trait]
impl RecoverJobStore for SqlStore {
    async fn create_recover_job(
        &self,
        org: &OrganizationId,
        webhook: WebhookId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<Option<RecoverJob>> {
        let (since, until, now) = (ns(since)?, ns(until)?, ns(now)?);
        let id = Uuid::now_v7();
        let row: Option<JobRow> = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let owned: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND organization_id = $2",
            )
            .bind(webhook.0)
            .bind(org.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if owned.is_none() {
                return Ok(None);
            }
            let count = format!("SELECT COUNT(*) FROM delivery_events WHERE {FAILED_IN_WINDOW}");
            let total: i64 = sqlx::query_scalar(&count)
                .bind(webhook.0)
                .bind(since)
                .bind(until)
                .bind(None::<i64>)
                .bind(None::<Uuid>)
                .fetch_one(&mut *tx)
                .await?;
            let insert = format!(
                "INSERT INTO webhook_recover_jobs (id, organization_id, webhook_id, since, until,
                 state, total, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 RETURNING {JOB_COLUMNS}"
            );
            let row = sqlx::query_as(&insert)
                .bind(id)
                .bind(org.as_str())
                .bind(webhook.0)
                .bind(since)
                .bind(until)
                .bind(if total == 0 { "done" } else { "running" })
                .bind(total)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Some(row)
        });
        Ok(row.map(|r| r.job()))
    }

    async fn recover_job(
        &self,
        org: &OrganizationId,
        webhook: WebhookId,
        id: Uuid,
    ) -> DbResult<Option<RecoverJob>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM webhook_recover_jobs
             WHERE id = $1 AND webhook_id = $2 AND organization_id = $3"
        );
        let row: Option<JobRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(webhook.0)
                .bind(org.as_str())
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|r| r.job()))
    }

    async fn lease_recover_job(
        &self,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<Option<LeasedRecoverJob>> {
        let (now_ns, expires) = (ns(now)?, ns(plus(now, lease_for))?);
        let token = Uuid::now_v7();
        let row: Option<JobRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            let sql = format!(
                "UPDATE webhook_recover_jobs SET lease_id = $1, lease_expires_at = $2
                 WHERE id = (SELECT id FROM webhook_recover_jobs
                     WHERE state = 'running'
                       AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
                     ORDER BY lease_expires_at, created_at LIMIT 1 {})
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
                 RETURNING {JOB_COLUMNS}",
                super::sql::skip_locked(pool)
            );
            sqlx::query_as(&sql)
                .bind(token)
                .bind(expires)
                .bind(now_ns)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|r| LeasedRecoverJob {
            job: r.job(),
            lease: r.lease_id.unwrap_or(token),
            cursor: r.cursor_created_at.zip(r.cursor_event_id),
        }))
    }

    async fn recover_page(
        &self,
        job: &mut LeasedRecoverJob,
        limit: usize,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<()> {
        let (now_ns, expires) = (ns(now)?, ns(plus(now, lease_for))?);
        let (since, until) = (ns(job.job.since)?, ns(job.job.until)?);
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let requeue = format!(
            "UPDATE delivery_events SET status = 'pending', next_attempt_at = $6
             WHERE event_id IN (SELECT event_id FROM delivery_events WHERE {FAILED_IN_WINDOW}
                 ORDER BY created_at, event_id LIMIT $7)
             RETURNING created_at, event_id"
        );
        let (page, finished) = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            // The fence first: a lost job changes nothing.
            let held: Option<i32> = sqlx::query_scalar(
                "UPDATE webhook_recover_jobs SET lease_expires_at = $3
                 WHERE id = $1 AND lease_id = $2 AND state = 'running' RETURNING 1",
            )
            .bind(job.job.id)
            .bind(job.lease)
            .bind(expires)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_none() {
                return Err(DbError::LeaseLost);
            }
            let page: Vec<(i64, Uuid)> = sqlx::query_as(&requeue)
                .bind(job.job.webhook_id.0)
                .bind(since)
                .bind(until)
                .bind(job.cursor.map(|c| c.0))
                .bind(job.cursor.map(|c| c.1))
                .bind(now_ns)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            let finished = (page.len() as i64) < limit;
            let cursor = page.iter().max().copied().or(job.cursor);
            sqlx::query(
                "UPDATE webhook_recover_jobs SET done = done + $3, cursor_created_at = $4,
                     cursor_event_id = $5, state = $6, finished_at = $7
                 WHERE id = $1 AND lease_id = $2",
            )
            .bind(job.job.id)
            .bind(job.lease)
            .bind(page.len() as i64)
            .bind(cursor.map(|c| c.0))
            .bind(cursor.map(|c| c.1))
            .bind(if finished { "done" } else { "running" })
            .bind(finished.then_some(now_ns))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            (page, finished)
        });
        job.cursor = page.iter().max().copied().or(job.cursor);
        job.job.done += page.len() as u64;
        if finished {
            job.job.state = RecoverState::Done;
            job.job.finished_at = Some(from_ns(now_ns));
        }
        Ok(())
    }

    async fn release_recover_job(&self, job: &LeasedRecoverJob) -> DbResult<()> {
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE webhook_recover_jobs SET lease_id = NULL, lease_expires_at = NULL
                 WHERE id = $1 AND lease_id = $2",
            )
            .bind(job.job.id)
            .bind(job.lease)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
