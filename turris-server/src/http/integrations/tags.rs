//! What Turris writes to HubSpot beyond the synced fields (seed 002): the tag catalog (read
//! it, turn writing tags on or off, choose the tags mirrored to static lists) and activity
//! notes (which events are logged). Turning tags on makes the `turris_tags` multi-select
//! property on companies and contacts (the catalog as its options) and queues every linked
//! record's tags push; mirroring a tag makes its two lists and queues what fills them.

use std::collections::BTreeSet;

use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use turris_core::integration::CrmFeatures;
use turris_core::notes::NoteToggles;
use turris_core::property::ObjectType as ObjectKind;
use turris_core::tags::{TAGS_PROPERTY, Tag, TagGroup, list_name};
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
    /// Whether it is mirrored to static lists.
    pub mirrored: bool,
    /// The names of its static lists in HubSpot (companies, contacts).
    pub list_names: Vec<String>,
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

/// Turns tags on or off, and chooses the tags mirrored to static lists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagSettingsUpdate {
    /// Write each linked record's tags to HubSpot.
    pub enabled: bool,
    /// The tags mirrored to static lists (each to a list of companies and one of contacts,
    /// kept by membership calls); absent keeps the current choice. Needs tags on.
    #[serde(default)]
    pub lists: Option<BTreeSet<Tag>>,
}

fn view(crm: &CrmFeatures, queued: Option<u64>) -> TagSettingsView {
    TagSettingsView {
        enabled: crm.tags,
        property: TAGS_PROPERTY,
        catalog: Tag::ALL
            .into_iter()
            .map(|t| CatalogTag {
                name: t.name(),
                label: t.label(),
                group: t.group(),
                description: t.description(),
                mirrored: crm.tag_lists.contains(&t),
                list_names: [ObjectKind::Company, ObjectKind::Contact]
                    .into_iter()
                    .map(|o| list_name(t, o))
                    .collect(),
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
    Ok(Json(view(&load(&state, auth.org()).await?.crm, None)))
}

/// Turns writing tags on or off. On: HubSpot must be connected; the `turris_tags` property is
/// made on companies and contacts when missing (HubSpot's 403 means the connection lacks the
/// schema-write scopes), then every linked record's tags are queued for pushing. Off: nothing
/// more is written (the values in HubSpot stay until someone clears them). A newly mirrored
/// tag's lists are found by name or made (a 403 means the connection lacks `crm.lists.write`)
/// and every tagged record is looked at again; a tag no longer mirrored leaves its lists as
/// they are.
#[utoipa::path(put, path = "/api/v1/integrations/hubspot/tags", tag = "integrations",
    request_body = TagSettingsUpdate,
    responses((status = 200, body = TagSettingsView), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 422, description = "Lists without tags, or an unknown tag", body = crate::error::ErrorBody),
        (status = 502, description = "HubSpot refused to make the property or a list", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_tags(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Json(body): Json<TagSettingsUpdate>,
) -> ApiResult<Json<TagSettingsView>> {
    let org = auth.org();
    let mut settings = load(&state, org).await?;
    if body.lists.as_ref().is_some_and(|l| !l.is_empty()) && !body.enabled {
        return Err(ApiError::invalid_field(
            "lists",
            "tags must be on to mirror them to lists",
        ));
    }
    // Lists stay chosen while tags are off, and work again when they are back on.
    let lists = body.lists.unwrap_or_else(|| settings.crm.tag_lists.clone());
    let mut queued = None;
    let added: Vec<Tag> = match body.enabled {
        true => lists.difference(&settings.crm.tag_lists).copied().collect(),
        false => Vec::new(),
    };
    if (body.enabled && !settings.crm.tags) || !added.is_empty() {
        let credentials = state
            .db()
            .hubspot_credentials(org)
            .await?
            .ok_or_else(not_connected)?;
        let client = crate::hubspot::client(&state, org, &credentials)
            .map_err(super::connect::connection_error)?;
        if !settings.crm.tags {
            for object in [ObjectType::Companies, ObjectType::Contacts] {
                ensure_tags_property(&state, org, &client, &object).await?;
            }
        }
        for tag in &added {
            for object in [ObjectKind::Company, ObjectKind::Contact] {
                ensure_list(&state, org, &client, *tag, object).await?;
            }
        }
    }
    let turned_on = body.enabled && !settings.crm.tags;
    let relist = lists != settings.crm.tag_lists;
    settings.crm.tags = body.enabled;
    settings.crm.tag_lists = lists;
    state.db().save_settings(org, &settings).await?;
    if turned_on {
        queued = Some(state.db().queue_all_tags_pushes(org, Utc::now()).await?);
    } else if relist && body.enabled {
        queued = Some(state.db().relist_all(org, Utc::now()).await?);
    }
    if queued.is_some() {
        crate::sync::outbound::wake(&state);
    }
    Ok(Json(view(&settings.crm, queued)))
}

/// Finds or makes the list mirroring `tag` on `object`, answering what to do when HubSpot
/// refuses.
async fn ensure_list(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    client: &turris_hubspot::HubSpotClient,
    tag: Tag,
    object: ObjectKind,
) -> ApiResult<()> {
    match crate::sync::lists::ensure_list(state, org, client, tag, object).await? {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(403) => Err(ApiError::hubspot(format!(
            "HubSpot refused to make the list \"{}\": the connection lacks the \
             crm.lists.write scope; reconnect with it, then mirror the tag again",
            list_name(tag, object)
        ))),
        Err(e) => Err(stored_credentials_failed(state, org, ConnectionError::from(e)).await),
    }
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
