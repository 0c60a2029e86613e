//! The webhook events each change produces for the app's active subscriptions.

use serde_json::{Value, json};

use super::subscriptions::Subscription;
use crate::state::{ObjectKind, World};

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeSource {
    /// An API call by an app (public or private).
    Integration {
        /// The app id.
        app_id: u64,
    },
    /// A person in HubSpot's UI (the control API).
    CrmUi {
        /// The HubSpot user id.
        user_id: u64,
    },
}

/// One change to a record.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Created {
        kind: ObjectKind,
        id: u64,
        properties: Vec<(String, String)>,
    },
    PropertyChanged {
        kind: ObjectKind,
        id: u64,
        name: String,
        value: String,
    },
    Deleted {
        kind: ObjectKind,
        id: u64,
    },
    Merged {
        kind: ObjectKind,
        primary: u64,
        merged: u64,
        moved: u64,
    },
    Association {
        from: (ObjectKind, u64),
        to: (ObjectKind, u64),
        primary: bool,
        removed: bool,
    },
}

/// An event waiting to be delivered to `url`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) url: String,
    pub(crate) event: Value,
}

fn association_type(from: ObjectKind, to: ObjectKind) -> String {
    format!(
        "{}_TO_{}",
        from.singular().to_uppercase(),
        to.singular().to_uppercase()
    )
}

/// One event a change makes, before it meets the subscriptions: the subscription type and
/// property it is for, and its own fields.
struct EventFields {
    subscription_type: String,
    property: Option<String>,
    fields: Value,
}

impl EventFields {
    fn new(kind: ObjectKind, event: &str, property: Option<&str>, fields: Value) -> Self {
        EventFields {
            subscription_type: format!("{}.{event}", kind.singular()),
            property: property.map(str::to_owned),
            fields,
        }
    }

    fn property_change(kind: ObjectKind, id: u64, name: &str, value: &str) -> Self {
        let fields = json!({ "objectId": id, "propertyName": name, "propertyValue": value });
        EventFields::new(kind, "propertyChange", Some(name), fields)
    }
}

impl Change {
    /// The events this change makes, one per subscription type (and property) it concerns.
    fn events(&self) -> Vec<EventFields> {
        match self {
            Change::Created {
                kind,
                id,
                properties,
            } => {
                let created = json!({ "objectId": id, "changeFlag": "CREATED" });
                std::iter::once(EventFields::new(*kind, "creation", None, created))
                    .chain(
                        properties.iter().map(|(name, value)| {
                            EventFields::property_change(*kind, *id, name, value)
                        }),
                    )
                    .collect()
            }
            Change::PropertyChanged {
                kind,
                id,
                name,
                value,
            } => vec![EventFields::property_change(*kind, *id, name, value)],
            Change::Merged {
                kind,
                primary,
                merged,
                moved,
            } => {
                let fields = json!({
                    "objectId": primary,
                    "primaryObjectId": primary,
                    "mergedObjectIds": [primary, merged],
                    "newObjectId": primary,
                    "numberOfPropertiesMoved": moved,
                });
                vec![EventFields::new(*kind, "merge", None, fields)]
            }
            Change::Deleted { kind, id } => {
                let fields = json!({ "objectId": id, "changeFlag": "DELETED" });
                vec![EventFields::new(*kind, "deletion", None, fields)]
            }
            Change::Association {
                from,
                to,
                primary,
                removed,
            } => [(from, to), (to, from)]
                .into_iter()
                .map(|(a, b)| {
                    let fields = json!({
                        "associationType": association_type(a.0, b.0),
                        "fromObjectId": a.1,
                        "toObjectId": b.1,
                        "associationRemoved": removed,
                        "isPrimaryAssociation": primary,
                    });
                    EventFields::new(a.0, "associationChange", None, fields)
                })
                .collect(),
        }
    }
}

impl World {
    /// The webhook events a batch of changes in a portal produces for the app.
    pub(crate) fn webhook_events(
        &mut self,
        portal_id: u64,
        changes: &[Change],
        source: ChangeSource,
        occurred: i64,
    ) -> Vec<Pending> {
        let installed = self
            .portals
            .get(&portal_id)
            .is_some_and(|p| p.app_installed);
        let app = &mut self.webhooks;
        let Some(url) = app.target_url.clone() else {
            return Vec::new();
        };
        if !installed || changes.is_empty() || app.subscriptions.is_empty() {
            return Vec::new();
        }
        let (change_source, source_id) = match source {
            ChangeSource::Integration { app_id } => ("INTEGRATION", app_id.to_string()),
            ChangeSource::CrmUi { user_id } => ("CRM_UI", format!("userId:{user_id}")),
        };
        let app_id = self.app_id;
        let subs: Vec<Subscription> = app
            .subscriptions
            .values()
            .filter(|s| s.active)
            .cloned()
            .collect();
        let mut out = Vec::new();
        for made in changes.iter().flat_map(Change::events) {
            let matching = subs.iter().filter(|s| {
                s.event_type == made.subscription_type
                    && s.property_name.as_deref() == made.property.as_deref()
            });
            for sub in matching {
                let mut event = json!({
                    "eventId": app.next_event_id,
                    "subscriptionId": sub.id,
                    "portalId": portal_id,
                    "appId": app_id,
                    "occurredAt": occurred,
                    "subscriptionType": sub.event_type,
                    "attemptNumber": 0,
                    "changeSource": change_source,
                    "sourceId": source_id,
                });
                app.next_event_id += 1;
                if let (Some(e), Value::Object(extra)) =
                    (event.as_object_mut(), made.fields.clone())
                {
                    e.extend(extra);
                }
                out.push(Pending {
                    url: url.clone(),
                    event,
                });
            }
        }
        out
    }
}
