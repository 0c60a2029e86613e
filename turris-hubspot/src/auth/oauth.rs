//! OAuth for public apps against HubSpot's v3 token endpoints.

use serde::{Deserialize, Serialize};

/// Answer of `POST /oauth/v3/token/introspect`.
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
}
