//! A claimed reconciliation job and its lease: saving progress only while the lease holds,
//! renewing it while a page runs or a wait lasts, and giving it up on shutdown.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use turris_core::ids::OrganizationId;

use super::fair::Turns;
use super::{Object, Progress, ReconcileError, step, to_value};
use crate::app::AppState;
use crate::store::{Job, JobLease, JobStatus};
use crate::workers::Shutdown;

/// A claimed job and its lease.
pub(super) struct Leased {
    pub(super) state: AppState,
    pub(super) job: Job,
    pub(super) lease: JobLease,
    pub(super) lease_for: Duration,
    /// The process's turns: each page waits for one (renewing the lease meanwhile).
    pub(super) turns: Arc<Turns>,
    /// The state last saved, written again when the lease is renewed mid-page.
    pub(super) saved: serde_json::Value,
}

impl Leased {
    /// Saves `state` with `status`, keeping the lease while running (`release` gives it up);
    /// `false` when the lease was taken over (or the save failed), so this process stops.
    pub(super) async fn save(
        &mut self,
        status: JobStatus,
        state: serde_json::Value,
        release: bool,
    ) -> bool {
        let now = Utc::now();
        let until = (status == JobStatus::Running && !release)
            .then(|| now + chrono::Duration::from_std(self.lease_for).unwrap_or_default());
        match self
            .state
            .db()
            .save_leased_job(&self.job, &self.lease, status, &state, until, now)
            .await
        {
            Ok(true) => {
                self.saved = state;
                true
            }
            Ok(false) => {
                tracing::warn!(org = %self.job.organization, job = %self.job.id, "another process took over this reconciliation");
                false
            }
            Err(e) => {
                tracing::error!(job = %self.job.id, error = %crate::error::ErrorChain(&e), "cannot save the reconciliation");
                false
            }
        }
    }

    /// Renews the lease with the state last saved.
    pub(super) async fn renew(&mut self) -> bool {
        let saved = self.saved.clone();
        self.save(JobStatus::Running, saved, false).await
    }
}

impl Leased {
    /// Gives the lease up with the state last saved: the job stays running, to be resumed.
    pub(super) async fn pause(&mut self) {
        let saved = self.saved.clone();
        self.save(JobStatus::Running, saved, true).await;
    }

    /// Saves progress and keeps the lease; `false` when the lease is lost.
    pub(super) async fn checkpoint(&mut self, progress: &Progress) -> bool {
        self.save(JobStatus::Running, to_value(progress), false)
            .await
    }

    /// Runs one page, renewing the lease meanwhile. `None` when the job must stop here: the
    /// lease was lost, or shutdown fired (the lease is then given up).
    pub(super) async fn page(
        &mut self,
        org: &OrganizationId,
        object: Object,
        progress: &mut Progress,
        shutdown: &mut Shutdown,
    ) -> Option<Result<bool, ReconcileError>> {
        let (state, turns) = (self.state.clone(), Arc::clone(&self.turns));
        let step = async {
            let _page = turns.page().await;
            step(&state, org, object, progress).await
        };
        tokio::pin!(step);
        let mut heartbeat = tokio::time::interval(renew_every(self.lease_for));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                done = &mut step => return Some(done),
                () = shutdown.fired() => {
                    self.pause().await;
                    return None;
                }
                _ = heartbeat.tick() => {
                    if !self.renew().await {
                        return None;
                    }
                }
            }
        }
    }

    /// Waits until `until` (or for `delay`, whichever the caller computed), renewing the
    /// lease; `false` when the job must stop (lease lost, or shutdown, which gives it up).
    pub(super) async fn wait(&mut self, delay: Duration, shutdown: &mut Shutdown) -> bool {
        let deadline = tokio::time::Instant::now() + delay;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep(left.min(renew_every(self.lease_for))) => {
                    if !self.renew().await {
                        return false;
                    }
                }
                () = shutdown.fired() => {
                    self.pause().await;
                    return false;
                }
            }
        }
    }
}

/// How often a running job renews its lease.
fn renew_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}
