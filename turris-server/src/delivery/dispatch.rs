//! The delivery worker: lease, send, record, schedule.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use turris_webhooks::delivery::{
    Attempt, AttemptReport, DeliveryConfig, DeliveryEngine, DeliveryRequest, EngineError, EventId,
    EventRecord, Lease, LeasedDelivery, NextStep, StoreError, WebhookId, renewing, requested_pause,
};
use turris_webhooks::{RetryPolicy, UrlPolicy, WebhookSecret, WebhookUrl};

use super::fair::{self, Deferred, Limiter, Limits, Slot};
use super::metrics::Outcome;
use super::{DeliveryMetrics, DeliverySettings};
use crate::app::AppState;
use crate::store::{AttemptToRecord, HandoffTerms, ServerStore};
use crate::workers::Shutdown;

mod rounds;
mod waiting;

use rounds::Rounds;

/// How long a looked-up endpoint is reused before it is read again.
const TARGET_TTL: Duration = Duration::from_secs(2);

/// Where a webhook's events go.
#[derive(Debug)]
enum Target {
    /// Send here.
    Endpoint {
        url: Result<WebhookUrl, String>,
        raw_url: String,
        secret: WebhookSecret,
        previous: Option<(WebhookSecret, DateTime<Utc>)>,
        /// Disabled (410 Gone, or failing too long): nothing is sent.
        disabled: bool,
    },
    /// The webhook was deleted.
    Deleted,
}

/// One process's delivery worker.
pub struct Worker {
    store: Arc<dyn ServerStore>,
    engine: DeliveryEngine,
    url_policy: UrlPolicy,
    retry: RetryPolicy,
    settings: DeliverySettings,
    metrics: Arc<DeliveryMetrics>,
    targets: Mutex<HashMap<WebhookId, (Instant, Arc<Target>)>>,
    /// Each endpoint's limits as last read, by a leasing round (from its due rows) or with
    /// its target: what admits its deliveries.
    limits: Mutex<HashMap<WebhookId, Limits>>,
    recorder: mpsc::Sender<Recording>,
    limiter: Arc<Limiter>,
    deferred: Mutex<Deferred>,
}

/// An attempt waiting to be recorded, and who waits for the outcome.
type Recording = (
    AttemptToRecord,
    oneshot::Sender<Result<Attempt, StoreError>>,
);

/// Records attempts as they come, every attempt waiting at that moment in one transaction:
/// one commit per attempt when it is quiet, far fewer under load. Ends when every sender
/// (the worker) is gone.
async fn record_in_batches(
    store: Arc<dyn ServerStore>,
    settings: DeliverySettings,
    metrics: Arc<DeliveryMetrics>,
    mut queue: mpsc::Receiver<Recording>,
) {
    const MAX_BATCH: usize = 256;
    let mut batch: Vec<Recording> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let items: Vec<AttemptToRecord> = batch.iter().map(|(item, _)| item.clone()).collect();
        match store.record_attempts(&items).await {
            Ok(recorded) => {
                metrics.endpoints_disabled.fetch_add(
                    recorded.disabled.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                super::notify::report_disabled(&settings, recorded.disabled);
                for ((_, reply), result) in batch.drain(..).zip(recorded.results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

impl Worker {
    /// A worker for the app's store and settings.
    pub fn new(state: &AppState) -> Result<Arc<Self>, EngineError> {
        let settings = state.config().delivery.clone();
        let engine = DeliveryEngine::new(DeliveryConfig {
            timeout: settings.timeout,
            url_policy: state.url_policy().clone(),
            ..DeliveryConfig::default()
        })?;
        let deferred_bytes = settings.deferred_bytes();
        let (recorder, queue) = mpsc::channel(4096);
        tokio::spawn(record_in_batches(
            state.store(),
            settings.clone(),
            state.delivery_metrics().clone(),
            queue,
        ));
        Ok(Arc::new(Self {
            recorder,
            store: state.store(),
            engine,
            url_policy: state.url_policy().clone(),
            retry: settings.retry_policy(),
            metrics: state.delivery_metrics().clone(),
            settings,
            targets: Mutex::new(HashMap::new()),
            limits: Mutex::new(HashMap::new()),
            limiter: Arc::default(),
            deferred: Mutex::new(Deferred::new(deferred_bytes)),
        }))
    }

    /// Leases and delivers until `shutdown` fires, then lets the attempts in flight finish.
    ///
    /// Events committed by this process arrive already leased (the store's hand-off); the
    /// others (other replicas' events, retries, expired leases) are leased by polling: at
    /// once after a full batch or a wake-up, else every `poll_interval`. Deliveries whose
    /// endpoint is at its limits wait (deferred) until one of its slots frees.
    pub async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        let batch = self.settings.batch.max(1);
        let permits = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let wake = self.store.enqueue_signal();
        // Hand-offs are leased like everything else: renewed while their attempt runs, and
        // renewed first when they waited in memory for a good part of their lease.
        self.store.set_handoff(Some(HandoffTerms {
            lease_for: self.settings.lease,
            max_bytes: self.settings.handoff_bytes(),
        }));
        let mut in_flight = JoinSet::new();
        let mut rounds = Rounds::new();
        while !shutdown.is_fired() {
            while in_flight.try_join_next().is_some() {}
            self.note_waiting();
            if let Some(finished) = rounds.take_finished().await {
                let full = self.leased(&permits, &mut in_flight, finished).await;
                rounds.after(full);
            }
            rounds.sweep(&self, self.settings.lease / 4);
            if permits.available_permits() == 0 {
                tokio::select! {
                    permit = permits.clone().acquire_owned() => drop(permit),
                    () = shutdown.fired() => break,
                }
                continue;
            }
            self.spawn_deferred(&permits, &mut in_flight, batch);
            let free = permits.available_permits().min(batch);
            let handed = self.take_handoff(free);
            let taken = handed.len();
            self.spawn_all(&permits, &mut in_flight, handed).await;
            if free > 0 && taken == free {
                continue;
            }
            let free = permits.available_permits().min(batch);
            let idle = taken == 0 && self.store.handoff_waiting() == 0;
            let interval = self.settings.poll_interval;
            rounds.start(&self, free, idle, interval);
            let nap = rounds.nap(idle, interval);
            tokio::select! {
                finished = rounds.finished() => {
                    let full = self.leased(&permits, &mut in_flight, finished).await;
                    rounds.after(full);
                }
                // A local commit: its events are in the hand-off unless it was full.
                () = wake.notified() => rounds.woke(),
                // A slot of some endpoint freed: deferred deliveries and hand-offs may go.
                () = self.limiter.freed.notified() => rounds.woke(),
                () = tokio::time::sleep(nap) => rounds.timer(),
                () = shutdown.fired() => break,
            }
        }
        // What a round under way leased is due again at once, for any worker.
        let leased = rounds.stop().await;
        self.give_back(&leased).await;
        self.finish(&permits, in_flight).await;
    }

    /// After shutdown: no more hand-offs; those already handed over are delivered, deferred
    /// ones are given back to the queue, and every attempt in flight finishes.
    async fn finish(self: &Arc<Self>, permits: &Arc<Semaphore>, mut in_flight: JoinSet<()>) {
        self.store.set_handoff(None);
        let deferred = self.lock_deferred().drain();
        self.give_back(&deferred).await;
        loop {
            let handed = self.store.take_handoff(usize::MAX);
            if handed.is_empty() {
                break;
            }
            for delivery in handed {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let worker = self.clone();
                in_flight.spawn(async move {
                    worker.deliver(delivery, None).await;
                    drop(permit);
                });
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    /// One leasing round: up to `want` due deliveries, shared fairly between the endpoints
    /// that have some (see [`fair::shares`]), each within its limits.
    async fn lease_round(
        &self,
        want: usize,
        round: usize,
    ) -> Result<Vec<LeasedDelivery>, crate::store::DbError> {
        let now = Utc::now();
        let due = self.store.due_endpoints(now).await?;
        let defaults = self.settings.endpoint_defaults();
        let shares = fair::shares(&due, want, round, |endpoint| {
            let limits = Limits::of(endpoint.limits, defaults);
            self.note_limits(endpoint.webhook_id, limits);
            let free = limits.lease_window().saturating_sub(endpoint.in_flight) as usize;
            free.min(self.limiter.rate_room(endpoint.webhook_id, limits))
        });
        self.limiter.prune();
        self.store
            .lease_endpoints(now, &shares, self.settings.lease)
            .await
    }

    /// Starts each delivery whose endpoint has room (a slot of its limiter and a permit);
    /// the others wait in `deferred`, and those beyond its bound give their leases back in
    /// one statement.
    async fn spawn_all(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        in_flight: &mut JoinSet<()>,
        deliveries: Vec<LeasedDelivery>,
    ) {
        let mut over = Vec::new();
        for delivery in deliveries {
            let webhook = delivery.event.webhook_id;
            // The limits last read (the attempt reads its endpoint again when they are old):
            // no database round trip holds the loop up.
            let limits = self.cached_limits(webhook);
            let waiting = match self.limiter.admit(webhook, limits) {
                Some(slot) => self.spawn_one(permits, in_flight, delivery, slot),
                None => Some(delivery),
            };
            if let Some(delivery) = waiting {
                over.extend(self.defer(limits, delivery));
            }
        }
        self.give_back(&over).await;
    }

    fn spawn_one(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        in_flight: &mut JoinSet<()>,
        delivery: LeasedDelivery,
        slot: Slot,
    ) -> Option<LeasedDelivery> {
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // No permit after all (hand-offs took them while a leasing round ran): it waits.
            return Some(delivery);
        };
        let worker = self.clone();
        in_flight.spawn(async move {
            worker.deliver(delivery, Some(slot)).await;
            drop(permit);
        });
        None
    }

    /// One attempt under a lease, renewed while it runs, recorded with its next step. The
    /// endpoint's `slot` is freed once the receiver answered: it bounds the requests the
    /// receiver sees at once, and waiting for the attempt's commit (a batch shared with other
    /// attempts) is no load on the receiver. The process-wide permit, which bounds what this
    /// process holds in memory, is held until the attempt is recorded.
    async fn deliver(&self, leased: LeasedDelivery, slot: Option<Slot>) {
        let event = &leased.event;
        let target = match self.target(event.webhook_id).await {
            Ok(target) => target,
            Err(e) => {
                // The lease expires and another round tries again.
                tracing::warn!(event_id = %event.event_id, error = %e, "loading a webhook endpoint failed");
                return;
            }
        };
        if let Target::Endpoint { disabled: true, .. } = &*target {
            // Disabled after it was leased: nothing is sent, and once its lease lapses it is
            // not leased again until the endpoint is enabled.
            tracing::debug!(event_id = %event.event_id, "webhook disabled: attempt skipped");
            return;
        }
        let mut lease = leased.lease;
        // A hand-off that waited in memory may be near its end, or taken over: renew first.
        let half = chrono::Duration::from_std(self.settings.lease / 2).unwrap_or_default();
        if lease.expires_at - Utc::now() < half && !self.renew(event.event_id, &mut lease).await {
            return;
        }
        let attempt = self.attempt(event, &target);
        let answered = self.renewing(event.event_id, &mut lease, attempt).await;
        drop(slot);
        let Some((report, deleted)) = answered else {
            tracing::info!(event_id = %event.event_id, "lease lost during an attempt: another worker took over");
            return;
        };
        let next = if report.success {
            NextStep::Delivered
        } else if deleted {
            NextStep::Exhausted
        } else {
            match self
                .retry
                .next_delay(event.automatic_attempts + 1, report.retry_after)
            {
                // A 429 or 503 with Retry-After: not before the endpoint asked (at most 1 h).
                Some(delay) => NextStep::RetryAt(after(
                    report.finished_at,
                    delay.max(requested_pause(&report).unwrap_or_default()),
                )),
                None => NextStep::Exhausted,
            }
        };
        let item = AttemptToRecord {
            event_id: event.event_id,
            webhook_id: event.webhook_id,
            disable_after: self.settings.disable_after(),
            lease,
            report,
            next,
        };
        self.record(event, item).await;
    }

    /// Sends the event (or fails it at once for a bad URL or a deleted webhook); the report,
    /// and whether the webhook was deleted.
    async fn attempt(&self, event: &EventRecord, target: &Target) -> (AttemptReport, bool) {
        match target {
            Target::Endpoint {
                url: Ok(url),
                secret,
                previous,
                ..
            } => {
                let now = Utc::now();
                let report = self
                    .engine
                    .send(DeliveryRequest {
                        event_id: event.event_id,
                        url,
                        secret,
                        previous_secret: previous
                            .as_ref()
                            .filter(|(_, until)| *until > now)
                            .map(|(s, _)| s),
                        body: &event.body,
                    })
                    .await;
                (report, false)
            }
            Target::Endpoint {
                url: Err(error),
                raw_url,
                ..
            } => (failed_now(error.clone(), raw_url.clone()), false),
            Target::Deleted => (failed_now("webhook deleted".into(), String::new()), true),
        }
    }

    /// Extends the lease by a whole lease from now; `false` when it is lost (another worker
    /// holds the event, or it is gone), or the store failed (the lease may still lapse).
    async fn renew(&self, event_id: EventId, lease: &mut Lease) -> bool {
        let until = after(Utc::now(), self.settings.lease);
        match self.store.renew_lease(event_id, lease, until).await {
            Ok(renewed) => {
                *lease = renewed;
                true
            }
            Err(StoreError::LeaseLost | StoreError::NotFound) => false,
            Err(e) => {
                tracing::warn!(event_id = %event_id, error = %e, "renewing a delivery lease failed");
                false
            }
        }
    }

    /// Runs `attempt` while renewing `lease` (turris-webhooks' [`renewing`]); `None` when the
    /// lease is lost.
    async fn renewing<T>(
        &self,
        event_id: EventId,
        lease: &mut Lease,
        attempt: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        renewing(
            &*self.store,
            event_id,
            lease,
            self.settings.lease,
            Utc::now,
            attempt,
        )
        .await
    }

    /// Hands the attempt to the batch recorder and logs the outcome.
    async fn record(&self, event: &EventRecord, item: AttemptToRecord) {
        let (reply, recorded) = oneshot::channel();
        let (report, next) = (item.report.clone(), item.next);
        let outcome = match self.recorder.send((item, reply)).await {
            Ok(()) => recorded
                .await
                .unwrap_or_else(|_| Err(StoreError::Backend("attempt recorder stopped".into()))),
            Err(_) => Err(StoreError::Backend("attempt recorder stopped".into())),
        };
        match outcome {
            Ok(attempt) => {
                let duration = (report.finished_at - report.started_at)
                    .to_std()
                    .unwrap_or_default();
                let latency = (report.finished_at - event.created_at).to_std().ok();
                self.metrics.attempt(report.success, duration, latency);
                let lag = event
                    .next_attempt_at
                    .and_then(|due| (report.started_at - due).to_std().ok());
                let outcome = match next {
                    NextStep::Delivered => Outcome::Delivered,
                    NextStep::RetryAt(_) => Outcome::FailedRetrying,
                    NextStep::Exhausted => Outcome::FailedFinal,
                    NextStep::Unchanged => Outcome::FailedResend,
                };
                self.metrics.outcome(outcome, report.status_code, lag);
                tracing::debug!(
                    event_id = %event.event_id,
                    webhook_id = %event.webhook_id,
                    attempt = attempt.number,
                    status = ?attempt.status_code,
                    success = attempt.success,
                    next = ?next,
                    "webhook delivery attempt"
                );
                if !attempt.success {
                    tracing::info!(
                        event_id = %event.event_id,
                        attempt = attempt.number,
                        status = ?attempt.status_code,
                        error = attempt.error.as_deref().unwrap_or(""),
                        next = ?next,
                        "webhook delivery attempt failed"
                    );
                }
            }
            // Another worker took over after the lease expired, or the webhook was deleted.
            Err(StoreError::LeaseLost | StoreError::NotFound) => {}
            Err(e) => {
                tracing::warn!(event_id = %event.event_id, error = %e, "recording an attempt failed")
            }
        }
    }

    async fn target(&self, webhook: WebhookId) -> Result<Arc<Target>, crate::store::DbError> {
        if let Some((at, target)) = self.lock_targets().get(&webhook) {
            if at.elapsed() < TARGET_TTL {
                return Ok(target.clone());
            }
        }
        let target = Arc::new(match self.store.delivery_target(webhook).await? {
            Some(t) => {
                let limits = Limits::of(t.endpoint.limits, self.settings.endpoint_defaults());
                self.note_limits(webhook, limits);
                Target::Endpoint {
                    url: WebhookUrl::parse(&t.endpoint.url, &self.url_policy)
                        .map_err(|e| e.to_string()),
                    raw_url: t.endpoint.url,
                    secret: t.secret,
                    previous: t.previous_secret,
                    disabled: t.endpoint.disabled.is_some(),
                }
            }
            None => Target::Deleted,
        });
        // A disabled endpoint is read again every time: enabling it takes effect at once.
        if let Target::Endpoint { disabled: true, .. } = &*target {
            return Ok(target);
        }
        let mut targets = self.lock_targets();
        if targets.len() > 10_000 {
            targets.retain(|_, (at, _)| at.elapsed() < TARGET_TTL);
        }
        targets.insert(webhook, (Instant::now(), target.clone()));
        Ok(target)
    }

    /// The limits last read for `webhook` (however old), else the defaults.
    fn cached_limits(&self, webhook: WebhookId) -> Limits {
        let known = self.lock_limits().get(&webhook).copied();
        known.unwrap_or_else(|| self.settings.endpoint_defaults())
    }

    /// Remembers `webhook`'s limits as just read.
    fn note_limits(&self, webhook: WebhookId, limits: Limits) {
        let mut known = self.lock_limits();
        if known.len() > 10_000 && !known.contains_key(&webhook) {
            // Forgotten limits are read again with the next round or target.
            known.clear();
        }
        known.insert(webhook, limits);
    }

    fn lock_limits(&self) -> std::sync::MutexGuard<'_, HashMap<WebhookId, Limits>> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_targets(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<WebhookId, (Instant, Arc<Target>)>> {
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn failed_now(error: String, url: String) -> AttemptReport {
    let now = Utc::now();
    AttemptReport {
        started_at: now,
        finished_at: now,
        status_code: None,
        error: Some(error),
        url,
        success: false,
        response_body: None,
        retry_after: None,
    }
}

fn after(at: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
