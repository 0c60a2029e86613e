use chrono::{DateTime, TimeZone, Utc};
use turris_webhooks::ComplianceStatus::{self, Compliant, NonCompliant, NotRequired, Pending};
use turris_webhooks::{
    DebounceConfig, Debouncer, DebouncerState, EntityType, StatusChangeEvent, WebhookType,
};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 1, 8, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn change(
    org: &str,
    entity: &str,
    pair: (&str, &str),
    from: ComplianceStatus,
    to: ComplianceStatus,
    at: i64,
) -> StatusChangeEvent {
    let entity_type = if entity.starts_with("agent") {
        EntityType::Agent
    } else {
        EntityType::Agency
    };
    StatusChangeEvent {
        organization: org.into(),
        entity_type,
        entity_id: entity.into(),
        npn: Some(format!("npn-{entity}")),
        name: format!("Name of {entity}"),
        product: pair.0.into(),
        state: pair.1.into(),
        previous_status: from,
        status: to,
        at: t(at),
    }
}

/// A change of organization `org`'s agency `agency_1`.
fn agency_1(
    pair: (&str, &str),
    from: ComplianceStatus,
    to: ComplianceStatus,
    at: i64,
) -> StatusChangeEvent {
    change("org", "agency_1", pair, from, to, at)
}

const LIFE_TX: (&str, &str) = ("life", "TX");
const LIFE_CA: (&str, &str) = ("life", "CA");
const PC_TX: (&str, &str) = ("p&c", "TX");

#[test]
fn a_window_closes_sixty_seconds_after_its_last_change() {
    let mut d = Debouncer::default();
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    d.record(agency_1(LIFE_CA, Pending, Compliant, 50));
    assert_eq!(d.next_due(), Some(t(110)));
    assert!(d.flush_due(t(109)).is_empty());
    let batches = d.flush_due(t(110));
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(
        (b.organization.as_str(), b.webhook_type),
        ("org", WebhookType::AgencyComplianceStatusChanges)
    );
    assert_eq!(
        (b.payload.window_start, b.payload.window_end),
        (t(0), t(110))
    );
    let e = &b.payload.entities[0];
    assert_eq!(
        (e.entity_id.as_str(), e.npn.as_deref(), e.name.as_str()),
        ("agency_1", Some("npn-agency_1"), "Name of agency_1")
    );
    let pairs: Vec<_> = e
        .changes
        .iter()
        .map(|c| {
            (
                c.product.as_str(),
                c.state.as_str(),
                c.previous_status,
                c.status,
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("life", "TX", Compliant, NonCompliant),
            ("life", "CA", Pending, Compliant)
        ]
    );
    assert!(d.state().is_empty());
    assert!(d.flush_due(t(10_000)).is_empty(), "sent once");
}

#[test]
fn a_change_that_flips_back_is_not_sent() {
    let mut d = Debouncer::default();
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    d.record(agency_1(LIFE_TX, NonCompliant, Compliant, 20));
    d.record(agency_1(PC_TX, Pending, Compliant, 30));
    let batches = d.flush_due(t(90));
    let changes = &batches[0].payload.entities[0].changes;
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            changes[0].product.as_str(),
            changes[0].previous_status,
            changes[0].status
        ),
        ("p&c", Pending, Compliant)
    );
}

#[test]
fn intermediate_statuses_collapse_to_start_and_end() {
    let mut d = Debouncer::default();
    d.record(change("org", "agent_1", LIFE_TX, Compliant, Pending, 0));
    d.record(change("org", "agent_1", LIFE_TX, Pending, NonCompliant, 10));
    d.record(change(
        "org",
        "agent_1",
        LIFE_TX,
        NonCompliant,
        NotRequired,
        20,
    ));
    let batches = d.flush_due(t(80));
    assert_eq!(
        batches[0].webhook_type,
        WebhookType::AgentComplianceStatusChanges
    );
    let c = &batches[0].payload.entities[0].changes[0];
    assert_eq!((c.previous_status, c.status), (Compliant, NotRequired));
}

#[test]
fn a_window_where_everything_flipped_back_sends_nothing() {
    let mut d = Debouncer::default();
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    d.record(agency_1(LIFE_TX, NonCompliant, Compliant, 5));
    assert!(d.flush_due(t(65)).is_empty());
    assert!(d.state().is_empty());
    assert_eq!(d.next_due(), None);
}

#[test]
fn the_hard_cap_closes_a_window_ten_minutes_after_its_first_change_despite_constant_activity() {
    let mut d = Debouncer::default();
    let states = [
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
        "KS", "KY", "LA", "ME", "MD",
    ];
    // A change every 30 s from 0 to 570 s never leaves a 60 s quiet period.
    for (i, state) in (0..).zip(states) {
        d.record(change(
            "org",
            "agency_1",
            ("life", state),
            Compliant,
            NonCompliant,
            i * 30,
        ));
    }
    // Quiet would close it at 630 s; the cap closes it at 600 s (first + 10 min).
    assert_eq!(d.next_due(), Some(t(600)));
    assert!(d.flush_due(t(599)).is_empty());
    let batches = d.flush_due(t(600));
    assert_eq!(batches.len(), 1);
    assert_eq!(
        (
            batches[0].payload.window_start,
            batches[0].payload.window_end
        ),
        (t(0), t(600))
    );
    assert_eq!(batches[0].payload.entities[0].changes.len(), 20);
}

#[test]
fn a_change_after_the_hard_cap_opens_a_new_window() {
    let mut d = Debouncer::default();
    for i in 0..20 {
        d.record(change(
            "org",
            &format!("agency_{i}"),
            LIFE_TX,
            Compliant,
            NonCompliant,
            i * 30,
        ));
    }
    // This change arrives at 600 s: the first window is already due, so it starts a new one.
    d.record(change(
        "org",
        "agency_late",
        LIFE_TX,
        Pending,
        Compliant,
        600,
    ));
    let first = d.flush_due(t(600));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].payload.entities.len(), 20);
    assert!(
        first[0]
            .payload
            .entities
            .iter()
            .all(|e| e.entity_id != "agency_late")
    );
    assert_eq!(d.next_due(), Some(t(660)));
    let second = d.flush_due(t(660));
    assert_eq!(second[0].payload.entities[0].entity_id, "agency_late");
    assert_eq!(second[0].payload.window_start, t(600));
}

#[test]
fn several_entities_are_consolidated_in_one_payload_and_unchanged_ones_are_omitted() {
    let mut d = Debouncer::default();
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    d.record(change("org", "agency_2", LIFE_TX, Pending, Compliant, 10));
    d.record(change("org", "agency_3", LIFE_TX, Compliant, Pending, 20));
    d.record(change("org", "agency_3", LIFE_TX, Pending, Compliant, 30));
    d.record(agency_1(PC_TX, NotRequired, Pending, 40));
    let batches = d.flush_due(t(100));
    assert_eq!(batches.len(), 1);
    let entities: Vec<(&str, usize)> = batches[0]
        .payload
        .entities
        .iter()
        .map(|e| (e.entity_id.as_str(), e.changes.len()))
        .collect();
    assert_eq!(entities, [("agency_1", 2), ("agency_2", 1)]);
}

#[test]
fn organizations_and_entity_types_are_debounced_separately() {
    let mut d = Debouncer::default();
    d.record(change(
        "org_a",
        "agency_1",
        LIFE_TX,
        Compliant,
        NonCompliant,
        0,
    ));
    d.record(change("org_b", "agency_1", LIFE_TX, Compliant, Pending, 30));
    d.record(change("org_a", "agent_1", LIFE_TX, Pending, Compliant, 45));
    assert_eq!(d.next_due(), Some(t(60)));
    let first = d.flush_due(t(60));
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].organization.as_str(), first[0].webhook_type),
        ("org_a", WebhookType::AgencyComplianceStatusChanges)
    );
    let rest = d.flush_due(t(105));
    let mut keys: Vec<(String, WebhookType)> = rest
        .iter()
        .map(|b| (b.organization.clone(), b.webhook_type))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "org_a".to_owned(),
                WebhookType::AgentComplianceStatusChanges
            ),
            (
                "org_b".to_owned(),
                WebhookType::AgencyComplianceStatusChanges
            )
        ]
    );
    assert_eq!(
        rest.iter()
            .find(|b| b.organization == "org_b")
            .unwrap()
            .payload
            .entities[0]
            .changes[0]
            .status,
        Pending
    );
}

#[test]
fn windows_are_configurable() {
    let config = DebounceConfig {
        quiet: std::time::Duration::from_secs(5),
        max_wait: std::time::Duration::from_secs(12),
    };
    let mut d = Debouncer::new(config);
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    assert_eq!(d.next_due(), Some(t(5)));
    d.record(agency_1(LIFE_CA, Compliant, NonCompliant, 4));
    d.record(agency_1(PC_TX, Compliant, NonCompliant, 8));
    assert_eq!(d.next_due(), Some(t(12)));
    assert_eq!(d.flush_due(t(12)).len(), 1);
}

#[test]
fn state_survives_a_serde_round_trip_and_resumes() {
    let mut d = Debouncer::default();
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    d.record(agency_1(LIFE_TX, NonCompliant, Pending, 10));
    let json = serde_json::to_string(d.state()).unwrap();
    let state: DebouncerState = serde_json::from_str(&json).unwrap();
    let mut resumed = Debouncer::from_state(DebounceConfig::default(), state);
    assert_eq!(resumed.state(), d.state());
    resumed.record(agency_1(LIFE_TX, Pending, Compliant, 20));
    assert!(
        resumed.flush_due(t(80)).is_empty(),
        "flipped back to the status at window start"
    );
    let mut original = d.clone();
    let batches = original.flush_due(t(70));
    assert_eq!(batches[0].payload.entities[0].changes[0].status, Pending);
}

#[test]
fn the_latest_name_and_npn_of_an_entity_are_sent() {
    let mut d = Debouncer::default();
    d.record(agency_1(LIFE_TX, Compliant, NonCompliant, 0));
    let mut renamed = agency_1(LIFE_CA, Compliant, NonCompliant, 10);
    renamed.name = "Acme Insurance".into();
    renamed.npn = None;
    d.record(renamed);
    let e = &d.flush_due(t(70))[0].payload.entities[0];
    assert_eq!(
        (e.name.as_str(), e.npn.as_deref()),
        ("Acme Insurance", None)
    );
}

mod model {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use turris_webhooks::ComplianceStatus::{self, Compliant, NonCompliant, NotRequired, Pending};
    use turris_webhooks::Debouncer;

    use super::{change, t};

    const STATUSES: [ComplianceStatus; 4] = [Compliant, NonCompliant, Pending, NotRequired];
    const PAIRS: [(&str, &str); 3] = [("life", "TX"), ("life", "CA"), ("p&c", "TX")];

    proptest! {
        #[test]
        fn the_payload_is_the_difference_between_window_start_and_end(
            steps in proptest::collection::vec((0usize..3, 0usize..3, 0usize..4), 1..40),
        ) {
            let mut d = Debouncer::default();
            // (entity, pair) -> (status at start, current status)
            let mut model: BTreeMap<(usize, usize), (ComplianceStatus, ComplianceStatus)> = BTreeMap::new();
            for (i, (entity, pair, status)) in (0i64..).zip(steps) {
                let key = (entity, pair);
                let before = model.get(&key).map_or(Compliant, |(_, now)| *now);
                let after = STATUSES[status];
                model.entry(key).or_insert((before, before)).1 = after;
                d.record(change("org", &format!("agency_{entity}"), PAIRS[pair], before, after, i));
            }
            let mut expected: Vec<(String, &str, &str, ComplianceStatus, ComplianceStatus)> = model
                .iter()
                .filter(|(_, (start, end))| start != end)
                .map(|((e, p), (start, end))| (format!("agency_{e}"), PAIRS[*p].0, PAIRS[*p].1, *start, *end))
                .collect();
            expected.sort();
            let batches = d.flush_due(t(1_000));
            let mut got: Vec<(String, &str, &str, ComplianceStatus, ComplianceStatus)> = Vec::new();
            for b in &batches {
                for e in &b.payload.entities {
                    prop_assert!(!e.changes.is_empty(), "entities without changes are omitted");
                    for c in &e.changes {
                        let pair = PAIRS.iter().find(|p| p.0 == c.product && p.1 == c.state).unwrap();
                        got.push((e.entity_id.clone(), pair.0, pair.1, c.previous_status, c.status));
                    }
                }
            }
            got.sort();
            prop_assert_eq!(batches.len(), usize::from(!expected.is_empty()));
            prop_assert_eq!(got, expected);
        }
    }
}

#[test]
fn windows_of_any_length_at_any_time_do_not_overflow_the_clock() {
    let config = DebounceConfig {
        quiet: std::time::Duration::MAX,
        max_wait: std::time::Duration::MAX,
    };
    let mut debouncer = Debouncer::new(config);
    debouncer.record(change("org", "agency-1", LIFE_TX, Pending, Compliant, 0));
    assert_eq!(debouncer.next_due(), Some(DateTime::<Utc>::MAX_UTC));
    assert!(debouncer.flush_due(t(3600)).is_empty());
    assert_eq!(debouncer.flush_due(DateTime::<Utc>::MAX_UTC).len(), 1);

    let mut debouncer = Debouncer::new(DebounceConfig::default());
    let mut late = change("org", "agency-2", LIFE_TX, Pending, Compliant, 0);
    late.at = DateTime::<Utc>::MAX_UTC;
    debouncer.record(late);
    assert_eq!(debouncer.next_due(), Some(DateTime::<Utc>::MAX_UTC));
    assert_eq!(debouncer.flush_due(DateTime::<Utc>::MAX_UTC).len(), 1);
}
