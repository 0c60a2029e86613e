//! The lease checks of the conformance suite: exclusive leases, expiry, renewal and fencing.

use super::super::store::{DeliveryStore, NewEvent, NextStep, StoreError};
use super::super::{EventId, WebhookId};
use super::{LEASE, new_event, report, t};

/// Leases keep an event from other workers until they expire.
pub async fn a_leased_event_is_not_handed_out_again_until_its_lease_expires(
    store: &dyn DeliveryStore,
) {
    let event = new_event(WebhookId::new(), t(0));
    store.enqueue(vec![event.clone()]).await.expect("enqueue");
    let first = store.lease_due(t(0), 10, LEASE).await.expect("lease");
    assert_eq!(first.len(), 1);
    assert!(
        store
            .lease_due(t(59), 10, LEASE)
            .await
            .expect("lease")
            .is_empty(),
        "lease still live"
    );
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
    let event = new_event(WebhookId::new(), t(0));
    store.enqueue(vec![event.clone()]).await.expect("enqueue");
    let stale = store
        .lease_due(t(0), 10, LEASE)
        .await
        .expect("lease")
        .remove(0);
    let fresh = store
        .lease_due(t(61), 10, LEASE)
        .await
        .expect("lease")
        .remove(0);
    assert_eq!(
        store
            .record_attempt(
                event.event_id,
                &stale.lease,
                &report(t(0), true),
                NextStep::Delivered
            )
            .await
            .map(|a| a.number),
        Err(StoreError::LeaseLost)
    );
    let attempt = store
        .record_attempt(
            event.event_id,
            &fresh.lease,
            &report(t(61), true),
            NextStep::Delivered,
        )
        .await
        .expect("record");
    assert_eq!(attempt.number, 1, "the stale attempt was not recorded");
}

/// A renewed lease keeps the event from other workers past its first expiry; once it is
/// replaced, the old holder can neither renew nor record (fencing by lease id).
pub async fn a_renewed_lease_outlives_its_first_expiry_and_only_its_holder_renews(
    store: &dyn DeliveryStore,
) {
    let event = new_event(WebhookId::new(), t(0));
    store.enqueue(vec![event.clone()]).await.expect("enqueue");
    let first = store
        .lease_due(t(0), 10, LEASE)
        .await
        .expect("lease")
        .remove(0);
    let renewed = store
        .renew_lease(event.event_id, &first.lease, t(100))
        .await
        .expect("renew");
    assert_eq!((renewed.id, renewed.expires_at), (first.lease.id, t(100)));
    assert!(
        store
            .lease_due(t(99), 10, LEASE)
            .await
            .expect("lease")
            .is_empty(),
        "a renewed lease is still live after its first expiry"
    );
    // It lapses unrenewed and another worker takes the event: a new token.
    let second = store
        .lease_due(t(100), 10, LEASE)
        .await
        .expect("lease")
        .remove(0);
    assert_ne!(second.lease.id, first.lease.id);
    assert_eq!(
        store
            .renew_lease(event.event_id, &first.lease, t(500))
            .await,
        Err(StoreError::LeaseLost),
        "the old holder cannot renew"
    );
    assert_eq!(
        store
            .record_attempt(
                event.event_id,
                &first.lease,
                &report(t(101), true),
                NextStep::Delivered
            )
            .await
            .map(|a| a.number),
        Err(StoreError::LeaseLost),
        "nor record over the new holder"
    );
    store
        .renew_lease(event.event_id, &second.lease, t(200))
        .await
        .expect("the new holder renews");
    let attempt = store
        .record_attempt(
            event.event_id,
            &second.lease,
            &report(t(150), false),
            NextStep::RetryAt(t(300)),
        )
        .await
        .expect("record");
    assert_eq!(attempt.number, 1);
    assert_eq!(
        store
            .renew_lease(event.event_id, &second.lease, t(400))
            .await,
        Err(StoreError::LeaseLost),
        "a recorded attempt ends its lease"
    );
    assert_eq!(
        store
            .renew_lease(EventId::new(), &second.lease, t(400))
            .await,
        Err(StoreError::NotFound)
    );
}
