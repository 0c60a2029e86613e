//! Time as an explicit input, so the delivery engine, dispatcher and tests never need to sleep.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests, simulations).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use turris_webhooks::{Clock, ManualClock};
///
/// let clock = ManualClock::new(Utc.timestamp_opt(0, 0).unwrap());
/// clock.advance(std::time::Duration::from_secs(60));
/// assert_eq!(clock.now().timestamp(), 60);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward (at most to the last representable instant).
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = saturating_add(*now, by);
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `at + d`, or the last representable instant when that is beyond it. `DateTime + TimeDelta`
/// panics on overflow, and `TimeDelta::MAX` (the usual fallback of `from_std`) always does.
pub(crate) fn saturating_add(at: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn adding_any_duration_saturates_instead_of_panicking() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            saturating_add(start, Duration::from_secs(60)).timestamp(),
            60
        );
        assert_eq!(
            saturating_add(start, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            saturating_add(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
        let clock = ManualClock::new(start);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    }
}
