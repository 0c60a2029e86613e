//! Agents and agency contacts are both HubSpot contacts: which one a contact is, and which
//! agency it follows.

use serde::{Deserialize, Serialize};

use super::SkipReason;
use crate::ids::AgencyId;
use crate::mapping::AgentMapping;
use crate::matrix::{Direction, SyncMatrix, SyncObject};
use crate::property::PropertyMap;
use crate::store::LinkKind;

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
