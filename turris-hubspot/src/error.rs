//! Errors: HubSpot's error body, and the crate's [`Error`].

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to HubSpot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// HubSpot answered with an error status.
    #[error("hubspot answered {0}")]
    Api(Box<HubSpotError>),
    /// HubSpot answered 429 `DAILY`: the portal's daily request cap is spent. Never retried;
    /// the [`RateLimiter`](crate::rate_limit::RateLimiter) refuses the portal's calls until
    /// `until` (see [`Error::DailyLimitBlocked`]).
    #[error("hubspot daily request limit reached; calls resume at {until}")]
    DailyLimit {
        /// HubSpot's answer.
        error: Box<HubSpotError>,
        /// When calls to the portal resume: the daily reset, as far as the client knows it.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// Refused locally, never sent: the portal's daily cap was spent earlier and resets at
    /// `until`. Wait and try again then.
    #[error("hubspot daily request limit reached earlier; calls resume at {until}")]
    DailyLimitBlocked {
        /// When calls to the portal resume.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The refresh token is dead (revoked, app uninstalled, `BAD_REFRESH_TOKEN`, `invalid_grant`):
    /// the connection needs a new OAuth grant.
    #[error("refresh token is invalid or revoked: {message}")]
    RefreshTokenRevoked {
        /// HubSpot's explanation.
        message: String,
    },
    /// The OAuth token endpoint failed in some other way.
    #[error("oauth token request failed: {0}")]
    OAuth(String),
    /// The request never got an HTTP answer (connection, TLS, timeout). The error carries no
    /// URL (a URL may hold the developer API key), so its text is safe to log.
    #[error("http transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// HubSpot answered 2xx with a body we could not decode.
    #[error("unexpected response body: {0}")]
    Decode(String),
    /// The client was configured with something unusable (bad URL, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The [`TokenSink`](crate::auth::TokenSink) could not persist refreshed tokens.
    #[error("could not store refreshed tokens: {0}")]
    TokenSink(String),
}

/// `e` without the URL it was for: URLs may carry the developer API key (`hapikey`), and
/// reqwest's `Display` and `Debug` print the whole URL. Every transport error goes through here.
pub(crate) fn redacted(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

impl Error {
    /// A transport error, without its URL (see [`Error::Transport`]).
    pub(crate) fn transport(e: reqwest::Error) -> Self {
        Error::Transport(redacted(e))
    }

    /// The HubSpot error body, when HubSpot answered with one.
    pub fn hubspot(&self) -> Option<&HubSpotError> {
        match self {
            Error::Api(e) | Error::DailyLimit { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// Until when the portal's calls are refused because its daily cap is spent (HubSpot's
    /// answer [`Error::DailyLimit`] or the local refusal [`Error::DailyLimitBlocked`]).
    pub fn daily_limit_until(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Error::DailyLimit { until, .. } | Error::DailyLimitBlocked { until } => Some(*until),
            _ => None,
        }
    }

    /// The HTTP status HubSpot answered with, if any.
    pub fn status(&self) -> Option<u16> {
        self.hubspot().map(|e| e.status)
    }

    /// HubSpot's error category (`VALIDATION_ERROR`, `CONFLICT`, ...), if any.
    pub fn category(&self) -> Option<&str> {
        self.hubspot().and_then(|e| e.category.as_deref())
    }
}

/// An error answer from HubSpot, with everything the activity log needs.
#[derive(Debug, Clone, PartialEq)]
pub struct HubSpotError {
    /// The HTTP status code.
    pub status: u16,
    /// `category` of the body (`VALIDATION_ERROR`, `CONFLICT`, `EXPIRED_AUTHENTICATION`, ...).
    pub category: Option<String>,
    /// `subCategory` of the body, when present.
    pub sub_category: Option<String>,
    /// `message` of the body (or a short description when the body was not JSON).
    pub message: String,
    /// `correlationId` of the body: quote it to HubSpot support.
    pub correlation_id: Option<String>,
    /// `policyName` of a 429 (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
    pub policy_name: Option<String>,
    /// Detailed `errors[]` of the body.
    pub errors: Vec<ErrorDetail>,
    /// The raw body, kept when it was not a JSON error document.
    pub raw_body: Option<String>,
}

impl std::fmt::Display for HubSpotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(category) = &self.category {
            write!(f, " {category}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl HubSpotError {
    /// Builds the error from an HTTP status and the raw response body.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) if parsed.looks_like_error() => HubSpotError {
                status,
                category: parsed.category.or(parsed.error_type),
                sub_category: parsed.sub_category.map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
                message: parsed.message.unwrap_or_default(),
                correlation_id: parsed.correlation_id,
                policy_name: parsed.policy_name,
                errors: parsed.errors,
                raw_body: None,
            },
            _ => HubSpotError {
                status,
                category: None,
                sub_category: None,
                message: String::new(),
                correlation_id: None,
                policy_name: None,
                errors: Vec::new(),
                raw_body: Some(String::from_utf8_lossy(body).into_owned()),
            },
        }
    }

    /// Whether the category says the access token expired.
    pub fn is_expired_authentication(&self) -> bool {
        self.category.as_deref() == Some("EXPIRED_AUTHENTICATION")
    }

    /// The properties a write broke, when HubSpot refused it for the portal's own validation
    /// rules (400 `VALIDATION_ERROR`, enforced on every CRM write from API version 2026-09):
    /// one entry per `errors[]` detail, with the property from `context.propertyName`. Empty
    /// for any other error. Such a write fails the same way however often it is sent: fix the
    /// record (or the portal's rule), do not retry.
    pub fn validation_failures(&self) -> Vec<ValidationFailure> {
        if self.status != 400 || self.category.as_deref() != Some("VALIDATION_ERROR") {
            return Vec::new();
        }
        let failures: Vec<ValidationFailure> = self
            .errors
            .iter()
            .map(|detail| ValidationFailure {
                property: detail
                    .context
                    .as_ref()
                    .and_then(|c| c.get("propertyName"))
                    .and_then(|names| names.first())
                    .cloned(),
                code: detail.code.clone(),
                message: detail.message.clone(),
            })
            .collect();
        if failures.is_empty() {
            return vec![ValidationFailure {
                property: None,
                code: None,
                message: self.message.clone(),
            }];
        }
        failures
    }
}

/// One property a write broke (see [`HubSpotError::validation_failures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// The property, when HubSpot named it.
    pub property: Option<String>,
    /// HubSpot's code (`MISSING_REQUIRED_PROPERTY`, `INVALID_OPTION`, ...).
    pub code: Option<String>,
    /// HubSpot's message.
    pub message: String,
}

impl std::fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.property, &self.code) {
            (Some(p), Some(c)) => write!(f, "{p}: {c}"),
            (Some(p), None) => write!(f, "{p}: {}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

/// HubSpot's JSON error document, as served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Always `"error"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Id to quote to HubSpot support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Error category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Optional sub-category (usually a string, sometimes an object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<serde_json::Value>,
    /// `RATE_LIMIT` on 429 answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Rate-limit policy of a 429 answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// Details, one per problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorDetail>,
    /// Extra context (`{"ids": [...]}`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<HashMap<String, Vec<String>>>,
    /// Links to documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<HashMap<String, String>>,
}

impl ErrorBody {
    fn looks_like_error(&self) -> bool {
        self.message.is_some() || self.category.is_some() || self.status.is_some()
    }
}

/// One entry of `errors[]` in an error document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// What went wrong.
    #[serde(default)]
    pub message: String,
    /// Machine-readable code (`INVALID_INTEGER`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Sub-category, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<String>,
    /// Where the problem is (`body`, `query`, ...).
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Extra context, e.g. `{"propertyName": ["npn"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<HashMap<String, Vec<String>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_body_is_parsed() {
        let body = br#"{"status":"error","message":"Property values were not valid","correlationId":"abc","category":"VALIDATION_ERROR","subCategory":"x","errors":[{"message":"bad","code":"INVALID"}]}"#;
        let err = HubSpotError::from_response(400, body);
        assert_eq!(err.status, 400);
        assert_eq!(err.category.as_deref(), Some("VALIDATION_ERROR"));
        assert_eq!(err.sub_category.as_deref(), Some("x"));
        assert_eq!(err.correlation_id.as_deref(), Some("abc"));
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.raw_body, None);
    }

    #[test]
    fn a_validation_error_names_the_properties_it_broke() {
        let body = br#"{"status":"error","message":"Property values were not valid","category":"VALIDATION_ERROR","errors":[{"message":"npn is required","code":"MISSING_REQUIRED_PROPERTY","context":{"propertyName":["npn"]}},{"message":"bad option","code":"INVALID_OPTION","context":{"propertyName":["state"]}}]}"#;
        let err = HubSpotError::from_response(400, body);
        let failures = err.validation_failures();
        let named: Vec<_> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(
            named,
            ["npn: MISSING_REQUIRED_PROPERTY", "state: INVALID_OPTION"]
        );
        let bare = HubSpotError::from_response(
            400,
            br#"{"status":"error","message":"no details","category":"VALIDATION_ERROR"}"#,
        );
        assert_eq!(bare.validation_failures()[0].property, None);
        assert_eq!(bare.validation_failures()[0].message, "no details");
        let other = HubSpotError::from_response(409, br#"{"message":"x","category":"CONFLICT"}"#);
        assert!(other.validation_failures().is_empty());
    }

    #[test]
    fn non_json_body_is_kept_raw() {
        let err = HubSpotError::from_response(502, b"<html>bad gateway</html>");
        assert_eq!(err.category, None);
        assert_eq!(err.raw_body.as_deref(), Some("<html>bad gateway</html>"));
    }

    #[test]
    fn rate_limit_body_keeps_policy_name() {
        let body = br#"{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"c","policyName":"DAILY"}"#;
        let err = HubSpotError::from_response(429, body);
        assert_eq!(err.policy_name.as_deref(), Some("DAILY"));
        assert_eq!(err.category.as_deref(), Some("RATE_LIMIT"));
    }
}
