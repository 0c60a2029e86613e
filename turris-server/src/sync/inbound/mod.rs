//! The inbound worker: HubSpot webhook events (persisted by `POST /hooks/hubspot`) become
//! Turris records, links and activity rows.
//!
//! One step claims due events round-robin across organizations (up to [`CLAIM_LIMIT`], at most
//! [`PER_ORG`] of one organization), groups them by organization and
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
//! - [`links`] drops and moves links for deletions and merges;
//! - [`follow`] queues the contacts of a company that just became a synced agency, so a
//!   contact whose events came before its company's (webhooks are unordered) is synced too.
//!
//! While the connection is not `connected` (status `error`), events wait: they are retried
//! every [`PAUSED_RETRY`] without spending an attempt (a pause of any length loses nothing) and
//! processed after a reconnect. While HubSpot's DAILY limit blocks the portal
//! ([`crate::hubspot::daily_limit`]), events wait until the reset without counting an attempt.
//!
//! A claim lasts [`LEASE`] and is renewed every [`RENEW_EVERY`] while the step runs; every
//! write that settles its events carries the claim's token. A step whose claim was taken over
//! (this process stalled past the lease) stops, and its late writes change nothing.

mod apply;
mod events;
mod follow;
mod links;
mod organization;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_core::ids::{HubSpotId, OrganizationId};

use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{ClaimToken, ClaimedInboundEvent, DbError, InboundEventId};
use crate::sync::lease::{LEASE, RENEW_EVERY, renewing};
use crate::workers::Shutdown;

/// Most events one step claims, across organizations (the claim is renewed while the step
/// runs, organization after organization).
pub const CLAIM_LIMIT: usize = 5_000;
/// Most events one step claims of one organization: at most ten batch reads of 100 objects
/// per object type. Steps go round-robin across organizations (each one's oldest event
/// first), so one tenant's backlog never delays another tenant's events by more than a step.
pub const PER_ORG: usize = 1_000;
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

/// Claims due events and processes them, renewing the claim meanwhile; returns how many were
/// claimed.
pub async fn step(state: &AppState) -> Result<usize, DbError> {
    let claimed = state
        .db()
        .claim_inbound_events(Utc::now(), CLAIM_LIMIT, PER_ORG, LEASE)
        .await?;
    let Some(claim) = claimed.first().map(|e| e.claim.clone()) else {
        return Ok(0);
    };
    let count = claimed.len();
    let mut by_org: BTreeMap<OrganizationId, Vec<ClaimedInboundEvent>> = BTreeMap::new();
    for event in claimed {
        by_org
            .entry(event.organization.clone())
            .or_default()
            .push(event);
    }
    let work = async {
        for (org, events) in &by_org {
            let outcome = process_organization(state, org, events).await;
            settle(state, &claim, org, events, outcome).await?;
        }
        Ok::<(), DbError>(())
    };
    let renew = || renew_claim(state, &claim);
    match renewing(work, RENEW_EVERY, renew).await {
        Some(done) => done.map(|()| count),
        None => {
            tracing::warn!(
                events = count,
                "inbound claim lost: another process took the events over"
            );
            Ok(count)
        }
    }
}

/// Renews the claim; `false` once it holds no pending event (all settled, or taken over).
async fn renew_claim(state: &AppState, claim: &ClaimToken) -> bool {
    match state
        .db()
        .renew_inbound_claim(claim, Utc::now(), LEASE)
        .await
    {
        Ok(held) => held > 0,
        Err(e) => {
            // The claim still runs out on its own; keep working and try again next beat.
            tracing::error!(error = %crate::error::ErrorChain(&e), "cannot renew the inbound claim");
            true
        }
    }
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
    claim: &ClaimToken,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
    outcome: Settled,
) -> Result<(), DbError> {
    let ids: Vec<InboundEventId> = events.iter().map(|e| e.id).collect();
    let settled = match outcome {
        Settled::Done => {
            state
                .db()
                .mark_inbound_processed(claim, &ids, Utc::now())
                .await?
        }
        Settled::RetryAll { error } => {
            tracing::warn!(org = %org, events = events.len(), error = %error, "inbound events postponed");
            let now = Utc::now();
            let mut settled = 0;
            for event in events {
                let retry_at = super::retry_delay(event.attempts).map(|delay| now + delay);
                match state
                    .db()
                    .mark_inbound_failed(claim, event.id, &error, retry_at)
                    .await
                {
                    Ok(()) => settled += 1,
                    Err(DbError::LeaseLost) => {}
                    Err(e) => return Err(e),
                }
            }
            settled
        }
        Settled::Postponed { error, until } => {
            state
                .db()
                .postpone_inbound_events(org, claim, &ids, &error, until)
                .await?
        }
    };
    if settled < ids.len() {
        tracing::warn!(org = %org, lost = ids.len() - settled, "inbound claim lost: another process settles these events");
    }
    Ok(())
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
                SyncError::Raced { .. } => e.to_string(),
            };
            Settled::RetryAll { error }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("storage")]
    Db(#[from] DbError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// Every plan of one object's change found its record changed or linked since it was read.
    #[error("the change of HubSpot object {object} raced other steps: its events are retried")]
    Raced { object: HubSpotId },
}

impl From<turris_core::store::StoreError> for SyncError {
    fn from(error: turris_core::store::StoreError) -> Self {
        SyncError::Db(error.into())
    }
}
