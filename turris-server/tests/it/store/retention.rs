//! Retention pruning across organizations.

use std::time::Duration;

use turris_core::activity::{ActivityKind, NewActivity, Outcome};
use turris_core::store::ActivityStore;
use turris_server::store::{InboundEventStore, RetentionStore};
use turris_webhooks::delivery::{DeliveryStore, NextStep, WebhookId};

use super::webhooks::{attempt_report, new_event};
use super::{org, t};
use crate::support::db::TestDb;

async fn activity_is_pruned_before_the_cutoff_in_every_organization(db: &TestDb) {
    let store = db.store();
    let (a, b) = (org(&store, "a").await, org(&store, "b").await);
    for (o, secs) in [(&a, -10), (&b, -5), (&a, 0), (&b, 10)] {
        store
            .append_activity(
                o,
                &NewActivity::new(ActivityKind::CreateCompany, Outcome::Success, t(secs)),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.prune_activity_before(t(0)).await.unwrap(), 2);
    assert_eq!(
        store
            .activity_page(&a, None, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1,
        "at the cutoff stays"
    );
    assert_eq!(
        store
            .activity_page(&b, None, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
}

async fn finished_deliveries_are_pruned_with_their_attempts_and_pending_ones_stay(db: &TestDb) {
    let store = db.store();
    let webhook = WebhookId::new();
    let new = |secs| new_event(webhook, t(secs));
    let (delivered, pending, recent) = (new(-100), new(-100), new(10));
    store
        .enqueue(vec![delivered.clone(), pending.clone(), recent.clone()])
        .await
        .unwrap();
    let leases = store
        .lease_due(t(-100), 10, Duration::from_secs(5))
        .await
        .unwrap();
    let lease = leases
        .iter()
        .find(|l| l.event.event_id == delivered.event_id)
        .unwrap();
    let report = attempt_report(200, -100, -99);
    store
        .record_attempt(
            delivered.event_id,
            &lease.lease,
            &report,
            NextStep::Delivered,
        )
        .await
        .unwrap();

    assert_eq!(store.prune_deliveries_before(t(0)).await.unwrap(), 1);
    assert_eq!(store.event(delivered.event_id).await.unwrap(), None);
    assert!(
        store
            .list_attempts(delivered.event_id)
            .await
            .unwrap()
            .is_empty(),
        "attempts go too"
    );
    assert!(
        store.event(pending.event_id).await.unwrap().is_some(),
        "pending events are kept"
    );
    assert!(store.event(recent.event_id).await.unwrap().is_some());
}

async fn processed_inbound_events_are_pruned(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let event = |id: u64| -> turris_hubspot::webhooks::WebhookEvent {
        serde_json::from_value(serde_json::json!({
            "eventId": id, "portalId": 1, "occurredAt": 1, "subscriptionType": "company.creation",
            "objectId": id
        }))
        .unwrap()
    };
    store
        .persist_inbound_events(&acme, &[event(1), event(2)], t(-100))
        .await
        .unwrap();
    let claimed = store
        .claim_inbound_events(t(-100), 1, 1, Duration::from_secs(5))
        .await
        .unwrap();
    store
        .mark_inbound_processed(&claimed[0].claim, &[claimed[0].id], t(-99))
        .await
        .unwrap();
    assert_eq!(
        store.prune_inbound_before(t(0)).await.unwrap(),
        1,
        "only the processed one"
    );
    assert_eq!(
        store
            .claim_inbound_events(t(0), 10, 10, Duration::from_secs(5))
            .await
            .unwrap()
            .len(),
        1
    );
}

both_databases!(db:
    activity_is_pruned_before_the_cutoff_in_every_organization,
    finished_deliveries_are_pruned_with_their_attempts_and_pending_ones_stay,
    processed_inbound_events_are_pruned,
);
