//! Connecting HubSpot: OAuth (connect, callback, reconnect), the private app, and delete.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::integration::{Connection, ConnectionStatus};
use utoipa::{IntoParams, ToSchema};

use super::{DELETE_REMINDER, OAuthPurpose, RECONNECT_SUFFIX, load};
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsCreate, IntegrationsDelete, IntegrationsUpdate};
use crate::crypto::SecretString;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::hubspot::{self, ConnectionError};
use crate::store::{Conflict, HubSpotAuth, HubSpotCredentials, StateConsumed, UserId};

/// Where to send the browser to approve the connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeRedirect {
    /// HubSpot's authorize page, with a single-use `state` valid 10 minutes.
    pub authorize_url: String,
    /// When the `state` expires.
    pub expires_at: DateTime<Utc>,
}

pub(super) fn not_connected() -> ApiError {
    ApiError::conflict("not_connected", "hubspot is not connected")
}

pub(super) fn already_connected() -> ApiError {
    crate::error::conflict_error(Conflict::AlreadyConnected)
}

impl OAuthPurpose {
    /// Refuses a connect while connected, and a reconnect while not connected.
    fn check(self, connected: bool) -> ApiResult<()> {
        match (self, connected) {
            (OAuthPurpose::Connect, true) => Err(already_connected()),
            (OAuthPurpose::Reconnect, false) => Err(not_connected()),
            _ => Ok(()),
        }
    }
}

/// Starts the OAuth flow for `purpose` (checked against the current connection).
pub(super) async fn start_oauth(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    user: UserId,
    purpose: OAuthPurpose,
) -> ApiResult<AuthorizeRedirect> {
    purpose.check(state.db().hubspot_credentials(org).await?.is_some())?;
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
    let url = oauth.authorize_url(
        turris_hubspot::auth::oauth::SYNC_SCOPES,
        turris_hubspot::auth::oauth::OPTIONAL_SYNC_SCOPES,
        &text,
    );
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
    let redirect = start_oauth(&state, auth.org(), auth.caller.user, OAuthPurpose::Connect);
    Ok(Json(redirect.await?))
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
    let redirect = start_oauth(
        &state,
        auth.org(),
        auth.caller.user,
        OAuthPurpose::Reconnect,
    );
    Ok(Json(redirect.await?))
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
    pub status: ConnectionStatus,
    /// The HubSpot portal.
    pub portal_id: u64,
}

pub(super) fn state_error(e: StateConsumed) -> ApiError {
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

/// The code of the callback exchanged for tokens, and what the token says of itself.
async fn exchange(
    oauth: &turris_hubspot::auth::OAuthClient,
    code: &str,
) -> ApiResult<(
    turris_hubspot::auth::TokenSet,
    turris_hubspot::auth::IntrospectionResponse,
)> {
    let tokens = oauth.exchange_code(code).await.map_err(|e| {
        tracing::warn!(error = %crate::hubspot::Upstream(&e), "hubspot code exchange failed");
        ApiError::hubspot(
            "HubSpot refused the authorization code; start again from the Connect button",
        )
    })?;
    let info = oauth.introspect(&tokens.access_token).await.map_err(|e| {
        tracing::warn!(error = %crate::hubspot::Upstream(&e), "hubspot token introspection failed");
        ApiError::hubspot("HubSpot did not say which portal the token belongs to")
    })?;
    Ok((tokens, info))
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
    let (org, user) = match state.db().consume_oauth_state(base, Utc::now()).await? {
        StateConsumed::Valid { organization, user } => (organization, user),
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
    purpose.check(existing.is_some())?;
    let (tokens, info) = exchange(oauth, code).await?;
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
    finish_connect(&state, &org, Some(user), credentials, purpose).await?;
    Ok(Json(Connected {
        status: ConnectionStatus::Connected,
        portal_id,
    }))
}

/// Stores the credentials and marks the connection as connected, keeping the rest. `user` is
/// who connected (`None`: the server's environment did).
pub(crate) async fn finish_connect(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    user: Option<UserId>,
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
    let connected_by = match user {
        Some(user) => state
            .db()
            .user(org, user)
            .await?
            .map(|u| format!("{} <{}>", u.name, u.email)),
        None => Some("the server's environment (private app)".to_owned()),
    };
    let mut settings = load(state, org).await?;
    settings.connection = Connection {
        status: ConnectionStatus::Connected,
        portal_id: Some(portal_id),
        connected_at: Some(now),
        connected_by,
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
    /// The private app's client secret (Auth tab in HubSpot), which signs the webhooks the app
    /// sends; without it this organization's inbound webhooks are accepted only when signed
    /// with the server's own app secret.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<SecretString>,
}

/// A private-app token for reconnecting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateAppReconnect {
    /// The private app's new access token.
    #[schema(value_type = String)]
    pub token: SecretString,
    /// A new client secret for the app's webhooks; the stored one is kept when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<SecretString>,
}

/// A client secret given with a private-app token: blank is refused, not stored.
fn checked_webhook_secret(secret: Option<SecretString>) -> ApiResult<Option<SecretString>> {
    match secret {
        Some(s) if s.expose().trim().is_empty() => Err(ApiError::invalid_field(
            "webhook_secret",
            "the client secret is blank; leave it out or paste the app's client secret",
        )),
        other => Ok(other),
    }
}

pub(super) fn connection_error(e: ConnectionError) -> ApiError {
    match e {
        ConnectionError::Rejected { .. } | ConnectionError::Revoked => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "hubspot_connection_lost",
            "HubSpot no longer accepts the stored credentials; reconnect the integration",
        ),
        e @ ConnectionError::DailyLimit { .. } => ApiError::hubspot(e.to_string()),
        ConnectionError::HubSpot { message, .. } => ApiError::hubspot(message),
    }
}

/// A failed HubSpot call with the stored credentials: a lost connection flips the status to
/// `error` before answering.
pub(super) async fn stored_credentials_failed(
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

pub(crate) async fn check_private_app(
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
            ConnectionError::HubSpot { message, .. } => ApiError::hubspot(message),
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
    let webhook_secret = checked_webhook_secret(body.webhook_secret)?;
    check_private_app(&state, body.portal_id, &body.token).await?;
    let now = Utc::now();
    let credentials = HubSpotCredentials {
        portal_id: body.portal_id,
        app_id: None,
        auth: HubSpotAuth::PrivateApp {
            token: body.token,
            webhook_secret,
        },
        connected_at: now,
        updated_at: now,
    };
    let user = auth.caller.user;
    finish_connect(
        &state,
        auth.org(),
        Some(user),
        credentials,
        OAuthPurpose::Connect,
    )
    .await?;
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
    let webhook_secret = match checked_webhook_secret(body.webhook_secret)? {
        Some(secret) => Some(secret),
        None => existing.auth.webhook_secret().cloned(),
    };
    check_private_app(&state, existing.portal_id, &body.token).await?;
    let credentials = HubSpotCredentials {
        auth: HubSpotAuth::PrivateApp {
            token: body.token,
            webhook_secret,
        },
        updated_at: Utc::now(),
        ..existing.clone()
    };
    let user = auth.caller.user;
    finish_connect(
        &state,
        auth.org(),
        Some(user),
        credentials,
        OAuthPurpose::Reconnect,
    )
    .await?;
    Ok(Json(Connected {
        status: ConnectionStatus::Connected,
        portal_id: existing.portal_id,
    }))
}

/// The answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// `not_connected`.
    pub status: ConnectionStatus,
    /// The reminder to remove the app in HubSpot too.
    pub reminder: &'static str,
}

/// Deletes the integration: tokens, settings and links (Turris records stay). An OAuth
/// connection's refresh token is revoked at HubSpot first (best effort: a failure is logged
/// and the deletion goes on).
#[utoipa::path(delete, path = "/api/v1/integrations/hubspot", tag = "integrations",
    responses((status = 200, body = Deleted), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_hubspot(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsDelete>,
) -> ApiResult<Json<Deleted>> {
    let org = auth.org();
    if let (Some(oauth), Some(credentials)) =
        (state.oauth(), state.db().hubspot_credentials(org).await?)
        && let HubSpotAuth::OAuth { refresh_token, .. } = &credentials.auth
    {
        let token = turris_hubspot::auth::Secret::new(refresh_token.expose());
        if let Err(e) = oauth.revoke(&token).await {
            tracing::warn!(org = %org, error = %crate::hubspot::Upstream(&e), "hubspot refresh token not revoked");
        }
    }
    if !state.db().delete_integration(org).await? {
        return Err(not_connected());
    }
    tracing::info!(org = %org, "hubspot integration deleted");
    Ok(Json(Deleted {
        status: ConnectionStatus::NotConnected,
        reminder: DELETE_REMINDER,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_values_holding_secrets_print_redacted() {
        let connect = PrivateAppConnect {
            portal_id: 1,
            token: SecretString::new("pat-na1-secret-value"),
            webhook_secret: Some(SecretString::new("client-secret-value")),
        };
        let callback = CallbackParams {
            code: Some("one-time-code".into()),
            state: Some("state-value".into()),
            error: None,
            error_description: None,
        };
        let debug = format!("{connect:?} {callback:?}");
        for secret in [
            "pat-na1-secret-value",
            "client-secret-value",
            "one-time-code",
            "state-value",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }
}
