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

/// What this process's delivery workers did since it started.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
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

    /// The Prometheus text exposition, with the queue as the database sees it now.
    pub fn render(&self, queue: Option<DeliveryQueueStats>) -> String {
        let mut out = String::with_capacity(4096);
        if let Some(queue) = queue {
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
        for (name, help, value) in [
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
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
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
        let text = metrics.render(Some(DeliveryQueueStats {
            pending: 4,
            due: 3,
            leased: 1,
            failed: 2,
        }));
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
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
