//! HubSpot clients for an organization, built from its stored credentials.
//!
//! OAuth connections get a [`TokenManager`] whose refreshed tokens are written back
//! (encrypted) through [`StoreTokens`]; private-app connections use the static token. The
//! sync workers build their clients here too.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use turris_core::ids::OrganizationId;
use turris_core::property::{ObjectSchema, ObjectType};
use turris_hubspot::HubSpotClient;
use turris_hubspot::auth::{
    AccessTokenSource, PrivateAppToken, Secret, TokenManager, TokenSet, TokenSink,
};
use turris_hubspot::crm::account::AccountDetails;

use crate::app::AppState;
use crate::crypto::SecretString;
use crate::store::{HubSpotAuth, HubSpotCredentials, ServerStore};

/// Writes refreshed OAuth tokens back to the store, encrypted.
pub struct StoreTokens {
    store: Arc<dyn ServerStore>,
    org: OrganizationId,
}

impl StoreTokens {
    /// A sink writing `org`'s refreshed tokens to `store`.
    pub fn new(store: Arc<dyn ServerStore>, org: OrganizationId) -> Self {
        Self { store, org }
    }
}

#[async_trait]
impl TokenSink for StoreTokens {
    async fn store(&self, tokens: &TokenSet) -> Result<(), String> {
        let auth = HubSpotAuth::OAuth {
            access_token: SecretString::new(tokens.access_token.expose()),
            refresh_token: SecretString::new(tokens.refresh_token.expose()),
            expires_at: tokens.expires_at,
        };
        self.store
            .replace_hubspot_auth(&self.org, &auth, Utc::now())
            .await
            .map_err(|e| e.to_string())
    }
}

/// The token source of stored credentials. `None` for OAuth credentials when the server has
/// no OAuth client configured.
pub fn token_source(
    state: &AppState,
    org: &OrganizationId,
    credentials: &HubSpotCredentials,
) -> Option<Arc<dyn AccessTokenSource>> {
    match &credentials.auth {
        HubSpotAuth::PrivateApp { token } => {
            Some(Arc::new(PrivateAppToken::new(Secret::new(token.expose()))))
        }
        HubSpotAuth::OAuth {
            access_token,
            refresh_token,
            expires_at,
        } => {
            let oauth = state.oauth()?.clone();
            let tokens = TokenSet {
                access_token: Secret::new(access_token.expose()),
                refresh_token: Secret::new(refresh_token.expose()),
                expires_at: *expires_at,
            };
            let sink = Arc::new(StoreTokens {
                store: state.store(),
                org: org.clone(),
            });
            Some(Arc::new(TokenManager::new(oauth, tokens, sink)))
        }
    }
}

/// Why a HubSpot call for the API failed, in words safe to show.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// HubSpot refused the token (401/403).
    #[error("HubSpot refused the token")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// HubSpot's error category.
        category: Option<String>,
    },
    /// The refresh token is dead: the app was uninstalled or the grant revoked.
    #[error("HubSpot revoked the connection")]
    Revoked,
    /// Anything else.
    #[error("{0}")]
    HubSpot(String),
}

impl ConnectionError {
    /// Whether the stored credentials no longer work, so the connection is in error until a
    /// reconnect: a dead refresh token, or a 401 on a token we believed valid.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            ConnectionError::Revoked | ConnectionError::Rejected { status: 401, .. }
        )
    }
}

impl From<turris_hubspot::Error> for ConnectionError {
    fn from(e: turris_hubspot::Error) -> Self {
        match e.status() {
            Some(status @ (401 | 403)) => ConnectionError::Rejected {
                status,
                category: e.category().map(str::to_owned),
            },
            Some(status) => {
                tracing::warn!(status, category = e.category(), "hubspot call failed");
                ConnectionError::HubSpot(format!(
                    "HubSpot answered {status}{}",
                    e.category().map(|c| format!(" ({c})")).unwrap_or_default()
                ))
            }
            None => {
                tracing::warn!(error = %e, "hubspot call failed");
                match e {
                    turris_hubspot::Error::RefreshTokenRevoked { .. } => ConnectionError::Revoked,
                    _ => ConnectionError::HubSpot("HubSpot could not be reached".into()),
                }
            }
        }
    }
}

/// Flips the connection to `error` (sync pauses, the card shows Error) and logs
/// `Refresh HubSpot access token` as a Failure, after HubSpot stopped accepting the stored
/// credentials. A reconnect sets it back to `connected`.
pub async fn mark_connection_lost(
    state: &AppState,
    org: &OrganizationId,
    error: &ConnectionError,
) -> Result<(), turris_core::store::StoreError> {
    use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
    use turris_core::integration::{Connection, ConnectionStatus};

    let now = Utc::now();
    let reason = "HubSpot no longer accepts the stored credentials; reconnect the integration";
    let mut settings = state.db().load_settings(org).await?.unwrap_or_default();
    settings.connection = Connection {
        status: ConnectionStatus::Error,
        error: Some(reason.to_owned()),
        ..settings.connection
    };
    state.db().set_connection(org, &settings.connection).await?;
    let (hubspot_status, error_category) = match error {
        ConnectionError::Rejected { status, category } => (Some(*status), category.clone()),
        ConnectionError::Revoked => (Some(400), Some("BAD_REFRESH_TOKEN".to_owned())),
        ConnectionError::HubSpot(_) => (None, None),
    };
    state
        .db()
        .append_activity(
            org,
            &NewActivity::new(ActivityKind::RefreshAccessToken, Outcome::Failure, now)
                .with_details(ActivityDetails {
                    hubspot_status,
                    error_category,
                    message: Some(reason.to_owned()),
                    ..ActivityDetails::default()
                }),
        )
        .await?;
    tracing::warn!(org = %org, "hubspot connection lost; status set to error");
    Ok(())
}

/// A client for an organization's portal.
pub fn client(
    state: &AppState,
    org: &OrganizationId,
    credentials: &HubSpotCredentials,
) -> Result<HubSpotClient, ConnectionError> {
    let tokens = token_source(state, org, credentials).ok_or_else(|| {
        ConnectionError::HubSpot("HubSpot OAuth is not configured on this server".into())
    })?;
    client_with(state, credentials.portal_id, tokens)
}

fn client_with(
    state: &AppState,
    portal_id: u64,
    tokens: Arc<dyn AccessTokenSource>,
) -> Result<HubSpotClient, ConnectionError> {
    HubSpotClient::builder(tokens)
        .http_client(state.http().clone())
        .api_base(state.config().hubspot.api_base.clone())
        .rate_limiter(state.hubspot_limiter().clone())
        .portal(portal_id)
        .build()
        .map_err(|e| ConnectionError::HubSpot(format!("HubSpot client: {e}")))
}

/// The account details of a private-app token (its portal id).
pub async fn account_details(
    state: &AppState,
    claimed_portal: u64,
    token: &SecretString,
) -> Result<AccountDetails, ConnectionError> {
    let tokens = Arc::new(PrivateAppToken::new(Secret::new(token.expose())));
    let client = client_with(state, claimed_portal, tokens)?;
    Ok(client.account_details().await?)
}

/// Fetches an object's property definitions as core's schema.
pub async fn fetch_schema(
    client: &HubSpotClient,
    object: ObjectType,
) -> Result<ObjectSchema, ConnectionError> {
    let hubspot_object = match object {
        ObjectType::Company => turris_hubspot::crm::ObjectType::Companies,
        ObjectType::Contact => turris_hubspot::crm::ObjectType::Contacts,
    };
    let definitions = client.list_properties(&hubspot_object).await?;
    let properties = definitions
        .into_iter()
        .filter(|d| !d.archived)
        .map(|d| {
            // Core reads HubSpot's camelCase definitions directly.
            serde_json::to_value(&d)
                .and_then(serde_json::from_value)
                .map_err(|e| ConnectionError::HubSpot(format!("unexpected property: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ObjectSchema::new(object, properties))
}
