//! HubSpot's rate limits: the rolling ten-second budget per portal and app, and the search
//! budget per portal, answered with 429 and `policyName` like HubSpot.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::Principal;
use super::error::correlation_id;
use super::state::{Shared, lock};

/// The budgets the sandbox enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Whether limits are enforced at all.
    pub enabled: bool,
    /// Requests per rolling window per portal and app (HubSpot: 110 for public apps).
    pub per_window: u32,
    /// The rolling window (HubSpot: ten seconds).
    pub window: Duration,
    /// Search requests per second per portal (HubSpot: 5).
    pub search_per_second: u32,
    /// Requests per day per portal and app, if capped (HubSpot: 250,000 to 1,000,000); past it
    /// calls answer 429 `DAILY` until the day (24 h from the first call) is over.
    pub per_day: Option<u32>,
}

impl Default for RateLimits {
    /// HubSpot's public-app limits: 110 per 10 s, search 5 per second.
    fn default() -> Self {
        Self {
            enabled: true,
            per_window: 110,
            window: Duration::from_secs(10),
            search_per_second: 5,
            per_day: None,
        }
    }
}

impl RateLimits {
    /// No limits.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// Which budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Policy {
    TenSecondlyRolling,
    Secondly,
    Daily,
}

impl Policy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Policy::TenSecondlyRolling => "TEN_SECONDLY_ROLLING",
            Policy::Secondly => "SECONDLY",
            Policy::Daily => "DAILY",
        }
    }
}

/// Sliding logs of recent requests.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    pub(crate) limits: RateLimits,
    general: HashMap<(u64, u64), VecDeque<Instant>>,
    search: HashMap<u64, VecDeque<Instant>>,
    daily: HashMap<(u64, u64), (Instant, u32)>,
}

fn admit(log: &mut VecDeque<Instant>, limit: u32, window: Duration, now: Instant) -> Option<u32> {
    while log
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        log.pop_front();
    }
    if log.len() >= limit as usize {
        return None;
    }
    log.push_back(now);
    Some(limit - log.len() as u32)
}

impl RateLimiter {
    /// A limiter with these limits.
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Admits a request or names the policy that refuses it; answers the remaining budget.
    pub(crate) fn check(
        &mut self,
        principal: &Principal,
        search: bool,
        now: Instant,
    ) -> Result<u32, Policy> {
        if !self.limits.enabled {
            return Ok(self.limits.per_window);
        }
        const DAY: Duration = Duration::from_secs(24 * 60 * 60);
        let day_key = (principal.portal_id, principal.app_id);
        if let Some(cap) = self.limits.per_day {
            let (start, used) = self.daily.entry(day_key).or_insert((now, 0));
            if now.duration_since(*start) >= DAY {
                *start = now;
                *used = 0;
            }
            if *used >= cap {
                return Err(Policy::Daily);
            }
        }
        let verdict = if search {
            let log = self.search.entry(principal.portal_id).or_default();
            admit(
                log,
                self.limits.search_per_second,
                Duration::from_secs(1),
                now,
            )
            .ok_or(Policy::Secondly)
        } else {
            let log = self.general.entry(day_key).or_default();
            admit(log, self.limits.per_window, self.limits.window, now)
                .ok_or(Policy::TenSecondlyRolling)
        };
        if verdict.is_ok()
            && self.limits.per_day.is_some()
            && let Some((_, used)) = self.daily.get_mut(&day_key)
        {
            *used += 1;
        }
        verdict
    }

    /// Forgets recent requests.
    pub(crate) fn reset(&mut self) {
        self.general.clear();
        self.search.clear();
        self.daily.clear();
    }
}

/// The 429 HubSpot answers.
pub(crate) fn too_many(policy: Policy, limits: &RateLimits) -> Response {
    let message = match policy {
        Policy::TenSecondlyRolling => "You have reached your ten_secondly_rolling limit.",
        Policy::Secondly => "You have reached your secondly limit.",
        Policy::Daily => "You have reached your daily limit.",
    };
    let body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy.name(),
        "groupName": "publicapi:sandbox",
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    match policy {
        Policy::TenSecondlyRolling => {
            headers.insert(
                "x-hubspot-ratelimit-interval-milliseconds",
                HeaderValue::from(limits.window.as_millis() as u64),
            );
            headers.insert(
                "x-hubspot-ratelimit-max",
                HeaderValue::from(limits.per_window),
            );
            headers.insert("x-hubspot-ratelimit-remaining", HeaderValue::from(0u32));
        }
        Policy::Secondly => {
            headers.insert(
                "x-hubspot-ratelimit-secondly",
                HeaderValue::from(limits.search_per_second),
            );
            headers.insert(
                "x-hubspot-ratelimit-secondly-remaining",
                HeaderValue::from(0u32),
            );
        }
        Policy::Daily => {
            if let Some(cap) = limits.per_day {
                headers.insert("x-hubspot-ratelimit-daily", HeaderValue::from(cap));
            }
            headers.insert(
                "x-hubspot-ratelimit-daily-remaining",
                HeaderValue::from(0u32),
            );
        }
    }
    response
}

/// Middleware: enforces the budgets (after authentication).
pub(crate) async fn enforce(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(principal) = req.extensions().get::<Principal>().copied() else {
        return next.run(req).await;
    };
    let search = req.method() == Method::POST && req.uri().path().ends_with("/search");
    let (verdict, limits) = {
        let mut limiter = lock(&shared.limiter);
        (
            limiter.check(&principal, search, Instant::now()),
            limiter.limits,
        )
    };
    match verdict {
        Ok(remaining) => {
            let mut response = next.run(req).await;
            if limits.enabled && !search {
                let h = response.headers_mut();
                h.insert(
                    "x-hubspot-ratelimit-interval-milliseconds",
                    HeaderValue::from(limits.window.as_millis() as u64),
                );
                h.insert(
                    "x-hubspot-ratelimit-max",
                    HeaderValue::from(limits.per_window),
                );
                h.insert(
                    "x-hubspot-ratelimit-remaining",
                    HeaderValue::from(remaining),
                );
            }
            response
        }
        Err(policy) => {
            lock(&shared.traffic)
                .stats
                .record_rate_limited(policy.name());
            too_many(policy, &limits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(portal: u64, app: u64) -> Principal {
        Principal {
            portal_id: portal,
            app_id: app,
            private_app: false,
        }
    }

    fn limiter(per_window: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            per_window,
            window: Duration::from_secs(10),
            ..RateLimits::default()
        })
    }

    #[test]
    fn the_window_rolls_instead_of_refilling_a_bucket() {
        let mut l = limiter(3);
        let t0 = Instant::now();
        let p = principal(1, 1);
        for i in 0..3 {
            assert!(l.check(&p, false, t0 + Duration::from_secs(i)).is_ok());
        }
        // Nine seconds in, all three are still inside the window.
        assert_eq!(
            l.check(&p, false, t0 + Duration::from_secs(9)),
            Err(Policy::TenSecondlyRolling)
        );
        // At ten seconds the first one left it: one slot, not three.
        assert!(l.check(&p, false, t0 + Duration::from_secs(10)).is_ok());
        assert!(l.check(&p, false, t0 + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn portals_apps_and_search_have_separate_budgets() {
        let mut l = limiter(1);
        let now = Instant::now();
        assert!(l.check(&principal(1, 1), false, now).is_ok());
        assert!(l.check(&principal(1, 2), false, now).is_ok());
        assert!(l.check(&principal(2, 1), false, now).is_ok());
        assert!(l.check(&principal(1, 1), true, now).is_ok());
        assert_eq!(
            l.check(&principal(1, 1), false, now),
            Err(Policy::TenSecondlyRolling)
        );
    }

    #[test]
    fn a_refused_call_does_not_spend_the_daily_budget() {
        let mut l = RateLimiter::new(RateLimits {
            per_window: 1,
            per_day: Some(2),
            ..RateLimits::default()
        });
        let p = principal(1, 1);
        let t0 = Instant::now();
        assert!(l.check(&p, false, t0).is_ok());
        assert_eq!(l.check(&p, false, t0), Err(Policy::TenSecondlyRolling));
        assert!(l.check(&p, false, t0 + Duration::from_secs(11)).is_ok());
        assert_eq!(
            l.check(&p, false, t0 + Duration::from_secs(22)),
            Err(Policy::Daily)
        );
    }
}
