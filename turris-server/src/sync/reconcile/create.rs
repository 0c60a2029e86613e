//! The records still unlinked after pairing ([`super::pairing`]) created in HubSpot: agencies
//! as companies, agents as contacts, one page of records per step.
//!
//! Records outside the kind's identifier filter are not created (core's `plan_outbound` says
//! so), so the creations only ever concern records the mapping covers. Without an agent mapping
//! no agent is created.

use turris_core::ids::OrganizationId;
use turris_core::mapping::RecordMapping;
use turris_core::matrix::{Direction, SyncMatrix};
use turris_core::planner::{OutboundAction, plan_outbound};

use super::{PAGE, Progress, ReconcileError, client_for, create_in_hubspot};
use crate::app::AppState;
use crate::sync::kinds::Reconciled;

/// Creates a HubSpot object for each unlinked record of kind `K` in one page; `true` after the
/// last page.
pub(super) async fn step<K: Reconciled>(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let client = client_for(state, org, db.hubspot_credentials(org).await?).await?;
    let mapping = K::mapping(&settings.mapping);
    // The caller asked for the creation: the matrix's outbound toggle is not required.
    let sync_object = <K::Mapping as RecordMapping>::SYNC_OBJECT;
    let matrix = SyncMatrix::only(sync_object, Direction::Outbound);
    let records = K::page(db, org, progress.turris_after.as_deref(), PAGE as usize).await?;
    let mut unlinked = Vec::new();
    for record in &records {
        let turris = K::turris(record);
        if db.link_by_turris(org, &turris).await?.is_some() {
            continue;
        }
        let OutboundAction::Create { properties } =
            plan_outbound(&mapping, &matrix, &K::draft(record), None, None)
        else {
            continue;
        };
        unlinked.push((turris, properties));
    }
    create_in_hubspot(state, &client, org, &K::OBJECT, unlinked, progress).await?;
    progress.pages += 1;
    match records.last() {
        Some(last) if records.len() == PAGE as usize => {
            progress.turris_after = Some(K::turris(last).id().to_owned());
            Ok(false)
        }
        _ => Ok(true),
    }
}
