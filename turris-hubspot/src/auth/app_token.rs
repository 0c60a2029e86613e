//! The app's own token from the client-credentials grant, for the webhooks journal and its
//! subscriptions: no refresh token; a new one is asked for shortly before the old one expires,
//! or when HubSpot refuses it as expired.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Mutex;

use super::oauth::AppToken;
use super::{AccessTokenSource, OAuthClient, Secret};
use crate::Result;

/// How long before its expiry a token is replaced.
const RENEW_AHEAD: Duration = Duration::from_secs(120);

/// An [`AccessTokenSource`] that holds the app's client-credentials token (see
/// [`OAuthClient::client_credentials`]) and renews it before it expires, one request at a time.
pub struct AppTokenSource {
    oauth: OAuthClient,
    scopes: Vec<String>,
    current: Mutex<Option<AppToken>>,
}

impl std::fmt::Debug for AppTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokenSource")
            .field("oauth", &self.oauth)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl AppTokenSource {
    /// A source asking for `scopes` (for the journal: [`super::oauth::JOURNAL_SCOPES`]).
    pub fn new(oauth: OAuthClient, scopes: &[&str]) -> Self {
        AppTokenSource {
            oauth,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            current: Mutex::new(None),
        }
    }

    async fn fresh(&self, current: &mut Option<AppToken>) -> Result<Secret> {
        let scopes: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        let token = self.oauth.client_credentials(&scopes).await?;
        let secret = token.access_token.clone();
        *current = Some(token);
        Ok(secret)
    }
}

#[async_trait]
impl AccessTokenSource for AppTokenSource {
    async fn access_token(&self) -> Result<Secret> {
        let mut current = self.current.lock().await;
        let ahead = chrono::Duration::from_std(RENEW_AHEAD).unwrap_or_default();
        match current.as_ref() {
            Some(token) if token.expires_at - ahead > Utc::now() => Ok(token.access_token.clone()),
            _ => self.fresh(&mut current).await,
        }
    }

    async fn refresh_after_rejection(&self, rejected: &Secret) -> Result<Option<Secret>> {
        let mut current = self.current.lock().await;
        // Another caller may have replaced the rejected token already.
        if let Some(token) = current.as_ref()
            && token.access_token.expose() != rejected.expose()
        {
            return Ok(Some(token.access_token.clone()));
        }
        self.fresh(&mut current).await.map(Some)
    }
}
