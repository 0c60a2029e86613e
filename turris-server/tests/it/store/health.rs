//! Endpoint health: a run of failures disables an endpoint after the configured period, 410
//! Gone disables it at once, a disabled endpoint's events wait, enabling releases them, and
//! each change leaves a notification.

use std::time::Duration;

use turris_server::store::{
    AttemptToRecord, EndpointHealthStore, NotificationKind, WebhookEndpointStore,
};
use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{
    AttemptReport, DeliveryStore, DisableReason, EventId, LeasedDelivery, NewEvent, NextStep,
    WebhookId,
};

use super::webhooks::{body, endpoint};
use super::{org, t};
use crate::support::db::TestDb;

const LEASE: Duration = Duration::from_secs(30);

fn report(status: u16, at: i64) -> AttemptReport {
    AttemptReport {
        started_at: t(at),
        finished_at: t(at),
        status_code: Some(status),
        error: (status >= 300).then(|| format!("endpoint answered {status}")),
        url: "https://hooks.example.com/turris".into(),
        success: (200..300).contains(&status),
        response_body: None,
        retry_after: None,
    }
}

async fn enqueue(store: &dyn DeliveryStore, webhook: WebhookId, at: i64) -> EventId {
    let event_id = EventId::new();
    store
        .enqueue(vec![NewEvent {
            event_id,
            webhook_id: webhook,
            webhook_type: WebhookType::ProducerAgreementExecuted,
            body: body("{}"),
            created_at: t(at),
        }])
        .await
        .unwrap();
    event_id
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
    let recorded = store
        .record_attempts(&[AttemptToRecord {
            event_id: leased.event.event_id,
            webhook_id: webhook,
            lease: leased.lease,
            report: report(status, at),
            next: if status < 300 {
                NextStep::Delivered
            } else {
                NextStep::RetryAt(t(at + 1))
            },
            disable_after: Some(Duration::from_secs(1000)),
        }])
        .await
        .unwrap();
    assert!(recorded.results[0].is_ok());
    recorded.disabled.first().map(|d| {
        assert_eq!(d.webhook_id, webhook);
        d.reason
    })
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
    assert_eq!(
        store
            .webhook(&acme, hook.id)
            .await
            .unwrap()
            .unwrap()
            .disabled,
        None
    );
    // 1000 s after the run started: disabled, once, with a notification.
    assert_eq!(
        attempt(&store, hook.id, 500, 1700).await,
        Some(DisableReason::Failing)
    );
    let listed = store.webhook(&acme, hook.id).await.unwrap().unwrap();
    assert_eq!(listed.disabled, Some((t(1700), DisableReason::Failing)));
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
    assert!(
        store
            .lease_due(t(9_999), 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
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
    assert!(
        store.lease_due(t(100), 10, LEASE).await.unwrap().is_empty(),
        "both wait"
    );

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
    assert_eq!(
        store
            .webhook(&acme, hook.id)
            .await
            .unwrap()
            .unwrap()
            .disabled,
        None
    );
    let mut released: Vec<EventId> = store
        .lease_due(t(300), 10, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event.event_id)
        .collect();
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

both_databases!(db:
    a_run_of_failures_disables_an_endpoint_after_the_period_and_a_success_ends_the_run,
    a_410_disables_at_once_and_enabling_releases_the_waiting_events,
);
