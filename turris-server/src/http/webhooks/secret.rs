//! Secret rotation with overlap: a new secret, shown once; the replaced one stays valid, and
//! is sent as a second signature, until the overlap ends.

use std::time::Duration;

use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use turris_webhooks::WebhookSecret;
use turris_webhooks::delivery::WebhookId;
use utoipa::ToSchema;

use super::Webhook;
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksUpdate};
use crate::delivery::settings::MAX_SECRET_OVERLAP;
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::http::extract::{Json, Path};
use crate::store::SecretRotation;

/// A secret rotation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the current secret stays valid beside the new one, in seconds (0 to 604800,
    /// 7 days; 0 drops it at once). Default: the server's `TURRIS_WEBHOOK_SECRET_OVERLAP`,
    /// 24 hours.
    pub overlap_seconds: Option<u64>,
}

/// The webhook with its new secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The webhook, with the replaced secret masked and the end of the overlap.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The new signing secret (64 hex characters). Store it now: it is never shown again.
    pub secret: String,
}

fn overlap(state: &AppState, body: &RotateSecret) -> ApiResult<Duration> {
    match body.overlap_seconds {
        None => Ok(state.config().delivery.secret_overlap),
        Some(seconds) if Duration::from_secs(seconds) <= MAX_SECRET_OVERLAP => {
            Ok(Duration::from_secs(seconds))
        }
        Some(_) => Err(ApiError::validation(vec![ErrorDetail {
            path: "overlap_seconds".into(),
            message: format!(
                "the overlap must be at most {} seconds (7 days)",
                MAX_SECRET_OVERLAP.as_secs()
            ),
        }])),
    }
}

/// Rotates a webhook's signing secret. During the overlap every request carries two
/// `X-Turris-Signature` lines (the replaced secret's first, then the new one's) and two
/// `webhook-signature` values; afterwards only the new secret signs. Rotating again during an
/// overlap drops the oldest secret (two at most).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    request_body = RotateSecret,
    responses((status = 200, body = RotatedSecret), (status = 401), (status = 402), (status = 403),
        (status = 404), (status = 422, description = "Overlap too long", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authorized<WebhooksUpdate>,
    Path(id): Path<WebhookId>,
    Json(body): Json<RotateSecret>,
) -> ApiResult<Json<RotatedSecret>> {
    super::owned_webhook(&state, auth.org(), id).await?;
    let overlap = overlap(&state, &body)?;
    let secret = WebhookSecret::generate().map_err(|e| ApiError::internal("webhook secret", &e))?;
    let now = Utc::now();
    let rotation = SecretRotation {
        secret: secret.clone(),
        previous_until: Some(crate::store::sql::plus(now, overlap)),
    };
    let endpoint = state
        .db()
        .rotate_webhook_secret(auth.org(), id, &rotation, now)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    tracing::info!(webhook_id = %id, overlap_seconds = overlap.as_secs(), "webhook secret rotated");
    Ok(Json(RotatedSecret {
        webhook: endpoint.into(),
        secret: secret.to_hex(),
    }))
}
