use super::*;

fn company(id: &str, props: &[(&str, &str)]) -> HubSpotRecord {
    HubSpotRecord {
        id: id.to_owned(),
        properties: props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn agency(id: &str, fields: &[(&str, &str)]) -> TurrisRecord {
    TurrisRecord {
        id: id.to_owned(),
        agency_id: None,
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn link(kind: &str, turris: &str, hubspot: &str) -> LinkRow {
    LinkRow {
        kind: kind.to_owned(),
        turris_id: turris.to_owned(),
        hubspot_id: hubspot.to_owned(),
    }
}

/// One partner company linked to its agency, one contact linked to its agency contact.
fn synced() -> Snapshot {
    Snapshot {
        companies: vec![company(
            "1",
            &[("type", "PARTNER"), ("name", "Acme"), ("npn", "1001")],
        )],
        contacts: vec![company(
            "9",
            &[("associatedcompanyid", "1"), ("email", "a@x.example")],
        )],
        agencies: vec![agency("a1", &[("name", "Acme"), ("npn", "1001")])],
        agency_contacts: vec![TurrisRecord {
            id: "c1".into(),
            agency_id: Some("a1".into()),
            fields: [("email".to_owned(), "a@x.example".to_owned())].into(),
        }],
        links: vec![link("agency", "a1", "1"), link("agency_contact", "c1", "9")],
        quiesced: true,
        expectations: vec![Expectation {
            side: Side::Turris,
            id: "a1".into(),
            field: "name".into(),
            value: Some("Acme".into()),
            allowed: vec![],
        }],
        ..Snapshot::default()
    }
}

fn broken(s: &Snapshot) -> Vec<&'static str> {
    check(s).into_iter().map(|v| v.invariant).collect()
}

#[test]
fn a_synced_pair_breaks_nothing() {
    assert_eq!(check(&synced()), vec![]);
}

#[test]
fn a_second_agency_of_one_company_is_a_duplicate() {
    let mut s = synced();
    s.agencies
        .push(agency("a2", &[("name", "Acme"), ("npn", "1001")]));
    let found = broken(&s);
    assert!(found.contains(&"0 duplicates"), "{found:?}");
    assert!(
        found.contains(&"every Turris record is linked"),
        "{found:?}"
    );
}

#[test]
fn a_second_company_of_one_agency_is_a_duplicate() {
    let mut s = synced();
    s.companies
        .push(company("2", &[("type", "PARTNER"), ("npn", "1001")]));
    let found = broken(&s);
    assert!(found.contains(&"0 duplicates"), "{found:?}");
    assert!(
        found.contains(&"every matching HubSpot record is linked"),
        "{found:?}"
    );
}

#[test]
fn one_contact_linked_as_two_kinds_is_caught() {
    let mut s = synced();
    s.links.push(link("agent", "g1", "9"));
    assert!(broken(&s).contains(&"a HubSpot record is linked to exactly one Turris record"));
}

#[test]
fn a_link_to_a_deleted_company_is_caught() {
    let mut s = synced();
    s.companies.clear();
    s.contacts.clear();
    assert!(broken(&s).contains(&"every link names a live HubSpot record"));
}

#[test]
fn an_unlinked_agency_needs_a_row_saying_why() {
    let mut s = synced();
    s.companies.clear();
    s.contacts.clear();
    s.links.clear();
    assert!(broken(&s).contains(&"every Turris record is linked"));
    s.activity.push(ActivityRow {
        title: "Company changed".into(),
        status: "success".into(),
        message: Some(
            "company deleted in HubSpot: link removed, the agency stays in Turris".into(),
        ),
        turris_id: Some("a1".into()),
        ..ActivityRow::default()
    });
    assert!(!broken(&s).contains(&"every Turris record is linked"));
}

#[test]
fn a_field_that_missed_the_last_write_is_caught() {
    let mut s = synced();
    s.agencies[0]
        .fields
        .insert("name".into(), "Old name".into());
    assert_eq!(broken(&s), vec!["fields converge to the last write"]);
}

#[test]
fn a_skip_without_its_reason_is_caught() {
    let mut s = synced();
    s.activity.push(ActivityRow {
        title: "Company property changed".into(),
        status: "skipped".into(),
        ..ActivityRow::default()
    });
    assert_eq!(broken(&s), vec!["every skip has its reason"]);
    s.activity[0].skip_reason = Some("custom property edits do not sync inbound".into());
    assert_eq!(broken(&s), Vec::<&str>::new());
}

#[test]
fn an_invitation_sent_twice_is_caught() {
    let mut s = synced();
    s.invitations = vec![("a1".into(), "sent".into()), ("a1".into(), "sent".into())];
    assert_eq!(broken(&s), vec!["no invitation sent twice"]);
}

#[test]
fn writes_after_quiescence_are_an_echo_loop_and_pending_events_are_unprocessed() {
    let mut s = synced();
    s.writes_while_quiet = 3;
    s.events_pending = 1;
    let found = broken(&s);
    assert!(found.contains(&"no echo loop"), "{found:?}");
    assert!(found.contains(&"no event left unprocessed"), "{found:?}");
}
