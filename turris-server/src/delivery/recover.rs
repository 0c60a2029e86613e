//! The recover worker: takes a running recover job and re-queues its failed events a page a
//! second (`TURRIS_WEBHOOK_RECOVER_RATE` events per page) until the window is done. Each page
//! renews the job's fenced lease; a job whose process died is taken over once its lease lapses,
//! from the last committed page.

use std::time::Duration;

use chrono::Utc;

use crate::app::AppState;
use crate::store::{DbError, LeasedRecoverJob, RecoverState};
use crate::workers::Shutdown;

/// How long a job belongs to one process without a page.
pub const RECOVER_LEASE: Duration = Duration::from_secs(15);
/// The pause between pages, and between looks for a job when there is none.
const PAGE_EVERY: Duration = Duration::from_secs(1);

/// Runs jobs one after the other until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    while !shutdown.is_fired() {
        match state
            .db()
            .lease_recover_job(Utc::now(), RECOVER_LEASE)
            .await
        {
            Ok(Some(mut job)) => {
                run_job(&state, &mut job, &mut shutdown).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %crate::error::ErrorChain(&e), "taking a recover job failed")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PAGE_EVERY) => {}
            () = shutdown.fired() => break,
        }
    }
}

async fn run_job(state: &AppState, job: &mut LeasedRecoverJob, shutdown: &mut Shutdown) {
    let rate = state.config().delivery.recover_rate.max(1) as usize;
    tracing::info!(job_id = %job.job.id, webhook_id = %job.job.webhook_id, total = job.job.total, "recover job taken");
    loop {
        match state
            .db()
            .recover_page(job, rate, Utc::now(), RECOVER_LEASE)
            .await
        {
            Ok(()) => {
                state.db().enqueue_signal().notify_one();
                if job.job.state == RecoverState::Done {
                    tracing::info!(job_id = %job.job.id, done = job.job.done, "recover job done");
                    return;
                }
            }
            Err(DbError::LeaseLost) => {
                tracing::info!(job_id = %job.job.id, "recover job taken over by another process");
                return;
            }
            // The next page tries again; if the store stays down the lease lapses.
            Err(e) => {
                tracing::warn!(job_id = %job.job.id, error = %crate::error::ErrorChain(&e), "a recover page failed")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PAGE_EVERY) => {}
            () = shutdown.fired() => {
                if let Err(e) = state.db().release_recover_job(job).await {
                    tracing::warn!(job_id = %job.job.id, error = %crate::error::ErrorChain(&e), "giving a recover job up failed");
                }
                return;
            }
        }
    }
}
