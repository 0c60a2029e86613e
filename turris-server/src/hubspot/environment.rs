//! A single-tenant deployment's HubSpot connection from the environment
//! ([`crate::config::PrivateAppEnv`]): at start-up its organization is connected with the
//! private app, or the stored token and client secret are replaced when the environment's
//! differ. The settings API and the console keep working as for any connection.

use chrono::Utc;
use turris_core::ids::OrganizationId;
use turris_core::permissions::SubscriptionState;

use crate::app::AppState;
use crate::config::EnvPrivateApp;
use crate::error::ApiError;
use crate::http::integrations::{OAuthPurpose, check_private_app, finish_connect};
use crate::store::{HubSpotAuth, HubSpotCredentials};

/// Why the environment's private app could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum EnvConnectError {
    /// The configuration names no organization and there is not exactly one.
    #[error(
        "set TURRIS_HUBSPOT_ORGANIZATION: the private app from the environment needs its organization, and {0} organizations exist"
    )]
    WhichOrganization(usize),
    /// The organization is connected to another portal.
    #[error(
        "organization {organization} is connected to HubSpot portal {connected}, but the environment names portal {configured}; delete the integration first or correct TURRIS_HUBSPOT_PORTAL_ID"
    )]
    OtherPortal {
        /// The organization.
        organization: OrganizationId,
        /// The portal it is connected to.
        connected: u64,
        /// The portal the environment names.
        configured: u64,
    },
    /// HubSpot refused the token, or it belongs to another portal.
    #[error("the private app from the environment was refused: {0}")]
    Refused(String),
    /// The database failed.
    #[error("database")]
    Database(#[from] crate::store::DbError),
}

impl From<ApiError> for EnvConnectError {
    fn from(e: ApiError) -> Self {
        let body = e.body();
        let mut text = body.message;
        for detail in body.details {
            text.push_str(&format!("; {}: {}", detail.path, detail.message));
        }
        EnvConnectError::Refused(text)
    }
}

/// Connects the environment's private app (if any) and answers the organization it connected.
/// Nothing is called at HubSpot when the stored connection already holds the same token and
/// secret, so a restart during a HubSpot outage still starts.
pub async fn connect_from_env(
    state: &AppState,
    app: &EnvPrivateApp,
) -> Result<OrganizationId, EnvConnectError> {
    let org = organization(state, app).await?;
    let auth = HubSpotAuth::PrivateApp {
        token: app.token.clone(),
        webhook_secret: app.webhook_secret.clone(),
    };
    let existing = state.db().hubspot_credentials(&org).await?;
    let purpose = match &existing {
        Some(c) if c.portal_id != app.portal_id => {
            return Err(EnvConnectError::OtherPortal {
                organization: org,
                connected: c.portal_id,
                configured: app.portal_id,
            });
        }
        Some(c) if c.auth == auth => return Ok(org),
        Some(_) => OAuthPurpose::Reconnect,
        None => OAuthPurpose::Connect,
    };
    check_private_app(state, app.portal_id, &app.token).await?;
    let now = Utc::now();
    let credentials = HubSpotCredentials {
        portal_id: app.portal_id,
        app_id: None,
        auth,
        connected_at: existing.as_ref().map_or(now, |c| c.connected_at),
        updated_at: now,
    };
    finish_connect(state, &org, None, credentials, purpose).await?;
    tracing::info!(org = %org, portal_id = app.portal_id, "hubspot private app from the environment connected");
    Ok(org)
}

/// The configured organization (created when missing), or the only one there is.
async fn organization(
    state: &AppState,
    app: &EnvPrivateApp,
) -> Result<OrganizationId, EnvConnectError> {
    let db = state.db();
    if let Some(id) = &app.organization {
        if db.organization(id).await?.is_none() {
            db.create_organization(id, id.as_str(), SubscriptionState::Active, Utc::now())
                .await?;
            tracing::info!(org = %id, "organization of the environment's private app created");
        }
        return Ok(id.clone());
    }
    let all = db.list_organizations().await?;
    match all.as_slice() {
        [only] => Ok(only.id.clone()),
        _ => Err(EnvConnectError::WhichOrganization(all.len())),
    }
}
