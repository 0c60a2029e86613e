//! Turris → HubSpot: what to write for one saved record.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::{IdentifierFilter, Operator};
use crate::ids::HubSpotId;
use crate::mapping::{MappedField, RecordMapping};
use crate::matrix::{Direction, SyncMatrix};
use crate::property::PropertyMap;

/// Why an outbound push is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum OutboundSkipReason {
    /// Outbound sync is off for this object.
    #[error("turris → hubspot sync is off")]
    OutboundDisabled,
    /// No mapped field changed.
    #[error("no mapped field changed")]
    NoChanges,
}

/// What to push to HubSpot for a new or updated Turris record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OutboundAction {
    /// Create the HubSpot object with these properties (unset fields left out), then store
    /// the link.
    Create {
        /// The properties.
        properties: PropertyMap,
    },
    /// Update the linked HubSpot object (`null` clears a property).
    Update {
        /// The linked object.
        object_id: HubSpotId,
        /// Only the properties whose field changed.
        properties: PropertyMap,
    },
    /// Push nothing.
    Skip {
        /// Why.
        reason: OutboundSkipReason,
    },
}

/// Plans the outbound push of a Turris record: create when unlinked, otherwise update the
/// mapped fields that differ from `previous` (every mapped field when `previous` is unknown).
/// A create also sets the identifier property when the filter names its value (`equals`, or
/// the first `is_one_of` value) and no mapped field writes it, so the new HubSpot record is
/// recognised as one of ours.
/// Record the pushed values with [`recent_writes`] so their webhook echoes are recognised.
///
/// ```
/// use turris_core::mapping::{AgencyMapping, MappingSettings};
/// use turris_core::matrix::{Direction, SyncMatrix, SyncObject};
/// use turris_core::planner::{OutboundAction, plan_outbound};
/// use turris_core::record::AgencyDraft;
///
/// let mapping = AgencyMapping::default();
/// let mut matrix = SyncMatrix::default();
/// matrix.enable(SyncObject::Agency, Direction::Outbound, &MappingSettings::default()).unwrap();
/// let OutboundAction::Create { properties } = plan_outbound(&mapping, &matrix, &AgencyDraft::named("Acme"), None, None) else {
///     panic!("an unlinked record is created");
/// };
/// assert_eq!(properties.get("name"), Some("Acme"));
/// ```
pub fn plan_outbound<M: RecordMapping>(
    mapping: &M,
    matrix: &SyncMatrix,
    draft: &M::Draft,
    previous: Option<&M::Draft>,
    link: Option<&HubSpotId>,
) -> OutboundAction {
    plan_outbound_after(mapping, matrix, draft, previous, &BTreeMap::new(), link)
}

/// [`plan_outbound`] for a record with edits not yet pushed: `edited` are the properties
/// Turris edited since the record's oldest pending edit ([`property_edit_times`]). An update
/// writes every field that differs from `previous` (the data before that edit) and every
/// edited property, even one edited back to its value in `previous`: HubSpot may hold
/// something else by now, a user's edit that the newer Turris edit superseded, or a push of
/// ours that HubSpot took while we never heard its answer (a killed process, a 5xx after
/// HubSpot acted), so diffing against `previous` alone would leave it standing. A property
/// Turris did not edit is left out: HubSpot may hold a newer edit of it, and this push could
/// not date it.
///
/// [`property_edit_times`]: super::property_edit_times
///
/// ```
/// use chrono::Utc;
/// use turris_core::ids::HubSpotId;
/// use turris_core::mapping::{AgencyMapping, MappingSettings};
/// use turris_core::matrix::{Direction, SyncMatrix, SyncObject};
/// use turris_core::planner::{OutboundAction, plan_outbound_after};
/// use turris_core::record::AgencyDraft;
///
/// let mut matrix = SyncMatrix::default();
/// matrix.enable(SyncObject::Agency, Direction::Outbound, &MappingSettings::default()).unwrap();
/// let company = HubSpotId::parse("101").unwrap();
/// // Turris' name went Acme → Apex → Acme again before either edit was pushed.
/// let acme = AgencyDraft::named("Acme");
/// let edited = [("name".to_owned(), Utc::now())].into();
/// let action = plan_outbound_after(&AgencyMapping::default(), &matrix, &acme, Some(&acme), &edited, Some(&company));
/// let OutboundAction::Update { properties, .. } = action else { panic!("{action:?}") };
/// assert_eq!(properties.get("name"), Some("Acme"));
/// ```
pub fn plan_outbound_after<M: RecordMapping>(
    mapping: &M,
    matrix: &SyncMatrix,
    draft: &M::Draft,
    previous: Option<&M::Draft>,
    edited: &BTreeMap<String, DateTime<Utc>>,
    link: Option<&HubSpotId>,
) -> OutboundAction {
    if !matrix.is_enabled(M::SYNC_OBJECT, Direction::Outbound) {
        return OutboundAction::Skip {
            reason: OutboundSkipReason::OutboundDisabled,
        };
    }
    let Some(object_id) = link else {
        let mut properties: PropertyMap = mapping
            .mapped()
            .into_iter()
            .filter_map(|(field, property)| {
                field.get(draft).map(|v| (property.to_owned(), Some(v)))
            })
            .collect();
        match identifier_value(mapping.identifier()) {
            Some((property, value)) if !properties.contains(property) => {
                properties.insert(property, Some(value.to_owned()));
            }
            _ => {}
        }
        return OutboundAction::Create { properties };
    };
    let properties: PropertyMap = mapping
        .mapped()
        .into_iter()
        .filter(|(field, property)| {
            previous.is_none_or(|p| field.get(p) != field.get(draft))
                || edited.contains_key(*property)
        })
        .map(|(field, property)| (property.to_owned(), field.get(draft)))
        .collect();
    if properties.is_empty() {
        return OutboundAction::Skip {
            reason: OutboundSkipReason::NoChanges,
        };
    }
    OutboundAction::Update {
        object_id: object_id.clone(),
        properties,
    }
}

/// The property value that makes a new HubSpot record satisfy the identifier filter, when the
/// filter names one: `equals` its value, `is_one_of` its first value.
fn identifier_value(filter: Option<&IdentifierFilter>) -> Option<(&str, &str)> {
    let IdentifierFilter::ApplyFilter(condition) = filter? else {
        return None;
    };
    let property = condition.property.as_deref().filter(|p| !p.is_empty())?;
    let value = match condition.operator? {
        Operator::Equals => condition.value.as_deref(),
        Operator::IsOneOf => condition
            .values
            .as_ref()
            .and_then(|v| v.first())
            .map(String::as_str),
        _ => None,
    }?;
    (!value.is_empty()).then_some((property, value))
}
