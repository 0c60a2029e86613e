//! HubSpot clients for an organization, built from its stored credentials.
//!
//! OAuth connections get a [`TokenManager`] that refreshes through [`SharedRefresh`], so that
//! every process (and every client within one) sharing the stored tokens refreshes them one at
//! a time: the one holding the refresh lease on the credentials row calls HubSpot with the
//! refresh token stored now and stores what comes back; the others wait for the lease and adopt
//! the stored tokens. An access token another process replaced stays usable until it expires
//! (HubSpot does not revoke it), so a client keeps it until it is due, then reads the new one.
//! Private-app connections use the static token. The sync workers build their clients here too.

pub mod environment;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_core::property::{ObjectSchema, ObjectType};
use turris_hubspot::HubSpotClient;
use turris_hubspot::auth::{
    AccessTokenSource, PrivateAppToken, RefreshCoordinator, RefreshLease, RefreshTurn, Secret,
    TokenManager, TokenSet, TokenSink,
};
use turris_hubspot::crm::account::AccountDetails;

use crate::app::AppState;
use crate::crypto::SecretString;
use crate::store::{HubSpotAuth, HubSpotCredentials, ServerStore, TokenRefreshLease};

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

/// How long a process holds the refresh lease: longer than a token request may take.
pub const REFRESH_LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// How often a process waiting for another's refresh looks at the stored tokens again.
const REFRESH_WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// The [`RefreshCoordinator`] of an organization's stored OAuth tokens: the refresh lease on its
/// credentials row ([`crate::store::CredentialStore::lease_token_refresh`]).
pub struct SharedRefresh {
    store: Arc<dyn ServerStore>,
    org: OrganizationId,
}

impl SharedRefresh {
    /// The coordinator of `org`'s tokens in `store`.
    pub fn new(store: Arc<dyn ServerStore>, org: OrganizationId) -> Self {
        Self { store, org }
    }

    fn lease_id(lease: &RefreshLease) -> Result<uuid::Uuid, String> {
        uuid::Uuid::parse_str(&lease.0).map_err(|_| "malformed refresh lease".to_owned())
    }
}

fn token_set(auth: HubSpotAuth) -> Result<TokenSet, String> {
    match auth {
        HubSpotAuth::OAuth {
            access_token,
            refresh_token,
            expires_at,
        } => Ok(TokenSet {
            access_token: Secret::new(access_token.expose()),
            refresh_token: Secret::new(refresh_token.expose()),
            expires_at,
        }),
        HubSpotAuth::PrivateApp { .. } => Err("the connection no longer uses OAuth".to_owned()),
    }
}

#[async_trait]
impl RefreshCoordinator for SharedRefresh {
    async fn begin(&self, held: &TokenSet) -> Result<RefreshTurn, String> {
        let deadline = Utc::now() + REFRESH_LEASE + REFRESH_LEASE;
        loop {
            let now = Utc::now();
            let lease = uuid::Uuid::new_v4();
            let found = self
                .store
                .lease_token_refresh(&self.org, lease, now + REFRESH_LEASE, now)
                .await
                .map_err(|e| e.to_string())?;
            match found {
                TokenRefreshLease::Taken(auth) => {
                    let stored = token_set(auth)?;
                    if stored.access_token != held.access_token {
                        let _ = self.store.release_token_refresh(&self.org, lease).await;
                        return Ok(RefreshTurn::Replaced(stored));
                    }
                    return Ok(RefreshTurn::Refresh {
                        lease: RefreshLease(lease.to_string()),
                        stored,
                    });
                }
                TokenRefreshLease::Busy(auth) => {
                    let stored = token_set(auth)?;
                    if stored.access_token != held.access_token {
                        return Ok(RefreshTurn::Replaced(stored));
                    }
                }
                TokenRefreshLease::NotConnected => {
                    return Err("HubSpot is no longer connected".to_owned());
                }
            }
            if now >= deadline {
                return Err("another process is still refreshing the token".to_owned());
            }
            tokio::time::sleep(REFRESH_WAIT_POLL).await;
        }
    }

    async fn finish(&self, lease: &RefreshLease, tokens: &TokenSet) -> Result<(), String> {
        let auth = HubSpotAuth::OAuth {
            access_token: SecretString::new(tokens.access_token.expose()),
            refresh_token: SecretString::new(tokens.refresh_token.expose()),
            expires_at: tokens.expires_at,
        };
        let stored = self
            .store
            .store_refreshed_auth(&self.org, Self::lease_id(lease)?, &auth, Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        if stored {
            Ok(())
        } else {
            Err("the refresh lease lapsed or the connection was replaced".to_owned())
        }
    }

    async fn abandon(&self, lease: &RefreshLease) {
        if let Ok(lease) = Self::lease_id(lease)
            && let Err(e) = self.store.release_token_refresh(&self.org, lease).await
        {
            tracing::warn!(org = %self.org, error = %e, "cannot release the token refresh lease");
        }
    }
}

/// A token manager for `org`'s stored OAuth `tokens`, refreshing through [`SharedRefresh`].
pub fn token_manager(
    state: &AppState,
    oauth: turris_hubspot::auth::OAuthClient,
    org: &OrganizationId,
    tokens: TokenSet,
) -> TokenManager {
    let sink = Arc::new(StoreTokens::new(state.store(), org.clone()));
    TokenManager::new(oauth, tokens, sink)
        .with_coordinator(Arc::new(SharedRefresh::new(state.store(), org.clone())))
}

/// The token source of stored credentials. `None` for OAuth credentials when the server has
/// no OAuth client configured.
pub fn token_source(
    state: &AppState,
    org: &OrganizationId,
    credentials: &HubSpotCredentials,
) -> Option<Arc<dyn AccessTokenSource>> {
    match &credentials.auth {
        HubSpotAuth::PrivateApp { token, .. } => {
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
            Some(Arc::new(token_manager(state, oauth, org, tokens)))
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
    /// The portal's daily API limit is spent: nothing is sent to it until `until`.
    #[error("HubSpot's daily API limit is reached; sync resumes at {}", resume_text(.until))]
    DailyLimit {
        /// When calls resume.
        until: DateTime<Utc>,
    },
    /// Anything else: what to tell the user, and the cause when there is one.
    #[error("{message}")]
    HubSpot {
        /// A client-safe message.
        message: String,
        /// What failed.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl ConnectionError {
    /// A failure with a client-safe `message` and no further cause.
    pub fn hubspot(message: impl Into<String>) -> Self {
        ConnectionError::HubSpot {
            message: message.into(),
            source: None,
        }
    }

    /// A failure with a client-safe `message`, caused by `source`.
    pub fn hubspot_caused_by(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ConnectionError::HubSpot {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

fn resume_text(until: &DateTime<Utc>) -> String {
    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

impl ConnectionError {
    /// Until when the portal's daily API limit blocks calls: work waits until then.
    pub fn daily_limit_until(&self) -> Option<DateTime<Utc>> {
        match self {
            ConnectionError::DailyLimit { until } => Some(*until),
            _ => None,
        }
    }
}

/// A HubSpot client error told without what HubSpot (or its OAuth endpoint) wrote: that text
/// is upstream's, and may echo a token or a secret back, so logs, activity rows and error
/// causes keep only the kind of failure, the status and HubSpot's category.
pub struct Upstream<'a>(pub &'a turris_hubspot::Error);

impl std::fmt::Display for Upstream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use turris_hubspot::Error;
        match self.0 {
            Error::Api(_) | Error::DailyLimit { .. } => {
                write!(f, "hubspot answered")?;
                if let Some(status) = self.0.status() {
                    write!(f, " {status}")?;
                }
                if let Some(category) = self.0.category() {
                    write!(f, " ({category})")?;
                }
                Ok(())
            }
            Error::RefreshTokenRevoked { .. } => f.write_str("refresh token is invalid or revoked"),
            Error::OAuth(_) => f.write_str("oauth token request failed"),
            Error::Decode(_) => f.write_str("unexpected response body"),
            // The client's own words: no URL query, token or HubSpot text.
            e @ (Error::DailyLimitBlocked { .. }
            | Error::Transport(_)
            | Error::Config(_)
            | Error::TokenSink(_)) => write!(f, "{e}"),
            _ => f.write_str("hubspot call failed"),
        }
    }
}

/// [`Upstream`] as an owned error, the cause kept by a [`ConnectionError`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(String);

impl From<&turris_hubspot::Error> for UpstreamError {
    fn from(e: &turris_hubspot::Error) -> Self {
        UpstreamError(Upstream(e).to_string())
    }
}

impl From<turris_hubspot::Error> for ConnectionError {
    fn from(e: turris_hubspot::Error) -> Self {
        if let Some(until) = e.daily_limit_until() {
            return ConnectionError::DailyLimit { until };
        }
        match e.status() {
            Some(status @ (401 | 403)) => ConnectionError::Rejected {
                status,
                category: e.category().map(str::to_owned),
            },
            Some(status) => {
                tracing::warn!(status, category = e.category(), "hubspot call failed");
                let message = format!(
                    "HubSpot answered {status}{}",
                    e.category().map(|c| format!(" ({c})")).unwrap_or_default()
                );
                ConnectionError::hubspot_caused_by(message, UpstreamError::from(&e))
            }
            None => {
                tracing::warn!(error = %Upstream(&e), "hubspot call failed");
                match e {
                    turris_hubspot::Error::RefreshTokenRevoked { .. } => ConnectionError::Revoked,
                    e => ConnectionError::hubspot_caused_by(
                        "HubSpot could not be reached",
                        UpstreamError::from(&e),
                    ),
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
    use turris_core::activity::{ActivityDetails, Outcome};
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
        ConnectionError::DailyLimit { .. } | ConnectionError::HubSpot { .. } => (None, None),
    };
    let details = ActivityDetails {
        hubspot_status,
        error_category,
        message: Some(reason.to_owned()),
        ..ActivityDetails::default()
    };
    log_refresh(state, org, Outcome::Failure, now, details).await?;
    tracing::warn!(org = %org, "hubspot connection lost; status set to error");
    Ok(())
}

/// Logs a refresh of `org`'s access token, with what HubSpot answered.
pub(crate) async fn log_refresh(
    state: &AppState,
    org: &OrganizationId,
    outcome: turris_core::activity::Outcome,
    now: DateTime<Utc>,
    details: turris_core::activity::ActivityDetails,
) -> Result<(), turris_core::store::StoreError> {
    use turris_core::activity::{ActivityKind, NewActivity};
    let row =
        NewActivity::new(ActivityKind::RefreshAccessToken, outcome, now).with_details(details);
    state.db().append_activity(org, &row).await.map(|_| ())
}

/// Until when HubSpot's DAILY limit blocks the organization's portal, if it does: every worker
/// asks before calling HubSpot for the organization, and leaves its work queued until then.
///
/// The block is known to this process's rate limiter (a client of the portal got 429 `DAILY`,
/// see [`turris_hubspot::rate_limit`]) or stored by any replica
/// ([`crate::store::CredentialStore::daily_limit_until`]); each side learns it from the other
/// here. The first process to store a block logs one `HubSpot daily API limit reached`
/// activity row (Failure, 429, `RATE_LIMITS`) saying when sync resumes.
pub async fn daily_limit(
    state: &AppState,
    org: &OrganizationId,
    portal_id: u64,
) -> Result<Option<DateTime<Utc>>, turris_core::store::StoreError> {
    use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};

    let now = Utc::now();
    let portal = portal_id.to_string();
    let limiter = state.hubspot_limiter();
    let stored = state.db().daily_limit_until(org, now).await?;
    if let Some(until) = stored {
        limiter.block_until(&portal, until);
    }
    let local = limiter.blocked_until(&portal, now);
    if let Some(until) = local
        && stored.is_none()
        && state.db().block_until_daily_reset(org, until, now).await?
    {
        let message = format!(
            "HubSpot's daily API limit for portal {portal_id} is reached; sync resumes at {}",
            resume_text(&until)
        );
        tracing::warn!(org = %org, portal = portal_id, until = %until, "hubspot daily limit reached; sync paused");
        state
            .db()
            .append_activity(
                org,
                &NewActivity::new(ActivityKind::DailyLimitReached, Outcome::Failure, now)
                    .with_details(ActivityDetails {
                        hubspot_status: Some(429),
                        error_category: Some("RATE_LIMITS".to_owned()),
                        message: Some(message),
                        ..ActivityDetails::default()
                    }),
            )
            .await?;
    }
    Ok(stored.max(local))
}

/// After a call was refused for the daily limit until `until`: blocks the organization's
/// portal in this process's limiter and runs [`daily_limit`], so the block is stored and logged
/// now rather than at the next round. Failures are logged.
pub async fn note_daily_limit(state: &AppState, org: &OrganizationId, until: DateTime<Utc>) {
    let noted = match state.db().hubspot_credentials(org).await {
        Ok(Some(credentials)) => {
            state
                .hubspot_limiter()
                .block_until(&credentials.portal_id.to_string(), until);
            daily_limit(state, org, credentials.portal_id)
                .await
                .map(|_| ())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = noted {
        tracing::error!(org = %org, error = %e, "cannot record the hubspot daily limit");
    }
}

/// A client for an organization's portal.
pub fn client(
    state: &AppState,
    org: &OrganizationId,
    credentials: &HubSpotCredentials,
) -> Result<HubSpotClient, ConnectionError> {
    let tokens = token_source(state, org, credentials).ok_or_else(|| {
        ConnectionError::hubspot("HubSpot OAuth is not configured on this server")
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
        .api_version(state.config().hubspot.api_version)
        .rate_limiter(state.hubspot_limiter().clone())
        .portal(portal_id)
        .build()
        .map_err(|e| ConnectionError::hubspot_caused_by("HubSpot client", e))
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
        .map(schema_property)
        .collect();
    Ok(ObjectSchema::new(object, properties))
}

/// A HubSpot property definition in core's terms.
fn schema_property(
    d: turris_hubspot::crm::properties::PropertyDefinition,
) -> turris_core::property::PropertyDefinition {
    use turris_core::property::{PropertyOption, PropertyType};
    let property_type = match d.kind.as_str() {
        "string" => PropertyType::String,
        "number" => PropertyType::Number,
        "date" => PropertyType::Date,
        "datetime" => PropertyType::DateTime,
        "enumeration" => PropertyType::Enumeration,
        "bool" => PropertyType::Bool,
        "phone_number" => PropertyType::PhoneNumber,
        _ => PropertyType::Other,
    };
    turris_core::property::PropertyDefinition {
        name: d.name,
        label: d.label,
        property_type,
        field_type: d.field_type,
        hubspot_defined: d.hubspot_defined,
        options: d
            .options
            .into_iter()
            .map(|o| PropertyOption {
                label: o.label,
                value: o.value,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use turris_core::property::PropertyType;

    use super::*;

    #[test]
    fn hubspot_property_definitions_become_cores_with_their_types_and_options() {
        let wire = |json: &str| -> turris_hubspot::crm::properties::PropertyDefinition {
            serde_json::from_str(json).unwrap()
        };
        let standard = schema_property(wire(
            r#"{"name":"closedate","label":"Close date","type":"datetime","fieldType":"date",
                "hubspotDefined":true,"options":[{"label":"A","value":"a"}]}"#,
        ));
        assert_eq!(standard.property_type, PropertyType::DateTime);
        assert_eq!(standard.field_type, "date");
        assert!(standard.hubspot_defined);
        assert_eq!(standard.options[0].value, "a");
        let custom = schema_property(wire(
            r#"{"name":"agency_npn","label":"Agency NPN","type":"string","fieldType":"text"}"#,
        ));
        assert!(!custom.hubspot_defined);
        assert_eq!(custom.property_type, PropertyType::String);
        let odd = schema_property(wire(r#"{"name":"geo","type":"object_coordinates"}"#));
        assert_eq!(odd.property_type, PropertyType::Other);
    }
}
