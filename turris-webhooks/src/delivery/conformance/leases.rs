//! The lease checks of the conformance suite: exclusive leases, expiry, renewal and fencing.

use super::super::store::{DeliveryStore, NewEvent, NextStep, StoreError};
use super::super::{EventId, WebhookId};
use super::{LEASE, enqueue_one, lease_first, new_event, nothing_due, record, t, try_record};

/// Leases keep an event from other workers until they expire.
pub async fn a_leased_event_is_not_handed_out_again_until_its_lease_expires(
    store: &dyn DeliveryStore,
) {
    enqueue_one(store).await;
    let first = store.lease_due(t(0), 10, LEASE).await.expect("lease");
    assert_eq!(first.len(), 1);
    assert!(nothing_due(store, 59).await, "lease still live");
    let again = store.lease_due(t(60), 10, LEASE).await.expect("lease");
    assert_eq!(again.len(), 1, "expired lease is handed out again");
    assert_ne!(again[0].lease.id, first[0].lease.id);
}

/// Two workers leasing at the same moment get disjoint sets of events.
pub async fn concurrent_leases_never_hand_out_the_same_event_twice(store: &dyn DeliveryStore) {
    let webhook = WebhookId::new();
    let events: Vec<NewEvent> = (0..40).map(|i| new_event(webhook, t(i))).collect();
    store.enqueue(events).await.expect("enqueue");
    let (a, b) = futures::join!(
        store.lease_due(t(100), 25, LEASE),
        store.lease_due(t(100), 25, LEASE)
    );
    let mut ids: Vec<EventId> = a
        .expect("lease")
        .into_iter()
        .chain(b.expect("lease"))
        .map(|l| l.event.event_id)
        .collect();
    assert_eq!(ids.len(), 40, "25 + 15: every due event leased once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no event leased by both workers");
}

/// A worker whose lease expired and was replaced cannot record its attempt.
pub async fn a_lease_replaced_after_expiry_cannot_record(store: &dyn DeliveryStore) {
    let event = enqueue_one(store).await;
    let stale = lease_first(store, 0).await;
    let fresh = lease_first(store, 61).await;
    assert_eq!(
        try_record(store, event, &stale, 0, true, NextStep::Delivered)
            .await
            .map(|a| a.number),
        Err(StoreError::LeaseLost)
    );
    let attempt = record(store, event, &fresh, 61, true, NextStep::Delivered).await;
    assert_eq!(attempt.number, 1, "the stale attempt was not recorded");
}

/// A renewed lease keeps the event from other workers past its first expiry; once it is
/// replaced, the old holder can neither renew nor record (fencing by lease id).
pub async fn a_renewed_lease_outlives_its_first_expiry_and_only_its_holder_renews(
    store: &dyn DeliveryStore,
) {
    let event = enqueue_one(store).await;
    let first = lease_first(store, 0).await;
    let renewed = store
        .renew_lease(event, &first, t(100))
        .await
        .expect("renew");
    assert_eq!((renewed.id, renewed.expires_at), (first.id, t(100)));
    assert!(
        nothing_due(store, 99).await,
        "a renewed lease is still live after its first expiry"
    );
    // It lapses unrenewed and another worker takes the event: a new token.
    let second = lease_first(store, 100).await;
    assert_ne!(second.id, first.id);
    assert_eq!(
        store.renew_lease(event, &first, t(500)).await,
        Err(StoreError::LeaseLost),
        "the old holder cannot renew"
    );
    assert_eq!(
        try_record(store, event, &first, 101, true, NextStep::Delivered)
            .await
            .map(|a| a.number),
        Err(StoreError::LeaseLost),
        "nor record over the new holder"
    );
    store
        .renew_lease(event, &second, t(200))
        .await
        .expect("the new holder renews");
    let attempt = record(store, event, &second, 150, false, NextStep::RetryAt(t(300))).await;
    assert_eq!(attempt.number, 1);
    assert_eq!(
        store.renew_lease(event, &second, t(400)).await,
        Err(StoreError::LeaseLost),
        "a recorded attempt ends its lease"
    );
    assert_eq!(
        store.renew_lease(EventId::new(), &second, t(400)).await,
        Err(StoreError::NotFound)
    );
}
