//! The pruning job: deletes what the sync keeps only for a while, every [`PERIOD`] (and once
//! at start):
//! - activity entries older than 30 days (core's `activity::RETENTION`);
//! - echo ledger entries older than twice core's echo window;
//! - inbound events processed or given up more than [`INBOUND_RETENTION`] ago;
//! - CRM sync records older than `TURRIS_CRM_SYNC_RECORD_RETENTION` (400 days by default).

use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_core::activity::retention_cutoff;
use turris_core::planner::ECHO_WINDOW;

use crate::app::AppState;
use crate::workers::Shutdown;

/// How often the job runs.
const PERIOD: Duration = Duration::from_secs(60 * 60);
/// How long handled inbound events are kept (to look into a sync after the fact).
pub const INBOUND_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// What one run deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Activity entries.
    pub activity: u64,
    /// Echo ledger entries.
    pub echo_writes: u64,
    /// Inbound events.
    pub inbound_events: u64,
    /// CRM sync records.
    pub sync_records: u64,
}

/// The job loop: runs until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        match prune(&state, Utc::now()).await {
            Ok(pruned) => tracing::info!(?pruned, "pruned sync data"),
            Err(e) => tracing::error!(error = %crate::error::ErrorChain(&e), "pruning failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(PERIOD) => {},
            () = shutdown.fired() => return,
        }
    }
}

/// One run, as of `now`.
pub async fn prune(state: &AppState, now: DateTime<Utc>) -> Result<Pruned, crate::store::DbError> {
    let db = state.db();
    Ok(Pruned {
        activity: db.prune_activity_before(retention_cutoff(now)).await?,
        echo_writes: db
            .prune_hubspot_writes_before(now - ECHO_WINDOW * 2)
            .await?,
        inbound_events: db.prune_inbound_before(now - INBOUND_RETENTION).await?,
        sync_records: db
            .prune_sync_records_before(sync_record_cutoff(state, now))
            .await?,
    })
}

/// Sync records before this are pruned.
fn sync_record_cutoff(state: &AppState, now: DateTime<Utc>) -> DateTime<Utc> {
    chrono::Duration::from_std(state.config().hubspot.sync_record_retention)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
