//! HubSpot contacts ↔ agents: pairing by NPN, else first + last name + email, and the agents
//! still unlinked created as contacts.
//!
//! Contacts outside the agent identifier filter are skipped as `out_of_scope`, so the pairs and
//! the creations only ever concern contacts that match it. Without an agent mapping every
//! contact is out of scope.

use std::collections::HashSet;

use turris_core::ids::{AgentId, OrganizationId};
use turris_core::mapping::RecordMapping;
use turris_core::matching::agent_keys;
use turris_core::matrix::SyncMatrix;
use turris_core::planner::{OutboundAction, plan_outbound};
use turris_core::reconcile::{Pairing, reconcile};
use turris_core::record::Agent;
use turris_core::store::{Link, LinkKind, TurrisRef};
use turris_hubspot::crm::ObjectType;

use super::{
    PAGE, Progress, ReconcileError, advance, client_for, create_in_hubspot, read_page,
    wanted_properties,
};
use crate::app::AppState;

/// Pairs one page of contacts; `true` after the last.
pub(super) async fn contacts_step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let client = client_for(state, org, db.hubspot_credentials(org).await?).await?;
    let mapping = settings.mapping.agent.clone().unwrap_or_default();
    let (records, next) = read_page(
        &client,
        &ObjectType::Contacts,
        &wanted_properties(&mapping),
        progress.after.as_deref(),
    )
    .await?;

    let mut linked_hubspot = HashSet::new();
    let mut candidates: Vec<Agent> = Vec::new();
    let mut seen_candidates: HashSet<AgentId> = HashSet::new();
    for (id, properties) in &records {
        if db
            .link_by_hubspot(org, LinkKind::Agent, id)
            .await?
            .is_some()
        {
            linked_hubspot.insert(id.clone());
            continue;
        }
        let Ok(mapped) = mapping.to_turris(properties) else {
            continue;
        };
        for key in agent_keys(&mapped.draft) {
            if let Some(agent) = db.find_agent(org, &key).await?
                && !seen_candidates.contains(&agent.id)
                && db
                    .link_by_turris(org, &TurrisRef::Agent(agent.id.clone()))
                    .await?
                    .is_none()
            {
                seen_candidates.insert(agent.id.clone());
                candidates.push(agent);
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
        let agent_id = match pairing {
            Pairing::Pair { id, .. } => id,
            Pairing::Unmatched { draft, .. } if progress.options.create_missing_in_turris => {
                let agent = Agent {
                    id: AgentId::parse(&uuid::Uuid::now_v7().to_string())
                        .expect("uuids are valid ids"),
                    data: draft,
                };
                db.insert_agent(org, &agent).await?;
                created += 1;
                agent.id
            }
            _ => continue,
        };
        db.put_link(
            org,
            &Link {
                turris: TurrisRef::Agent(agent_id),
                hubspot_id,
            },
        )
        .await?;
    }
    progress.add(&result.summary, created);
    Ok(advance(progress, next))
}

/// Creates a HubSpot contact for each unlinked agent of one page; `true` after the last.
pub(super) async fn agents_step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let client = client_for(state, org, db.hubspot_credentials(org).await?).await?;
    let mapping = settings.mapping.agent.clone().unwrap_or_default();
    // The caller asked for the creation: the matrix's outbound toggle is not required.
    let mut matrix = SyncMatrix::default();
    matrix.agents.outbound = true;
    let after = progress
        .turris_after
        .as_deref()
        .and_then(|id| AgentId::parse(id).ok());
    let agents = db.list_agents(org, after.as_ref(), PAGE as usize).await?;
    let mut unlinked = Vec::new();
    for agent in &agents {
        let turris = TurrisRef::Agent(agent.id.clone());
        if db.link_by_turris(org, &turris).await?.is_some() {
            continue;
        }
        let OutboundAction::Create { properties } =
            plan_outbound(&mapping, &matrix, &agent.data, None, None)
        else {
            continue;
        };
        unlinked.push((turris, properties));
    }
    create_in_hubspot(db, &client, org, &ObjectType::Contacts, unlinked, progress).await?;
    progress.pages += 1;
    match agents.last() {
        Some(last) if agents.len() == PAGE as usize => {
            progress.turris_after = Some(last.id.as_str().to_owned());
            Ok(false)
        }
        _ => Ok(true),
    }
}
