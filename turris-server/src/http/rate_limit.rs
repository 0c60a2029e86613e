//! Per-token request rate limiting: a `governor` keyed limiter (GCRA) whose key is the API
//! token's id, never its secret. The layer authenticates the bearer token once and leaves the
//! [`Caller`] in the request's extensions for the handler; requests without a valid API token
//! pass through (their handlers answer 401, or they use the admin or metrics token).
//!
//! Over the limit: 429 `rate_limited` in the API's error shape, with `Retry-After` in seconds.
//!
//! In front of it, [`bound_in_flight`] bounds the API requests the process works on at once
//! (`TURRIS_MAX_IN_FLIGHT`): past the bound a request is answered 429 `overloaded` at once, so
//! an overload (more events a second than the database takes) pushes back on the senders
//! instead of queueing requests in memory. Health and metrics are never refused. Each refusal
//! counts in `/metrics` (`turris_api_overloaded_total`); the log says so at most once a second,
//! so an overload does not flood it.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::app::AppState;
use crate::auth::Caller;
use crate::crypto::ApiToken;
use crate::error::ApiError;
use crate::store::ApiTokenId;

/// Requests per token: a sustained rate and a burst.
pub struct TokenRateLimiter {
    limiter: DefaultKeyedRateLimiter<ApiTokenId>,
    clock: DefaultClock,
}

impl TokenRateLimiter {
    /// `per_second` requests a second with bursts of `burst`; `None` when `per_second` is 0
    /// (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        })
    }

    /// `Ok` when `token` may make one more request now, else how long to wait.
    pub fn check(&self, token: &ApiTokenId) -> Result<(), std::time::Duration> {
        self.limiter
            .check_key(token)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// The middleware (see the module docs).
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(limiter) = state.rate_limiter() else {
        return next.run(request).await;
    };
    let Some(token) = crate::auth::bearer_header(request.headers()) else {
        return next.run(request).await;
    };
    let hash = ApiToken::from_presented(token).hash();
    let principal = match state.db().authenticate(&hash, Utc::now()).await {
        Ok(Some(principal)) => principal,
        // Unknown token (or the admin's, or the metrics'), or a database error: the handler
        // decides, as it would without this layer.
        _ => return next.run(request).await,
    };
    if let Err(wait) = limiter.check(&principal.token.id) {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        tracing::warn!(token = %principal.token.id.0, org = %principal.organization.id, "rate limited");
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests with this token; retry after {seconds} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    request
        .extensions_mut()
        .insert(Caller::from_principal(principal));
    next.run(request).await
}

/// The in-flight bound (see the module docs).
pub async fn bound_in_flight(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(bound) = state.in_flight() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let Ok(permit) = bound.clone().try_acquire_owned() else {
        if let Some(refused) = state.refusals().refuse(Utc::now().timestamp()) {
            tracing::warn!(path = %path, refused_since_start = refused, "overloaded: refusing API requests (logged at most once a second)");
        }
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            "the server is working on as many requests as it takes at once; retry after 1 s",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        return response;
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

/// API requests refused past the in-flight bound, and when the log last said so.
#[derive(Debug, Default)]
pub struct Refusals {
    total: AtomicU64,
    /// The Unix second of the last log line (`0`: none yet).
    logged: AtomicU64,
}

impl Refusals {
    /// Counts one refusal at Unix second `now`; the total so far when a log line is due (the
    /// first refusal of a second).
    pub fn refuse(&self, now: i64) -> Option<u64> {
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(now).unwrap_or(0).max(1);
        let last = self.logged.load(Ordering::Relaxed);
        (now > last
            && self
                .logged
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok())
        .then_some(total)
    }

    /// Requests refused since the process started.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::Refusals;

    #[test]
    fn every_refusal_counts_and_the_log_speaks_once_a_second() {
        let refusals = Refusals::default();
        assert_eq!(refusals.refuse(100), Some(1));
        assert_eq!(refusals.refuse(100), None);
        assert_eq!(refusals.refuse(100), None);
        assert_eq!(refusals.refuse(101), Some(4));
        // A clock stepping back logs nothing new.
        assert_eq!(refusals.refuse(99), None);
        assert_eq!(refusals.total(), 5);
    }
}
