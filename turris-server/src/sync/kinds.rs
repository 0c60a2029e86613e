//! One abstraction over the record kinds that sync: agencies (HubSpot companies), agents and
//! agency contacts (HubSpot contacts).
//!
//! [`RecordKind`] carries what differs between the kinds (the record and draft types, the
//! mapping, the link kind, the store calls, how a record follows its primary company's agency),
//! so inbound sync applies a planned action once for all three.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::activity::ActivityKind;
use turris_core::ids::{AgencyContactId, AgencyId, AgentId, OrganizationId};
use turris_core::invitation::InvitationSettings;
use turris_core::mapping::{
    AgencyContactMapping, AgencyMapping, AgentMapping, MappingSettings, RecordMapping,
};
use turris_core::matching::{MatchedBy, agency_contact_key, agency_keys, agent_keys};
use turris_core::planner::ChangeKind;
use turris_core::property::PropertyMap;
use turris_core::record::{Agency, AgencyContact, AgencyDraft, Agent, AgentDraft};
use turris_core::store::{LinkKind, TurrisRef};

use crate::store::{DbResult, ServerStore, SyncedRecord};
use crate::sync::invites::NewAgencyInvite;

/// A kind of Turris record linked to a HubSpot object.
#[async_trait]
pub(crate) trait RecordKind: Send + Sync + 'static {
    /// The stored record.
    type Record: Clone + Send + Sync;
    /// How it maps onto HubSpot properties.
    type Mapping: RecordMapping + Sync;

    /// Its link kind.
    const LINK: LinkKind;
    /// Whether a record of the kind exists only as part of an agency.
    const BELONGS_TO_AGENCY: bool = false;

    /// The record's reference.
    fn turris(record: &Self::Record) -> TurrisRef;

    /// The record's synced data.
    fn draft(record: &Self::Record) -> <Self::Mapping as RecordMapping>::Draft;

    /// The draft of a record's stored data (the `data` column, as an outbox row keeps it
    /// from before an edit); `None` when it does not read.
    fn stored_draft(data: &str) -> Option<<Self::Mapping as RecordMapping>::Draft>;

    /// Replaces the record's synced data.
    fn set_draft(record: &mut Self::Record, draft: <Self::Mapping as RecordMapping>::Draft);

    /// A new record with a fresh id, of `agency` when the kind belongs to one.
    fn create(
        draft: <Self::Mapping as RecordMapping>::Draft,
        agency: Option<&AgencyId>,
    ) -> Self::Record;

    /// The agency the record belongs to, if any.
    fn agency(_record: &Self::Record) -> Option<AgencyId> {
        None
    }

    /// The activity message for a record inbound sync created.
    fn created_message(_record: &Self::Record) -> String {
        format!("{} created", <Self::Mapping as RecordMapping>::NOUN)
    }

    /// Moves the record to `agency` (its primary company's), when the kind follows it; returns
    /// whether it changed.
    fn follow(record: &mut Self::Record, agency: Option<&AgencyId>) -> bool;

    /// The activity title of a HubSpot event of this kind.
    fn activity(change: &ChangeKind) -> ActivityKind;

    /// The record a link points at.
    async fn load(
        db: &dyn ServerStore,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> DbResult<Option<Self::Record>>;

    /// An unlinked record with one of the draft's matching keys (agency contacts: among
    /// `agency`'s contacts), highest confidence first.
    async fn find_unlinked(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &<Self::Mapping as RecordMapping>::Draft,
        agency: Option<&AgencyId>,
    ) -> DbResult<Option<(Self::Record, MatchedBy)>>;

    /// The record as an inbound step writes it.
    fn synced(record: &Self::Record) -> SyncedRecord<'_>;

    /// What inbound sync writes with a record it created from HubSpot's `properties`, in the
    /// same transaction: an agency's invitation; nothing for the other kinds.
    fn created_with(
        _record: &Self::Record,
        _invitations: &InvitationSettings,
        _properties: &PropertyMap,
        _now: DateTime<Utc>,
    ) -> NewAgencyInvite {
        NewAgencyInvite {
            activity: Vec::new(),
            invitation: None,
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn unlinked(db: &dyn ServerStore, org: &OrganizationId, turris: TurrisRef) -> DbResult<bool> {
    Ok(db.link_by_turris(org, &turris).await?.is_none())
}

/// Agencies ↔ HubSpot companies.
pub(crate) struct Agencies;

#[async_trait]
impl RecordKind for Agencies {
    type Record = Agency;
    type Mapping = AgencyMapping;
    const LINK: LinkKind = LinkKind::Agency;

    fn turris(record: &Agency) -> TurrisRef {
        TurrisRef::Agency(record.id.clone())
    }

    fn draft(record: &Agency) -> AgencyDraft {
        record.data.clone()
    }

    fn stored_draft(data: &str) -> Option<AgencyDraft> {
        serde_json::from_str(data).ok()
    }

    fn set_draft(record: &mut Agency, draft: AgencyDraft) {
        record.data = draft;
    }

    fn create(draft: AgencyDraft, _agency: Option<&AgencyId>) -> Agency {
        Agency {
            id: AgencyId::parse(&new_id()).expect("uuids are valid ids"),
            data: draft,
        }
    }

    fn follow(_record: &mut Agency, _agency: Option<&AgencyId>) -> bool {
        false
    }

    fn activity(change: &ChangeKind) -> ActivityKind {
        match change {
            ChangeKind::Created => ActivityKind::WebhookCompanyCreated,
            _ => ActivityKind::WebhookCompanyPropertyChanged,
        }
    }

    async fn load(
        db: &dyn ServerStore,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> DbResult<Option<Agency>> {
        let TurrisRef::Agency(id) = turris else {
            return Ok(None);
        };
        Ok(db.get_agency(org, id).await?)
    }

    async fn find_unlinked(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &AgencyDraft,
        _agency: Option<&AgencyId>,
    ) -> DbResult<Option<(Agency, MatchedBy)>> {
        for key in agency_keys(draft) {
            if let Some(agency) = db.find_agency(org, &key).await?
                && unlinked(db, org, TurrisRef::Agency(agency.id.clone())).await?
            {
                return Ok(Some((agency, key.matched_by())));
            }
        }
        Ok(None)
    }

    fn synced(record: &Agency) -> SyncedRecord<'_> {
        SyncedRecord::Agency(record)
    }

    fn created_with(
        record: &Agency,
        invitations: &InvitationSettings,
        properties: &PropertyMap,
        now: DateTime<Utc>,
    ) -> NewAgencyInvite {
        crate::sync::invites::for_new_agency(invitations, &record.id, properties, now)
    }
}

fn contact_activity(change: &ChangeKind) -> ActivityKind {
    match change {
        ChangeKind::Created => ActivityKind::WebhookContactCreated,
        _ => ActivityKind::WebhookContactPropertyChanged,
    }
}

/// Agents ↔ HubSpot contacts.
pub(crate) struct Agents;

#[async_trait]
impl RecordKind for Agents {
    type Record = Agent;
    type Mapping = AgentMapping;
    const LINK: LinkKind = LinkKind::Agent;

    fn agency(record: &Agent) -> Option<AgencyId> {
        record.data.agency_id.clone()
    }

    fn turris(record: &Agent) -> TurrisRef {
        TurrisRef::Agent(record.id.clone())
    }

    fn draft(record: &Agent) -> AgentDraft {
        record.data.clone()
    }

    fn stored_draft(data: &str) -> Option<AgentDraft> {
        serde_json::from_str(data).ok()
    }

    fn set_draft(record: &mut Agent, draft: AgentDraft) {
        record.data = draft;
    }

    fn create(draft: AgentDraft, agency: Option<&AgencyId>) -> Agent {
        Agent {
            id: AgentId::parse(&new_id()).expect("uuids are valid ids"),
            data: AgentDraft {
                agency_id: agency.cloned(),
                ..draft
            },
        }
    }

    fn follow(record: &mut Agent, agency: Option<&AgencyId>) -> bool {
        let followed =
            turris_core::planner::followed_agency(record.data.agency_id.as_ref(), agency);
        let changed = followed != record.data.agency_id;
        record.data.agency_id = followed;
        changed
    }

    fn activity(change: &ChangeKind) -> ActivityKind {
        contact_activity(change)
    }

    async fn load(
        db: &dyn ServerStore,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> DbResult<Option<Agent>> {
        let TurrisRef::Agent(id) = turris else {
            return Ok(None);
        };
        Ok(db.get_agent(org, id).await?)
    }

    async fn find_unlinked(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &AgentDraft,
        _agency: Option<&AgencyId>,
    ) -> DbResult<Option<(Agent, MatchedBy)>> {
        for key in agent_keys(draft) {
            if let Some(agent) = db.find_agent(org, &key).await?
                && unlinked(db, org, TurrisRef::Agent(agent.id.clone())).await?
            {
                return Ok(Some((agent, key.matched_by())));
            }
        }
        Ok(None)
    }

    fn synced(record: &Agent) -> SyncedRecord<'_> {
        SyncedRecord::Agent(record)
    }
}

/// Agency contacts ↔ HubSpot contacts.
pub(crate) struct AgencyContacts;

#[async_trait]
impl RecordKind for AgencyContacts {
    type Record = AgencyContact;
    type Mapping = AgencyContactMapping;
    const LINK: LinkKind = LinkKind::AgencyContact;
    const BELONGS_TO_AGENCY: bool = true;

    fn agency(record: &AgencyContact) -> Option<AgencyId> {
        Some(record.agency_id.clone())
    }

    fn created_message(record: &AgencyContact) -> String {
        format!("agency contact of agency {} created", record.agency_id)
    }

    fn turris(record: &AgencyContact) -> TurrisRef {
        TurrisRef::AgencyContact(record.id.clone())
    }

    fn draft(record: &AgencyContact) -> <AgencyContactMapping as RecordMapping>::Draft {
        record.draft()
    }

    fn stored_draft(data: &str) -> Option<<AgencyContactMapping as RecordMapping>::Draft> {
        serde_json::from_str::<AgencyContact>(data)
            .ok()
            .map(|c| c.draft())
    }

    fn set_draft(
        record: &mut AgencyContact,
        draft: <AgencyContactMapping as RecordMapping>::Draft,
    ) {
        record.set_draft(draft);
    }

    fn create(
        draft: <AgencyContactMapping as RecordMapping>::Draft,
        agency: Option<&AgencyId>,
    ) -> AgencyContact {
        let agency = agency
            .expect("an agency contact is created for an agency")
            .clone();
        AgencyContact::from_draft(
            AgencyContactId::parse(&new_id()).expect("uuids are valid ids"),
            agency,
            draft,
        )
    }

    fn follow(record: &mut AgencyContact, agency: Option<&AgencyId>) -> bool {
        let followed = turris_core::planner::followed_agency(Some(&record.agency_id), agency);
        match followed {
            Some(agency) if agency != record.agency_id => {
                record.agency_id = agency;
                true
            }
            _ => false,
        }
    }

    fn activity(change: &ChangeKind) -> ActivityKind {
        contact_activity(change)
    }

    async fn load(
        db: &dyn ServerStore,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> DbResult<Option<AgencyContact>> {
        let TurrisRef::AgencyContact(id) = turris else {
            return Ok(None);
        };
        Ok(db.get_agency_contact(org, id).await?)
    }

    async fn find_unlinked(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &<AgencyContactMapping as RecordMapping>::Draft,
        agency: Option<&AgencyId>,
    ) -> DbResult<Option<(AgencyContact, MatchedBy)>> {
        // Core says what an agency contact is found by: its email among its agency's contacts.
        let Some(key) = agency_contact_key(draft, agency) else {
            return Ok(None);
        };
        let found = db
            .find_agency_contact_by_email(org, &key.agency, &key.email)
            .await?;
        let Some(contact) = found.filter(|c| key.matches(c)) else {
            return Ok(None);
        };
        let free = unlinked(db, org, TurrisRef::AgencyContact(contact.id.clone())).await?;
        Ok(free.then_some((contact, key.matched_by())))
    }

    fn synced(record: &AgencyContact) -> SyncedRecord<'_> {
        SyncedRecord::AgencyContact(record)
    }
}

/// A record kind that bulk reconciliation pages through and creates in HubSpot when unlinked.
#[async_trait]
pub(crate) trait Reconciled: RecordKind {
    /// The HubSpot object its records become.
    const OBJECT: turris_hubspot::crm::ObjectType;

    /// The kind's mapping in the organization's settings (the default when there is none).
    fn mapping(settings: &MappingSettings) -> Self::Mapping;

    /// Records by ascending id after `after` (an id as text, from a saved cursor).
    async fn page(
        db: &dyn ServerStore,
        org: &OrganizationId,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<Self::Record>>;
}

#[async_trait]
impl Reconciled for Agencies {
    const OBJECT: turris_hubspot::crm::ObjectType = turris_hubspot::crm::ObjectType::Companies;

    fn mapping(settings: &MappingSettings) -> AgencyMapping {
        settings.agency.clone()
    }

    async fn page(
        db: &dyn ServerStore,
        org: &OrganizationId,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<Agency>> {
        let after = after.and_then(|id| AgencyId::parse(id).ok());
        db.list_agencies(org, after.as_ref(), limit).await
    }
}

#[async_trait]
impl Reconciled for Agents {
    const OBJECT: turris_hubspot::crm::ObjectType = turris_hubspot::crm::ObjectType::Contacts;

    fn mapping(settings: &MappingSettings) -> AgentMapping {
        settings.agent.clone().unwrap_or_default()
    }

    async fn page(
        db: &dyn ServerStore,
        org: &OrganizationId,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<Agent>> {
        let after = after.and_then(|id| AgentId::parse(id).ok());
        db.list_agents(org, after.as_ref(), limit).await
    }
}
