//! The HubSpot Integration management view: connection (OAuth round trip, private app,
//! reconnect, delete), field mapping with identifier filters, the sync matrix, agency
//! invitations, per-property webhook status, recent activity and bulk reconciliation.
//!
//! Reads and writes go through the API's handlers (`crate::http::integrations`,
//! `crate::http::reconciliation`); a 422 re-renders the page with each problem at the field
//! its path names.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;
use turris_core::integration::ConnectionStatus;
use turris_core::invitation::InvitationSettings;
use turris_core::mapping::MappingSettings;
use turris_core::matrix::SyncMatrix;
use turris_core::permissions::{Area, Capability};
use turris_core::property::ObjectSchema;

use super::errors::render;
use super::integrations::{status_key, status_label};
use super::{ConsoleResult, FieldErrors, Layout, Signed};
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead};
use crate::http::extract::Json;
use crate::http::integrations::{self as api};
use crate::http::pagination::PageParams;
use crate::http::reconciliation::{self as recon};

mod actions;
mod forms;
mod views;

use actions::{
    assign_contract, delete, private_app, reconciliation_partial, reconnect, reconnect_private_app,
    save_invitations, save_mapping, save_sync, start_reconciliation,
};
use views::{
    ActivityRow, AttentionRow, HubSpotPage, ReconView, WebhookRow, invitations_view, mapping_view,
    matrix_view, operators, recon_view,
};

const PAGE: &str = "/console/integrations/hubspot";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route(
            "/console/integrations/hubspot/private-app",
            post(private_app),
        )
        .route("/console/integrations/hubspot/reconnect", post(reconnect))
        .route(
            "/console/integrations/hubspot/private-app/reconnect",
            post(reconnect_private_app),
        )
        .route("/console/integrations/hubspot/delete", post(delete))
        .route("/console/integrations/hubspot/mapping", post(save_mapping))
        .route("/console/integrations/hubspot/sync", post(save_sync))
        .route(
            "/console/integrations/hubspot/invitations",
            post(save_invitations),
        )
        .route(
            "/console/integrations/hubspot/invitations/{id}/contract",
            post(assign_contract),
        )
        .route(
            "/console/integrations/hubspot/reconciliations",
            post(start_reconciliation),
        )
        .route(
            "/console/integrations/hubspot/reconciliations/{id}",
            get(reconciliation_partial),
        )
}

/// What a form submission puts back on the page instead of the stored settings.
#[derive(Default)]
struct Overrides {
    private_app: Option<(String, FieldErrors)>,
    reconnect: Option<FieldErrors>,
    mapping: Option<(MappingSettings, FieldErrors)>,
    matrix: Option<(SyncMatrix, FieldErrors)>,
    invitations: Option<(InvitationSettings, FieldErrors)>,
    reconciliation: Option<FieldErrors>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    activity_cursor: Option<String>,
    activity_status: Option<String>,
}

const ACTIVITY_PAGE: usize = 25;
/// The invitations needing attention the page lists (the oldest wait on the Invitations view).
const NEEDS_ATTENTION_SHOWN: usize = 20;

async fn load_page(
    state: &AppState,
    session: &Signed,
    query: PageQuery,
    o: Overrides,
) -> ConsoleResult<HubSpotPage> {
    let l = session
        .layout(state, "HubSpot Integration", "integrations")
        .await;
    let mut page = HubSpotPage::empty(l, state, session, &query);
    page.reconnect_errors = o.reconnect.clone().unwrap_or_default();
    page.recon_errors = o.reconciliation.clone().unwrap_or_default();
    if let Some((portal, errors)) = o.private_app.clone() {
        page.private_app_portal = portal;
        page.private_app_errors = errors;
    }
    let auth = match session.authorize::<IntegrationsRead>() {
        Ok(auth) => auth,
        Err(e) if e.status_code() == StatusCode::PAYMENT_REQUIRED => {
            page.premium_gate = true;
            return Ok(page);
        }
        Err(e) => return Err(e.into()),
    };
    let Json(view) = api::get_hubspot(State(state.clone()), auth.clone()).await?;
    page.show_connection(&view);
    if !page.connected {
        return Ok(page);
    }
    let sections = Sections {
        state,
        session,
        auth,
    };
    // Property discovery feeds the pickers; a failure leaves the rest of the page usable.
    let (companies, contacts) = match sections.properties().await {
        Ok((companies, contacts)) => (Some(companies), Some(contacts)),
        Err(message) => {
            page.properties_error = Some(message);
            (None, None)
        }
    };
    page.webhook_status = sections.webhook_rows().await?;
    sections
        .mapping(&mut page, o.mapping, companies.as_ref(), contacts.as_ref())
        .await?;
    sections
        .matrix(&mut page, o.matrix, &view.sync_prerequisites)
        .await?;
    sections
        .invitations(&mut page, o.invitations, companies.as_ref())
        .await?;
    sections.activity(&mut page, query).await?;
    page.reconciliation = sections.latest_reconciliation().await?;
    Ok(page)
}

/// What the page reads through the API's handlers, as the signed-in caller.
struct Sections<'a> {
    state: &'a AppState,
    session: &'a Signed,
    auth: Authorized<IntegrationsRead>,
}

impl Sections<'_> {
    fn st(&self) -> State<AppState> {
        State(self.state.clone())
    }

    /// Company and contact properties, or the message of why discovery failed.
    async fn properties(&self) -> Result<(ObjectSchema, ObjectSchema), String> {
        let params = crate::http::extract::Query(api::PropertiesParams::default());
        match api::properties(self.st(), self.auth.clone(), params).await {
            Ok(Json(p)) => Ok((p.companies, p.contacts)),
            Err(e) => Err(e.body().message),
        }
    }

    async fn webhook_rows(&self) -> ConsoleResult<Vec<WebhookRow>> {
        let Json(statuses) = api::webhook_status(self.st(), self.auth.clone()).await?;
        Ok(statuses
            .properties
            .into_iter()
            .map(WebhookRow::of)
            .collect())
    }

    /// The summary shows what is saved; the editor what was submitted, when it was refused.
    async fn mapping(
        &self,
        page: &mut HubSpotPage,
        submitted: Option<(MappingSettings, FieldErrors)>,
        companies: Option<&ObjectSchema>,
        contacts: Option<&ObjectSchema>,
    ) -> ConsoleResult<()> {
        let stored = api::get_mapping(self.st(), self.auth.clone()).await?.0;
        page.mapping = Some(mapping_view(
            &stored,
            companies,
            contacts,
            &page.webhook_status,
        ));
        page.mapping_open = submitted.is_some();
        let (edited, errors) = submitted.unwrap_or((stored, FieldErrors::none()));
        page.editor = Some(mapping_view(
            &edited,
            companies,
            contacts,
            &page.webhook_status,
        ));
        page.mapping_errors = errors;
        Ok(())
    }

    async fn matrix(
        &self,
        page: &mut HubSpotPage,
        submitted: Option<(SyncMatrix, FieldErrors)>,
        prerequisites: &[crate::error::ErrorDetail],
    ) -> ConsoleResult<()> {
        let stored = api::get_sync(self.st(), self.auth.clone()).await?.0;
        page.agency_inbound_on = stored.agency.inbound;
        page.agent_inbound_on = stored.agents.inbound;
        page.inbound_on =
            stored.agency.inbound || stored.agents.inbound || stored.agency_contacts.inbound;
        let (matrix, errors) = submitted.unwrap_or((stored, FieldErrors::none()));
        page.matrix = matrix_view(&matrix, prerequisites, &errors);
        page.matrix_errors = errors;
        Ok(())
    }

    /// The auto-invite editor and the invitations that need a person's decision.
    async fn invitations(
        &self,
        page: &mut HubSpotPage,
        submitted: Option<(InvitationSettings, FieldErrors)>,
        companies: Option<&ObjectSchema>,
    ) -> ConsoleResult<()> {
        // Contract rules and the invitations needing attention belong to the integration's
        // settings (integrations:read, checked above), not to the records area: read them from
        // the store as the records handlers do.
        let org = &self.session.caller.org;
        let templates = self
            .state
            .db()
            .list_contract_templates(org)
            .await
            .map_err(crate::error::ApiError::from)?;
        page.contract_templates = templates
            .into_iter()
            .map(|t| (t.id.to_string(), t.name))
            .collect();
        let (settings, errors) = match submitted {
            Some(submitted) => submitted,
            None => (
                api::get_invitations(self.st(), self.auth.clone()).await?.0,
                FieldErrors::none(),
            ),
        };
        page.invitations = Some(invitations_view(
            &settings,
            companies,
            page.contract_templates.clone(),
        ));
        page.invitations_errors = errors;
        let waiting = crate::store::InvitationFilter {
            agency: None,
            status: Some(crate::store::InvitationStatus::NeedsAttention),
        };
        page.needs_attention = self
            .state
            .db()
            .invitation_page(org, &waiting, None, NEEDS_ATTENTION_SHOWN)
            .await
            .map_err(crate::error::ApiError::from)?
            .into_iter()
            .map(AttentionRow::of)
            .collect();
        Ok(())
    }

    /// One page of recent activity, of one outcome when the filter asks (the API filters).
    async fn activity(&self, page: &mut HubSpotPage, query: PageQuery) -> ConsoleResult<()> {
        let status = query
            .activity_status
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| serde_json::from_value(serde_json::Value::String(s.to_owned())).ok());
        let params = api::ActivityParams {
            cursor: query.activity_cursor,
            limit: Some(ACTIVITY_PAGE),
            status,
        };
        let Json(list) = api::activity(
            self.st(),
            self.auth.clone(),
            crate::http::extract::Query(params),
        )
        .await?;
        page.activity = list.entries.into_iter().map(ActivityRow::of).collect();
        page.activity_next = list.next_cursor;
        Ok(())
    }

    async fn latest_reconciliation(&self) -> ConsoleResult<Option<ReconView>> {
        let newest = PageParams {
            cursor: None,
            limit: Some(1),
        };
        let Json(jobs) = recon::list(
            self.st(),
            self.auth.clone(),
            crate::http::extract::Query(newest),
        )
        .await?;
        Ok(jobs.entries.into_iter().next().map(recon_view))
    }
}

async fn page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    session: Signed,
) -> ConsoleResult {
    Ok(render(
        &load_page(&state, &session, query, Overrides::default()).await?,
    ))
}

/// The page again, with a form's input and errors, answered 422.
async fn rerender(state: &AppState, session: &Signed, o: Overrides) -> ConsoleResult {
    let page = load_page(state, session, PageQuery::default(), o).await?;
    let mut response = render(&page);
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

async fn saved(state: &AppState, session: &Signed, text: &str, anchor: &str) -> ConsoleResult {
    session.flash(state, "success", text).await;
    Ok(Redirect::to(&format!("{PAGE}#{anchor}")).into_response())
}

impl HubSpotPage {
    /// The page of an organization with nothing connected (what every section starts from).
    pub(super) fn empty(l: Layout, state: &AppState, session: &Signed, query: &PageQuery) -> Self {
        HubSpotPage {
            l,
            premium_gate: false,
            status_key: status_key(ConnectionStatus::NotConnected),
            status_label: status_label(ConnectionStatus::NotConnected),
            connected: false,
            portal: String::new(),
            auth_method: String::new(),
            connected_at: String::new(),
            connected_by: String::new(),
            connection_error: None,
            paused_until: None,
            health: None,
            oauth_available: state.oauth().is_some(),
            can_create: session.can(Area::Integrations, Capability::Create),
            can_update: session.can(Area::Integrations, Capability::Update),
            can_delete: session.can(Area::Integrations, Capability::Delete),
            delete_reminder: api::DELETE_REMINDER,
            private_app_portal: String::new(),
            private_app_errors: FieldErrors::none(),
            reconnect_errors: FieldErrors::none(),
            properties_error: None,
            identifier_configured: false,
            mapping_warning: None,
            mapping: None,
            editor: None,
            mapping_errors: FieldErrors::none(),
            mapping_open: false,
            operators: operators(),
            matrix: Vec::new(),
            matrix_errors: FieldErrors::none(),
            inbound_on: false,
            agency_inbound_on: false,
            agent_inbound_on: false,
            invitations: None,
            invitations_errors: FieldErrors::none(),
            invitations_locked: None,
            needs_attention: Vec::new(),
            contract_templates: Vec::new(),
            webhook_status: Vec::new(),
            activity: Vec::new(),
            activity_status: query.activity_status.clone().unwrap_or_default(),
            activity_next: None,
            activity_first_page: query.activity_cursor.is_none(),
            reconciliation: None,
            recon_errors: FieldErrors::none(),
        }
    }

    /// The connection panel, from the API's view of the integration.
    pub(super) fn show_connection(&mut self, view: &api::HubSpotView) {
        self.status_key = status_key(view.status);
        self.status_label = status_label(view.status);
        self.connected = view.status != ConnectionStatus::NotConnected;
        self.portal = view.portal_id.map(|p| p.to_string()).unwrap_or_default();
        self.auth_method = match view.auth {
            Some("oauth") => "OAuth (public app)".to_owned(),
            Some("private_app") => "Private-app token".to_owned(),
            other => other.unwrap_or_default().to_owned(),
        };
        self.connected_at = view
            .connected_at
            .as_ref()
            .map(crate::console::when)
            .unwrap_or_default();
        self.connected_by = view.connected_by.clone().unwrap_or_default();
        self.connection_error = view.error.clone();
        self.paused_until = view.sync_paused_until.as_ref().map(crate::console::when);
        self.health = view
            .health
            .as_ref()
            .map(crate::console::integrations::HealthLine::of);
        self.identifier_configured = view.agency_identifier_configured;
        self.mapping_warning = view.mapping_warning;
        self.invitations_locked = view.invitations_locked;
    }
}
