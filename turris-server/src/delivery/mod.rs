//! Outbound webhook delivery in the server: workers that lease due deliveries, the debounce
//! flusher and retention.
//!
//! - The records API writes outbox rows in the same transaction as each change
//!   ([`crate::store::TurrisInputStore`]); compliance status changes go to the debounce inbox.
//! - [`dispatch`]: leases due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL), sends them
//!   with turris-webhooks' engine, records each attempt and schedules the next with the retry
//!   policy. Concurrency is bounded by a semaphore; a worker re-polls at once after a full
//!   batch, is woken by a local enqueue, and otherwise polls every `poll_interval`. Several
//!   processes on one PostgreSQL share the queue.
//! - [`fair`]: each leasing round shares its slots round-robin across organizations and
//!   endpoints, within each endpoint's concurrency and rate limits, so a slow endpoint's
//!   backlog cannot hold the others back.
//! - [`debounce`]: closes due debounce windows with `advance_debounce`, one transaction per
//!   step, so a restart loses nothing and each window is flushed once.
//! - [`recover`]: runs recover jobs, each re-queuing a webhook's failed events of a window a
//!   page a second under a fenced lease.
//! - [`retention`]: prunes delivered and failed events older than the retention period.

pub mod debounce;
pub mod dispatch;
pub mod fair;
pub mod metrics;
pub mod notify;
pub mod recover;
pub mod retention;
pub mod settings;

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::workers::{Shutdown, Supervision, WorkerStart, supervise};

pub use metrics::DeliveryMetrics;
pub use settings::DeliverySettings;

/// Starts the delivery, debounce and retention workers (none when the config turns them off).
pub fn spawn_workers(state: &AppState, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    let settings = &state.config().delivery;
    if !settings.workers {
        tracing::info!("delivery workers are off in this process");
        return Vec::new();
    }
    let run = |name: &'static str, start: WorkerStart| {
        supervise(state, name, shutdown, Supervision::default(), start)
    };
    vec![
        run("delivery_dispatch", |s, d| {
            Box::pin(async move {
                match dispatch::Worker::new(&s) {
                    Ok(worker) => worker.run(d).await,
                    Err(e) => tracing::error!(error = %e, "the delivery worker cannot start"),
                }
            })
        }),
        run("delivery_debounce", |s, d| Box::pin(debounce::run(s, d))),
        run("delivery_retention", |s, d| Box::pin(retention::run(s, d))),
        run("delivery_recover", |s, d| Box::pin(recover::run(s, d))),
    ]
}
