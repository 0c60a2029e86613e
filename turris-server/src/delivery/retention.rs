//! Retention: delivered and failed events older than the retention period are pruned with
//! their attempts and payloads; pending events always stay.

use std::sync::atomic::Ordering;

use chrono::Utc;

use crate::app::AppState;
use crate::workers::Shutdown;

/// Prunes at start and then every `retention_interval` until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    let settings = state.config().delivery.clone();
    let retention = chrono::Duration::from_std(settings.retention).unwrap_or(chrono::Duration::MAX);
    while !shutdown.is_fired() {
        let cutoff = Utc::now()
            .checked_sub_signed(retention)
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        match state.db().prune_deliveries_before(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => {
                state
                    .delivery_metrics()
                    .pruned_events
                    .fetch_add(pruned, Ordering::Relaxed);
                tracing::info!(pruned, %cutoff, "pruned old webhook events");
            }
            Err(e) => {
                tracing::warn!(error = %crate::error::ErrorChain(&e), "pruning webhook events failed")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(settings.retention_interval) => {}
            () = shutdown.fired() => break,
        }
    }
}
