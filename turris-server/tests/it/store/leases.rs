//! Delivery leases under concurrency: two pools (two server processes, in effect) leasing at
//! once never get the same delivery.

use std::collections::HashSet;
use std::time::Duration;

use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{DeliveryStore, EventId, NewEvent, NextStep, WebhookId};

use super::t;
use super::webhooks::{attempt_report, body, new_event};
use crate::support::db::TestDb;

const EVENTS: usize = 300;

async fn two_pools_leasing_at_once_never_get_the_same_delivery(db: &TestDb) {
    let first = db.store();
    let second = db.second_store().await;
    let webhook = WebhookId::new();
    let events: Vec<NewEvent> = (0..EVENTS)
        .map(|i| NewEvent {
            event_id: EventId::new(),
            webhook_id: webhook,
            webhook_type: WebhookType::ProducerAgreementExecuted,
            body: body(&format!("{{\"n\":{i}}}")),
            created_at: t(0),
        })
        .collect();
    first.enqueue(events.clone()).await.unwrap();

    let mut workers = Vec::new();
    for w in 0..6 {
        let store = if w % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                // Leases far longer than the test: only a double hand-out could repeat an id.
                let leased = store
                    .lease_due(t(1), 7, Duration::from_secs(3600))
                    .await
                    .unwrap();
                if leased.is_empty() {
                    break;
                }
                for delivery in leased {
                    let report = attempt_report(200, 1, 1);
                    let attempt = store
                        .record_attempt(
                            delivery.event.event_id,
                            &delivery.lease,
                            &report,
                            NextStep::Delivered,
                        )
                        .await
                        .expect("the lease holder records its attempt");
                    assert_eq!(attempt.number, 1, "delivered once");
                    mine.push(delivery.event.event_id);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for worker in workers {
        let mine = worker.await.unwrap();
        per_worker.push(mine.len());
        all.extend(mine);
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "no delivery was handed to two workers"
    );
    assert_eq!(
        all.len(),
        EVENTS,
        "every delivery was handed out: {per_worker:?}"
    );
    for e in &events {
        assert_eq!(first.list_attempts(e.event_id).await.unwrap().len(), 1);
    }
}

async fn queue_statistics_count_pending_due_leased_and_failed(db: &TestDb) {
    use turris_server::store::{DeliveryQueueStats, DeliveryStatsStore};
    let store = db.store();
    let webhook = WebhookId::new();
    let new = |secs| new_event(webhook, t(secs));
    assert_eq!(
        store.delivery_queue_stats(t(0)).await.unwrap(),
        DeliveryQueueStats::default()
    );
    store
        .enqueue(vec![new(0), new(1), new(2), new(100)])
        .await
        .unwrap();
    let leased = store
        .lease_due(t(10), 2, Duration::from_secs(60))
        .await
        .unwrap();
    let report = attempt_report(500, 10, 11);
    store
        .record_attempt(
            leased[0].event.event_id,
            &leased[0].lease,
            &report,
            NextStep::Exhausted,
        )
        .await
        .unwrap();
    assert_eq!(
        store.delivery_queue_stats(t(20)).await.unwrap(),
        DeliveryQueueStats {
            pending: 3,
            due: 1,
            leased: 1,
            failed: 1
        }
    );
}

both_databases!(db:
    two_pools_leasing_at_once_never_get_the_same_delivery,
    queue_statistics_count_pending_due_leased_and_failed,
);
