//! In-process delivery counters and histograms, rendered by `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::DeliveryQueueStats;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(value.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// It failed; another automatic attempt is scheduled.
    FailedRetrying,
    /// It failed and no automatic attempt is left (or the webhook is gone).
    FailedFinal,
    /// A manual resend or recover attempt failed (nothing scheduled).
    FailedResend,
}

const OUTCOMES: [(Outcome, &str); 4] = [
    (Outcome::Delivered, "delivered"),
    (Outcome::FailedRetrying, "failed_retrying"),
    (Outcome::FailedFinal, "failed_final"),
    (Outcome::FailedResend, "failed_resend"),
];

/// Endpoint classes by what they answered: a handful of labels, never a URL.
const CLASSES: [&str; 6] = ["2xx", "3xx", "4xx", "429", "5xx", "no_answer"];

/// The class of an answer: its status class, 429 apart, or `no_answer` (timeout, refused,
/// bad URL).
pub fn endpoint_class(status: Option<u16>) -> usize {
    match status {
        Some(429) => 3,
        Some(200..=299) => 0,
        Some(300..=399) => 1,
        Some(400..=499) => 2,
        Some(500..=599) => 4,
        _ => 5,
    }
}

/// The most organizations `/metrics` names in the per-organization queue depth; the others
/// are summed under `organization="_other"`.
pub const TOP_ORGANIZATIONS: usize = 10;

/// What this process's delivery workers did since it started.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    /// Attempts by outcome and endpoint class.
    pub outcomes: [[AtomicU64; CLASSES.len()]; OUTCOMES.len()],
    /// From when an event was due to the start of its attempt.
    pub delivery_lag: Histogram,
    /// Deliveries that waited for a slot because their endpoint was at its limits.
    pub deferred: AtomicU64,
    /// Endpoints this process disabled (410 Gone, or failing too long).
    pub endpoints_disabled: AtomicU64,
    /// Attempts that succeeded.
    pub attempts_success: AtomicU64,
    /// Attempts that failed (the endpoint answered non-2xx, timed out or was unreachable).
    pub attempts_failure: AtomicU64,
    /// From the event's creation to the end of its successful attempt.
    pub delivery_latency: Histogram,
    /// Duration of each attempt.
    pub attempt_duration: Histogram,
    /// Debounce windows flushed into events.
    pub debounce_flushes: AtomicU64,
    /// Events removed by retention.
    pub pruned_events: AtomicU64,
    /// Payload bytes of the deliveries waiting in the worker's memory (hand-offs and
    /// deferred), as the worker last saw them (a gauge).
    pub waiting_bytes: AtomicU64,
    /// The most `waiting_bytes` the worker has seen.
    pub waiting_bytes_max: AtomicU64,
}

impl DeliveryMetrics {
    /// Counts one attempt.
    pub fn attempt(&self, success: bool, duration: Duration, since_created: Option<Duration>) {
        if success {
            self.attempts_success.fetch_add(1, Ordering::Relaxed);
        } else {
            self.attempts_failure.fetch_add(1, Ordering::Relaxed);
        }
        self.attempt_duration.observe(duration);
        if let (true, Some(latency)) = (success, since_created) {
            self.delivery_latency.observe(latency);
        }
    }

    /// Counts one recorded attempt by outcome and endpoint class, and its lag behind its due
    /// time.
    pub fn outcome(&self, outcome: Outcome, status: Option<u16>, lag: Option<Duration>) {
        if let Some(i) = OUTCOMES.iter().position(|(o, _)| *o == outcome) {
            self.outcomes[i][endpoint_class(status)].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(lag) = lag {
            self.delivery_lag.observe(lag);
        }
    }

    fn render_outcomes(&self, out: &mut String) {
        out.push_str(
            "# HELP turris_webhook_deliveries_total Recorded attempts by outcome and endpoint              class (what the endpoint answered).
# TYPE turris_webhook_deliveries_total counter
",
        );
        for ((_, outcome), row) in OUTCOMES.iter().zip(&self.outcomes) {
            for (class, n) in CLASSES.iter().zip(row) {
                let n = n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "turris_webhook_deliveries_total{{outcome=\"{outcome}\",endpoint_class=\"{class}\"}} {n}"
                );
            }
        }
        self.delivery_lag.render(
            out,
            "turris_webhook_delivery_lag_seconds",
            "From when an event was due to the start of its attempt.",
        );
    }

    /// The Prometheus text exposition, with the queue as the database sees it now and its
    /// due events per organization (the largest [`TOP_ORGANIZATIONS`], then `_other`).
    pub fn render(
        &self,
        queue: Option<DeliveryQueueStats>,
        by_organization: &[(String, u64)],
    ) -> String {
        let mut out = String::with_capacity(8192);
        if let Some(queue) = &queue {
            render_due_by_organization(&mut out, queue, by_organization);
        }
        self.render_outcomes(&mut out);
        if let Some(queue) = &queue {
            render_queue_states(&mut out, queue);
        }
        self.render_attempts(&mut out);
        self.delivery_latency.render(
            &mut out,
            "turris_webhook_delivery_latency_seconds",
            "From an event's creation to the end of its successful delivery.",
        );
        self.attempt_duration.render(
            &mut out,
            "turris_webhook_attempt_duration_seconds",
            "Duration of one delivery attempt.",
        );
        self.render_counters(&mut out);
        self.render_waiting(&mut out);
        out
    }

    /// What waits in the worker's memory, in payload bytes: now and at most.
    fn render_waiting(&self, out: &mut String) {
        let gauges = [
            (
                "turris_webhook_waiting_bytes",
                "Payload bytes of deliveries waiting in this process's memory (hand-offs and deferred).",
                &self.waiting_bytes,
            ),
            (
                "turris_webhook_waiting_bytes_max",
                "The most payload bytes of deliveries that waited in this process's memory.",
                &self.waiting_bytes_max,
            ),
        ];
        render_plain(out, "gauge", &gauges);
    }

    /// Attempts made by this process, by outcome.
    fn render_attempts(&self, out: &mut String) {
        out.push_str(
            "# HELP turris_webhook_attempts_total Delivery attempts made by this process, by \
             outcome.\n# TYPE turris_webhook_attempts_total counter\n",
        );
        for (outcome, n) in [
            ("success", &self.attempts_success),
            ("failure", &self.attempts_failure),
        ] {
            let _ = writeln!(
                out,
                "turris_webhook_attempts_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }

    /// The plain counters of this process.
    fn render_counters(&self, out: &mut String) {
        let counters = [
            (
                "turris_webhook_debounce_flushes_total",
                "Debounce windows flushed into events by this process.",
                &self.debounce_flushes,
            ),
            (
                "turris_webhook_pruned_events_total",
                "Delivered or failed events pruned by retention in this process.",
                &self.pruned_events,
            ),
            (
                "turris_webhook_deferred_total",
                "Deliveries that waited for a slot because their endpoint was at its limits.",
                &self.deferred,
            ),
            (
                "turris_webhook_endpoints_disabled_total",
                "Endpoints this process disabled (410 Gone, or failing too long).",
                &self.endpoints_disabled,
            ),
        ];
        render_plain(out, "counter", &counters);
    }
}

/// Metrics of one `kind` (counter or gauge) without labels: name, help and value each.
fn render_plain(out: &mut String, kind: &str, metrics: &[(&str, &str, &AtomicU64)]) {
    for (name, help, value) in metrics {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }
}

/// Due events per organization, leased or not (the largest few, then `_other`).
fn render_due_by_organization(
    out: &mut String,
    queue: &DeliveryQueueStats,
    by_organization: &[(String, u64)],
) {
    out.push_str(
        "# HELP turris_webhook_queue_due_by_organization Due events per organization, \
                 leased or not: its backlog (the largest ten; the rest as _other).\n\
                 # TYPE turris_webhook_queue_due_by_organization gauge\n",
    );
    let named: u64 = by_organization.iter().map(|(_, n)| n).sum();
    for (org, n) in by_organization {
        let _ = writeln!(
            out,
            "turris_webhook_queue_due_by_organization{{organization=\"{org}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "turris_webhook_queue_due_by_organization{{organization=\"_other\"}} {}",
        (queue.due + queue.leased).saturating_sub(named)
    );
}

/// Outbound webhook events by queue state.
fn render_queue_states(out: &mut String, queue: &DeliveryQueueStats) {
    out.push_str(
        "# HELP turris_webhook_queue_events Outbound webhook events by queue state \
                 (every replica's).\n# TYPE turris_webhook_queue_events gauge\n",
    );
    for (state, n) in [
        ("pending", queue.pending),
        ("due", queue.due),
        ("leased", queue.leased),
        ("failed", queue.failed),
    ] {
        let _ = writeln!(out, "turris_webhook_queue_events{{state=\"{state}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_everything() {
        let metrics = DeliveryMetrics::default();
        metrics.attempt(
            true,
            Duration::from_millis(2),
            Some(Duration::from_millis(3)),
        );
        metrics.attempt(false, Duration::from_secs(400), None);
        metrics.outcome(
            Outcome::Delivered,
            Some(204),
            Some(Duration::from_millis(4)),
        );
        metrics.outcome(Outcome::FailedRetrying, Some(503), None);
        metrics.outcome(Outcome::FailedFinal, None, Some(Duration::from_secs(2)));
        let text = metrics.render(
            Some(DeliveryQueueStats {
                pending: 4,
                due: 3,
                leased: 1,
                failed: 2,
            }),
            &[("acme".to_owned(), 2)],
        );
        for line in [
            "turris_webhook_queue_events{state=\"pending\"} 4",
            "turris_webhook_queue_events{state=\"failed\"} 2",
            "turris_webhook_attempts_total{outcome=\"success\"} 1",
            "turris_webhook_attempts_total{outcome=\"failure\"} 1",
            "turris_webhook_attempt_duration_seconds_bucket{le=\"0.0025\"} 1",
            "turris_webhook_attempt_duration_seconds_bucket{le=\"300\"} 1",
            "turris_webhook_attempt_duration_seconds_bucket{le=\"+Inf\"} 2",
            "turris_webhook_attempt_duration_seconds_count 2",
            "turris_webhook_delivery_latency_seconds_bucket{le=\"0.001\"} 0",
            "turris_webhook_delivery_latency_seconds_bucket{le=\"0.005\"} 1",
            "turris_webhook_delivery_latency_seconds_count 1",
            "turris_webhook_deliveries_total{outcome=\"delivered\",endpoint_class=\"2xx\"} 1",
            "turris_webhook_deliveries_total{outcome=\"failed_retrying\",endpoint_class=\"5xx\"} 1",
            "turris_webhook_deliveries_total{outcome=\"failed_final\",endpoint_class=\"no_answer\"} 1",
            "turris_webhook_deliveries_total{outcome=\"failed_final\",endpoint_class=\"2xx\"} 0",
            "turris_webhook_delivery_lag_seconds_bucket{le=\"0.005\"} 1",
            "turris_webhook_delivery_lag_seconds_count 2",
            // The backlog, leased or not: 3 due and 1 leased, 2 of them acme's.
            "turris_webhook_queue_due_by_organization{organization=\"acme\"} 2",
            "turris_webhook_queue_due_by_organization{organization=\"_other\"} 2",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
