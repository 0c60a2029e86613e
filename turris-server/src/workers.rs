//! Background workers and the signal that stops them.
//!
//! [`crate::app::Application::run_until`] starts every worker with [`spawn_all`] before it
//! serves, fires the [`ShutdownTrigger`] once the server has stopped accepting requests, and
//! waits for every worker to finish its current step. A worker is a loop that checks
//! [`Shutdown`] between steps and never leaves accepted work half done.

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

/// Starts every background worker of the server.
pub fn spawn_all(state: &AppState, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    let mut handles = crate::delivery::spawn_workers(state, shutdown);
    handles.extend(crate::sync::spawn_workers(state, shutdown));
    handles
}

#[cfg(test)]
mod tests {
    use super::*;

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
