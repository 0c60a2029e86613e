//! The token worker: refreshes OAuth access tokens ahead of expiry.
//!
//! Every [`POLL`], the organizations whose access token expires within [`LEAD`] get a refresh;
//! the new tokens are stored (encrypted) by [`crate::hubspot::SharedRefresh`], and every refresh
//! is an activity row (`Refresh HubSpot access token`). A dead refresh token (the app was
//! uninstalled or the grant revoked) flips the connection to `error`, which pauses sync until a
//! reconnect ([`crate::hubspot::mark_connection_lost`] logs the Failure). Connections already in
//! error are left alone; another failure is retried after [`RETRY_AFTER_FAILURE`].
//!
//! With several replicas, every replica's worker finds the same organizations due. A refresh
//! goes through [`crate::hubspot::SharedRefresh`]: one process holds the refresh lease of the
//! credentials row and calls HubSpot with the refresh token stored now; a process that finds
//! the tokens already replaced (or waits for the lease and then finds them replaced) adopts
//! them, logs nothing and changes no status. So HubSpot sees one refresh per expiry, and a
//! refresh token that HubSpot invalidated after its first use is never sent twice.

use std::time::Duration;

use chrono::Utc;
use turris_core::activity::{ActivityDetails, Outcome};
use turris_core::ids::OrganizationId;
use turris_core::integration::ConnectionStatus;
use turris_hubspot::auth::{Refreshed, Secret, TokenSet};

use crate::app::AppState;
use crate::hubspot::{ConnectionError, log_refresh};
use crate::store::{DbError, HubSpotAuth};
use crate::workers::Shutdown;

/// How often the worker looks for tokens to refresh.
const POLL: Duration = Duration::from_secs(5);
/// How long before expiry a token is refreshed (HubSpot's live 30 minutes).
pub const LEAD: chrono::Duration = chrono::Duration::minutes(10);
/// When a refresh that failed for another reason than a dead refresh token is tried again.
const RETRY_AFTER_FAILURE: chrono::Duration = chrono::Duration::minutes(1);

/// The worker loop: runs until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = refresh_due(&state).await {
            tracing::error!(error = %crate::error::ErrorChain(&e), "token refresh round failed");
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {},
            () = shutdown.fired() => return,
        }
    }
}

/// Refreshes every token expiring within [`LEAD`].
pub async fn refresh_due(state: &AppState) -> Result<(), crate::store::DbError> {
    let now = Utc::now();
    let due = state.db().oauth_expiring_before(now + LEAD).await?;
    for org in due {
        if state.sync().token_refresh_waits(&org, now) {
            continue;
        }
        if let Err(e) = refresh(state, &org).await {
            tracing::error!(org = %org, error = %crate::error::ErrorChain(&e), "token refresh failed");
        }
    }
    Ok(())
}

async fn refresh(state: &AppState, org: &OrganizationId) -> Result<(), DbError> {
    let settings = state.db().load_settings(org).await?.unwrap_or_default();
    if settings.connection.status == ConnectionStatus::Error {
        return Ok(());
    }
    let Some(oauth) = state.oauth() else {
        return Ok(());
    };
    let Some(credentials) = state.db().hubspot_credentials(org).await? else {
        return Ok(());
    };
    let HubSpotAuth::OAuth {
        access_token,
        refresh_token,
        expires_at,
    } = &credentials.auth
    else {
        return Ok(());
    };
    // Another process may have refreshed since this round listed the organization.
    if *expires_at > Utc::now() + LEAD {
        return Ok(());
    }
    let tokens = TokenSet {
        access_token: Secret::new(access_token.expose()),
        refresh_token: Secret::new(refresh_token.expose()),
        expires_at: *expires_at,
    };
    let manager = crate::hubspot::token_manager(state, oauth.clone(), org, tokens);
    let now = Utc::now();
    match manager.refresh_now().await {
        Ok(Refreshed::Elsewhere(_)) => {
            state.sync().set_token_backoff(org, None);
            tracing::debug!(org = %org, "hubspot access token was refreshed by another process");
        }
        Ok(Refreshed::Here(_)) => {
            state.sync().set_token_backoff(org, None);
            let details = ActivityDetails {
                hubspot_status: Some(200),
                ..ActivityDetails::default()
            };
            log_refresh(state, org, Outcome::Success, now, details).await?;
            tracing::info!(org = %org, "hubspot access token refreshed");
        }
        Err(turris_hubspot::Error::RefreshTokenRevoked { .. }) => {
            crate::hubspot::mark_connection_lost(state, org, &ConnectionError::Revoked).await?;
        }
        Err(e) => {
            state
                .sync()
                .set_token_backoff(org, Some(now + RETRY_AFTER_FAILURE));
            let (status, category) = (e.status(), e.category().map(str::to_owned));
            let message = ConnectionError::from(e).to_string();
            let details = ActivityDetails {
                hubspot_status: status,
                error_category: category,
                message: Some(message),
                ..ActivityDetails::default()
            };
            log_refresh(state, org, Outcome::Failure, now, details).await?;
        }
    }
    Ok(())
}
