//! [`TokenManager`]: refreshes OAuth tokens ahead of expiry, single-flight, and hands every new
//! token set to a [`TokenSink`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Mutex;

use super::{AccessTokenSource, OAuthClient, Secret, TokenSet};
use crate::{Error, Result};

/// Persists refreshed tokens (encrypted, in the server's storage).
#[async_trait]
pub trait TokenSink: Send + Sync {
    /// Stores the new token set. An error is reported to the caller that triggered the refresh,
    /// and storing is tried again on the next call.
    async fn store(&self, tokens: &TokenSet) -> std::result::Result<(), String>;
}

/// A sink that keeps nothing (tests, short-lived tools).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardTokens;

#[async_trait]
impl TokenSink for DiscardTokens {
    async fn store(&self, _tokens: &TokenSet) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// Default refresh margin: refresh when less than this is left.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Holds one installation's tokens and keeps the access token fresh.
///
/// Concurrent callers share one refresh: the state sits behind an async mutex, so while one
/// caller refreshes, the others wait and then get the new token.
pub struct TokenManager {
    oauth: OAuthClient,
    sink: Arc<dyn TokenSink>,
    margin: chrono::Duration,
    state: Mutex<State>,
}

struct State {
    tokens: TokenSet,
    unsaved: bool,
    dead: Option<String>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("oauth", &self.oauth)
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager starting from stored `tokens`.
    pub fn new(oauth: OAuthClient, tokens: TokenSet, sink: Arc<dyn TokenSink>) -> Self {
        TokenManager {
            oauth,
            sink,
            margin: chrono::Duration::from_std(DEFAULT_REFRESH_MARGIN)
                .unwrap_or(chrono::Duration::zero()),
            state: Mutex::new(State {
                tokens,
                unsaved: false,
                dead: None,
            }),
        }
    }

    /// Refresh when less than `margin` of the access token's life is left.
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::zero());
        self
    }

    /// The current token set.
    pub async fn tokens(&self) -> TokenSet {
        self.state.lock().await.tokens.clone()
    }

    /// Replaces the tokens (after a reconnect) and forgets an earlier dead refresh token.
    pub async fn replace_tokens(&self, tokens: TokenSet) {
        let mut state = self.state.lock().await;
        *state = State {
            tokens,
            unsaved: false,
            dead: None,
        };
    }

    /// Refreshes now, whatever the expiry (the server's refresh worker).
    pub async fn refresh_now(&self) -> Result<TokenSet> {
        let mut state = self.state.lock().await;
        self.refresh_locked(&mut state).await?;
        Ok(state.tokens.clone())
    }

    async fn refresh_locked(&self, state: &mut State) -> Result<()> {
        if let Some(message) = &state.dead {
            return Err(Error::RefreshTokenRevoked {
                message: message.clone(),
            });
        }
        match self.oauth.refresh(&state.tokens.refresh_token).await {
            Ok(tokens) => {
                state.tokens = tokens;
                state.unsaved = true;
                self.save_locked(state).await
            }
            Err(Error::RefreshTokenRevoked { message }) => {
                state.dead = Some(message.clone());
                Err(Error::RefreshTokenRevoked { message })
            }
            Err(other) => Err(other),
        }
    }

    async fn save_locked(&self, state: &mut State) -> Result<()> {
        if !state.unsaved {
            return Ok(());
        }
        self.sink
            .store(&state.tokens)
            .await
            .map_err(Error::TokenSink)?;
        state.unsaved = false;
        Ok(())
    }
}

#[async_trait]
impl AccessTokenSource for TokenManager {
    async fn access_token(&self) -> Result<Secret> {
        let mut state = self.state.lock().await;
        if state.tokens.expires_at - self.margin <= Utc::now() {
            self.refresh_locked(&mut state).await?;
        } else {
            self.save_locked(&mut state).await?;
        }
        Ok(state.tokens.access_token.clone())
    }

    async fn refresh_after_rejection(&self, rejected: &Secret) -> Result<Option<Secret>> {
        let mut state = self.state.lock().await;
        // Another caller may have refreshed while our request was in flight.
        if state.tokens.access_token != *rejected {
            return Ok(Some(state.tokens.access_token.clone()));
        }
        self.refresh_locked(&mut state).await?;
        Ok(Some(state.tokens.access_token.clone()))
    }
}
