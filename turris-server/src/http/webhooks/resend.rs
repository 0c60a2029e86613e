//! Resend: one more attempt for an event that has not succeeded, now.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Serialize;
use turris_webhooks::WebhookUrl;
use turris_webhooks::delivery::{
    DeliveryRequest, EventId, EventStatus, LeasedDelivery, NextStep, StoreError as DeliveryError,
    WebhookId,
};
use utoipa::ToSchema;

use super::events::{delivery_error, owned_event};
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksUpdate};
use crate::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::store::AttemptToRecord;

/// How long a resend holds its lease.
const RESEND_LEASE: Duration = Duration::from_secs(60);

/// A resend was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResendQueued {
    /// The event.
    pub event_id: EventId,
    /// `queued`.
    pub status: &'static str,
    /// "Webhook resend is in progress".
    pub message: &'static str,
}

/// Resends an event: a new attempt with the next number. 409 once it was delivered.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/events/{event_id}/resend", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id"),
        ("event_id" = String, Path, description = "The event id")),
    responses((status = 202, body = ResendQueued), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 409, description = "Already delivered, or being delivered", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn resend(
    State(state): State<AppState>,
    auth: Authorized<WebhooksUpdate>,
    Path((id, event_id)): Path<(WebhookId, EventId)>,
) -> ApiResult<(StatusCode, Json<ResendQueued>)> {
    let event = owned_event(&state, auth.org(), id, event_id).await?;
    if event.status == EventStatus::Delivered {
        return Err(delivery_error("resend", DeliveryError::AlreadyDelivered));
    }
    let leased = state
        .db()
        .lease_for_resend(event_id, Utc::now(), RESEND_LEASE)
        .await
        .map_err(|e| delivery_error("leasing a resend", e))?;
    let background = state.clone();
    state.spawn_background(async move { deliver_resend(&background, leased).await });
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendQueued {
            event_id,
            status: "queued",
            message: "Webhook resend is in progress",
        }),
    ))
}

/// Sends a leased resend and records the attempt.
async fn deliver_resend(state: &AppState, leased: LeasedDelivery) {
    let event = &leased.event;
    let target = match state.db().delivery_target(event.webhook_id).await {
        Ok(Some(target)) => target,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %crate::error::ErrorChain(&e), "resend: loading the endpoint");
            return;
        }
    };
    let report = match WebhookUrl::parse(&target.endpoint.url, state.url_policy()) {
        Ok(url) => {
            state
                .delivery()
                .send(DeliveryRequest {
                    event_id: event.event_id,
                    url: &url,
                    secret: &target.secret,
                    previous_secret: target.previous_secret_at(Utc::now()),
                    body: &event.body,
                })
                .await
        }
        Err(e) => {
            let now = Utc::now();
            turris_webhooks::delivery::AttemptReport {
                started_at: now,
                finished_at: now,
                status_code: None,
                error: Some(e.to_string()),
                url: target.endpoint.url.clone(),
                success: false,
                response_body: None,
                retry_after: None,
            }
        }
    };
    let next = if report.success {
        NextStep::Delivered
    } else {
        NextStep::Unchanged
    };
    let settings = &state.config().delivery;
    let item = AttemptToRecord {
        event_id: event.event_id,
        webhook_id: event.webhook_id,
        lease: leased.lease,
        report,
        next,
        disable_after: settings.disable_after(),
    };
    let outcome = state
        .db()
        .record_attempts(std::slice::from_ref(&item))
        .await
        .and_then(|recorded| {
            crate::delivery::notify::report_disabled(settings, recorded.disabled);
            recorded
                .results
                .into_iter()
                .next()
                .unwrap_or(Err(DeliveryError::LeaseLost))
        });
    match outcome {
        Ok(attempt) => tracing::info!(
            event_id = %event.event_id,
            attempt = attempt.number,
            success = attempt.success,
            status = ?attempt.status_code,
            "webhook resend attempt"
        ),
        Err(e) => {
            tracing::error!(event_id = %event.event_id, error = %e, "resend: recording the attempt")
        }
    }
}
