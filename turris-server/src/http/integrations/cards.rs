//! The integration cards and the HubSpot management view.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use turris_core::integration::{ConnectionStatus, IntegrationSettings};
use turris_core::invitation::ensure_configurable;
use turris_core::mapping::RecordMapping;
use utoipa::ToSchema;

use super::HUBSPOT_DESCRIPTION;
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead};
use crate::error::ApiResult;
use crate::http::extract::Json;
use crate::hubspot::{self};
use crate::store::HubSpotAuth;

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
    pub status: ConnectionStatus,
    /// `connect` or `manage`.
    pub action: CardAction,
    /// How writes to HubSpot went, once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<CardHealth>,
}

/// How writes to HubSpot went (from the CRM sync record): the card's health line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardHealth {
    /// The last write HubSpot took.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Writes that failed in the last 24 hours.
    pub failures_24h: u64,
    /// When the latest of them failed.
    pub last_failure_at: Option<DateTime<Utc>>,
    /// What it was and why it failed.
    pub last_failure: Option<String>,
    /// What to do about the failures.
    pub advice: Option<&'static str>,
}

/// The health line of `org`'s connection, looking at the last 24 hours.
pub(crate) async fn health(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
) -> ApiResult<CardHealth> {
    let health = state
        .db()
        .sync_health(org, Utc::now() - chrono::Duration::hours(24))
        .await?;
    let last_failure = health.last_failure.as_ref().map(|f| {
        let what = format!("{} {}", f.operation.as_str(), f.object.as_str());
        match &f.message {
            Some(why) => format!("{what}: {why}"),
            None => what,
        }
    });
    Ok(CardHealth {
        last_success_at: health.last_success_at,
        failures_24h: health.failures,
        last_failure_at: health.last_failure.as_ref().map(|f| f.at),
        last_failure,
        advice: health.advice(),
    })
}

/// The card grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationCards {
    /// One card per provider.
    pub integrations: Vec<IntegrationCard>,
}

pub(super) async fn load(
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
    let health = match status {
        ConnectionStatus::NotConnected => None,
        _ => Some(health(&state, auth.org()).await?),
    };
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
            health,
        }],
    }))
}

/// The HubSpot connection as the management view shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HubSpotView {
    /// `connected`, `not_connected` or `error`.
    pub status: ConnectionStatus,
    /// The portal, once connected.
    pub portal_id: Option<u64>,
    /// `oauth` or `private_app`, once connected.
    pub auth: Option<&'static str>,
    /// When the connection was (re)established.
    pub connected_at: Option<DateTime<Utc>>,
    /// Who (re)established it.
    pub connected_by: Option<String>,
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
    /// How writes to HubSpot went, once connected.
    pub health: Option<CardHealth>,
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
        connected_by: settings.connection.connected_by.clone(),
        error: settings.connection.error.clone(),
        agency_identifier_configured: configured,
        mapping_warning: (!configured)
            .then_some("Configure the Agency Identifier to enable HubSpot → Turris sync."),
        sync_prerequisites: sync_prerequisites(&settings),
        invitations_locked: ensure_configurable(&settings.matrix)
            .err()
            .map(|locked| locked.explanation()),
        sync_paused_until,
        health: match settings.connection.status {
            ConnectionStatus::NotConnected => None,
            _ => Some(health(&state, auth.org()).await?),
        },
    }))
}

/// For each toggle that is off, what it needs before it can be turned on.
pub(super) fn sync_prerequisites(settings: &IntegrationSettings) -> Vec<crate::error::ErrorDetail> {
    settings
        .matrix
        .blocked(&settings.mapping)
        .into_iter()
        .map(|e| crate::error::ErrorDetail {
            path: e.path,
            message: e.message,
        })
        .collect()
}
