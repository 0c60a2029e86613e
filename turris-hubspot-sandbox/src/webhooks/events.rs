//! The webhook events each change produces for the app's active subscriptions.

use serde_json::{Value, json};

use super::subscriptions::{Subscription, WebhookApp};
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
        let mut out = Vec::new();
        let subs: Vec<Subscription> = app
            .subscriptions
            .values()
            .filter(|s| s.active)
            .cloned()
            .collect();
        let mut emit = |sub: &Subscription, fields: Value, app: &mut WebhookApp| {
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
            if let (Some(e), Value::Object(extra)) = (event.as_object_mut(), fields) {
                e.extend(extra);
            }
            out.push(Pending {
                url: url.clone(),
                event,
            });
        };
        fn find<'a>(
            subs: &'a [Subscription],
            t: &str,
            prop: Option<&str>,
        ) -> Vec<&'a Subscription> {
            subs.iter()
                .filter(|s| s.event_type == t && s.property_name.as_deref() == prop)
                .collect()
        }
        for change in changes {
            match change {
                Change::Created {
                    kind,
                    id,
                    properties,
                } => {
                    for sub in find(&subs, &format!("{}.creation", kind.singular()), None) {
                        emit(sub, json!({ "objectId": id, "changeFlag": "CREATED" }), app);
                    }
                    let t = format!("{}.propertyChange", kind.singular());
                    for (name, value) in properties {
                        for sub in find(&subs, &t, Some(name)) {
                            emit(
                                sub,
                                json!({ "objectId": id, "propertyName": name, "propertyValue": value }),
                                app,
                            );
                        }
                    }
                }
                Change::PropertyChanged {
                    kind,
                    id,
                    name,
                    value,
                } => {
                    for sub in find(
                        &subs,
                        &format!("{}.propertyChange", kind.singular()),
                        Some(name),
                    ) {
                        emit(
                            sub,
                            json!({ "objectId": id, "propertyName": name, "propertyValue": value }),
                            app,
                        );
                    }
                }
                Change::Merged {
                    kind,
                    primary,
                    merged,
                    moved,
                } => {
                    for sub in find(&subs, &format!("{}.merge", kind.singular()), None) {
                        emit(
                            sub,
                            json!({
                                "objectId": primary,
                                "primaryObjectId": primary,
                                "mergedObjectIds": [primary, merged],
                                "newObjectId": primary,
                                "numberOfPropertiesMoved": moved,
                            }),
                            app,
                        );
                    }
                }
                Change::Deleted { kind, id } => {
                    for sub in find(&subs, &format!("{}.deletion", kind.singular()), None) {
                        emit(sub, json!({ "objectId": id, "changeFlag": "DELETED" }), app);
                    }
                }
                Change::Association {
                    from,
                    to,
                    primary,
                    removed,
                } => {
                    for (a, b) in [(from, to), (to, from)] {
                        for sub in find(
                            &subs,
                            &format!("{}.associationChange", a.0.singular()),
                            None,
                        ) {
                            emit(
                                sub,
                                json!({
                                    "associationType": association_type(a.0, b.0),
                                    "fromObjectId": a.1,
                                    "toObjectId": b.1,
                                    "associationRemoved": removed,
                                    "isPrimaryAssociation": primary,
                                }),
                                app,
                            );
                        }
                    }
                }
            }
        }
        out
    }
}
