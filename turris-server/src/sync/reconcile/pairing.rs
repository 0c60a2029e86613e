//! One page of pairing, the same for companies ↔ agencies and contacts ↔ agents: read 100
//! HubSpot records, gather the unlinked Turris records their matching keys find, let core's
//! [`reconcile`] pair them, then link the pairs and (when asked) create the unmatched.

use std::collections::HashSet;

use async_trait::async_trait;
use turris_core::ids::OrganizationId;
use turris_core::ids::{AgencyId, AgentId};
use turris_core::integration::IntegrationSettings;
use turris_core::mapping::RecordMapping;
use turris_core::matching::{Matchable, agency_keys, agent_keys};
use turris_core::reconcile::{Pairing, reconcile};
use turris_core::record::{Agency, AgencyDraft, Agent, AgentDraft};
use turris_core::store::{Link, LinkKind, StoreResult, TurrisRef};
use turris_hubspot::crm::ObjectType;

use super::{Progress, ReconcileError, advance, client_for, read_page, wanted_properties};
use crate::app::AppState;
use crate::store::ServerStore;

/// What pairing needs to know of a kind of Turris record.
#[async_trait]
pub(super) trait Paired: Matchable + Send + Sync + Sized
where
    Self::Id: Send + Sync,
{
    /// The mapping that reads its HubSpot object.
    type Mapping: RecordMapping<Draft = Self::Draft> + Send + Sync;
    /// The HubSpot object it pairs with.
    const OBJECT: ObjectType;
    /// Its kind of link.
    const LINK: LinkKind;

    /// The organization's mapping for it (an empty one when none is saved).
    fn mapping(settings: &IntegrationSettings) -> Self::Mapping;
    /// A reference to the record `id`.
    fn reference(id: Self::Id) -> TurrisRef;
    /// A new record of `draft` with a fresh id.
    fn new(draft: Self::Draft) -> Self;
    /// The records each matching key of `draft` finds.
    async fn find(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &Self::Draft,
    ) -> StoreResult<Vec<Self>>;
    /// Stores a new record.
    async fn insert(&self, db: &dyn ServerStore, org: &OrganizationId) -> StoreResult<()>;
}

fn fresh_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[async_trait]
impl Paired for Agency {
    type Mapping = turris_core::mapping::AgencyMapping;
    const OBJECT: ObjectType = ObjectType::Companies;
    const LINK: LinkKind = LinkKind::Agency;

    fn mapping(settings: &IntegrationSettings) -> Self::Mapping {
        settings.mapping.agency.clone()
    }
    fn reference(id: AgencyId) -> TurrisRef {
        TurrisRef::Agency(id)
    }
    fn new(data: AgencyDraft) -> Self {
        let id = AgencyId::parse(&fresh_id()).expect("uuids are valid ids");
        Agency { id, data }
    }
    async fn find(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &AgencyDraft,
    ) -> StoreResult<Vec<Self>> {
        let mut found = Vec::new();
        for key in agency_keys(draft) {
            found.extend(db.find_agency(org, &key).await?);
        }
        Ok(found)
    }
    async fn insert(&self, db: &dyn ServerStore, org: &OrganizationId) -> StoreResult<()> {
        db.insert_agency(org, self).await
    }
}

#[async_trait]
impl Paired for Agent {
    type Mapping = turris_core::mapping::AgentMapping;
    const OBJECT: ObjectType = ObjectType::Contacts;
    const LINK: LinkKind = LinkKind::Agent;

    fn mapping(settings: &IntegrationSettings) -> Self::Mapping {
        settings.mapping.agent.clone().unwrap_or_default()
    }
    fn reference(id: AgentId) -> TurrisRef {
        TurrisRef::Agent(id)
    }
    fn new(data: AgentDraft) -> Self {
        let id = AgentId::parse(&fresh_id()).expect("uuids are valid ids");
        Agent { id, data }
    }
    async fn find(
        db: &dyn ServerStore,
        org: &OrganizationId,
        draft: &AgentDraft,
    ) -> StoreResult<Vec<Self>> {
        let mut found = Vec::new();
        for key in agent_keys(draft) {
            found.extend(db.find_agent(org, &key).await?);
        }
        Ok(found)
    }
    async fn insert(&self, db: &dyn ServerStore, org: &OrganizationId) -> StoreResult<()> {
        db.insert_agent(org, self).await
    }
}

/// Pairs one page of `R`'s HubSpot object; `true` after the last.
pub(super) async fn pair_page<R: Paired>(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError>
where
    R::Id: Send + Sync,
{
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let client = client_for(state, org, db.hubspot_credentials(org).await?).await?;
    let mapping = R::mapping(&settings);
    let (records, next) = read_page(
        &client,
        &R::OBJECT,
        &wanted_properties(&mapping),
        progress.after.as_deref(),
    )
    .await?;

    let mut linked_hubspot = HashSet::new();
    let mut candidates: Vec<R> = Vec::new();
    let mut seen_candidates: HashSet<R::Id> = HashSet::new();
    for (id, properties) in &records {
        if db.link_by_hubspot(org, R::LINK, id).await?.is_some() {
            linked_hubspot.insert(id.clone());
            continue;
        }
        let Ok(mapped) = mapping.to_turris(properties) else {
            continue;
        };
        for found in R::find(db, org, &mapped.draft).await? {
            let turris = R::reference(found.id().clone());
            if !seen_candidates.contains(found.id())
                && db.link_by_turris(org, &turris).await?.is_none()
            {
                seen_candidates.insert(found.id().clone());
                candidates.push(found);
            }
        }
    }
    let result = reconcile(
        &mapping,
        &records,
        &candidates,
        &linked_hubspot,
        &HashSet::new(),
    );
    let mut created = 0;
    for (hubspot_id, pairing) in result.outcomes {
        let id = match pairing {
            Pairing::Pair { id, .. } => id,
            Pairing::Unmatched { draft, .. } if progress.options.create_missing_in_turris => {
                let record = R::new(draft);
                record.insert(db, org).await?;
                created += 1;
                record.id().clone()
            }
            _ => continue,
        };
        db.put_link(
            org,
            &Link {
                turris: R::reference(id),
                hubspot_id,
            },
        )
        .await?;
    }
    progress.add(&result.summary, created);
    Ok(advance(progress, next))
}
