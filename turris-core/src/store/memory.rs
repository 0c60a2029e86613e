use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    ActivityStore, Link, LinkKind, LinkStore, RecordStore, SettingsStore, StoreError, StoreResult,
    TurrisRef, clamp_page_size,
};
use crate::activity::{Activity, ActivityCursor, ActivityId, ActivityPage, NewActivity, Outcome};
use crate::ids::{AgencyContactId, AgencyId, AgentId, HubSpotId, OrganizationId};
use crate::integration::{Connection, IntegrationSettings, WebhookStatus};
use crate::matching::{AgencyKey, AgentKey, normalize};
use crate::property::{ObjectSchema, ObjectType};
use crate::record::{Agency, AgencyContact, Agent};

#[derive(Default)]
struct Tenant {
    settings: Option<IntegrationSettings>,
    links: Vec<Link>,
    activity: Vec<Activity>,
    agencies: BTreeMap<AgencyId, Agency>,
    agents: BTreeMap<AgentId, Agent>,
    contacts: BTreeMap<AgencyContactId, AgencyContact>,
}

#[derive(Default)]
struct State {
    tenants: HashMap<OrganizationId, Tenant>,
    next_activity_id: u64,
}

/// Every storage trait in memory, behind one `std::sync::Mutex`. For tests, examples and
/// single-process demos; nothing survives the process.
///
/// ```
/// use turris_core::store::{InMemoryStore, RecordStore};
/// use turris_core::ids::{AgencyId, OrganizationId};
/// use turris_core::record::{Agency, AgencyDraft};
///
/// # tokio_test_block_on(async {
/// let store = InMemoryStore::new();
/// let org = OrganizationId::parse("org-1").unwrap();
/// let agency = Agency { id: AgencyId::parse("a1").unwrap(), data: AgencyDraft::named("Acme") };
/// store.insert_agency(&org, &agency).await.unwrap();
/// assert_eq!(store.get_agency(&org, &agency.id).await.unwrap(), Some(agency.clone()));
/// let other = OrganizationId::parse("org-2").unwrap();
/// assert_eq!(store.get_agency(&other, &agency.id).await.unwrap(), None);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore").finish_non_exhaustive()
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_tenant<T>(&self, org: &OrganizationId, f: impl FnOnce(&mut Tenant) -> T) -> T {
        let mut state = self.lock();
        f(state.tenants.entry(org.clone()).or_default())
    }
}

#[async_trait]
impl SettingsStore for InMemoryStore {
    async fn load_settings(
        &self,
        org: &OrganizationId,
    ) -> StoreResult<Option<IntegrationSettings>> {
        Ok(self.with_tenant(org, |t| t.settings.clone()))
    }

    async fn save_settings(
        &self,
        org: &OrganizationId,
        settings: &IntegrationSettings,
    ) -> StoreResult<()> {
        self.with_tenant(org, |t| t.settings = Some(settings.clone()));
        Ok(())
    }

    async fn delete_settings(&self, org: &OrganizationId) -> StoreResult<bool> {
        Ok(self.with_tenant(org, |t| t.settings.take().is_some()))
    }

    async fn set_connection(
        &self,
        org: &OrganizationId,
        connection: &Connection,
    ) -> StoreResult<()> {
        self.with_tenant(org, |t| match &mut t.settings {
            Some(settings) => {
                settings.connection = connection.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound),
        })
    }

    async fn save_property_schema(
        &self,
        org: &OrganizationId,
        schema: &ObjectSchema,
    ) -> StoreResult<()> {
        self.with_tenant(org, |t| match &mut t.settings {
            Some(settings) => {
                settings.set_property_schema(schema.clone());
                Ok(())
            }
            None => Err(StoreError::NotFound),
        })
    }

    async fn set_subscription_status(
        &self,
        org: &OrganizationId,
        object: ObjectType,
        property: &str,
        status: WebhookStatus,
    ) -> StoreResult<()> {
        self.with_tenant(org, |t| match &mut t.settings {
            Some(settings) => {
                settings.set_subscription_status(object, property, status);
                Ok(())
            }
            None => Err(StoreError::NotFound),
        })
    }
}

#[async_trait]
impl LinkStore for InMemoryStore {
    async fn put_link(&self, org: &OrganizationId, link: &Link) -> StoreResult<()> {
        self.with_tenant(org, |t| {
            if t.links.contains(link) {
                return Ok(());
            }
            let kind = link.turris.kind();
            if t.links.iter().any(|l| l.turris == link.turris) {
                return Err(StoreError::Conflict(
                    "turris record is already linked".into(),
                ));
            }
            // One HubSpot object per kind; a contact is an agent or an agency contact.
            let object = |k: LinkKind| k == LinkKind::Agency;
            if t.links
                .iter()
                .any(|l| object(l.turris.kind()) == object(kind) && l.hubspot_id == link.hubspot_id)
            {
                return Err(StoreError::Conflict(
                    "hubspot object is already linked".into(),
                ));
            }
            t.links.push(link.clone());
            Ok(())
        })
    }

    async fn link_by_turris(
        &self,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> StoreResult<Option<Link>> {
        Ok(self.with_tenant(org, |t| {
            t.links.iter().find(|l| l.turris == *turris).cloned()
        }))
    }

    async fn link_by_hubspot(
        &self,
        org: &OrganizationId,
        kind: LinkKind,
        hubspot_id: &HubSpotId,
    ) -> StoreResult<Option<Link>> {
        Ok(self.with_tenant(org, |t| {
            t.links
                .iter()
                .find(|l| l.turris.kind() == kind && l.hubspot_id == *hubspot_id)
                .cloned()
        }))
    }

    async fn delete_link(&self, org: &OrganizationId, turris: &TurrisRef) -> StoreResult<bool> {
        Ok(self.with_tenant(org, |t| {
            let before = t.links.len();
            t.links.retain(|l| l.turris != *turris);
            t.links.len() != before
        }))
    }

    async fn delete_all_links(&self, org: &OrganizationId) -> StoreResult<u64> {
        Ok(self.with_tenant(org, |t| std::mem::take(&mut t.links).len() as u64))
    }
}

#[async_trait]
impl ActivityStore for InMemoryStore {
    async fn append_activity(
        &self,
        org: &OrganizationId,
        activity: &NewActivity,
    ) -> StoreResult<Activity> {
        let mut state = self.lock();
        state.next_activity_id += 1;
        let stored = Activity {
            id: ActivityId(state.next_activity_id),
            entry: activity.clone(),
        };
        state
            .tenants
            .entry(org.clone())
            .or_default()
            .activity
            .push(stored.clone());
        Ok(stored)
    }

    async fn activity_page(
        &self,
        org: &OrganizationId,
        cursor: Option<&ActivityCursor>,
        outcome: Option<Outcome>,
        limit: usize,
    ) -> StoreResult<ActivityPage> {
        let limit = clamp_page_size(limit);
        Ok(self.with_tenant(org, |t| {
            let mut entries: Vec<&Activity> = t
                .activity
                .iter()
                .filter(|a| cursor.is_none_or(|c| c.admits(a)))
                .filter(|a| outcome.is_none_or(|o| a.entry.outcome == o))
                .collect();
            entries.sort_by_key(|a| std::cmp::Reverse(a.position()));
            let more = entries.len() > limit;
            let entries: Vec<Activity> = entries.into_iter().take(limit).cloned().collect();
            let next = match entries.last() {
                Some(last) if more => Some(ActivityCursor::after(last.entry.at, last.id)),
                _ => None,
            };
            ActivityPage { entries, next }
        }))
    }

    async fn prune_activity(
        &self,
        org: &OrganizationId,
        before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Ok(self.with_tenant(org, |t| {
            let count = t.activity.len();
            t.activity.retain(|a| a.entry.at >= before);
            (count - t.activity.len()) as u64
        }))
    }
}

fn insert<K: Ord + Clone, V: Clone>(
    map: &mut BTreeMap<K, V>,
    id: &K,
    value: &V,
) -> StoreResult<()> {
    if map.contains_key(id) {
        return Err(StoreError::Conflict("id already exists".into()));
    }
    map.insert(id.clone(), value.clone());
    Ok(())
}

fn update<K: Ord, V: Clone>(map: &mut BTreeMap<K, V>, id: &K, value: &V) -> StoreResult<()> {
    match map.get_mut(id) {
        Some(slot) => {
            *slot = value.clone();
            Ok(())
        }
        None => Err(StoreError::NotFound),
    }
}

#[async_trait]
impl RecordStore for InMemoryStore {
    async fn insert_agency(&self, org: &OrganizationId, agency: &Agency) -> StoreResult<()> {
        self.with_tenant(org, |t| insert(&mut t.agencies, &agency.id, agency))
    }

    async fn get_agency(&self, org: &OrganizationId, id: &AgencyId) -> StoreResult<Option<Agency>> {
        Ok(self.with_tenant(org, |t| t.agencies.get(id).cloned()))
    }

    async fn update_agency(&self, org: &OrganizationId, agency: &Agency) -> StoreResult<()> {
        self.with_tenant(org, |t| update(&mut t.agencies, &agency.id, agency))
    }

    async fn find_agency(
        &self,
        org: &OrganizationId,
        key: &AgencyKey,
    ) -> StoreResult<Option<Agency>> {
        Ok(self.with_tenant(org, |t| {
            t.agencies.values().find(|a| key.matches(&a.data)).cloned()
        }))
    }

    async fn insert_agent(&self, org: &OrganizationId, agent: &Agent) -> StoreResult<()> {
        self.with_tenant(org, |t| insert(&mut t.agents, &agent.id, agent))
    }

    async fn get_agent(&self, org: &OrganizationId, id: &AgentId) -> StoreResult<Option<Agent>> {
        Ok(self.with_tenant(org, |t| t.agents.get(id).cloned()))
    }

    async fn update_agent(&self, org: &OrganizationId, agent: &Agent) -> StoreResult<()> {
        self.with_tenant(org, |t| update(&mut t.agents, &agent.id, agent))
    }

    async fn find_agent(&self, org: &OrganizationId, key: &AgentKey) -> StoreResult<Option<Agent>> {
        Ok(self.with_tenant(org, |t| {
            t.agents.values().find(|a| key.matches(&a.data)).cloned()
        }))
    }

    async fn insert_agency_contact(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> StoreResult<()> {
        self.with_tenant(org, |t| {
            if !t.agencies.contains_key(&contact.agency_id) {
                return Err(StoreError::NotFound);
            }
            insert(&mut t.contacts, &contact.id, contact)
        })
    }

    async fn get_agency_contact(
        &self,
        org: &OrganizationId,
        id: &AgencyContactId,
    ) -> StoreResult<Option<AgencyContact>> {
        Ok(self.with_tenant(org, |t| t.contacts.get(id).cloned()))
    }

    async fn update_agency_contact(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> StoreResult<()> {
        self.with_tenant(org, |t| update(&mut t.contacts, &contact.id, contact))
    }

    async fn list_agency_contacts(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
    ) -> StoreResult<Vec<AgencyContact>> {
        Ok(self.with_tenant(org, |t| {
            t.contacts
                .values()
                .filter(|c| c.agency_id == *agency)
                .cloned()
                .collect()
        }))
    }

    async fn find_agency_contact_by_email(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
        email: &str,
    ) -> StoreResult<Option<AgencyContact>> {
        let wanted = normalize(email);
        Ok(self.with_tenant(org, |t| {
            t.contacts
                .values()
                .find(|c| {
                    c.agency_id == *agency
                        && c.email.as_deref().is_some_and(|e| normalize(e) == wanted)
                })
                .cloned()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_memory_store_passes_the_conformance_suite() {
        crate::store::conformance::run_all(&InMemoryStore::new()).await;
    }

    #[tokio::test]
    async fn the_suite_runs_through_a_trait_object_too() {
        let store: std::sync::Arc<dyn crate::store::Store> =
            std::sync::Arc::new(InMemoryStore::new());
        crate::store::conformance::run_all(store.as_ref()).await;
    }
}
