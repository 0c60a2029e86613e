//! Read views of the synced records (agencies, agents, invitations), each linking to its
//! HubSpot record, so a person sees what sync did. Lists are the API's cursor pages.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;
use turris_core::ids::OrganizationId;
use turris_core::record::Npn;
use turris_core::store::TurrisRef;

use super::errors::render;
use super::{ConsoleResult, Layout, Signed};
use crate::app::AppState;
use crate::http::extract::{Json, Path};
use crate::http::pagination::PageParams;
use crate::http::records as api;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/records/agencies", get(agencies))
        .route("/console/records/agencies/{id}", get(agency))
        .route("/console/records/agents", get(agents))
        .route("/console/records/invitations", get(invitations))
}

const PAGE_SIZE: usize = 25;

/// A row of a record list.
pub struct RecordRow {
    id: String,
    name: String,
    npn: String,
    extra: String,
    hubspot: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/records.html")]
struct RecordsPage {
    l: Layout,
    tab: &'static str,
    extra_title: &'static str,
    rows: Vec<RecordRow>,
    next_cursor: Option<String>,
    first_page: bool,
}

#[derive(Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
}

/// The HubSpot portal, when connected (for record links).
async fn portal(state: &AppState, org: &OrganizationId) -> Option<u64> {
    state
        .db()
        .load_settings(org)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.connection.portal_id)
}

/// `(HubSpot id, URL)` of a linked record.
async fn hubspot_link(
    state: &AppState,
    org: &OrganizationId,
    portal: Option<u64>,
    turris: TurrisRef,
) -> ConsoleResult<Option<(String, String)>> {
    let object = match turris {
        TurrisRef::Agency(_) => "0-2",
        _ => "0-1",
    };
    let link = state
        .db()
        .link_by_turris(org, &turris)
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(link.map(|l| {
        let id = l.hubspot_id.to_string();
        let url = match portal {
            Some(p) => format!("https://app.hubspot.com/contacts/{p}/record/{object}/{id}"),
            None => String::new(),
        };
        (id, url)
    }))
}

/// The API's page parameters for a console list page.
fn page_params(cursor: Option<String>) -> crate::http::extract::Query<PageParams> {
    crate::http::extract::Query(PageParams {
        cursor,
        limit: Some(PAGE_SIZE),
    })
}

fn npn_text(npn: Option<Npn>) -> String {
    npn.map(|n| n.as_str().to_owned()).unwrap_or_default()
}

/// What tells one record list from another: its tab, its title and its last column's.
struct RecordList {
    tab: &'static str,
    title: &'static str,
    extra_title: &'static str,
}

/// Renders a page of records, each row with its HubSpot link.
async fn records_page(
    state: &AppState,
    session: &Signed,
    list: RecordList,
    records: Vec<(TurrisRef, RecordRow)>,
    next_cursor: Option<String>,
    first_page: bool,
) -> ConsoleResult {
    let org = &session.caller.org;
    let portal = portal(state, org).await;
    let mut rows = Vec::with_capacity(records.len());
    for (turris, row) in records {
        let hubspot = hubspot_link(state, org, portal, turris).await?;
        rows.push(RecordRow { hubspot, ..row });
    }
    let l = session.layout(state, list.title, "records").await;
    Ok(render(&RecordsPage {
        l,
        tab: list.tab,
        extra_title: list.extra_title,
        rows,
        next_cursor,
        first_page,
    }))
}

async fn agencies(
    State(state): State<AppState>,
    Query(q): Query<CursorQuery>,
    session: Signed,
) -> ConsoleResult {
    let first_page = q.cursor.is_none();
    let auth = session.authorize()?;
    let Json(page) = api::list_agencies(State(state.clone()), auth, page_params(q.cursor)).await?;
    let records = page.items.into_iter().map(|a| {
        let row = RecordRow {
            id: a.id.to_string(),
            name: a.data.name,
            npn: npn_text(a.data.npn),
            extra: a
                .data
                .state_code
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            hubspot: None,
        };
        (TurrisRef::Agency(a.id), row)
    });
    let list = RecordList {
        tab: "agencies",
        title: "Agencies",
        extra_title: "State",
    };
    let records = records.collect();
    records_page(
        &state,
        &session,
        list,
        records,
        page.next_cursor,
        first_page,
    )
    .await
}

async fn agents(
    State(state): State<AppState>,
    Query(q): Query<CursorQuery>,
    session: Signed,
) -> ConsoleResult {
    let first_page = q.cursor.is_none();
    let auth = session.authorize()?;
    let Json(page) = api::list_agents(State(state.clone()), auth, page_params(q.cursor)).await?;
    let records = page.items.into_iter().map(|a| {
        let row = RecordRow {
            id: a.id.to_string(),
            name: format!("{} {}", a.data.first_name, a.data.last_name),
            npn: npn_text(a.data.npn),
            extra: a.data.email.unwrap_or_default(),
            hubspot: None,
        };
        (TurrisRef::Agent(a.id), row)
    });
    let list = RecordList {
        tab: "agents",
        title: "Agents",
        extra_title: "Email",
    };
    let records = records.collect();
    records_page(
        &state,
        &session,
        list,
        records,
        page.next_cursor,
        first_page,
    )
    .await
}

/// An invitation row.
pub struct InvitationRow {
    agency_id: String,
    status: String,
    template: String,
    sent_to: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "console/invitations.html")]
struct InvitationsPage {
    l: Layout,
    tab: &'static str,
    rows: Vec<InvitationRow>,
    more: bool,
}

const INVITATIONS_SHOWN: usize = 100;

async fn invitations(State(state): State<AppState>, session: Signed) -> ConsoleResult {
    let Json(page) = api::list_invitations(
        State(state.clone()),
        session.authorize()?,
        crate::http::extract::Query(api::InvitationParams {
            limit: Some(INVITATIONS_SHOWN),
            ..api::InvitationParams::default()
        }),
    )
    .await?;
    let more = page.next_cursor.is_some();
    let rows = page.items.into_iter().map(invitation_row).collect();
    let l = session.layout(&state, "Invitations", "records").await;
    Ok(render(&InvitationsPage {
        l,
        tab: "invitations",
        rows,
        more,
    }))
}

fn invitation_row(i: crate::store::Invitation) -> InvitationRow {
    InvitationRow {
        agency_id: i.agency_id.to_string(),
        status: serde_json::to_value(i.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        template: i
            .contract_template_id
            .map(|t| t.to_string())
            .unwrap_or_default(),
        sent_to: i.sent_to.unwrap_or_default(),
        updated: super::when(&i.updated_at),
    }
}

/// An agency contact row.
pub struct ContactRow {
    name: String,
    email: String,
    hubspot: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/agency.html")]
struct AgencyPage {
    l: Layout,
    id: String,
    fields: Vec<(&'static str, String)>,
    hubspot: Option<(String, String)>,
    contacts: Vec<ContactRow>,
    invitations: Vec<InvitationRow>,
}

async fn agency(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    session: Signed,
) -> ConsoleResult {
    let st = || State(state.clone());
    let Json(a) = api::get_agency(st(), session.authorize()?, Path(id.clone())).await?;
    let first = crate::http::extract::Query(crate::http::pagination::PageParams {
        cursor: None,
        limit: Some(crate::http::pagination::MAX_LIMIT),
    });
    let Json(contacts) =
        api::list_contacts(st(), session.authorize()?, Path(id.clone()), first).await?;
    let contacts = contacts.items;
    let Json(invitations) = api::list_invitations(
        st(),
        session.authorize()?,
        crate::http::extract::Query(api::InvitationParams {
            agency_id: Some(id.clone()),
            ..api::InvitationParams::default()
        }),
    )
    .await?;
    let invitations = invitations.items;
    let org = &session.caller.org;
    let portal = portal(&state, org).await;
    let hubspot = hubspot_link(&state, org, portal, TurrisRef::Agency(a.id.clone())).await?;
    let mut contact_rows = Vec::new();
    for c in contacts {
        contact_rows.push(ContactRow {
            hubspot: hubspot_link(&state, org, portal, TurrisRef::AgencyContact(c.id.clone()))
                .await?,
            name: format!(
                "{} {}",
                c.first_name.unwrap_or_default(),
                c.last_name.unwrap_or_default()
            ),
            email: c.email.unwrap_or_default(),
        });
    }
    let d = a.data;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let fields = vec![
        ("Name", d.name.clone()),
        ("Branch name", opt(d.branch_name)),
        (
            "NPN",
            d.npn.map(|n| n.as_str().to_owned()).unwrap_or_default(),
        ),
        ("Producer code", opt(d.producer_code)),
        ("Website", opt(d.website)),
        ("Phone", opt(d.phone)),
        ("Street address", opt(d.street_address)),
        ("City", opt(d.city)),
        (
            "State code",
            d.state_code
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("ZIP", opt(d.zip)),
        ("Country", opt(d.country)),
    ];
    let l = session.layout(&state, &d.name, "records").await;
    Ok(render(&AgencyPage {
        l,
        id,
        fields,
        hubspot,
        contacts: contact_rows,
        invitations: invitations.into_iter().map(invitation_row).collect(),
    }))
}
