//! HubSpot › CRM tags and sync record (seed 002): the tag catalog with its on/off switch, and
//! the CRM Sync Record (every write to HubSpot, newest first, filtered, with a CSV download),
//! which only a role with integrations:update sees. Every read and write is the JSON API's
//! handler (`crate::http::integrations`), called with the session's caller.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use turris_core::audit::{CrmObject, CrmOperation, SyncTrigger};
use turris_core::notes::NoteToggles;
use turris_core::permissions::{Area, Capability};
use turris_core::tags::Tag;

use super::errors::render;
use super::{ConsoleResult, Layout, Posted, Signed};
use crate::app::AppState;
use crate::auth::{IntegrationsRead, IntegrationsUpdate};
use crate::http::extract::Json;
use crate::http::integrations::{
    self as api, CatalogTag, SyncRecordParams, SyncRecordView, TagSettingsUpdate,
};

const PAGE: &str = "/console/integrations/hubspot/crm";
/// Writes shown per page.
const SHOWN: usize = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route("/console/integrations/hubspot/crm/tags", post(save_tags))
        .route("/console/integrations/hubspot/crm/lists", post(save_lists))
        .route("/console/integrations/hubspot/crm/notes", post(save_notes))
        .route(
            "/console/integrations/hubspot/crm/sync-records.csv",
            get(csv),
        )
}

/// The filters of the sync record table.
#[derive(Debug, Default, Deserialize)]
struct Filters {
    status: Option<String>,
    object: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    fn params(&self) -> Result<SyncRecordParams, crate::error::ApiError> {
        let pick = |v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| serde_json::Value::String(s.to_owned()))
        };
        let bad = |_| crate::error::ApiError::bad_request("unknown filter value");
        Ok(SyncRecordParams {
            status: pick(&self.status)
                .map(serde_json::from_value)
                .transpose()
                .map_err(bad)?,
            object: pick(&self.object)
                .map(serde_json::from_value)
                .transpose()
                .map_err(bad)?,
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
            limit: Some(SHOWN),
            ..SyncRecordParams::default()
        })
    }
}

/// One kind of activity note and whether it is logged.
pub struct NoteSwitch {
    name: &'static str,
    label: &'static str,
    on: bool,
}

fn note_switches(t: NoteToggles) -> Vec<NoteSwitch> {
    vec![
        NoteSwitch {
            name: "invitations",
            label: "Invitation sent to an agency",
            on: t.invitations,
        },
        NoteSwitch {
            name: "agreements",
            label: "Producer agreement executed",
            on: t.agreements,
        },
        NoteSwitch {
            name: "nipr_errors",
            label: "NIPR sync failed",
            on: t.nipr_errors,
        },
        NoteSwitch {
            name: "tickets",
            label: "Support ticket opened or changed status",
            on: t.tickets,
        },
        NoteSwitch {
            name: "compliance",
            label: "Compliance statuses changed (one digest per debounce window)",
            on: t.compliance,
        },
    ]
}

/// One write, as the table shows it.
pub struct WriteRow {
    when: String,
    object_id: String,
    /// What was done, in words (`Update company`).
    write: String,
    turris: String,
    trigger: &'static str,
    ok: bool,
    hubspot_status: String,
    properties: String,
    message: String,
    correlation_id: String,
}

impl WriteRow {
    fn of(r: SyncRecordView) -> Self {
        WriteRow {
            when: super::when(&r.at),
            object_id: r.object_id.unwrap_or_default(),
            write: write_label(r.operation, r.object),
            turris: match (r.turris_kind, r.turris_id) {
                (Some(kind), Some(id)) => format!("{} {id}", kind.replace('_', " ")),
                _ => String::new(),
            },
            trigger: match r.trigger {
                SyncTrigger::RecordChange => "Record saved in Turris",
                SyncTrigger::Association => "Contact's agency",
                SyncTrigger::Setup => "Setup",
                SyncTrigger::Tags => "Tags changed",
                SyncTrigger::ActivityNote => "Activity note",
                SyncTrigger::SupportTicket => "Support ticket",
            },
            ok: r.status == turris_core::activity::Outcome::Success,
            hubspot_status: r.hubspot_status.map(|s| s.to_string()).unwrap_or_default(),
            properties: r
                .properties
                .iter()
                .map(|p| match &p.new {
                    Some(v) if !v.is_empty() => format!("{} = {v}", p.name),
                    _ => format!("{} cleared", p.name),
                })
                .collect::<Vec<_>>()
                .join(", "),
            message: r.message.unwrap_or_default(),
            correlation_id: r.correlation_id.unwrap_or_default(),
        }
    }
}

/// `Create company`, `Create property`, ...
fn write_label(operation: CrmOperation, object: CrmObject) -> String {
    let verb = match operation {
        CrmOperation::Create => "Create",
        CrmOperation::Update => "Update",
        CrmOperation::Associate => "Associate",
        CrmOperation::CreateProperty => return "Create property".to_owned(),
        CrmOperation::AddToList => return "Add to list".to_owned(),
        CrmOperation::RemoveFromList => return "Remove from list".to_owned(),
    };
    format!("{verb} {}", object.as_str())
}

#[derive(Template)]
#[template(path = "console/crm.html")]
struct CrmPage {
    l: Layout,
    tags_on: bool,
    notes: Vec<NoteSwitch>,
    property: &'static str,
    catalog: Vec<CatalogTag>,
    can_update: bool,
    rows: Vec<WriteRow>,
    next_cursor: Option<String>,
    status: String,
    object: String,
    csv_query: String,
}

impl CrmPage {
    fn object_is(&self, value: &&str) -> bool {
        self.object == *value
    }

    fn group(&self, tag: &CatalogTag) -> &'static str {
        match tag.group {
            turris_core::tags::TagGroup::Compliance => "Compliance",
            turris_core::tags::TagGroup::Onboarding => "Onboarding",
            turris_core::tags::TagGroup::Nipr => "NIPR",
        }
    }
}

async fn page(
    State(state): State<AppState>,
    Query(filters): Query<Filters>,
    session: Signed,
) -> ConsoleResult {
    let read = session.authorize::<IntegrationsRead>()?;
    let Json(tags) = api::get_tags(State(state.clone()), read.clone()).await?;
    let Json(notes) = api::get_notes(State(state.clone()), read).await?;
    let can_update = session.can(Area::Integrations, Capability::Update);
    let (mut rows, mut next_cursor) = (Vec::new(), None);
    if can_update {
        let update = session.authorize::<IntegrationsUpdate>()?;
        let params = filters.params()?;
        let Json(list) = api::sync_records(
            State(state.clone()),
            update,
            crate::http::extract::Query(params),
        )
        .await?;
        rows = list.entries.into_iter().map(WriteRow::of).collect();
        next_cursor = list.next_cursor;
    }
    let status = filters.status.clone().unwrap_or_default();
    let object = filters.object.clone().unwrap_or_default();
    let csv_query =
        serde_urlencoded::to_string([("status", &status), ("object", &object)]).unwrap_or_default();
    let l = session
        .layout(&state, "CRM tags and sync record", "integrations")
        .await;
    Ok(render(&CrmPage {
        l,
        tags_on: tags.enabled,
        notes: note_switches(notes),
        property: tags.property,
        catalog: tags.catalog,
        can_update,
        rows,
        next_cursor,
        status,
        object,
        csv_query,
    }))
}

async fn save_tags(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let enabled = posted.form.get("enabled") == Some("true");
    let body = TagSettingsUpdate {
        enabled,
        lists: None,
    };
    match api::put_tags(State(state.clone()), auth, Json(body)).await {
        Ok(Json(view)) => {
            let text = match (view.enabled, view.queued) {
                (true, Some(n)) => format!(
                    "Tags are on: the {} property is ready in HubSpot and {n} linked record(s) are queued for their tags.",
                    view.property
                ),
                (true, None) => "Tags are on.".to_owned(),
                (false, _) => "Tags are off: nothing more is written to HubSpot.".to_owned(),
            };
            session.flash(&state, "success", &text).await;
            Ok(Redirect::to(&format!("{PAGE}#tags")).into_response())
        }
        // Not connected, or HubSpot refused the property: say so on the page.
        Err(e)
            if matches!(
                e.status_code(),
                StatusCode::CONFLICT | StatusCode::BAD_GATEWAY
            ) =>
        {
            session.flash(&state, "error", &e.body().message).await;
            Ok(Redirect::to(&format!("{PAGE}#tags")).into_response())
        }
        Err(e) => super::integrations::refused_to(&state, &session, e, PAGE).await,
    }
}

/// Saves the tags mirrored to static lists (the form is shown while tags are on).
async fn save_lists(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let lists = Tag::ALL
        .into_iter()
        .filter(|t| posted.form.get(&format!("list-{}", t.name())) == Some("on"))
        .collect();
    let body = TagSettingsUpdate {
        enabled: posted.form.get("enabled") == Some("true"),
        lists: Some(lists),
    };
    match api::put_tags(State(state.clone()), auth, Json(body)).await {
        Ok(Json(view)) => {
            let mirrored = view.catalog.iter().filter(|t| t.mirrored).count();
            let text = match mirrored {
                0 => "No tag is mirrored to lists.".to_owned(),
                n => format!(
                    "Lists are saved: {n} tag(s) mirrored, each to a list of companies and one of contacts in HubSpot."
                ),
            };
            session.flash(&state, "success", &text).await;
            Ok(Redirect::to(&format!("{PAGE}#tags")).into_response())
        }
        // Not connected, HubSpot refused a list, or tags are off: say so on the page.
        Err(e)
            if matches!(
                e.status_code(),
                StatusCode::CONFLICT | StatusCode::BAD_GATEWAY | StatusCode::UNPROCESSABLE_ENTITY
            ) =>
        {
            session.flash(&state, "error", &e.body().message).await;
            Ok(Redirect::to(&format!("{PAGE}#tags")).into_response())
        }
        Err(e) => super::integrations::refused_to(&state, &session, e, PAGE).await,
    }
}

async fn save_notes(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let on = |name: &str| posted.form.get(name) == Some("on");
    let body = NoteToggles {
        invitations: on("invitations"),
        agreements: on("agreements"),
        nipr_errors: on("nipr_errors"),
        tickets: on("tickets"),
        compliance: on("compliance"),
    };
    match api::put_notes(State(state.clone()), auth, Json(body)).await {
        Ok(_) => {
            session
                .flash(&state, "success", "Activity notes are saved.")
                .await;
            Ok(Redirect::to(&format!("{PAGE}#notes")).into_response())
        }
        Err(e) => super::integrations::refused_to(&state, &session, e, PAGE).await,
    }
}

async fn csv(
    State(state): State<AppState>,
    Query(filters): Query<Filters>,
    session: Signed,
) -> ConsoleResult<Response> {
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let mut params = filters.params()?;
    params.limit = None;
    Ok(api::sync_records_csv(State(state), auth, crate::http::extract::Query(params)).await?)
}
