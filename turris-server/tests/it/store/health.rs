//! Endpoint health: a run of failures disables an endpoint after the configured period, 410
//! Gone disables it at once, a disabled endpoint's events wait, enabling releases them, and
//! each change leaves a notification; a `Retry-After` on 429 or 503 holds back every delivery
//! to its endpoint.

use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_server::store::{
    AttemptToRecord, EndpointHealthStore, NotificationKind, RecordedAttempts, SqlStore,
    WebhookEndpointStore,
};
use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{
    AttemptReport, DeliveryStore, DisableReason, EventId, LeasedDelivery, NextStep, WebhookId,
};

use super::webhooks::{attempt_report, endpoint, new_event};
use super::{org, t};
use crate::support::db::TestDb;

const LEASE: Duration = Duration::from_secs(30);

fn report(status: u16, at: i64) -> AttemptReport {
    attempt_report(status, at, at)
}

async fn enqueue(store: &dyn DeliveryStore, webhook: WebhookId, at: i64) -> EventId {
    let event = new_event(webhook, t(at));
    let event_id = event.event_id;
    store.enqueue(vec![event]).await.unwrap();
    event_id
}

/// Records one attempt of a leased delivery, answered with `report`.
async fn record(
    store: &impl EndpointHealthStore,
    leased: LeasedDelivery,
    webhook: WebhookId,
    report: AttemptReport,
    next: NextStep,
    disable_after: Option<Duration>,
) -> RecordedAttempts {
    store
        .record_attempts(&[AttemptToRecord {
            event_id: leased.event.event_id,
            webhook_id: webhook,
            lease: leased.lease,
            report,
            next,
            disable_after,
        }])
        .await
        .unwrap()
}

/// Leases the event due at `at`, makes an attempt answered `status`, and schedules a retry a
/// second later; answers whether the attempt disabled the endpoint.
async fn attempt(
    store: &(impl DeliveryStore + EndpointHealthStore),
    webhook: WebhookId,
    status: u16,
    at: i64,
) -> Option<DisableReason> {
    let leased: Vec<LeasedDelivery> = store.lease_due(t(at), 1, LEASE).await.unwrap();
    let leased = leased.into_iter().next().expect("an event is due");
    let next = if status < 300 {
        NextStep::Delivered
    } else {
        NextStep::RetryAt(t(at + 1))
    };
    let disable_after = Some(Duration::from_secs(1000));
    let recorded = record(
        store,
        leased,
        webhook,
        report(status, at),
        next,
        disable_after,
    )
    .await;
    assert!(recorded.results[0].is_ok());
    recorded.disabled.first().map(|d| {
        assert_eq!(d.webhook_id, webhook);
        d.reason
    })
}

/// The events due at `at` (up to ten), leased.
async fn lease_due_ids(store: &impl DeliveryStore, at: i64) -> Vec<EventId> {
    store
        .lease_due(t(at), 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event.event_id)
        .collect()
}

/// When and why the endpoint is disabled; `None` while enabled.
async fn disabled(
    store: &SqlStore,
    org: &OrganizationId,
    webhook: WebhookId,
) -> Option<(DateTime<Utc>, DisableReason)> {
    store.webhook(org, webhook).await.unwrap().unwrap().disabled
}

async fn a_run_of_failures_disables_an_endpoint_after_the_period_and_a_success_ends_the_run(
    db: &TestDb,
) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t(0)).await.unwrap();
    enqueue(&store, hook.id, 0).await;
    assert_eq!(attempt(&store, hook.id, 500, 0).await, None);
    assert_eq!(attempt(&store, hook.id, 503, 500).await, None);
    // A success ends the run: 1000 s after the first failure nothing happens.
    enqueue(&store, hook.id, 600).await;
    assert_eq!(attempt(&store, hook.id, 204, 600).await, None);
    assert_eq!(attempt(&store, hook.id, 500, 700).await, None);
    assert_eq!(attempt(&store, hook.id, 500, 1699).await, None);
    assert_eq!(disabled(&store, &acme, hook.id).await, None);
    // 1000 s after the run started: disabled, once, with a notification.
    assert_eq!(
        attempt(&store, hook.id, 500, 1700).await,
        Some(DisableReason::Failing)
    );
    assert_eq!(
        disabled(&store, &acme, hook.id).await,
        Some((t(1700), DisableReason::Failing))
    );
    let notes = store
        .webhook_notifications(&acme, hook.id, 10)
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::Disabled);
    assert_eq!(notes[0].reason, Some(DisableReason::Failing));
    assert!(
        notes[0].message.contains("16 minutes"),
        "{}",
        notes[0].message
    );
    // Its events wait: nothing is leased while it is disabled.
    assert!(lease_due_ids(&store, 9_999).await.is_empty());
}

async fn a_410_disables_at_once_and_enabling_releases_the_waiting_events(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t(0)).await.unwrap();
    let first = enqueue(&store, hook.id, 0).await;
    assert_eq!(
        attempt(&store, hook.id, 410, 0).await,
        Some(DisableReason::Gone)
    );
    let second = enqueue(&store, hook.id, 5).await;
    assert!(lease_due_ids(&store, 100).await.is_empty(), "both wait");

    assert_eq!(
        store.enable_webhook(&other, hook.id, t(200)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .enable_webhook(&acme, WebhookId::new(), t(200))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.enable_webhook(&acme, hook.id, t(200)).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        store.enable_webhook(&acme, hook.id, t(201)).await.unwrap(),
        Some(false)
    );
    assert_eq!(disabled(&store, &acme, hook.id).await, None);
    let mut released = lease_due_ids(&store, 300).await;
    released.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(released, expected, "every waiting event goes out again");

    let notes = store
        .webhook_notifications(&acme, hook.id, 10)
        .await
        .unwrap();
    let kinds: Vec<_> = notes.iter().map(|n| (n.kind, n.reason)).collect();
    assert_eq!(
        kinds,
        [
            (NotificationKind::Enabled, None),
            (NotificationKind::Disabled, Some(DisableReason::Gone))
        ],
        "newest first"
    );
    assert!(
        store
            .webhook_notifications(&other, hook.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_retry_after_on_429_or_503_holds_back_every_delivery_to_that_endpoint_only(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let (busy, calm) = (
        endpoint(WebhookType::ProducerAgreementExecuted),
        endpoint(WebhookType::ProducerAgreementExecuted),
    );
    store.create_webhook(&acme, &busy, t(0)).await.unwrap();
    store.create_webhook(&acme, &calm, t(0)).await.unwrap();
    enqueue(&store, busy.id, 0).await;
    let waiting = enqueue(&store, busy.id, 1).await;
    let leased = store.lease_due(t(0), 1, LEASE).await.unwrap().remove(0);
    let mut answered = report(429, 0);
    answered.retry_after = Some(Duration::from_secs(120));
    let recorded = record(
        &store,
        leased,
        busy.id,
        answered,
        NextStep::RetryAt(t(120)),
        None,
    )
    .await;
    assert!(recorded.results[0].is_ok() && recorded.disabled.is_empty());
    // The other endpoint's events go out; the busy one's wait, the answered one and the other.
    let other = enqueue(&store, calm.id, 2).await;
    let due = lease_due_ids(&store, 119).await;
    assert_eq!(due, [other]);
    let due = lease_due_ids(&store, 120).await;
    assert_eq!(due.len(), 2, "both wait exactly as long as asked");
    assert!(due.contains(&waiting));
    // A 500's Retry-After is not a request to pause.
    let mut failed = report(500, 200);
    failed.retry_after = Some(Duration::from_secs(3600));
    let leased = store.lease_due(t(151), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(leased.event.event_id, waiting);
    record(
        &store,
        leased,
        busy.id,
        failed,
        NextStep::RetryAt(t(201)),
        None,
    )
    .await;
    assert_eq!(
        store.lease_due(t(300), 10, LEASE).await.unwrap().len(),
        3,
        "no endpoint is paused: all three are due"
    );
}

/// A batch whose attempts were made under leases some of which were lost since (the event was
/// leased again after its lease lapsed): the lost one is reported `LeaseLost` and leaves no
/// attempt and no change, every other attempt of the batch is recorded.
async fn a_batch_with_one_lost_lease_records_the_others(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t(0)).await.unwrap();
    let events = [
        enqueue(&store, hook.id, 1).await,
        enqueue(&store, hook.id, 2).await,
        enqueue(&store, hook.id, 3).await,
    ];
    let leased = store.lease_due(t(10), 10, LEASE).await.unwrap();
    assert_eq!(leased.len(), 3);
    // The second event's lease lapses and another worker leases it again.
    let later = t(10 + LEASE.as_secs() as i64 + 1);
    let taken_over = store
        .lease_for_resend(events[1], later, LEASE)
        .await
        .expect("the lapsed lease is taken over");
    let item = |leased: &LeasedDelivery| AttemptToRecord {
        event_id: leased.event.event_id,
        webhook_id: hook.id,
        lease: leased.lease,
        report: report(200, 11),
        next: NextStep::Delivered,
        disable_after: None,
    };
    let recorded = store
        .record_attempts(&leased.iter().map(item).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(recorded.results.len(), 3);
    assert_eq!(recorded.results[0].as_ref().unwrap().number, 1);
    assert_eq!(
        recorded.results[1],
        Err(turris_webhooks::delivery::StoreError::LeaseLost)
    );
    assert_eq!(recorded.results[2].as_ref().unwrap().number, 1);
    for (event, attempts) in events.iter().zip([1, 0, 1]) {
        assert_eq!(
            store.list_attempts(*event).await.unwrap().len(),
            attempts,
            "{event}"
        );
    }
    let delivered = turris_webhooks::delivery::EventStatus::Delivered;
    assert_eq!(
        store.event(events[0]).await.unwrap().unwrap().status,
        delivered
    );
    assert_eq!(
        store.event(events[2]).await.unwrap().unwrap().status,
        delivered
    );
    let lost = store.event(events[1]).await.unwrap().unwrap();
    assert_eq!(lost.attempt_count, 0, "the stale attempt changed nothing");
    // The new holder still records under its own lease.
    let mine = store.record_attempts(&[item(&taken_over)]).await.unwrap();
    assert_eq!(mine.results[0].as_ref().unwrap().number, 1);
}

both_databases!(db:
    a_retry_after_on_429_or_503_holds_back_every_delivery_to_that_endpoint_only,
    a_run_of_failures_disables_an_endpoint_after_the_period_and_a_success_ends_the_run,
    a_410_disables_at_once_and_enabling_releases_the_waiting_events,
    a_batch_with_one_lost_lease_records_the_others,
);
