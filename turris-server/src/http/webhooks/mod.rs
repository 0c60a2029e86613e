//! `/api/v1/webhooks`: list (masked secrets), create (the secret once), delete, rotate the
//! secret with an overlap (`secret`), its delivery limits (`limits`), the delivery history of a
//! webhook and the logs of an event (`events`), resend (`resend`) and recover (`recover`: every
//! failed event of a window, as one job). No update of the URL or
//! type: `PUT`/`PATCH` on a webhook are 405.

mod events;
mod health;
mod limits;
mod recover;
mod resend;
mod secret;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_webhooks::delivery::{DisableReason, WebhookId};
use turris_webhooks::{WebhookSecret, WebhookType, WebhookUrl};
use utoipa::ToSchema;

pub use events::*;
pub use health::*;
pub use limits::*;
pub use recover::*;
pub use resend::*;
pub use secret::*;

use super::Routes;
use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksCreate, WebhooksDelete, WebhooksRead};
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::store::{NewWebhookEndpoint, WebhookEndpoint};

/// The webhook routes.
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/webhooks", list)
        .post("/api/v1/webhooks", create)
        .get("/api/v1/webhooks/{id}", get)
        .delete("/api/v1/webhooks/{id}", delete)
        .post("/api/v1/webhooks/{id}/rotate-secret", rotate_secret)
        .post("/api/v1/webhooks/{id}/enable", enable)
        .put("/api/v1/webhooks/{id}/limits", set_limits)
        .post("/api/v1/webhooks/{id}/recover", recover)
        .get("/api/v1/webhooks/{id}/recover/{job_id}", recover_job)
        .get("/api/v1/webhooks/{id}/notifications", notifications)
        .get("/api/v1/webhooks/{id}/events", history)
        .get("/api/v1/webhooks/{id}/events/{event_id}/logs", logs)
        .post("/api/v1/webhooks/{id}/events/{event_id}/resend", resend)
}

/// A webhook as listed: the secret masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The event type it receives.
    pub webhook_type: WebhookType,
    /// The HTTPS endpoint.
    pub url: String,
    /// The last four characters of the secret: `•••• abcd`.
    pub client_secret: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// During a rotation's overlap, the replaced secret (`•••• abcd`): requests are signed with
    /// both until `previous_secret_expires_at`. `null` otherwise.
    pub previous_client_secret: Option<String>,
    /// When the replaced secret stops being sent; `null` outside an overlap.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// `active`, or `disabled` (nothing is sent; events wait until it is enabled again).
    pub status: EndpointStatus,
    /// When it was disabled; `null` while active.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why: `gone` (the endpoint answered 410) or `failing` (every attempt failed for the
    /// configured period, 5 days by default); `null` while active.
    pub disabled_reason: Option<DisableReason>,
    /// Its own delivery limits; a `null` field uses the server's default.
    pub limits: WebhookLimits,
}

impl From<WebhookEndpoint> for Webhook {
    fn from(e: WebhookEndpoint) -> Self {
        let previous = e
            .previous_secret_at(Utc::now())
            .map(|(masked, until)| (masked.to_owned(), until));
        Self {
            id: e.id,
            webhook_type: e.webhook_type,
            url: e.url,
            client_secret: e.masked_secret,
            created_at: e.created_at,
            previous_client_secret: previous.as_ref().map(|(masked, _)| masked.clone()),
            previous_secret_expires_at: previous.map(|(_, until)| until),
            status: if e.disabled.is_some() {
                EndpointStatus::Disabled
            } else {
                EndpointStatus::Active
            },
            disabled_at: e.disabled.map(|(at, _)| at),
            disabled_reason: e.disabled.map(|(_, reason)| reason),
            limits: e.limits.into(),
        }
    }
}

/// The webhooks of the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<Webhook>,
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// One of `agency_compliance_status_changes`, `agent_compliance_status_changes`,
    /// `entity_compliance_data_synchronized`, `producer_agreement_executed`.
    pub webhook_type: String,
    /// The HTTPS endpoint Turris posts to.
    pub url: String,
}

/// A created webhook, with its full secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret (64 hex characters). Store it now: it is never shown again.
    pub secret: String,
}

/// The organization's webhooks, secrets masked.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
) -> ApiResult<Json<WebhookList>> {
    let webhooks = state.db().list_webhooks(auth.org()).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(Webhook::from).collect(),
    }))
}

/// Adds a webhook: 201 with the secret, exactly once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "The organization has as many webhooks as it may (`TURRIS_WEBHOOKS_PER_ORGANIZATION`)", body = crate::error::ErrorBody),
        (status = 422, description = "Unknown type or refused URL", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized<WebhooksCreate>,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let mut errors = Vec::new();
    let webhook_type = body.webhook_type.parse::<WebhookType>().map_err(|_| {
        errors.push(ErrorDetail {
            path: "webhook_type".into(),
            message: format!(
                "webhook type must be one of {}",
                WebhookType::ALL.map(WebhookType::as_str).join(", ")
            ),
        })
    });
    let url = WebhookUrl::parse(body.url.trim(), state.url_policy()).map_err(|e| {
        errors.push(ErrorDetail {
            path: "url".into(),
            message: e.to_string(),
        })
    });
    let (Ok(webhook_type), Ok(url)) = (webhook_type, url) else {
        return Err(ApiError::validation(errors));
    };
    let secret = WebhookSecret::generate().map_err(|e| ApiError::internal("webhook secret", &e))?;
    let limit = state.config().delivery.webhooks_per_organization;
    let endpoint = state
        .db()
        .create_webhook_within(
            auth.org(),
            &NewWebhookEndpoint {
                id: WebhookId::new(),
                webhook_type,
                url: url.as_str().to_owned(),
                secret: secret.clone(),
            },
            limit,
            Utc::now(),
        )
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "webhook_limit_reached",
                format!("an organization may register at most {limit} webhooks; delete one first"),
            )
        })?;
    tracing::info!(webhook_id = %endpoint.id, webhook_type = %webhook_type, "webhook created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: endpoint.into(),
            secret: secret.to_hex(),
        }),
    ))
}

pub(crate) async fn owned_webhook(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    id: WebhookId,
) -> ApiResult<WebhookEndpoint> {
    state
        .db()
        .webhook(org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// One webhook, secret masked.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    responses((status = 200, body = Webhook), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
    Path(id): Path<WebhookId>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(owned_webhook(&state, auth.org(), id).await?.into()))
}

/// Deletes a webhook: its secret is invalidated and its queued deliveries stop.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    responses((status = 204, description = "Webhook deleted successfully"), (status = 401), (status = 402),
        (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized<WebhooksDelete>,
    Path(id): Path<WebhookId>,
) -> ApiResult<StatusCode> {
    if state.db().delete_webhook(auth.org(), id).await? {
        tracing::info!(webhook_id = %id, "webhook deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}
