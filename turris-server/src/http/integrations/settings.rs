//! The field mapping, the sync matrix and the auto-invite settings.

use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use turris_core::activity::NewActivity;
use turris_core::error::FieldError;
use turris_core::ids::ContractTemplateId;
use turris_core::integration::{ConnectionStatus, InboundMode, IntegrationSettings};
use turris_core::invitation::{
    self, ContractChoice, InvitationSettings, InviteDecision, ensure_configurable,
};
use turris_core::mapping::MappingSettings;
use turris_core::matrix::SyncMatrix;
use utoipa::ToSchema;

use super::{load, not_connected, schemas};
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead, IntegrationsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::http::extract::Path;
use crate::store::{Invitation, InvitationId, InvitationStatus};

pub(super) fn require_connected(settings: &IntegrationSettings) -> ApiResult<()> {
    match settings.connection.status {
        ConnectionStatus::NotConnected => Err(not_connected()),
        ConnectionStatus::Connected | ConnectionStatus::Error => Ok(()),
    }
}

/// The field mapping.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/mapping", tag = "integrations",
    responses((status = 200, description = "The agency and agent mapping", body = turris_core::mapping::MappingSettings),
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
    request_body = turris_core::mapping::MappingSettings,
    responses((status = 200, description = "The saved mapping", body = turris_core::mapping::MappingSettings),
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
    responses((status = 200, description = "The matrix", body = turris_core::matrix::SyncMatrix),
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
    request_body = turris_core::matrix::SyncMatrix,
    responses((status = 200, description = "The saved matrix", body = turris_core::matrix::SyncMatrix),
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

/// How changes made in HubSpot arrive, `{"mode": ...}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundModeBody {
    /// `webhooks` (default), `journal` (poll HubSpot's webhooks journal: no public URL needed),
    /// `both` (a change seen both ways is processed once) or `polling` (search for records
    /// modified since the last look: Service Keys, which get neither webhooks nor the journal).
    pub mode: InboundMode,
}

/// How changes made in HubSpot arrive.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/inbound-mode", tag = "integrations",
    responses((status = 200, body = InboundModeBody), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_inbound_mode(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<InboundModeBody>> {
    let mode = load(&state, auth.org()).await?.inbound_mode;
    Ok(Json(InboundModeBody { mode }))
}

/// Chooses how changes made in HubSpot arrive. The journal needs this server's OAuth app
/// (`TURRIS_HUBSPOT_CLIENT_ID` and `_SECRET`): its client-credentials token reads it.
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/inbound-mode", tag = "integrations",
    request_body = InboundModeBody,
    responses((status = 200, body = InboundModeBody), (status = 401), (status = 402), (status = 403),
        (status = 422, description = "The journal needs the server's OAuth app", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_inbound_mode(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(body): Json<InboundModeBody>,
) -> ApiResult<Json<InboundModeBody>> {
    if body.mode.reads_journal() && state.oauth().is_none() {
        return Err(ApiError::validation(vec![FieldError::new(
            "mode",
            "the webhooks journal is read with this server's OAuth app: set \
             TURRIS_HUBSPOT_CLIENT_ID and TURRIS_HUBSPOT_CLIENT_SECRET",
        )]));
    }
    let mut settings = load(&state, auth.org()).await?;
    settings.inbound_mode = body.mode;
    state.db().save_settings(auth.org(), &settings).await?;
    crate::sync::journal::wake(&state);
    Ok(Json(InboundModeBody {
        mode: settings.inbound_mode,
    }))
}

/// Auto-invite settings.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/invitations", tag = "integrations",
    responses((status = 200, description = "The auto-invite settings", body = turris_core::invitation::InvitationSettings),
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
    request_body = turris_core::invitation::InvitationSettings,
    responses((status = 200, description = "The saved settings", body = turris_core::invitation::InvitationSettings),
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

/// A contract for an invitation that needs attention.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignContract {
    /// A contract template id.
    pub template: ContractTemplateId,
}

/// Gives an invitation that needs attention (no rule matched, no default contract) the
/// contract a person picked: it is sent to the agency's first contact with an email, or
/// deferred until one exists, and the activity says so. 404 for an unknown invitation, 409
/// for one that does not wait for a contract, 422 for an unknown template.
#[utoipa::path(post, path = "/api/v1/integrations/hubspot/invitations/{id}/contract",
    tag = "integrations", params(("id" = String, Path)), request_body = AssignContract,
    responses((status = 200, description = "The invitation", body = crate::store::Invitation),
        (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 409, description = "Not waiting for a contract", body = crate::error::ErrorBody),
        (status = 422, description = "Unknown template", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign_contract(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Path(id): Path<InvitationId>,
    Json(body): Json<AssignContract>,
) -> ApiResult<Json<Invitation>> {
    let org = auth.org();
    let db = state.db();
    let invitation = db
        .invitation(org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    if invitation.status != InvitationStatus::NeedsAttention {
        return Err(ApiError::conflict(
            "invitation_not_waiting",
            "this invitation already has its contract",
        ));
    }
    if db.contract_template(org, &body.template).await?.is_none() {
        return Err(ApiError::invalid_field(
            "template",
            format!("contract template {} does not exist", body.template),
        ));
    }
    let decision = InviteDecision::Invite {
        template: body.template.clone(),
        chosen_by: ContractChoice::Person,
    };
    let contacts = db.list_agency_contacts(org, &invitation.agency_id).await?;
    let planned = invitation::outcome(&decision, &contacts);
    let (status, _, sent_to) = planned
        .invitation
        .expect("an invitation with a contract is recorded");
    let now = Utc::now();
    db.assign_invitation_contract(org, id, &body.template, status, sent_to.as_deref(), now)
        .await?;
    let row = NewActivity::new(planned.kind, planned.outcome, now)
        .message(planned.message)
        .turris(&invitation.agency_id);
    db.append_activity(org, &row).await?;
    db.invitation(org, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("invitation"))
}
