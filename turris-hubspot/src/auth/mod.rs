//! Authentication: OAuth (project-based apps with `auth.type: oauth`, legacy public apps),
//! static tokens (a project app's static-auth token, a legacy private app's token, a Service
//! Key), the app's client-credentials token ([`AppTokenSource`]), and the [`TokenManager`].

pub mod app_token;
pub mod oauth;
pub mod private_app;
pub mod token_manager;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use app_token::AppTokenSource;
pub use oauth::{AppToken, IntrospectionResponse, OAuthClient, OAuthConfig};
pub use private_app::{PrivateAppToken, ServiceKey, StaticToken};
pub use token_manager::{
    DiscardTokens, RefreshCoordinator, RefreshLease, RefreshTurn, Refreshed, TokenManager,
    TokenSink,
};

use crate::Result;

/// A secret string (access token, refresh token, client secret, API key) whose `Debug` and
/// `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: only to put it on the wire or in encrypted storage.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// The tokens of one OAuth installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// Bearer token for API calls (lives 30 minutes at HubSpot).
    pub access_token: Secret,
    /// Token to get the next access token; HubSpot may send a new one on each refresh.
    pub refresh_token: Secret,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
}

/// Where the client gets its bearer token from.
///
/// Implemented by [`TokenManager`] (OAuth, refreshing) and [`PrivateAppToken`] (static).
#[async_trait]
pub trait AccessTokenSource: Send + Sync {
    /// A token valid for at least a little while.
    async fn access_token(&self) -> Result<Secret>;

    /// HubSpot refused `rejected` as expired (401 `EXPIRED_AUTHENTICATION`): get a fresh one.
    /// Returns `None` when the source cannot refresh (a private-app token), in which case the
    /// client does not retry.
    async fn refresh_after_rejection(&self, rejected: &Secret) -> Result<Option<Secret>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let tokens = TokenSet {
            access_token: Secret::new("at-123"),
            refresh_token: Secret::new("rt-456"),
            expires_at: Utc::now(),
        };
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("at-123"));
        assert!(!debug.contains("rt-456"));
        assert!(debug.contains("[redacted]"));
        assert_eq!(Secret::new("x").to_string(), "[redacted]");
    }
}
