//! Long-running jobs with their state as JSON; a partial unique index allows one running job
//! per organization and kind.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{SqlStore, from_ns, ns, with_pool};
use super::{Job, JobId, JobStatus, JobStore};

const COLUMNS: &str = "id, organization_id, kind, status, state, created_at, updated_at";

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
            organization: OrganizationId::parse(&self.organization_id)
                .map_err(|e| DbError::Corrupt(e.to_string()))?,
            kind: self.kind,
            status: match self.status.as_str() {
                "running" => JobStatus::Running,
                "completed" => JobStatus::Completed,
                "failed" => JobStatus::Failed,
                other => return Err(DbError::Corrupt(format!("job status {other}"))),
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
        if updated == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
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
}
