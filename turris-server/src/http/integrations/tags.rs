//! What Turris writes to HubSpot beyond the synced fields (seed 002): the tag catalog (read
//! it, and turn writing tags on or off) and activity notes (which events are logged). Turning it on makes the `turris_tags` multi-select property on companies and
//! contacts (the catalog as its options) and queues every linked record's tags push.

use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use turris_core::notes::NoteToggles;
use turris_core::tags::{TAGS_PROPERTY, Tag, TagGroup};
use turris_hubspot::crm::ObjectType;
use utoipa::ToSchema;

use super::connect::{not_connected, stored_credentials_failed};
use super::load;
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead, IntegrationsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::hubspot::ConnectionError;

/// One tag of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogTag {
    /// The value written to HubSpot (`non_compliant`, ...).
    pub name: &'static str,
    /// The option's label in HubSpot.
    pub label: &'static str,
    /// `compliance`, `onboarding` or `nipr`.
    pub group: TagGroup,
    /// When a record carries it.
    pub description: &'static str,
}

/// The tag settings and the fixed catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagSettingsView {
    /// Whether tags are written to HubSpot.
    pub enabled: bool,
    /// The HubSpot property (on contacts and companies) holding them.
    pub property: &'static str,
    /// Every tag, in order.
    pub catalog: Vec<CatalogTag>,
    /// Tag pushes queued by this change (turning tags on queues every linked record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<u64>,
}

/// Turns tags on or off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagSettingsUpdate {
    /// Write each linked record's tags to HubSpot.
    pub enabled: bool,
}

fn view(enabled: bool, queued: Option<u64>) -> TagSettingsView {
    TagSettingsView {
        enabled,
        property: TAGS_PROPERTY,
        catalog: Tag::ALL
            .into_iter()
            .map(|t| CatalogTag {
                name: t.name(),
                label: t.label(),
                group: t.group(),
                description: t.description(),
            })
            .collect(),
        queued,
    }
}

/// The tag catalog and whether tags are written to HubSpot.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/tags", tag = "integrations",
    responses((status = 200, body = TagSettingsView), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_tags(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<TagSettingsView>> {
    Ok(Json(view(load(&state, auth.org()).await?.crm.tags, None)))
}

/// Turns writing tags on or off. On: HubSpot must be connected; the `turris_tags` property is
/// made on companies and contacts when missing (HubSpot's 403 means the connection lacks the
/// schema-write scopes), then every linked record's tags are queued for pushing. Off: nothing
/// more is written (the values in HubSpot stay until someone clears them).
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/tags", tag = "integrations",
    request_body = TagSettingsUpdate,
    responses((status = 200, body = TagSettingsView), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 502, description = "HubSpot refused to make the property", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_tags(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(body): Json<TagSettingsUpdate>,
) -> ApiResult<Json<TagSettingsView>> {
    let org = auth.org();
    let mut settings = load(&state, org).await?;
    let mut queued = None;
    if body.enabled && !settings.crm.tags {
        let credentials = state
            .db()
            .hubspot_credentials(org)
            .await?
            .ok_or_else(not_connected)?;
        let client = crate::hubspot::client(&state, org, &credentials)
            .map_err(super::connect::connection_error)?;
        for object in [ObjectType::Companies, ObjectType::Contacts] {
            ensure_tags_property(&state, org, &client, &object).await?;
        }
        settings.crm.tags = true;
        state.db().save_settings(org, &settings).await?;
        queued = Some(state.db().queue_all_tags_pushes(org, Utc::now()).await?);
        crate::sync::outbound::wake(&state);
    } else if settings.crm.tags != body.enabled {
        settings.crm.tags = body.enabled;
        state.db().save_settings(org, &settings).await?;
    }
    Ok(Json(view(settings.crm.tags, queued)))
}

/// Makes the tags property on `object` unless it exists, answering what to do when HubSpot
/// refuses.
async fn ensure_tags_property(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    client: &turris_hubspot::HubSpotClient,
    object: &ObjectType,
) -> ApiResult<()> {
    match crate::sync::tags::ensure_property(state, org, client, object).await {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(403) => Err(ApiError::hubspot(format!(
            "HubSpot refused to make the {TAGS_PROPERTY} property on {object}: the connection \
             lacks the crm.schemas.{object}.write scope; reconnect with it, or make the \
             property in HubSpot (a multiple checkboxes property named {TAGS_PROPERTY} with the \
             catalog's names as options)"
        ))),
        Err(e) => Err(stored_credentials_failed(state, org, ConnectionError::from(e)).await),
    }
}

/// Which events are logged as notes in HubSpot.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/notes", tag = "integrations",
    responses((status = 200, body = NoteToggles), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn get_notes(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<NoteToggles>> {
    Ok(Json(load(&state, auth.org()).await?.crm.notes))
}

/// Chooses which events are logged as notes on the agency's company or the agent's contact
/// (each exactly once, associated when the record is linked). Events while a kind is off are
/// not logged later.
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/notes", tag = "integrations",
    request_body = NoteToggles,
    responses((status = 200, body = NoteToggles), (status = 401), (status = 402), (status = 403),
        (status = 422, description = "Not a set of toggles", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_notes(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(body): Json<NoteToggles>,
) -> ApiResult<Json<NoteToggles>> {
    let mut settings = load(&state, auth.org()).await?;
    settings.crm.notes = body;
    state.db().save_settings(auth.org(), &settings).await?;
    Ok(Json(settings.crm.notes))
}
