//! Polling as an inbound mode, for connections HubSpot sends no webhooks for (Service Keys,
//! and any organization that chooses it).
//!
//! Every `TURRIS_HUBSPOT_POLL_INTERVAL`, for each organization in the `polling` inbound mode
//! and each object its inbound sync reads, one process (a fenced lease on the cursor, see
//! [`crate::store::PollCursorStore`]) searches HubSpot for records modified at or after the
//! cursor, with the search API's own rate budget and its 10,000-result windowing
//! ([`turris_hubspot::HubSpotClient::search_all`]). Each record found becomes the
//! `propertyChange` events a webhook would have carried for the properties the mapping reads,
//! with ids derived from the record and its modification time: a record found again by the
//! overlapping next search is stored once. The first poll only sets the cursor to now; what
//! existed before is a reconciliation's job.

use std::time::Duration;

use chrono::Utc;
use turris_core::ids::OrganizationId;
use turris_core::integration::{InboundMode, IntegrationSettings};
use turris_core::property::ObjectType;
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::SimplePublicObject;
use turris_hubspot::crm::search::{Filter, FilterGroup, FilterOperator, SearchRequest};
use turris_hubspot::webhooks::{SubscriptionType, WebhookEvent};

use crate::app::AppState;
use crate::store::{DbError, PollLease};
use crate::workers::Shutdown;

/// How long a poll holds an object's cursor.
const LEASE: Duration = Duration::from_secs(60);

/// The worker loop.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    let every = state.config().hubspot.poll_interval;
    loop {
        if let Err(e) = round(&state).await {
            tracing::warn!(error = %e, "hubspot polling round failed");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {},
            () = shutdown.fired() => return,
        }
    }
}

/// One round over every organization in the polling mode.
pub async fn round(state: &AppState) -> Result<(), DbError> {
    for organization in state.db().list_organizations().await? {
        let org = organization.id;
        let Some(settings) = state.db().load_settings(&org).await? else {
            continue;
        };
        if settings.inbound_mode != InboundMode::Polling || !settings.connection.is_active() {
            continue;
        }
        if let Err(e) = poll(state, &org, &settings).await {
            tracing::warn!(org = %org, error = %crate::error::ErrorChain(&e), "hubspot poll failed");
        }
    }
    Ok(())
}

/// What can stop one organization's poll.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The database.
    #[error("database")]
    Db(#[from] DbError),
    /// The connection.
    #[error("connection")]
    Connection(#[from] crate::hubspot::ConnectionError),
    /// HubSpot.
    #[error("hubspot")]
    HubSpot(#[from] turris_hubspot::Error),
}

async fn poll(
    state: &AppState,
    org: &OrganizationId,
    settings: &IntegrationSettings,
) -> Result<(), PollError> {
    let Some(credentials) = state.db().hubspot_credentials(org).await? else {
        return Ok(());
    };
    let client = crate::hubspot::client(state, org, &credentials)?;
    let required = settings.required_subscriptions();
    for object in [ObjectType::Company, ObjectType::Contact] {
        let properties: Vec<String> = required
            .iter()
            .filter(|(o, _)| *o == object)
            .map(|(_, p)| p.clone())
            .collect();
        if properties.is_empty() {
            continue;
        }
        let name = object.singular();
        let Some(lease) = state
            .db()
            .lease_poll_cursor(org, name, Utc::now(), LEASE)
            .await?
        else {
            continue; // another replica polls it
        };
        poll_object(state, &client, &lease, object, &properties).await?;
    }
    Ok(())
}

/// The property HubSpot keeps an object's modification time in.
fn modified_property(object: ObjectType) -> &'static str {
    match object {
        ObjectType::Company => "hs_lastmodifieddate",
        ObjectType::Contact => "lastmodifieddate",
    }
}

async fn poll_object(
    state: &AppState,
    client: &HubSpotClient,
    lease: &PollLease,
    object: ObjectType,
    properties: &[String],
) -> Result<(), PollError> {
    let Some(after) = lease.modified_after else {
        state
            .db()
            .advance_poll_cursor(lease, Utc::now().timestamp_millis())
            .await?;
        return Ok(());
    };
    let request = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::new(
                modified_property(object),
                FilterOperator::Gte,
                after.to_string(),
            )],
        }],
        properties: properties.to_vec(),
        ..SearchRequest::default()
    };
    let crm_object = match object {
        ObjectType::Company => turris_hubspot::crm::ObjectType::Companies,
        ObjectType::Contact => turris_hubspot::crm::ObjectType::Contacts,
    };
    let found = client.search_all(&crm_object, &request).await?;
    let portal = client.portal().parse::<u64>().unwrap_or_default();
    let events: Vec<WebhookEvent> = found
        .iter()
        .flat_map(|record| events_of(portal, object, record, properties))
        .collect();
    let newest = found
        .iter()
        .map(|r| r.updated_at.timestamp_millis())
        .max()
        .unwrap_or(after);
    if !events.is_empty() {
        state
            .db()
            .persist_inbound_events(&lease.organization, &events, Utc::now())
            .await?;
        crate::sync::inbound::wake(state);
    }
    // The newest time found again next round (>=): a record modified in the same millisecond
    // is not missed, and the one found twice is stored once.
    if !state.db().advance_poll_cursor(lease, newest).await? {
        tracing::warn!(org = %lease.organization, "hubspot poll cursor taken over by another replica");
    }
    Ok(())
}

/// The `propertyChange` events of a record found modified: one per property the mapping reads.
fn events_of(
    portal: u64,
    object: ObjectType,
    record: &SimplePublicObject,
    properties: &[String],
) -> Vec<WebhookEvent> {
    let Ok(id) = record.id.parse::<u64>() else {
        return Vec::new();
    };
    let modified = record.updated_at.timestamp_millis();
    let kind = SubscriptionType::parse(&format!("{}.propertyChange", object.singular()));
    properties
        .iter()
        .filter_map(|property| {
            let mut event: WebhookEvent = serde_json::from_value(serde_json::json!({
                "eventId": crate::sync::stable_event_id(&format!("poll:{id}:{modified}:{property}")),
                "portalId": portal,
                "occurredAt": modified,
                "subscriptionType": kind.as_str(),
                "objectId": id,
                "propertyName": property,
                "changeSource": "POLLING",
            }))
            .ok()?;
            event.property_value = record.property(property).map(str::to_owned);
            Some(event)
        })
        .collect()
}
