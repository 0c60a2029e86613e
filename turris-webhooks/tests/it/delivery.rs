use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use turris_webhooks::delivery::{
    AttemptKind, DeliveryConfig, DeliveryEngine, DeliveryRequest, DeliveryStore, Dispatcher,
    DispatcherConfig, Endpoint, EventRecord, EventStatus, InMemoryDeliveryStore, NewEvent,
    StaticEndpoints, StoreError,
};
use turris_webhooks::{
    Clock, Envelope, EventId, ManualClock, RetryPolicy, UrlPolicy, Verifier, WebhookId,
    WebhookSecret, WebhookType, WebhookUrl,
};

use crate::receiver;

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn demo_policy() -> UrlPolicy {
    UrlPolicy::strict().with_insecure_loopback()
}

pub(crate) fn engine(clock: &ManualClock, timeout: Duration) -> DeliveryEngine {
    let config = DeliveryConfig {
        timeout,
        url_policy: demo_policy(),
        ..DeliveryConfig::default()
    };
    DeliveryEngine::new(config)
        .unwrap()
        .with_clock(Arc::new(clock.clone()))
}

pub(crate) fn body() -> Bytes {
    Envelope::new(
        "org_1",
        WebhookType::ProducerAgreementExecuted,
        serde_json::json!({"agencyId": "a1"}),
    )
    .to_bytes()
    .unwrap()
}

pub(crate) fn url(s: &str) -> WebhookUrl {
    WebhookUrl::parse(s, &demo_policy()).unwrap()
}

/// One attempt at `target` with the demo policy.
async fn attempt(target: &str, timeout: Duration) -> turris_webhooks::delivery::AttemptReport {
    let clock = ManualClock::new(start());
    let secret = WebhookSecret::generate().unwrap();
    engine(&clock, timeout)
        .send(DeliveryRequest {
            event_id: EventId::new(),
            url: &url(target),
            secret: &secret,
            previous_secret: None,
            body: &body(),
        })
        .await
}

#[tokio::test]
async fn a_2xx_answer_is_a_successful_attempt_and_the_receiver_gets_the_signed_exact_bytes() {
    let rx = receiver::spawn().await;
    let clock = ManualClock::new(start());
    let secret = WebhookSecret::generate().unwrap();
    let event_id = EventId::new();
    let body = body();
    let target = url(&rx.url("/ok"));
    let report = engine(&clock, Duration::from_secs(20))
        .send(DeliveryRequest {
            event_id,
            url: &target,
            secret: &secret,
            previous_secret: None,
            body: &body,
        })
        .await;
    assert!(report.success, "{report:?}");
    assert_eq!(report.status_code, Some(200));
    assert_eq!(report.error, None);
    assert_eq!(report.response_body.as_deref(), Some("thanks"));
    assert_eq!(report.url, rx.url("/ok"));
    assert_eq!((report.started_at, report.finished_at), (start(), start()));

    let got = rx.log.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, body, "the stored bytes are sent unchanged");
    assert_eq!(got[0].headers["content-type"], "application/json");
    assert_eq!(
        got[0].headers["x-turris-event-id"],
        event_id.to_string().as_str()
    );
    assert_eq!(got[0].headers["webhook-id"], event_id.to_string().as_str());
    assert_eq!(
        got[0].headers["x-turris-timestamp"],
        start().timestamp().to_string().as_str()
    );
    let verifier = Verifier::new([secret]);
    assert_eq!(
        verifier.verify(&got[0].headers, &got[0].body, start()),
        Ok(())
    );
}

#[tokio::test]
async fn a_500_answer_is_a_failed_attempt_with_status_and_body_in_the_log() {
    let rx = receiver::spawn().await;
    let report = attempt(&rx.url("/fail"), Duration::from_secs(20)).await;
    assert!(!report.success);
    assert_eq!(report.status_code, Some(500));
    assert_eq!(
        report.error.as_deref(),
        Some("endpoint answered 500 Internal Server Error")
    );
    assert_eq!(report.response_body.as_deref(), Some("database is down"));
}

#[tokio::test]
async fn an_endpoint_slower_than_the_configured_timeout_is_a_failed_attempt() {
    let rx = receiver::spawn().await;
    let report = attempt(&rx.url("/slow"), Duration::from_millis(300)).await;
    assert!(!report.success);
    assert_eq!(report.status_code, None);
    assert_eq!(report.error.as_deref(), Some("timed out after 300 ms"));
    assert_eq!(rx.log.all().len(), 1, "the request did reach the endpoint");
}

#[tokio::test]
async fn connection_refused_is_a_failed_attempt_that_says_so() {
    let port = receiver::closed_port().await;
    let report = attempt(&format!("http://{port}/hook"), Duration::from_secs(5)).await;
    assert!(!report.success);
    assert_eq!(report.status_code, None);
    let error = report.error.unwrap();
    assert!(error.starts_with("connection failed: "), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

#[tokio::test]
async fn a_429_with_retry_after_reports_the_requested_delay() {
    let rx = receiver::spawn().await;
    let report = attempt(&rx.url("/limited"), Duration::from_secs(20)).await;
    assert!(!report.success);
    assert_eq!(report.status_code, Some(429));
    assert_eq!(report.retry_after, Some(Duration::from_secs(150)));
}

#[tokio::test]
async fn a_redirect_is_reported_without_the_user_info_query_or_fragment_of_its_location() {
    let rx = receiver::spawn().await;
    let report = attempt(&rx.url("/leaky-redirect"), Duration::from_secs(20)).await;
    assert_eq!(
        report.error.as_deref(),
        Some("redirect to https://elsewhere.example:8443/next not followed")
    );
    let report = attempt(&rx.url("/relative-redirect"), Duration::from_secs(20)).await;
    assert_eq!(
        report.error.as_deref(),
        Some("redirect to /ok not followed")
    );
}

#[tokio::test]
async fn transport_errors_do_not_carry_the_query_of_the_endpoint_url() {
    let planted = "planted-query-secret";
    let closed = receiver::closed_port().await;
    let refused = attempt(
        &format!("http://{closed}/hook?token={planted}"),
        Duration::from_secs(20),
    )
    .await;
    let rx = receiver::spawn().await;
    let timed_out = attempt(
        &rx.url(&format!("/slow?token={planted}")),
        Duration::from_millis(100),
    )
    .await;
    for report in [refused, timed_out] {
        let error = report.error.expect("a failed attempt");
        assert!(!error.contains(planted), "{error}");
        assert!(!error.contains("token="), "{error}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed_and_count_as_failures() {
    let rx = receiver::spawn().await;
    let report = attempt(&rx.url("/redirect"), Duration::from_secs(20)).await;
    assert!(!report.success);
    assert_eq!(report.status_code, Some(307));
    assert_eq!(
        report.error.as_deref(),
        Some("redirect to /ok not followed")
    );
    let paths: Vec<String> = rx.log.all().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/redirect"]);
}

#[tokio::test]
async fn the_response_body_kept_for_the_log_is_bounded() {
    let rx = receiver::spawn().await;
    let report = attempt(&rx.url("/big"), Duration::from_secs(20)).await;
    assert!(report.success);
    assert_eq!(report.response_body.map(|b| b.len()), Some(4096));
}

#[tokio::test]
async fn loopback_is_refused_at_delivery_time_when_the_policy_does_not_allow_it() {
    // As after DNS rebinding: the URL was accepted earlier, now it leads to a refused address.
    let rx = receiver::spawn().await;
    let strict = DeliveryEngine::new(DeliveryConfig::default()).unwrap();
    let secret = WebhookSecret::generate().unwrap();
    for target in [
        rx.url("/ok"),
        rx.url("/ok").replace("127.0.0.1", "localhost"),
    ] {
        let target = url(&target);
        let report = strict
            .send(DeliveryRequest {
                event_id: EventId::new(),
                url: &target,
                secret: &secret,
                previous_secret: None,
                body: &body(),
            })
            .await;
        assert!(!report.success);
        let error = report.error.unwrap();
        assert!(error.contains("refused: loopback address"), "{error}");
        assert!(
            !error.contains("127.0.0.1") && !error.contains("::1"),
            "{error}"
        );
    }
    assert!(rx.log.all().is_empty(), "nothing reached the receiver");
}

struct Setup {
    store: Arc<InMemoryDeliveryStore>,
    endpoints: Arc<StaticEndpoints>,
    clock: ManualClock,
    dispatcher: Dispatcher,
    secret: WebhookSecret,
}

fn setup(retry: RetryPolicy, concurrency: usize) -> Setup {
    let store = Arc::new(InMemoryDeliveryStore::new());
    let endpoints = Arc::new(StaticEndpoints::new());
    let clock = ManualClock::new(start());
    let mut config = DispatcherConfig::default();
    config.retry = retry;
    config.concurrency = concurrency;
    let dispatcher = Dispatcher::new(
        store.clone(),
        endpoints.clone(),
        engine(&clock, Duration::from_secs(20)),
        Arc::new(clock.clone()),
        config,
    );
    Setup {
        store,
        endpoints,
        clock,
        dispatcher,
        secret: WebhookSecret::generate().unwrap(),
    }
}

impl Setup {
    fn point(&self, webhook: WebhookId, target: String) {
        self.endpoints.insert(
            webhook,
            Endpoint {
                url: url(&target),
                secret: self.secret.clone(),
                previous_secret: None,
            },
        );
    }

    /// A new webhook pointing at `target`, with one event enqueued.
    async fn one_event(&self, target: String) -> (WebhookId, EventId) {
        let webhook = WebhookId::new();
        self.point(webhook, target);
        (webhook, self.enqueue(webhook).await)
    }

    async fn stored(&self, event: EventId) -> EventRecord {
        self.store.event(event).await.unwrap().unwrap()
    }

    async fn enqueue(&self, webhook: WebhookId) -> EventId {
        let event_id = EventId::new();
        self.store
            .enqueue(vec![NewEvent {
                event_id,
                webhook_id: webhook,
                webhook_type: WebhookType::ProducerAgreementExecuted,
                body: body(),
                created_at: self.clock.now(),
            }])
            .await
            .unwrap();
        event_id
    }
}

fn no_jitter(seconds: &[u64]) -> RetryPolicy {
    RetryPolicy::new(
        seconds.iter().map(|s| Duration::from_secs(*s)).collect(),
        0.0,
    )
}

#[tokio::test]
async fn the_dispatcher_retries_on_schedule_until_the_endpoint_recovers() {
    let rx = receiver::spawn().await;
    let s = setup(no_jitter(&[0, 60, 300, 1800]), 4);
    let (webhook, event) = s.one_event(rx.url("/fail")).await;

    assert_eq!(s.dispatcher.run_once().await.unwrap().len(), 1);
    let stored = s.stored(event).await;
    assert_eq!(
        stored.next_attempt_at,
        Some(start() + chrono::Duration::seconds(60))
    );

    s.clock.advance(Duration::from_secs(59));
    assert!(
        s.dispatcher.run_once().await.unwrap().is_empty(),
        "not due yet"
    );
    s.clock.advance(Duration::from_secs(1));
    let second = s.dispatcher.run_once().await.unwrap();
    assert_eq!((second[0].number, second[0].success), (2, false));
    let stored = s.stored(event).await;
    assert_eq!(
        stored.next_attempt_at,
        Some(start() + chrono::Duration::seconds(360))
    );

    s.point(webhook, rx.url("/ok"));
    s.clock.advance(Duration::from_secs(300));
    let third = s.dispatcher.run_once().await.unwrap();
    assert_eq!(
        (third[0].number, third[0].success, third[0].status_code),
        (3, true, Some(200))
    );
    let stored = s.stored(event).await;
    assert_eq!(
        (stored.status, stored.next_attempt_at),
        (EventStatus::Delivered, None)
    );

    let received = rx.log.all();
    assert_eq!(received.len(), 3);
    for r in &received {
        assert_eq!(
            r.headers["x-turris-event-id"],
            event.to_string().as_str(),
            "stable across retries"
        );
        assert_eq!(r.body, received[0].body, "same bytes every time");
    }
    let attempts = s.store.list_attempts(event).await.unwrap();
    let log: Vec<(u32, Option<u16>, bool)> = attempts
        .iter()
        .map(|a| (a.number, a.status_code, a.success))
        .collect();
    assert_eq!(
        log,
        [
            (1, Some(500), false),
            (2, Some(500), false),
            (3, Some(200), true)
        ]
    );
    assert!(attempts.iter().all(|a| a.kind == AttemptKind::Automatic));
}

#[tokio::test]
async fn the_event_fails_after_the_last_automatic_attempt() {
    let rx = receiver::spawn().await;
    let s = setup(no_jitter(&[0, 60, 120]), 4);
    let (_, event) = s.one_event(rx.url("/fail")).await;
    for _ in 0..3 {
        assert_eq!(s.dispatcher.run_once().await.unwrap().len(), 1);
        s.clock.advance(Duration::from_secs(120));
    }
    let stored = s.stored(event).await;
    assert_eq!(
        (stored.status, stored.attempt_count, stored.next_attempt_at),
        (EventStatus::Failed, 3, None)
    );
    s.clock.advance(Duration::from_secs(86_400));
    assert!(s.dispatcher.run_once().await.unwrap().is_empty());
    assert_eq!(rx.log.all().len(), 3);
}

#[tokio::test]
async fn retry_after_on_a_429_is_honoured_but_capped_at_twice_the_scheduled_delay() {
    let rx = receiver::spawn().await;
    let s = setup(no_jitter(&[0, 60, 300]), 4);
    let (_, event) = s.one_event(rx.url("/limited")).await;
    s.dispatcher.run_once().await.unwrap();
    // Retry-After: 150 against a scheduled 60 s: capped at 120 s.
    let stored = s.stored(event).await;
    assert_eq!(
        stored.next_attempt_at,
        Some(start() + chrono::Duration::seconds(120))
    );
    s.clock.advance(Duration::from_secs(120));
    s.dispatcher.run_once().await.unwrap();
    // Against a scheduled 300 s, 150 s is raised to the floor of 300 s.
    let stored = s.stored(event).await;
    assert_eq!(
        stored.next_attempt_at,
        Some(start() + chrono::Duration::seconds(420))
    );
}

#[tokio::test]
async fn resend_is_refused_for_a_delivered_event() {
    let rx = receiver::spawn().await;
    let s = setup(RetryPolicy::default(), 4);
    let (_, event) = s.one_event(rx.url("/ok")).await;
    s.dispatcher.run_once().await.unwrap();
    assert_eq!(
        s.dispatcher.resend(event).await.map(|a| a.number),
        Err(StoreError::AlreadyDelivered)
    );
    assert_eq!(rx.log.all().len(), 1, "nothing was sent again");
    assert_eq!(
        s.dispatcher.resend(EventId::new()).await.map(|a| a.number),
        Err(StoreError::NotFound)
    );
}

#[tokio::test]
async fn a_failed_resend_adds_the_next_attempt_and_schedules_no_retry() {
    let rx = receiver::spawn().await;
    let s = setup(no_jitter(&[0]), 4);
    let (webhook, event) = s.one_event(rx.url("/fail")).await;
    s.dispatcher.run_once().await.unwrap();
    assert_eq!(s.stored(event).await.status, EventStatus::Failed);

    let attempt = s.dispatcher.resend(event).await.unwrap();
    assert_eq!(
        (attempt.number, attempt.kind, attempt.success),
        (2, AttemptKind::Resend, false)
    );
    let stored = s.stored(event).await;
    assert_eq!(
        (stored.status, stored.next_attempt_at),
        (EventStatus::Failed, None)
    );
    s.clock.advance(Duration::from_secs(86_400));
    assert!(
        s.dispatcher.run_once().await.unwrap().is_empty(),
        "no automatic retry after a resend"
    );

    s.point(webhook, rx.url("/ok"));
    let attempt = s.dispatcher.resend(event).await.unwrap();
    assert_eq!((attempt.number, attempt.success), (3, true));
    assert_eq!(s.stored(event).await.status, EventStatus::Delivered);
    let ids: Vec<String> = rx
        .log
        .all()
        .iter()
        .map(|r| r.headers["x-turris-event-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![event.to_string(); 3], "resends keep the event id");
}

#[tokio::test]
async fn deliveries_run_concurrently_but_never_beyond_the_bound() {
    let rx = receiver::spawn().await;
    let s = setup(RetryPolicy::default(), 2);
    let webhook = WebhookId::new();
    s.point(webhook, rx.url("/busy"));
    let mut events = Vec::new();
    for _ in 0..6 {
        events.push(s.enqueue(webhook).await);
    }
    let attempts = s.dispatcher.run_once().await.unwrap();
    assert_eq!(attempts.len(), 6);
    assert!(
        attempts
            .iter()
            .all(|a| a.success && a.status_code == Some(204))
    );
    let max = rx
        .log
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&max), "max in flight {max}");
    for event in events {
        assert_eq!(s.stored(event).await.status, EventStatus::Delivered);
    }
}

#[tokio::test]
async fn events_of_a_deleted_webhook_fail_without_any_request() {
    let s = setup(RetryPolicy::default(), 2);
    let event = s.enqueue(WebhookId::new()).await;
    let attempts = s.dispatcher.run_once().await.unwrap();
    assert_eq!(attempts[0].error.as_deref(), Some("webhook deleted"));
    assert_eq!(s.stored(event).await.status, EventStatus::Failed);
}

#[tokio::test]
async fn run_until_delivers_in_the_background_and_stops_on_shutdown() {
    let rx = receiver::spawn().await;
    let s = setup(RetryPolicy::default(), 2);
    let (_, event) = s.one_event(rx.url("/ok")).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = s.dispatcher.clone();
    let worker = tokio::spawn(async move {
        dispatcher
            .run_until(async { stopped.await.unwrap_or(()) })
            .await;
    });
    let delivered = async {
        while s.stored(event).await.status != EventStatus::Delivered {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    // A safety net so a broken worker fails the test instead of hanging it.
    tokio::time::timeout(Duration::from_secs(30), delivered)
        .await
        .expect("delivered in the background");
    stop.send(()).unwrap();
    worker.await.unwrap();
    assert_eq!(rx.log.all().len(), 1);
}

#[tokio::test]
async fn a_resend_can_be_accepted_first_and_run_in_the_background() {
    let rx = receiver::spawn().await;
    let s = setup(no_jitter(&[0]), 2);
    let (webhook, event) = s.one_event(rx.url("/fail")).await;
    s.dispatcher.run_once().await.unwrap();
    s.point(webhook, rx.url("/ok"));

    let pending = s.dispatcher.start_resend(event).await.unwrap();
    assert_eq!(pending.event_id(), event);
    // While it is pending, a second resend is refused: an attempt is in progress.
    assert_eq!(
        s.dispatcher.start_resend(event).await.map(|p| p.event_id()),
        Err(StoreError::Busy)
    );
    let attempt = tokio::spawn(pending.run()).await.unwrap().unwrap();
    assert_eq!(
        (attempt.number, attempt.kind, attempt.success),
        (2, AttemptKind::Resend, true)
    );
    assert_eq!(
        s.dispatcher.start_resend(event).await.map(|p| p.event_id()),
        Err(StoreError::AlreadyDelivered)
    );
}
