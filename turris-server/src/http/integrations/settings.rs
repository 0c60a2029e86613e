//! The field mapping, the sync matrix and the auto-invite settings.

use axum::extract::State;
use turris_core::integration::{ConnectionStatus, IntegrationSettings};
use turris_core::invitation::{InvitationSettings, ensure_configurable};
use turris_core::mapping::MappingSettings;
use turris_core::matrix::SyncMatrix;

use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead, IntegrationsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::Json;

use super::*;

pub(super) fn require_connected(settings: &IntegrationSettings) -> ApiResult<()> {
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
    errors.extend(settings.matrix.broken_by(&mapping));
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
    if !settings.matrix.turned_on(&wanted).is_empty() {
        require_connected(&settings)?;
    }
    let next = SyncMatrix::build(&wanted, &settings.mapping).map_err(ApiError::validation)?;
    settings.matrix = next;
    state.db().save_settings(auth.org(), &settings).await?;
    Ok(Json(settings.matrix))
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
    let templates = invitations.template_refs();
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
