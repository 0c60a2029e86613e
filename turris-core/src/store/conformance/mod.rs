//! The storage conformance suite (feature `conformance`): every backend runs the same checks.
//!
//! ```
//! use turris_core::store::{InMemoryStore, conformance};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = InMemoryStore::new(); // or a SQLite/PostgreSQL store on an empty database
//! conformance::run_all(&store).await; // panics, naming the contract, on the first failure
//! # });
//! ```
//!
//! Each check is also public, to run (and report) one behaviour at a time. Checks panic with
//! a message naming the broken contract, like any test assertion. They create their own
//! organizations (`conformance-<check>-<n>`), so run them against an empty database; they
//! never read data they did not write.

mod activity;
mod links;
mod records;
mod settings;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};

pub use activity::{
    activity_pages_are_newest_first_and_stable_on_timestamp_ties, activity_pages_clamp_their_size,
    activity_pages_filter_by_outcome,
    activity_prune_removes_only_older_entries_of_one_organization,
};
pub use links::{links_are_isolated_and_deleted_per_organization, links_are_unique_per_side};
pub use records::{
    agencies_insert_get_update_and_find_by_key,
    agency_contacts_belong_to_an_agency_and_list_in_id_order,
    agents_find_by_npn_or_normalized_name_and_email, records_are_isolated_per_organization,
};
pub use settings::{settings_are_isolated_per_organization, settings_round_trip};

use super::Store;
use crate::ids::{AgencyId, HubSpotId, OrganizationId};
use crate::record::{Agency, AgencyDraft};

static NEXT_ORG: AtomicU64 = AtomicU64::new(1);

fn fresh_org(check: &str) -> OrganizationId {
    let n = NEXT_ORG.fetch_add(1, Ordering::Relaxed);
    OrganizationId::parse(&format!("conformance-{check}-{n}")).expect("valid organization id")
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn agency(id: &str, name: &str) -> Agency {
    Agency {
        id: AgencyId::parse(id).expect("valid id"),
        data: AgencyDraft::named(name),
    }
}

fn hubspot(id: &str) -> HubSpotId {
    HubSpotId::parse(id).expect("valid hubspot id")
}

/// Runs every check.
pub async fn run_all<S: Store + ?Sized>(store: &S) {
    settings_round_trip(store).await;
    settings_are_isolated_per_organization(store).await;
    links_are_unique_per_side(store).await;
    links_are_isolated_and_deleted_per_organization(store).await;
    activity_pages_are_newest_first_and_stable_on_timestamp_ties(store).await;
    activity_pages_clamp_their_size(store).await;
    activity_pages_filter_by_outcome(store).await;
    activity_prune_removes_only_older_entries_of_one_organization(store).await;
    agencies_insert_get_update_and_find_by_key(store).await;
    agents_find_by_npn_or_normalized_name_and_email(store).await;
    agency_contacts_belong_to_an_agency_and_list_in_id_order(store).await;
    records_are_isolated_per_organization(store).await;
}
