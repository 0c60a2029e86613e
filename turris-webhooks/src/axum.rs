//! An axum extractor for receivers (feature `axum`).

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::envelope::Envelope;
use crate::signature::{EVENT_ID_HEADER, Verifier, VerifyError};

/// A Turris webhook whose signature was verified before its body was parsed.
///
/// The [`Verifier`] comes from the router state (`Verifier: FromRef<S>`). Signature problems
/// answer 401, a body that is not a valid envelope answers 400.
///
/// ```
/// use axum::{Router, routing::post};
/// use turris_webhooks::{Verifier, VerifiedTurrisWebhook, WebhookSecret};
///
/// async fn receive(webhook: VerifiedTurrisWebhook) -> &'static str {
///     println!("{} for {}", webhook.envelope.webhook_type, webhook.envelope.upstream_entity_id);
///     "ok"
/// }
///
/// let verifier = Verifier::new([WebhookSecret::generate().unwrap()]);
/// let app: Router = Router::new().route("/webhooks/turris", post(receive)).with_state(verifier);
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedTurrisWebhook<T = serde_json::Value> {
    /// The parsed envelope.
    pub envelope: Envelope<T>,
    /// `X-Turris-Event-Id`, to make handling idempotent.
    pub event_id: Option<String>,
}

/// Why [`VerifiedTurrisWebhook`] refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The body could not be read.
    #[error("could not read body: {0}")]
    Body(String),
    /// Verification failed (401).
    #[error("invalid webhook signature: {0}")]
    Signature(#[from] VerifyError),
    /// The body is not a valid envelope (400).
    #[error("invalid webhook body: {0}")]
    Json(String),
}

impl WebhookRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Body(_) | Self::Json(_) => StatusCode::BAD_REQUEST,
            Self::Signature(_) => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

impl<S, T> FromRequest<S> for VerifiedTurrisWebhook<T>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| WebhookRejection::Body(e.body_text()))?;
        verifier.verify_now(&headers, &body)?;
        let envelope: Envelope<T> =
            serde_json::from_slice(&body).map_err(|e| WebhookRejection::Json(e.to_string()))?;
        let event_id = headers
            .get(EVENT_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self { envelope, event_id })
    }
}
