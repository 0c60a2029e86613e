//! What the token endpoints answer, and how a token answer or error is read.

use chrono::Utc;
use oauth2::basic::{BasicErrorResponse, BasicTokenResponse};
use oauth2::{RequestTokenError, TokenResponse};
use serde::{Deserialize, Serialize};

use super::transport::TransportError;
use crate::auth::{Secret, TokenSet};
use crate::{Error, Result};

/// Access tokens live 30 minutes when HubSpot omits `expires_in`.
const DEFAULT_EXPIRES_IN_SECS: i64 = 1800;

/// The longest `expires_in` believed: a day (HubSpot says 1800 seconds). A larger value, or one
/// that does not fit a date, would keep a token past its life (or overflowed the clock).
const MAX_EXPIRES_IN_SECS: i64 = 24 * 60 * 60;

/// Answer of `POST /oauth/2026-03/token/introspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is valid.
    pub active: bool,
    /// The portal (hub) id the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<u64>,
    /// The app the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    /// The installing user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    /// Granted scopes (HubSpot sends a space-separated string or an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<serde_json::Value>,
    /// `access_token` or `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The portal's domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_domain: Option<String>,
    /// Granted scopes, as the date-based endpoints name them (an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<serde_json::Value>,
    /// Seconds until the token expires (date-based endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// What the token is for (date-based endpoints), e.g. `access_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_use: Option<String>,
}

impl IntrospectionResponse {
    /// The granted scopes, from `scopes` or `scope`, whether a list or a space-separated string.
    pub fn granted_scopes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for value in [&self.scopes, &self.scope].into_iter().flatten() {
            match value {
                serde_json::Value::String(s) => {
                    out.extend(
                        s.split([' ', ','])
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                }
                serde_json::Value::Array(items) => {
                    out.extend(items.iter().filter_map(|v| v.as_str()).map(str::to_owned));
                }
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A token of the client-credentials grant: the app's own token (no refresh token), for the
/// webhooks journal and its subscriptions.
#[derive(Clone, Debug)]
pub struct AppToken {
    /// The access token.
    pub access_token: Secret,
    /// When it expires; ask for a new one before.
    pub expires_at: chrono::DateTime<Utc>,
}

/// Answer of `POST /oauth/2026-03/token`, as HubSpot serves it. The client reads it through the
/// `oauth2` crate; this type is for mocks and fakes that answer in HubSpot's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponseBody {
    /// `bearer`.
    pub token_type: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires (1800 at HubSpot).
    pub expires_in: u64,
}

pub(super) fn token_set(
    response: &BasicTokenResponse,
    previous_refresh: Option<&Secret>,
) -> Result<TokenSet> {
    let refresh_token = match (response.refresh_token(), previous_refresh) {
        (Some(rt), _) => Secret::new(rt.secret().clone()),
        (None, Some(prev)) => prev.clone(),
        (None, None) => return Err(Error::OAuth("token answer has no refresh token".to_owned())),
    };
    Ok(TokenSet {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token,
        expires_at: Utc::now() + chrono::Duration::seconds(expires_in(response)),
    })
}

/// Seconds the answer's access token lives: `expires_in`, capped (see [`MAX_EXPIRES_IN_SECS`]),
/// or HubSpot's 30 minutes when absent.
pub(super) fn expires_in(response: &BasicTokenResponse) -> i64 {
    response.expires_in().map_or(DEFAULT_EXPIRES_IN_SECS, |d| {
        i64::try_from(d.as_secs()).map_or(MAX_EXPIRES_IN_SECS, |s| s.min(MAX_EXPIRES_IN_SECS))
    })
}

/// Markers of a dead refresh token in HubSpot's answers.
const DEAD_REFRESH_MARKERS: [&str; 2] = ["BAD_REFRESH_TOKEN", "invalid_grant"];

pub(super) fn token_error(
    err: RequestTokenError<TransportError, BasicErrorResponse>,
    status: u16,
    refreshing: bool,
) -> Error {
    let (message, markers): (String, Vec<String>) = match &err {
        RequestTokenError::ServerResponse(resp) => (
            resp.error_description()
                .cloned()
                .unwrap_or_else(|| resp.error().to_string()),
            vec![resp.error().to_string()],
        ),
        RequestTokenError::Parse(_, body) => {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let message = field("message")
                .or_else(|| field("error_description"))
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
            let markers = ["status", "error", "category", "subCategory"]
                .iter()
                .filter_map(|k| field(k))
                .collect();
            (message, markers)
        }
        RequestTokenError::Request(e) => (e.to_string(), Vec::new()),
        RequestTokenError::Other(m) => (m.clone(), Vec::new()),
    };
    let dead = refreshing
        && (status == 400 || status == 401)
        && markers
            .iter()
            .any(|m| DEAD_REFRESH_MARKERS.contains(&m.as_str()));
    if dead {
        Error::RefreshTokenRevoked { message }
    } else if status == 0 {
        Error::OAuth(message)
    } else {
        Error::OAuth(format!("{status}: {message}"))
    }
}
