//! `/api/v1/integrations`: the cards, HubSpot connect (OAuth and private app), reconnect,
//! delete, properties, mapping, sync matrix, invitations, activity and webhook status.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::activity::{ActivityCursor, ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::integration::{
    Connection, ConnectionStatus, IntegrationSettings, SubscriptionManagement, WebhookStatus,
};
use turris_core::invitation::{InvitationSettings, ensure_configurable};
use turris_core::mapping::{MappingSettings, RecordMapping};
use turris_core::matrix::{Direction, MissingPrerequisites, SyncMatrix, SyncObject};
use turris_core::property::{ObjectSchema, ObjectType};
use utoipa::{IntoParams, ToSchema};

use super::Routes;
use super::extract::{Json, Query};
use super::pagination::PageParams;
use crate::app::AppState;
use crate::auth::{
    Authorized, IntegrationsCreate, IntegrationsDelete, IntegrationsRead, IntegrationsUpdate,
};
use crate::crypto::SecretString;
use crate::error::{ApiError, ApiResult};
use crate::hubspot::{self, ConnectionError};
use crate::store::{Conflict, HubSpotAuth, HubSpotCredentials, StateConsumed, UserId};

/// Why the OAuth flow was started. The purpose rides on the `state` HubSpot hands back (a
/// suffix after the random part), so a reconnect callback replaces only the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OAuthPurpose {
    Connect,
    Reconnect,
}

const RECONNECT_SUFFIX: &str = ".reconnect";

/// What the card says about HubSpot.
pub const HUBSPOT_DESCRIPTION: &str =
    "Sync your agency relationships, agency contacts, and agents between Turris and HubSpot.";

/// The reminder answered when the integration is deleted.
pub const DELETE_REMINDER: &str = "Deleting the integration in Turris does not remove the Turris app from your HubSpot account. To finish the cleanup, open HubSpot and go to HubSpot → Settings → Integrations → Connected Apps and remove the Turris app there.";

const BASE: &str = "/api/v1/integrations";

/// The integrations routes.
pub fn routes() -> Routes {
    let p = |suffix: &str| format!("{BASE}{suffix}");
    Routes::new()
        .get(&p(""), list_cards)
        .get(&p("/hubspot"), get_hubspot)
        .delete(&p("/hubspot"), delete_hubspot)
        .post(&p("/hubspot/connect"), connect)
        .get(&p("/hubspot/callback"), callback)
        .post(&p("/hubspot/private-app"), connect_private_app)
        .post(&p("/hubspot/reconnect"), reconnect)
        .post(&p("/hubspot/private-app/reconnect"), reconnect_private_app)
        .get(&p("/hubspot/properties"), properties)
        .get(&p("/hubspot/mapping"), get_mapping)
        .put(&p("/hubspot/mapping"), put_mapping)
        .get(&p("/hubspot/sync"), get_sync)
        .put(&p("/hubspot/sync"), put_sync)
        .get(&p("/hubspot/invitations"), get_invitations)
        .put(&p("/hubspot/invitations"), put_invitations)
        .get(&p("/hubspot/activity"), activity)
        .get(&p("/hubspot/webhook-status"), webhook_status)
}

// ---------------------------------------------------------------------------------------------
// Cards and the management view

/// What the card's button does.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardAction {
    /// Start the OAuth flow.
    Connect,
    /// Open the management view.
    Manage,
}

/// An integration card.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationCard {
    /// `hubspot`.
    pub provider: &'static str,
    /// `HubSpot`.
    pub name: &'static str,
    /// One line about the integration.
    pub description: &'static str,
    /// `connected`, `not_connected` or `error`.
    #[schema(value_type = String, example = "connected")]
    pub status: ConnectionStatus,
    /// `connect` or `manage`.
    pub action: CardAction,
}

/// The card grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationCards {
    /// One card per provider.
    pub integrations: Vec<IntegrationCard>,
}

async fn load(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
) -> ApiResult<IntegrationSettings> {
    Ok(state.db().load_settings(org).await?.unwrap_or_default())
}

/// The integration cards.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations",
    responses((status = 200, body = IntegrationCards), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_cards(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<IntegrationCards>> {
    let settings = load(&state, auth.org()).await?;
    let status = settings.connection.status;
    Ok(Json(IntegrationCards {
        integrations: vec![IntegrationCard {
            provider: "hubspot",
            name: "HubSpot",
            description: HUBSPOT_DESCRIPTION,
            status,
            action: match status {
                ConnectionStatus::NotConnected => CardAction::Connect,
                ConnectionStatus::Connected | ConnectionStatus::Error => CardAction::Manage,
            },
        }],
    }))
}

/// The HubSpot connection as the management view shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HubSpotView {
    /// `connected`, `not_connected` or `error`.
    #[schema(value_type = String)]
    pub status: ConnectionStatus,
    /// The portal, once connected.
    pub portal_id: Option<u64>,
    /// `oauth` or `private_app`, once connected.
    pub auth: Option<&'static str>,
    /// When the connection was (re)established.
    pub connected_at: Option<DateTime<Utc>>,
    /// Why the status is `error`.
    pub error: Option<String>,
    /// Whether the agency identifier is configured (green gear) or not (amber warning).
    pub agency_identifier_configured: bool,
    /// The warning the mapping card shows, if any.
    pub mapping_warning: Option<&'static str>,
    /// What each sync toggle still needs before it can be turned on (the toggle's tooltip):
    /// `{"path": "agency.inbound", "message": "agency identifier is not configured"}`.
    pub sync_prerequisites: Vec<crate::error::ErrorDetail>,
    /// Why the agency invitations section is locked, while agency inbound sync is off.
    pub invitations_locked: Option<&'static str>,
    /// While HubSpot's daily API limit for the portal is spent: when sync resumes. Inbound
    /// events, outbound pushes and reconciliations wait (nothing is lost) until then.
    pub sync_paused_until: Option<DateTime<Utc>>,
}

/// The HubSpot integration's management view.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot", tag = "integrations",
    responses((status = 200, body = HubSpotView), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_hubspot(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<HubSpotView>> {
    let settings = load(&state, auth.org()).await?;
    let credentials = state.db().hubspot_credentials(auth.org()).await?;
    let configured = settings.mapping.agency.has_identifier();
    let sync_paused_until = match &credentials {
        Some(c) => hubspot::daily_limit(&state, auth.org(), c.portal_id).await?,
        None => None,
    };
    Ok(Json(HubSpotView {
        status: settings.connection.status,
        portal_id: settings.connection.portal_id,
        auth: credentials.map(|c| match c.auth {
            HubSpotAuth::OAuth { .. } => "oauth",
            HubSpotAuth::PrivateApp { .. } => "private_app",
        }),
        connected_at: settings.connection.connected_at,
        error: settings.connection.error.clone(),
        agency_identifier_configured: configured,
        mapping_warning: (!configured)
            .then_some("Configure the Agency Identifier to enable HubSpot → Turris sync."),
        sync_prerequisites: sync_prerequisites(&settings),
        invitations_locked: ensure_configurable(&settings.matrix)
            .err()
            .map(|locked| locked.explanation()),
        sync_paused_until,
    }))
}

/// For each toggle that is off, what it needs before it can be turned on.
fn sync_prerequisites(settings: &IntegrationSettings) -> Vec<crate::error::ErrorDetail> {
    let mut details = Vec::new();
    for object in SyncObject::ALL {
        for direction in [Direction::Inbound, Direction::Outbound] {
            if settings.matrix.is_enabled(object, direction) {
                continue;
            }
            let path = format!("{}.{}", object.as_str(), direction_str(direction));
            for missing in
                settings
                    .matrix
                    .missing_prerequisites(object, direction, &settings.mapping)
            {
                details.push(crate::error::ErrorDetail {
                    path: path.clone(),
                    message: missing.message().to_owned(),
                });
            }
        }
    }
    details
}

// ---------------------------------------------------------------------------------------------
// Connect, callback, private app, reconnect, delete

/// Where to send the browser to approve the connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeRedirect {
    /// HubSpot's authorize page, with a single-use `state` valid 10 minutes.
    pub authorize_url: String,
    /// When the `state` expires.
    pub expires_at: DateTime<Utc>,
}

fn not_connected() -> ApiError {
    ApiError::conflict("not_connected", "hubspot is not connected")
}

fn already_connected() -> ApiError {
    crate::error::conflict_error(Conflict::AlreadyConnected)
}

async fn start_oauth(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    user: UserId,
    purpose: OAuthPurpose,
) -> ApiResult<AuthorizeRedirect> {
    let oauth = state.oauth().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "oauth_not_configured",
            "HubSpot OAuth is not configured on this server (client id and secret); connect with a private-app token instead",
        )
    })?;
    let issued = state.db().create_oauth_state(org, user, Utc::now()).await?;
    let text = match purpose {
        OAuthPurpose::Connect => issued.state.expose().to_owned(),
        OAuthPurpose::Reconnect => format!("{}{RECONNECT_SUFFIX}", issued.state.expose()),
    };
    let url = oauth.authorize_url(turris_hubspot::auth::oauth::SYNC_SCOPES, &[], &text);
    Ok(AuthorizeRedirect {
        authorize_url: url.to_string(),
        expires_at: issued.expires_at,
    })
}

/// Starts the OAuth flow: the authorize URL with a fresh `state`. 409 while connected.
#[utoipa::path(post, path = "/api/v1/integrations/hubspot/connect", tag = "integrations",
    responses((status = 200, body = AuthorizeRedirect), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Already connected", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn connect(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsCreate>,
) -> ApiResult<Json<AuthorizeRedirect>> {
    if state.db().hubspot_credentials(auth.org()).await?.is_some() {
        return Err(already_connected());
    }
    let redirect = start_oauth(&state, auth.org(), auth.caller.user, OAuthPurpose::Connect).await?;
    Ok(Json(redirect))
}

/// Starts the OAuth flow again to replace the tokens (mapping, sync, invitations and links stay).
#[utoipa::path(post, path = "/api/v1/integrations/hubspot/reconnect", tag = "integrations",
    responses((status = 200, body = AuthorizeRedirect), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reconnect(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
) -> ApiResult<Json<AuthorizeRedirect>> {
    if state.db().hubspot_credentials(auth.org()).await?.is_none() {
        return Err(not_connected());
    }
    let redirect = start_oauth(
        &state,
        auth.org(),
        auth.caller.user,
        OAuthPurpose::Reconnect,
    )
    .await?;
    Ok(Json(redirect))
}

/// What HubSpot sends back to the redirect URL.
#[derive(Deserialize, IntoParams)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` from the authorize URL.
    pub state: Option<String>,
    /// Set when the user declined.
    pub error: Option<String>,
    /// HubSpot's explanation of `error`.
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code and state are bearer secrets until used.
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// The connection after a successful callback.
#[derive(Debug, Serialize, ToSchema)]
pub struct Connected {
    /// `connected`.
    #[schema(value_type = String)]
    pub status: ConnectionStatus,
    /// The HubSpot portal.
    pub portal_id: u64,
}

fn state_error(e: StateConsumed) -> ApiError {
    let (code, message) = match e {
        StateConsumed::Valid { .. } | StateConsumed::Unknown => (
            "invalid_state",
            "this connection attempt is unknown; start again from the Connect button",
        ),
        StateConsumed::AlreadyUsed => (
            "state_already_used",
            "this connection attempt was already completed; start again from the Connect button",
        ),
        StateConsumed::Expired => (
            "state_expired",
            "this connection attempt expired (it is valid for 10 minutes); start again from the Connect button",
        ),
    };
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// The OAuth redirect target: checks `state`, exchanges the code, looks up the portal,
/// stores the tokens encrypted and records the activity.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/callback", tag = "integrations",
    params(CallbackParams),
    responses((status = 200, body = Connected),
        (status = 400, description = "Unknown, reused or expired state, or a declined approval", body = crate::error::ErrorBody),
        (status = 409, description = "Already connected, or the portal is connected elsewhere", body = crate::error::ErrorBody),
        (status = 502, description = "HubSpot refused the code", body = crate::error::ErrorBody)))]
pub async fn callback(
    State(state): State<AppState>,
    Query(params): Query<CallbackParams>,
) -> ApiResult<Json<Connected>> {
    let text = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_field("state", "state is required"))?;
    let (base, purpose) = match text.strip_suffix(RECONNECT_SUFFIX) {
        Some(base) => (base, OAuthPurpose::Reconnect),
        None => (text, OAuthPurpose::Connect),
    };
    let org = match state.db().consume_oauth_state(base, Utc::now()).await? {
        StateConsumed::Valid { organization, .. } => organization,
        other => return Err(state_error(other)),
    };
    if let Some(error) = params.error.as_deref() {
        tracing::info!(error, "hubspot authorization was declined");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "authorization_declined",
            format!(
                "HubSpot did not authorize the connection ({})",
                params.error_description.as_deref().unwrap_or(error)
            ),
        ));
    }
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid_field("code", "code is required"))?;
    let oauth = state
        .oauth()
        .ok_or_else(|| ApiError::hubspot("HubSpot OAuth is not configured on this server"))?;
    let existing = state.db().hubspot_credentials(&org).await?;
    match (purpose, &existing) {
        (OAuthPurpose::Connect, Some(_)) => return Err(already_connected()),
        (OAuthPurpose::Reconnect, None) => return Err(not_connected()),
        _ => {}
    }
    let tokens = oauth.exchange_code(code).await.map_err(|e| {
        tracing::warn!(error = %e, "hubspot code exchange failed");
        ApiError::hubspot(
            "HubSpot refused the authorization code; start again from the Connect button",
        )
    })?;
    let info = oauth.introspect(&tokens.access_token).await.map_err(|e| {
        tracing::warn!(error = %e, "hubspot token introspection failed");
        ApiError::hubspot("HubSpot did not say which portal the token belongs to")
    })?;
    let portal_id = info.hub_id.ok_or_else(|| {
        ApiError::hubspot("HubSpot did not say which portal the token belongs to")
    })?;
    if let Some(existing) = &existing
        && existing.portal_id != portal_id
    {
        return Err(ApiError::conflict(
            "portal_mismatch",
            format!(
                "reconnect must use the connected portal {}; delete the integration to connect portal {portal_id}",
                existing.portal_id
            ),
        ));
    }
    let now = Utc::now();
    let credentials = HubSpotCredentials {
        portal_id,
        app_id: info.app_id.or(state.config().hubspot.app_id),
        auth: HubSpotAuth::OAuth {
            access_token: SecretString::new(tokens.access_token.expose()),
            refresh_token: SecretString::new(tokens.refresh_token.expose()),
            expires_at: tokens.expires_at,
        },
        connected_at: now,
        updated_at: now,
    };
    finish_connect(&state, &org, credentials, purpose).await?;
    Ok(Json(Connected {
        status: ConnectionStatus::Connected,
        portal_id,
    }))
}

/// Stores the credentials and marks the connection as connected, keeping the rest.
async fn finish_connect(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    credentials: HubSpotCredentials,
    purpose: OAuthPurpose,
) -> ApiResult<()> {
    let portal_id = credentials.portal_id;
    let now = Utc::now();
    match purpose {
        OAuthPurpose::Connect => state.db().connect_hubspot(org, &credentials).await?,
        OAuthPurpose::Reconnect => {
            state
                .db()
                .replace_hubspot_auth(org, &credentials.auth, now)
                .await?
        }
    }
    let mut settings = load(state, org).await?;
    settings.connection = Connection {
        status: ConnectionStatus::Connected,
        portal_id: Some(portal_id),
        connected_at: Some(now),
        error: None,
    };
    state.db().save_settings(org, &settings).await?;
    let message = match purpose {
        OAuthPurpose::Connect => format!("connected HubSpot portal {portal_id}"),
        OAuthPurpose::Reconnect => format!("reconnected HubSpot portal {portal_id}"),
    };
    state
        .db()
        .append_activity(
            org,
            &NewActivity::new(ActivityKind::ConnectHubSpot, Outcome::Success, now).with_details(
                ActivityDetails {
                    message: Some(message),
                    ..ActivityDetails::default()
                },
            ),
        )
        .await?;
    Ok(())
}

/// A private-app connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateAppConnect {
    /// The HubSpot portal (hub) id.
    pub portal_id: u64,
    /// The private app's access token (`pat-...`).
    #[schema(value_type = String)]
    pub token: SecretString,
}

/// A private-app token for reconnecting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateAppReconnect {
    /// The private app's new access token.
    #[schema(value_type = String)]
    pub token: SecretString,
}

fn connection_error(e: ConnectionError) -> ApiError {
    match e {
        ConnectionError::Rejected { .. } | ConnectionError::Revoked => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "hubspot_connection_lost",
            "HubSpot no longer accepts the stored credentials; reconnect the integration",
        ),
        e @ ConnectionError::DailyLimit { .. } => ApiError::hubspot(e.to_string()),
        ConnectionError::HubSpot(message) => ApiError::hubspot(message),
    }
}

/// A failed HubSpot call with the stored credentials: a lost connection flips the status to
/// `error` before answering.
async fn stored_credentials_failed(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    e: ConnectionError,
) -> ApiError {
    if e.is_connection_lost()
        && let Err(store) = hubspot::mark_connection_lost(state, org, &e).await
    {
        return store.into();
    }
    connection_error(e)
}

async fn check_private_app(
    state: &AppState,
    portal_id: u64,
    token: &SecretString,
) -> ApiResult<()> {
    if token.expose().trim().is_empty() {
        return Err(ApiError::invalid_field("token", "token is required"));
    }
    let details = hubspot::account_details(state, portal_id, token)
        .await
        .map_err(|e| match e {
            ConnectionError::Rejected { .. } | ConnectionError::Revoked => {
                ApiError::invalid_field("token", "HubSpot refused this token")
            }
            e @ ConnectionError::DailyLimit { .. } => ApiError::hubspot(e.to_string()),
            ConnectionError::HubSpot(message) => ApiError::hubspot(message),
        })?;
    if details.portal_id != portal_id {
        return Err(ApiError::invalid_field(
            "portal_id",
            format!(
                "the token belongs to portal {}, not {portal_id}",
                details.portal_id
            ),
        ));
    }
    Ok(())
}

/// Connects with a private-app token; the portal is checked with HubSpot's account details.
#[utoipa::path(post, path = "/api/v1/integrations/hubspot/private-app", tag = "integrations",
    request_body = PrivateAppConnect,
    responses((status = 200, body = Connected), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Already connected", body = crate::error::ErrorBody),
        (status = 422, description = "Wrong portal or token", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn connect_private_app(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsCreate>,
    Json(body): Json<PrivateAppConnect>,
) -> ApiResult<Json<Connected>> {
    if state.db().hubspot_credentials(auth.org()).await?.is_some() {
        return Err(already_connected());
    }
    check_private_app(&state, body.portal_id, &body.token).await?;
    let now = Utc::now();
    let credentials = HubSpotCredentials {
        portal_id: body.portal_id,
        app_id: None,
        auth: HubSpotAuth::PrivateApp { token: body.token },
        connected_at: now,
        updated_at: now,
    };
    finish_connect(&state, auth.org(), credentials, OAuthPurpose::Connect).await?;
    Ok(Json(Connected {
        status: ConnectionStatus::Connected,
        portal_id: body.portal_id,
    }))
}

/// Replaces a private-app connection's token (same portal; everything else stays).
#[utoipa::path(post, path = "/api/v1/integrations/hubspot/private-app/reconnect", tag = "integrations",
    request_body = PrivateAppReconnect,
    responses((status = 200, body = Connected), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 422, description = "The token belongs to another portal", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reconnect_private_app(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(body): Json<PrivateAppReconnect>,
) -> ApiResult<Json<Connected>> {
    let existing = state
        .db()
        .hubspot_credentials(auth.org())
        .await?
        .ok_or_else(not_connected)?;
    check_private_app(&state, existing.portal_id, &body.token).await?;
    let credentials = HubSpotCredentials {
        auth: HubSpotAuth::PrivateApp { token: body.token },
        updated_at: Utc::now(),
        ..existing.clone()
    };
    finish_connect(&state, auth.org(), credentials, OAuthPurpose::Reconnect).await?;
    Ok(Json(Connected {
        status: ConnectionStatus::Connected,
        portal_id: existing.portal_id,
    }))
}

/// The answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// `not_connected`.
    #[schema(value_type = String)]
    pub status: ConnectionStatus,
    /// The reminder to remove the app in HubSpot too.
    pub reminder: &'static str,
}

/// Deletes the integration: tokens, settings and links (Turris records stay).
#[utoipa::path(delete, path = "/api/v1/integrations/hubspot", tag = "integrations",
    responses((status = 200, body = Deleted), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_hubspot(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsDelete>,
) -> ApiResult<Json<Deleted>> {
    let org = auth.org();
    if !state.db().delete_integration(org).await? {
        return Err(not_connected());
    }
    tracing::info!(org = %org, "hubspot integration deleted");
    Ok(Json(Deleted {
        status: ConnectionStatus::NotConnected,
        reminder: DELETE_REMINDER,
    }))
}

// ---------------------------------------------------------------------------------------------
// Properties

/// `?refresh=true` refetches from HubSpot.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PropertiesParams {
    /// Refetch from HubSpot instead of answering from the cache.
    #[serde(default)]
    pub refresh: bool,
}

/// The cached company and contact properties.
#[derive(Debug, Serialize, ToSchema)]
pub struct Properties {
    /// Company properties.
    #[schema(value_type = Object)]
    pub companies: ObjectSchema,
    /// Contact properties.
    #[schema(value_type = Object)]
    pub contacts: ObjectSchema,
}

/// The cached schemas, fetching what is missing (or everything on `refresh`).
pub(crate) async fn schemas(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    refresh: bool,
) -> ApiResult<(ObjectSchema, ObjectSchema)> {
    let settings = load(state, org).await?;
    let cached = (
        settings.property_schema(ObjectType::Company).cloned(),
        settings.property_schema(ObjectType::Contact).cloned(),
    );
    if let (Some(companies), Some(contacts), false) = (cached.0.clone(), cached.1.clone(), refresh)
    {
        return Ok((companies, contacts));
    }
    let credentials = state
        .db()
        .hubspot_credentials(org)
        .await?
        .ok_or_else(not_connected)?;
    let client = match hubspot::client(state, org, &credentials) {
        Ok(client) => client,
        Err(e) => return Err(connection_error(e)),
    };
    let mut fetched = Vec::new();
    for (object, cache) in [
        (ObjectType::Company, cached.0),
        (ObjectType::Contact, cached.1),
    ] {
        let schema = match cache {
            Some(schema) if !refresh => schema,
            _ => {
                let schema = match hubspot::fetch_schema(&client, object).await {
                    Ok(schema) => schema,
                    Err(e) => return Err(stored_credentials_failed(state, org, e).await),
                };
                state.db().save_property_schema(org, &schema).await?;
                schema
            }
        };
        fetched.push(schema);
    }
    let contacts = fetched.pop().expect("two schemas");
    let companies = fetched.pop().expect("two schemas");
    Ok((companies, contacts))
}

/// Company and contact properties (cached; `?refresh=true` refetches).
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/properties", tag = "integrations",
    params(PropertiesParams),
    responses((status = 200, body = Properties), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 502, description = "HubSpot failed", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn properties(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
    Query(params): Query<PropertiesParams>,
) -> ApiResult<Json<Properties>> {
    let (companies, contacts) = schemas(&state, auth.org(), params.refresh).await?;
    Ok(Json(Properties {
        companies,
        contacts,
    }))
}

// ---------------------------------------------------------------------------------------------
// Mapping, sync matrix, invitations

fn require_connected(settings: &IntegrationSettings) -> ApiResult<()> {
    match settings.connection.status {
        ConnectionStatus::NotConnected => Err(not_connected()),
        ConnectionStatus::Connected | ConnectionStatus::Error => Ok(()),
    }
}

/// The field mapping.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/mapping", tag = "integrations",
    responses((status = 200, description = "The agency and agent mapping", body = doc::Mapping),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_mapping(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<MappingSettings>> {
    Ok(Json(load(&state, auth.org()).await?.mapping))
}

fn missing_for_enabled(
    matrix: &SyncMatrix,
    mapping: &MappingSettings,
) -> Vec<turris_core::FieldError> {
    let mut missing = Vec::new();
    for object in SyncObject::ALL {
        for direction in [Direction::Inbound, Direction::Outbound] {
            if matrix.is_enabled(object, direction) {
                let m = matrix.missing_prerequisites(object, direction, mapping);
                if !m.is_empty() {
                    missing.extend(MissingPrerequisites { missing: m }.field_errors());
                }
            }
        }
    }
    missing
}

/// Saves the field mapping; every problem is a 422 with its path (`agency.identifier.value`).
/// Changes never rewrite existing records.
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/mapping", tag = "integrations",
    request_body = doc::Mapping,
    responses((status = 200, description = "The saved mapping", body = doc::Mapping),
        (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid mapping", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_mapping(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(mapping): Json<MappingSettings>,
) -> ApiResult<Json<MappingSettings>> {
    let settings = load(&state, auth.org()).await?;
    require_connected(&settings)?;
    let (companies, contacts) = schemas(&state, auth.org(), false).await?;
    let mut errors = mapping.validate(&companies, &contacts);
    errors.extend(missing_for_enabled(&settings.matrix, &mapping));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    // Reload: fetching schemas may have updated the cache.
    let mut settings = load(&state, auth.org()).await?;
    settings.mapping = mapping;
    state.db().save_settings(auth.org(), &settings).await?;
    Ok(Json(settings.mapping))
}

/// The ongoing-sync matrix.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/sync", tag = "integrations",
    responses((status = 200, description = "The matrix", body = doc::SyncMatrix),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_sync(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<SyncMatrix>> {
    Ok(Json(load(&state, auth.org()).await?.matrix))
}

/// Saves the matrix. Turning a toggle on checks its prerequisites (422 naming each missing
/// piece); turning one off is always allowed.
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/sync", tag = "integrations",
    request_body = doc::SyncMatrix,
    responses((status = 200, description = "The saved matrix", body = doc::SyncMatrix),
        (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 422, description = "Missing prerequisites", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_sync(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(wanted): Json<SyncMatrix>,
) -> ApiResult<Json<SyncMatrix>> {
    let mut settings = load(&state, auth.org()).await?;
    let turning_on = SyncObject::ALL.into_iter().flat_map(|o| {
        [Direction::Inbound, Direction::Outbound]
            .into_iter()
            .map(move |d| (o, d))
    });
    let turning_on: Vec<_> = turning_on
        .filter(|&(o, d)| wanted.is_enabled(o, d) && !settings.matrix.is_enabled(o, d))
        .collect();
    if !turning_on.is_empty() {
        require_connected(&settings)?;
    }
    let mut next = SyncMatrix::default();
    // Off first, then agency before the columns that depend on it.
    let mut errors = Vec::new();
    for object in SyncObject::ALL {
        for direction in [Direction::Inbound, Direction::Outbound] {
            if !wanted.is_enabled(object, direction) {
                continue;
            }
            if let Err(missing) = next.enable(object, direction, &settings.mapping) {
                let path = format!("{}.{}", object.as_str(), direction_str(direction));
                errors.extend(
                    missing
                        .missing
                        .iter()
                        .map(|p| turris_core::FieldError::new(path.clone(), p.message())),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    settings.matrix = next;
    state.db().save_settings(auth.org(), &settings).await?;
    Ok(Json(settings.matrix))
}

fn direction_str(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// Auto-invite settings.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/invitations", tag = "integrations",
    responses((status = 200, description = "The auto-invite settings", body = doc::Invitations),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_invitations(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<InvitationSettings>> {
    Ok(Json(load(&state, auth.org()).await?.invitations))
}

/// Saves the auto-invite settings: 409 while agency inbound sync is off, 422 with paths for
/// invalid conditions or unknown contract templates.
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/invitations", tag = "integrations",
    request_body = doc::Invitations,
    responses((status = 200, description = "The saved settings", body = doc::Invitations),
        (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Agency inbound sync is off", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid settings", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_invitations(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(invitations): Json<InvitationSettings>,
) -> ApiResult<Json<InvitationSettings>> {
    let settings = load(&state, auth.org()).await?;
    if let Err(locked) = ensure_configurable(&settings.matrix) {
        return Err(ApiError::conflict(
            "invitations_locked",
            locked.explanation(),
        ));
    }
    let (companies, _) = schemas(&state, auth.org(), false).await?;
    let mut errors = invitations.validate(&companies);
    let templates = invitations
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.template
                .as_ref()
                .map(|t| (format!("rules[{i}].template"), t))
        })
        .chain(
            invitations
                .default_template
                .as_ref()
                .map(|t| ("default_template".to_owned(), t)),
        );
    for (path, template) in templates {
        if state
            .db()
            .contract_template(auth.org(), template)
            .await?
            .is_none()
        {
            errors.push(turris_core::FieldError::new(
                path,
                format!("contract template {template} does not exist"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut settings = load(&state, auth.org()).await?;
    settings.invitations = invitations;
    state.db().save_settings(auth.org(), &settings).await?;
    Ok(Json(settings.invitations))
}

// ---------------------------------------------------------------------------------------------
// Activity and webhook status

/// One activity entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityEntry {
    /// Its id.
    pub id: u64,
    /// The kind (`create_company`, ...).
    #[schema(value_type = String)]
    pub kind: ActivityKind,
    /// The seed's title (`Create company in HubSpot`).
    pub title: &'static str,
    /// `inbound`, `outbound` or `internal`.
    #[schema(value_type = String)]
    pub direction: turris_core::activity::ActivityDirection,
    /// `success`, `failure` or `skipped`.
    #[schema(value_type = String)]
    pub status: Outcome,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// HubSpot status, error category, message, skip reason, Turris id, HubSpot id.
    #[schema(value_type = Object)]
    pub details: ActivityDetails,
}

/// A page of activity, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    /// The entries.
    pub entries: Vec<ActivityEntry>,
    /// Pass as `cursor` for the next (older) page; `null` at the end of history.
    pub next_cursor: Option<String>,
}

/// Recent activity, newest first, in cursor pages.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/activity", tag = "integrations",
    params(PageParams),
    responses((status = 200, body = ActivityList), (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn activity(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<ActivityList>> {
    let cursor = page
        .cursor
        .as_deref()
        .map(ActivityCursor::parse)
        .transpose()
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "the cursor is not valid",
            )
        })?;
    let result = state
        .db()
        .activity_page(auth.org(), cursor.as_ref(), page.limit())
        .await?;
    Ok(Json(ActivityList {
        entries: result
            .entries
            .into_iter()
            .map(|a| ActivityEntry {
                id: a.id.0,
                kind: a.entry.kind,
                title: a.entry.kind.title(),
                direction: a.entry.direction,
                status: a.entry.outcome,
                at: a.entry.at,
                details: a.entry.details,
            })
            .collect(),
        next_cursor: result.next.map(|c| c.as_str().to_owned()),
    }))
}

/// One mapped property's inbound webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyWebhookStatus {
    /// `company` or `contact`.
    #[schema(value_type = String)]
    pub object: ObjectType,
    /// The HubSpot property.
    pub property: String,
    /// `pending` until HubSpot confirms the subscription, then `live`; `managed_in_hubspot`
    /// for a private-app connection, whose subscriptions only an admin can create, in HubSpot.
    #[schema(value_type = String, example = "pending")]
    pub status: WebhookStatus,
    /// What to do, when it is up to a person (`managed_in_hubspot`).
    pub message: Option<String>,
}

/// Per-property webhook status of inbound-enabled objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookStatusList {
    /// One entry per mapped property of each inbound-enabled object.
    pub properties: Vec<PropertyWebhookStatus>,
}

/// The webhook status of each mapped property of inbound-enabled objects.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/webhook-status", tag = "integrations",
    responses((status = 200, body = WebhookStatusList), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn webhook_status(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<WebhookStatusList>> {
    let settings = load(&state, auth.org()).await?;
    // Private apps manage webhooks in HubSpot's UI only: HubSpot offers no API for them.
    let management = match state.db().hubspot_credentials(auth.org()).await? {
        Some(c) if matches!(c.auth, HubSpotAuth::PrivateApp { .. }) => {
            SubscriptionManagement::HubSpotUi
        }
        _ => SubscriptionManagement::Api,
    };
    let target = format!(
        "{}/hooks/hubspot",
        state.config().public_base_url.trim_end_matches('/')
    );
    let properties = settings
        .required_subscriptions()
        .into_iter()
        .map(|(object, property)| {
            let status = settings.webhook_status(object, &property, management);
            let message = (status == WebhookStatus::ManagedInHubspot).then(|| {
                let object_name = match object {
                    ObjectType::Company => "company",
                    ObjectType::Contact => "contact",
                };
                format!(
                    "private apps manage webhooks in HubSpot only: in the private app's \
                     Webhooks tab, set the target URL to {target} and subscribe to \
                     {object_name}.propertyChange for {property}"
                )
            });
            PropertyWebhookStatus {
                object,
                property,
                status,
                message,
            }
        })
        .collect();
    Ok(Json(WebhookStatusList { properties }))
}

/// OpenAPI schemas of the bodies core's types read and write (core has no utoipa).
#[allow(dead_code)]
pub mod doc {
    use utoipa::ToSchema;

    /// `{"mode": "sync_all"}` or `{"mode": "apply_filter", "property", "operator", "value"}`
    /// (`"values": [...]` for `is_one_of`). Comparisons are case- and whitespace-sensitive.
    #[derive(ToSchema)]
    #[schema(as = IdentifierFilter)]
    pub struct IdentifierFilter {
        /// `sync_all` or `apply_filter`.
        #[schema(example = "apply_filter")]
        mode: String,
        /// A text, enumeration or boolean property of the object.
        property: Option<String>,
        /// `equals`, `is_populated`, `is_not_populated`, `is_one_of`, `contains`, `is_a_number`.
        operator: Option<String>,
        /// For `equals` and `contains`.
        value: Option<String>,
        /// For `is_one_of`.
        values: Option<Vec<String>>,
    }

    /// A property condition (invitation filters and contract rules).
    #[derive(ToSchema)]
    #[schema(as = Condition)]
    pub struct Condition {
        /// A company property.
        property: Option<String>,
        /// The operator, as in [`IdentifierFilter`].
        operator: Option<String>,
        /// For `equals` and `contains`.
        value: Option<String>,
        /// For `is_one_of`.
        values: Option<Vec<String>>,
    }

    /// HubSpot company property per agency field; a missing field is unmapped.
    #[derive(ToSchema)]
    #[schema(as = AgencyMapping)]
    pub struct AgencyMapping {
        /// Which companies are agencies (required).
        identifier: Option<IdentifierFilter>,
        /// Agency name (required, default `name`).
        name: Option<String>,
        /// Branch name.
        branch_name: Option<String>,
        /// NPN.
        npn: Option<String>,
        /// Producer code.
        producer_code: Option<String>,
        /// Website.
        website: Option<String>,
        /// Phone.
        phone: Option<String>,
        /// Street address.
        street_address: Option<String>,
        /// City.
        city: Option<String>,
        /// State code.
        state_code: Option<String>,
        /// ZIP.
        zip: Option<String>,
        /// Country.
        country: Option<String>,
    }

    /// HubSpot contact property per agent field.
    #[derive(ToSchema)]
    #[schema(as = AgentMapping)]
    pub struct AgentMapping {
        /// Which contacts are agents (required).
        identifier: Option<IdentifierFilter>,
        /// First name (required, default `firstname`).
        first_name: Option<String>,
        /// Last name (required, default `lastname`).
        last_name: Option<String>,
        /// Email (default `email`).
        email: Option<String>,
        /// NPN.
        npn: Option<String>,
        /// Middle name.
        middle_name: Option<String>,
    }

    /// The field mapping. Unknown fields are refused; changes never rewrite existing records.
    #[derive(ToSchema)]
    #[schema(as = Mapping)]
    pub struct Mapping {
        /// Companies ↔ agencies.
        agency: AgencyMapping,
        /// Contacts ↔ agents (optional).
        agent: Option<AgentMapping>,
    }

    /// One column of the matrix.
    #[derive(ToSchema)]
    #[schema(as = Toggles)]
    pub struct Toggles {
        /// HubSpot → Turris.
        inbound: bool,
        /// Turris → HubSpot.
        outbound: bool,
    }

    /// The ongoing-sync matrix; omitted toggles are off.
    #[derive(ToSchema)]
    #[schema(as = SyncMatrix)]
    pub struct SyncMatrix {
        /// Companies ↔ agencies.
        agency: Option<Toggles>,
        /// Contacts ↔ agency contacts.
        agency_contacts: Option<Toggles>,
        /// Contacts ↔ agents.
        agents: Option<Toggles>,
    }

    /// A contract rule: the first whose condition matches picks the template.
    #[derive(ToSchema)]
    #[schema(as = ContractRule)]
    pub struct ContractRule {
        /// The condition on the company.
        condition: Condition,
        /// A contract template id.
        template: Option<String>,
    }

    /// Auto-invite settings.
    #[derive(ToSchema)]
    #[schema(as = Invitations)]
    pub struct Invitations {
        /// `do_not_invite` (default), `invite_all` or `apply_filter`.
        #[schema(example = "invite_all")]
        mode: String,
        /// With `apply_filter` only.
        condition: Option<Condition>,
        /// Ordered contract rules.
        rules: Vec<ContractRule>,
        /// The template when no rule matches; without it the agency needs attention.
        default_template: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_values_holding_secrets_print_redacted() {
        let connect = PrivateAppConnect {
            portal_id: 1,
            token: SecretString::new("pat-na1-secret-value"),
        };
        let callback = CallbackParams {
            code: Some("one-time-code".into()),
            state: Some("state-value".into()),
            error: None,
            error_description: None,
        };
        let debug = format!("{connect:?} {callback:?}");
        for secret in ["pat-na1-secret-value", "one-time-code", "state-value"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn missing_prerequisites_of_enabled_toggles_are_named() {
        let mut matrix = SyncMatrix::default();
        matrix.agents.inbound = true;
        let errors = missing_for_enabled(&matrix, &MappingSettings::default());
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["agent.identifier", "agent.first_name", "agent.last_name"]
        );
    }
}
