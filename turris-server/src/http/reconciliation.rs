//! `/api/v1/integrations/hubspot/reconciliations`: start a bulk reconciliation of HubSpot
//! companies with agencies ([`crate::sync::reconcile`]) and follow it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Routes;
use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead, IntegrationsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::store::{Conflict, DbError, Job, JobId, JobStatus};
use crate::sync::reconcile::{KIND, Options};

const BASE: &str = "/api/v1/integrations/hubspot/reconciliations";

/// The reconciliation routes.
pub fn routes() -> Routes {
    Routes::new()
        .post(BASE, start)
        .get(&format!("{BASE}/{{id}}"), get)
}

/// What to reconcile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartReconciliation {
    /// `agencies` (HubSpot companies); the only object so far.
    pub object: String,
    /// Create an agency for each company in scope without a match.
    #[serde(default)]
    pub create_missing_in_turris: bool,
    /// Then create a HubSpot company for each agency still unlinked (with the identifier
    /// filter's value).
    #[serde(default)]
    pub create_missing_in_hubspot: bool,
}

/// A reconciliation and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    /// Its id.
    pub id: String,
    /// `agencies`.
    pub object: &'static str,
    /// `running`, `completed` or `failed`.
    #[schema(value_type = String, example = "running")]
    pub status: JobStatus,
    /// `options`, `phase` (`companies`, then `agencies`), `pages`, `seen`, `paired`,
    /// `created`, `created_in_hubspot`, `failed_in_hubspot`, `already_linked`, `skipped`
    /// (counts by reason) and, when it failed, `error`.
    #[schema(value_type = Object)]
    pub progress: serde_json::Value,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its progress last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for Reconciliation {
    fn from(job: Job) -> Self {
        let mut progress = job.state;
        if let Some(p) = progress.as_object_mut() {
            p.remove("after");
            p.remove("agencies_after");
        }
        Self {
            id: job.id.to_string(),
            object: "agencies",
            status: job.status,
            progress,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// Starts a reconciliation of every HubSpot company with the agencies: pairs by NPN, then
/// producer code, links the pairs and optionally creates the unmatched agencies, then
/// optionally a HubSpot company for each agency still unlinked. One runs at a
/// time per organization (409 `reconciliation_running` otherwise); it resumes after a restart.
#[utoipa::path(post, path = "/api/v1/integrations/hubspot/reconciliations", tag = "integrations",
    request_body = StartReconciliation,
    responses((status = 202, body = Reconciliation), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected, or one is running", body = crate::error::ErrorBody),
        (status = 422)),
    security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(body): Json<StartReconciliation>,
) -> ApiResult<(StatusCode, Json<Reconciliation>)> {
    if body.object != "agencies" {
        return Err(ApiError::invalid_field(
            "object",
            "only `agencies` can be reconciled",
        ));
    }
    if state.db().hubspot_credentials(auth.org()).await?.is_none() {
        return Err(ApiError::conflict(
            "not_connected",
            "hubspot is not connected",
        ));
    }
    let options = Options {
        create_missing_in_turris: body.create_missing_in_turris,
        create_missing_in_hubspot: body.create_missing_in_hubspot,
    };
    let job = match crate::sync::reconcile::start(&state, auth.org(), options).await {
        Err(DbError::Conflict(Conflict::JobRunning)) => {
            return Err(ApiError::conflict(
                "reconciliation_running",
                "a reconciliation is already running; follow it until it finishes",
            ));
        }
        started => started?,
    };
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// A reconciliation: its progress while running, its summary once done.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/reconciliations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The reconciliation id")),
    responses((status = 200, body = Reconciliation), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
    Path(id): Path<JobId>,
) -> ApiResult<Json<Reconciliation>> {
    match state.db().job(auth.org(), id).await? {
        Some(job) if job.kind == KIND => Ok(Json(job.into())),
        _ => Err(ApiError::not_found("reconciliation")),
    }
}
