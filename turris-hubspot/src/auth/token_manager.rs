//! [`TokenManager`]: refreshes OAuth tokens ahead of expiry, single-flight, and hands every new
//! token set to a [`TokenSink`].
//!
//! Single-flight holds within one manager. When several managers (several processes, or
//! several clients of one process) share one installation's stored tokens, give each a
//! [`RefreshCoordinator`]: before refreshing, a manager asks it for the refresh lease and the
//! tokens stored now. Either another manager already replaced the tokens this one holds (it
//! adopts them and calls nothing), or this one holds the lease and refreshes with the *stored*
//! refresh token, never a stale one it kept in memory. HubSpot may invalidate a refresh token
//! once it has been used, so two refreshes with one token would make the second look like a
//! revoked grant.

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

/// A refresh lease: while it is held, no other manager sharing the tokens refreshes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLease(pub String);

/// What a manager about to refresh may do, according to its [`RefreshCoordinator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshTurn {
    /// This manager holds `lease` and refreshes with `stored`, the tokens stored now.
    Refresh {
        /// The lease to hand back to [`RefreshCoordinator::finish`] or `abandon`.
        lease: RefreshLease,
        /// The tokens stored now (their refresh token is the one to use).
        stored: TokenSet,
    },
    /// Another manager already replaced the tokens this one holds: use these, refresh nothing.
    Replaced(TokenSet),
}

/// Shares one installation's refreshes between managers (processes) that store its tokens in
/// one place; see the module documentation.
#[async_trait]
pub trait RefreshCoordinator: Send + Sync {
    /// Called before a refresh with the tokens the manager holds. Answers
    /// [`RefreshTurn::Replaced`] when the stored tokens are no longer `held`, else takes the
    /// refresh lease (waiting while another manager holds it) and answers
    /// [`RefreshTurn::Refresh`].
    async fn begin(&self, held: &TokenSet) -> std::result::Result<RefreshTurn, String>;
    /// Stores the tokens a refresh under `lease` obtained and gives the lease up. An error
    /// when the lease was lost (the tokens are not stored).
    async fn finish(
        &self,
        lease: &RefreshLease,
        tokens: &TokenSet,
    ) -> std::result::Result<(), String>;
    /// Gives the lease up after a failed refresh.
    async fn abandon(&self, lease: &RefreshLease);
}

/// What [`TokenManager::refresh_now`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// This manager called HubSpot's token endpoint and got these tokens.
    Here(TokenSet),
    /// Another manager had already refreshed (the coordinator said so): these are its tokens.
    Elsewhere(TokenSet),
}

impl Refreshed {
    /// The tokens now in use.
    pub fn tokens(&self) -> &TokenSet {
        match self {
            Refreshed::Here(tokens) | Refreshed::Elsewhere(tokens) => tokens,
        }
    }
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
    coordinator: Option<Arc<dyn RefreshCoordinator>>,
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
            .field("coordinated", &self.coordinator.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager starting from stored `tokens`.
    pub fn new(oauth: OAuthClient, tokens: TokenSet, sink: Arc<dyn TokenSink>) -> Self {
        TokenManager {
            oauth,
            sink,
            coordinator: None,
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

    /// Refreshes through `coordinator`, shared with the other managers of these tokens; the
    /// coordinator then stores refreshed tokens (the sink is not called for them).
    pub fn with_coordinator(mut self, coordinator: Arc<dyn RefreshCoordinator>) -> Self {
        self.coordinator = Some(coordinator);
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

    /// Refreshes now, whatever the expiry (the server's refresh worker). With a coordinator,
    /// answers [`Refreshed::Elsewhere`] when another manager already replaced the tokens.
    pub async fn refresh_now(&self) -> Result<Refreshed> {
        let mut state = self.state.lock().await;
        self.refresh_locked(&mut state).await
    }

    async fn refresh_locked(&self, state: &mut State) -> Result<Refreshed> {
        if let Some(message) = &state.dead {
            return Err(Error::RefreshTokenRevoked {
                message: message.clone(),
            });
        }
        let Some(coordinator) = &self.coordinator else {
            let refresh_token = state.tokens.refresh_token.clone();
            let tokens = self.oauth_refresh(state, &refresh_token).await?;
            state.tokens = tokens;
            state.unsaved = true;
            self.save_locked(state).await?;
            return Ok(Refreshed::Here(state.tokens.clone()));
        };
        let (lease, stored) = match coordinator
            .begin(&state.tokens)
            .await
            .map_err(Error::TokenSink)?
        {
            RefreshTurn::Replaced(tokens) => {
                state.tokens = tokens;
                state.unsaved = false;
                return Ok(Refreshed::Elsewhere(state.tokens.clone()));
            }
            RefreshTurn::Refresh { lease, stored } => (lease, stored),
        };
        match self.oauth_refresh(state, &stored.refresh_token).await {
            Ok(tokens) => {
                state.tokens = tokens;
                state.unsaved = false;
                coordinator
                    .finish(&lease, &state.tokens)
                    .await
                    .map_err(Error::TokenSink)?;
                Ok(Refreshed::Here(state.tokens.clone()))
            }
            Err(e) => {
                coordinator.abandon(&lease).await;
                Err(e)
            }
        }
    }

    /// Calls the token endpoint; remembers a dead refresh token.
    async fn oauth_refresh(&self, state: &mut State, refresh_token: &Secret) -> Result<TokenSet> {
        match self.oauth.refresh(refresh_token).await {
            Ok(tokens) => Ok(tokens),
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
        let expiring = |tokens: &TokenSet| {
            // An expiry at the very start of time cannot have the margin taken off: expired.
            tokens
                .expires_at
                .checked_sub_signed(self.margin)
                .is_none_or(|at| at <= Utc::now())
        };
        if expiring(&state.tokens) {
            // Tokens another manager stored may be close to expiry too: refresh those.
            if let Refreshed::Elsewhere(tokens) = self.refresh_locked(&mut state).await?
                && expiring(&tokens)
            {
                self.refresh_locked(&mut state).await?;
            }
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
