//! Retries: the policy, `Retry-After`, and what one answer means for the call.

use std::time::Duration;

use rand::Rng;

/// Statuses HubSpot answers for transient trouble; retried with backoff.
pub(super) const RETRYABLE_STATUSES: [u16; 5] = [423, 477, 502, 503, 504];

/// Retry policy for transient failures and rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Total attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    /// First backoff delay for 5xx/423/477 and connection errors; doubles each attempt.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Wait after a 429 `SECONDLY` without `Retry-After`.
    pub secondly_wait: Duration,
    /// Wait after a 429 `TEN_SECONDLY_ROLLING` (or unknown policy) without `Retry-After`.
    pub ten_secondly_wait: Duration,
    /// Cap on an honoured `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            secondly_wait: Duration::from_secs(1),
            ten_secondly_wait: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// Backoff before attempt `attempt + 1`: exponential, capped, with jitter in [d/2, d].
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        half + Duration::from_millis(extra)
    }
}

/// The longest `Retry-After` the client reads: a day, the longest HubSpot can mean (the daily
/// cap resets at the portal's midnight). Larger values are read as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` in seconds (HubSpot sends seconds; HTTP dates are ignored), at most
/// [`MAX_RETRY_AFTER`]. Negative, `NaN`, infinite and non-numeric values are ignored.
pub(super) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let seconds = value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)?;
    // `try_from_secs_f64` refuses what does not fit a `Duration`; the cap applies either way.
    Some(
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_the_cap() {
        let retry = RetryConfig {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryConfig::default()
        };
        for _ in 0..50 {
            let first = retry.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = retry.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = retry.backoff(30);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_garbage() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retry_after_survives_huge_negative_and_odd_values() {
        let check = |value: &str, expected: Option<Duration>| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
            assert_eq!(retry_after(&headers), expected, "{value:?}");
        };
        check("1e300", Some(MAX_RETRY_AFTER));
        check("18446744073709551616", Some(MAX_RETRY_AFTER));
        check("86401", Some(MAX_RETRY_AFTER));
        check("1.5", Some(Duration::from_millis(1500)));
        check("-1", None);
        check("-0", Some(Duration::ZERO));
        check("NaN", None);
        check("inf", None);
        check("1e309", None);
        check("0x10", None);
        check("", None);
    }
}
