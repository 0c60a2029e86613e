//! The sync planner: what to do with one inbound HubSpot change.
//!
//! [`plan`] is a pure function of the change, the mapping, the property schema, the sync
//! matrix, what is already stored (a link, or a match found by the matching keys) and what
//! we recently wrote to HubSpot. It returns one [`SyncAction`]; the caller performs it.
//!
//! Rules (SPEC, "Ongoing sync matrix"), checked in this order:
//! 1. inbound sync off for the object → skip;
//! 2. an echo of our own write (a change HubSpot reports as made by our app, or a
//!    value we wrote moments ago) → skip, so sync never loops; an edit older than a Turris edit
//!    of the same property written after it → skip; an edit our older value may have
//!    overwritten in HubSpot → planned with the edit's value (see [`echo`]);
//! 3. a record not (or no longer) matching the identifier filter → skip; an unlinked record
//!    that starts to match later is created then;
//! 4. unlinked: a match by key → link the existing record; otherwise → create with every
//!    mapped field (custom properties included);
//! 5. linked: a property edit of an unmapped property → skip; of a custom (not
//!    HubSpot-defined) property → skip, "custom property edits do not sync inbound"; of a
//!    standard one → update the fields that changed. A snapshot updates every standard field.
//!
//! A HubSpot contact is an agent or an agency contact: [`contact_role`] decides which before it
//! is planned (agents first when agent inbound is on and the contact matches the agent filter,
//! every other contact of a synced agency an agency contact when that toggle is on). Agency
//! contacts are then planned by the same [`plan`] and [`plan_outbound`], with
//! [`AgencyContactMapping`] (names and email; an unlinked contact matches the agency's contact
//! with the same email). A `*.merge` moves links with [`plan_merge`]. How one object's events
//! in a step become changes is [`events`].

pub mod echo;
pub mod events;

pub use echo::{
    ECHO_WINDOW, EchoInfo, EchoVerdict, RecentWrite, property_edit_times, recent_writes,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::{IdentifierFilter, Operator};
use crate::ids::{AgencyId, HubSpotId};
#[cfg(doc)]
use crate::mapping::AgencyContactMapping;
use crate::mapping::{AgentMapping, FieldSkipReason, MappedField, RecordMapping, SkippedField};
use crate::matching::MatchedBy;
use crate::matrix::{Direction, SyncMatrix, SyncObject};
use crate::property::{ObjectSchema, PropertyMap};
use crate::store::{Link, LinkKind, TurrisRef};

/// What happened in HubSpot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    /// The record was created.
    Created,
    /// One property changed to `value` (as the webhook reported it).
    PropertyChanged {
        /// The property name.
        property: String,
        /// The value the webhook carried.
        value: Option<String>,
    },
    /// A full read of the record (reconciliation), with no specific change.
    Snapshot,
}

/// One inbound change, with the record's current properties (fetched after the event, since
/// HubSpot delivers events unordered; updates use these, not the event's value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundChange {
    /// The HubSpot object id.
    pub object_id: HubSpotId,
    /// What happened.
    pub kind: ChangeKind,
    /// The record's current properties.
    pub properties: PropertyMap,
    /// The id of the integration app that made the change, when an integration made it
    /// (the HubSpot crate reports it from `changeSource` and `sourceId`).
    #[serde(default)]
    pub made_by_app: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// What is already stored for the HubSpot record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing<'a, D> {
    /// Linked to this Turris record's data.
    Linked(&'a D),
    /// Not linked, but a Turris record matched by this key.
    Matched(MatchedBy),
    /// Neither.
    NotFound,
}

/// Why a change is skipped. Messages are stable: the activity log shows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SkipReason {
    /// Inbound sync is off for this object.
    #[error("hubspot → turris sync is off")]
    InboundDisabled,
    /// The change is the echo of our own write.
    #[error("echo of our own write")]
    EchoOfOwnWrite,
    /// A HubSpot edit older than a Turris edit of the same property that was written after
    /// it: the Turris edit is the last write.
    #[error("a newer turris edit of the property wins")]
    SupersededByTurrisEdit,
    /// No identifier filter is configured.
    #[error("identifier filter is not configured")]
    IdentifierNotConfigured,
    /// The record does not match the identifier filter.
    #[error("record does not match the identifier filter")]
    DoesNotMatchIdentifier,
    /// A linked record no longer matches the identifier filter.
    #[error("record no longer matches the identifier filter")]
    NoLongerMatchesIdentifier,
    /// The changed property is not mapped.
    #[error("property is not mapped")]
    PropertyNotMapped,
    /// The changed property is custom.
    #[error("custom property edits do not sync inbound")]
    CustomPropertyEdit,
    /// Nothing mapped changed.
    #[error("no mapped field changed")]
    NoChanges,
    /// A contact whose primary company is not linked to a Turris agency: neither an agent nor
    /// an agency contact.
    #[error("contact is not associated with a synced agency")]
    NotOfASyncedAgency,
    /// A required field is not populated, so no record can be created.
    #[error("required field {field} is not populated")]
    MissingRequiredField {
        /// The field key (`name`, `first_name`).
        field: String,
    },
    /// The only changed value cannot be stored.
    #[error("{field}: {reason}")]
    InvalidValue {
        /// The field key.
        field: String,
        /// Why.
        reason: FieldSkipReason,
    },
}

/// One field an update changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange<F> {
    /// The Turris field.
    pub field: F,
    /// The value before (HubSpot text form).
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SyncAction<D, F> {
    /// Create a Turris record (and link it).
    Create {
        /// The record's data.
        draft: D,
        /// Optional fields that could not be stored.
        skipped: Vec<SkippedField<F>>,
    },
    /// Update the linked record.
    Update {
        /// The fields that change, with their new values.
        changes: Vec<FieldChange<F>>,
        /// Fields whose new values could not be stored.
        skipped: Vec<SkippedField<F>>,
    },
    /// Link the HubSpot record to the matched Turris record.
    Link {
        /// Which key matched.
        matched_by: MatchedBy,
    },
    /// Do nothing.
    Skip {
        /// Why.
        reason: SkipReason,
    },
}

impl<D, F> SyncAction<D, F> {
    fn skip(reason: SkipReason) -> Self {
        SyncAction::Skip { reason }
    }
}

/// The context a change is planned in.
#[derive(Debug, Clone, Copy)]
pub struct PlanContext<'a, M> {
    /// The mapping of this object.
    pub mapping: &'a M,
    /// The cached HubSpot schema of the object (tells standard from custom).
    pub schema: &'a ObjectSchema,
    /// The sync matrix.
    pub matrix: &'a SyncMatrix,
    /// Our own writes.
    pub echo: EchoInfo<'a>,
}

/// Plans one inbound change. See the module docs for the rules.
///
/// ```
/// use chrono::Utc;
/// use turris_core::mapping::{AgencyMapping, MappingSettings};
/// use turris_core::matrix::{Direction, SyncMatrix, SyncObject};
/// use turris_core::planner::{plan, ChangeKind, EchoInfo, Existing, InboundChange, PlanContext, SyncAction};
/// use turris_core::property::{ObjectSchema, ObjectType};
/// use turris_core::{Condition, IdentifierFilter, PropertyMap, ids::HubSpotId};
///
/// let mapping = AgencyMapping {
///     identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals("type", "Agency"))),
///     ..AgencyMapping::default()
/// };
/// let mut matrix = SyncMatrix::default();
/// let settings = MappingSettings { agency: mapping.clone(), agent: None };
/// matrix.enable(SyncObject::Agency, Direction::Inbound, &settings).unwrap();
/// let schema = ObjectSchema::new(ObjectType::Company, vec![]);
/// let change = InboundChange {
///     object_id: HubSpotId::parse("101").unwrap(),
///     kind: ChangeKind::Created,
///     properties: PropertyMap::from_pairs([("type", Some("Agency")), ("name", Some("Acme"))]),
///     made_by_app: None,
///     occurred_at: Utc::now(),
/// };
/// let ctx = PlanContext { mapping: &mapping, schema: &schema, matrix: &matrix, echo: EchoInfo::default() };
/// match plan(&change, &ctx, Existing::NotFound) {
///     SyncAction::Create { draft, .. } => assert_eq!(draft.name, "Acme"),
///     other => panic!("expected a create, got {other:?}"),
/// }
/// ```
pub fn plan<M: RecordMapping>(
    change: &InboundChange,
    ctx: &PlanContext<'_, M>,
    existing: Existing<'_, M::Draft>,
) -> SyncAction<M::Draft, M::Field> {
    if !ctx.matrix.is_enabled(M::SYNC_OBJECT, Direction::Inbound) {
        return SyncAction::skip(SkipReason::InboundDisabled);
    }
    let corrected;
    let change = match ctx.echo.verdict(change) {
        EchoVerdict::Echo => return SyncAction::skip(SkipReason::EchoOfOwnWrite),
        EchoVerdict::Superseded => return SyncAction::skip(SkipReason::SupersededByTurrisEdit),
        // HubSpot may hold our older value now: plan with the value the edit carried.
        EchoVerdict::Overwritten { property, value } => {
            corrected = {
                let mut corrected = change.clone();
                corrected.properties.insert(property, value);
                corrected
            };
            &corrected
        }
        EchoVerdict::Fresh => change,
    };
    let Some(identifier) = ctx.mapping.identifier().filter(|f| f.is_complete()) else {
        return SyncAction::skip(SkipReason::IdentifierNotConfigured);
    };
    let matches = identifier.evaluate(&change.properties);
    match existing {
        Existing::Linked(_) if !matches => SyncAction::skip(SkipReason::NoLongerMatchesIdentifier),
        Existing::Linked(current) => plan_update(change, ctx, current),
        Existing::Matched(_) | Existing::NotFound if !matches => {
            SyncAction::skip(SkipReason::DoesNotMatchIdentifier)
        }
        Existing::Matched(matched_by) => SyncAction::Link { matched_by },
        Existing::NotFound => match ctx.mapping.to_turris(&change.properties) {
            Ok(mapped) => SyncAction::Create {
                draft: mapped.draft,
                skipped: mapped.skipped,
            },
            Err(missing) => SyncAction::skip(SkipReason::MissingRequiredField {
                field: missing.field.key().to_owned(),
            }),
        },
    }
}

fn plan_update<M: RecordMapping>(
    change: &InboundChange,
    ctx: &PlanContext<'_, M>,
    current: &M::Draft,
) -> SyncAction<M::Draft, M::Field> {
    let is_standard = |property: &str| ctx.schema.is_standard(property) == Some(true);
    let fields: Vec<(M::Field, &str)> = match &change.kind {
        ChangeKind::PropertyChanged { property, .. } => {
            let fields = ctx.mapping.fields_for(property);
            if fields.is_empty() {
                return SyncAction::skip(SkipReason::PropertyNotMapped);
            }
            if !is_standard(property) {
                return SyncAction::skip(SkipReason::CustomPropertyEdit);
            }
            fields.into_iter().map(|f| (f, property.as_str())).collect()
        }
        // A late creation (or a read) of a linked record: HubSpot's values of fields Turris
        // edited since are older than Turris's.
        ChangeKind::Created | ChangeKind::Snapshot => ctx
            .mapping
            .mapped()
            .into_iter()
            .filter(|(_, p)| is_standard(p))
            .filter(|(_, p)| {
                !ctx.echo
                    .turris_edited_since(&change.object_id, p, change.occurred_at)
            })
            .collect(),
    };
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    for (field, property) in fields {
        let value = change.properties.get(property).filter(|v| !v.is_empty());
        let mut next = current.clone();
        let result = if value.is_none() && field.is_required() {
            Err(FieldSkipReason::RequiredEmpty)
        } else {
            field.set(&mut next, value)
        };
        match result {
            Err(reason) => skipped.push(SkippedField {
                field,
                property: property.to_owned(),
                value: value.unwrap_or_default().to_owned(),
                reason,
            }),
            Ok(()) => {
                let (from, to) = (field.get(current), field.get(&next));
                if from != to {
                    changes.push(FieldChange { field, from, to });
                }
            }
        }
    }
    match (changes.is_empty(), skipped.first()) {
        (true, None) => SyncAction::skip(SkipReason::NoChanges),
        (true, Some(first)) if skipped.len() == 1 => SyncAction::skip(SkipReason::InvalidValue {
            field: first.field.key().to_owned(),
            reason: first.reason,
        }),
        _ => SyncAction::Update { changes, skipped },
    }
}

/// Applies an update's changes to a record's data; values were checked when planning.
pub fn apply_changes<F: MappedField>(draft: &mut F::Draft, changes: &[FieldChange<F>]) {
    for change in changes {
        // A planned change always holds a value its field accepts.
        let _ = change.field.set(draft, change.to.as_deref());
    }
}

/// Which Turris record a HubSpot contact syncs to: agents and agency contacts are both HubSpot
/// contacts (SPEC, "Ongoing sync matrix"), and [`contact_role`] tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ContactRole {
    /// Plan the contact as an agent, with the agent mapping.
    Agent,
    /// Plan the contact as an agency contact of its primary company's agency, with
    /// [`AgencyContactMapping`].
    AgencyContact,
    /// Neither.
    Skip {
        /// Why.
        reason: SkipReason,
    },
}

/// What [`contact_role`] knows about one HubSpot contact.
#[derive(Debug, Clone, Copy)]
pub struct ContactFacts<'a> {
    /// The contact's current properties.
    pub properties: &'a PropertyMap,
    /// The kind of Turris record the contact is linked to already, if any.
    pub linked: Option<LinkKind>,
    /// Whether its primary company (`associatedcompanyid`) is linked to a Turris agency.
    pub of_synced_agency: bool,
    /// Whether every change of the contact in this step is the echo of our own write.
    pub echo_of_own_write: bool,
}

/// Decides whether a HubSpot contact is an agent, an agency contact or neither. Rules, in
/// this order:
/// 1. agent and agency-contact inbound both off → skip (inbound disabled);
/// 2. only echoes of our own writes → skip, so our pushes never come back as records;
/// 3. a contact linked already keeps its kind (an agent stays an agent, an agency contact an
///    agency contact, whatever the agent filter or its primary company say now; the planner
///    then updates or skips it): moving a record between kinds is for a person, and a contact
///    pushed from Turris may have no primary company in HubSpot;
/// 4. an unlinked contact whose primary company is not linked to an agency → skip ("contact
///    is not associated with a synced agency"): agents and agency contacts belong to one;
/// 5. agent inbound on and the contact matches the agent identifier filter → agent;
/// 6. agency-contact inbound on → agency contact (every other contact of a synced agency);
/// 7. otherwise (agent inbound on, the contact does not match) → skip with the agent filter's
///    reason.
///
/// ```
/// use turris_core::mapping::AgentMapping;
/// use turris_core::matrix::SyncMatrix;
/// use turris_core::planner::{ContactFacts, ContactRole, contact_role};
/// use turris_core::{Condition, IdentifierFilter, PropertyMap};
///
/// let mut matrix = SyncMatrix::default();
/// matrix.agency.inbound = true;
/// matrix.agents.inbound = true;
/// matrix.agency_contacts.inbound = true;
/// let agent = AgentMapping {
///     identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals("jobtitle", "Agent"))),
///     ..AgentMapping::default()
/// };
/// let facts = |properties| ContactFacts { properties, linked: None, of_synced_agency: true, echo_of_own_write: false };
/// let producer = PropertyMap::from_pairs([("jobtitle", Some("Agent"))]);
/// let office_manager = PropertyMap::from_pairs([("jobtitle", Some("Office manager"))]);
/// assert_eq!(contact_role(&matrix, Some(&agent), facts(&producer)), ContactRole::Agent);
/// assert_eq!(contact_role(&matrix, Some(&agent), facts(&office_manager)), ContactRole::AgencyContact);
/// ```
pub fn contact_role(
    matrix: &SyncMatrix,
    agent: Option<&AgentMapping>,
    facts: ContactFacts<'_>,
) -> ContactRole {
    let skip = |reason| ContactRole::Skip { reason };
    let agents_on = matrix.is_enabled(SyncObject::Agents, Direction::Inbound) && agent.is_some();
    let contacts_on = matrix.is_enabled(SyncObject::AgencyContacts, Direction::Inbound);
    if !agents_on && !contacts_on {
        return skip(SkipReason::InboundDisabled);
    }
    if facts.echo_of_own_write {
        return skip(SkipReason::EchoOfOwnWrite);
    }
    match facts.linked {
        Some(LinkKind::Agent) => return ContactRole::Agent,
        Some(LinkKind::AgencyContact) => return ContactRole::AgencyContact,
        Some(LinkKind::Agency) | None => {}
    }
    if !facts.of_synced_agency {
        return skip(SkipReason::NotOfASyncedAgency);
    }
    let identifier = agent
        .and_then(|a| a.identifier.as_ref())
        .filter(|f| f.is_complete());
    let is_agent = identifier.is_some_and(|f| f.evaluate(facts.properties));
    match (agents_on, is_agent, contacts_on) {
        (true, true, _) => ContactRole::Agent,
        (_, _, true) => ContactRole::AgencyContact,
        _ if identifier.is_none() => skip(SkipReason::IdentifierNotConfigured),
        _ => skip(SkipReason::DoesNotMatchIdentifier),
    }
}

/// The agency a contact's record belongs to after a sync: its primary company's agency when
/// that company is synced, else the one it has (a contact pushed from Turris may have no
/// primary company in HubSpot). Agents and agency contacts follow their primary company on
/// create, update and link.
///
/// ```
/// use turris_core::ids::AgencyId;
/// use turris_core::planner::followed_agency;
///
/// let (own, primary) = (AgencyId::parse("a-1").unwrap(), AgencyId::parse("a-2").unwrap());
/// assert_eq!(followed_agency(Some(&own), Some(&primary)), Some(primary.clone()));
/// assert_eq!(followed_agency(Some(&own), None), Some(own));
/// assert_eq!(followed_agency(None, None), None);
/// ```
pub fn followed_agency(own: Option<&AgencyId>, primary: Option<&AgencyId>) -> Option<AgencyId> {
    primary.or(own).cloned()
}

/// What a HubSpot merge does to one link of a merged-away record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum MergeStep {
    /// The Turris record now follows the surviving (primary) HubSpot record.
    Follow {
        /// The Turris record.
        turris: TurrisRef,
        /// The merged-away HubSpot record it was linked to.
        from: HubSpotId,
    },
    /// The link is removed and the Turris record stays, unlinked, for a person to reconcile:
    /// the primary is linked already.
    Unlink {
        /// The Turris record.
        turris: TurrisRef,
        /// The merged-away HubSpot record it was linked to.
        from: HubSpotId,
    },
}

/// Plans a `*.merge`: HubSpot keeps `primary` and archives the others. `merged` are the links
/// of the merged-away records (any kind; links of `primary` itself, which HubSpot lists among
/// the merged ids, are ignored); `primary_linked` says whether `primary` has a link of its own.
/// The first merged link follows the primary when the primary has none; every other link is
/// removed, and both Turris records stay (one HubSpot record is never linked to two).
///
/// ```
/// use turris_core::ids::{AgentId, HubSpotId};
/// use turris_core::planner::{MergeStep, plan_merge};
/// use turris_core::store::{Link, TurrisRef};
///
/// let id = |s: &str| HubSpotId::parse(s).unwrap();
/// let agent = TurrisRef::Agent(AgentId::parse("g1").unwrap());
/// let merged = [Link { turris: agent.clone(), hubspot_id: id("2") }];
/// assert_eq!(
///     plan_merge(&id("1"), false, &merged),
///     [MergeStep::Follow { turris: agent.clone(), from: id("2") }]
/// );
/// assert_eq!(plan_merge(&id("1"), true, &merged), [MergeStep::Unlink { turris: agent, from: id("2") }]);
/// ```
pub fn plan_merge(primary: &HubSpotId, primary_linked: bool, merged: &[Link]) -> Vec<MergeStep> {
    let mut taken = primary_linked;
    merged
        .iter()
        .filter(|link| link.hubspot_id != *primary)
        .map(|link| {
            let (turris, from) = (link.turris.clone(), link.hubspot_id.clone());
            if taken {
                MergeStep::Unlink { turris, from }
            } else {
                taken = true;
                MergeStep::Follow { turris, from }
            }
        })
        .collect()
}

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
        .filter(|(field, _)| previous.is_none_or(|p| field.get(p) != field.get(draft)))
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

#[cfg(test)]
mod tests;
