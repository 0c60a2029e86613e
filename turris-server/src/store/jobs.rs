//! Long-running jobs with their state as JSON; a partial unique index allows one running job
//! per organization and kind.
//!
//! A running job is leased (`lease_id`, `lease_expires_at`) by the process that runs it.
//! `claim_jobs` is one `UPDATE ... WHERE id IN (SELECT ... LIMIT n)` statement whose inner
//! select takes `FOR UPDATE SKIP LOCKED` on PostgreSQL, and whose outer `WHERE` repeats the
//! lease condition, so a job claimed by a concurrent transaction that committed first is
//! re-checked and skipped: two processes never hold one job. `save_leased_job` writes only
//! `WHERE lease_id = $lease`, so a process whose lease was taken over saves nothing.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, from_ns, limit, ns, plus, skip_locked, with_pool, wrote};
use serde::{Deserialize, Serialize};

use super::*;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// In progress (or interrupted by a restart: resume it).
    Running,
    /// Finished; its state holds the result.
    Completed,
    /// Gave up; its state says why.
    Failed,
}

/// A long-running job of an organization (bulk reconciliation), with its progress as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The organization.
    pub organization: OrganizationId,
    /// What it does (`"reconcile_companies"`); at most one runs per organization and kind.
    pub kind: String,
    /// Where it stands.
    pub status: JobStatus,
    /// Progress, cursor and result, as the job defines them.
    pub state: serde_json::Value,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

/// Jobs that survive restarts: a worker saves its cursor as it goes and resumes from the
/// running jobs on start.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Starts a job; [`Conflict::JobRunning`] while one of that kind runs for `org`,
    /// [`DbError::NotFound`] for an unknown organization.
    async fn create_job(
        &self,
        org: &OrganizationId,
        kind: &str,
        state: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> DbResult<Job>;
    /// Saves progress or the outcome; [`DbError::NotFound`] for an unknown job.
    async fn update_job(
        &self,
        org: &OrganizationId,
        id: JobId,
        status: JobStatus,
        state: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    /// One job.
    async fn job(&self, org: &OrganizationId, id: JobId) -> DbResult<Option<Job>>;
    /// The organization's jobs of a kind, newest first.
    async fn list_jobs(&self, org: &OrganizationId, kind: &str) -> DbResult<Vec<Job>>;
    /// Every running job, oldest first (to resume after a restart).
    async fn running_jobs(&self) -> DbResult<Vec<Job>>;
    /// Leases up to `limit` running jobs of `kind` whose lease is free or lapsed at `now`,
    /// oldest first, each until `now + lease_for` under a fresh lease id. On PostgreSQL the
    /// rows are taken `FOR UPDATE SKIP LOCKED`, so processes claim disjoint jobs.
    async fn claim_jobs(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
        limit: usize,
    ) -> DbResult<Vec<(Job, JobLease)>>;
    /// Saves a leased running job's progress or outcome, and extends its lease until
    /// `lease_until` (`None` releases it). `false`, and nothing saved, when the lease is no
    /// longer this one (taken over after it lapsed) or the job is no longer running.
    async fn save_leased_job(
        &self,
        job: &Job,
        lease: &JobLease,
        status: JobStatus,
        state: &serde_json::Value,
        lease_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// The organization's jobs of these kinds, newest first, strictly after `after` (the
    /// `(created_at, id)` of the previous page's last job), at most `limit` (1..=1000).
    async fn job_page(
        &self,
        org: &OrganizationId,
        kinds: &[&str],
        after: Option<(DateTime<Utc>, JobId)>,
        limit: usize,
    ) -> DbResult<Vec<Job>>;
}

/// A process's claim on a running job ([`JobStore::claim_jobs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLease {
    /// Drawn at each claim.
    pub id: uuid::Uuid,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, kind, status, state, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct LeasedJobRow {
    #[sqlx(flatten)]
    job: JobRow,
    lease_id: Option<Uuid>,
    lease_expires_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    organization_id: String,
    kind: String,
    status: String,
    state: String,
    created_at: i64,
    updated_at: i64,
}

fn status_text(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Running => "running",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
    }
}

impl JobRow {
    fn job(self) -> DbResult<Job> {
        Ok(Job {
            id: JobId(self.id),
            organization: OrganizationId::parse(&self.organization_id).map_err(DbError::corrupt)?,
            kind: self.kind,
            status: match self.status.as_str() {
                "running" => JobStatus::Running,
                "completed" => JobStatus::Completed,
                "failed" => JobStatus::Failed,
                other => return Err(DbError::corrupt(format!("job status {other}"))),
            },
            state: serde_json::from_str(&self.state)?,
            created_at: from_ns(self.created_at),
            updated_at: from_ns(self.updated_at),
        })
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn create_job(
        &self,
        org: &OrganizationId,
        kind: &str,
        state: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> DbResult<Job> {
        let id = JobId::new();
        let created = ns(now)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO jobs (id, organization_id, kind, status, state, created_at,
                 updated_at) VALUES ($1, $2, $3, 'running', $4, $5, $5)",
            )
            .bind(id.0)
            .bind(org.as_str())
            .bind(kind)
            .bind(state.to_string())
            .bind(created)
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(Job {
            id,
            organization: org.clone(),
            kind: kind.to_owned(),
            status: JobStatus::Running,
            state: state.clone(),
            created_at: from_ns(created),
            updated_at: from_ns(created),
        })
    }

    async fn update_job(
        &self,
        org: &OrganizationId,
        id: JobId,
        status: JobStatus,
        state: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let updated_at = ns(now)?;
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE jobs SET status = $3, state = $4, updated_at = $5
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind(status_text(status))
            .bind(state.to_string())
            .bind(updated_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        wrote(updated, DbError::NotFound)
    }

    async fn job(&self, org: &OrganizationId, id: JobId) -> DbResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE organization_id = $1 AND id = $2");
        let row: Option<JobRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(JobRow::job).transpose()
    }

    async fn list_jobs(&self, org: &OrganizationId, kind: &str) -> DbResult<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE organization_id = $1 AND kind = $2
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<JobRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(kind)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(JobRow::job).collect()
    }

    async fn running_jobs(&self) -> DbResult<Vec<Job>> {
        let sql =
            format!("SELECT {COLUMNS} FROM jobs WHERE status = 'running' ORDER BY created_at, id");
        let rows: Vec<JobRow> =
            with_pool!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
        rows.into_iter().map(JobRow::job).collect()
    }

    async fn claim_jobs(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
        limit_to: usize,
    ) -> DbResult<Vec<(Job, JobLease)>> {
        if limit_to == 0 {
            return Ok(Vec::new());
        }
        let now_ns = ns(now)?;
        let expires = ns(plus(now, lease_for))?;
        let lease = Uuid::now_v7();
        let rows: Vec<LeasedJobRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            // Picked once in a materialized CTE: as a subquery of `IN` beside other
            // conditions, PostgreSQL may run the `LIMIT ... SKIP LOCKED` select again per
            // row, each run skipping what the last locked, and lease more than the limit.
            let sql = format!(
                "WITH picked AS MATERIALIZED (
                     SELECT id FROM jobs
                     WHERE status = 'running' AND kind = $1
                       AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
                     ORDER BY created_at, id
                     LIMIT $5 {}
                 )
                 UPDATE jobs SET lease_id = $3, lease_expires_at = $4
                 WHERE id IN (SELECT id FROM picked)
                 AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
                 RETURNING {COLUMNS}, lease_id, lease_expires_at",
                skip_locked(pool)
            );
            sqlx::query_as(&sql)
                .bind(kind)
                .bind(now_ns)
                .bind(lease)
                .bind(expires)
                .bind(limit(limit_to))
                .fetch_all(pool)
                .await?
        });
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                let lease = JobLease {
                    id: row
                        .lease_id
                        .ok_or_else(|| DbError::corrupt("claimed job without a lease"))?,
                    expires_at: from_ns(row.lease_expires_at.unwrap_or(expires)),
                };
                Ok((row.job.job()?, lease))
            })
            .collect::<DbResult<Vec<_>>>()?;
        claimed.sort_by_key(|(job, _)| (job.created_at, job.id.0));
        Ok(claimed)
    }

    async fn save_leased_job(
        &self,
        job: &Job,
        lease: &JobLease,
        status: JobStatus,
        state: &serde_json::Value,
        lease_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let updated_at = ns(now)?;
        let (lease_id, expires) = match lease_until {
            Some(until) => (Some(lease.id), Some(ns(until)?)),
            None => (None, None),
        };
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE jobs SET status = $4, state = $5, updated_at = $6, lease_id = $7,
                 lease_expires_at = $8
                 WHERE organization_id = $1 AND id = $2 AND lease_id = $3
                   AND status = 'running'",
            )
            .bind(job.organization.as_str())
            .bind(job.id.0)
            .bind(lease.id)
            .bind(status_text(status))
            .bind(state.to_string())
            .bind(updated_at)
            .bind(lease_id)
            .bind(expires)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    async fn job_page(
        &self,
        org: &OrganizationId,
        kinds: &[&str],
        after: Option<(DateTime<Utc>, JobId)>,
        limit_to: usize,
    ) -> DbResult<Vec<Job>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE organization_id = $1 AND kind IN ({})
               AND ($2 = 0 OR created_at < $3 OR (created_at = $3 AND id < $4))
             ORDER BY created_at DESC, id DESC LIMIT {}",
            kind_params.join(", "),
            limit_to.clamp(1, 1000)
        );
        let (has_after, at, id) = match after {
            Some((at, id)) => (1_i64, ns(at)?, id.0),
            None => (0, 0, Uuid::nil()),
        };
        let rows: Vec<JobRow> = with_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(has_after)
                .bind(at)
                .bind(id);
            for kind in kinds {
                query = query.bind(*kind);
            }
            query.fetch_all(pool).await?
        });
        rows.into_iter().map(JobRow::job).collect()
    }
}
