//! Leases due deliveries and runs them concurrently, up to a bound.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;

use super::engine::{DeliveryEngine, DeliveryRequest};
use super::retry::RetryPolicy;
use super::store::{DeliveryStore, LeasedDelivery, NextStep, StoreError};
use super::{Attempt, AttemptReport, EventId, WebhookId};
use crate::clock::Clock;
use crate::secret::WebhookSecret;
use crate::url::WebhookUrl;

/// Where a webhook's events go and how they are signed.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The validated URL.
    pub url: WebhookUrl,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// The secret it replaces, while a rotation's overlap lasts: requests carry both
    /// signatures.
    pub previous_secret: Option<WebhookSecret>,
}

/// Looks up a webhook's endpoint (the server reads its webhook table; `None` once deleted).
#[async_trait]
pub trait EndpointDirectory: Send + Sync {
    /// The endpoint of `webhook_id`, or `None` when the webhook no longer exists.
    async fn endpoint(&self, webhook_id: WebhookId) -> Result<Option<Endpoint>, StoreError>;
}

/// An [`EndpointDirectory`] kept in memory.
#[derive(Debug, Default)]
pub struct StaticEndpoints(RwLock<HashMap<WebhookId, Endpoint>>);

impl StaticEndpoints {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a webhook's endpoint.
    pub fn insert(&self, webhook_id: WebhookId, endpoint: Endpoint) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(webhook_id, endpoint);
    }

    /// Removes a webhook: its pending events fail on their next attempt.
    pub fn remove(&self, webhook_id: WebhookId) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&webhook_id);
    }
}

#[async_trait]
impl EndpointDirectory for StaticEndpoints {
    async fn endpoint(&self, webhook_id: WebhookId) -> Result<Option<Endpoint>, StoreError> {
        Ok(self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&webhook_id)
            .cloned())
    }
}

/// How the dispatcher works.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DispatcherConfig {
    /// Deliveries in flight at once. Default 16.
    pub concurrency: usize,
    /// Deliveries leased per round. Default 64.
    pub batch: usize,
    /// How long a lease lasts unless renewed. Default 10 s ([`super::DEFAULT_LEASE`]): the
    /// dispatcher renews it every third of this while an attempt runs (the engine's timeout
    /// still bounds the attempt), so a crashed process's delivery is retried within about
    /// this long instead of after the attempt's whole timeout.
    pub lease_for: Duration,
    /// The automatic retry schedule.
    pub retry: RetryPolicy,
    /// Pause between rounds that found nothing to do, in [`Dispatcher::run_until`].
    pub poll_interval: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            batch: 64,
            lease_for: super::DEFAULT_LEASE,
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Runs due deliveries: lease, send, record, schedule.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn DeliveryStore>,
    endpoints: Arc<dyn EndpointDirectory>,
    engine: DeliveryEngine,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher. Give the engine the same clock (see [`DeliveryEngine::with_clock`]).
    pub fn new(
        store: Arc<dyn DeliveryStore>,
        endpoints: Arc<dyn EndpointDirectory>,
        engine: DeliveryEngine,
        clock: Arc<dyn Clock>,
        config: DispatcherConfig,
    ) -> Self {
        Self {
            store,
            endpoints,
            engine,
            clock,
            config,
        }
    }

    /// One round: leases what is due now and delivers it, at most `concurrency` at a time.
    /// Returns the attempts recorded.
    pub async fn run_once(&self) -> Result<Vec<Attempt>, StoreError> {
        let now = self.clock.now();
        let leased = self
            .store
            .lease_due(now, self.config.batch, self.config.lease_for)
            .await?;
        let results: Vec<Result<Attempt, StoreError>> = futures::stream::iter(leased)
            .map(|leased| self.deliver_scheduled(leased))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut attempts = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(attempt) => attempts.push(attempt),
                // Another worker took over after our lease expired: its attempt counts.
                Err(StoreError::LeaseLost) => {}
                Err(e) => return Err(e),
            }
        }
        attempts.sort_by_key(|a| a.started_at);
        Ok(attempts)
    }

    /// Runs rounds until `shutdown` completes, pausing `poll_interval` after an idle round.
    pub async fn run_until(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let idle = match self.run_once().await {
                Ok(attempts) => attempts.is_empty(),
                Err(e) => {
                    tracing::warn!(error = %e, "delivery round failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }

    /// Resends an event now: one more attempt with the next number. Refused with
    /// [`StoreError::AlreadyDelivered`] (answer 409) when it already succeeded. A failed
    /// resend leaves the automatic schedule as it was and schedules nothing.
    pub async fn resend(&self, event_id: EventId) -> Result<Attempt, StoreError> {
        self.start_resend(event_id).await?.run().await
    }

    /// The first half of [`Dispatcher::resend`]: takes the resend lease, so every refusal
    /// (delivered, unknown, attempt in progress) is known before answering the request, and
    /// returns a [`PendingResend`] to run, e.g. in a spawned task ("resend is in progress").
    /// If it is never run, the lease expires and nothing else changes.
    pub async fn start_resend(&self, event_id: EventId) -> Result<PendingResend, StoreError> {
        let leased = self
            .store
            .lease_for_resend(event_id, self.clock.now(), self.config.lease_for)
            .await?;
        Ok(PendingResend {
            dispatcher: self.clone(),
            leased,
        })
    }

    async fn deliver_scheduled(&self, mut leased: LeasedDelivery) -> Result<Attempt, StoreError> {
        let (report, endpoint) = self.send(&mut leased).await?;
        let next = if report.success {
            NextStep::Delivered
        } else if endpoint == EndpointState::Deleted {
            NextStep::Exhausted
        } else {
            let made = leased.event.automatic_attempts + 1;
            match self.config.retry.next_delay(made, report.retry_after) {
                Some(delay) => NextStep::RetryAt(after(report.finished_at, delay)),
                None => NextStep::Exhausted,
            }
        };
        self.record(&leased, &report, next).await
    }

    async fn record(
        &self,
        leased: &LeasedDelivery,
        report: &AttemptReport,
        next: NextStep,
    ) -> Result<Attempt, StoreError> {
        let attempt = self
            .store
            .record_attempt(leased.event.event_id, &leased.lease, report, next)
            .await?;
        tracing::info!(
            event_id = %leased.event.event_id,
            webhook_id = %leased.event.webhook_id,
            attempt = attempt.number,
            status = ?attempt.status_code,
            success = attempt.success,
            error = attempt.error.as_deref().unwrap_or(""),
            next = ?next,
            "webhook delivery attempt"
        );
        Ok(attempt)
    }

    /// Sends the event under its lease, renewed while the attempt runs; the lease as renewed
    /// goes back into `leased` for the record. [`StoreError::LeaseLost`] when another worker
    /// took the event over meanwhile.
    async fn send(
        &self,
        leased: &mut LeasedDelivery,
    ) -> Result<(AttemptReport, EndpointState), StoreError> {
        let (event_id, lease_for) = (leased.event.event_id, self.config.lease_for);
        let clock = self.clock.clone();
        let LeasedDelivery { event, lease } = leased;
        let attempt = self.attempt(event);
        super::renewing(
            &*self.store,
            event_id,
            lease,
            lease_for,
            || clock.now(),
            attempt,
        )
        .await
        .unwrap_or(Err(StoreError::LeaseLost))
    }

    async fn attempt(
        &self,
        event: &super::EventRecord,
    ) -> Result<(AttemptReport, EndpointState), StoreError> {
        match self.endpoints.endpoint(event.webhook_id).await? {
            Some(endpoint) => {
                let report = self
                    .engine
                    .send(DeliveryRequest {
                        event_id: event.event_id,
                        url: &endpoint.url,
                        secret: &endpoint.secret,
                        previous_secret: endpoint.previous_secret.as_ref(),
                        body: &event.body,
                    })
                    .await;
                Ok((report, EndpointState::Present))
            }
            None => {
                let now = self.clock.now();
                let report = AttemptReport {
                    started_at: now,
                    finished_at: now,
                    status_code: None,
                    error: Some("webhook deleted".to_owned()),
                    url: String::new(),
                    success: false,
                    response_body: None,
                    retry_after: None,
                };
                Ok((report, EndpointState::Deleted))
            }
        }
    }
}

/// A resend whose lease is taken; [`PendingResend::run`] makes the attempt.
#[derive(Debug)]
#[must_use = "a pending resend does nothing until it is run"]
pub struct PendingResend {
    dispatcher: Dispatcher,
    leased: LeasedDelivery,
}

impl PendingResend {
    /// The event being resent.
    pub fn event_id(&self) -> EventId {
        self.leased.event.event_id
    }

    /// Makes the attempt and records it (delivered on success, nothing else changed on failure).
    pub async fn run(mut self) -> Result<Attempt, StoreError> {
        let (report, _) = self.dispatcher.send(&mut self.leased).await?;
        let next = if report.success {
            NextStep::Delivered
        } else {
            NextStep::Unchanged
        };
        self.dispatcher.record(&self.leased, &report, next).await
    }
}

/// Whether the webhook still existed when the attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndpointState {
    Present,
    Deleted,
}

fn after(at: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    crate::clock::saturating_add(at, delay)
}
