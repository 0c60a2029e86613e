//! Recover: re-send every failed event of a webhook created in a window, as one job with
//! progress (`total`, `done`, `state`), at most `TURRIS_WEBHOOK_RECOVER_RATE` events a second.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use turris_webhooks::delivery::WebhookId;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Authorized, WebhooksRead, WebhooksUpdate};
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::http::extract::{Json, Path};
use crate::store::RecoverJob;

/// Which failed events to re-send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// Failed events created at or after this instant (RFC 3339)...
    pub since: DateTime<Utc>,
    /// ...and before this one (default: now).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

fn window(body: &Recover, now: DateTime<Utc>) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let until = body.until.unwrap_or(now);
    let mut errors = Vec::new();
    if body.since > now {
        errors.push(ErrorDetail {
            path: "since".into(),
            message: "since must not be in the future".into(),
        });
    }
    if body.since >= until {
        errors.push(ErrorDetail {
            path: "until".into(),
            message: "until must be after since".into(),
        });
    }
    if errors.is_empty() {
        Ok((body.since, until))
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Starts a recover job: every event of the webhook that failed (its automatic attempts
/// exhausted) and was created in `[since, until)` is sent again, one more attempt each, within
/// the webhook's limits. 202 with the job; follow it with `GET .../recover/{job_id}`.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/recover", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    request_body = Recover,
    responses((status = 202, body = RecoverJob), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, description = "An empty or future window", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn recover(
    State(state): State<AppState>,
    auth: Authorized<WebhooksUpdate>,
    Path(id): Path<WebhookId>,
    Json(body): Json<Recover>,
) -> ApiResult<(StatusCode, Json<RecoverJob>)> {
    let now = Utc::now();
    let (since, until) = window(&body, now)?;
    let job = state
        .db()
        .create_recover_job(auth.org(), id, since, until, now)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    tracing::info!(webhook_id = %id, job_id = %job.id, total = job.total, "recover job created");
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A recover job's progress.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/recover/{job_id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id"),
        ("job_id" = String, Path, description = "The recover job id")),
    responses((status = 200, body = RecoverJob), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn recover_job(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
    Path((id, job_id)): Path<(WebhookId, Uuid)>,
) -> ApiResult<Json<RecoverJob>> {
    let job = state
        .db()
        .recover_job(auth.org(), id, job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("recover job"))?;
    Ok(Json(job))
}
