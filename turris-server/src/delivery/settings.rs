//! Delivery worker settings: flags and `TURRIS_*` environment variables.

use std::fmt;
use std::time::Duration;

use clap::{ArgAction, Args};
use turris_webhooks::{DebounceConfig, RetryPolicy, WebhookSecret};

/// How outbound webhooks are delivered, debounced and pruned.
#[derive(Clone, Args)]
pub struct DeliverySettings {
    /// Run the delivery, debounce and retention workers in this process (`false` for a
    /// replica that only serves the API).
    #[arg(
        long = "delivery-workers",
        env = "TURRIS_DELIVERY_WORKERS",
        default_value_t = true,
        action = ArgAction::Set,
        global = true
    )]
    pub workers: bool,

    /// Deliveries in flight at once in this process, each from its leasing until its attempt
    /// is recorded (the commit of a batch shared with other attempts): it bounds what the
    /// process holds in memory, while each endpoint's own limit bounds what its receiver sees.
    #[arg(
        long = "delivery-concurrency",
        env = "TURRIS_DELIVERY_CONCURRENCY",
        default_value_t = 256,
        global = true
    )]
    pub concurrency: usize,

    /// Deliveries leased per database round trip.
    #[arg(
        long = "delivery-batch",
        env = "TURRIS_DELIVERY_BATCH",
        default_value_t = 64,
        global = true
    )]
    pub batch: usize,

    /// The most payload bytes of deliveries waiting in this process's memory for their
    /// endpoint's room: half for hand-offs (events this process wrote, leased to its worker),
    /// half for deferred deliveries (leased while their endpoint was at its limits). Beyond
    /// it, events stay in the database (written without a lease, or their leases given back)
    /// for a later leasing round rather than in memory.
    #[arg(
        long = "delivery-waiting-bytes",
        env = "TURRIS_DELIVERY_WAITING_BYTES",
        default_value_t = DEFAULT_WAITING_BYTES,
        global = true
    )]
    pub waiting_bytes: usize,

    /// Pause of an idle worker before it looks for due deliveries again (a local enqueue
    /// wakes it at once), e.g. `500ms`.
    #[arg(
        long = "delivery-poll-interval",
        env = "TURRIS_DELIVERY_POLL_INTERVAL",
        default_value = "500ms",
        value_parser = parse_duration,
        global = true
    )]
    pub poll_interval: Duration,

    /// How long a leased delivery belongs to one worker unless renewed. The worker renews it
    /// every third of this while the attempt runs (the delivery timeout still bounds the
    /// attempt), so after a crash another worker retries the delivery within about this long.
    #[arg(
        long = "delivery-lease",
        env = "TURRIS_DELIVERY_LEASE",
        default_value = "10s",
        value_parser = parse_duration,
        global = true
    )]
    pub lease: Duration,

    /// Time limit of one delivery attempt (connect, send, answer).
    #[arg(
        long = "delivery-timeout",
        env = "TURRIS_DELIVERY_TIMEOUT",
        default_value = "20s",
        value_parser = parse_duration,
        global = true
    )]
    pub timeout: Duration,

    /// Delays before each automatic attempt, comma-separated (`0s,1m,5m,30m,2h,6h,12h,15h`
    /// by default: 8 attempts over about 36 hours).
    #[arg(
        long = "delivery-retry-schedule",
        env = "TURRIS_DELIVERY_RETRY_SCHEDULE",
        default_value = "0s,1m,5m,30m,2h,6h,12h,15h",
        value_parser = parse_schedule,
        global = true
    )]
    pub retry_schedule: Schedule,

    /// Spread of each retry delay, as a fraction (0.2 = ±20 %).
    #[arg(
        long = "delivery-retry-jitter",
        env = "TURRIS_DELIVERY_RETRY_JITTER",
        default_value_t = 0.2,
        global = true
    )]
    pub retry_jitter: f64,

    /// Delivered and failed events (with their attempts and payloads) older than this are
    /// pruned.
    #[arg(
        long = "delivery-retention",
        env = "TURRIS_DELIVERY_RETENTION",
        default_value = "30d",
        value_parser = parse_duration,
        global = true
    )]
    pub retention: Duration,

    /// How often the retention job runs.
    #[arg(
        long = "delivery-retention-interval",
        env = "TURRIS_DELIVERY_RETENTION_INTERVAL",
        default_value = "1h",
        value_parser = parse_duration,
        global = true
    )]
    pub retention_interval: Duration,

    /// After a webhook's secret is rotated, how long the replaced secret stays valid: requests
    /// carry both signatures meanwhile. A rotation may ask for another overlap, up to 7 days.
    #[arg(
        long = "webhook-secret-overlap",
        env = "TURRIS_WEBHOOK_SECRET_OVERLAP",
        default_value = "24h",
        value_parser = parse_overlap,
        global = true
    )]
    pub secret_overlap: Duration,

    /// The most webhooks one organization may register (creating one more answers 409).
    #[arg(
        long = "webhooks-per-organization",
        env = "TURRIS_WEBHOOKS_PER_ORGANIZATION",
        default_value_t = 50,
        global = true
    )]
    pub webhooks_per_organization: usize,

    /// Deliveries in flight to one endpoint at once, unless the endpoint sets its own
    /// (`PUT /api/v1/webhooks/{id}/limits`): a slow endpoint holds at most this many of the
    /// process's `TURRIS_DELIVERY_CONCURRENCY` slots.
    #[arg(
        long = "webhook-max-in-flight",
        env = "TURRIS_WEBHOOK_MAX_IN_FLIGHT",
        default_value_t = 16,
        global = true
    )]
    pub max_in_flight: u32,

    /// Delivery attempts per second to one endpoint, unless the endpoint sets its own (`0`:
    /// no limit). Counted per process.
    #[arg(
        long = "webhook-rate-limit",
        env = "TURRIS_WEBHOOK_RATE_LIMIT",
        default_value_t = 0,
        global = true
    )]
    pub rate_limit: u32,

    /// Failed events one recover job (`POST /api/v1/webhooks/{id}/recover`) sends back to
    /// the queue per second.
    #[arg(
        long = "webhook-recover-rate",
        env = "TURRIS_WEBHOOK_RECOVER_RATE",
        default_value_t = 100,
        global = true
    )]
    pub recover_rate: u32,

    /// An endpoint whose every attempt fails for this long is disabled, with a notification
    /// (`0s`: never; an endpoint answering 410 Gone is disabled at once either way).
    #[arg(
        long = "webhook-disable-after",
        env = "TURRIS_WEBHOOK_DISABLE_AFTER",
        default_value = "5d",
        value_parser = parse_duration,
        global = true
    )]
    pub disable_after: Duration,

    /// An operator's URL that receives a JSON `POST` when an endpoint is disabled (optional).
    #[arg(
        long = "operational-webhook-url",
        env = "TURRIS_OPERATIONAL_WEBHOOK_URL",
        hide_env_values = true,
        global = true
    )]
    pub operational_webhook_url: Option<String>,

    /// Signs the operational webhook's requests like every Turris webhook (`X-Turris-Signature`),
    /// 64 hex characters; unsigned without it.
    #[arg(
        long = "operational-webhook-secret",
        env = "TURRIS_OPERATIONAL_WEBHOOK_SECRET",
        hide_env_values = true,
        value_parser = parse_secret,
        global = true
    )]
    pub operational_webhook_secret: Option<WebhookSecret>,

    /// Compliance status changes are sent this long after the last change of a window.
    #[arg(
        long = "debounce-quiet",
        env = "TURRIS_DEBOUNCE_QUIET",
        default_value = "60s",
        value_parser = parse_duration,
        global = true
    )]
    pub debounce_quiet: Duration,

    /// Compliance status changes are sent at the latest this long after the first change of
    /// a window.
    #[arg(
        long = "debounce-max-wait",
        env = "TURRIS_DEBOUNCE_MAX_WAIT",
        default_value = "10m",
        value_parser = parse_duration,
        global = true
    )]
    pub debounce_max_wait: Duration,

    /// How often the debounce worker looks for windows to close.
    #[arg(
        long = "debounce-tick",
        env = "TURRIS_DEBOUNCE_TICK",
        default_value = "1s",
        value_parser = parse_duration,
        global = true
    )]
    pub debounce_tick: Duration,
}

/// The default of `TURRIS_DELIVERY_WAITING_BYTES`: 8 MiB of payloads waiting in memory, 4 MiB
/// of hand-offs and 4 MiB of deferred deliveries (thousands of typical events; a few hundred
/// large record payloads), so a backlog of large events stays in the database.
pub const DEFAULT_WAITING_BYTES: usize = 8 * 1024 * 1024;

/// The longest overlap of a secret rotation (`TURRIS_WEBHOOK_SECRET_OVERLAP` and the API's
/// `overlap_seconds`).
pub const MAX_SECRET_OVERLAP: Duration = Duration::from_secs(7 * 24 * 60 * 60);

fn parse_secret(text: &str) -> Result<WebhookSecret, String> {
    WebhookSecret::parse(text.trim()).map_err(|e| e.to_string())
}

fn parse_overlap(text: &str) -> Result<Duration, String> {
    let overlap = parse_duration(text)?;
    if overlap > MAX_SECRET_OVERLAP {
        return Err(format!(
            "`{text}` is longer than the 7 days a rotation may overlap"
        ));
    }
    Ok(overlap)
}

/// The longest accepted debounce quiet window (`TURRIS_DEBOUNCE_QUIET`).
pub const MAX_DEBOUNCE_QUIET: Duration = Duration::from_secs(60 * 60);
/// The longest accepted debounce window (`TURRIS_DEBOUNCE_MAX_WAIT`): changes held longer than
/// a day are no longer news, and open windows are rows kept that long.
pub const MAX_DEBOUNCE_MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

impl DeliverySettings {
    /// Refuses debounce windows beyond their documented maximums, or a quiet window longer
    /// than the whole window.
    pub fn check_debounce(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.debounce_quiet.is_zero() || self.debounce_quiet > MAX_DEBOUNCE_QUIET {
            problems.push("TURRIS_DEBOUNCE_QUIET must be more than 0s and at most 1h".to_owned());
        }
        if self.debounce_max_wait.is_zero() || self.debounce_max_wait > MAX_DEBOUNCE_MAX_WAIT {
            problems
                .push("TURRIS_DEBOUNCE_MAX_WAIT must be more than 0s and at most 24h".to_owned());
        }
        if self.debounce_quiet > self.debounce_max_wait {
            problems.push(
                "TURRIS_DEBOUNCE_QUIET must not be longer than TURRIS_DEBOUNCE_MAX_WAIT".to_owned(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The automatic retry schedule.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(self.retry_schedule.0.clone(), self.retry_jitter)
    }

    /// How long a run of failures disables an endpoint (`None`: never).
    pub fn disable_after(&self) -> Option<Duration> {
        Some(self.disable_after).filter(|d| !d.is_zero())
    }

    /// The payload bytes of hand-offs that may wait (half of `waiting_bytes`).
    pub fn handoff_bytes(&self) -> usize {
        self.waiting_bytes / 2
    }

    /// The payload bytes of deferred deliveries that may wait (the other half).
    pub fn deferred_bytes(&self) -> usize {
        self.waiting_bytes - self.handoff_bytes()
    }

    /// The limits of an endpoint that sets none of its own.
    pub fn endpoint_defaults(&self) -> super::fair::Limits {
        super::fair::Limits {
            max_in_flight: self.max_in_flight.max(1),
            rate: self.rate_limit,
        }
    }

    /// The debounce windows.
    pub fn debounce(&self) -> DebounceConfig {
        DebounceConfig {
            quiet: self.debounce_quiet,
            max_wait: self.debounce_max_wait,
        }
    }
}

impl fmt::Debug for DeliverySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliverySettings")
            .field("workers", &self.workers)
            .field("concurrency", &self.concurrency)
            .field("batch", &self.batch)
            .field("waiting_bytes", &self.waiting_bytes)
            .field("poll_interval", &self.poll_interval)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .field("retry_schedule", &self.retry_schedule.0)
            .field("retry_jitter", &self.retry_jitter)
            .field("retention", &self.retention)
            .field("retention_interval", &self.retention_interval)
            .field("secret_overlap", &self.secret_overlap)
            .field("disable_after", &self.disable_after)
            .field("webhooks_per_organization", &self.webhooks_per_organization)
            .field("max_in_flight", &self.max_in_flight)
            .field("rate_limit", &self.rate_limit)
            .field("recover_rate", &self.recover_rate)
            // The URL may carry a token: only whether it is set.
            .field(
                "operational_webhook_url",
                &self.operational_webhook_url.as_ref().map(|_| "[set]"),
            )
            .field("operational_webhook_secret", &self.operational_webhook_secret)
            .field("debounce_quiet", &self.debounce_quiet)
            .field("debounce_max_wait", &self.debounce_max_wait)
            .field("debounce_tick", &self.debounce_tick)
            .finish()
    }
}

/// Delays before each automatic attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<Duration>);

/// Parses `250ms`, `20s`, `5m`, `2h`, `30d` (a bare number is seconds; decimals allowed).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 20s, 5m, 2h or 30d"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (ms, s, m, h, d)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// Parses a comma-separated list of durations (at least one).
pub fn parse_schedule(text: &str) -> Result<Schedule, String> {
    let delays = text
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    if delays.is_empty() {
        return Err("the retry schedule needs at least one delay".into());
    }
    Ok(Schedule(delays))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_windows_are_bounded_by_their_documented_maximums() {
        let defaults =
            crate::config::Config::local("127.0.0.1:0".parse().unwrap(), "sqlite::memory:")
                .delivery;
        assert_eq!(defaults.check_debounce(), Ok(()));
        let check = |quiet: &str, max_wait: &str| {
            let mut settings = defaults.clone();
            settings.debounce_quiet = parse_duration(quiet).unwrap();
            settings.debounce_max_wait = parse_duration(max_wait).unwrap();
            settings.check_debounce()
        };
        assert_eq!(check("1h", "24h"), Ok(()));
        assert!(check("2h", "24h").unwrap_err().contains("at most 1h"));
        assert!(check("60s", "2d").unwrap_err().contains("at most 24h"));
        assert!(check("30m", "10m").unwrap_err().contains("not be longer"));
        assert!(check("0s", "10m").is_err());
    }

    #[test]
    fn durations_parse_with_their_units_and_garbage_is_refused() {
        let check = |text: &str, expected: Option<Duration>| {
            assert_eq!(parse_duration(text).ok(), expected, "{text}");
        };
        check("500ms", Some(Duration::from_millis(500)));
        check("20s", Some(Duration::from_secs(20)));
        check("20", Some(Duration::from_secs(20)));
        check("1.5s", Some(Duration::from_millis(1500)));
        check("5m", Some(Duration::from_secs(300)));
        check("2h", Some(Duration::from_secs(7200)));
        check("30d", Some(Duration::from_secs(30 * 86_400)));
        check("soon", None);
        assert_eq!(parse_overlap("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_overlap("8d").is_err());
        check("5 weeks", None);
        check("", None);
    }

    #[test]
    fn the_default_schedule_is_the_retry_policy_default() {
        let schedule = parse_schedule("0s,1m,5m,30m,2h,6h,12h,15h").unwrap();
        assert_eq!(schedule.0, RetryPolicy::default().schedule);
        assert!(parse_schedule("0s,,1m").is_err());
    }
}
