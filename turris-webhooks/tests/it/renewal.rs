//! The dispatcher's short lease, renewed while a long attempt runs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_webhooks::delivery::{
    DeliveryStore, Dispatcher, DispatcherConfig, Endpoint, InMemoryDeliveryStore, NewEvent,
    StaticEndpoints, StoreError,
};
use turris_webhooks::{Clock, EventId, ManualClock, WebhookId, WebhookSecret, WebhookType};

use crate::delivery::{body, engine, start, url};
use crate::receiver;

/// The in-memory store, counting lease renewals.
struct CountingRenewals {
    inner: InMemoryDeliveryStore,
    renewals: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl DeliveryStore for CountingRenewals {
    async fn enqueue(&self, events: Vec<NewEvent>) -> Result<(), StoreError> {
        self.inner.enqueue(events).await
    }
    async fn lease_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<turris_webhooks::delivery::LeasedDelivery>, StoreError> {
        self.inner.lease_due(now, limit, lease_for).await
    }
    async fn lease_for_resend(
        &self,
        event_id: EventId,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<turris_webhooks::delivery::LeasedDelivery, StoreError> {
        self.inner.lease_for_resend(event_id, now, lease_for).await
    }
    async fn renew_lease(
        &self,
        event_id: EventId,
        lease: &turris_webhooks::delivery::Lease,
        until: DateTime<Utc>,
    ) -> Result<turris_webhooks::delivery::Lease, StoreError> {
        let renewed = self.inner.renew_lease(event_id, lease, until).await;
        self.renewals
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        renewed
    }
    async fn record_attempt(
        &self,
        event_id: EventId,
        lease: &turris_webhooks::delivery::Lease,
        report: &turris_webhooks::delivery::AttemptReport,
        next: turris_webhooks::delivery::NextStep,
    ) -> Result<turris_webhooks::delivery::Attempt, StoreError> {
        self.inner
            .record_attempt(event_id, lease, report, next)
            .await
    }
    async fn event(
        &self,
        event_id: EventId,
    ) -> Result<Option<turris_webhooks::delivery::EventRecord>, StoreError> {
        self.inner.event(event_id).await
    }
    async fn list_events(
        &self,
        webhook_id: WebhookId,
        page: turris_webhooks::delivery::PageRequest,
    ) -> Result<turris_webhooks::delivery::Page<turris_webhooks::delivery::EventRecord>, StoreError>
    {
        self.inner.list_events(webhook_id, page).await
    }
    async fn list_attempts(
        &self,
        event_id: EventId,
    ) -> Result<Vec<turris_webhooks::delivery::Attempt>, StoreError> {
        self.inner.list_attempts(event_id).await
    }
}

#[tokio::test]
async fn the_dispatcher_holds_a_short_lease_renewed_while_a_long_attempt_runs() {
    assert_eq!(
        DispatcherConfig::default().lease_for,
        Duration::from_secs(10),
        "a crashed process's delivery is retried within seconds, not minutes"
    );
    let rx = receiver::spawn().await;
    let clock = ManualClock::new(start());
    let store = Arc::new(CountingRenewals {
        inner: InMemoryDeliveryStore::new(),
        renewals: Default::default(),
    });
    let endpoints = Arc::new(StaticEndpoints::new());
    let mut config = DispatcherConfig::default();
    config.lease_for = Duration::from_millis(150);
    let dispatcher = Dispatcher::new(
        store.clone(),
        endpoints.clone(),
        engine(&clock, Duration::from_secs(2)),
        Arc::new(clock.clone()),
        config,
    );
    let webhook = WebhookId::new();
    endpoints.insert(
        webhook,
        Endpoint {
            url: url(&rx.url("/slow")),
            secret: WebhookSecret::generate().unwrap(),
            previous_secret: None,
        },
    );
    let event_id = EventId::new();
    store
        .enqueue(vec![NewEvent {
            event_id,
            webhook_id: webhook,
            webhook_type: WebhookType::ProducerAgreementExecuted,
            body: body(),
            created_at: clock.now(),
        }])
        .await
        .unwrap();
    let running = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.run_once().await }
    });
    while rx.log.all().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Far past the first lease: only a renewal made since keeps the event from others.
    clock.advance(Duration::from_secs(60));
    let before = store.renewals.load(std::sync::atomic::Ordering::SeqCst);
    while store.renewals.load(std::sync::atomic::Ordering::SeqCst) == before {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stolen = store
        .lease_due(clock.now(), 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(stolen.is_empty(), "the renewed lease keeps the event");
    let attempts = running
        .await
        .unwrap()
        .expect("the attempt is recorded under its lease");
    assert_eq!(attempts.len(), 1);
    assert!(!attempts[0].success, "the endpoint never answered in time");
}
