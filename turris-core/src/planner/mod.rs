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

mod contacts;
pub mod echo;
pub mod events;
mod merge;
mod outbound;

pub use contacts::{ContactFacts, ContactRole, contact_role, followed_agency};
pub use merge::{MergeStep, plan_merge};
pub use outbound::{OutboundAction, OutboundSkipReason, plan_outbound, plan_outbound_after};

pub use echo::{
    ECHO_WINDOW, EchoInfo, EchoVerdict, RecentWrite, as_hubspot_holds, property_edit_times,
    recent_writes,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::HubSpotId;
#[cfg(doc)]
use crate::mapping::AgencyContactMapping;
use crate::mapping::{FieldSkipReason, MappedField, RecordMapping, SkippedField};
use crate::matching::MatchedBy;
use crate::matrix::{Direction, SyncMatrix};
use crate::property::{ObjectSchema, PropertyMap};

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
    /// Who made the change, as far as HubSpot says (its `changeSource` and `sourceId`).
    #[serde(default)]
    pub source: ChangeSource,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// Who made a HubSpot change, as far as the event says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "id", rename_all = "snake_case")]
pub enum ChangeSource {
    /// The event does not say (or says something not read here): it may be a write of ours.
    #[default]
    Unknown,
    /// An integration app, by its id: ours when it is our app's id.
    App(String),
    /// A person (`sourceId` `userId:…`: the CRM's pages, an import, a mobile app): never a
    /// write of ours, even when it sets a value we wrote moments before.
    User,
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
/// use turris_core::planner::{plan, ChangeKind, ChangeSource, EchoInfo, Existing, InboundChange, PlanContext, SyncAction};
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
///     source: ChangeSource::Unknown,
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
    let mut overwritten = false;
    let change = match ctx.echo.verdict(change) {
        EchoVerdict::Echo => return SyncAction::skip(SkipReason::EchoOfOwnWrite),
        EchoVerdict::Superseded => return SyncAction::skip(SkipReason::SupersededByTurrisEdit),
        // HubSpot may hold our older value now: plan with the value the edit carried.
        EchoVerdict::Overwritten { property, value } => {
            overwritten = true;
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
        Existing::Linked(current) => match plan_update(change, ctx, current) {
            // Turris holds the edit already, yet our older value may have replaced it in
            // HubSpot: an update that changes nothing, which the caller writes back to HubSpot
            // (comparing with the record as HubSpot holds it: [`echo::as_hubspot_holds`]).
            SyncAction::Skip {
                reason: SkipReason::NoChanges,
            } if overwritten => SyncAction::Update {
                changes: Vec::new(),
                skipped: Vec::new(),
            },
            action => action,
        },
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

#[cfg(test)]
mod tests;
