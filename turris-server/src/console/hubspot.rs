//! The HubSpot Integration management view: connection (OAuth round trip, private app,
//! reconnect, delete), field mapping with identifier filters, the sync matrix, agency
//! invitations, per-property webhook status, recent activity and bulk reconciliation.
//!
//! Reads and writes go through the API's handlers (`crate::http::integrations`,
//! `crate::http::reconciliation`); a 422 re-renders the page with each problem at the field
//! its path names.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use turris_core::filter::{Condition, IdentifierFilter, Operand, Operator};
use turris_core::integration::ConnectionStatus;
use turris_core::invitation::{ContractRule, InvitationMode, InvitationSettings};
use turris_core::mapping::{
    AgencyContactField, AgencyContactMapping, AgencyField, AgencyMapping, AgentField, AgentMapping,
    MappedField, MappingSettings, RecordMapping,
};
use turris_core::matrix::{Direction, SyncMatrix, SyncObject};
use turris_core::permissions::{Area, Capability};
use turris_core::property::ObjectSchema;

use super::errors::render;
use super::integrations::{go_to_hubspot, refused_to, status_key, status_label};
use super::{
    ConsoleError, ConsoleResult, FieldErrors, FormData, Layout, Posted, Signed, is_validation,
};
use crate::app::AppState;
use crate::auth::{IntegrationsCreate, IntegrationsDelete, IntegrationsRead, IntegrationsUpdate};
use crate::crypto::SecretString;
use crate::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::integrations::{self as api, PrivateAppConnect, PrivateAppReconnect};
use crate::http::pagination::PageParams;
use crate::http::reconciliation::{self as recon, StartReconciliation};

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

/// A wire name (`success`, `is_one_of`) of a serde enum.
fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn operator_of(text: &str) -> Option<Operator> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

fn operator_label(op: Operator) -> &'static str {
    match op {
        Operator::Equals => "Equals",
        Operator::IsPopulated => "Is populated",
        Operator::IsNotPopulated => "Is not populated",
        Operator::IsOneOf => "Is one of",
        Operator::Contains => "Contains",
        Operator::IsANumber => "Is a number",
    }
}

// ---------------------------------------------------------------------------------------------
// View models

/// A property in a picker.
pub struct PropOption {
    name: String,
    label: String,
}

fn options(schema: Option<&ObjectSchema>, filterable_only: bool) -> Vec<PropOption> {
    let Some(schema) = schema else {
        return Vec::new();
    };
    let mut props: Vec<_> = schema
        .properties
        .iter()
        .filter(|p| !filterable_only || p.property_type.is_filterable())
        .map(|p| PropOption {
            name: p.name.clone(),
            label: format!("{} ({} · {})", p.label, p.name, p.property_type.as_str()),
        })
        .collect();
    props.sort_by_key(|p| p.label.to_lowercase());
    props
}

/// An operator in a picker.
pub struct OpOption {
    value: &'static str,
    label: &'static str,
}

fn operators() -> Vec<OpOption> {
    Operator::ALL
        .iter()
        .map(|&op| OpOption {
            value: op.as_str(),
            label: operator_label(op),
        })
        .collect()
}

/// A condition editor (identifier filters, the invitation filter, contract rules).
pub struct ConditionView {
    /// The form-field prefix (`agency.identifier`).
    prefix: String,
    /// `none`, `sync_all`, `apply_filter` (identifier filters only).
    mode: String,
    property: String,
    operator: String,
    value: String,
    values: String,
    options: Vec<PropOption>,
}

impl ConditionView {
    fn of(
        prefix: &str,
        mode: &str,
        condition: Option<&Condition>,
        options: Vec<PropOption>,
    ) -> Self {
        let c = condition.cloned().unwrap_or_default();
        Self {
            prefix: prefix.to_owned(),
            mode: mode.to_owned(),
            property: c.property.unwrap_or_default(),
            operator: c
                .operator
                .map(|o| o.as_str().to_owned())
                .unwrap_or_default(),
            value: c.value.unwrap_or_default(),
            values: c.values.unwrap_or_default().join("\n"),
            options,
        }
    }

    fn of_filter(
        prefix: &str,
        filter: Option<&IdentifierFilter>,
        options: Vec<PropOption>,
    ) -> Self {
        match filter {
            None => Self::of(prefix, "none", None, options),
            Some(IdentifierFilter::SyncAll) => Self::of(prefix, "sync_all", None, options),
            Some(IdentifierFilter::ApplyFilter(c)) => {
                Self::of(prefix, "apply_filter", Some(c), options)
            }
        }
    }
}

/// Reads a condition from `{prefix}.property`, `.operator`, `.value`, `.values`. Values are
/// kept exactly as typed (comparisons are case- and whitespace-sensitive); `values` is one
/// per line.
fn condition_from(form: &FormData, prefix: &str) -> Condition {
    let property = form.non_empty(&format!("{prefix}.property"));
    let operator = form
        .get(&format!("{prefix}.operator"))
        .and_then(operator_of);
    let value = form.non_empty(&format!("{prefix}.value"));
    let values: Vec<String> = form
        .get(&format!("{prefix}.values"))
        .unwrap_or_default()
        .split('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v).to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let (value, values) = match operator.map(Operator::operand) {
        Some(Operand::Value) => (value, None),
        Some(Operand::Values) => (None, Some(values)),
        Some(Operand::None) => (None, None),
        None => (value, None),
    };
    Condition {
        property,
        operator,
        value,
        values,
    }
}

fn filter_from(form: &FormData, prefix: &str) -> Option<IdentifierFilter> {
    match form.get(&format!("{prefix}.mode")) {
        Some("sync_all") => Some(IdentifierFilter::SyncAll),
        Some("apply_filter") => Some(IdentifierFilter::ApplyFilter(condition_from(form, prefix))),
        _ => None,
    }
}

fn mapping_from(form: &FormData) -> MappingSettings {
    let mut agency = AgencyMapping {
        identifier: filter_from(form, "agency.identifier"),
        ..AgencyMapping::default()
    };
    for &field in AgencyField::ALL {
        agency.set(
            field,
            form.non_empty(&format!("agency.{}", field.key()))
                .as_deref(),
        );
    }
    let agent = filter_from(form, "agent.identifier").map(|identifier| {
        let mut agent = AgentMapping {
            identifier: Some(identifier),
            ..AgentMapping::default()
        };
        for &field in AgentField::ALL {
            agent.set(
                field,
                form.non_empty(&format!("agent.{}", field.key())).as_deref(),
            );
        }
        agent
    });
    MappingSettings { agency, agent }
}

/// A mapping row.
pub struct FieldRow {
    name: String,
    label: &'static str,
    required: bool,
    current: String,
    webhook: Option<(String, String)>,
}

/// The mapping, for the summary tables and the editor.
pub struct MappingView {
    agency_filter: ConditionView,
    agent_filter: ConditionView,
    agency: Vec<FieldRow>,
    agent: Vec<FieldRow>,
    agent_configured: bool,
    contact: Vec<(&'static str, String)>,
    company_props: Vec<PropOption>,
    contact_props: Vec<PropOption>,
}

fn webhook_badge(
    statuses: &[WebhookRow],
    object: &str,
    property: &str,
) -> Option<(String, String)> {
    statuses
        .iter()
        .find(|w| w.object == object && w.property == property)
        .map(|w| (w.status.clone(), w.label.clone()))
}

fn mapping_view(
    mapping: &MappingSettings,
    companies: Option<&ObjectSchema>,
    contacts: Option<&ObjectSchema>,
    statuses: &[WebhookRow],
) -> MappingView {
    let agency = AgencyField::ALL
        .iter()
        .map(|&f| {
            let current = mapping.agency.property(f).unwrap_or_default().to_owned();
            FieldRow {
                name: format!("agency.{}", f.key()),
                label: f.label(),
                required: f.is_required(),
                webhook: webhook_badge(statuses, "company", &current),
                current,
            }
        })
        .collect();
    let default_agent = AgentMapping::default();
    let agent_mapping = mapping.agent.as_ref().unwrap_or(&default_agent);
    let agent = AgentField::ALL
        .iter()
        .map(|&f| {
            let current = agent_mapping.property(f).unwrap_or_default().to_owned();
            FieldRow {
                name: format!("agent.{}", f.key()),
                label: f.label(),
                required: f.is_required(),
                webhook: webhook_badge(statuses, "contact", &current),
                current,
            }
        })
        .collect();
    let contact_mapping = AgencyContactMapping::from_settings(mapping);
    let contact = AgencyContactField::ALL
        .iter()
        .map(|&f| {
            (
                f.label(),
                contact_mapping.property(f).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    MappingView {
        agency_filter: ConditionView::of_filter(
            "agency.identifier",
            mapping.agency.identifier.as_ref(),
            options(companies, true),
        ),
        agent_filter: ConditionView::of_filter(
            "agent.identifier",
            mapping.agent.as_ref().and_then(|a| a.identifier.as_ref()),
            options(contacts, true),
        ),
        agency,
        agent,
        agent_configured: mapping.agent.is_some(),
        contact,
        company_props: options(companies, false),
        contact_props: options(contacts, false),
    }
}

/// One toggle of the matrix.
pub struct Toggle {
    name: String,
    on: bool,
    /// Why it cannot be turned on (what is missing), when it is off.
    missing: Vec<String>,
    error: Option<String>,
}

/// A column of the matrix.
pub struct MatrixColumn {
    title: &'static str,
    subtitle: &'static str,
    inbound: Toggle,
    outbound: Toggle,
}

fn matrix_view(
    matrix: &SyncMatrix,
    prerequisites: &[crate::error::ErrorDetail],
    errors: &FieldErrors,
) -> Vec<MatrixColumn> {
    let toggle = |object: SyncObject, direction: Direction| {
        let name = format!("{}.{}", object.as_str(), direction.as_str());
        Toggle {
            on: matrix.is_enabled(object, direction),
            missing: prerequisites
                .iter()
                .filter(|d| d.path == name)
                .map(|d| d.message.clone())
                .collect(),
            error: errors.get(&name).map(str::to_owned),
            name,
        }
    };
    SyncObject::ALL
        .iter()
        .map(|&object| MatrixColumn {
            title: match object {
                SyncObject::Agency => "Agency",
                SyncObject::AgencyContacts => "Agency Contacts",
                SyncObject::Agents => "Agents",
            },
            subtitle: match object {
                SyncObject::Agency => "HubSpot Companies ↔ Turris Agencies",
                SyncObject::AgencyContacts => "HubSpot Contacts ↔ Turris Agency Contacts",
                SyncObject::Agents => "HubSpot Contacts ↔ Turris Agents",
            },
            inbound: toggle(object, Direction::Inbound),
            outbound: toggle(object, Direction::Outbound),
        })
        .collect()
}

fn matrix_from(form: &FormData) -> SyncMatrix {
    let mut matrix = SyncMatrix::default();
    for object in SyncObject::ALL {
        for direction in [Direction::Inbound, Direction::Outbound] {
            if form.checked(&format!("{}.{}", object.as_str(), direction.as_str())) {
                let toggles = match object {
                    SyncObject::Agency => &mut matrix.agency,
                    SyncObject::AgencyContacts => &mut matrix.agency_contacts,
                    SyncObject::Agents => &mut matrix.agents,
                };
                match direction {
                    Direction::Inbound => toggles.inbound = true,
                    Direction::Outbound => toggles.outbound = true,
                }
            }
        }
    }
    matrix
}

/// A contract rule in the editor.
pub struct RuleView {
    condition: ConditionView,
    template: String,
}

/// The invitation settings in the editor.
pub struct InvitationsView {
    mode: String,
    condition: ConditionView,
    rules: Vec<RuleView>,
    use_default: bool,
    default_template: String,
    templates: Vec<(String, String)>,
}

fn invitations_view(
    settings: &InvitationSettings,
    companies: Option<&ObjectSchema>,
    templates: Vec<(String, String)>,
) -> InvitationsView {
    let (mode, condition) = match &settings.mode {
        InvitationMode::DoNotInvite => ("do_not_invite", None),
        InvitationMode::InviteAll => ("invite_all", None),
        InvitationMode::ApplyFilter { condition } => ("apply_filter", Some(condition)),
    };
    InvitationsView {
        mode: mode.to_owned(),
        condition: ConditionView::of("condition", "", condition, options(companies, true)),
        rules: settings
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| RuleView {
                condition: ConditionView::of(
                    &format!("rules[{i}].condition"),
                    "",
                    Some(&r.condition),
                    options(companies, true),
                ),
                template: r
                    .template
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        use_default: settings.default_template.is_some(),
        default_template: settings
            .default_template
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        templates,
    }
}

/// Reads the invitation form; `rule_count` rules (`rules[i].condition.*`, `rules[i].template`).
fn invitations_from(form: &FormData) -> InvitationSettings {
    let count: usize = form
        .get("rule_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
        .min(50);
    let mode = match form.get("mode") {
        Some("invite_all") => InvitationMode::InviteAll,
        Some("apply_filter") => InvitationMode::ApplyFilter {
            condition: condition_from(form, "condition"),
        },
        _ => InvitationMode::DoNotInvite,
    };
    let template = |name: &str| {
        form.non_empty(name)
            .and_then(|t| turris_core::ids::ContractTemplateId::parse(&t).ok())
    };
    let rules = (0..count)
        .map(|i| ContractRule {
            condition: condition_from(form, &format!("rules[{i}].condition")),
            template: template(&format!("rules[{i}].template")),
        })
        .collect();
    InvitationSettings {
        mode,
        rules,
        default_template: if form.checked("use_default") {
            template("default_template")
        } else {
            None
        },
    }
}

/// A per-property webhook status.
pub struct WebhookRow {
    object: String,
    property: String,
    status: String,
    label: String,
    message: Option<String>,
}

/// An activity row.
pub struct ActivityRow {
    title: &'static str,
    direction: String,
    status: String,
    at: String,
    details: Vec<(String, String)>,
}

/// A needs-attention invitation.
pub struct AttentionRow {
    id: String,
    agency_id: String,
    created: String,
}

/// A reconciliation, as the progress card shows it.
pub struct ReconView {
    id: String,
    object: &'static str,
    status: String,
    running: bool,
    counts: Vec<(String, String)>,
    error: Option<String>,
    started: String,
}

fn recon_view(r: recon::Reconciliation) -> ReconView {
    let status = wire(&r.status);
    let mut counts = Vec::new();
    if let Some(p) = r.progress.as_object() {
        for key in [
            "phase",
            "pages",
            "seen",
            "paired",
            "created",
            "created_in_hubspot",
            "failed_in_hubspot",
            "already_linked",
            "retries",
        ] {
            if let Some(v) = p.get(key).filter(|v| !v.is_null()) {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                counts.push((key.replace('_', " "), text));
            }
        }
        if let Some(skipped) = p.get("skipped").and_then(|s| s.as_object()) {
            for (reason, n) in skipped {
                counts.push((
                    format!("skipped: {}", reason.replace('_', " ")),
                    n.to_string(),
                ));
            }
        }
    }
    let error = r
        .progress
        .get("error")
        .or_else(|| r.progress.get("last_error"))
        .and_then(|e| {
            e.as_str()
                .map(str::to_owned)
                .or_else(|| Some(e.to_string()))
        })
        .filter(|e| e != "null");
    ReconView {
        id: r.id,
        object: r.object,
        running: status == "running",
        status,
        counts,
        error,
        started: super::when(&r.created_at),
    }
}

#[derive(Template)]
#[template(path = "console/hubspot.html")]
struct HubSpotPage {
    l: Layout,
    premium_gate: bool,
    status_key: &'static str,
    status_label: &'static str,
    connected: bool,
    portal: String,
    auth_method: String,
    connected_at: String,
    connected_by: String,
    connection_error: Option<String>,
    paused_until: Option<String>,
    oauth_available: bool,
    can_create: bool,
    can_update: bool,
    can_delete: bool,
    delete_reminder: &'static str,
    private_app_portal: String,
    private_app_errors: FieldErrors,
    reconnect_errors: FieldErrors,
    properties_error: Option<String>,
    identifier_configured: bool,
    mapping_warning: Option<&'static str>,
    mapping: Option<MappingView>,
    editor: Option<MappingView>,
    mapping_errors: FieldErrors,
    mapping_open: bool,
    operators: Vec<OpOption>,
    matrix: Vec<MatrixColumn>,
    matrix_errors: FieldErrors,
    inbound_on: bool,
    agency_inbound_on: bool,
    agent_inbound_on: bool,
    invitations: Option<InvitationsView>,
    invitations_errors: FieldErrors,
    invitations_locked: Option<&'static str>,
    needs_attention: Vec<AttentionRow>,
    contract_templates: Vec<(String, String)>,
    webhook_status: Vec<WebhookRow>,
    activity: Vec<ActivityRow>,
    activity_status: String,
    activity_next: Option<String>,
    activity_first_page: bool,
    reconciliation: Option<ReconView>,
    recon_errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/reconciliation_partial.html")]
struct ReconPartial {
    r: ReconView,
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

/// Up to this many activity pages are read to fill one filtered page.
const ACTIVITY_SCAN_PAGES: usize = 8;
const ACTIVITY_PAGE: usize = 25;

async fn load_page(
    state: &AppState,
    session: &Signed,
    query: PageQuery,
    o: Overrides,
) -> ConsoleResult<HubSpotPage> {
    let l = session
        .layout(state, "HubSpot Integration", "integrations")
        .await;
    let mut page = HubSpotPage {
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
        oauth_available: state.oauth().is_some(),
        can_create: session.can(Area::Integrations, Capability::Create),
        can_update: session.can(Area::Integrations, Capability::Update),
        can_delete: session.can(Area::Integrations, Capability::Delete),
        delete_reminder: api::DELETE_REMINDER,
        private_app_portal: String::new(),
        private_app_errors: FieldErrors::none(),
        reconnect_errors: o.reconnect.unwrap_or_default(),
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
        recon_errors: o.reconciliation.unwrap_or_default(),
    };
    if let Some((portal, errors)) = o.private_app {
        page.private_app_portal = portal;
        page.private_app_errors = errors;
    }
    let read = |s: &Signed| s.authorize::<IntegrationsRead>();
    let auth = match read(session) {
        Ok(auth) => auth,
        Err(e) if e.status_code() == StatusCode::PAYMENT_REQUIRED => {
            page.premium_gate = true;
            return Ok(page);
        }
        Err(e) => return Err(e.into()),
    };
    let st = || State(state.clone());
    let Json(view) = api::get_hubspot(st(), auth.clone()).await?;
    page.status_key = status_key(view.status);
    page.status_label = status_label(view.status);
    page.connected = view.status != ConnectionStatus::NotConnected;
    page.portal = view.portal_id.map(|p| p.to_string()).unwrap_or_default();
    page.auth_method = match view.auth {
        Some("oauth") => "OAuth (public app)".to_owned(),
        Some("private_app") => "Private-app token".to_owned(),
        other => other.unwrap_or_default().to_owned(),
    };
    page.connected_at = view
        .connected_at
        .as_ref()
        .map(super::when)
        .unwrap_or_default();
    page.connected_by = view.connected_by.clone().unwrap_or_default();
    page.connection_error = view.error.clone();
    page.paused_until = view.sync_paused_until.as_ref().map(super::when);
    page.identifier_configured = view.agency_identifier_configured;
    page.mapping_warning = view.mapping_warning;
    page.invitations_locked = view.invitations_locked;
    if !page.connected {
        return Ok(page);
    }

    // Property discovery feeds the pickers; a failure leaves the rest of the page usable.
    let (companies, contacts) = match api::properties(
        st(),
        auth.clone(),
        crate::http::extract::Query(api::PropertiesParams::default()),
    )
    .await
    {
        Ok(Json(p)) => (Some(p.companies), Some(p.contacts)),
        Err(e) => {
            page.properties_error = Some(e.body().message);
            (None, None)
        }
    };
    let Json(statuses) = api::webhook_status(st(), auth.clone()).await?;
    page.webhook_status = statuses
        .properties
        .into_iter()
        .map(|p| {
            let status = wire(&p.status);
            WebhookRow {
                object: wire(&p.object),
                property: p.property,
                label: match status.as_str() {
                    "live" => "Live".to_owned(),
                    "pending" => "Pending".to_owned(),
                    "managed_in_hubspot" => "Managed in HubSpot".to_owned(),
                    other => other.to_owned(),
                },
                status,
                message: p.message,
            }
        })
        .collect();

    // The summary shows what is saved; the editor what was submitted, when it was refused.
    let stored_mapping = api::get_mapping(st(), auth.clone()).await?.0;
    page.mapping = Some(mapping_view(
        &stored_mapping,
        companies.as_ref(),
        contacts.as_ref(),
        &page.webhook_status,
    ));
    let (edited, mapping_errors) = match o.mapping {
        Some((m, e)) => {
            page.mapping_open = true;
            (m, e)
        }
        None => (stored_mapping, FieldErrors::none()),
    };
    page.editor = Some(mapping_view(
        &edited,
        companies.as_ref(),
        contacts.as_ref(),
        &page.webhook_status,
    ));
    page.mapping_errors = mapping_errors;

    let stored_matrix = api::get_sync(st(), auth.clone()).await?.0;
    page.agency_inbound_on = stored_matrix.agency.inbound;
    page.agent_inbound_on = stored_matrix.agents.inbound;
    page.inbound_on = stored_matrix.agency.inbound
        || stored_matrix.agents.inbound
        || stored_matrix.agency_contacts.inbound;
    let (matrix, matrix_errors) = o.matrix.unwrap_or((stored_matrix, FieldErrors::none()));
    page.matrix = matrix_view(&matrix, &view.sync_prerequisites, &matrix_errors);
    page.matrix_errors = matrix_errors;

    // Contract rules and the invitations needing attention belong to the integration's settings
    // (integrations:read, checked above), not to the records area: read them from the store as
    // the records handlers do.
    let templates = state
        .db()
        .list_contract_templates(&session.caller.org)
        .await
        .map_err(crate::error::ApiError::from)?;
    let templates: Vec<(String, String)> = templates
        .into_iter()
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    page.contract_templates = templates.clone();
    let (invitations, invitations_errors) = match o.invitations {
        Some(x) => x,
        None => (
            api::get_invitations(st(), auth.clone()).await?.0,
            FieldErrors::none(),
        ),
    };
    page.invitations = Some(invitations_view(
        &invitations,
        companies.as_ref(),
        templates,
    ));
    page.invitations_errors = invitations_errors;
    let all_invitations = state
        .db()
        .list_invitations(&session.caller.org, None)
        .await
        .map_err(crate::error::ApiError::from)?;
    page.needs_attention = all_invitations
        .into_iter()
        .filter(|i| i.status == crate::store::InvitationStatus::NeedsAttention)
        .take(20)
        .map(|i| AttentionRow {
            id: i.id.0.to_string(),
            agency_id: i.agency_id.to_string(),
            created: super::when(&i.created_at),
        })
        .collect();

    // Recent activity: cursor pages, filtered by status on the server side of the console.
    let wanted = query.activity_status.filter(|s| !s.is_empty());
    let mut cursor = query.activity_cursor;
    for _ in 0..ACTIVITY_SCAN_PAGES {
        let Json(list) = api::activity(
            st(),
            auth.clone(),
            crate::http::extract::Query(PageParams {
                cursor: cursor.clone(),
                limit: Some(ACTIVITY_PAGE),
            }),
        )
        .await?;
        for entry in list.entries {
            let status = wire(&entry.status);
            if wanted.as_deref().is_some_and(|w| w != status) {
                continue;
            }
            let details = serde_json::to_value(&entry.details)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.replace('_', " "), text)
                })
                .collect();
            page.activity.push(ActivityRow {
                title: entry.title,
                direction: wire(&entry.direction),
                status,
                at: super::when(&entry.at),
                details,
            });
        }
        cursor = list.next_cursor;
        if cursor.is_none() || page.activity.len() >= ACTIVITY_PAGE {
            break;
        }
    }
    page.activity_next = cursor;

    let Json(jobs) = recon::list(
        st(),
        auth,
        crate::http::extract::Query(PageParams {
            cursor: None,
            limit: Some(1),
        }),
    )
    .await?;
    page.reconciliation = jobs.entries.into_iter().next().map(recon_view);
    Ok(page)
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

// ---------------------------------------------------------------------------------------------
// Connection

async fn private_app(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsCreate>()?;
    let portal_text = posted
        .form
        .get("portal_id")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let token = posted.form.get("token").unwrap_or_default().to_owned();
    let Ok(portal_id) = portal_text.parse::<u64>() else {
        let e = ApiError::invalid_field("portal_id", "enter the portal (hub) id: digits only");
        return rerender(
            &state,
            &session,
            Overrides {
                private_app: Some((portal_text, FieldErrors::from_api(&e))),
                ..Overrides::default()
            },
        )
        .await;
    };
    let body = PrivateAppConnect {
        portal_id,
        token: SecretString::new(token),
    };
    match api::connect_private_app(State(state.clone()), auth, Json(body)).await {
        Ok(Json(c)) => {
            saved(
                &state,
                &session,
                &format!("HubSpot is connected (portal {}).", c.portal_id),
                "connection",
            )
            .await
        }
        Err(e) if is_validation(&e) || e.status_code() == StatusCode::BAD_GATEWAY => {
            rerender(
                &state,
                &session,
                Overrides {
                    private_app: Some((portal_text, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

async fn reconnect(State(state): State<AppState>, posted: Posted) -> ConsoleResult<Response> {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    match api::reconnect(State(state.clone()), auth).await {
        Ok(Json(redirect)) => go_to_hubspot(&state, &session, redirect).await,
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

async fn reconnect_private_app(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let body = PrivateAppReconnect {
        token: SecretString::new(posted.form.get("token").unwrap_or_default()),
    };
    match api::reconnect_private_app(State(state.clone()), auth, Json(body)).await {
        Ok(_) => saved(&state, &session, "HubSpot is reconnected.", "connection").await,
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    reconnect: Some(FieldErrors::from_api(&e)),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

async fn delete(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsDelete>()?;
    match api::delete_hubspot(State(state.clone()), auth).await {
        Ok(Json(deleted)) => {
            session
                .flash(
                    &state,
                    "success",
                    &format!("The HubSpot integration was deleted. {}", deleted.reminder),
                )
                .await;
            Ok(Redirect::to("/console/integrations").into_response())
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

async fn save_mapping(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let mapping = mapping_from(&posted.form);
    match api::put_mapping(State(state.clone()), auth, Json(mapping.clone())).await {
        Ok(_) => saved(&state, &session, "Field mapping saved.", "mapping").await,
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    mapping: Some((mapping, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

async fn save_sync(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let matrix = matrix_from(&posted.form);
    match api::put_sync(State(state.clone()), auth, Json(matrix)).await {
        Ok(_) => saved(&state, &session, "Sync settings saved.", "sync").await,
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    matrix: Some((matrix, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

/// Gives a needs-attention invitation the contract the person picked (the API's rules).
async fn assign_contract(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return refused_to(&state, &session, ApiError::not_found("invitation"), PAGE).await;
    };
    let template = posted.form.get("template").unwrap_or_default();
    let body = match turris_core::ids::ContractTemplateId::parse(template) {
        Ok(template) => api::AssignContract { template },
        Err(_) => {
            let e = ApiError::invalid_field("template", "pick a contract template");
            return refused_to(&state, &session, e, PAGE).await;
        }
    };
    let path = crate::http::extract::Path(crate::store::InvitationId(id));
    match api::assign_contract(State(state.clone()), auth, path, Json(body)).await {
        Ok(Json(invitation)) => {
            let text = match invitation.sent_to {
                Some(to) => format!("Invitation sent to {to}."),
                None => "Contract assigned; the invitation is sent once the agency has a contact with an email.".to_owned(),
            };
            saved(&state, &session, &text, "invitations").await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

async fn save_invitations(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let mut settings = invitations_from(&posted.form);
    // Editing the rule list (add, remove, reorder) re-renders without saving.
    let action = posted.form.get("action").unwrap_or("save");
    let index = |prefix: &str| {
        action
            .strip_prefix(prefix)
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|&i| i < settings.rules.len())
    };
    let edited = if action == "add_rule" {
        settings.rules.push(ContractRule::default());
        true
    } else if let Some(i) = index("remove:") {
        settings.rules.remove(i);
        true
    } else if let Some(i) = index("up:") {
        if i > 0 {
            settings.rules.swap(i, i - 1);
        }
        true
    } else if let Some(i) = index("down:") {
        if i + 1 < settings.rules.len() {
            settings.rules.swap(i, i + 1);
        }
        true
    } else {
        false
    };
    if edited {
        let page = load_page(
            &state,
            &session,
            PageQuery::default(),
            Overrides {
                invitations: Some((settings, FieldErrors::none())),
                ..Overrides::default()
            },
        )
        .await?;
        return Ok(render(&page));
    }
    match api::put_invitations(State(state.clone()), auth, Json(settings.clone())).await {
        Ok(_) => {
            saved(
                &state,
                &session,
                "Agency invitation settings saved.",
                "invitations",
            )
            .await
        }
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    invitations: Some((settings, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Reconciliation

async fn start_reconciliation(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let body = StartReconciliation {
        object: posted.form.non_empty("object"),
        create_missing_in_turris: posted.form.checked("create_missing_in_turris"),
        create_missing_in_hubspot: posted.form.checked("create_missing_in_hubspot"),
    };
    match recon::start(State(state.clone()), auth, Json(body)).await {
        Ok(_) => {
            saved(
                &state,
                &session,
                "Bulk reconciliation started.",
                "reconciliation",
            )
            .await
        }
        Err(e) if is_validation(&e) || e.status_code() == StatusCode::CONFLICT => {
            rerender(
                &state,
                &session,
                Overrides {
                    reconciliation: Some(FieldErrors::from_api(&e)),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

/// The progress card alone, which htmx polls while the job runs.
async fn reconciliation_partial(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    session: Signed,
) -> ConsoleResult {
    let auth = session.authorize::<IntegrationsRead>()?;
    let id = uuid::Uuid::parse_str(&id)
        .map(crate::store::JobId)
        .map_err(|_| ConsoleError::Api(ApiError::not_found("reconciliation")))?;
    let Json(r) = recon::get(State(state), auth, Path(id)).await?;
    Ok(render(&ReconPartial { r: recon_view(r) }))
}
