//! Links between Turris records and HubSpot objects: one per side, per organization.

use super::{fresh_org, hubspot};
use crate::ids::{AgencyContactId, AgencyId, AgentId, OrganizationId};
use crate::store::{Link, LinkKind, Store, StoreError, TurrisRef};

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

    a_contact_is_linked_once_across_kinds(store, &org).await;
    deleting_a_link_frees_both_sides(store, &org, &a1, &taken_hubspot).await;
}

/// One HubSpot contact is an agent or an agency contact, never both.
async fn a_contact_is_linked_once_across_kinds<S: Store + ?Sized>(store: &S, org: &OrganizationId) {
    let agent = Link {
        turris: TurrisRef::Agent(AgentId::parse("p1").unwrap()),
        hubspot_id: hubspot("500"),
    };
    let contact = Link {
        turris: TurrisRef::AgencyContact(AgencyContactId::parse("c1").unwrap()),
        hubspot_id: hubspot("500"),
    };
    store.put_link(org, &agent).await.unwrap();
    assert!(
        matches!(
            store.put_link(org, &contact).await,
            Err(StoreError::Conflict(_))
        ),
        "one hubspot contact is an agent or an agency contact, never both"
    );
    assert_eq!(
        store
            .link_by_hubspot(org, LinkKind::AgencyContact, &hubspot("500"))
            .await
            .unwrap(),
        None
    );
}

async fn deleting_a_link_frees_both_sides<S: Store + ?Sized>(
    store: &S,
    org: &OrganizationId,
    a1: &TurrisRef,
    taken_hubspot: &Link,
) {
    assert!(store.delete_link(org, a1).await.unwrap());
    assert!(
        !store.delete_link(org, a1).await.unwrap(),
        "deleting twice reports nothing deleted"
    );
    assert_eq!(
        store
            .link_by_hubspot(org, LinkKind::Agency, &hubspot("100"))
            .await
            .unwrap(),
        None
    );
    store
        .put_link(org, taken_hubspot)
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
