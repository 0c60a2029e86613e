//! A webhook's health: enabling it again after it was disabled (410 Gone, or failing for the
//! configured period), and its notifications.

use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use turris_webhooks::delivery::WebhookId;
use utoipa::ToSchema;

use super::{Webhook, owned_webhook};
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksRead, WebhooksUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::store::WebhookNotification;

/// `active` or `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Deliveries go out.
    Active,
    /// Nothing is sent; events wait until it is enabled again.
    Disabled,
}

/// Enables a disabled webhook: its waiting events go out again. Enabling an active webhook
/// changes nothing.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/enable", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    responses((status = 200, body = Webhook), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn enable(
    State(state): State<AppState>,
    auth: Authorized<WebhooksUpdate>,
    Path(id): Path<WebhookId>,
) -> ApiResult<Json<Webhook>> {
    let changed = state
        .db()
        .enable_webhook(auth.org(), id, Utc::now())
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    if changed {
        tracing::info!(webhook_id = %id, "webhook enabled");
        state.db().enqueue_signal().notify_one();
    }
    Ok(Json(owned_webhook(&state, auth.org(), id).await?.into()))
}

/// A webhook's notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notifications {
    /// Newest first (the last 100).
    pub notifications: Vec<WebhookNotification>,
}

/// What happened to a webhook: disabled (and why), enabled again. Newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/notifications", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    responses((status = 200, body = Notifications), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
    Path(id): Path<WebhookId>,
) -> ApiResult<Json<Notifications>> {
    owned_webhook(&state, auth.org(), id).await?;
    let notifications = state
        .db()
        .webhook_notifications(auth.org(), id, 100)
        .await?;
    Ok(Json(Notifications { notifications }))
}
