//! Two-way HubSpot ↔ Turris sync: the inbound worker, outbound pushes, subscriptions, token
//! refresh and bulk reconciliation. Not built yet (issue 7).

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::workers::Shutdown;

/// Starts the sync workers.
pub fn spawn_workers(_state: &AppState, _shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    Vec::new()
}
