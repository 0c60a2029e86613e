//! Attempts recorded in one transaction behave like attempts recorded one by one.

use std::time::Duration;

use chrono::Utc;
use turris_server::store::{AttemptToRecord, EndpointHealthStore as _};
use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{
    AttemptReport, DeliveryStore, EventId, EventStatus, Lease, LeaseId, NewEvent, NextStep,
    StoreError, WebhookId,
};

use crate::support::db::TestDb;

fn report(success: bool) -> AttemptReport {
    let now = Utc::now();
    AttemptReport {
        started_at: now,
        finished_at: now,
        status_code: Some(if success { 200 } else { 500 }),
        error: (!success).then(|| "endpoint answered 500".to_owned()),
        url: "https://hooks.example.com/".into(),
        success,
        response_body: None,
        retry_after: None,
    }
}

async fn a_batch_of_attempts_numbers_and_schedules_each_and_reports_a_lost_lease(db: &TestDb) {
    let store = db.store();
    let webhook = WebhookId::new();
    let events: Vec<EventId> = (0..3).map(|_| EventId::new()).collect();
    store
        .enqueue(
            events
                .iter()
                .map(|id| NewEvent {
                    event_id: *id,
                    webhook_id: webhook,
                    webhook_type: WebhookType::ProducerAgreementExecuted,
                    body: b"{}".to_vec().into(),
                    created_at: Utc::now() - chrono::Duration::seconds(1),
                })
                .collect(),
        )
        .await
        .unwrap();
    let leased = store
        .lease_due(Utc::now(), 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leased.len(), 3);
    let lease_of = |id: EventId| {
        leased
            .iter()
            .find(|l| l.event.event_id == id)
            .unwrap()
            .lease
    };
    let retry_at = Utc::now() + chrono::Duration::minutes(1);
    let stale = Lease {
        id: LeaseId::new(),
        ..lease_of(events[2])
    };
    let results = store
        .record_attempts(&[
            AttemptToRecord {
                event_id: events[0],
                webhook_id: webhook,
                disable_after: None,
                lease: lease_of(events[0]),
                report: report(true),
                next: NextStep::Delivered,
            },
            AttemptToRecord {
                event_id: events[1],
                webhook_id: webhook,
                disable_after: None,
                lease: lease_of(events[1]),
                report: report(false),
                next: NextStep::RetryAt(retry_at),
            },
            AttemptToRecord {
                event_id: events[2],
                webhook_id: webhook,
                disable_after: None,
                lease: stale,
                report: report(true),
                next: NextStep::Delivered,
            },
        ])
        .await
        .unwrap()
        .results;
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().number, 1);
    assert!(results[0].as_ref().unwrap().success);
    assert_eq!(results[1].as_ref().unwrap().number, 1);
    assert_eq!(results[2], Err(StoreError::LeaseLost));

    let delivered = store.event(events[0]).await.unwrap().unwrap();
    assert_eq!(
        (delivered.status, delivered.attempt_count),
        (EventStatus::Delivered, 1)
    );
    let retried = store.event(events[1]).await.unwrap().unwrap();
    assert_eq!(retried.status, EventStatus::Pending);
    assert_eq!(retried.automatic_attempts, 1);
    assert_eq!(
        retried.next_attempt_at.map(|t| t.timestamp_micros()),
        Some(retry_at.timestamp_micros())
    );
    let untouched = store.event(events[2]).await.unwrap().unwrap();
    assert_eq!(untouched.attempt_count, 0, "a lost lease records nothing");
    assert!(store.list_attempts(events[2]).await.unwrap().is_empty());
    // Its real lease still holds: it is not leased again.
    assert!(
        store
            .lease_due(Utc::now(), 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}

both_databases!(db: a_batch_of_attempts_numbers_and_schedules_each_and_reports_a_lost_lease);
