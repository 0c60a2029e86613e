//! HubSpot companies ↔ agencies: pairing by NPN, then producer code, and the agencies still
//! unlinked created as companies.

use std::collections::HashSet;

use turris_core::ids::{AgencyId, OrganizationId};
use turris_core::mapping::RecordMapping;
use turris_core::matching::agency_keys;
use turris_core::matrix::SyncMatrix;
use turris_core::planner::{OutboundAction, plan_outbound};
use turris_core::reconcile::{Pairing, reconcile};
use turris_core::record::Agency;
use turris_core::store::{Link, LinkKind, TurrisRef};
use turris_hubspot::crm::ObjectType;

use super::{
    PAGE, Progress, ReconcileError, advance, client_for, create_in_hubspot, read_page,
    wanted_properties,
};
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

/// Pairs one page of companies; `true` after the last.
pub(super) async fn companies_step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let client = client_for(state, org, db.hubspot_credentials(org).await?).await?;
    let mapping = &settings.mapping.agency;
    let (records, next) = read_page(
        &client,
        &ObjectType::Companies,
        &wanted_properties(mapping),
        progress.after.as_deref(),
    )
    .await?;

    let mut linked_hubspot = HashSet::new();
    let mut candidates: Vec<Agency> = Vec::new();
    let mut seen_candidates: HashSet<AgencyId> = HashSet::new();
    for (id, properties) in &records {
        if db
            .link_by_hubspot(org, LinkKind::Agency, id)
            .await?
            .is_some()
        {
            linked_hubspot.insert(id.clone());
            continue;
        }
        let Ok(mapped) = mapping.to_turris(properties) else {
            continue;
        };
        for key in agency_keys(&mapped.draft) {
            if let Some(agency) = db.find_agency(org, &key).await?
                && !seen_candidates.contains(&agency.id)
                && db
                    .link_by_turris(org, &TurrisRef::Agency(agency.id.clone()))
                    .await?
                    .is_none()
            {
                seen_candidates.insert(agency.id.clone());
                candidates.push(agency);
            }
        }
    }
    let result = reconcile(
        mapping,
        &records,
        &candidates,
        &linked_hubspot,
        &HashSet::new(),
    );
    let mut created = 0;
    for (hubspot_id, pairing) in result.outcomes {
        let agency_id = match pairing {
            Pairing::Pair { id, .. } => id,
            Pairing::Unmatched { draft, .. } if progress.options.create_missing_in_turris => {
                let agency = Agency {
                    id: AgencyId::parse(&uuid::Uuid::now_v7().to_string())
                        .expect("uuids are valid ids"),
                    data: draft,
                };
                db.insert_agency(org, &agency).await?;
                created += 1;
                agency.id
            }
            _ => continue,
        };
        db.put_link(
            org,
            &Link {
                turris: TurrisRef::Agency(agency_id),
                hubspot_id,
            },
        )
        .await?;
    }
    progress.add(&result.summary, created);
    Ok(advance(progress, next))
}
