//! Two-way HubSpot ↔ Turris sync. Bulk reconciliation is a leased job.
//!
//! - [`inbound`]: turns the events `POST /hooks/hubspot` persisted into Turris records, links
//!   and activity rows, reading HubSpot in batches of 100 objects and running core's planner;
//! - [`journal`]: reads HubSpot's webhooks journal for organizations whose inbound mode asks
//!   for it, into the same inbound events as webhooks;
//! - [`polling`]: searches HubSpot for recently modified records for organizations in the
//!   `polling` inbound mode (Service Keys), into the same inbound events;
//! - [`invites`]: auto-invite of the agencies inbound sync creates (written with the agency),
//!   deferred until the agency has a contact with an email (added through the API or synced
//!   from HubSpot), with a sweep that sends what a failed release left deferred;
//! - [`outbound`]: pushes agencies, agents and agency contacts created or changed through the
//!   records API to HubSpot, from an outbox drained per organization under a lease;
//! - [`tokens`]: refreshes OAuth tokens ahead of expiry, and pauses sync when HubSpot revoked
//!   the connection;
//! - [`subscriptions`]: creates the app's webhook subscriptions for the inbound-enabled objects
//!   and marks each mapped property `live` once HubSpot confirms it;
//! - [`pruning`]: deletes activity older than 30 days, old echo ledger entries and handled
//!   inbound events;
//! - [`lease`]: the short, renewed, fenced leases inbound and outbound work runs under;
//! - [`reconcile`]: bulk reconciliation of HubSpot companies with agencies and of contacts
//!   with agents, resumable jobs leased by one process at a time.

pub mod creates;
pub mod inbound;
pub mod invites;
pub mod journal;
mod kinds;
pub mod lease;
pub mod lists;
pub mod notes;
pub mod outbound;
pub mod polling;
pub mod pruning;
pub mod reconcile;
pub mod subscriptions;
pub mod tags;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use turris_core::ids::{HubSpotId, OrganizationId};

use crate::app::AppState;
use crate::workers::{Shutdown, Supervision, WorkerStart, supervise};

/// What the sync workers of one server share in memory (in [`AppState`], so two servers in
/// one process share nothing).
#[derive(Default)]
pub struct SyncState {
    inbound_wake: Notify,
    journal_wake: Notify,
    created: Mutex<HashMap<(OrganizationId, HubSpotId), DateTime<Utc>>>,
    token_backoff: Mutex<HashMap<OrganizationId, DateTime<Utc>>>,
    id_properties: Mutex<std::collections::HashSet<(OrganizationId, String)>>,
    live_properties: Mutex<std::collections::HashSet<(OrganizationId, String)>>,
}

/// Creations remembered to recognise the `propertyChange` events HubSpot sends with them.
const CREATED_MEMORY: usize = 100_000;

impl SyncState {
    /// Wakes the inbound worker: events were persisted.
    pub fn wake_inbound(&self) {
        self.inbound_wake.notify_waiters();
    }

    /// Completes when [`wake_inbound`](Self::wake_inbound) is called.
    pub(crate) async fn inbound_woken(&self) {
        self.inbound_wake.notified().await;
    }

    /// Wakes the journal worker: an organization's inbound mode changed. A wake while the
    /// worker is in a round is kept for its next wait, not lost.
    pub fn wake_journal(&self) {
        self.journal_wake.notify_one();
    }

    /// Completes when [`wake_journal`](Self::wake_journal) is called.
    pub(crate) async fn journal_woken(&self) {
        self.journal_wake.notified().await;
    }

    /// Whether `org`'s `object.property` webhook is known to be `live` in this process.
    pub(crate) fn is_known_live(&self, org: &OrganizationId, property: &str) -> bool {
        let live = self
            .live_properties
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        live.contains(&(org.clone(), property.to_owned()))
    }

    /// Remembers that `org`'s `object.property` webhook is `live`.
    pub(crate) fn remember_live(&self, org: &OrganizationId, property: String) {
        let mut live = self
            .live_properties
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        live.insert((org.clone(), property));
    }

    /// Whether the portal of `key.0` has the Turris-id property on object `key.1`.
    pub(crate) fn has_id_property(&self, key: &(OrganizationId, String)) -> bool {
        let known = self.id_properties.lock().unwrap_or_else(|e| e.into_inner());
        known.contains(key)
    }

    /// Remembers that the portal has the Turris-id property on an object.
    pub(crate) fn remember_id_property(&self, key: (OrganizationId, String)) {
        let mut known = self.id_properties.lock().unwrap_or_else(|e| e.into_inner());
        known.insert(key);
    }

    /// Remembers when an object's creation was synced.
    pub(crate) fn remember_creation(
        &self,
        org: &OrganizationId,
        id: &HubSpotId,
        at: DateTime<Utc>,
    ) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if created.len() >= CREATED_MEMORY {
            created.clear();
        }
        created.insert((org.clone(), id.clone()), at);
    }

    /// When the creation of an object was synced, if this server remembers it.
    pub(crate) fn synced_creation(
        &self,
        org: &OrganizationId,
        id: &HubSpotId,
    ) -> Option<DateTime<Utc>> {
        let created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.get(&(org.clone(), id.clone())).copied()
    }

    /// Whether the organization's token refresh waits after a failure.
    pub(crate) fn token_refresh_waits(&self, org: &OrganizationId, now: DateTime<Utc>) -> bool {
        let backoff = self.token_backoff.lock().unwrap_or_else(|e| e.into_inner());
        backoff.get(org).is_some_and(|at| *at > now)
    }

    /// Sets (`Some`) or clears the organization's token-refresh backoff.
    pub(crate) fn set_token_backoff(&self, org: &OrganizationId, until: Option<DateTime<Utc>>) {
        let mut backoff = self.token_backoff.lock().unwrap_or_else(|e| e.into_inner());
        match until {
            Some(at) => backoff.insert(org.clone(), at),
            None => backoff.remove(org),
        };
    }
}

/// Starts the sync workers, each under a supervisor ([`crate::workers::supervise`]).
pub fn spawn_workers(state: &AppState, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    let run = |name: &'static str, start: WorkerStart| {
        supervise(state, name, shutdown, Supervision::default(), start)
    };
    vec![
        run("sync_inbound", |s, d| Box::pin(inbound::run(s, d))),
        run("sync_outbound", |s, d| Box::pin(outbound::run(s, d))),
        run("sync_tokens", |s, d| Box::pin(tokens::run(s, d))),
        run("sync_subscriptions", |s, d| {
            Box::pin(subscriptions::run(s, d))
        }),
        run("sync_pruning", |s, d| Box::pin(pruning::run(s, d))),
        run("sync_invites", |s, d| Box::pin(invites::run(s, d))),
        run("sync_reconcile", |s, d| Box::pin(reconcile::run(s, d))),
        run("sync_journal", |s, d| Box::pin(journal::run(s, d))),
        run("sync_polling", |s, d| Box::pin(polling::run(s, d))),
        run("sync_notes", |s, d| Box::pin(notes::run(s, d))),
        run("sync_lists", |s, d| Box::pin(lists::run(s, d))),
    ]
}

/// How often the workers writing queued notes and list memberships look for due work.
pub(crate) const WRITER_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// Most queued items one step of those workers leases.
pub(crate) const WRITER_CLAIM: usize = 500;
/// When those workers look again at an organization whose connection is paused.
pub(crate) const WRITER_PAUSED_RETRY: Duration = Duration::seconds(30);

/// A worker loop: runs `step` until `shutdown` fires, again at once while it finds work
/// (`Ok(true)`), otherwise after `every`. A failed step is logged as `what` and tried again.
pub(crate) async fn poll_steps<F, Fut>(
    state: AppState,
    mut shutdown: Shutdown,
    every: std::time::Duration,
    what: &'static str,
    step: F,
) where
    F: Fn(AppState) -> Fut,
    Fut: Future<Output = Result<bool, crate::store::DbError>>,
{
    loop {
        match step(state.clone()).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %crate::error::ErrorChain(&e), "{what} step failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.fired() => return,
        }
    }
}

/// `items` grouped by their organization, organizations in order.
pub(crate) fn by_organization<T>(
    items: Vec<T>,
    org: impl Fn(&T) -> &turris_core::ids::OrganizationId,
) -> std::collections::BTreeMap<turris_core::ids::OrganizationId, Vec<T>> {
    let mut grouped: std::collections::BTreeMap<_, Vec<T>> = std::collections::BTreeMap::new();
    for item in items {
        grouped.entry(org(&item).clone()).or_default().push(item);
    }
    grouped
}

/// An event id derived from `key`: the same for the same change however often it is read (a
/// journal page read twice, a record found again by an overlapping search), so the inbound
/// store's deduplication keeps one. Fits the signed 64-bit column.
pub(crate) fn stable_event_id(key: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes) >> 1
}

/// The first delay before inbound or outbound sync work that failed is tried again; it doubles
/// with each failure up to [`RETRY_CAP`].
pub const RETRY_FIRST: Duration = Duration::seconds(5);
/// The longest delay between two attempts.
pub const RETRY_CAP: Duration = Duration::hours(1);
/// Failed attempts before the work is given up: about two days of failures, twice as long as
/// HubSpot retries its own webhooks, so an outage HubSpot would ride out loses nothing here.
pub const RETRY_ATTEMPTS: u32 = 57;

/// How long to wait after `attempts` earlier failed attempts (this one failing too), or `None`
/// once this was the last one allowed.
pub fn retry_delay(attempts: u32) -> Option<Duration> {
    if attempts + 1 >= RETRY_ATTEMPTS {
        return None;
    }
    let doubled = RETRY_FIRST * 2_i32.saturating_pow(attempts.min(20));
    Some(doubled.min(RETRY_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_from_five_seconds_up_to_an_hour() {
        for (attempts, seconds) in [
            (0, 5),
            (1, 10),
            (2, 20),
            (9, 2_560),
            (10, 3_600),
            (40, 3_600),
        ] {
            assert_eq!(
                retry_delay(attempts),
                Some(Duration::seconds(seconds)),
                "{attempts}"
            );
        }
    }

    #[test]
    fn failing_work_is_retried_for_about_two_days_then_given_up() {
        let waited: Duration = (0..).map_while(retry_delay).sum();
        assert!(
            waited >= Duration::hours(47) && waited <= Duration::hours(49),
            "{waited}"
        );
        assert_eq!(retry_delay(RETRY_ATTEMPTS - 2), Some(RETRY_CAP));
        assert_eq!(retry_delay(RETRY_ATTEMPTS - 1), None);
    }
}
