//! The predefined tag catalog: a small, fixed set of tags that follow a record's state in
//! Turris and are written to HubSpot (a multi-select property on the contact and the company,
//! [`TAGS_PROPERTY`]), so HubSpot lists and workflows can trigger on them. Fixed on purpose,
//! as seed 002 asks: automation built on a tag keeps working because the tag's name and
//! meaning never change.
//!
//! | tag | on | while |
//! |---|---|---|
//! | `compliant` | agencies, agents | every compliance status that applies is compliant |
//! | `non_compliant` | agencies, agents | any compliance status is non-compliant |
//! | `compliance_pending` | agencies, agents | any is pending and none is non-compliant |
//! | `invited` | agencies and their contacts | the invitation was sent, no agreement yet |
//! | `agreement_executed` | agencies and their contacts | a producer agreement was executed |
//! | `needs_attention` | agencies and their contacts | the invitation needs a person to pick the contract |
//! | `nipr_sync_failed` | agencies, agents | the latest NIPR sync failed |

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ids::HubSpotId;
use crate::invitation::InvitationStatus;
use crate::planner::OutboundAction;
use crate::property::{ObjectType, PropertyMap};
use crate::store::TurrisRef;

/// The HubSpot property (type enumeration, field type checkbox) holding a record's tags.
pub const TAGS_PROPERTY: &str = "turris_tags";

/// One tag of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// Every compliance status that applies is compliant.
    Compliant,
    /// At least one compliance status is non-compliant.
    NonCompliant,
    /// At least one compliance status is pending, none non-compliant.
    CompliancePending,
    /// The agency was invited and has not signed yet.
    Invited,
    /// The agency executed a producer agreement.
    AgreementExecuted,
    /// The agency's invitation waits for a person to choose its contract.
    NeedsAttention,
    /// The latest NIPR sync of the record failed.
    NiprSyncFailed,
}

/// What a tag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TagGroup {
    /// Compliance status.
    Compliance,
    /// Onboarding: invitation and agreement.
    Onboarding,
    /// NIPR data.
    Nipr,
}

impl Tag {
    /// Every tag, in catalog order.
    pub const ALL: [Tag; 7] = [
        Tag::Compliant,
        Tag::NonCompliant,
        Tag::CompliancePending,
        Tag::Invited,
        Tag::AgreementExecuted,
        Tag::NeedsAttention,
        Tag::NiprSyncFailed,
    ];

    /// The name written to HubSpot (the option's internal value).
    pub fn name(self) -> &'static str {
        match self {
            Tag::Compliant => "compliant",
            Tag::NonCompliant => "non_compliant",
            Tag::CompliancePending => "compliance_pending",
            Tag::Invited => "invited",
            Tag::AgreementExecuted => "agreement_executed",
            Tag::NeedsAttention => "needs_attention",
            Tag::NiprSyncFailed => "nipr_sync_failed",
        }
    }

    /// The option's label in HubSpot.
    pub fn label(self) -> &'static str {
        match self {
            Tag::Compliant => "Compliant",
            Tag::NonCompliant => "Non-compliant",
            Tag::CompliancePending => "Compliance pending",
            Tag::Invited => "Invited",
            Tag::AgreementExecuted => "Agreement executed",
            Tag::NeedsAttention => "Needs attention",
            Tag::NiprSyncFailed => "NIPR sync failed",
        }
    }

    /// Its group.
    pub fn group(self) -> TagGroup {
        match self {
            Tag::Compliant | Tag::NonCompliant | Tag::CompliancePending => TagGroup::Compliance,
            Tag::Invited | Tag::AgreementExecuted | Tag::NeedsAttention => TagGroup::Onboarding,
            Tag::NiprSyncFailed => TagGroup::Nipr,
        }
    }

    /// When the tag is on a record.
    pub fn description(self) -> &'static str {
        match self {
            Tag::Compliant => "Every compliance status that applies is compliant.",
            Tag::NonCompliant => "At least one compliance status is non-compliant.",
            Tag::CompliancePending => {
                "At least one compliance status is pending and none is non-compliant."
            }
            Tag::Invited => "The agency was invited and has not executed an agreement yet.",
            Tag::AgreementExecuted => "The agency executed a producer agreement.",
            Tag::NeedsAttention => {
                "The agency's invitation waits for a person to choose its contract."
            }
            Tag::NiprSyncFailed => "The latest NIPR sync of this record failed.",
        }
    }

    /// The tag of a name; `None` for a name outside the catalog.
    pub fn parse(name: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// A compliance status, as far as tags care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceState {
    /// Compliant.
    Compliant,
    /// Not compliant.
    NonCompliant,
    /// Waiting on data or review.
    Pending,
    /// No requirement applies.
    NotRequired,
}

/// What Turris knows of a record that decides its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFacts {
    /// The record's compliance statuses (every product and state).
    pub compliance: Vec<ComplianceState>,
    /// Its agency's invitation, if any.
    pub invitation: Option<InvitationStatus>,
    /// Whether its agency executed a producer agreement.
    pub agreement_executed: bool,
    /// Whether its latest NIPR sync failed.
    pub nipr_failed: bool,
}

/// The tags `record` carries given `facts`. Agency contacts carry only their agency's
/// onboarding tags (compliance and NIPR belong to agencies and agents).
///
/// ```
/// use turris_core::ids::AgentId;
/// use turris_core::store::TurrisRef;
/// use turris_core::tags::{ComplianceState, Tag, TagFacts, tags_for};
///
/// let agent = TurrisRef::Agent(AgentId::parse("a-1").unwrap());
/// let facts = TagFacts {
///     compliance: vec![ComplianceState::Compliant, ComplianceState::NonCompliant],
///     ..TagFacts::default()
/// };
/// assert_eq!(tags_for(&agent, &facts).into_iter().collect::<Vec<_>>(), [Tag::NonCompliant]);
/// ```
pub fn tags_for(record: &TurrisRef, facts: &TagFacts) -> BTreeSet<Tag> {
    let mut tags = BTreeSet::new();
    let agency_contact = matches!(record, TurrisRef::AgencyContact(_));
    if !agency_contact {
        let any = |s: ComplianceState| facts.compliance.contains(&s);
        if any(ComplianceState::NonCompliant) {
            tags.insert(Tag::NonCompliant);
        } else if any(ComplianceState::Pending) {
            tags.insert(Tag::CompliancePending);
        } else if any(ComplianceState::Compliant) {
            tags.insert(Tag::Compliant);
        }
        if facts.nipr_failed {
            tags.insert(Tag::NiprSyncFailed);
        }
    }
    if !matches!(record, TurrisRef::Agent(_)) {
        if facts.agreement_executed {
            tags.insert(Tag::AgreementExecuted);
        } else {
            match facts.invitation {
                Some(InvitationStatus::Sent) => {
                    tags.insert(Tag::Invited);
                }
                Some(InvitationStatus::NeedsAttention) => {
                    tags.insert(Tag::NeedsAttention);
                }
                Some(InvitationStatus::Deferred) | None => {}
            }
        }
    }
    tags
}

/// The value of [`TAGS_PROPERTY`] for `tags`: names joined by `;` (HubSpot's multi-select
/// format), empty when there is none (which clears the property).
pub fn property_value(tags: &BTreeSet<Tag>) -> String {
    tags.iter().map(|t| t.name()).collect::<Vec<_>>().join(";")
}

/// The tags of a [`TAGS_PROPERTY`] value; names outside the catalog (an option someone added
/// in HubSpot) are left out.
pub fn parse_property_value(value: &str) -> BTreeSet<Tag> {
    value
        .split(';')
        .filter_map(|name| Tag::parse(name.trim()))
        .collect()
}

/// `action` with the record's tags added: a create or update writes them with the rest; a
/// record pushed for nothing else but linked (`linked`) gets an update of its tags alone; an
/// unlinked skipped record stays skipped (its tags go with its create).
///
/// ```
/// use std::collections::BTreeSet;
/// use turris_core::ids::HubSpotId;
/// use turris_core::planner::{OutboundAction, OutboundSkipReason};
/// use turris_core::tags::{TAGS_PROPERTY, Tag, with_tags};
///
/// let linked = HubSpotId::parse("42").unwrap();
/// let skip = OutboundAction::Skip { reason: OutboundSkipReason::OutboundDisabled };
/// let tags: BTreeSet<Tag> = [Tag::Invited].into();
/// let OutboundAction::Update { properties, .. } = with_tags(skip, Some(&linked), &tags) else { panic!() };
/// assert_eq!(properties.get(TAGS_PROPERTY), Some("invited"));
/// assert_eq!(properties.len(), 1);
/// ```
pub fn with_tags(
    action: OutboundAction,
    linked: Option<&HubSpotId>,
    tags: &BTreeSet<Tag>,
) -> OutboundAction {
    let value = property_value(tags);
    match action {
        OutboundAction::Create { mut properties } => {
            properties.insert(TAGS_PROPERTY, Some(value));
            OutboundAction::Create { properties }
        }
        OutboundAction::Update {
            object_id,
            mut properties,
        } => {
            properties.insert(TAGS_PROPERTY, Some(value));
            OutboundAction::Update {
                object_id,
                properties,
            }
        }
        OutboundAction::Skip { reason } => match linked {
            Some(id) => OutboundAction::Update {
                object_id: id.clone(),
                properties: PropertyMap::from_pairs([(TAGS_PROPERTY, Some(value.as_str()))]),
            },
            None => OutboundAction::Skip { reason },
        },
    }
}

/// The name of the static HubSpot list mirroring `tag` on `object` records, e.g.
/// `Turris: Non-compliant companies`. Fixed, so the list is found again by name.
///
/// ```
/// use turris_core::property::ObjectType;
/// use turris_core::tags::{Tag, list_name};
///
/// assert_eq!(list_name(Tag::NonCompliant, ObjectType::Contact), "Turris: Non-compliant contacts");
/// ```
pub fn list_name(tag: Tag, object: ObjectType) -> String {
    format!("Turris: {} {}", tag.label(), object.plural())
}

/// What mirroring asks of one record: the lists (by tag) to add it to and to remove it from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListChanges {
    /// Tags it carries whose list does not hold it yet.
    pub add: BTreeSet<Tag>,
    /// Tags it no longer carries whose list still holds it.
    pub remove: BTreeSet<Tag>,
}

/// The list changes for a record carrying `tags`, held (as far as Turris wrote) by the lists
/// of `listed`, when the tags of `mirrored` have lists. Lists of tags no longer mirrored are
/// left alone.
///
/// ```
/// use std::collections::BTreeSet;
/// use turris_core::tags::{Tag, list_changes};
///
/// let tags: BTreeSet<Tag> = [Tag::NonCompliant].into();
/// let listed: BTreeSet<Tag> = [Tag::CompliancePending].into();
/// let mirrored: BTreeSet<Tag> = [Tag::NonCompliant, Tag::CompliancePending].into();
/// let changes = list_changes(&tags, &listed, &mirrored);
/// assert_eq!(changes.add, [Tag::NonCompliant].into());
/// assert_eq!(changes.remove, [Tag::CompliancePending].into());
/// ```
pub fn list_changes(
    tags: &BTreeSet<Tag>,
    listed: &BTreeSet<Tag>,
    mirrored: &BTreeSet<Tag>,
) -> ListChanges {
    ListChanges {
        add: tags
            .intersection(mirrored)
            .filter(|t| !listed.contains(t))
            .copied()
            .collect(),
        remove: listed
            .intersection(mirrored)
            .filter(|t| !tags.contains(t))
            .copied()
            .collect(),
    }
}

impl ListChanges {
    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// `listed` after the changes of the tags in `done` were made.
    pub fn apply(&self, listed: &BTreeSet<Tag>, done: &BTreeSet<Tag>) -> BTreeSet<Tag> {
        let mut after = listed.clone();
        for tag in done {
            if self.add.contains(tag) {
                after.insert(*tag);
            }
            if self.remove.contains(tag) {
                after.remove(tag);
            }
        }
        after
    }
}

/// Whether `properties` hold the tags and nothing else (a push for the tags alone).
pub fn only_tags(properties: &PropertyMap) -> bool {
    properties.len() == 1 && properties.contains(TAGS_PROPERTY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AgencyContactId, AgencyId, AgentId};

    fn agency() -> TurrisRef {
        TurrisRef::Agency(AgencyId::parse("ag").unwrap())
    }

    #[test]
    fn compliance_tags_are_exclusive_with_non_compliant_winning_over_pending() {
        let with = |states: &[ComplianceState]| {
            let facts = TagFacts {
                compliance: states.to_vec(),
                ..TagFacts::default()
            };
            tags_for(&agency(), &facts)
        };
        use ComplianceState::*;
        assert_eq!(with(&[]), BTreeSet::new());
        assert_eq!(with(&[NotRequired]), BTreeSet::new());
        assert_eq!(with(&[Compliant, NotRequired]), [Tag::Compliant].into());
        assert_eq!(with(&[Compliant, Pending]), [Tag::CompliancePending].into());
        assert_eq!(
            with(&[Pending, NonCompliant, Compliant]),
            [Tag::NonCompliant].into()
        );
    }

    #[test]
    fn onboarding_tags_follow_the_invitation_until_an_agreement_replaces_them() {
        let facts = |invitation, agreement_executed| TagFacts {
            invitation,
            agreement_executed,
            ..TagFacts::default()
        };
        let sent = facts(Some(InvitationStatus::Sent), false);
        assert_eq!(tags_for(&agency(), &sent), [Tag::Invited].into());
        let stuck = facts(Some(InvitationStatus::NeedsAttention), false);
        assert_eq!(tags_for(&agency(), &stuck), [Tag::NeedsAttention].into());
        let deferred = facts(Some(InvitationStatus::Deferred), false);
        assert!(tags_for(&agency(), &deferred).is_empty());
        let signed = facts(Some(InvitationStatus::Sent), true);
        assert_eq!(
            tags_for(&agency(), &signed),
            [Tag::AgreementExecuted].into()
        );
    }

    #[test]
    fn agents_carry_no_onboarding_tags_and_agency_contacts_no_compliance_or_nipr_tags() {
        let facts = TagFacts {
            compliance: vec![ComplianceState::Compliant],
            invitation: Some(InvitationStatus::Sent),
            agreement_executed: false,
            nipr_failed: true,
        };
        let agent = TurrisRef::Agent(AgentId::parse("a").unwrap());
        assert_eq!(
            tags_for(&agent, &facts),
            [Tag::Compliant, Tag::NiprSyncFailed].into()
        );
        let contact = TurrisRef::AgencyContact(AgencyContactId::parse("c").unwrap());
        assert_eq!(tags_for(&contact, &facts), [Tag::Invited].into());
    }

    #[test]
    fn the_property_value_round_trips_and_ignores_options_added_in_hubspot() {
        let tags: BTreeSet<Tag> = [Tag::NiprSyncFailed, Tag::Compliant].into();
        let value = property_value(&tags);
        assert_eq!(value, "compliant;nipr_sync_failed");
        assert_eq!(parse_property_value(&value), tags);
        assert_eq!(
            parse_property_value("vip; compliant"),
            [Tag::Compliant].into()
        );
        assert_eq!(property_value(&BTreeSet::new()), "");
    }

    #[test]
    fn list_changes_touch_only_mirrored_tags_and_apply_only_what_was_done() {
        use Tag::*;
        let set = |tags: &[Tag]| tags.iter().copied().collect::<BTreeSet<Tag>>();
        let check =
            |tags: &[Tag], listed: &[Tag], mirrored: &[Tag], add: &[Tag], remove: &[Tag]| {
                let changes = list_changes(&set(tags), &set(listed), &set(mirrored));
                assert_eq!(
                    (changes.add, changes.remove),
                    (set(add), set(remove)),
                    "{tags:?} {listed:?} {mirrored:?}"
                );
            };
        check(&[], &[], &[], &[], &[]);
        check(&[NonCompliant], &[], &[NonCompliant], &[NonCompliant], &[]);
        check(&[NonCompliant], &[NonCompliant], &[NonCompliant], &[], &[]);
        check(
            &[Compliant],
            &[NonCompliant],
            &[NonCompliant],
            &[],
            &[NonCompliant],
        );
        // A list no longer mirrored is left as it is; a tag without a list is no change.
        check(&[Compliant], &[NonCompliant], &[Invited], &[], &[]);
        check(&[Invited, Compliant], &[], &[Invited], &[Invited], &[]);
        let changes = list_changes(
            &set(&[Invited]),
            &set(&[NonCompliant]),
            &set(&[Invited, NonCompliant]),
        );
        // Only the add was made: the record is still on the non-compliant list.
        assert_eq!(
            changes.apply(&set(&[NonCompliant]), &set(&[Invited])),
            set(&[Invited, NonCompliant])
        );
        assert_eq!(
            changes.apply(&set(&[NonCompliant]), &set(&[Invited, NonCompliant])),
            set(&[Invited])
        );
    }

    #[test]
    fn list_names_are_distinct_per_tag_and_object() {
        let names: BTreeSet<String> = Tag::ALL
            .into_iter()
            .flat_map(|t| {
                [
                    list_name(t, ObjectType::Company),
                    list_name(t, ObjectType::Contact),
                ]
            })
            .collect();
        assert_eq!(names.len(), Tag::ALL.len() * 2);
        assert_eq!(
            list_name(Tag::Invited, ObjectType::Company),
            "Turris: Invited companies"
        );
    }

    #[test]
    fn names_are_unique_and_match_the_serde_names() {
        let names: BTreeSet<&str> = Tag::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), Tag::ALL.len());
        for tag in Tag::ALL {
            assert_eq!(serde_json::to_value(tag).unwrap(), tag.name());
            assert_eq!(Tag::parse(tag.name()), Some(tag));
        }
    }
}
