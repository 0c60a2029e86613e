//! The agencies still unlinked after pairing ([`super::pairing`]: NPN, then producer code)
//! created as HubSpot companies.

use turris_core::ids::{AgencyId, OrganizationId};
use turris_core::matrix::SyncMatrix;
use turris_core::planner::{OutboundAction, plan_outbound};
use turris_core::store::TurrisRef;
use turris_hubspot::crm::ObjectType;

use super::{PAGE, Progress, ReconcileError, client_for, create_in_hubspot};
use crate::app::AppState;

/// Creates a HubSpot company for each unlinked agency of one page; `true` after the last.
pub(super) async fn agencies_step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let client = client_for(state, org, db.hubspot_credentials(org).await?).await?;
    // The caller asked for the creation: the matrix's outbound toggle is not required.
    let mut matrix = SyncMatrix::default();
    matrix.agency.outbound = true;
    let after = progress
        .turris_after
        .as_deref()
        .and_then(|id| AgencyId::parse(id).ok());
    let agencies = db.list_agencies(org, after.as_ref(), PAGE as usize).await?;
    let mut unlinked = Vec::new();
    for agency in &agencies {
        let turris = TurrisRef::Agency(agency.id.clone());
        if db.link_by_turris(org, &turris).await?.is_some() {
            continue;
        }
        let OutboundAction::Create { properties } =
            plan_outbound(&settings.mapping.agency, &matrix, &agency.data, None, None)
        else {
            continue;
        };
        unlinked.push((turris, properties));
    }
    create_in_hubspot(db, &client, org, &ObjectType::Companies, unlinked, progress).await?;
    progress.pages += 1;
    match agencies.last() {
        Some(last) if agencies.len() == PAGE as usize => {
            progress.turris_after = Some(last.id.as_str().to_owned());
            Ok(false)
        }
        _ => Ok(true),
    }
}
