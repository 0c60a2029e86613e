//! Two-way HubSpot ↔ Turris sync (issue 7). Bulk reconciliation is a leased job.
//!
//! - [`inbound`]: turns the events `POST /hooks/hubspot` persisted into Turris records, links
//!   and activity rows, reading HubSpot in batches of 100 objects and running core's planner;
//! - [`invites`]: auto-invite of the agencies inbound sync creates, deferred until the agency
//!   has a contact with an email (added through the API or synced from HubSpot);
//! - [`outbound`]: pushes agencies, agents and agency contacts created or changed through the
//!   records API to HubSpot, from an outbox drained per organization under a lease;
//! - [`tokens`]: refreshes OAuth tokens ahead of expiry, and pauses sync when HubSpot revoked
//!   the connection;
//! - [`subscriptions`]: creates the app's webhook subscriptions for the inbound-enabled objects
//!   and marks each mapped property `live` once HubSpot confirms it;
//! - [`pruning`]: deletes activity older than 30 days, old echo ledger entries and handled
//!   inbound events;
//! - [`reconcile`]: bulk reconciliation of HubSpot companies with agencies and of contacts
//!   with agents, resumable jobs leased by one process at a time.

pub mod inbound;
pub mod invites;
pub mod outbound;
pub mod pruning;
pub mod reconcile;
pub mod subscriptions;
pub mod tokens;

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::workers::Shutdown;

/// Starts the sync workers.
pub fn spawn_workers(state: &AppState, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(inbound::run(state.clone(), shutdown.clone())),
        tokio::spawn(outbound::run(state.clone(), shutdown.clone())),
        tokio::spawn(tokens::run(state.clone(), shutdown.clone())),
        tokio::spawn(subscriptions::run(state.clone(), shutdown.clone())),
        tokio::spawn(pruning::run(state.clone(), shutdown.clone())),
        tokio::spawn(reconcile::run(state.clone(), shutdown.clone())),
    ]
}
