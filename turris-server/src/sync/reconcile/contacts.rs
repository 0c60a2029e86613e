//! The agents still unlinked after pairing ([`super::pairing`]: NPN, else first + last name +
//! email) created as HubSpot contacts.
//!
//! Contacts outside the agent identifier filter are skipped as `out_of_scope`, so the pairs and
//! the creations only ever concern contacts that match it. Without an agent mapping every
//! contact is out of scope.

use turris_core::ids::{AgentId, OrganizationId};
use turris_core::matrix::SyncMatrix;
use turris_core::planner::{OutboundAction, plan_outbound};
use turris_core::store::TurrisRef;
use turris_hubspot::crm::ObjectType;

use super::{PAGE, Progress, ReconcileError, client_for, create_in_hubspot};
use crate::app::AppState;

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
