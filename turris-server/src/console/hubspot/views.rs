//! The page's view models (what the templates show) and the forms read back from them.

use askama::Template;

use serde::Serialize;
use turris_core::filter::{Condition, IdentifierFilter, Operator};
use turris_core::invitation::{InvitationMode, InvitationSettings};
use turris_core::mapping::{
    AgencyContactField, AgencyContactMapping, AgencyField, AgentField, AgentMapping, MappedField,
    MappingSettings, RecordMapping,
};
use turris_core::matrix::{Direction, SyncMatrix, SyncObject};
use turris_core::property::{ObjectSchema, PropertyDefinition};

use crate::console::{FieldErrors, Layout};
use crate::http::integrations::{self as api};
use crate::http::reconciliation::{self as recon};

/// A wire name (`success`, `is_one_of`) of a serde enum.
pub(super) fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(super) fn operator_label(op: Operator) -> &'static str {
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
pub(super) struct PropOption {
    pub(super) name: String,
    pub(super) label: String,
    /// Its options, as JSON, for the value pickers (empty for free-text properties).
    pub(super) choices: String,
}

/// A property's options as the value pickers read them (`[{"label", "value"}]`), or empty.
fn choices(property: &PropertyDefinition) -> String {
    if property.options.is_empty() {
        return String::new();
    }
    serde_json::to_string(&property.options).unwrap_or_default()
}

pub(super) fn options(schema: Option<&ObjectSchema>, filterable_only: bool) -> Vec<PropOption> {
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
            choices: choices(p),
        })
        .collect();
    props.sort_by_key(|p| p.label.to_lowercase());
    props
}

/// An operator in a picker.
pub(super) struct OpOption {
    pub(super) value: &'static str,
    pub(super) label: &'static str,
}

pub(super) fn operators() -> Vec<OpOption> {
    Operator::ALL
        .iter()
        .map(|&op| OpOption {
            value: op.as_str(),
            label: operator_label(op),
        })
        .collect()
}

/// A condition editor (identifier filters, the invitation filter, contract rules).
pub(super) struct ConditionView {
    /// The form-field prefix (`agency.identifier`).
    pub(super) prefix: String,
    /// `none`, `sync_all`, `apply_filter` (identifier filters only).
    pub(super) mode: String,
    pub(super) property: String,
    pub(super) operator: String,
    pub(super) value: String,
    pub(super) values: String,
    pub(super) options: Vec<PropOption>,
}

impl ConditionView {
    pub(super) fn of(
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

    pub(super) fn of_filter(
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

/// A mapping row.
pub(super) struct FieldRow {
    pub(super) name: String,
    pub(super) label: &'static str,
    pub(super) required: bool,
    pub(super) current: String,
    pub(super) webhook: Option<(String, String)>,
}

/// The mapping, for the summary tables and the editor.
pub(super) struct MappingView {
    pub(super) agency_filter: ConditionView,
    pub(super) agent_filter: ConditionView,
    pub(super) agency: Vec<FieldRow>,
    pub(super) agent: Vec<FieldRow>,
    pub(super) agent_configured: bool,
    pub(super) contact: Vec<(&'static str, String)>,
    pub(super) company_props: Vec<PropOption>,
    pub(super) contact_props: Vec<PropOption>,
}

pub(super) fn webhook_badge(
    statuses: &[WebhookRow],
    object: &str,
    property: &str,
) -> Option<(String, String)> {
    statuses
        .iter()
        .find(|w| w.object == object && w.property == property)
        .map(|w| (w.status.clone(), w.label.clone()))
}

pub(super) fn mapping_view(
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
pub(super) struct Toggle {
    pub(super) name: String,
    pub(super) on: bool,
    /// Why it cannot be turned on (what is missing), when it is off.
    pub(super) missing: Vec<String>,
    pub(super) error: Option<String>,
}

/// A column of the matrix.
pub(super) struct MatrixColumn {
    pub(super) title: &'static str,
    pub(super) subtitle: &'static str,
    pub(super) inbound: Toggle,
    pub(super) outbound: Toggle,
}

pub(super) fn matrix_view(
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

/// A contract rule in the editor.
pub(super) struct RuleView {
    pub(super) condition: ConditionView,
    pub(super) template: String,
}

/// The invitation settings in the editor.
pub(super) struct InvitationsView {
    pub(super) mode: String,
    pub(super) condition: ConditionView,
    pub(super) rules: Vec<RuleView>,
    pub(super) use_default: bool,
    pub(super) default_template: String,
    pub(super) templates: Vec<(String, String)>,
}

pub(super) fn invitations_view(
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

/// A per-property webhook status.
pub(super) struct WebhookRow {
    pub(super) object: String,
    pub(super) property: String,
    pub(super) status: String,
    pub(super) label: String,
    pub(super) message: Option<String>,
}

/// An activity row.
pub(super) struct ActivityRow {
    pub(super) title: &'static str,
    pub(super) direction: String,
    pub(super) status: String,
    pub(super) at: String,
    pub(super) details: Vec<(String, String)>,
}

impl WebhookRow {
    pub(super) fn of(p: api::PropertyWebhookStatus) -> Self {
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
    }
}

impl ActivityRow {
    pub(super) fn of(entry: api::ActivityEntry) -> Self {
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
        ActivityRow {
            title: entry.title,
            direction: wire(&entry.direction),
            status: wire(&entry.status),
            at: crate::console::when(&entry.at),
            details,
        }
    }
}

/// A needs-attention invitation.
pub(super) struct AttentionRow {
    pub(super) id: String,
    pub(super) agency_id: String,
    pub(super) created: String,
}

impl AttentionRow {
    pub(super) fn of(invitation: crate::store::Invitation) -> Self {
        AttentionRow {
            id: invitation.id.0.to_string(),
            agency_id: invitation.agency_id.to_string(),
            created: crate::console::when(&invitation.created_at),
        }
    }
}

/// A reconciliation, as the progress card shows it.
pub(super) struct ReconView {
    pub(super) id: String,
    pub(super) object: &'static str,
    pub(super) status: String,
    pub(super) running: bool,
    pub(super) counts: Vec<(String, String)>,
    pub(super) error: Option<String>,
    pub(super) started: String,
}

pub(super) fn recon_view(r: recon::Reconciliation) -> ReconView {
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
        started: crate::console::when(&r.created_at),
    }
}

#[derive(Template)]
#[template(path = "console/hubspot.html")]
pub(super) struct HubSpotPage {
    pub(super) l: Layout,
    pub(super) premium_gate: bool,
    pub(super) status_key: &'static str,
    pub(super) status_label: &'static str,
    pub(super) connected: bool,
    pub(super) portal: String,
    pub(super) auth_method: String,
    pub(super) connected_at: String,
    pub(super) connected_by: String,
    pub(super) connection_error: Option<String>,
    pub(super) paused_until: Option<String>,
    pub(super) health: Option<crate::console::integrations::HealthLine>,
    pub(super) oauth_available: bool,
    pub(super) can_create: bool,
    pub(super) can_update: bool,
    pub(super) can_delete: bool,
    pub(super) delete_reminder: &'static str,
    pub(super) private_app_portal: String,
    pub(super) private_app_errors: FieldErrors,
    pub(super) reconnect_errors: FieldErrors,
    pub(super) properties_error: Option<String>,
    pub(super) identifier_configured: bool,
    pub(super) mapping_warning: Option<&'static str>,
    pub(super) mapping: Option<MappingView>,
    pub(super) editor: Option<MappingView>,
    pub(super) mapping_errors: FieldErrors,
    pub(super) mapping_open: bool,
    pub(super) operators: Vec<OpOption>,
    pub(super) matrix: Vec<MatrixColumn>,
    pub(super) matrix_errors: FieldErrors,
    pub(super) inbound_on: bool,
    pub(super) agency_inbound_on: bool,
    pub(super) agent_inbound_on: bool,
    pub(super) invitations: Option<InvitationsView>,
    pub(super) invitations_errors: FieldErrors,
    pub(super) invitations_locked: Option<&'static str>,
    pub(super) needs_attention: Vec<AttentionRow>,
    pub(super) contract_templates: Vec<(String, String)>,
    pub(super) webhook_status: Vec<WebhookRow>,
    pub(super) activity: Vec<ActivityRow>,
    pub(super) activity_status: String,
    pub(super) activity_next: Option<String>,
    pub(super) activity_first_page: bool,
    pub(super) reconciliation: Option<ReconView>,
    pub(super) recon_errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/reconciliation_partial.html")]
pub(super) struct ReconPartial {
    pub(super) r: ReconView,
}
