//! Tests of the planner: each rule, echoes, contact roles, merges and outbound plans.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone};

use super::*;
use crate::Condition;
use crate::filter::IdentifierFilter;
use crate::mapping::{AgencyField, AgencyMapping, AgentMapping, MappingSettings};
use crate::matrix::SyncObject;
use crate::property::{ObjectType, PropertyDefinition, PropertyType};
use crate::record::{AgencyDraft, AgentDraft, Npn, StateCode};
use crate::store::{Link, LinkKind, TurrisRef};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn schema() -> ObjectSchema {
    let p = |name: &str, standard: bool| {
        PropertyDefinition::new(name, name, PropertyType::String, "text", standard)
    };
    ObjectSchema::new(
        ObjectType::Company,
        vec![
            p("name", true),
            p("type", true),
            p("phone", true),
            p("state", true),
            p("agency_npn", false),
        ],
    )
}

fn mapping() -> AgencyMapping {
    AgencyMapping {
        identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals(
            "type", "Agency",
        ))),
        phone: Some("phone".into()),
        state_code: Some("state".into()),
        npn: Some("agency_npn".into()),
        ..AgencyMapping::default()
    }
}

fn inbound_on() -> SyncMatrix {
    let mut matrix = SyncMatrix::default();
    let settings = MappingSettings {
        agency: mapping(),
        agent: Some(AgentMapping {
            identifier: Some(IdentifierFilter::SyncAll),
            ..AgentMapping::default()
        }),
    };
    matrix
        .enable(SyncObject::Agency, Direction::Inbound, &settings)
        .unwrap();
    matrix
        .enable(SyncObject::Agents, Direction::Inbound, &settings)
        .unwrap();
    matrix
}

fn change(kind: ChangeKind, pairs: &[(&str, Option<&str>)]) -> InboundChange {
    InboundChange {
        object_id: HubSpotId::parse("101").unwrap(),
        kind,
        properties: PropertyMap::from_pairs(pairs.iter().copied()),
        source: ChangeSource::Unknown,
        occurred_at: now(),
    }
}

fn edited(property: &str, value: &str, pairs: &[(&str, Option<&str>)]) -> InboundChange {
    change(
        ChangeKind::PropertyChanged {
            property: property.into(),
            value: Some(value.into()),
        },
        pairs,
    )
}

const AGENCY: &[(&str, Option<&str>)] = &[
    ("type", Some("Agency")),
    ("name", Some("Acme")),
    ("phone", Some("555")),
    ("state", Some("NY")),
    ("agency_npn", Some("123")),
];

fn stored() -> AgencyDraft {
    AgencyDraft {
        phone: Some("555".into()),
        state_code: Some(StateCode::parse("NY").unwrap()),
        npn: Some(Npn::parse("123").unwrap()),
        ..AgencyDraft::named("Acme")
    }
}

/// The standard agency with one property replaced.
fn agency_with(
    property: &'static str,
    value: Option<&'static str>,
) -> Vec<(&'static str, Option<&'static str>)> {
    let others = AGENCY.iter().copied().filter(|(p, _)| *p != property);
    others.chain([(property, value)]).collect()
}

fn run(
    change: &InboundChange,
    matrix: &SyncMatrix,
    existing: Existing<'_, AgencyDraft>,
) -> SyncAction<AgencyDraft, AgencyField> {
    run_with(change, matrix, existing, EchoInfo::default())
}

fn run_with(
    change: &InboundChange,
    matrix: &SyncMatrix,
    existing: Existing<'_, AgencyDraft>,
    echo: EchoInfo<'_>,
) -> SyncAction<AgencyDraft, AgencyField> {
    let mapping = mapping();
    let schema = schema();
    plan(
        change,
        &PlanContext {
            mapping: &mapping,
            schema: &schema,
            matrix,
            echo,
        },
        existing,
    )
}

fn skip(reason: SkipReason) -> SyncAction<AgencyDraft, AgencyField> {
    SyncAction::Skip { reason }
}

#[test]
fn nothing_syncs_inbound_while_the_toggle_is_off() {
    let action = run(
        &change(ChangeKind::Created, AGENCY),
        &SyncMatrix::default(),
        Existing::NotFound,
    );
    assert_eq!(action, skip(SkipReason::InboundDisabled));
}

#[test]
fn a_matching_new_company_is_created_with_every_mapped_field() {
    let action = run(
        &change(ChangeKind::Created, AGENCY),
        &inbound_on(),
        Existing::NotFound,
    );
    assert_eq!(
        action,
        SyncAction::Create {
            draft: stored(),
            skipped: vec![]
        }
    );
}

#[test]
fn a_company_that_does_not_match_the_identifier_is_skipped() {
    let pairs = agency_with("type", Some("Vendor"));
    for existing in [Existing::NotFound, Existing::Matched(MatchedBy::Npn)] {
        let action = run(
            &change(ChangeKind::Created, &pairs),
            &inbound_on(),
            existing,
        );
        assert_eq!(action, skip(SkipReason::DoesNotMatchIdentifier));
    }
}

#[test]
fn a_company_that_starts_to_match_later_is_created_then() {
    let action = run(
        &edited("type", "Agency", AGENCY),
        &inbound_on(),
        Existing::NotFound,
    );
    assert!(matches!(action, SyncAction::Create { .. }), "{action:?}");
}

#[test]
fn a_matched_unlinked_record_is_linked_not_duplicated() {
    let action = run(
        &change(ChangeKind::Created, AGENCY),
        &inbound_on(),
        Existing::Matched(MatchedBy::ProducerCode),
    );
    assert_eq!(
        action,
        SyncAction::Link {
            matched_by: MatchedBy::ProducerCode
        }
    );
}

#[test]
fn a_company_without_a_name_is_skipped_with_the_missing_field() {
    let action = run(
        &change(ChangeKind::Created, &[("type", Some("Agency"))]),
        &inbound_on(),
        Existing::NotFound,
    );
    assert_eq!(
        action,
        skip(SkipReason::MissingRequiredField {
            field: "name".into()
        })
    );
}

#[test]
fn an_invalid_state_code_is_skipped_but_the_record_is_created() {
    let pairs = agency_with("state", Some("New York"));
    let SyncAction::Create { draft, skipped } = run(
        &change(ChangeKind::Created, &pairs),
        &inbound_on(),
        Existing::NotFound,
    ) else {
        panic!("expected a create");
    };
    assert_eq!(draft.state_code, None);
    assert_eq!(skipped[0].reason, FieldSkipReason::InvalidStateCode);
    assert_eq!(skipped[0].value, "New York");
}

#[test]
fn a_standard_property_edit_updates_only_that_field() {
    let pairs = agency_with("phone", Some("777"));
    let current = stored();
    let action = run(
        &edited("phone", "777", &pairs),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(
        action,
        SyncAction::Update {
            changes: vec![FieldChange {
                field: AgencyField::Phone,
                from: Some("555".into()),
                to: Some("777".into())
            }],
            skipped: vec![],
        }
    );
    let SyncAction::Update { changes, .. } = action else {
        unreachable!()
    };
    let mut updated = current.clone();
    apply_changes(&mut updated, &changes);
    assert_eq!(updated.phone.as_deref(), Some("777"));
}

#[test]
fn custom_property_edits_are_skipped_with_the_spec_reason() {
    let current = stored();
    let action = run(
        &edited("agency_npn", "999", AGENCY),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(action, skip(SkipReason::CustomPropertyEdit));
    assert_eq!(
        SkipReason::CustomPropertyEdit.to_string(),
        "custom property edits do not sync inbound"
    );
}

#[test]
fn edits_of_unmapped_or_unchanged_properties_are_skipped() {
    let current = stored();
    let action = run(
        &edited("website", "x", AGENCY),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(action, skip(SkipReason::PropertyNotMapped));
    let action = run(
        &edited("phone", "555", AGENCY),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(action, skip(SkipReason::NoChanges));
}

#[test]
fn invalid_or_emptying_edits_are_skipped_with_the_field_reason() {
    let current = stored();
    let pairs = agency_with("state", Some("Texas"));
    let action = run(
        &edited("state", "Texas", &pairs),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(
        action,
        skip(SkipReason::InvalidValue {
            field: "state_code".into(),
            reason: FieldSkipReason::InvalidStateCode
        })
    );
    assert_eq!(
        action_message(&action),
        "state_code: not a 2-letter US state code"
    );

    let pairs = agency_with("name", Some(""));
    let action = run(
        &edited("name", "", &pairs),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(
        action,
        skip(SkipReason::InvalidValue {
            field: "name".into(),
            reason: FieldSkipReason::RequiredEmpty
        })
    );
}

fn action_message(action: &SyncAction<AgencyDraft, AgencyField>) -> String {
    match action {
        SyncAction::Skip { reason } => reason.to_string(),
        other => format!("{other:?}"),
    }
}

#[test]
fn a_snapshot_of_a_linked_record_updates_standard_fields_only() {
    let pairs = [
        ("type", Some("Agency")),
        ("name", Some("Acme Renamed")),
        ("phone", Some("555")),
        ("state", Some("NY")),
        ("agency_npn", Some("999")),
    ];
    let current = stored();
    let action = run(
        &change(ChangeKind::Snapshot, &pairs),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(
        action,
        SyncAction::Update {
            changes: vec![FieldChange {
                field: AgencyField::Name,
                from: Some("Acme".into()),
                to: Some("Acme Renamed".into())
            }],
            skipped: vec![],
        }
    );
}

#[test]
fn a_linked_record_that_stops_matching_is_no_longer_updated() {
    let current = stored();
    let pairs = agency_with("type", Some("Vendor"));
    let action = run(
        &edited("type", "Vendor", &pairs),
        &inbound_on(),
        Existing::Linked(&current),
    );
    assert_eq!(action, skip(SkipReason::NoLongerMatchesIdentifier));
}

#[test]
fn an_unconfigured_identifier_skips_everything() {
    let mapping = AgencyMapping {
        identifier: None,
        ..mapping()
    };
    let schema = schema();
    let matrix = inbound_on();
    let ctx = PlanContext {
        mapping: &mapping,
        schema: &schema,
        matrix: &matrix,
        echo: EchoInfo::default(),
    };
    let action = plan(
        &change(ChangeKind::Created, AGENCY),
        &ctx,
        Existing::NotFound,
    );
    assert_eq!(action, skip(SkipReason::IdentifierNotConfigured));
}

#[test]
fn echoes_of_our_own_writes_are_recognised_and_skipped() {
    let current = stored();
    let pairs = agency_with("phone", Some("777"));
    let write = |value: &str, minutes_ago: i64| RecentWrite {
        object_id: HubSpotId::parse("101").unwrap(),
        property: "phone".into(),
        value: Some(value.into()),
        at: now() - Duration::minutes(minutes_ago),
        edited_at: now() - Duration::minutes(minutes_ago),
    };
    fn check(change: &InboundChange, current: &AgencyDraft, echo: EchoInfo<'_>, is_echo: bool) {
        let action = run_with(change, &inbound_on(), Existing::Linked(current), echo);
        assert_eq!(
            action == skip(SkipReason::EchoOfOwnWrite),
            is_echo,
            "{echo:?} -> {action:?}"
        );
    }
    let plain = edited("phone", "777", &pairs);
    let from_us = InboundChange {
        source: ChangeSource::App("app-1".into()),
        ..plain.clone()
    };
    let app = EchoInfo {
        app_id: Some("app-1"),
        recent_writes: &[],
        pending: &[],
    };
    check(&from_us, &current, app, true);
    check(
        &from_us,
        &current,
        EchoInfo {
            app_id: Some("app-2"),
            recent_writes: &[],
            pending: &[],
        },
        false,
    );
    check(&from_us, &current, EchoInfo::default(), false);
    check(&plain, &current, app, false);
    let ledger = [write("777", 1)];
    check(
        &plain,
        &current,
        EchoInfo {
            app_id: None,
            recent_writes: &ledger,
            pending: &[],
        },
        true,
    );
    let other_value = [write("778", 1)];
    check(
        &plain,
        &current,
        EchoInfo {
            app_id: None,
            recent_writes: &other_value,
            pending: &[],
        },
        false,
    );
    let too_old = [write("777", 11)];
    check(
        &plain,
        &current,
        EchoInfo {
            app_id: None,
            recent_writes: &too_old,
            pending: &[],
        },
        false,
    );
}

#[test]
fn an_edit_our_older_write_overwrote_is_planned_with_its_own_value_and_an_older_one_is_skipped() {
    let current = stored();
    // Turris edited the phone to 999 at -10 s and we sent it at -2 s; HubSpot now holds 999.
    let ledger = [RecentWrite {
        object_id: HubSpotId::parse("101").unwrap(),
        property: "phone".into(),
        value: Some("999".into()),
        at: now() - Duration::seconds(2),
        edited_at: now() - Duration::seconds(10),
    }];
    let echo = EchoInfo {
        app_id: None,
        recent_writes: &ledger,
        pending: &[],
    };
    let holds_ours = agency_with("phone", Some("999"));
    // A user's edit at -5 s, after Turris's edit: it is the last write.
    let newer = InboundChange {
        occurred_at: now() - Duration::seconds(5),
        ..edited("phone", "777", &holds_ours)
    };
    let SyncAction::Update { changes, .. } =
        run_with(&newer, &inbound_on(), Existing::Linked(&current), echo)
    else {
        panic!("the user's newer edit is applied");
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to.as_deref(), Some("777"));
    // A user's edit at -20 s, before Turris's edit: Turris's edit wins.
    let older = InboundChange {
        occurred_at: now() - Duration::seconds(20),
        ..newer
    };
    assert_eq!(
        run_with(&older, &inbound_on(), Existing::Linked(&current), echo),
        skip(SkipReason::SupersededByTurrisEdit)
    );
}

/// Seed 604 of the sync simulation: Turris had applied a person's edit when a push of an older
/// Turris value (planned before) landed over it in HubSpot. Planning that edit again then
/// changes nothing in Turris, but the edit must still go back to HubSpot.
#[test]
fn an_edit_turris_holds_that_our_older_write_overwrote_is_an_update_that_changes_nothing() {
    // Turris holds the person's phone 777 already.
    let current = AgencyDraft {
        phone: Some("777".into()),
        ..stored()
    };
    // Our push of Turris's older edit (999, edited at -60 s) landed at -2 s, after the edit.
    let ledger = [RecentWrite {
        object_id: HubSpotId::parse("101").unwrap(),
        property: "phone".into(),
        value: Some("999".into()),
        at: now() - Duration::seconds(2),
        edited_at: now() - Duration::seconds(60),
    }];
    let echo = EchoInfo {
        app_id: None,
        recent_writes: &ledger,
        pending: &[],
    };
    let holds_ours = agency_with("phone", Some("999"));
    let edit = InboundChange {
        occurred_at: now() - Duration::seconds(5),
        ..edited("phone", "777", &holds_ours)
    };
    assert_eq!(
        run_with(&edit, &inbound_on(), Existing::Linked(&current), echo),
        SyncAction::Update {
            changes: vec![],
            skipped: vec![]
        },
        "nothing changes in Turris, and the edit is written back"
    );
    // What the write back compares with: the record as HubSpot holds it.
    let held = as_hubspot_holds(&mapping(), &current, "phone", Some("999"));
    assert_eq!(held.phone.as_deref(), Some("999"));
    assert_eq!(held.name, current.name, "other fields as they are");
    // Where HubSpot holds the edit (no write of ours landed after it), nothing is to be done.
    let holds_edit = InboundChange {
        occurred_at: now() - Duration::seconds(5),
        ..edited("phone", "777", &agency_with("phone", Some("777")))
    };
    assert_eq!(
        run(&holds_edit, &inbound_on(), Existing::Linked(&current)),
        skip(SkipReason::NoChanges)
    );
}

#[test]
fn a_late_creation_of_a_linked_record_leaves_the_fields_turris_edited_since() {
    // The creation happened at now(); Turris edited the phone 10 s later (still queued).
    let pending = [RecentWrite {
        object_id: HubSpotId::parse("101").unwrap(),
        property: "phone".into(),
        value: None,
        at: now() + Duration::seconds(10),
        edited_at: now() + Duration::seconds(10),
    }];
    let echo = EchoInfo {
        app_id: None,
        recent_writes: &[],
        pending: &pending,
    };
    let created = change(ChangeKind::Created, &agency_with("phone", Some("777")));
    let current = AgencyDraft {
        name: "Old".into(),
        ..stored()
    };
    let SyncAction::Update { changes, .. } =
        run_with(&created, &inbound_on(), Existing::Linked(&current), echo)
    else {
        panic!("the name HubSpot holds is taken");
    };
    let fields: Vec<&str> = changes.iter().map(|c| c.field.key()).collect();
    assert_eq!(fields, ["name"], "the phone Turris edited since stays");
}

#[test]
fn agents_are_planned_with_their_own_mapping_and_toggle() {
    let mapping = AgentMapping {
        identifier: Some(IdentifierFilter::ApplyFilter(Condition::is_populated(
            "agent_npn",
        ))),
        npn: Some("agent_npn".into()),
        ..AgentMapping::default()
    };
    let schema = ObjectSchema::new(ObjectType::Contact, vec![]);
    let matrix = inbound_on();
    let ctx = PlanContext {
        mapping: &mapping,
        schema: &schema,
        matrix: &matrix,
        echo: EchoInfo::default(),
    };
    let contact = change(
        ChangeKind::Created,
        &[
            ("firstname", Some("Ada")),
            ("lastname", Some("Lovelace")),
            ("agent_npn", Some("42")),
        ],
    );
    let action = plan(&contact, &ctx, Existing::NotFound);
    let expected = AgentDraft {
        npn: Some(Npn::parse("42").unwrap()),
        ..AgentDraft::named("Ada", "Lovelace")
    };
    assert_eq!(
        action,
        SyncAction::Create {
            draft: expected,
            skipped: vec![]
        }
    );
    let off = SyncMatrix {
        agents: Default::default(),
        ..matrix
    };
    let ctx = PlanContext {
        matrix: &off,
        ..ctx
    };
    assert_eq!(
        plan(&contact, &ctx, Existing::NotFound),
        SyncAction::Skip {
            reason: SkipReason::InboundDisabled
        }
    );
}

#[test]
fn skip_reasons_have_stable_messages_and_codes() {
    fn check(reason: SkipReason, message: &str, code: &str) {
        assert_eq!(reason.to_string(), message);
        assert_eq!(serde_json::to_value(&reason).unwrap()["code"], code);
    }
    check(
        SkipReason::InboundDisabled,
        "hubspot → turris sync is off",
        "inbound_disabled",
    );
    check(
        SkipReason::EchoOfOwnWrite,
        "echo of our own write",
        "echo_of_own_write",
    );
    check(
        SkipReason::SupersededByTurrisEdit,
        "a newer turris edit of the property wins",
        "superseded_by_turris_edit",
    );
    check(
        SkipReason::IdentifierNotConfigured,
        "identifier filter is not configured",
        "identifier_not_configured",
    );
    check(
        SkipReason::DoesNotMatchIdentifier,
        "record does not match the identifier filter",
        "does_not_match_identifier",
    );
    check(
        SkipReason::NoLongerMatchesIdentifier,
        "record no longer matches the identifier filter",
        "no_longer_matches_identifier",
    );
    check(
        SkipReason::PropertyNotMapped,
        "property is not mapped",
        "property_not_mapped",
    );
    check(
        SkipReason::CustomPropertyEdit,
        "custom property edits do not sync inbound",
        "custom_property_edit",
    );
    check(
        SkipReason::NoChanges,
        "no mapped field changed",
        "no_changes",
    );
    check(
        SkipReason::MissingRequiredField {
            field: "name".into(),
        },
        "required field name is not populated",
        "missing_required_field",
    );
}

#[test]
fn an_update_also_writes_a_field_turris_edited_back_but_leaves_one_it_did_not_edit() {
    let mapping = mapping();
    let mut matrix = SyncMatrix::default();
    matrix
        .enable(
            SyncObject::Agency,
            Direction::Outbound,
            &MappingSettings::default(),
        )
        .unwrap();
    let id = HubSpotId::parse("101").unwrap();
    let plan = |edited: &[&str]| {
        let edited: BTreeMap<String, DateTime<Utc>> =
            edited.iter().map(|p| (p.to_string(), now())).collect();
        plan_outbound_after(
            &mapping,
            &matrix,
            &stored(),
            Some(&stored()),
            &edited,
            Some(&id),
        )
    };
    // Turris' name went Acme → Acme Two → Acme before either edit was pushed: HubSpot may hold
    // Acme Two (a push it took unheard) or a user's edit the Turris edits superseded.
    let OutboundAction::Update { properties, .. } = plan(&["name"]) else {
        panic!("the name Turris edited back is written");
    };
    let names: Vec<&str> = properties.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["name"], "the phone Turris did not edit is left out");
    assert_eq!(properties.get("name"), Some("Acme"));
    assert_eq!(
        plan(&[]),
        OutboundAction::Skip {
            reason: OutboundSkipReason::NoChanges,
        },
        "nothing edited and nothing changed: nothing to write"
    );
    assert_eq!(
        plan(&["turris_tags"]),
        OutboundAction::Skip {
            reason: OutboundSkipReason::NoChanges,
        },
        "an unmapped property is not ours to plan"
    );
}

#[test]
fn outbound_pushes_create_unlinked_records_and_update_only_changed_fields() {
    let mapping = mapping();
    let mut matrix = SyncMatrix::default();
    assert_eq!(
        plan_outbound(&mapping, &matrix, &stored(), None, None),
        OutboundAction::Skip {
            reason: OutboundSkipReason::OutboundDisabled
        }
    );
    matrix.agency.outbound = true;
    let no_phone = AgencyDraft {
        phone: None,
        ..stored()
    };
    let OutboundAction::Create { properties } =
        plan_outbound(&mapping, &matrix, &no_phone, None, None)
    else {
        panic!("expected a create");
    };
    assert_eq!(
        properties.len(),
        4,
        "unset fields are left out of a create: {properties:?}"
    );
    assert_eq!(
        properties.get("type"),
        Some("Agency"),
        "the identifier value is set"
    );
    assert_eq!(properties.get("agency_npn"), Some("123"));

    let id = HubSpotId::parse("101").unwrap();
    let mut renamed = stored();
    renamed.name = "Acme Two".into();
    renamed.phone = None;
    let action = plan_outbound(&mapping, &matrix, &renamed, Some(&stored()), Some(&id));
    let expected: PropertyMap = [
        ("name".to_string(), Some("Acme Two".to_string())),
        ("phone".to_string(), None),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        action,
        OutboundAction::Update {
            object_id: id.clone(),
            properties: expected.clone()
        }
    );
    assert_eq!(
        plan_outbound(&mapping, &matrix, &stored(), Some(&stored()), Some(&id)),
        OutboundAction::Skip {
            reason: OutboundSkipReason::NoChanges
        }
    );
    let OutboundAction::Update { properties, .. } =
        plan_outbound(&mapping, &matrix, &no_phone, None, Some(&id))
    else {
        panic!("expected an update");
    };
    assert_eq!(
        (properties.len(), properties.contains("phone")),
        (4, true),
        "without the previous state every mapped field is pushed"
    );

    let ledger = recent_writes(&id, &expected, now(), now());
    let echo = InboundChange {
        source: ChangeSource::Unknown,
        ..edited("name", "Acme Two", AGENCY)
    };
    assert!(
        EchoInfo {
            app_id: None,
            recent_writes: &ledger,
            pending: &[],
        }
        .is_echo(&echo),
        "our write's echo is recognised"
    );
}

#[test]
fn contacts_are_agents_agency_contacts_or_skipped_by_toggle_filter_link_and_company() {
    let agent = AgentMapping {
        identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals(
            "jobtitle", "Agent",
        ))),
        ..AgentMapping::default()
    };
    let producer = PropertyMap::from_pairs([("jobtitle", Some("Agent"))]);
    let manager = PropertyMap::from_pairs([("jobtitle", Some("Office manager"))]);
    let toggles = |agents: bool, contacts: bool| {
        let mut matrix = SyncMatrix::default();
        matrix.agency.inbound = true;
        matrix.agents.inbound = agents;
        matrix.agency_contacts.inbound = contacts;
        matrix
    };
    let facts = |properties| ContactFacts {
        properties,
        linked: None,
        of_synced_agency: true,
        echo_of_own_write: false,
    };
    let skip = |reason| ContactRole::Skip { reason };
    #[track_caller]
    fn check(
        matrix: SyncMatrix,
        agent: Option<&AgentMapping>,
        facts: ContactFacts<'_>,
        expected: ContactRole,
    ) {
        assert_eq!(
            contact_role(&matrix, agent, facts),
            expected,
            "{matrix:?} {facts:?}"
        );
    }
    let both = toggles(true, true);
    check(both, Some(&agent), facts(&producer), ContactRole::Agent);
    check(
        both,
        Some(&agent),
        facts(&manager),
        ContactRole::AgencyContact,
    );
    // Agent inbound off: every contact of a synced agency is an agency contact.
    check(
        toggles(false, true),
        Some(&agent),
        facts(&producer),
        ContactRole::AgencyContact,
    );
    check(
        toggles(false, true),
        None,
        facts(&producer),
        ContactRole::AgencyContact,
    );
    // Agency contacts off: a non-agent is skipped with the agent filter's reason.
    check(
        toggles(true, false),
        Some(&agent),
        facts(&manager),
        skip(SkipReason::DoesNotMatchIdentifier),
    );
    check(
        toggles(false, false),
        Some(&agent),
        facts(&producer),
        skip(SkipReason::InboundDisabled),
    );
    check(
        both,
        Some(&agent),
        ContactFacts {
            of_synced_agency: false,
            ..facts(&producer)
        },
        skip(SkipReason::NotOfASyncedAgency),
    );
    check(
        both,
        Some(&agent),
        ContactFacts {
            echo_of_own_write: true,
            ..facts(&manager)
        },
        skip(SkipReason::EchoOfOwnWrite),
    );
    // A link keeps the kind, whatever the filter or the primary company say now.
    check(
        both,
        Some(&agent),
        ContactFacts {
            linked: Some(LinkKind::AgencyContact),
            ..facts(&producer)
        },
        ContactRole::AgencyContact,
    );
    check(
        both,
        Some(&agent),
        ContactFacts {
            linked: Some(LinkKind::AgencyContact),
            of_synced_agency: false,
            ..facts(&manager)
        },
        ContactRole::AgencyContact,
    );
    check(
        both,
        Some(&agent),
        ContactFacts {
            linked: Some(LinkKind::Agent),
            ..facts(&manager)
        },
        ContactRole::Agent,
    );
    assert_eq!(
        SkipReason::NotOfASyncedAgency.to_string(),
        "contact is not associated with a synced agency"
    );
}

#[test]
fn agency_contacts_are_created_matched_by_email_and_updated_with_standard_edits_only() {
    use crate::mapping::{AgencyContactField, AgencyContactMapping};
    use crate::record::AgencyContactDraft;

    let mapping = AgencyContactMapping::default();
    let p = |name: &str, standard: bool| {
        PropertyDefinition::new(name, name, PropertyType::String, "text", standard)
    };
    let schema = ObjectSchema::new(
        ObjectType::Contact,
        vec![p("firstname", true), p("lastname", true), p("email", true)],
    );
    let mut matrix = SyncMatrix::default();
    matrix.agency.inbound = true;
    matrix.agency_contacts.inbound = true;
    let ctx = PlanContext {
        mapping: &mapping,
        schema: &schema,
        matrix: &matrix,
        echo: EchoInfo::default(),
    };
    let pairs = [
        ("firstname", Some("Ada")),
        ("lastname", Some("Lovelace")),
        ("email", Some("ada@agency.example.com")),
    ];
    let draft = AgencyContactDraft {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("ada@agency.example.com".into()),
    };
    assert_eq!(
        plan(
            &change(ChangeKind::Created, &pairs),
            &ctx,
            Existing::NotFound
        ),
        SyncAction::Create {
            draft: draft.clone(),
            skipped: vec![]
        }
    );
    assert_eq!(
        plan(
            &change(ChangeKind::Created, &pairs),
            &ctx,
            Existing::Matched(MatchedBy::Email)
        ),
        SyncAction::Link {
            matched_by: MatchedBy::Email
        }
    );
    let stored = AgencyContactDraft {
        last_name: Some("Byron".into()),
        ..draft.clone()
    };
    assert_eq!(
        plan(
            &edited("lastname", "Lovelace", &pairs),
            &ctx,
            Existing::Linked(&stored)
        ),
        SyncAction::Update {
            changes: vec![FieldChange {
                field: AgencyContactField::LastName,
                from: Some("Byron".into()),
                to: Some("Lovelace".into()),
            }],
            skipped: vec![],
        }
    );
    let off = SyncMatrix::default();
    assert_eq!(
        plan(
            &change(ChangeKind::Created, &pairs),
            &PlanContext {
                matrix: &off,
                ..ctx
            },
            Existing::NotFound
        ),
        SyncAction::Skip {
            reason: SkipReason::InboundDisabled
        }
    );
    // Outbound: names and email, nothing else.
    matrix.agency_contacts.outbound = true;
    let OutboundAction::Create { properties } =
        plan_outbound(&mapping, &matrix, &draft, None, None)
    else {
        panic!("an unlinked agency contact is created");
    };
    assert_eq!(properties.len(), 3, "{properties:?}");
    assert_eq!(properties.get("email"), Some("ada@agency.example.com"));
}

#[test]
fn a_merged_away_link_follows_the_primary_unless_the_primary_is_linked() {
    use crate::ids::{AgencyContactId, AgentId};
    let id = |s: &str| HubSpotId::parse(s).unwrap();
    let agent = TurrisRef::Agent(AgentId::parse("g1").unwrap());
    let contact = TurrisRef::AgencyContact(AgencyContactId::parse("c1").unwrap());
    let link = |turris: &TurrisRef, hubspot: &str| Link {
        turris: turris.clone(),
        hubspot_id: id(hubspot),
    };
    // HubSpot lists the primary among the merged ids: its own link is not touched.
    let merged = [link(&contact, "1"), link(&agent, "2")];
    assert_eq!(
        plan_merge(&id("1"), false, &merged),
        [MergeStep::Follow {
            turris: agent.clone(),
            from: id("2")
        }]
    );
    assert_eq!(
        plan_merge(&id("1"), true, &merged),
        [MergeStep::Unlink {
            turris: agent.clone(),
            from: id("2")
        }]
    );
    // Two linked records merged into an unlinked one: the first follows, the other is freed.
    let merged = [link(&agent, "2"), link(&contact, "3")];
    assert_eq!(
        plan_merge(&id("1"), false, &merged),
        [
            MergeStep::Follow {
                turris: agent,
                from: id("2")
            },
            MergeStep::Unlink {
                turris: contact,
                from: id("3")
            },
        ]
    );
    assert!(plan_merge(&id("1"), false, &[]).is_empty());
}
