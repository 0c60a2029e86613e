//! The subscription worker: keeps the app's HubSpot webhook subscriptions in step with the
//! inbound toggles.
//!
//! Every [`POLL`], for each connected OAuth organization, the mapped properties of the
//! inbound-enabled objects (`IntegrationSettings::required_subscriptions`) that are not `live`
//! yet get an active `propertyChange` subscription, and the object its `creation`, `deletion`
//! and `merge` ones. A property is `live` once HubSpot lists or answers an active subscription for
//! it, and stays `pending` otherwise: a failed call is retried at the next round. Subscriptions
//! belong to the app (every portal shares them) and need the developer API key
//! (`TURRIS_HUBSPOT_DEVELOPER_API_KEY`); without it the worker does nothing and the status
//! stays `pending`. Private apps manage webhooks in HubSpot's UI only, so the worker skips them
//! and the webhook-status API shows their properties `managed_in_hubspot`, with what to create
//! in the private app's Webhooks tab (core's `IntegrationSettings::webhook_status`).

use std::time::Duration;

use turris_core::ids::OrganizationId;
use turris_core::integration::{SubscriptionManagement, WebhookStatus};
use turris_core::property::ObjectType;
use turris_hubspot::auth::Secret;
use turris_hubspot::webhooks::subscriptions::{
    SubscriptionCreateRequest, SubscriptionResponse, Subscriptions,
};

use crate::app::AppState;
use crate::store::HubSpotAuth;
use crate::workers::Shutdown;

/// How often the worker compares the toggles with HubSpot.
const POLL: Duration = Duration::from_secs(2);

/// The worker loop: runs until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = ensure_all(&state).await {
            tracing::error!(error = %e, "subscription round failed");
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {},
            () = shutdown.fired() => return,
        }
    }
}

async fn ensure_all(state: &AppState) -> Result<(), crate::store::DbError> {
    let hubspot = &state.config().hubspot;
    let (Some(key), Some(app_id)) = (hubspot.developer_api_key.as_deref(), hubspot.app_id) else {
        return Ok(());
    };
    let mut listed: Option<Vec<SubscriptionResponse>> = None;
    for organization in state.db().list_organizations().await? {
        if let Err(e) = ensure(state, &organization.id, app_id, key, &mut listed).await {
            tracing::warn!(org = %organization.id, error = %e, "subscriptions not updated");
        }
    }
    Ok(())
}

/// The subscriptions the pending properties need: each object's creation, deletion and merge
/// events, and a property change per property.
pub(crate) fn wanted(pending: &[(ObjectType, String)]) -> Vec<(String, Option<String>)> {
    let mut objects: Vec<ObjectType> = pending.iter().map(|(o, _)| *o).collect();
    objects.dedup();
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    for object in objects {
        let name = object.singular();
        wanted.push((format!("{name}.creation"), None));
        wanted.push((format!("{name}.deletion"), None));
        wanted.push((format!("{name}.merge"), None));
    }
    if pending.iter().any(|(o, _)| *o == ObjectType::Contact) {
        // A contact syncs once its primary company is a synced agency: follow that property.
        wanted.push((
            "contact.propertyChange".to_owned(),
            Some("associatedcompanyid".to_owned()),
        ));
    }
    for (object, property) in pending {
        wanted.push((
            format!("{}.propertyChange", object.singular()),
            Some(property.clone()),
        ));
    }
    wanted
}

/// Who can make `org`'s webhook subscriptions: a private-app (static) connection only in
/// HubSpot; an OAuth connection through the webhooks API when this server has the legacy
/// app's developer API key and app id, else (a project-based app) only in the project's files.
pub async fn management(
    state: &AppState,
    org: &OrganizationId,
) -> Result<SubscriptionManagement, crate::store::DbError> {
    let hubspot = &state.config().hubspot;
    Ok(match state.db().hubspot_credentials(org).await? {
        Some(c) if matches!(c.auth, HubSpotAuth::PrivateApp { .. }) => {
            SubscriptionManagement::HubSpotUi
        }
        _ if hubspot.developer_api_key.is_some() && hubspot.app_id.is_some() => {
            SubscriptionManagement::Api
        }
        _ => SubscriptionManagement::Project,
    })
}

/// Marks `live` the needed properties whose change events just arrived: an event proves the
/// subscription works, whoever declared it. One settings read per batch with property changes.
pub async fn note_events_seen(
    state: &AppState,
    org: &OrganizationId,
    events: &[turris_hubspot::webhooks::WebhookEvent],
) -> Result<(), crate::store::DbError> {
    use turris_hubspot::webhooks::{EventAction, EventObject};
    let seen: Vec<(ObjectType, String)> = events
        .iter()
        .filter(|e| e.subscription_type.action_kind() == EventAction::PropertyChange)
        .filter_map(|e| {
            let object = match e.subscription_type.object_kind() {
                EventObject::Company => ObjectType::Company,
                EventObject::Contact => ObjectType::Contact,
                _ => return None,
            };
            Some((object, e.property_name.clone()?))
        })
        .collect();
    // Properties known live in this process need no settings read: the common case of every
    // webhook batch once sync runs.
    let key =
        |(object, property): &(ObjectType, String)| format!("{}.{property}", object.singular());
    let seen: Vec<(ObjectType, String)> = seen
        .into_iter()
        .filter(|s| !state.sync().is_known_live(org, &key(s)))
        .collect();
    if seen.is_empty() {
        return Ok(());
    }
    let Some(settings) = state.db().load_settings(org).await? else {
        return Ok(());
    };
    for (object, property) in settings.newly_seen(&seen) {
        state
            .db()
            .set_subscription_status(org, object, &property, WebhookStatus::Live)
            .await?;
    }
    // Every needed property seen is live now.
    let required = settings.required_subscriptions();
    for seen in seen.iter().filter(|s| required.contains(s)) {
        state.sync().remember_live(org, key(seen));
    }
    Ok(())
}

/// The webhook subscriptions of a project-based app (declared in its `webhooks-hsmeta.json`,
/// since no API can create them) for the properties `required`: the same events the worker
/// subscribes a legacy public app to, in the project's generic `object.*` form.
pub fn project_subscriptions(
    required: &[(ObjectType, String)],
) -> Vec<turris_hubspot::project::WebhookSubscription> {
    use turris_hubspot::project::WebhookSubscription;
    wanted(required)
        .into_iter()
        .filter_map(|(event_type, property)| {
            let (object, action) = event_type.split_once('.')?;
            Some(match property {
                Some(p) => WebhookSubscription::property_change(object, &p),
                None => WebhookSubscription::object(object, action),
            })
        })
        .collect()
}

/// Whether the subscription is active, creating it when the app has none; a failure is
/// logged and tried again on the next pass.
async fn subscribe(
    subscriptions: &Subscriptions,
    existing: &mut Vec<SubscriptionResponse>,
    event_type: &str,
    property: &Option<String>,
) -> bool {
    let active = existing
        .iter()
        .any(|s| s.active && s.event_type == event_type && &s.property_name == property);
    if active {
        return true;
    }
    let request = SubscriptionCreateRequest {
        event_type: event_type.to_owned(),
        property_name: property.clone(),
        active: true,
    };
    match subscriptions.create(&request).await {
        Ok(created) => {
            let live = created.active;
            existing.push(created);
            live
        }
        Err(e) => {
            tracing::warn!(event_type, ?property, error = %crate::hubspot::Upstream(&e), "subscription not created; retrying later");
            false
        }
    }
}

async fn ensure(
    state: &AppState,
    org: &OrganizationId,
    app_id: u64,
    key: &str,
    listed: &mut Option<Vec<SubscriptionResponse>>,
) -> Result<(), crate::store::DbError> {
    let Some(settings) = state.db().load_settings(org).await? else {
        return Ok(());
    };
    if !settings.connection.is_active() {
        return Ok(());
    }
    let pending: Vec<(ObjectType, String)> = settings
        .required_subscriptions()
        .into_iter()
        .filter(|(o, p)| settings.subscription_status(*o, p) != Some(WebhookStatus::Live))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let Some(credentials) = state.db().hubspot_credentials(org).await? else {
        return Ok(());
    };
    if matches!(credentials.auth, HubSpotAuth::PrivateApp { .. }) {
        return Ok(());
    }
    let client = match crate::hubspot::client(state, org, &credentials) {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(org = %org, error = %e, "no hubspot client for subscriptions");
            return Ok(());
        }
    };
    let subscriptions = Subscriptions::new(client, app_id, Secret::new(key));
    if listed.is_none() {
        match subscriptions.list().await {
            Ok(list) => *listed = Some(list),
            Err(e) => {
                tracing::warn!(error = %crate::hubspot::Upstream(&e), "cannot list the app's subscriptions; retrying later");
                return Ok(());
            }
        }
    }
    let existing = listed.as_mut().expect("listed above");
    for (event_type, property) in wanted(&pending) {
        let confirmed = subscribe(&subscriptions, existing, &event_type, &property).await;
        let object = pending
            .iter()
            .find(|(o, p)| Some(p) == property.as_ref() && event_type.starts_with(o.singular()))
            .map(|(o, _)| *o);
        if let (true, Some(property), Some(object)) = (confirmed, property, object) {
            state
                .db()
                .set_subscription_status(org, object, &property, WebhookStatus::Live)
                .await?;
        }
    }
    Ok(())
}
