//! The queue: retries on schedule, several servers sharing it, metrics and retention.

use std::time::Duration;

use chrono::Utc;
use turris_core::ids::OrganizationId;
use turris_server::delivery::settings::parse_schedule;
use turris_server::store::{OutboxEvent, TurrisInputStore as _};
use turris_webhooks::delivery::{DeliveryStore, EventId, EventStatus};
use turris_webhooks::{Envelope, WebhookType};

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

async fn retries_follow_the_schedule_while_the_receiver_is_down_and_it_is_delivered_once_up(
    db: &TestDb,
) {
    let receiver = Receiver::start().await;
    let mut config = config(db);
    config.delivery.retry_schedule = parse_schedule("0s,200ms,400ms,600ms,800ms").unwrap();
    config.delivery.retry_jitter = 0.0;
    let schedule = config.delivery.retry_schedule.0.clone();
    let server = Server::start(config).await;
    let org = server.organization().await;
    let webhook = server
        .webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    receiver.go_down().await;
    let agency = server.agency(&org, "Acme").await;
    server.nipr_sync(&org, &agency).await;
    let event: EventId = server.event_ids(&org, &webhook).await[0].parse().unwrap();
    let store = db.store();
    eventually("two attempts fail while the receiver is down", || async {
        (store.list_attempts(event).await.unwrap().len() >= 2).then_some(())
    })
    .await;
    receiver.come_up().await;
    eventually("the event is delivered once the receiver is up", || async {
        let record = store.event(event).await.unwrap().unwrap();
        (record.status == EventStatus::Delivered).then_some(())
    })
    .await;

    let attempts = store.list_attempts(event).await.unwrap();
    let (last, failed) = attempts.split_last().unwrap();
    assert!(failed.len() >= 2, "{attempts:?}");
    assert!(failed.iter().all(|a| !a.success && a.status_code.is_none()));
    assert!(last.success);
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt.number as usize, i + 1);
    }
    for (i, pair) in attempts.windows(2).enumerate() {
        let waited = (pair[1].started_at - pair[0].finished_at).to_std().unwrap();
        assert!(
            waited >= schedule[i + 1],
            "attempt {} came {waited:?} after the previous, before its delay {:?}",
            i + 2,
            schedule[i + 1]
        );
    }
    assert_eq!(receiver.accepted().len(), 1);
    server.stop().await;
}

async fn two_servers_on_one_database_deliver_a_thousand_events_each_exactly_once(db: &TestDb) {
    let receiver = Receiver::start().await;
    let tune = |mut c: turris_server::config::Config| {
        c.delivery.batch = 16;
        c.delivery.concurrency = 16;
        c
    };
    let a = Server::start(tune(config(db))).await;
    let b = Server::start(tune(config(db))).await;
    let org = a.organization().await;
    a.webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    // A thousand changes committed at once, as a busy records API would.
    let outbox: Vec<OutboxEvent> = (0..1000)
        .map(|n| OutboxEvent {
            webhook_type: WebhookType::EntityComplianceDataSynchronized,
            body: Envelope::new(
                org.id.clone(),
                WebhookType::EntityComplianceDataSynchronized,
                serde_json::json!({"n": n}),
            )
            .to_bytes()
            .unwrap()
            .to_vec(),
            created_at: Utc::now(),
        })
        .collect();
    let enqueued = db
        .store()
        .enqueue_outbox(&OrganizationId::parse(&org.id).unwrap(), &outbox)
        .await
        .unwrap();
    assert_eq!(enqueued.len(), 1000);
    eventually("a thousand events arrive", || async {
        (receiver.accepted().len() == 1000).then_some(())
    })
    .await;
    // Stopping waits for the attempts in flight to be recorded.
    let (state_a, state_b) = (a.state.clone(), b.state.clone());
    a.stop().await;
    b.stop().await;
    let successes = |s: &turris_server::app::AppState| {
        s.delivery_metrics()
            .attempts_success
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let (by_a, by_b) = (successes(&state_a), successes(&state_b));
    assert_eq!(
        by_a + by_b,
        1000,
        "each delivery counted once: {by_a} + {by_b}"
    );

    let accepted = receiver.accepted();
    let repeated: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "delivered twice: {repeated:?}");
    for e in &enqueued {
        assert_eq!(accepted.get(&e.event_id.to_string()), Some(&1));
    }
    assert_eq!(receiver.arrivals().len(), 1000);
    assert_eq!(receiver.bad_signatures(), 0);
}

async fn metrics_show_the_queue_the_attempts_by_outcome_and_the_latency_histogram(db: &TestDb) {
    let up = Receiver::start().await;
    let down = Receiver::start().await;
    let mut config = config(db);
    config.delivery.retry_schedule = parse_schedule("0s,100ms").unwrap();
    config.delivery.retry_jitter = 0.0;
    let server = Server::start(config).await;
    let org = server.organization().await;
    server
        .webhook(&org, "entity_compliance_data_synchronized", &up)
        .await;
    server
        .webhook(&org, "entity_compliance_data_synchronized", &down)
        .await;
    down.go_down().await;
    let agency = server.agency(&org, "Acme").await;
    server.nipr_sync(&org, &agency).await;
    let text = eventually("one delivery and one exhausted event", || async {
        let text = server.metrics().await;
        let done = [
            "turris_webhook_queue_events{state=\"failed\"} 1",
            "turris_webhook_attempts_total{outcome=\"success\"} 1",
            "turris_webhook_attempts_total{outcome=\"failure\"} 2",
        ];
        done.iter().all(|l| text.contains(l)).then_some(text)
    })
    .await;
    for line in [
        "turris_webhook_queue_events{state=\"pending\"} 0",
        "turris_webhook_queue_events{state=\"due\"} 0",
        "turris_webhook_queue_events{state=\"leased\"} 0",
        "turris_webhook_delivery_latency_seconds_bucket{le=\"+Inf\"} 1",
        "turris_webhook_delivery_latency_seconds_count 1",
        "turris_webhook_attempt_duration_seconds_count 3",
        "# TYPE turris_webhook_delivery_latency_seconds histogram",
        // By outcome and endpoint class: the receiver's 204, and two unanswered attempts.
        "turris_webhook_deliveries_total{outcome=\"delivered\",endpoint_class=\"2xx\"} 1",
        "turris_webhook_deliveries_total{outcome=\"failed_retrying\",endpoint_class=\"no_answer\"} 1",
        "turris_webhook_deliveries_total{outcome=\"failed_final\",endpoint_class=\"no_answer\"} 1",
        "turris_webhook_delivery_lag_seconds_count 3",
        "turris_webhook_queue_due_by_organization{organization=\"_other\"} 0",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    assert_eq!(up.accepted().len(), 1);

    // An endpoint at its limit: the one at its receiver and the two waiting behind its limit
    // (leased in the worker's memory) are its organization's backlog.
    let held = Receiver::start().await;
    held.hold();
    let busy = server.organization().await;
    let webhook = server
        .webhook(&busy, "entity_compliance_data_synchronized", &held)
        .await;
    server.limit_in_flight(&busy, &webhook, 1).await;
    let agency = server.agency(&busy, "Busy").await;
    for _ in 0..3 {
        server.nipr_sync(&busy, &agency).await;
    }
    let waiting = format!(
        "turris_webhook_queue_due_by_organization{{organization=\"{}\"}} 3",
        busy.id
    );
    eventually("three events are the organization's backlog", || async {
        server.metrics().await.contains(&waiting).then_some(())
    })
    .await;
    held.release();
    server.stop().await;
}

async fn retention_prunes_finished_events_and_keeps_pending_ones(db: &TestDb) {
    let up = Receiver::start().await;
    let down = Receiver::start().await;
    let mut config = config(db);
    config.delivery.retry_schedule = parse_schedule("0s,1h").unwrap();
    config.delivery.retention = Duration::from_millis(1);
    config.delivery.retention_interval = Duration::from_millis(50);
    let server = Server::start(config).await;
    let org = server.organization().await;
    let delivered = server
        .webhook(&org, "entity_compliance_data_synchronized", &up)
        .await;
    let waiting = server
        .webhook(&org, "entity_compliance_data_synchronized", &down)
        .await;
    down.go_down().await;
    let agency = server.agency(&org, "Acme").await;
    server.nipr_sync(&org, &agency).await;
    let store = db.store();
    eventually("the delivered event is pruned", || async {
        let gone = server.event_ids(&org, &delivered).await.is_empty();
        (gone && up.accepted().len() == 1).then_some(())
    })
    .await;
    let pending = server.event_ids(&org, &waiting).await;
    assert_eq!(pending.len(), 1, "the pending event stays");
    let record = store
        .event(pending[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, EventStatus::Pending);
    eventually("the metrics count the pruned event", || async {
        let text = server.metrics().await;
        text.contains("turris_webhook_pruned_events_total 1")
            .then_some(())
    })
    .await;
    server.stop().await;
}

both_databases!(db:
    retries_follow_the_schedule_while_the_receiver_is_down_and_it_is_delivered_once_up,
    two_servers_on_one_database_deliver_a_thousand_events_each_exactly_once,
    metrics_show_the_queue_the_attempts_by_outcome_and_the_latency_histogram,
    retention_prunes_finished_events_and_keeps_pending_ones,
);
