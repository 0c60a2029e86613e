//! A webhook's own delivery limits: deliveries in flight at once and attempts per second.
//! Without them the server's defaults apply (`TURRIS_WEBHOOK_MAX_IN_FLIGHT`, 16, and
//! `TURRIS_WEBHOOK_RATE_LIMIT`, none).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use turris_webhooks::delivery::WebhookId;
use utoipa::ToSchema;

use super::{Webhook, owned_webhook};
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksUpdate};
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::http::extract::{Json, Path};
use crate::store::EndpointLimits;

/// The most deliveries in flight one endpoint may ask for.
pub const MAX_IN_FLIGHT: u32 = 1_000;
/// The highest rate one endpoint may ask for, per second.
pub const MAX_RATE: u32 = 10_000;

/// A webhook's delivery limits; `null` in a field: the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookLimits {
    /// Deliveries in flight to the endpoint at once (1 to 1000).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// Delivery attempts per second (0 to 10000; 0: no limit).
    #[serde(default)]
    pub rate_limit: Option<u32>,
}

impl From<EndpointLimits> for WebhookLimits {
    fn from(l: EndpointLimits) -> Self {
        Self {
            max_in_flight: l.max_in_flight,
            rate_limit: l.rate_limit,
        }
    }
}

fn check(body: &WebhookLimits) -> ApiResult<EndpointLimits> {
    let mut errors = Vec::new();
    if body
        .max_in_flight
        .is_some_and(|n| n == 0 || n > MAX_IN_FLIGHT)
    {
        errors.push(ErrorDetail {
            path: "max_in_flight".into(),
            message: format!("max_in_flight must be from 1 to {MAX_IN_FLIGHT}, or null"),
        });
    }
    if body.rate_limit.is_some_and(|n| n > MAX_RATE) {
        errors.push(ErrorDetail {
            path: "rate_limit".into(),
            message: format!("rate_limit must be from 0 to {MAX_RATE} per second, or null"),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(EndpointLimits {
        max_in_flight: body.max_in_flight,
        rate_limit: body.rate_limit,
    })
}

/// Sets a webhook's delivery limits (both fields; `null` returns a field to the server's
/// default). Deliveries already in flight finish; the limits hold from the next attempt on.
#[utoipa::path(put, path = "/api/v1/webhooks/{id}/limits", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    request_body = WebhookLimits,
    responses((status = 200, body = Webhook), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, description = "A limit out of range", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_limits(
    State(state): State<AppState>,
    auth: Authorized<WebhooksUpdate>,
    Path(id): Path<WebhookId>,
    Json(body): Json<WebhookLimits>,
) -> ApiResult<Json<Webhook>> {
    let limits = check(&body)?;
    if !state
        .db()
        .set_webhook_limits(auth.org(), id, limits)
        .await?
    {
        return Err(ApiError::not_found("webhook"));
    }
    tracing::info!(webhook_id = %id, ?limits, "webhook limits set");
    Ok(Json(owned_webhook(&state, auth.org(), id).await?.into()))
}
