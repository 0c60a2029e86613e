//! Background workers and the signal that stops them.
//!
//! [`crate::app::Application::run_until`] starts every worker with [`spawn_all`] before it
//! serves, fires the [`ShutdownTrigger`] once the server has stopped accepting requests, and
//! waits for every worker to finish its current step. A worker is a loop that checks
//! [`Shutdown`] between steps and never leaves accepted work half done.
//!
//! Every worker runs under [`supervise`]: a worker task that panics is logged, counted
//! ([`WorkerHealth`], shown by `/metrics`) and started again after a backoff that doubles with
//! each panic in a row. A worker that panicked [`Supervision::failing_after`] times in a row
//! without running [`Supervision::stable_after`] in between is *failing*: `/readyz` answers 503
//! naming it, until it runs that long again.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;

/// Fires the shutdown of every worker.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// Asks every worker to stop after its current step.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// What a worker watches to know when to stop. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Whether the shutdown was fired.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when the shutdown is fired (at once if it already was).
    pub async fn fired(&mut self) {
        // An error means the trigger is gone: nobody can fire it any more, so stop too.
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}

/// A trigger and the signal it fires.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

/// How workers are restarted after a panic.
#[derive(Debug, Clone, Copy)]
pub struct Supervision {
    /// The wait before the first restart; it doubles with each panic in a row...
    pub first_backoff: Duration,
    /// ...up to this.
    pub max_backoff: Duration,
    /// A worker that ran this long since its last start is healthy again (its count of panics
    /// in a row starts over).
    pub stable_after: Duration,
    /// Panics in a row after which the worker is failing (`/readyz` answers 503).
    pub failing_after: u32,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
            failing_after: 3,
        }
    }
}

impl Supervision {
    /// The wait before restarting after `in_a_row` panics in a row (at least one).
    pub fn backoff(&self, in_a_row: u32) -> Duration {
        let doublings = in_a_row.saturating_sub(1).min(20);
        self.first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// One worker's record under its supervisor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerRecord {
    /// Restarts after a panic since the process started.
    pub restarts: u64,
    /// Panics since it last ran [`Supervision::stable_after`].
    pub panics_in_a_row: u32,
    /// Whether it counts as failing (`/readyz`).
    pub failing: bool,
}

/// What the supervisors of one server know about its workers (in [`AppState`]).
#[derive(Debug, Default)]
pub struct WorkerHealth {
    workers: Mutex<BTreeMap<&'static str, WorkerRecord>>,
}

impl WorkerHealth {
    fn update(&self, name: &'static str, change: impl FnOnce(&mut WorkerRecord)) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        change(workers.entry(name).or_default());
    }

    /// Every supervised worker's record, by name.
    pub fn records(&self) -> BTreeMap<&'static str, WorkerRecord> {
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The names of the workers that keep failing.
    pub fn failing(&self) -> Vec<&'static str> {
        self.records()
            .into_iter()
            .filter(|(_, r)| r.failing)
            .map(|(name, _)| name)
            .collect()
    }
}

/// What a panic said, when it said it with a string.
fn panic_message(error: tokio::task::JoinError) -> String {
    let Ok(payload) = error.try_into_panic() else {
        return "cancelled".to_owned();
    };
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// A worker's start, boxed so workers of different types share one supervisor helper.
pub type WorkerStart =
    fn(AppState, Shutdown) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs the worker `start` makes under a supervisor named `name` (see the module): restarted
/// after each panic, until it returns (its shutdown) or `shutdown` fires during a backoff.
pub fn supervise<F, W>(
    state: &AppState,
    name: &'static str,
    shutdown: &Shutdown,
    supervision: Supervision,
    start: F,
) -> JoinHandle<()>
where
    F: Fn(AppState, Shutdown) -> W + Send + 'static,
    W: Future<Output = ()> + Send + 'static,
{
    let (state, mut shutdown) = (state.clone(), shutdown.clone());
    state.workers().update(name, |_| {});
    tokio::spawn(async move {
        loop {
            let mut task = tokio::spawn(start(state.clone(), shutdown.clone()));
            let ended = tokio::select! {
                ended = &mut task => ended,
                () = tokio::time::sleep(supervision.stable_after) => {
                    state.workers().update(name, |r| {
                        r.panics_in_a_row = 0;
                        r.failing = false;
                    });
                    task.await
                }
            };
            let Err(error) = ended else {
                return;
            };
            let message = panic_message(error);
            let mut in_a_row = 0;
            state.workers().update(name, |r| {
                r.restarts += 1;
                r.panics_in_a_row += 1;
                r.failing = r.panics_in_a_row >= supervision.failing_after;
                in_a_row = r.panics_in_a_row;
            });
            let backoff = supervision.backoff(in_a_row);
            tracing::error!(worker = name, panic = %message, in_a_row, ?backoff, "worker panicked: restarting");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.fired() => return,
            }
        }
    })
}

/// Starts every background worker of the server.
pub fn spawn_all(state: &AppState, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    let mut handles = crate::delivery::spawn_workers(state, shutdown);
    handles.extend(crate::sync::spawn_workers(state, shutdown));
    handles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_doubling_up_to_the_cap() {
        let s = Supervision {
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            ..Supervision::default()
        };
        for (in_a_row, ms) in [(1, 500), (2, 1_000), (3, 2_000), (8, 60_000), (40, 60_000)] {
            assert_eq!(s.backoff(in_a_row), Duration::from_millis(ms), "{in_a_row}");
        }
    }

    #[tokio::test]
    async fn a_fired_shutdown_wakes_every_clone_even_one_that_starts_waiting_late() {
        let (trigger, shutdown) = shutdown_channel();
        let mut early = shutdown.clone();
        let waiter = tokio::spawn(async move { early.fired().await });
        assert!(!shutdown.is_fired());
        trigger.fire();
        waiter.await.unwrap();
        let mut late = shutdown.clone();
        late.fired().await;
        assert!(late.is_fired());
    }
}
