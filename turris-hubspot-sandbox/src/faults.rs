//! Traffic shaping and accounting: call counters per endpoint, injected faults and latency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::rate_limit::{Policy, RateLimits, too_many};
use super::state::{Shared, lock};

/// The header HubSpot names each answer by.
const CORRELATION_HEADER: &str = "x-hubspot-correlation-id";

/// A planned failure: the next `times` calls to `path` answer `status` (and `body`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    path: String,
    method: Option<String>,
    times: u32,
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
    delay: Duration,
    after_write: bool,
}

impl Fault {
    /// One 500 for the next call to `path` (a request path such as
    /// `/crm/v3/objects/contacts/batch/upsert`; a trailing `*` matches a prefix).
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            method: None,
            times: 1,
            status: 500,
            body: None,
            headers: Vec::new(),
            delay: Duration::ZERO,
            after_write: false,
        }
    }

    /// The call is carried out (its writes made, its webhooks sent) and only its answer is
    /// replaced by the fault: HubSpot acted, the caller never heard.
    pub fn after_write(mut self) -> Self {
        self.after_write = true;
        self
    }

    /// Only calls with this HTTP method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into().to_ascii_uppercase());
        self
    }

    /// The status to answer.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// How many calls fail.
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// The JSON body to answer (default: a HubSpot-shaped error for the status).
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// A header to answer, such as `Retry-After`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Wait this long before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        path_ok && self.method.as_deref().is_none_or(|m| m == method)
    }

    fn respond(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match &self.body {
            Some(body) => (status, axum::Json(body.clone())).into_response(),
            None if status == StatusCode::TOO_MANY_REQUESTS => {
                too_many(Policy::TenSecondlyRolling, &RateLimits::default())
            }
            None => {
                let category = match status.as_u16() {
                    400 => "VALIDATION_ERROR",
                    401 => "INVALID_AUTHENTICATION",
                    403 => "MISSING_SCOPES",
                    404 => "OBJECT_NOT_FOUND",
                    409 => "CONFLICT",
                    _ => "INTERNAL_ERROR",
                };
                let mut e = ApiError::new(status, category, "injected fault (HubSpot sandbox)");
                e.status = status;
                e.into_response()
            }
        };
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                response.headers_mut().insert(k, v);
            }
        }
        response
    }
}

/// Counters of the API traffic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Calls per endpoint, keyed `"METHOD /path/template"` (for example
    /// `"POST /crm/v3/objects/contacts/batch/upsert"`), including refused ones.
    pub calls: BTreeMap<String, u64>,
    /// Responses per HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// 429s the sandbox's own rate limits answered.
    pub rate_limited: u64,
    /// Those 429s per `policyName`.
    pub rate_limited_by_policy: BTreeMap<String, u64>,
    /// Calls answered by an injected fault.
    pub faults_injected: u64,
    /// Calls per API version: `v3` for the numbered paths, `2026-03`, `2026-09`, ... for the
    /// date-based ones.
    pub versions: BTreeMap<String, u64>,
}

impl Stats {
    /// Calls to one endpoint (`method`, path template).
    pub fn calls_to(&self, method: &str, path: &str) -> u64 {
        self.calls
            .get(&format!("{} {path}", method.to_ascii_uppercase()))
            .copied()
            .unwrap_or_default()
    }

    /// Every call counted.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    pub(crate) fn record_rate_limited(&mut self, policy: &str) {
        self.rate_limited += 1;
        *self
            .rate_limited_by_policy
            .entry(policy.to_string())
            .or_default() += 1;
    }
}

/// Latency, faults and counters.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) latency: Duration,
    pub(crate) faults: Vec<(Fault, u32)>,
    pub(crate) stats: Stats,
}

/// Middleware (outermost): counts the call, adds latency, answers an injected fault.
pub(crate) async fn shape(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_string());
    let version = req
        .extensions()
        .get::<crate::versions::DatedVersion>()
        .copied()
        .or_else(|| crate::versions::dated_in(&path))
        .map_or_else(|| "v3".to_owned(), |v| v.to_string());
    let (latency, fault) = {
        let mut traffic = lock(&shared.traffic);
        *traffic
            .stats
            .calls
            .entry(format!("{method} {template}"))
            .or_default() += 1;
        // The authorize page and the journal's files are not APIs with versions.
        if path != "/oauth/authorize" && !path.starts_with("/_sandbox/") {
            *traffic.stats.versions.entry(version).or_default() += 1;
        }
        let mut fault = None;
        if let Some((f, used)) = traffic
            .faults
            .iter_mut()
            .find(|(f, used)| *used < f.times && f.matches(&method, &path))
        {
            *used += 1;
            fault = Some(f.clone());
        }
        traffic.faults.retain(|(f, used)| *used < f.times);
        if fault.is_some() {
            traffic.stats.faults_injected += 1;
        }
        (traffic.latency, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut response = match fault {
        Some(f) => {
            if f.after_write {
                drop(next.run(req).await);
            }
            if !f.delay.is_zero() {
                tokio::time::sleep(f.delay).await;
            }
            f.respond()
        }
        None => next.run(req).await,
    };
    // HubSpot names every answer, successful or not, by a correlation id.
    if !response.headers().contains_key(CORRELATION_HEADER)
        && let Ok(id) = axum::http::HeaderValue::from_str(&crate::error::correlation_id())
    {
        response.headers_mut().insert(CORRELATION_HEADER, id);
    }
    *lock(&shared.traffic)
        .stats
        .statuses
        .entry(response.status().as_u16())
        .or_default() += 1;
    tracing::debug!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        "hubspot sandbox call"
    );
    response
}
