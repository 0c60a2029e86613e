//! The storage conformance suite (feature `conformance`): every backend runs the same checks.
//!
//! ```
//! use turris_core::store::{InMemoryStore, conformance};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = InMemoryStore::new(); // or a SQLite/PostgreSQL store on an empty database
//! conformance::run_all(&store).await; // panics, naming the contract, on the first failure
//! # });
//! ```
//!
//! Each check is also public, to run (and report) one behaviour at a time. Checks panic with
//! a message naming the broken contract, like any test assertion. They create their own
//! organizations (`conformance-<check>-<n>`), so run them against an empty database; they
//! never read data they did not write.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{Link, LinkKind, Store, StoreError, TurrisRef};
use crate::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use crate::ids::{AgencyContactId, AgencyId, AgentId, HubSpotId, OrganizationId};
use crate::integration::{Connection, ConnectionStatus, IntegrationSettings, WebhookStatus};
use crate::matching::{AgencyKey, AgentKey};
use crate::property::{ObjectSchema, ObjectType, PropertyDefinition, PropertyType};
use crate::record::{Agency, AgencyContact, AgencyDraft, Agent, AgentDraft, Npn};
use crate::{Condition, IdentifierFilter};

static NEXT_ORG: AtomicU64 = AtomicU64::new(1);

fn fresh_org(check: &str) -> OrganizationId {
    let n = NEXT_ORG.fetch_add(1, Ordering::Relaxed);
    OrganizationId::parse(&format!("conformance-{check}-{n}")).expect("valid organization id")
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn agency(id: &str, name: &str) -> Agency {
    Agency {
        id: AgencyId::parse(id).expect("valid id"),
        data: AgencyDraft::named(name),
    }
}

fn hubspot(id: &str) -> HubSpotId {
    HubSpotId::parse(id).expect("valid hubspot id")
}

/// Runs every check.
pub async fn run_all<S: Store + ?Sized>(store: &S) {
    settings_round_trip(store).await;
    settings_are_isolated_per_organization(store).await;
    links_are_unique_per_side(store).await;
    links_are_isolated_and_deleted_per_organization(store).await;
    activity_pages_are_newest_first_and_stable_on_timestamp_ties(store).await;
    activity_pages_clamp_their_size(store).await;
    activity_pages_filter_by_outcome(store).await;
    activity_prune_removes_only_older_entries_of_one_organization(store).await;
    agencies_insert_get_update_and_find_by_key(store).await;
    agents_find_by_npn_or_normalized_name_and_email(store).await;
    agency_contacts_belong_to_an_agency_and_list_in_id_order(store).await;
    records_are_isolated_per_organization(store).await;
}

/// Settings are absent, saved, loaded whole, partly updated and deleted.
pub async fn settings_round_trip<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("settings");
    assert!(
        store.load_settings(&org).await.unwrap().is_none(),
        "new organization has no settings"
    );
    let connection = Connection {
        status: ConnectionStatus::Connected,
        portal_id: Some(42),
        connected_at: Some(base_time()),
        connected_by: Some("Ada Lovelace <ada@example.com>".into()),
        error: None,
    };
    assert!(
        matches!(
            store.set_connection(&org, &connection).await,
            Err(StoreError::NotFound)
        ),
        "set_connection without settings is not found"
    );
    let empty = ObjectSchema::new(ObjectType::Company, vec![]);
    assert!(
        matches!(
            store.save_property_schema(&org, &empty).await,
            Err(StoreError::NotFound)
        ),
        "save_property_schema without settings is not found"
    );
    assert!(
        matches!(
            store
                .set_subscription_status(&org, ObjectType::Company, "name", WebhookStatus::Live)
                .await,
            Err(StoreError::NotFound)
        ),
        "set_subscription_status without settings is not found"
    );
    let mut settings = IntegrationSettings::default();
    settings.mapping.agency.identifier = Some(IdentifierFilter::ApplyFilter(Condition::is_one_of(
        "type",
        ["Agency", "MGA"],
    )));
    settings.mapping.agency.npn = Some("agency_npn".into());
    store.save_settings(&org, &settings).await.unwrap();
    assert_eq!(
        store.load_settings(&org).await.unwrap().as_ref(),
        Some(&settings),
        "settings load as saved"
    );

    store.set_connection(&org, &connection).await.unwrap();
    let contacts = ObjectSchema::new(
        ObjectType::Contact,
        vec![PropertyDefinition::new(
            "email",
            "Email",
            PropertyType::String,
            "text",
            true,
        )],
    );
    store.save_property_schema(&org, &contacts).await.unwrap();
    store
        .set_subscription_status(&org, ObjectType::Company, "name", WebhookStatus::Pending)
        .await
        .unwrap();
    store
        .set_subscription_status(&org, ObjectType::Company, "name", WebhookStatus::Live)
        .await
        .unwrap();
    let loaded = store
        .load_settings(&org)
        .await
        .unwrap()
        .expect("settings exist");
    assert_eq!(loaded.connection, connection, "connection updated");
    assert_eq!(
        loaded.subscription_status(ObjectType::Company, "name"),
        Some(WebhookStatus::Live),
        "subscription updated"
    );
    assert_eq!(
        loaded.mapping, settings.mapping,
        "partial updates keep the mapping"
    );
    assert_eq!(
        loaded.contact_schema.as_ref(),
        Some(&contacts),
        "schema cache updated"
    );
    assert_eq!(
        loaded.company_schema, None,
        "the other object's schema untouched"
    );

    settings.matrix.agency.outbound = true;
    store.save_settings(&org, &settings).await.unwrap();
    assert!(
        store
            .load_settings(&org)
            .await
            .unwrap()
            .unwrap()
            .matrix
            .agency
            .outbound,
        "save replaces"
    );

    assert!(
        store.delete_settings(&org).await.unwrap(),
        "delete reports it deleted"
    );
    assert!(
        store.load_settings(&org).await.unwrap().is_none(),
        "deleted settings are gone"
    );
    assert!(
        !store.delete_settings(&org).await.unwrap(),
        "deleting twice reports nothing deleted"
    );
}

/// One organization's settings are invisible to another.
pub async fn settings_are_isolated_per_organization<S: Store + ?Sized>(store: &S) {
    let (a, b) = (fresh_org("settings-iso"), fresh_org("settings-iso"));
    store
        .save_settings(&a, &IntegrationSettings::default())
        .await
        .unwrap();
    assert!(
        store.load_settings(&b).await.unwrap().is_none(),
        "other organization sees no settings"
    );
    assert!(
        !store.delete_settings(&b).await.unwrap(),
        "other organization cannot delete them"
    );
    assert!(
        store.load_settings(&a).await.unwrap().is_some(),
        "settings survive another organization's delete"
    );
}

/// A Turris record and a HubSpot object (within a kind) have at most one link each.
pub async fn links_are_unique_per_side<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("links");
    let a1 = TurrisRef::Agency(AgencyId::parse("a1").unwrap());
    let a2 = TurrisRef::Agency(AgencyId::parse("a2").unwrap());
    let link = Link {
        turris: a1.clone(),
        hubspot_id: hubspot("100"),
    };
    store.put_link(&org, &link).await.unwrap();
    store
        .put_link(&org, &link)
        .await
        .expect("relinking the same pair is a no-op");
    assert_eq!(
        store.link_by_turris(&org, &a1).await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        store
            .link_by_hubspot(&org, LinkKind::Agency, &hubspot("100"))
            .await
            .unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        store
            .link_by_hubspot(&org, LinkKind::Agent, &hubspot("100"))
            .await
            .unwrap(),
        None,
        "links are per kind"
    );

    let taken_hubspot = Link {
        turris: a2.clone(),
        hubspot_id: hubspot("100"),
    };
    assert!(
        matches!(
            store.put_link(&org, &taken_hubspot).await,
            Err(StoreError::Conflict(_))
        ),
        "hubspot side already linked"
    );
    let taken_turris = Link {
        turris: a1.clone(),
        hubspot_id: hubspot("101"),
    };
    assert!(
        matches!(
            store.put_link(&org, &taken_turris).await,
            Err(StoreError::Conflict(_))
        ),
        "turris side already linked"
    );

    let agent = Link {
        turris: TurrisRef::Agent(AgentId::parse("p1").unwrap()),
        hubspot_id: hubspot("500"),
    };
    let contact = Link {
        turris: TurrisRef::AgencyContact(AgencyContactId::parse("c1").unwrap()),
        hubspot_id: hubspot("500"),
    };
    store.put_link(&org, &agent).await.unwrap();
    assert!(
        matches!(
            store.put_link(&org, &contact).await,
            Err(StoreError::Conflict(_))
        ),
        "one hubspot contact is an agent or an agency contact, never both"
    );
    assert_eq!(
        store
            .link_by_hubspot(&org, LinkKind::AgencyContact, &hubspot("500"))
            .await
            .unwrap(),
        None
    );

    assert!(store.delete_link(&org, &a1).await.unwrap());
    assert!(
        !store.delete_link(&org, &a1).await.unwrap(),
        "deleting twice reports nothing deleted"
    );
    assert_eq!(
        store
            .link_by_hubspot(&org, LinkKind::Agency, &hubspot("100"))
            .await
            .unwrap(),
        None
    );
    store
        .put_link(&org, &taken_hubspot)
        .await
        .expect("a freed hubspot object can be linked again");
}

/// Links are per organization, and deleting them all touches one organization only.
pub async fn links_are_isolated_and_deleted_per_organization<S: Store + ?Sized>(store: &S) {
    let (a, b) = (fresh_org("links-iso"), fresh_org("links-iso"));
    let a1 = TurrisRef::Agency(AgencyId::parse("a1").unwrap());
    let link = Link {
        turris: a1.clone(),
        hubspot_id: hubspot("7"),
    };
    store.put_link(&a, &link).await.unwrap();
    store
        .put_link(&b, &link)
        .await
        .expect("the same ids may be linked in another organization");
    store
        .put_link(
            &a,
            &Link {
                turris: TurrisRef::Agent(AgentId::parse("p").unwrap()),
                hubspot_id: hubspot("8"),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.delete_all_links(&a).await.unwrap(),
        2,
        "delete_all_links counts"
    );
    assert_eq!(store.link_by_turris(&a, &a1).await.unwrap(), None);
    assert_eq!(
        store.link_by_turris(&b, &a1).await.unwrap(),
        Some(link),
        "other organization keeps its links"
    );
}

fn activity_at(at: DateTime<Utc>, message: &str) -> NewActivity {
    NewActivity::new(
        ActivityKind::WebhookCompanyPropertyChanged,
        Outcome::Success,
        at,
    )
    .with_details(ActivityDetails {
        message: Some(message.to_owned()),
        ..Default::default()
    })
}

/// Pages run newest first by `(at, id)`; cursors resume exactly after the previous page even
/// when several entries share a timestamp or newer entries arrive meanwhile.
pub async fn activity_pages_are_newest_first_and_stable_on_timestamp_ties<S: Store + ?Sized>(
    store: &S,
) {
    let org = fresh_org("activity");
    let t = base_time();
    let times = [
        t,
        t + Duration::seconds(5),
        t,
        t - Duration::seconds(5),
        t,
        t + Duration::seconds(5),
        t,
    ];
    let mut stored = Vec::new();
    for (i, at) in times.iter().enumerate() {
        let entry = store
            .append_activity(&org, &activity_at(*at, &format!("e{i}")))
            .await
            .unwrap();
        assert_eq!(
            entry.entry,
            activity_at(*at, &format!("e{i}")),
            "append returns what was stored"
        );
        stored.push(entry);
    }
    let mut ids: Vec<_> = stored.iter().map(|a| a.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored.len(), "activity ids are unique");

    let mut expected = stored.clone();
    expected.sort_by_key(|a| std::cmp::Reverse(a.position()));

    let first = store.activity_page(&org, None, None, 3).await.unwrap();
    assert_eq!(first.entries.len(), 3);
    let cursor = first.next.clone().expect("more pages");
    store
        .append_activity(&org, &activity_at(t + Duration::hours(1), "newer"))
        .await
        .unwrap();
    store
        .append_activity(&org, &activity_at(t, "tie-after-first-page"))
        .await
        .unwrap();

    let mut seen = first.entries.clone();
    let mut next = Some(cursor);
    while let Some(cursor) = next.take() {
        let cursor = crate::activity::ActivityCursor::parse(cursor.as_str())
            .expect("cursor survives its text form");
        let page = store
            .activity_page(&org, Some(&cursor), None, 3)
            .await
            .unwrap();
        assert!(
            !page.entries.is_empty(),
            "a page with a next cursor is followed by entries"
        );
        seen.extend(page.entries);
        next = page.next;
        assert!(seen.len() <= 20, "pagination terminates");
    }
    let late_tie = seen
        .iter()
        .position(|a| a.entry.details.message.as_deref() == Some("tie-after-first-page"));
    let seen_original: Vec<_> = seen
        .iter()
        .filter(|a| a.entry.details.message.as_deref() != Some("tie-after-first-page"))
        .cloned()
        .collect();
    assert_eq!(
        seen_original, expected,
        "every entry exactly once, newest first, ties by id"
    );
    if let Some(index) = late_tie {
        assert!(
            seen[index].position() < first.entries.last().unwrap().position(),
            "a late entry only appears where it sorts"
        );
    }
    let all = store.activity_page(&org, None, None, 100).await.unwrap();
    assert_eq!(all.entries.len(), 9);
    assert_eq!(all.next, None, "the last page has no cursor");
    assert_eq!(
        all.entries[0].entry.details.message.as_deref(),
        Some("newer")
    );
    let empty = store
        .activity_page(&fresh_org("activity-empty"), None, None, 10)
        .await
        .unwrap();
    assert!(
        empty.entries.is_empty() && empty.next.is_none(),
        "no activity: empty page, no cursor"
    );
}

/// An outcome filter keeps the order and the cursors: every failure exactly once, nothing else.
pub async fn activity_pages_filter_by_outcome<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("activity-outcome");
    let outcomes = [Outcome::Success, Outcome::Failure, Outcome::Skipped];
    for i in 0..9 {
        let entry = NewActivity::new(
            ActivityKind::WebhookCompanyPropertyChanged,
            outcomes[i % 3],
            base_time() + Duration::seconds(i as i64),
        )
        .with_details(ActivityDetails {
            message: Some(format!("e{i}")),
            ..Default::default()
        });
        store.append_activity(&org, &entry).await.unwrap();
    }
    let mut messages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .activity_page(&org, cursor.as_ref(), Some(Outcome::Failure), 2)
            .await
            .unwrap();
        assert!(
            page.entries
                .iter()
                .all(|a| a.entry.outcome == Outcome::Failure)
        );
        messages.extend(
            page.entries
                .iter()
                .filter_map(|a| a.entry.details.message.clone()),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(messages, ["e7", "e4", "e1"], "the failures, newest first");
    let all = store.activity_page(&org, None, None, 100).await.unwrap();
    assert_eq!(all.entries.len(), 9, "no filter, every entry");
}

/// A page holds at least one and at most `MAX_PAGE_SIZE` entries.
pub async fn activity_pages_clamp_their_size<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("activity-clamp");
    for i in 0..3 {
        store
            .append_activity(&org, &activity_at(base_time() + Duration::seconds(i), "x"))
            .await
            .unwrap();
    }
    let page = store.activity_page(&org, None, None, 0).await.unwrap();
    assert_eq!(page.entries.len(), 1, "limit 0 is clamped to 1");
    assert!(page.next.is_some());
    let page = store
        .activity_page(&org, None, None, usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        page.entries.len(),
        3,
        "a huge limit is clamped, not an error"
    );
}

/// Pruning removes entries strictly before the cutoff, in one organization only.
pub async fn activity_prune_removes_only_older_entries_of_one_organization<S: Store + ?Sized>(
    store: &S,
) {
    let (org, other) = (fresh_org("prune"), fresh_org("prune"));
    let now = base_time();
    let cutoff = crate::activity::retention_cutoff(now);
    for days in [40, 31] {
        store
            .append_activity(&org, &activity_at(now - Duration::days(days), "old"))
            .await
            .unwrap();
    }
    store
        .append_activity(&org, &activity_at(cutoff, "at cutoff"))
        .await
        .unwrap();
    store
        .append_activity(&org, &activity_at(now - Duration::days(1), "recent"))
        .await
        .unwrap();
    store
        .append_activity(&other, &activity_at(now - Duration::days(40), "other old"))
        .await
        .unwrap();

    assert_eq!(
        store.prune_activity(&org, cutoff).await.unwrap(),
        2,
        "two entries were older than the cutoff"
    );
    let left = store.activity_page(&org, None, None, 10).await.unwrap();
    let messages: Vec<_> = left
        .entries
        .iter()
        .map(|a| a.entry.details.message.clone().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["recent", "at cutoff"],
        "an entry exactly at the cutoff is kept"
    );
    assert_eq!(
        store
            .activity_page(&other, None, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1,
        "other organization untouched"
    );
    assert_eq!(
        store.prune_activity(&org, cutoff).await.unwrap(),
        0,
        "pruning again removes nothing"
    );
}

/// Agencies: create, read, replace, refuse duplicates, and find by NPN or producer code.
pub async fn agencies_insert_get_update_and_find_by_key<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("agencies");
    let npn = Npn::parse("1234567").unwrap();
    let mut a2 = agency("a2", "Second");
    a2.data.npn = Some(npn.clone());
    a2.data.producer_code = Some("P-1".into());
    let mut a1 = agency("a1", "First");
    a1.data.producer_code = Some("P-1".into());
    store.insert_agency(&org, &a2).await.unwrap();
    store.insert_agency(&org, &a1).await.unwrap();
    assert!(
        matches!(
            store.insert_agency(&org, &a1).await,
            Err(StoreError::Conflict(_))
        ),
        "duplicate id is a conflict"
    );
    assert_eq!(
        store.get_agency(&org, &a2.id).await.unwrap(),
        Some(a2.clone())
    );
    assert_eq!(
        store
            .get_agency(&org, &AgencyId::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        store
            .find_agency(&org, &AgencyKey::Npn(npn.clone()))
            .await
            .unwrap(),
        Some(a2.clone())
    );
    assert_eq!(
        store
            .find_agency(&org, &AgencyKey::ProducerCode("P-1".into()))
            .await
            .unwrap()
            .map(|a| a.id),
        Some(a1.id.clone()),
        "several matches: the smallest id"
    );
    assert_eq!(
        store
            .find_agency(&org, &AgencyKey::ProducerCode("p-1".into()))
            .await
            .unwrap(),
        None,
        "producer codes compare exactly"
    );

    a1.data.name = "First, renamed".into();
    a1.data.npn = Some(Npn::parse("999").unwrap());
    store.update_agency(&org, &a1).await.unwrap();
    assert_eq!(
        store.get_agency(&org, &a1.id).await.unwrap(),
        Some(a1.clone()),
        "update replaces the data"
    );
    assert_eq!(
        store
            .find_agency(&org, &AgencyKey::Npn(Npn::parse("999").unwrap()))
            .await
            .unwrap(),
        Some(a1)
    );
    assert!(matches!(
        store.update_agency(&org, &agency("ghost", "x")).await,
        Err(StoreError::NotFound)
    ));
}

/// Agents: find by NPN, or by first + last name + email compared trimmed and case-insensitively.
pub async fn agents_find_by_npn_or_normalized_name_and_email<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("agents");
    let ada = Agent {
        id: AgentId::parse("ada").unwrap(),
        data: AgentDraft {
            email: Some("Ada@Example.com".into()),
            npn: Some(Npn::parse("42").unwrap()),
            ..AgentDraft::named("Ada", "Lovelace")
        },
    };
    store.insert_agent(&org, &ada).await.unwrap();
    assert!(matches!(
        store.insert_agent(&org, &ada).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_agent(&org, &ada.id).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store
            .find_agent(
                &org,
                &AgentKey::Npn {
                    npn: Npn::parse("42").unwrap()
                }
            )
            .await
            .unwrap(),
        Some(ada.clone())
    );
    let key = crate::matching::agent_keys(&AgentDraft {
        email: Some(" ada@example.COM ".into()),
        ..AgentDraft::named("ADA", " lovelace")
    })
    .pop()
    .expect("a name-and-email key");
    assert_eq!(
        store.find_agent(&org, &key).await.unwrap(),
        Some(ada.clone()),
        "names and email are normalized"
    );
    let other = crate::matching::agent_keys(&AgentDraft {
        email: Some("ada@example.com".into()),
        ..AgentDraft::named("Ada", "Byron")
    })
    .pop()
    .unwrap();
    assert_eq!(
        store.find_agent(&org, &other).await.unwrap(),
        None,
        "all three must match"
    );

    let mut changed = ada.clone();
    changed.data.middle_name = Some("King".into());
    store.update_agent(&org, &changed).await.unwrap();
    assert_eq!(store.get_agent(&org, &ada.id).await.unwrap(), Some(changed));
    let ghost = Agent {
        id: AgentId::parse("ghost").unwrap(),
        data: AgentDraft::named("G", "H"),
    };
    assert!(matches!(
        store.update_agent(&org, &ghost).await,
        Err(StoreError::NotFound)
    ));
}

/// Agency contacts need their agency, list by ascending id, and are found by email.
pub async fn agency_contacts_belong_to_an_agency_and_list_in_id_order<S: Store + ?Sized>(
    store: &S,
) {
    let org = fresh_org("contacts");
    let acme = agency("acme", "Acme");
    store.insert_agency(&org, &acme).await.unwrap();
    let contact = |id: &str, agency_id: &AgencyId, email: Option<&str>| AgencyContact {
        id: AgencyContactId::parse(id).unwrap(),
        agency_id: agency_id.clone(),
        first_name: Some("Pat".into()),
        last_name: None,
        email: email.map(str::to_owned),
    };
    let orphan = contact("c0", &AgencyId::parse("missing").unwrap(), None);
    assert!(
        matches!(
            store.insert_agency_contact(&org, &orphan).await,
            Err(StoreError::NotFound)
        ),
        "the agency must exist"
    );
    let c2 = contact("c2", &acme.id, Some("Pat@Acme.com"));
    let c1 = contact("c1", &acme.id, None);
    store.insert_agency_contact(&org, &c2).await.unwrap();
    store.insert_agency_contact(&org, &c1).await.unwrap();
    assert!(matches!(
        store.insert_agency_contact(&org, &c1).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.list_agency_contacts(&org, &acme.id).await.unwrap(),
        [c1.clone(), c2.clone()],
        "ascending id"
    );
    assert_eq!(
        store
            .find_agency_contact_by_email(&org, &acme.id, " pat@acme.com")
            .await
            .unwrap(),
        Some(c2.clone())
    );
    assert_eq!(
        store
            .find_agency_contact_by_email(&org, &acme.id, "nobody@acme.com")
            .await
            .unwrap(),
        None
    );

    let mut c1_with_email = c1.clone();
    c1_with_email.email = Some("first@acme.com".into());
    store
        .update_agency_contact(&org, &c1_with_email)
        .await
        .unwrap();
    assert_eq!(
        store.get_agency_contact(&org, &c1.id).await.unwrap(),
        Some(c1_with_email)
    );
    assert!(matches!(
        store
            .update_agency_contact(&org, &contact("ghost", &acme.id, None))
            .await,
        Err(StoreError::NotFound)
    ));
}

/// Another organization's records are not found, not matched and not updatable.
pub async fn records_are_isolated_per_organization<S: Store + ?Sized>(store: &S) {
    let (a, b) = (fresh_org("records-iso"), fresh_org("records-iso"));
    let mut acme = agency("acme", "Acme");
    acme.data.npn = Some(Npn::parse("555").unwrap());
    store.insert_agency(&a, &acme).await.unwrap();
    assert_eq!(store.get_agency(&b, &acme.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_agency(&b, &AgencyKey::Npn(Npn::parse("555").unwrap()))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.update_agency(&b, &acme).await,
        Err(StoreError::NotFound)
    ));
    store
        .insert_agency(&b, &agency("acme", "Another Acme"))
        .await
        .expect("ids are scoped to the organization");
    assert_eq!(
        store.get_agency(&a, &acme.id).await.unwrap(),
        Some(acme.clone()),
        "first organization's record unchanged"
    );
    assert!(
        store
            .list_agency_contacts(&b, &acme.id)
            .await
            .unwrap()
            .is_empty()
    );
}
