//! Two-way HubSpot ↔ Turris sync (issue 7). Subscriptions, token refresh and bulk
//! reconciliation come next.
//!
//! - [`inbound`]: turns the events `POST /hooks/hubspot` persisted into Turris records, links
//!   and activity rows, reading HubSpot in batches of 100 objects and running core's planner;
//! - [`outbound`]: pushes agencies created or changed through the records API to HubSpot.

pub mod inbound;
pub mod outbound;

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::workers::Shutdown;

/// Starts the sync workers.
pub fn spawn_workers(state: &AppState, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    vec![tokio::spawn(inbound::run(state.clone(), shutdown.clone()))]
}
