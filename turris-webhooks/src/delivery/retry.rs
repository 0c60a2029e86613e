//! When to try again.

use std::time::Duration;

/// The automatic retry schedule.
///
/// `schedule[i]` is the delay before automatic attempt `i + 1` (the first is normally 0:
/// immediately). Each delay is spread by ±`jitter` (a fraction). A `Retry-After` from the
/// endpoint is honoured within `[d, 2d]`, where `d` is the scheduled delay.
///
/// ```
/// use std::time::Duration;
/// use turris_webhooks::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts(), 8);
/// // After the first attempt failed, the next comes 1 minute later, ±20 %.
/// let d = policy.next_delay_with(1, None, 0.5).unwrap();
/// assert_eq!(d, Duration::from_secs(60));
/// assert_eq!(policy.next_delay_with(1, None, 0.0).unwrap(), Duration::from_secs(48));
/// // A Retry-After of 10 minutes is capped at twice the scheduled delay.
/// assert_eq!(policy.next_delay_with(1, Some(Duration::from_secs(600)), 0.5).unwrap(), Duration::from_secs(120));
/// // After eight attempts there is no next one.
/// assert_eq!(policy.next_delay_with(8, None, 0.5), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Delay before each automatic attempt, the first included.
    pub schedule: Vec<Duration>,
    /// Spread of each delay, as a fraction (0.2 = ±20 %).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 8 attempts over about 36 hours: immediately, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 15 h.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            schedule: vec![
                Duration::ZERO,
                minutes(1),
                minutes(5),
                minutes(30),
                minutes(2 * 60),
                minutes(6 * 60),
                minutes(12 * 60),
                minutes(15 * 60),
            ],
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// A policy with the given delays and jitter.
    pub fn new(schedule: Vec<Duration>, jitter: f64) -> Self {
        Self {
            schedule,
            jitter: jitter.clamp(0.0, 1.0),
        }
    }

    /// How many automatic attempts are made at most.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.schedule.len()).unwrap_or(u32::MAX)
    }

    /// The delay before the next attempt after `attempts_made` automatic attempts failed, or
    /// `None` when they are exhausted. `sample` in `[0, 1)` picks the jitter (0.5 = none).
    pub fn next_delay_with(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
        sample: f64,
    ) -> Option<Duration> {
        let scheduled = *self.schedule.get(usize::try_from(attempts_made).ok()?)?;
        if let Some(asked) = retry_after {
            return Some(asked.clamp(scheduled, scheduled.saturating_mul(2)));
        }
        let factor = 1.0 + self.jitter * (2.0 * sample.clamp(0.0, 1.0) - 1.0);
        Some(scheduled.mul_f64(factor.max(0.0)))
    }

    /// [`RetryPolicy::next_delay_with`] with a random jitter.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.next_delay_with(attempts_made, retry_after, rand::random::<f64>())
    }
}
