//! Resend: one more attempt for an event that has not succeeded, now.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Serialize;
use turris_webhooks::WebhookUrl;
use turris_webhooks::delivery::{
    AttemptReport, DeliveryRequest, EventId, EventRecord, EventStatus, Lease, LeasedDelivery,
    NextStep, StoreError as DeliveryError, WebhookId, renewing,
};
use utoipa::ToSchema;

use super::events::{delivery_error, owned_event};
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksUpdate};
use crate::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::store::{AttemptToRecord, DeliveryTarget};

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
        .lease_for_resend(event_id, Utc::now(), state.config().delivery.lease)
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

/// Sends a leased resend and records the attempt. Its lease is short and renewed while the
/// attempt runs, like an automatic delivery's: if this process dies, the event is free again
/// within a lease.
async fn deliver_resend(state: &AppState, leased: LeasedDelivery) {
    let LeasedDelivery { event, mut lease } = leased;
    let event = &event;
    let target = match state.db().delivery_target(event.webhook_id).await {
        Ok(Some(target)) => target,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %crate::error::ErrorChain(&e), "resend: loading the endpoint");
            return;
        }
    };
    let attempt = send_once(state, event, &target);
    let lease_for = state.config().delivery.lease;
    let store = state.store();
    let renewed = renewing(
        &*store,
        event.event_id,
        &mut lease,
        lease_for,
        Utc::now,
        attempt,
    );
    let Some(report) = renewed.await else {
        tracing::info!(event_id = %event.event_id, "resend: lease lost during the attempt");
        return;
    };
    record_resend(state, event, lease, report).await;
}

/// One attempt at the endpoint's current URL; a URL the policy refuses fails the attempt
/// without a request.
async fn send_once(
    state: &AppState,
    event: &EventRecord,
    target: &DeliveryTarget,
) -> AttemptReport {
    match WebhookUrl::parse(&target.endpoint.url, state.url_policy()) {
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
            AttemptReport {
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
    }
}

/// Records a resend's attempt under its lease (delivered, or the event unchanged), counts it
/// in the metrics and logs it.
async fn record_resend(state: &AppState, event: &EventRecord, lease: Lease, report: AttemptReport) {
    let next = if report.success {
        NextStep::Delivered
    } else {
        NextStep::Unchanged
    };
    let settings = &state.config().delivery;
    let item = AttemptToRecord {
        event_id: event.event_id,
        webhook_id: event.webhook_id,
        lease,
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
    if let Ok(attempt) = &outcome {
        let outcome = if attempt.success {
            crate::delivery::metrics::Outcome::Delivered
        } else {
            crate::delivery::metrics::Outcome::FailedResend
        };
        state
            .delivery_metrics()
            .outcome(outcome, attempt.status_code, None);
    }
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
