//! The worker loop's own database work, run beside it so that hand-offs never wait for it:
//! leasing rounds (at most one at a time) and the sweeps renewing the leases of what waits
//! in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use turris_webhooks::delivery::LeasedDelivery;

use super::Worker;

/// The shortest time between two leasing rounds started by wake-ups: under load a slot frees
/// after every attempt, and each would start a round.
const WOKEN_POLL_GAP: Duration = Duration::from_millis(25);

type Leased = Result<Vec<LeasedDelivery>, crate::store::DbError>;

/// A leasing round under way, and how many deliveries it asked for.
struct Leasing {
    asked: usize,
    task: JoinHandle<Leased>,
}

/// What a finished round asked for and what it leased.
pub(super) type Finished = (usize, Result<Leased, JoinError>);

/// When the worker leases from the database, and the rounds and sweeps under way.
pub(super) struct Rounds {
    /// Lease at the next chance: at the start, after a timer wake and after a full round.
    poll: bool,
    /// Woken (a commit, a freed slot) since the last round started.
    woken: bool,
    last: Instant,
    round: usize,
    leasing: Option<Leasing>,
    last_sweep: Instant,
    sweeping: Option<JoinHandle<()>>,
}

impl Rounds {
    pub(super) fn new() -> Self {
        Self {
            poll: true,
            woken: false,
            last: Instant::now(),
            round: 0,
            leasing: None,
            last_sweep: Instant::now(),
            sweeping: None,
        }
    }

    /// A round that finished since the loop last looked.
    pub(super) async fn take_finished(&mut self) -> Option<Finished> {
        let done = self.leasing.take_if(|l| l.task.is_finished())?;
        Some((done.asked, done.task.await))
    }

    /// Completes when the round under way finishes (never while none is); cancel-safe.
    pub(super) async fn finished(&mut self) -> Finished {
        match self.leasing.as_mut() {
            Some(leasing) => {
                let result = (&mut leasing.task).await;
                let asked = leasing.asked;
                self.leasing = None;
                (asked, result)
            }
            None => std::future::pending().await,
        }
    }

    /// A round filled what it asked for: lease again at once.
    pub(super) fn after(&mut self, full: bool) {
        self.poll |= full;
    }

    /// A commit or a freed slot woke the loop.
    pub(super) fn woke(&mut self) {
        self.woken = true;
    }

    /// The loop slept its whole nap.
    pub(super) fn timer(&mut self) {
        self.poll = true;
    }

    /// Starts a sweep of the waiting leases every `every`, unless one still runs.
    pub(super) fn sweep(&mut self, worker: &Arc<Worker>, every: Duration) {
        if self.last_sweep.elapsed() >= every
            && self.sweeping.as_ref().is_none_or(|t| t.is_finished())
        {
            self.last_sweep = Instant::now();
            let worker = worker.clone();
            self.sweeping = Some(tokio::spawn(async move { worker.renew_waiting().await }));
        }
    }

    /// Starts a round of up to `free` deliveries when one is due: asked for, after a wake-up
    /// that brought nothing to do (`idle`: someone else's enqueue, a full hand-off, a slot of
    /// an endpoint with a backlog), or `interval` after the last under load.
    pub(super) fn start(
        &mut self,
        worker: &Arc<Worker>,
        free: usize,
        idle: bool,
        interval: Duration,
    ) {
        let since = self.last.elapsed();
        let due = self.poll || (self.woken && idle && since >= WOKEN_POLL_GAP) || since >= interval;
        if free == 0 || self.leasing.is_some() || !due {
            return;
        }
        self.last = Instant::now();
        self.round = self.round.wrapping_add(1);
        (self.poll, self.woken) = (false, false);
        let (worker, round) = (worker.clone(), self.round);
        self.leasing = Some(Leasing {
            asked: free,
            task: tokio::spawn(async move { worker.lease_round(free, round).await }),
        });
    }

    /// How long the loop may sleep when nothing wakes it.
    pub(super) fn nap(&self, idle: bool, interval: Duration) -> Duration {
        match self.woken && idle && self.leasing.is_none() {
            true => WOKEN_POLL_GAP.saturating_sub(self.last.elapsed()),
            false => interval,
        }
    }

    /// Stopping: what a round under way leases, to give back.
    pub(super) async fn stop(self) -> Vec<LeasedDelivery> {
        match self.leasing {
            Some(leasing) => leasing
                .task
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

impl Worker {
    /// Starts what a finished round leased; whether it filled what it asked for.
    pub(super) async fn leased(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        in_flight: &mut JoinSet<()>,
        (asked, result): Finished,
    ) -> bool {
        let leased = match result {
            Ok(Ok(leased)) => leased,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "leasing deliveries failed");
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "a leasing round panicked");
                return false;
            }
        };
        let full = leased.len() == asked;
        self.spawn_all(permits, in_flight, leased).await;
        full
    }
}
