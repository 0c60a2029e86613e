//! How one process shares reconciliation between organizations (#17).
//!
//! - At most `jobs_per_organization` jobs of one organization run at once in a process; a
//!   job claimed beyond that gives its lease up at once and is claimed again once the
//!   organization's running job ends (the worker is woken then).
//! - Pages take turns: at most `pages_at_once` pages run at a time in the process, handed out
//!   first come, first served, and a job asks again for every page. A large job therefore
//!   yields after each page, and a small job that arrives behind it waits for at most one page
//!   of each job ahead of it, never for the whole of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, SemaphorePermit};
use turris_core::ids::OrganizationId;

/// The turns of one process's reconciliation jobs and pages.
#[derive(Debug)]
pub struct Turns {
    pages: Semaphore,
    jobs_per_organization: usize,
    running: Mutex<HashMap<OrganizationId, usize>>,
}

impl Turns {
    /// At most `pages_at_once` pages at a time (at least 1), and `jobs_per_organization` jobs
    /// of one organization (at least 1).
    pub fn new(pages_at_once: usize, jobs_per_organization: usize) -> Arc<Self> {
        Arc::new(Self {
            pages: Semaphore::new(pages_at_once.max(1)),
            jobs_per_organization: jobs_per_organization.max(1),
            running: Mutex::default(),
        })
    }

    /// A turn to run a job of `org`, or `None` while the organization runs as many as it may.
    pub fn start_job(self: &Arc<Self>, org: &OrganizationId) -> Option<JobTurn> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = running.entry(org.clone()).or_default();
        if *n >= self.jobs_per_organization {
            return None;
        }
        *n += 1;
        Some(JobTurn {
            turns: Arc::clone(self),
            org: org.clone(),
        })
    }

    /// Waits for a turn to run one page (first come, first served); the page runs while the
    /// permit is held.
    pub async fn page(&self) -> SemaphorePermit<'_> {
        self.pages
            .acquire()
            .await
            .expect("the page semaphore is never closed")
    }
}

/// A running job's place among its organization's; given back when dropped.
#[derive(Debug)]
pub struct JobTurn {
    turns: Arc<Turns>,
    org: OrganizationId,
}

impl Drop for JobTurn {
    fn drop(&mut self) {
        let mut running = self.turns.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.org) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.org);
            }
        }
    }
}
