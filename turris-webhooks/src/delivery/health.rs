//! When an endpoint is disabled: a receiver that answers 410 Gone at once, one that fails every
//! attempt for a configured period after that period; and when it asked to be left alone
//! (`Retry-After` on 429 or 503). Pure: the server applies them in its store, atomically with
//! the attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AttemptReport;

/// The longest a `Retry-After` holds an endpoint back: 1 hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// How long an endpoint asked to be left alone: a 429 or 503 answer's `Retry-After`, at most
/// [`MAX_RETRY_AFTER`]. Every delivery to the endpoint waits that long, not only this one.
///
/// ```
/// use std::time::Duration;
/// use chrono::Utc;
/// use turris_webhooks::delivery::{AttemptReport, MAX_RETRY_AFTER, requested_pause};
///
/// let report = |status: u16, retry_after: Option<u64>| AttemptReport {
///     started_at: Utc::now(), finished_at: Utc::now(), status_code: Some(status), error: None,
///     url: String::new(), success: false, response_body: None,
///     retry_after: retry_after.map(Duration::from_secs),
/// };
/// assert_eq!(requested_pause(&report(429, Some(120))), Some(Duration::from_secs(120)));
/// assert_eq!(requested_pause(&report(503, Some(86_400))), Some(MAX_RETRY_AFTER));
/// assert_eq!(requested_pause(&report(500, Some(120))), None);
/// assert_eq!(requested_pause(&report(429, None)), None);
/// ```
pub fn requested_pause(report: &AttemptReport) -> Option<Duration> {
    if !matches!(report.status_code, Some(429 | 503)) {
        return None;
    }
    report.retry_after.map(|asked| asked.min(MAX_RETRY_AFTER))
}

/// Why an endpoint was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DisableReason {
    /// The receiver answered 410 Gone: it asked to receive nothing more.
    Gone,
    /// Every attempt failed for the whole configured period.
    Failing,
}

impl DisableReason {
    /// `gone` or `failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Gone => "gone",
            DisableReason::Failing => "failing",
        }
    }

    /// Parses [`DisableReason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "gone" => Some(DisableReason::Gone),
            "failing" => Some(DisableReason::Failing),
            _ => None,
        }
    }
}

/// What an attempt means for its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthVerdict {
    /// It succeeded: the endpoint is healthy, its run of failures ends.
    Healthy,
    /// It failed; the run of failures started at `since`.
    Failing {
        /// The first failure of the run (this attempt's end if it is the first).
        since: DateTime<Utc>,
    },
    /// It failed, and the endpoint must be disabled.
    Disable(DisableReason),
}

/// Judges one attempt: `failing_since` is when the endpoint's current run of failures started
/// (`None` when its last attempt succeeded), `disable_after` the period after which a run of
/// failures disables it (`None`: only 410 disables).
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeZone, Utc};
/// use turris_webhooks::delivery::{AttemptReport, DisableReason, HealthVerdict, judge};
///
/// let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
/// let report = |status: u16| AttemptReport {
///     started_at: at, finished_at: at, status_code: Some(status), error: None,
///     url: String::new(), success: (200..300).contains(&status), response_body: None,
///     retry_after: None,
/// };
/// let five_days = Some(Duration::from_secs(5 * 86_400));
/// assert_eq!(judge(&report(204), Some(at), five_days), HealthVerdict::Healthy);
/// assert_eq!(judge(&report(410), None, five_days), HealthVerdict::Disable(DisableReason::Gone));
/// assert_eq!(judge(&report(500), None, five_days), HealthVerdict::Failing { since: at });
/// let long_ago = at - chrono::Duration::days(5);
/// assert_eq!(judge(&report(500), Some(long_ago), five_days), HealthVerdict::Disable(DisableReason::Failing));
/// ```
pub fn judge(
    report: &AttemptReport,
    failing_since: Option<DateTime<Utc>>,
    disable_after: Option<Duration>,
) -> HealthVerdict {
    if report.success {
        return HealthVerdict::Healthy;
    }
    if report.status_code == Some(410) {
        return HealthVerdict::Disable(DisableReason::Gone);
    }
    let since = failing_since.map_or(report.finished_at, |s| s.min(report.finished_at));
    let failed_for = (report.finished_at - since).to_std().unwrap_or_default();
    match disable_after {
        Some(period) if failed_for >= period => HealthVerdict::Disable(DisableReason::Failing),
        _ => HealthVerdict::Failing { since },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn report(status: Option<u16>, at: i64) -> AttemptReport {
        let at = Utc.timestamp_opt(at, 0).unwrap();
        AttemptReport {
            started_at: at,
            finished_at: at,
            status_code: status,
            error: None,
            url: String::new(),
            success: status.is_some_and(|s| (200..300).contains(&s)),
            response_body: None,
            retry_after: None,
        }
    }

    #[test]
    fn verdicts_follow_the_status_and_the_length_of_the_run_of_failures() {
        let t = |s: i64| Utc.timestamp_opt(s, 0).unwrap();
        let day = Some(Duration::from_secs(86_400));
        let check = |status, at, since, after, expected| {
            assert_eq!(
                judge(&report(status, at), since, after),
                expected,
                "{status:?} at {at} since {since:?}"
            );
        };
        use HealthVerdict::*;
        check(Some(200), 10, Some(t(0)), day, Healthy);
        check(Some(410), 10, None, None, Disable(DisableReason::Gone));
        check(Some(503), 10, None, day, Failing { since: t(10) });
        check(None, 10, Some(t(5)), day, Failing { since: t(5) });
        check(Some(500), 86_399, Some(t(0)), day, Failing { since: t(0) });
        check(
            Some(500),
            86_400,
            Some(t(0)),
            day,
            Disable(DisableReason::Failing),
        );
        check(
            Some(500),
            900_000,
            Some(t(0)),
            None,
            Failing { since: t(0) },
        );
        // A failure recorded late (older than the run's start) moves the start back.
        check(Some(500), 3, Some(t(5)), day, Failing { since: t(3) });
    }

    #[test]
    fn reasons_round_trip_through_their_text() {
        for reason in [DisableReason::Gone, DisableReason::Failing] {
            assert_eq!(DisableReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(DisableReason::parse("tired"), None);
    }
}
