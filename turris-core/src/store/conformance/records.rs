//! Agencies, agents and agency contacts: insert, read, update and find by key.

use super::{agency, fresh_org};
use crate::ids::{AgencyContactId, AgencyId, AgentId};
use crate::matching::{AgencyKey, AgentKey};
use crate::record::{AgencyContact, Agent, AgentDraft, Npn};
use crate::store::{Store, StoreError};

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
