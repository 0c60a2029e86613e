//! [`ApiError`]: the one error every endpoint answers with.
//!
//! The body is always `{"code": "...", "message": "...", "details": [{"path", "message"}]}`.
//! Internal failures (storage, unexpected HubSpot answers) are logged here with their context
//! and answered with a generic message: internal text never reaches the client.

use std::borrow::Cow;
use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use turris_core::FieldError;
use utoipa::ToSchema;

/// One problem with a request field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Where the problem is, e.g. `agency.identifier.value`; empty for the body as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl From<FieldError> for ErrorDetail {
    fn from(e: FieldError) -> Self {
        Self {
            path: e.path,
            message: e.message,
        }
    }
}

/// The error body every endpoint answers with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`validation_failed`, `subscription_required`, ...).
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// Field problems; empty when the error is not about fields.
    pub details: Vec<ErrorDetail>,
}

/// An API error: a status, a stable code, a message and optional field details.
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    details: Vec<ErrorDetail>,
}

/// `Result` with [`ApiError`].
pub type ApiResult<T, E = ApiError> = Result<T, E>;

impl ApiError {
    /// An error with any status, code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds field details.
    pub fn with_details(mut self, details: impl IntoIterator<Item = ErrorDetail>) -> Self {
        self.details.extend(details);
        self
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 403 `forbidden`, naming the missing grant.
    pub fn forbidden(grant: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("your role does not grant {grant}"),
        )
    }

    /// 402 `subscription_required`: "Become a Customer".
    pub fn subscription_required() -> Self {
        Self::new(
            StatusCode::PAYMENT_REQUIRED,
            turris_core::permissions::SubscriptionRequired::CODE,
            "Integrations and webhooks are premium features. Become a Customer to activate your subscription.",
        )
    }

    /// 404 `not_found` for `what` (`webhook`, `agency`, ...).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409 with a code and message.
    pub fn conflict(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 `validation_failed` with every problem.
    pub fn validation(errors: impl IntoIterator<Item = impl Into<ErrorDetail>>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the request has invalid fields",
        )
        .with_details(errors.into_iter().map(Into::into))
    }

    /// 422 for one field.
    pub fn invalid_field(path: &str, message: impl Into<String>) -> Self {
        Self::validation([ErrorDetail {
            path: path.to_owned(),
            message: message.into(),
        }])
    }

    /// 502 `hubspot_error`: HubSpot refused or failed; the message is safe to show.
    pub fn hubspot(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "hubspot_error", message)
    }

    /// 500 `internal`: logs `context` and `error` (never sent), answers a generic message.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(context, error = %ErrorChain(error), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; try again later",
        )
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            message: self.message.to_string(),
            details: self.details.clone(),
        }
    }

    /// A plain error for a bare status (404 route, 405 method, 408 timeout, 413 body).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message): (&'static str, &'static str) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this method is not allowed on this resource",
            ),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "expected a JSON body with content-type application/json",
            ),
            s if s.is_server_error() => (
                "internal",
                "something went wrong on our side; try again later",
            ),
            _ => ("bad_request", "the request could not be handled"),
        };
        Self::new(status, code, message)
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("details", &self.details)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<turris_core::store::StoreError> for ApiError {
    fn from(e: turris_core::store::StoreError) -> Self {
        use turris_core::store::StoreError;
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(what) => ApiError::conflict("conflict", what),
            // A backend failure, or one core adds later: logged, answered generically.
            _ => ApiError::internal("storage", &e),
        }
    }
}

impl From<turris_core::permissions::SubscriptionRequired> for ApiError {
    fn from(_: turris_core::permissions::SubscriptionRequired) -> Self {
        ApiError::subscription_required()
    }
}

impl From<crate::store::DbError> for ApiError {
    fn from(e: crate::store::DbError) -> Self {
        use crate::store::DbError;
        match e {
            DbError::NotFound => ApiError::not_found("resource"),
            DbError::Conflict(c) => conflict_error(c),
            other => ApiError::internal("storage", &other),
        }
    }
}

/// The one place where a broken uniqueness rule becomes an answer: a 409 whose code says which
/// rule, so every handler just uses `?`.
pub fn conflict_error(conflict: crate::store::Conflict) -> ApiError {
    use crate::store::Conflict;
    match conflict {
        Conflict::AlreadyConnected => ApiError::conflict(
            "already_connected",
            "hubspot is already connected; only one HubSpot account can be connected at a time. Delete the integration first to connect another portal",
        ),
        Conflict::PortalInUse => ApiError::conflict(
            "portal_in_use",
            "this HubSpot portal is connected to another organization",
        ),
        Conflict::TurrisLinked | Conflict::HubSpotLinked => {
            ApiError::conflict("already_linked", conflict.message())
        }
        other => ApiError::conflict("already_exists", other.message()),
    }
}

/// Displays an error and its sources, `a: b: c`.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_keep_every_path() {
        let e = ApiError::validation([
            FieldError::new("agency.identifier.value", "value is required"),
            FieldError::new("agency.name", "agency name is required"),
        ]);
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = serde_json::to_value(e.body()).unwrap();
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["details"][0]["path"], "agency.identifier.value");
        assert_eq!(body["details"][1]["path"], "agency.name");
    }

    #[test]
    fn internal_errors_never_carry_their_cause_to_the_client() {
        let cause = std::io::Error::other("password=hunter2 at db.internal");
        let e = ApiError::internal("loading settings", &cause);
        let body = serde_json::to_string(&e.body()).unwrap();
        assert!(!body.contains("hunter2"));
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
