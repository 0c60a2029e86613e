//! HubSpot's webhook events in core's terms.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use turris_core::ids::HubSpotId;
use turris_core::planner::ChangeSource;
use turris_core::planner::events::{self, EventAction, ObjectEvent, ObjectEvents};
use turris_hubspot::webhooks::{self as hubspot, EventObject, WebhookEvent};

/// Who made `event`'s change, as far as it says.
fn change_source(event: &WebhookEvent) -> ChangeSource {
    match event.integration_app() {
        Some(app) => ChangeSource::App(app.to_owned()),
        None if event.made_by_user() => ChangeSource::User,
        None => ChangeSource::Unknown,
    }
}

/// The events about `object` (companies or contacts), grouped per object, oldest first.
pub(super) fn objects_of<'e>(
    events: impl IntoIterator<Item = &'e WebhookEvent>,
    object: EventObject,
) -> BTreeMap<HubSpotId, ObjectEvents> {
    events::group(
        events
            .into_iter()
            .filter(|e| e.subscription_type.object_kind() == object)
            .filter_map(translate),
    )
}

/// One HubSpot event as the object it is about and core's event; `None` without an object id.
fn translate(event: &WebhookEvent) -> Option<(HubSpotId, ObjectEvent)> {
    let id = hubspot_id(event.object_id?)?;
    let action = match event.subscription_type.action_kind() {
        hubspot::EventAction::Creation => EventAction::Created,
        hubspot::EventAction::PropertyChange => match &event.property_name {
            Some(property) => EventAction::PropertyChanged {
                property: property.clone(),
                value: event.property_value.clone(),
            },
            None => EventAction::Other,
        },
        hubspot::EventAction::Deletion => EventAction::Deleted,
        hubspot::EventAction::Merge => match merge_primary(event) {
            Some(primary) => EventAction::Merged {
                merged: merged_ids(event, &primary),
                primary,
            },
            None => EventAction::Other,
        },
        _ => EventAction::Other,
    };
    Some((
        id,
        ObjectEvent {
            action,
            occurred_at: DateTime::from_timestamp_millis(event.occurred_at)
                .unwrap_or_else(Utc::now),
            sequence: event.event_id,
            source: change_source(event),
        },
    ))
}

fn hubspot_id(id: u64) -> Option<HubSpotId> {
    HubSpotId::parse(&id.to_string()).ok()
}

/// The record a merge keeps.
fn merge_primary(event: &WebhookEvent) -> Option<HubSpotId> {
    event
        .primary_object_id
        .or(event.new_object_id)
        .or(event.object_id)
        .and_then(hubspot_id)
}

/// The records a merge archived (HubSpot lists the primary among them too).
fn merged_ids(event: &WebhookEvent, primary: &HubSpotId) -> Vec<HubSpotId> {
    event
        .merged_object_ids
        .iter()
        .filter_map(|id| hubspot_id(*id))
        .filter(|id| id != primary)
        .collect()
}
