//! Storage traits. Every method takes the organization id: data is isolated per tenant, and
//! another organization's ids are simply not found.
//!
//! [`InMemoryStore`] implements them all for tests and the examples. Other backends (the
//! server's SQLite and PostgreSQL) prove themselves with the same suite:
//! `turris_core::store::conformance::run_all(&store).await` (feature `conformance`).
//!
//! Contracts every backend honours (and the suite checks):
//! - records: `insert_*` refuses a duplicate id with [`StoreError::Conflict`]; `update_*`
//!   of an unknown id is [`StoreError::NotFound`]; `find_*` by a matching key returns the
//!   matching record with the smallest id;
//! - links: one link per Turris record and per (kind, HubSpot id); relinking the same pair
//!   is a no-op, linking either side elsewhere is a conflict;
//! - activity: ids are assigned by the store; pages are newest first by `(at, id)`, and a
//!   cursor resumes strictly after the last entry, so entries sharing a timestamp are never
//!   repeated or lost; `limit` is clamped to `1..=`[`MAX_PAGE_SIZE`];
//! - settings: saved and loaded whole; deleting them leaves records in place.

mod memory;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use memory::InMemoryStore;

use crate::activity::{Activity, ActivityCursor, ActivityPage, NewActivity, Outcome};
use crate::ids::{AgencyContactId, AgencyId, AgentId, HubSpotId, OrganizationId};
use crate::integration::{Connection, IntegrationSettings, WebhookStatus};
use crate::matching::{AgencyKey, AgentKey};
use crate::property::{ObjectSchema, ObjectType};
use crate::record::{Agency, AgencyContact, Agent};

/// The largest activity page.
pub const MAX_PAGE_SIZE: usize = 100;

/// Clamps a requested page size to `1..=MAX_PAGE_SIZE`.
pub fn clamp_page_size(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE_SIZE)
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing to update does not exist (in this organization).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed.
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The storage result type.
pub type StoreResult<T> = Result<T, StoreError>;

/// Integration settings, one document per organization.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The organization's settings, if any were saved.
    async fn load_settings(&self, org: &OrganizationId)
    -> StoreResult<Option<IntegrationSettings>>;
    /// Saves (creates or replaces) the organization's settings.
    async fn save_settings(
        &self,
        org: &OrganizationId,
        settings: &IntegrationSettings,
    ) -> StoreResult<()>;
    /// Deletes the organization's settings; `false` when there were none.
    async fn delete_settings(&self, org: &OrganizationId) -> StoreResult<bool>;
    /// Replaces only the connection; [`StoreError::NotFound`] without settings.
    async fn set_connection(
        &self,
        org: &OrganizationId,
        connection: &Connection,
    ) -> StoreResult<()>;
    /// Replaces only the cached property schema of `schema.object`; [`StoreError::NotFound`]
    /// without settings.
    async fn save_property_schema(
        &self,
        org: &OrganizationId,
        schema: &ObjectSchema,
    ) -> StoreResult<()>;
    /// Records one property's webhook subscription status; [`StoreError::NotFound`] without
    /// settings.
    async fn set_subscription_status(
        &self,
        org: &OrganizationId,
        object: ObjectType,
        property: &str,
        status: WebhookStatus,
    ) -> StoreResult<()>;
}

/// Which kind of Turris record a link connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Agency ↔ company.
    Agency,
    /// Agent ↔ contact.
    Agent,
    /// Agency contact ↔ contact.
    AgencyContact,
}

/// A Turris record, by kind and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum TurrisRef {
    /// An agency.
    Agency(AgencyId),
    /// An agent.
    Agent(AgentId),
    /// An agency contact.
    AgencyContact(AgencyContactId),
}

impl TurrisRef {
    /// The kind.
    pub fn kind(&self) -> LinkKind {
        match self {
            TurrisRef::Agency(_) => LinkKind::Agency,
            TurrisRef::Agent(_) => LinkKind::Agent,
            TurrisRef::AgencyContact(_) => LinkKind::AgencyContact,
        }
    }

    /// What messages call the record: `agency`, `agent` or `agency contact`.
    pub fn noun(&self) -> &'static str {
        match self {
            TurrisRef::Agency(_) => "agency",
            TurrisRef::Agent(_) => "agent",
            TurrisRef::AgencyContact(_) => "agency contact",
        }
    }

    /// The id as text.
    pub fn id(&self) -> &str {
        match self {
            TurrisRef::Agency(id) => id.as_str(),
            TurrisRef::Agent(id) => id.as_str(),
            TurrisRef::AgencyContact(id) => id.as_str(),
        }
    }
}

/// A Turris record ↔ HubSpot object pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    /// The Turris side.
    pub turris: TurrisRef,
    /// The HubSpot object id (a company for agencies, a contact otherwise).
    pub hubspot_id: HubSpotId,
}

/// Turris ↔ HubSpot links.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Stores a link. Relinking the same pair is a no-op; a Turris record or HubSpot object
    /// already linked elsewhere (within the kind) is a [`StoreError::Conflict`].
    async fn put_link(&self, org: &OrganizationId, link: &Link) -> StoreResult<()>;
    /// The link of a Turris record.
    async fn link_by_turris(
        &self,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> StoreResult<Option<Link>>;
    /// The link of a HubSpot object, for one kind of Turris record.
    async fn link_by_hubspot(
        &self,
        org: &OrganizationId,
        kind: LinkKind,
        hubspot_id: &HubSpotId,
    ) -> StoreResult<Option<Link>>;
    /// Removes a Turris record's link; `false` when there was none.
    async fn delete_link(&self, org: &OrganizationId, turris: &TurrisRef) -> StoreResult<bool>;
    /// Removes every link of the organization (the integration was deleted); returns how many.
    async fn delete_all_links(&self, org: &OrganizationId) -> StoreResult<u64>;
}

/// The activity log.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Appends an entry, assigning its id.
    async fn append_activity(
        &self,
        org: &OrganizationId,
        activity: &NewActivity,
    ) -> StoreResult<Activity>;
    /// A page, newest first, starting after `cursor` (from the newest when `None`), holding
    /// only entries that ended with `outcome` when one is given.
    async fn activity_page(
        &self,
        org: &OrganizationId,
        cursor: Option<&ActivityCursor>,
        outcome: Option<Outcome>,
        limit: usize,
    ) -> StoreResult<ActivityPage>;
    /// Deletes every entry recorded strictly before `before`; returns how many.
    async fn prune_activity(&self, org: &OrganizationId, before: DateTime<Utc>)
    -> StoreResult<u64>;
}

/// Turris records.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Creates an agency; a duplicate id is a conflict.
    async fn insert_agency(&self, org: &OrganizationId, agency: &Agency) -> StoreResult<()>;
    /// An agency by id.
    async fn get_agency(&self, org: &OrganizationId, id: &AgencyId) -> StoreResult<Option<Agency>>;
    /// Replaces an agency's data; an unknown id is not found.
    async fn update_agency(&self, org: &OrganizationId, agency: &Agency) -> StoreResult<()>;
    /// The agency (smallest id) having this key.
    async fn find_agency(
        &self,
        org: &OrganizationId,
        key: &AgencyKey,
    ) -> StoreResult<Option<Agency>>;

    /// Creates an agent; a duplicate id is a conflict.
    async fn insert_agent(&self, org: &OrganizationId, agent: &Agent) -> StoreResult<()>;
    /// An agent by id.
    async fn get_agent(&self, org: &OrganizationId, id: &AgentId) -> StoreResult<Option<Agent>>;
    /// Replaces an agent's data; an unknown id is not found.
    async fn update_agent(&self, org: &OrganizationId, agent: &Agent) -> StoreResult<()>;
    /// The agent (smallest id) having this key.
    async fn find_agent(&self, org: &OrganizationId, key: &AgentKey) -> StoreResult<Option<Agent>>;

    /// Creates an agency contact; a duplicate id is a conflict, an unknown agency is not found.
    async fn insert_agency_contact(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> StoreResult<()>;
    /// An agency contact by id.
    async fn get_agency_contact(
        &self,
        org: &OrganizationId,
        id: &AgencyContactId,
    ) -> StoreResult<Option<AgencyContact>>;
    /// Replaces an agency contact; an unknown id is not found.
    async fn update_agency_contact(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> StoreResult<()>;
    /// An agency's contacts, by ascending id.
    async fn list_agency_contacts(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
    ) -> StoreResult<Vec<AgencyContact>>;
    /// The agency's contact (smallest id) with this email, compared trimmed and
    /// case-insensitively.
    async fn find_agency_contact_by_email(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
        email: &str,
    ) -> StoreResult<Option<AgencyContact>>;
}

/// Every storage trait at once, for `Arc<dyn Store>`.
pub trait Store: SettingsStore + LinkStore + ActivityStore + RecordStore {}

impl<T: SettingsStore + LinkStore + ActivityStore + RecordStore> Store for T {}
