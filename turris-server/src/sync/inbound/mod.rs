//! The inbound worker: HubSpot webhook events (persisted by `POST /hooks/hubspot`) become
//! Turris records, links and activity rows.
//!
//! One step claims every due event (up to [`CLAIM_LIMIT`]), groups them by organization and
//! object, reads the current properties of every touched object with batch read (one call per
//! 100 objects, never one per event), and lets core decide:
//!
//! - [`events`] translates HubSpot's events into core's, and core's
//!   [`ObjectEvents`](turris_core::planner::events::ObjectEvents) says what to do with each
//!   object: drop its link (a deletion keeps the Turris record), move links for a merge
//!   ([`plan_merge`](turris_core::planner::plan_merge)), or read it and plan its changes;
//! - [`organization`] runs one organization's step: companies first (a contact of a company
//!   created in the same step finds its agency), then contacts, each an agent, an agency
//!   contact or skipped by core's [`contact_role`](turris_core::planner::contact_role);
//! - [`apply`] performs core's [`SyncAction`](turris_core::planner::SyncAction) for any record
//!   kind ([`super::kinds`]), with one activity row per outcome; a net-new agency is offered to
//!   auto-invite ([`crate::sync::invites`]) and a new or updated agency contact releases the
//!   agency's deferred invitation;
//! - [`links`] drops and moves links for deletions and merges.
//!
//! While the connection is not `connected` (status `error`), events wait: they are retried
//! every [`PAUSED_RETRY`] without spending an attempt (a pause of any length loses nothing) and
//! processed after a reconnect. While HubSpot's DAILY limit blocks the portal
//! ([`crate::hubspot::daily_limit`]), events wait until the reset without counting an attempt.

mod apply;
mod events;
mod links;
mod organization;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;

use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{ClaimedInboundEvent, InboundEventId};
use crate::workers::Shutdown;

/// Most events one step claims.
pub const CLAIM_LIMIT: usize = 20_000;
/// How long a claim holds (a step finishes well within it).
const CLAIM_FOR: Duration = Duration::from_secs(120);
/// How often the worker looks for events when nobody woke it.
const POLL: Duration = Duration::from_millis(500);
/// After a wake-up, the worker waits for this much quiet (no further batch) before claiming, so
/// a burst is read from HubSpot in full batches of 100...
const GATHER: Duration = Duration::from_millis(200);
/// ...but never longer than this after the first wake-up.
const MAX_GATHER: Duration = Duration::from_secs(5);
/// When events of a paused (status `error`) connection are looked at again.
const PAUSED_RETRY: chrono::Duration = chrono::Duration::seconds(30);

/// Tells the inbound worker that events were persisted.
pub fn wake(state: &AppState) {
    state.sync().wake_inbound();
}

/// The worker loop: runs until `shutdown` fires, finishing the step in progress.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        if shutdown.is_fired() {
            return;
        }
        let worked = match step(&state).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::error!(error = %crate::error::ErrorChain(&e), "inbound step failed");
                false
            }
        };
        if worked {
            continue;
        }
        let woken = tokio::select! {
            () = state.sync().inbound_woken() => true,
            () = tokio::time::sleep(POLL) => false,
            () = shutdown.fired() => return,
        };
        if woken {
            let started = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(GATHER) => break,
                    () = state.sync().inbound_woken() => if started.elapsed() >= MAX_GATHER { break },
                    () = shutdown.fired() => return,
                }
            }
        }
    }
}

/// Claims due events and processes them; returns how many were claimed.
pub async fn step(state: &AppState) -> Result<usize, crate::store::DbError> {
    let now = Utc::now();
    let claimed = state
        .db()
        .claim_inbound_events(now, CLAIM_LIMIT, CLAIM_FOR)
        .await?;
    let count = claimed.len();
    let mut by_org: BTreeMap<OrganizationId, Vec<ClaimedInboundEvent>> = BTreeMap::new();
    for event in claimed {
        by_org
            .entry(event.organization.clone())
            .or_default()
            .push(event);
    }
    for (org, events) in by_org {
        let outcome = process_organization(state, &org, &events).await;
        settle(state, &org, &events, outcome).await?;
    }
    Ok(count)
}

/// What became of an organization's claimed events.
enum Settled {
    /// Every event was handled (synced, skipped or dropped with a row).
    Done,
    /// Nothing was handled (HubSpot unreachable or failing): try again after a backoff
    /// ([`super::retry_delay`]), each event counting an attempt.
    RetryAll { error: String },
    /// Nothing was tried (a paused connection, HubSpot's daily limit): try again at `until`,
    /// no attempt counted, so events wait out a pause of any length.
    Postponed { error: String, until: DateTime<Utc> },
}

/// The connection is paused (status `error`) until a reconnect: the events wait.
fn paused() -> Settled {
    Settled::Postponed {
        error: "sync is paused: the HubSpot connection is not active".into(),
        until: Utc::now() + PAUSED_RETRY,
    }
}

async fn settle(
    state: &AppState,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
    outcome: Settled,
) -> Result<(), crate::store::DbError> {
    match outcome {
        Settled::Done => {
            let ids: Vec<InboundEventId> = events.iter().map(|e| e.id).collect();
            state.db().mark_inbound_processed(&ids, Utc::now()).await
        }
        Settled::RetryAll { error } => {
            tracing::warn!(org = %org, events = events.len(), error = %error, "inbound events postponed");
            let now = Utc::now();
            for event in events {
                let retry_at = super::retry_delay(event.attempts).map(|delay| now + delay);
                state
                    .db()
                    .mark_inbound_failed(event.id, &error, retry_at)
                    .await?;
            }
            Ok(())
        }
        Settled::Postponed { error, until } => {
            let ids: Vec<InboundEventId> = events.iter().map(|e| e.id).collect();
            state
                .db()
                .postpone_inbound_events(org, &ids, &error, until)
                .await
        }
    }
}

async fn process_organization(
    state: &AppState,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
) -> Settled {
    match organization::sync(state, org, events).await {
        Ok(outcome) => outcome,
        Err(e) => {
            if let SyncError::Connection(c) = &e
                && let Some(until) = c.daily_limit_until()
            {
                crate::hubspot::note_daily_limit(state, org, until).await;
                return Settled::Postponed {
                    error: e.to_string(),
                    until,
                };
            }
            if let SyncError::Connection(c) = &e
                && c.is_connection_lost()
            {
                if let Err(store) = crate::hubspot::mark_connection_lost(state, org, c).await {
                    tracing::error!(org = %org, error = %store, "cannot record the lost connection");
                }
                return paused();
            }
            // A storage error with its causes; HubSpot's with its client-safe message only
            // (a transport error's text may carry a URL).
            let error = match &e {
                SyncError::Db(db) => crate::error::ErrorChain(db).to_string(),
                SyncError::Connection(c) => c.to_string(),
            };
            Settled::RetryAll { error }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("storage")]
    Db(#[from] crate::store::DbError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
}

impl From<turris_core::store::StoreError> for SyncError {
    fn from(error: turris_core::store::StoreError) -> Self {
        SyncError::Db(error.into())
    }
}
