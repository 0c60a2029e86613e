//! HubSpot-shaped error responses: `{status:"error", message, correlationId, category, ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answered the way HubSpot answers it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) body: Map<String, Value>,
}

/// A fresh correlation id, formatted like HubSpot's (a UUID).
pub(crate) fn correlation_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl ApiError {
    /// An error with HubSpot's standard body.
    pub(crate) fn new(status: StatusCode, category: &str, message: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("status".into(), json!("error"));
        body.insert("message".into(), json!(message.into()));
        body.insert("correlationId".into(), json!(correlation_id()));
        body.insert("category".into(), json!(category));
        Self { status, body }
    }

    /// 400 `VALIDATION_ERROR`.
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 404 `OBJECT_NOT_FOUND`.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    /// 409 `CONFLICT`.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    /// 401 `INVALID_AUTHENTICATION`.
    pub(crate) fn invalid_auth(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", message)
    }

    /// 401 `EXPIRED_AUTHENTICATION`.
    pub(crate) fn expired_auth(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "EXPIRED_AUTHENTICATION", message)
    }

    /// A malformed request body or query.
    pub(crate) fn bad_input(detail: impl std::fmt::Display) -> Self {
        Self::validation(format!("Invalid input JSON on line 1: {detail}"))
    }

    /// Adds `subCategory`.
    pub(crate) fn sub_category(mut self, sub: &str) -> Self {
        self.body.insert("subCategory".into(), json!(sub));
        self
    }

    /// Adds `errors` (HubSpot's error details).
    pub(crate) fn errors(mut self, errors: Vec<Value>) -> Self {
        self.body.insert("errors".into(), Value::Array(errors));
        self
    }

    /// Adds `context`.
    pub(crate) fn context(mut self, context: Value) -> Self {
        self.body.insert("context".into(), context);
        self
    }

    /// The message of this error.
    pub(crate) fn message(&self) -> &str {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The category of this error.
    pub(crate) fn category(&self) -> &str {
        self.body
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let correlation = self
            .body
            .get("correlationId")
            .and_then(Value::as_str)
            .and_then(|c| HeaderValue::from_str(c).ok());
        let mut response = (self.status, axum::Json(Value::Object(self.body))).into_response();
        if let Some(c) = correlation {
            response.headers_mut().insert("x-hubspot-correlation-id", c);
        }
        response
    }
}

/// Result of a handler step.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON body, answering HubSpot's 400 on bad input.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(ApiError::bad_input)
}
