//! The webhooks journal as an inbound mode: for servers HubSpot cannot reach and to catch up
//! after downtime.
//!
//! For organizations whose inbound mode reads the journal (`journal` or `both`), the worker
//! keeps a journal subscription per synced object in their portal (made again when the mapping
//! changes what is needed), then reads the app's journal page by page under the fenced lease of
//! [`crate::store::JournalStore`]: one replica reads each page, the position moves only while
//! the lease is held, and a replica that dies leaves the journal to another within
//! [`LEASE`]. Each entry's events become the webhook events `POST /hooks/hubspot` would have
//! stored, with event ids derived from the entry's offset, so reading a page twice (a crash
//! before the position was saved) stores nothing twice; in mode `both` a change whose webhook
//! was stored already is skipped. An expired position (HubSpot keeps three days) is an
//! activity row for each journal organization, asking for a reconciliation, and reading starts
//! again at the earliest entry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::OrganizationId;
use turris_core::integration::IntegrationSettings;
use turris_hubspot::HubSpotClient;
use turris_hubspot::auth::AppTokenSource;
use turris_hubspot::auth::oauth::JOURNAL_SCOPES;
use turris_hubspot::webhooks::WebhookEvent;
use turris_hubspot::webhooks::journal::{
    JournalClient, JournalFile, JournalNext, JournalSubscription,
};

use crate::app::AppState;
use crate::store::{DbError, HubSpotAuth, JournalLease};
use crate::workers::Shutdown;

/// How long a reader holds the journal without writing; renewed with every page.
pub const LEASE: Duration = Duration::from_secs(15);
/// Pages read per round, so a round fits its lease many times over.
const PAGES_PER_ROUND: usize = 50;

/// What can stop a round.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database.
    #[error("database")]
    Db(#[from] DbError),
    /// HubSpot.
    #[error("hubspot")]
    HubSpot(#[from] turris_hubspot::Error),
}

/// Wakes the journal worker (an organization changed its inbound mode).
pub fn wake(state: &AppState) {
    state.sync().wake_journal();
}

/// The worker loop: a round every `TURRIS_HUBSPOT_JOURNAL_POLL` until `shutdown` fires. Does
/// nothing on a server without an OAuth app.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    let Some(journal) = journal_client(&state) else {
        return;
    };
    let poll = state.config().hubspot.journal_poll;
    loop {
        if let Err(e) = round(&state, &journal).await {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "webhooks journal round failed");
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {},
            () = state.sync().journal_woken() => {},
            () = shutdown.fired() => return,
        }
    }
}

/// The app's journal client: the client-credentials token of this server's OAuth app.
fn journal_client(state: &AppState) -> Option<JournalClient> {
    let oauth = state.oauth()?.clone();
    let client = HubSpotClient::builder(Arc::new(AppTokenSource::new(oauth, JOURNAL_SCOPES)))
        .http_client(state.http().clone())
        .api_base(state.config().hubspot.api_base.clone())
        .api_version(state.config().hubspot.api_version)
        .build()
        .ok()?;
    Some(JournalClient::new(client))
}

/// One round: subscriptions of the journal organizations, then the journal's new pages.
pub async fn round(state: &AppState, journal: &JournalClient) -> Result<(), JournalError> {
    let readers = journal_organizations(state).await?;
    if readers.is_empty() {
        return Ok(());
    }
    for (org, portal, settings) in &readers {
        if let Err(e) = subscribe(state, journal, org, *portal, settings).await {
            tracing::warn!(org = %org, error = %crate::error::ErrorChain(&e), "journal subscriptions not made");
        }
    }
    let Some(mut lease) = state.db().lease_journal(Utc::now(), LEASE).await? else {
        return Ok(()); // another replica reads
    };
    let result = read(state, journal, &mut lease, &readers).await;
    state.db().release_journal(&lease).await?;
    result
}

type Reader = (OrganizationId, u64, IntegrationSettings);

/// Organizations connected through OAuth whose inbound mode reads the journal.
async fn journal_organizations(state: &AppState) -> Result<Vec<Reader>, DbError> {
    let mut readers = Vec::new();
    for organization in state.db().list_organizations().await? {
        let org = organization.id;
        let Some(settings) = state.db().load_settings(&org).await? else {
            continue;
        };
        if !settings.inbound_mode.reads_journal() || !settings.connection.is_active() {
            continue;
        }
        if let Some(c) = state.db().hubspot_credentials(&org).await?
            && matches!(c.auth, HubSpotAuth::OAuth { .. })
        {
            readers.push((org, c.portal_id, settings));
        }
    }
    Ok(readers)
}

/// The journal subscriptions an organization needs: per synced object, every action, and
/// updates of the properties the webhook subscriptions would follow
/// ([`crate::sync::subscriptions::wanted`]).
fn wanted(portal: u64, settings: &IntegrationSettings) -> Vec<JournalSubscription> {
    let mut by_object: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let events = crate::sync::subscriptions::wanted(&settings.required_subscriptions());
    for (event_type, property) in events {
        let type_id = match event_type.split_once('.') {
            Some(("company", _)) => "0-2",
            Some(("contact", _)) => "0-1",
            _ => continue,
        };
        let properties = by_object.entry(type_id).or_default();
        properties.extend(property);
    }
    by_object
        .into_iter()
        .map(|(type_id, mut properties)| {
            properties.sort();
            properties.dedup();
            JournalSubscription::object(portal, type_id, properties)
        })
        .collect()
}

async fn subscribe(
    state: &AppState,
    journal: &JournalClient,
    org: &OrganizationId,
    portal: u64,
    settings: &IntegrationSettings,
) -> Result<(), JournalError> {
    let wanted = wanted(portal, settings);
    let fingerprint = hex::encode(Sha256::digest(format!("{wanted:?}")));
    if state.db().journal_fingerprint(org).await?.as_deref() == Some(fingerprint.as_str()) {
        return Ok(());
    }
    for subscription in &wanted {
        journal.upsert_subscription(subscription).await?;
    }
    state
        .db()
        .set_journal_fingerprint(org, &fingerprint, Utc::now())
        .await?;
    Ok(())
}

/// Reads pages from the lease's position until the journal is read, the round's pages are
/// spent, or the lease is lost.
async fn read(
    state: &AppState,
    journal: &JournalClient,
    lease: &mut JournalLease,
    readers: &[Reader],
) -> Result<(), JournalError> {
    for _ in 0..PAGES_PER_ROUND {
        let next = match &lease.position {
            None => match journal.earliest().await? {
                Some(page) => JournalNext::Page(page),
                None => JournalNext::UpToDate,
            },
            Some(offset) => journal.next_after(offset).await?,
        };
        let position = match next {
            JournalNext::UpToDate => return Ok(()),
            JournalNext::Expired => {
                record_gap(state, readers, lease.position.as_deref()).await?;
                None
            }
            JournalNext::Page(page) => {
                let file = journal.fetch(&page).await?;
                store_entry(state, readers, &page.current_offset, &file).await?;
                Some(page.current_offset)
            }
        };
        let now = Utc::now();
        if !state
            .db()
            .advance_journal(lease, position.as_deref(), now, LEASE)
            .await?
        {
            tracing::warn!("webhooks journal lease lost; another replica reads on");
            return Ok(());
        }
        lease.position = position;
    }
    Ok(())
}

/// An event id for the `index`-th webhook event of the entry at `offset`: the same on every
/// read of the entry, so a page read twice is stored once.
fn event_id(offset: &str, index: usize) -> u64 {
    crate::sync::stable_event_id(&format!("journal:{offset}:{index}"))
}

/// Stores an entry's events for the journal organizations of their portals.
async fn store_entry(
    state: &AppState,
    readers: &[Reader],
    offset: &str,
    file: &JournalFile,
) -> Result<(), DbError> {
    let mut by_portal: BTreeMap<u64, Vec<WebhookEvent>> = BTreeMap::new();
    let mut index = 0;
    for change in &file.journal_events {
        for mut event in change.to_webhook_events(0) {
            event.event_id = event_id(offset, index);
            index += 1;
            by_portal.entry(event.portal_id).or_default().push(event);
        }
    }
    let now = Utc::now();
    for (portal, events) in by_portal {
        let Some((org, _, settings)) = readers.iter().find(|(_, p, _)| *p == portal) else {
            continue; // a portal that reads webhooks only, or not connected
        };
        let both = settings.inbound_mode == turris_core::integration::InboundMode::Both;
        let mut fresh = Vec::with_capacity(events.len());
        for event in events {
            if both && state.db().change_stored(org, &event).await? {
                continue;
            }
            fresh.push(event);
        }
        let batch = state.db().persist_inbound_events(org, &fresh, now).await?;
        tracing::info!(org = %org, offset, stored = batch.stored, duplicates = batch.duplicates, "webhooks journal entry stored");
        if let Err(e) = crate::sync::subscriptions::note_events_seen(state, org, &fresh).await {
            tracing::warn!(org = %org, error = %e, "webhook status not updated");
        }
    }
    crate::sync::inbound::wake(state);
    Ok(())
}

/// HubSpot dropped entries Turris had not read: say so to every journal organization.
async fn record_gap(
    state: &AppState,
    readers: &[Reader],
    position: Option<&str>,
) -> Result<(), DbError> {
    let message = format!(
        "HubSpot's webhooks journal no longer has the entries after offset {} (it keeps three \
         days): changes made in HubSpot in that gap did not reach Turris. Start a \
         reconciliation (POST /api/v1/integrations/hubspot/reconciliations) to catch up; \
         reading goes on from the earliest entry HubSpot keeps.",
        position.unwrap_or("(none)")
    );
    let now = Utc::now();
    for (org, _, _) in readers {
        let entry = NewActivity::new(ActivityKind::JournalExpired, Outcome::Failure, now)
            .with_details(ActivityDetails {
                hubspot_status: Some(404),
                message: Some(message.clone()),
                ..ActivityDetails::default()
            });
        state.db().append_activity(org, &entry).await?;
    }
    tracing::warn!(position, "webhooks journal position expired");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_stable_per_entry_and_position() {
        assert_eq!(event_id("17", 0), event_id("17", 0));
        assert_ne!(event_id("17", 0), event_id("17", 1));
        assert_ne!(event_id("17", 0), event_id("18", 0));
        assert!(
            i64::try_from(event_id("17", 0)).is_ok(),
            "fits the BIGINT column"
        );
    }
}
