//! How one HubSpot object's events in a sync step combine into what to do with it.
//!
//! HubSpot delivers events at least once, unordered, and a creation comes with one
//! `propertyChange` per property set. The caller translates each event into an
//! [`ObjectEvent`] (this crate knows nothing of HubSpot's wire format), [`group`]s them per
//! object, and asks each [`ObjectEvents`]:
//!
//! - [`ObjectEvents::merges`]: the merges to perform first (links follow the primary object:
//!   [`plan_merge`](super::plan_merge));
//! - [`ObjectEvents::triage`]: drop the link (a deletion keeps the Turris record), read the
//!   current properties, or nothing (every event was part of a creation already synced);
//! - [`ObjectEvents::changes`]: with the current properties, the changes to plan: one
//!   [`ChangeKind::Created`] when the creation is among the events (its property events are
//!   covered by the current properties), else the latest event of each changed property that
//!   is not the echo of our own write.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{ChangeKind, ChangeSource, EchoInfo, InboundChange};
use crate::ids::HubSpotId;
use crate::property::PropertyMap;

/// What happened to a HubSpot object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// The object was created.
    Created,
    /// One property changed.
    PropertyChanged {
        /// The property name.
        property: String,
        /// The value the event carried.
        value: Option<String>,
    },
    /// The object was deleted.
    Deleted,
    /// Objects were merged into `primary`, which HubSpot keeps.
    Merged {
        /// The object the merge keeps.
        primary: HubSpotId,
        /// The objects the merge archived (never `primary`).
        merged: Vec<HubSpotId>,
    },
    /// Anything else (association changes, restores): nothing to sync.
    Other,
}

/// One event about one object, in core's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// What happened.
    pub action: EventAction,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// A tie-breaker among events with the same `occurred_at` (HubSpot's event id).
    pub sequence: u64,
    /// Who made the change, as far as the event says.
    pub source: ChangeSource,
}

/// What a step does with one object besides its merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triage {
    /// The object was deleted: drop its link, keep the Turris record.
    DropLink,
    /// Read the object's current properties and plan its [`ObjectEvents::changes`].
    Read,
    /// Nothing: every event was part of a creation already synced, or none is a change.
    Nothing,
}

/// The events of one object in a step, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvents {
    /// The object.
    pub object_id: HubSpotId,
    events: Vec<ObjectEvent>,
}

impl ObjectEvents {
    /// The events of `object_id`, sorted oldest first.
    pub fn new(object_id: HubSpotId, mut events: Vec<ObjectEvent>) -> Self {
        events.sort_by_key(|e| (e.occurred_at, e.sequence));
        Self { object_id, events }
    }

    /// The events, oldest first.
    pub fn events(&self) -> &[ObjectEvent] {
        &self.events
    }

    /// The creation among the events, if any.
    pub fn creation(&self) -> Option<&ObjectEvent> {
        self.events
            .iter()
            .find(|e| e.action == EventAction::Created)
    }

    /// Whether the object was created in this step.
    pub fn was_created(&self) -> bool {
        self.creation().is_some()
    }

    /// Every merge into the object, oldest first: `(primary, merged)`.
    pub fn merges(&self) -> impl Iterator<Item = (&HubSpotId, &[HubSpotId])> {
        self.events.iter().filter_map(|e| match &e.action {
            EventAction::Merged { primary, merged } => Some((primary, merged.as_slice())),
            _ => None,
        })
    }

    /// What to do with the object, given when it was created if a creation of it was synced
    /// in an earlier step (its `propertyChange` events may arrive after it).
    pub fn triage(&self, synced_creation: Option<DateTime<Utc>>) -> Triage {
        if self.events.iter().any(|e| e.action == EventAction::Deleted) {
            return Triage::DropLink;
        }
        if !self.was_created()
            && synced_creation.is_some_and(|at| self.events.iter().all(|e| e.occurred_at <= at))
        {
            return Triage::Nothing;
        }
        let changed = self.events.iter().any(|e| {
            matches!(
                e.action,
                EventAction::Created | EventAction::PropertyChanged { .. }
            )
        });
        if changed {
            Triage::Read
        } else {
            Triage::Nothing
        }
    }

    /// The changes to plan, with the object's current `properties`: for each changed property
    /// (in property-name order) its latest event that is not the echo of one of our writes (its
    /// latest event when all are), so a user's edit that raced our write is not hidden by our
    /// write's echo. When the creation is among the events, one `Created` comes first and
    /// stands for the events that came with it; only a property edited after it (and not only
    /// by us) is planned on its own too. Our own creation's echo is left out then, unless
    /// nothing else is planned.
    pub fn changes(&self, properties: &PropertyMap, echo: &EchoInfo<'_>) -> Vec<InboundChange> {
        let change = |event: &ObjectEvent, kind: ChangeKind| InboundChange {
            object_id: self.object_id.clone(),
            kind,
            properties: properties.clone(),
            source: event.source.clone(),
            occurred_at: event.occurred_at,
        };
        // The creation stands for the events that came with it (its current properties cover
        // them); an edit made after it, in the same step (the creation waited out retries,
        // say), is planned on its own, with its own time. Our own creation is an echo: only
        // such later edits are planned then.
        let creation = self
            .creation()
            .map(|c| (c.occurred_at, change(c, ChangeKind::Created)));
        let echoed = creation.as_ref().is_some_and(|(_, c)| echo.is_echo(c));
        let created_at = creation.as_ref().map(|(at, _)| *at);
        let mut by_property: BTreeMap<&str, Vec<(&ObjectEvent, &Option<String>)>> = BTreeMap::new();
        for event in &self.events {
            if let EventAction::PropertyChanged { property, value } = &event.action
                && created_at.is_none_or(|at| event.occurred_at > at)
            {
                by_property
                    .entry(property)
                    .or_default()
                    .push((event, value));
            }
        }
        let mut out: Vec<InboundChange> = match &creation {
            Some((_, created)) if !echoed => vec![created.clone()],
            _ => Vec::new(),
        };
        for (property, events) in by_property {
            // Latest first.
            let candidates: Vec<InboundChange> = events
                .iter()
                .rev()
                .map(|(event, value)| {
                    let kind = ChangeKind::PropertyChanged {
                        property: property.to_owned(),
                        value: (*value).clone(),
                    };
                    change(event, kind)
                })
                .collect();
            match candidates.iter().find(|c| !echo.is_echo(c)) {
                Some(picked) => out.push(picked.clone()),
                // Every later event of the property is our echo: the creation covers it.
                None if created_at.is_some() => {}
                None => out.extend(candidates.into_iter().next()),
            }
        }
        match creation {
            Some((_, created)) if echoed && out.is_empty() => vec![created],
            _ => out,
        }
    }
}

/// Groups `(object, event)` pairs per object, each object's events oldest first.
pub fn group(
    events: impl IntoIterator<Item = (HubSpotId, ObjectEvent)>,
) -> BTreeMap<HubSpotId, ObjectEvents> {
    let mut by_object: BTreeMap<HubSpotId, Vec<ObjectEvent>> = BTreeMap::new();
    for (id, event) in events {
        by_object.entry(id).or_default().push(event);
    }
    by_object
        .into_iter()
        .map(|(id, events)| (id.clone(), ObjectEvents::new(id, events)))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn id(n: u64) -> HubSpotId {
        HubSpotId::parse(&n.to_string()).unwrap()
    }

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, second).unwrap()
    }

    fn event(action: EventAction, second: u32, sequence: u64) -> ObjectEvent {
        ObjectEvent {
            action,
            occurred_at: at(second),
            sequence,
            source: ChangeSource::Unknown,
        }
    }

    fn set(property: &str, value: &str) -> EventAction {
        EventAction::PropertyChanged {
            property: property.into(),
            value: Some(value.into()),
        }
    }

    fn props() -> PropertyMap {
        PropertyMap::from_pairs([("name", Some("Acme")), ("phone", Some("555"))])
    }

    #[test]
    fn a_creation_with_its_property_events_is_one_created_change() {
        let object = ObjectEvents::new(
            id(1),
            vec![
                event(set("name", "Acme"), 0, 2),
                event(EventAction::Created, 0, 1),
                event(set("phone", "555"), 0, 3),
            ],
        );
        let changes = object.changes(&props(), &EchoInfo::default());
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Created);
        assert_eq!(changes[0].properties, props());
        assert_eq!(object.triage(None), Triage::Read);
    }

    #[test]
    fn edits_keep_the_latest_event_of_each_property_whatever_the_arrival_order() {
        let object = ObjectEvents::new(
            id(1),
            vec![
                event(set("phone", "2"), 5, 7),
                event(set("name", "B"), 3, 4),
                event(set("phone", "1"), 2, 9),
            ],
        );
        let kinds: Vec<ChangeKind> = object
            .changes(&props(), &EchoInfo::default())
            .into_iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::PropertyChanged {
                    property: "name".into(),
                    value: Some("B".into())
                },
                ChangeKind::PropertyChanged {
                    property: "phone".into(),
                    value: Some("2".into())
                },
            ]
        );
    }

    #[test]
    fn a_users_edit_is_not_hidden_by_the_later_echo_of_our_write_of_the_same_property() {
        let ours = super::super::RecentWrite {
            object_id: id(1),
            property: "phone".into(),
            value: Some("ours".into()),
            at: at(3),
            edited_at: at(1),
        };
        let ledger = [ours];
        let echo = EchoInfo {
            app_id: None,
            recent_writes: &ledger,
            pending: &[],
        };
        let object = ObjectEvents::new(
            id(1),
            vec![
                event(set("phone", "ours"), 4, 2),
                event(set("phone", "user"), 2, 1),
            ],
        );
        let picked = |echo: &EchoInfo<'_>| match &object.changes(&props(), echo)[0].kind {
            ChangeKind::PropertyChanged { value, .. } => value.clone(),
            other => panic!("a property change, not {other:?}"),
        };
        assert_eq!(picked(&echo).as_deref(), Some("user"));
        assert_eq!(picked(&EchoInfo::default()).as_deref(), Some("ours"));
    }

    #[test]
    fn a_persons_edit_in_the_step_of_our_creations_echo_is_planned_not_folded_into_it() {
        let ours = |property: &str, value: &str| super::super::RecentWrite {
            object_id: id(1),
            property: property.into(),
            value: Some(value.into()),
            at: at(0),
            edited_at: at(0),
        };
        let ledger = [ours("name", "Acme"), ours("state", "WA")];
        let echo = EchoInfo {
            app_id: Some("42"),
            recent_writes: &ledger,
            pending: &[],
        };
        let by_us = |action: EventAction, sequence: u64| ObjectEvent {
            source: ChangeSource::App("42".into()),
            ..event(action, 0, sequence)
        };
        let created = vec![
            by_us(EventAction::Created, 1),
            by_us(set("name", "Acme"), 2),
            by_us(set("state", "WA"), 3),
        ];
        // Our creation alone is one change, its echo.
        let alone = ObjectEvents::new(id(1), created.clone()).changes(&props(), &echo);
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].kind, ChangeKind::Created);
        // A person set the state after it, and the events came in one step.
        let mut edited = created;
        edited.push(ObjectEvent {
            source: ChangeSource::User,
            ..event(set("state", "TX"), 30, 4)
        });
        let changes = ObjectEvents::new(id(1), edited).changes(&props(), &echo);
        assert_eq!(
            changes.iter().map(|c| &c.kind).collect::<Vec<_>>(),
            [&ChangeKind::PropertyChanged {
                property: "state".into(),
                value: Some("TX".into())
            }]
        );
        assert_eq!(changes[0].occurred_at, at(30));
    }

    #[test]
    fn an_edit_made_after_a_creation_in_the_same_step_is_planned_after_it_with_its_own_time() {
        let person = |action: EventAction, second: u32, sequence: u64| ObjectEvent {
            source: ChangeSource::User,
            ..event(action, second, sequence)
        };
        let object = ObjectEvents::new(
            id(1),
            vec![
                person(EventAction::Created, 0, 1),
                person(set("name", "Acme"), 0, 2),
                person(set("name", "Acme 2"), 40, 3),
                person(set("name", "Acme 3"), 50, 4),
            ],
        );
        let changes = object.changes(&props(), &EchoInfo::default());
        let kinds: Vec<_> = changes.iter().map(|c| (&c.kind, c.occurred_at)).collect();
        assert_eq!(
            kinds,
            [
                (&ChangeKind::Created, at(0)),
                (
                    &ChangeKind::PropertyChanged {
                        property: "name".into(),
                        value: Some("Acme 3".into())
                    },
                    at(50)
                ),
            ]
        );
    }

    #[test]
    fn a_change_keeps_the_app_that_made_it() {
        let mut edit = event(set("name", "B"), 1, 1);
        edit.source = ChangeSource::App("42".into());
        let object = ObjectEvents::new(id(1), vec![edit]);
        assert_eq!(
            object.changes(&props(), &EchoInfo::default())[0].source,
            ChangeSource::App("42".into())
        );
    }

    #[test]
    fn a_deletion_drops_the_link_whatever_else_happened() {
        let object = ObjectEvents::new(
            id(1),
            vec![
                event(set("name", "B"), 1, 1),
                event(EventAction::Deleted, 2, 2),
            ],
        );
        assert_eq!(object.triage(None), Triage::DropLink);
    }

    #[test]
    fn property_events_of_a_synced_creation_need_no_read_but_later_edits_do() {
        let late = ObjectEvents::new(id(1), vec![event(set("name", "Acme"), 0, 2)]);
        assert_eq!(late.triage(Some(at(0))), Triage::Nothing);
        let edit = ObjectEvents::new(
            id(1),
            vec![
                event(set("name", "Acme"), 0, 2),
                event(set("name", "B"), 9, 3),
            ],
        );
        assert_eq!(edit.triage(Some(at(0))), Triage::Read);
        assert_eq!(edit.triage(None), Triage::Read);
    }

    #[test]
    fn merges_and_other_events_alone_need_no_read() {
        let merge = EventAction::Merged {
            primary: id(1),
            merged: vec![id(2)],
        };
        let object = ObjectEvents::new(
            id(1),
            vec![event(merge, 1, 1), event(EventAction::Other, 2, 2)],
        );
        assert_eq!(object.triage(None), Triage::Nothing);
        let merges: Vec<_> = object.merges().collect();
        assert_eq!(merges, [(&id(1), &[id(2)][..])]);
    }

    #[test]
    fn group_sorts_each_objects_events_oldest_first() {
        let grouped = group([
            (id(2), event(set("a", "2"), 3, 1)),
            (id(1), event(set("a", "1"), 9, 1)),
            (id(2), event(EventAction::Created, 1, 2)),
        ]);
        assert_eq!(grouped.keys().cloned().collect::<Vec<_>>(), [id(1), id(2)]);
        assert_eq!(grouped[&id(2)].events()[0].action, EventAction::Created);
    }
}
