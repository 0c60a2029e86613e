use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use turris_webhooks::RetryPolicy;
use turris_webhooks::delivery::{DeliveryConfig, parse_retry_after};

const MIN: u64 = 60;
const HOUR: u64 = 3600;

#[test]
fn the_default_schedule_is_eight_attempts_over_about_a_day_and_a_half() {
    let policy = RetryPolicy::default();
    let secs: Vec<u64> = policy.schedule.iter().map(Duration::as_secs).collect();
    assert_eq!(
        secs,
        [
            0,
            MIN,
            5 * MIN,
            30 * MIN,
            2 * HOUR,
            6 * HOUR,
            12 * HOUR,
            15 * HOUR
        ]
    );
    assert_eq!(policy.max_attempts(), 8);
    assert_eq!(policy.jitter, 0.2);
    let total: u64 = secs.iter().sum();
    assert_eq!(total, 35 * HOUR + 36 * MIN);
}

#[test]
fn the_default_delivery_timeout_is_twenty_seconds_with_a_four_kib_log_body() {
    let config = DeliveryConfig::default();
    assert_eq!(config.timeout, Duration::from_secs(20));
    assert_eq!(config.max_response_body, 4096);
    assert!(!config.url_policy.allow_insecure_loopback);
}

#[test]
fn the_first_attempt_is_immediate_and_there_is_none_after_the_last() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.next_delay_with(0, None, 0.99), Some(Duration::ZERO));
    assert_eq!(
        policy.next_delay_with(7, None, 0.5),
        Some(Duration::from_secs(15 * HOUR))
    );
    assert_eq!(policy.next_delay_with(8, None, 0.5), None);
    assert_eq!(policy.next_delay(8, Some(Duration::from_secs(1))), None);
}

#[test]
fn a_custom_schedule_is_used_as_given() {
    let policy = RetryPolicy::new(vec![Duration::ZERO, Duration::from_secs(10)], 0.0);
    assert_eq!(policy.max_attempts(), 2);
    assert_eq!(policy.next_delay(1, None), Some(Duration::from_secs(10)));
    assert_eq!(policy.next_delay(2, None), None);
}

#[test]
fn retry_after_accepts_seconds_and_http_dates() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after(" 3600 ", now),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 2026 12:05:00 GMT", now),
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now),
        Some(Duration::ZERO),
        "a past date means now"
    );
    assert_eq!(parse_retry_after("-5", now), None);
    assert_eq!(parse_retry_after("tomorrow", now), None);
}

proptest! {
    #[test]
    fn jitter_stays_within_twenty_percent_of_the_scheduled_delay(made in 1u32..8, sample in 0.0f64..1.0) {
        let policy = RetryPolicy::default();
        let scheduled = policy.schedule[made as usize].as_secs_f64();
        let delay = policy.next_delay_with(made, None, sample).unwrap().as_secs_f64();
        prop_assert!(delay >= scheduled * 0.8 - 1e-6 && delay <= scheduled * 1.2 + 1e-6, "{} vs {}", delay, scheduled);
    }

    #[test]
    fn retry_after_is_honoured_within_one_to_two_times_the_scheduled_delay(made in 1u32..8, asked in 0u64..200_000) {
        let policy = RetryPolicy::default();
        let scheduled = policy.schedule[made as usize];
        let delay = policy.next_delay_with(made, Some(Duration::from_secs(asked)), 0.5).unwrap();
        prop_assert!(delay >= scheduled && delay <= scheduled * 2);
        if Duration::from_secs(asked) >= scheduled && Duration::from_secs(asked) <= scheduled * 2 {
            prop_assert_eq!(delay, Duration::from_secs(asked));
        }
    }

    #[test]
    fn random_jitter_stays_in_bounds(made in 1u32..8) {
        let policy = RetryPolicy::default();
        let scheduled = policy.schedule[made as usize].as_secs_f64();
        let delay = policy.next_delay(made, None).unwrap().as_secs_f64();
        prop_assert!(delay >= scheduled * 0.8 - 1e-6 && delay <= scheduled * 1.2 + 1e-6);
    }
}
