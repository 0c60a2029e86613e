//! The page's forms read back into the API's types: values exactly as typed (the rules are
//! case- and whitespace-sensitive), so a 422 can show them at their fields.

use turris_core::filter::{Condition, IdentifierFilter, Operand, Operator};
use turris_core::invitation::{ContractRule, InvitationMode, InvitationSettings};
use turris_core::mapping::{
    AgencyField, AgencyMapping, AgentField, AgentMapping, MappedField, MappingSettings,
};
use turris_core::matrix::{Direction, SyncMatrix, SyncObject};

use crate::console::FormData;

pub(super) fn operator_of(text: &str) -> Option<Operator> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

/// Reads a condition from `{prefix}.property`, `.operator`, `.value`, `.values`. Values are
/// kept exactly as typed (comparisons are case- and whitespace-sensitive); `values` is one
/// per line.
pub(super) fn condition_from(form: &FormData, prefix: &str) -> Condition {
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

pub(super) fn filter_from(form: &FormData, prefix: &str) -> Option<IdentifierFilter> {
    match form.get(&format!("{prefix}.mode")) {
        Some("sync_all") => Some(IdentifierFilter::SyncAll),
        Some("apply_filter") => Some(IdentifierFilter::ApplyFilter(condition_from(form, prefix))),
        _ => None,
    }
}

pub(super) fn mapping_from(form: &FormData) -> MappingSettings {
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

pub(super) fn matrix_from(form: &FormData) -> SyncMatrix {
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

/// Reads the invitation form; `rule_count` rules (`rules[i].condition.*`, `rules[i].template`).
pub(super) fn invitations_from(form: &FormData) -> InvitationSettings {
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
