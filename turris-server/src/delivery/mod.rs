//! Outbound webhook delivery in the server: workers that lease due deliveries, the debounce
//! flusher and retention. Not built yet (issue 8).

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::workers::Shutdown;

/// Starts the delivery workers.
pub fn spawn_workers(_state: &AppState, _shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    Vec::new()
}
