//! `/api/v1/integrations/hubspot/reconciliations`: start a bulk reconciliation of HubSpot
//! companies with agencies or of contacts with agents ([`crate::sync::reconcile`]), follow it,
//! and list them.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Routes;
use super::extract::{Json, Path, Query};
use super::pagination::PageParams;
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead, IntegrationsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::store::{Conflict, DbError, Job, JobId, JobStatus};
use crate::sync::reconcile::{Object, Options};

const BASE: &str = "/api/v1/integrations/hubspot/reconciliations";

/// The reconciliation routes.
pub fn routes() -> Routes {
    Routes::new()
        .post(BASE, start)
        .get(BASE, list)
        .get(&format!("{BASE}/{{id}}"), get)
}

/// What to reconcile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartReconciliation {
    /// `agencies` (HubSpot companies, the default; `companies` is accepted too) or `agents`
    /// (HubSpot contacts; or `contacts`).
    #[serde(default)]
    pub object: Option<String>,
    /// Create an agency (agent) for each company (contact) in scope without a match.
    #[serde(default)]
    pub create_missing_in_turris: bool,
    /// Then create a HubSpot company (contact) for each agency (agent) still unlinked, with
    /// the identifier filter's value where the filter names one.
    #[serde(default)]
    pub create_missing_in_hubspot: bool,
}

/// A reconciliation and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    /// Its id.
    pub id: String,
    /// `agencies` or `agents`.
    pub object: &'static str,
    /// `running`, `completed` or `failed`.
    pub status: JobStatus,
    /// `options`, `phase` (`companies` then `agencies`, or `contacts` then `agents`), `pages`,
    /// `seen`, `paired`, `created`, `created_in_hubspot`, `failed_in_hubspot`,
    /// `already_linked`, `skipped` (counts by reason), `retries` (pages read again after
    /// HubSpot failed), `last_error` (the last HubSpot failure) and, when it failed, `error`.
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
            p.remove("turris_after");
            p.remove("agencies_after");
        }
        Self {
            id: job.id.to_string(),
            object: Object::of_kind(&job.kind).unwrap_or_default().as_str(),
            status: job.status,
            progress,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// Starts a reconciliation of every HubSpot company with the agencies (pairs by NPN, then
/// producer code) or of every contact with the agents (NPN, else first + last name + email):
/// links the pairs and optionally creates the unmatched Turris records, then optionally a
/// HubSpot record for each Turris record still unlinked. One runs at a time per organization
/// and object (409 `reconciliation_running` otherwise); one server process runs it, and it
/// resumes after a restart.
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
    let object = match body.object.as_deref() {
        None | Some("agencies" | "companies") => Object::Agencies,
        Some("agents" | "contacts") => Object::Agents,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "object",
                "must be `agencies` (companies) or `agents` (contacts)",
            ));
        }
    };
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
    let job = match crate::sync::reconcile::start(&state, auth.org(), object, options).await {
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
        Some(job) if Object::of_kind(&job.kind).is_some() => Ok(Json(job.into())),
        _ => Err(ApiError::not_found("reconciliation")),
    }
}

/// A page of reconciliations, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationList {
    /// The reconciliations.
    pub entries: Vec<Reconciliation>,
    /// Pass as `cursor` for the next (older) page; `null` after the oldest.
    pub next_cursor: Option<String>,
}

/// The text of a list cursor: the position `(created_at, id)` of a page's last job.
fn cursor_text(job: &Job) -> String {
    format!(
        "r1.{}.{}",
        job.created_at.timestamp_nanos_opt().unwrap_or_default(),
        job.id
    )
}

/// Parses a cursor made by [`cursor_text`] (only its canonical text).
fn parse_cursor(text: &str) -> Option<(DateTime<Utc>, JobId)> {
    let mut parts = text.splitn(3, '.');
    let (Some("r1"), Some(nanos), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let at = DateTime::from_timestamp_nanos(nanos.parse().ok()?);
    let id = JobId(uuid::Uuid::parse_str(id).ok()?);
    let canonical = format!("r1.{}.{id}", at.timestamp_nanos_opt()?);
    (canonical == text).then_some((at, id))
}

/// Every reconciliation of the organization (companies and contacts), newest first, in
/// cursor pages.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/reconciliations", tag = "integrations",
    params(PageParams),
    responses((status = 200, body = ReconciliationList),
        (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<ReconciliationList>> {
    let after = match page.cursor.as_deref() {
        None => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(crate::http::pagination::invalid_cursor)?),
    };
    let kinds = Object::ALL.map(Object::kind);
    let limit = page.limit();
    let mut jobs = state
        .db()
        .job_page(auth.org(), &kinds, after, limit + 1)
        .await?;
    let next_cursor = if jobs.len() > limit {
        jobs.truncate(limit);
        jobs.last().map(cursor_text)
    } else {
        None
    };
    Ok(Json(ReconciliationList {
        entries: jobs.into_iter().map(Reconciliation::from).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_cursor_round_trips_and_only_its_canonical_text_parses() {
        let job = Job {
            id: JobId::new(),
            organization: turris_core::ids::OrganizationId::parse("acme").unwrap(),
            kind: "reconcile_companies".into(),
            status: JobStatus::Running,
            state: serde_json::json!({}),
            created_at: DateTime::from_timestamp_nanos(1_790_000_000_123_456_789),
            updated_at: DateTime::from_timestamp_nanos(1_790_000_000_123_456_789),
        };
        let text = cursor_text(&job);
        assert_eq!(parse_cursor(&text), Some((job.created_at, job.id)));
        for bad in [
            "",
            "garbage",
            "r1.12",
            "r2.1790000000123456789.0192",
            &text.replace("r1.", "r1.0"),
            &text.to_uppercase(),
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
