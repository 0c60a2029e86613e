//! Our own writes coming back, and HubSpot edits racing them.
//!
//! Every write we make to HubSpot is remembered (a [`RecentWrite`]: the value, when we sent it
//! and when the Turris edit it carried was made). An inbound property change is then judged
//! by [`EchoInfo::verdict`] against those writes, by value and by time, never by time alone:
//!
//! 1. made by our app, or, when the event does not say a person made it, carrying the value of
//!    a write we sent moments before that no later write of ours had already replaced in
//!    HubSpot → [`EchoVerdict::Echo`] (a person setting a field back to a value we wrote
//!    earlier is an edit, not our echo);
//! 2. a HubSpot edit older than a Turris edit of the same property that we wrote (or are about
//!    to write) → [`EchoVerdict::Superseded`]: Turris's edit is the last write;
//! 3. a HubSpot edit made after the Turris edit a write of ours carried, but before that
//!    write could have landed (or while a push of the property is queued), while HubSpot holds
//!    our value or the edit's →
//!    [`EchoVerdict::Overwritten`]: the edit is the last write, yet our older value may have
//!    replaced it in HubSpot; Turris takes the edit's value and writes it back;
//! 4. anything else → [`EchoVerdict::Fresh`]: plan it as usual.
//!
//! Times compare HubSpot's `occurredAt` with our clock, so [`CLOCK_SKEW`] of slack is allowed
//! where an order between them is inferred.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{ChangeKind, ChangeSource, InboundChange};
use crate::ids::HubSpotId;
use crate::mapping::{MappedField, RecordMapping};
use crate::property::PropertyMap;

/// How long a write we made is remembered to recognise its webhook echo.
pub const ECHO_WINDOW: Duration = Duration::minutes(10);

/// How far HubSpot's clock and ours may disagree, and how long a write may take to land after
/// we send it.
pub const CLOCK_SKEW: Duration = Duration::seconds(5);

/// A write we made to HubSpot (or are about to make), remembered for [`ECHO_WINDOW`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentWrite {
    /// The object written.
    pub object_id: HubSpotId,
    /// The property written.
    pub property: String,
    /// The value written.
    pub value: Option<String>,
    /// When we sent it (just before the call: the echo may arrive before the answer).
    pub at: DateTime<Utc>,
    /// When the Turris edit it carried was made (the newest one the push carried); a HubSpot
    /// edit after this instant is newer than the value we wrote.
    pub edited_at: DateTime<Utc>,
}

impl RecentWrite {
    pub(super) fn holds(&self, value: Option<&str>) -> bool {
        non_empty(self.value.as_deref()) == non_empty(value)
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// What we know about our own writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoInfo<'a> {
    /// Our HubSpot app id, compared with the change's `sourceId`.
    pub app_id: Option<&'a str>,
    /// Our recent writes (the ledger).
    pub recent_writes: &'a [RecentWrite],
    /// Turris edits queued but not written yet, as the writes they will become (`at`: when
    /// they were queued): a HubSpot edit older than one of them is superseded by it.
    pub pending: &'a [RecentWrite],
}

/// How an inbound change relates to our own writes. See the module's documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoVerdict {
    /// Our own write coming back: skip it.
    Echo,
    /// A HubSpot edit older than a Turris edit of the same property written after it: skip it.
    Superseded,
    /// A HubSpot edit newer than the Turris edit a write of ours carried, which may have
    /// replaced it in HubSpot: Turris takes `value` for `property`, and writes it back.
    Overwritten {
        /// The property edited.
        property: String,
        /// The value HubSpot's user gave it.
        value: Option<String>,
    },
    /// Not related to our writes: plan it.
    Fresh,
}

impl EchoInfo<'_> {
    /// Whether `change` is the echo of one of our writes (the verdict is [`EchoVerdict::Echo`]).
    pub fn is_echo(&self, change: &InboundChange) -> bool {
        self.verdict(change) == EchoVerdict::Echo
    }

    /// Whether Turris edited `property` of `object` at or after `t`: a write of ours, or an
    /// edit still queued, carrying a Turris edit made then or later (within [`ECHO_WINDOW`]).
    pub fn turris_edited_since(
        &self,
        object: &HubSpotId,
        property: &str,
        t: DateTime<Utc>,
    ) -> bool {
        self.recent_writes
            .iter()
            .chain(self.pending)
            .filter(|w| w.object_id == *object && w.property == property)
            .any(|w| w.edited_at >= t && (w.at - t).abs() <= ECHO_WINDOW)
    }

    /// Judges `change` against our writes (see the module's documentation). The change's
    /// `properties` are HubSpot's current values, read after the event.
    pub fn verdict(&self, change: &InboundChange) -> EchoVerdict {
        let may_be_ours = match &change.source {
            ChangeSource::App(app) if Some(app.as_str()) == self.app_id => {
                return EchoVerdict::Echo;
            }
            ChangeSource::User => false,
            ChangeSource::App(_) | ChangeSource::Unknown => true,
        };
        let t = change.occurred_at;
        let near =
            |w: &&RecentWrite| w.object_id == change.object_id && (w.at - t).abs() <= ECHO_WINDOW;
        // Sent at most `ECHO_WINDOW` before the change (or up to `CLOCK_SKEW` after it).
        let before = |w: &&RecentWrite| near(w) && w.at <= t + CLOCK_SKEW;
        let (property, value) = match &change.kind {
            ChangeKind::PropertyChanged { property, value } => (property, value.as_deref()),
            ChangeKind::Created if may_be_ours && self.recent_writes.iter().any(|w| before(&w)) => {
                return EchoVerdict::Echo;
            }
            ChangeKind::Created | ChangeKind::Snapshot => return EchoVerdict::Fresh,
        };
        let of_property = |w: &&RecentWrite| near(w) && w.property == *property;
        let writes = || self.recent_writes.iter().filter(of_property);
        // A later write of ours with another value, landed before the change: HubSpot no
        // longer held `w`'s value, so setting it again was someone's edit.
        let replaced = |w: &RecentWrite| {
            writes().any(|later| {
                later.at > w.at && later.at + CLOCK_SKEW < t && !later.holds(w.value.as_deref())
            })
        };
        if may_be_ours
            && writes()
                .filter(before)
                .any(|w| w.holds(value) && !replaced(w))
        {
            return EchoVerdict::Echo;
        }
        let pending = || self.pending.iter().filter(of_property);
        if self.turris_edited_since(&change.object_id, property, t) {
            return EchoVerdict::Superseded;
        }
        let current = non_empty(change.properties.get(property));
        let holds_edit = current == non_empty(value);
        let raced = |w: &RecentWrite| {
            !w.holds(value) && t <= w.at + CLOCK_SKEW && (w.holds(current) || holds_edit)
        };
        // A queued push may be on its way with the older value already.
        if writes().any(raced) || (holds_edit && pending().next().is_some()) {
            return EchoVerdict::Overwritten {
                property: property.clone(),
                value: value.map(str::to_owned),
            };
        }
        EchoVerdict::Fresh
    }
}

/// The ledger entries for properties we are writing to `object_id` at `at`, carrying Turris's
/// edits made up to `edited_at`, for [`EchoInfo`].
pub fn recent_writes(
    object_id: &HubSpotId,
    properties: &PropertyMap,
    at: DateTime<Utc>,
    edited_at: DateTime<Utc>,
) -> Vec<RecentWrite> {
    properties
        .iter()
        .map(|(property, value)| RecentWrite {
            object_id: object_id.clone(),
            property: property.to_owned(),
            value: value.map(str::to_owned),
            at,
            edited_at,
        })
        .collect()
}

/// `draft` as HubSpot holds it while its `property` has `value` (HubSpot's current value): what
/// writing an overwritten edit back compares with, so that the write carries `property` even
/// when Turris holds the edit already. A value a field cannot take leaves that field as it is.
pub fn as_hubspot_holds<M: RecordMapping>(
    mapping: &M,
    draft: &M::Draft,
    property: &str,
    value: Option<&str>,
) -> M::Draft {
    let mut held = draft.clone();
    for field in mapping.fields_for(property) {
        let _ = field.set(&mut held, non_empty(value));
    }
    held
}

/// When each mapped property of a record was last edited in Turris, from its edits not yet
/// pushed (oldest first: when each was made, and the record's data before it, `None` for a new
/// record) and its data now: the `edited_at` of the writes that push them.
pub fn property_edit_times<M: RecordMapping>(
    mapping: &M,
    edits: &[(DateTime<Utc>, Option<M::Draft>)],
    current: &M::Draft,
) -> BTreeMap<String, DateTime<Utc>> {
    let mut times = BTreeMap::new();
    for (i, (at, before)) in edits.iter().enumerate() {
        let after = match edits.get(i + 1) {
            Some((_, Some(next))) => next,
            Some((_, None)) => continue,
            None => current,
        };
        for (field, property) in mapping.mapped() {
            if before
                .as_ref()
                .is_none_or(|b| field.get(b) != field.get(after))
            {
                times.insert(property.to_owned(), *at);
            }
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap() + Duration::seconds(second)
    }

    fn object() -> HubSpotId {
        HubSpotId::parse("101").unwrap()
    }

    /// A write of `phone` = `value`, carrying a Turris edit made at `edited`, sent at `sent`.
    fn wrote(value: &str, edited: i64, sent: i64) -> RecentWrite {
        RecentWrite {
            object_id: object(),
            property: "phone".into(),
            value: Some(value.into()),
            at: t(sent),
            edited_at: t(edited),
        }
    }

    /// HubSpot's user set `phone` to `value` at `at`; HubSpot now holds `current`.
    fn edit(value: &str, at: i64, current: &str) -> InboundChange {
        InboundChange {
            object_id: object(),
            kind: ChangeKind::PropertyChanged {
                property: "phone".into(),
                value: Some(value.into()),
            },
            properties: PropertyMap::from_pairs([("phone", Some(current))]),
            source: ChangeSource::Unknown,
            occurred_at: t(at),
        }
    }

    /// [`edit`], by a person in HubSpot.
    fn by_user(change: InboundChange) -> InboundChange {
        InboundChange {
            source: ChangeSource::User,
            ..change
        }
    }

    fn overwritten(value: &str) -> EchoVerdict {
        EchoVerdict::Overwritten {
            property: "phone".into(),
            value: Some(value.into()),
        }
    }

    /// What a case is called, the change, our writes, the queued edits and the verdict.
    type Case = (
        &'static str,
        InboundChange,
        Vec<RecentWrite>,
        Vec<RecentWrite>,
        EchoVerdict,
    );

    fn check(
        case: &str,
        change: InboundChange,
        writes: &[RecentWrite],
        pending: &[RecentWrite],
        expected: EchoVerdict,
    ) {
        let echo = EchoInfo {
            app_id: Some("app-1"),
            recent_writes: writes,
            pending,
        };
        assert_eq!(echo.verdict(&change), expected, "{case}");
    }

    #[test]
    fn inbound_changes_are_judged_against_our_writes_by_value_and_time() {
        use EchoVerdict::{Echo, Fresh, Superseded};
        let a = || wrote("A", 10, 12);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("no write of ours: a plain edit", edit("B", 20, "B"), vec![], vec![], Fresh),
            ("our value, after we sent it: the echo", edit("A", 13, "A"), vec![a()], vec![], Echo),
            ("our value, a little before our clock says we sent it: still the echo",
                edit("A", 9, "A"), vec![a()], vec![], Echo),
            ("a user edit long after our write landed", edit("B", 60, "B"), vec![a()], vec![], Fresh),
            ("a user edit older than the Turris edit we wrote: Turris wins",
                edit("B", 5, "A"), vec![a()], vec![], Superseded),
            ("a user edit older than a Turris edit still queued: Turris wins",
                edit("B", 5, "B"), vec![], vec![a()], Superseded),
            ("a user edit newer than a queued Turris edit, whose push may be on its way",
                edit("B", 11, "B"), vec![], vec![a()], overwritten("B")),
            ("a user edit newer than a queued Turris edit, and another edit since",
                edit("B", 11, "C"), vec![], vec![a()], Fresh),
            ("a user edit after the Turris edit, our older value landed over it",
                edit("B", 11, "A"), vec![a()], vec![], overwritten("B")),
            ("a user edit after the Turris edit, our write still in flight",
                edit("B", 13, "B"), vec![a()], vec![], overwritten("B")),
            ("a user edit racing our write, then another edit since: plan the current value",
                edit("B", 11, "C"), vec![a()], vec![], Fresh),
            ("a user edit after the Turris edit of an older write, a newer Turris edit written since",
                edit("B", 11, "C"), vec![a(), wrote("C", 30, 31)], vec![], Superseded),
            ("a write to another property says nothing",
                edit("B", 5, "B"), vec![RecentWrite { property: "name".into(), ..a() }], vec![], Fresh),
            ("a write to another object says nothing",
                edit("B", 5, "B"), vec![RecentWrite { object_id: HubSpotId::parse("7").unwrap(), ..a() }], vec![], Fresh),
            ("a write older than the echo window says nothing",
                edit("A", 700, "A"), vec![a()], vec![], Fresh),
            ("a person setting back a value we wrote before a later write of ours",
                by_user(edit("A", 40, "A")), vec![a(), wrote("P", 20, 21)], vec![], Fresh),
            ("a person setting the value we wrote a moment ago: still an edit, not our echo",
                by_user(edit("A", 13, "A")), vec![a()], vec![], Fresh),
            ("our value again, unsaid by whom, after a later write of ours landed: an edit",
                edit("A", 40, "A"), vec![a(), wrote("P", 20, 21)], vec![], Fresh),
            ("our value, unsaid by whom, before our later write could land: the echo",
                edit("A", 13, "A"), vec![a(), wrote("P", 20, 21)], vec![], Echo),
            ("a person's edit older than a Turris edit we wrote still loses to it",
                by_user(edit("B", 5, "A")), vec![a()], vec![], Superseded),
        ];
        for (case, change, writes, pending, expected) in cases {
            check(case, change, &writes, &pending, expected);
        }
    }

    #[test]
    fn each_property_is_dated_by_the_last_turris_edit_that_changed_it() {
        use crate::mapping::AgencyMapping;
        use crate::record::AgencyDraft;
        let mapping = AgencyMapping {
            phone: Some("phone".into()),
            city: Some("city".into()),
            ..AgencyMapping::default()
        };
        let draft = |phone: &str, city: &str| AgencyDraft {
            phone: Some(phone.into()),
            city: Some(city.into()),
            ..AgencyDraft::named("Acme")
        };
        // The phone was edited at 1 s, the city at 2 s, the phone again at 3 s.
        let edits = [
            (t(1), Some(draft("1", "Erie"))),
            (t(2), Some(draft("2", "Erie"))),
            (t(3), Some(draft("2", "Albany"))),
        ];
        let times = property_edit_times(&mapping, &edits, &draft("3", "Albany"));
        assert_eq!(times.get("phone"), Some(&t(3)));
        assert_eq!(times.get("city"), Some(&t(2)));
        assert_eq!(times.get("name"), None, "never edited");
        let created = property_edit_times(&mapping, &[(t(5), None)], &draft("1", "Erie"));
        assert_eq!(
            created.get("name"),
            Some(&t(5)),
            "a new record: every field"
        );
    }

    #[test]
    fn turris_edits_at_or_after_a_moment_are_told_from_older_ones_and_other_properties() {
        let writes = [wrote("A", 10, 12)];
        let pending = [RecentWrite {
            property: "city".into(),
            ..wrote("Erie", 20, 20)
        }];
        let echo = EchoInfo {
            app_id: None,
            recent_writes: &writes,
            pending: &pending,
        };
        assert!(echo.turris_edited_since(&object(), "phone", t(10)));
        assert!(!echo.turris_edited_since(&object(), "phone", t(11)));
        assert!(
            echo.turris_edited_since(&object(), "city", t(15)),
            "a queued edit counts"
        );
        assert!(!echo.turris_edited_since(&object(), "name", t(0)));
    }

    #[test]
    fn a_change_our_app_made_is_an_echo_whatever_the_ledger_says() {
        let mine = InboundChange {
            source: ChangeSource::App("app-1".into()),
            ..edit("B", 5, "B")
        };
        check("our app", mine.clone(), &[], &[], EchoVerdict::Echo);
        let theirs = InboundChange {
            source: ChangeSource::App("app-2".into()),
            ..mine
        };
        check("another app", theirs, &[], &[], EchoVerdict::Fresh);
    }

    #[test]
    fn a_creation_is_an_echo_when_we_wrote_to_the_object_just_before() {
        let created = InboundChange {
            kind: ChangeKind::Created,
            ..edit("A", 13, "A")
        };
        check(
            "our create",
            created.clone(),
            &[wrote("A", 10, 12)],
            &[],
            EchoVerdict::Echo,
        );
        check("a user's create", created, &[], &[], EchoVerdict::Fresh);
    }
}
