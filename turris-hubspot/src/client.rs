//! The transport: base URL, auth header, rate limiting, retries, and the call observer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::{AccessTokenSource, Secret};
use crate::rate_limit::{BudgetKind, RateLimiter};
use crate::version::{Api, ApiVersion};
use crate::{Error, HubSpotError, Result};

/// HubSpot's API base.
pub const DEFAULT_API_BASE: &str = "https://api.hubapi.com";

/// Statuses HubSpot answers for transient trouble; retried with backoff.
const RETRYABLE_STATUSES: [u16; 5] = [423, 477, 502, 503, 504];

/// One HTTP call to HubSpot, as reported to the [`Observer`].
///
/// Never carries a token or the query string (which may hold a developer API key).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// HTTP method.
    pub method: Method,
    /// Path without query, e.g. `/crm/v3/objects/contacts/batch/create`.
    pub path: String,
    /// HTTP status, `None` when no answer came (connection error).
    pub status: Option<u16>,
    /// HubSpot error category, on error answers.
    pub category: Option<String>,
    /// HubSpot correlation id, on error answers.
    pub correlation_id: Option<String>,
    /// Error message (HubSpot's, or the transport's), on failures.
    pub error: Option<String>,
    /// Time from sending to the full answer.
    pub duration: Duration,
    /// Attempt number, starting at 1.
    pub attempt: u32,
    /// The record the call is about, when there is one.
    pub object_id: Option<String>,
}

impl ApiCall {
    /// Whether HubSpot answered 2xx.
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }
}

/// Receives every HTTP call the client makes (for an activity log, metrics, ...).
///
/// Called synchronously on the request path: keep it quick (push to a channel).
pub trait Observer: Send + Sync {
    /// One call finished (successfully or not).
    fn on_call(&self, call: &ApiCall);
}

/// An [`Observer`] that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn on_call(&self, _call: &ApiCall) {}
}

impl<F> Observer for F
where
    F: Fn(&ApiCall) + Send + Sync,
{
    fn on_call(&self, call: &ApiCall) {
        self(call)
    }
}

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
    fn backoff(&self, attempt: u32) -> Duration {
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

/// A HubSpot API client for one portal. Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use turris_hubspot::auth::{PrivateAppToken, Secret};
/// use turris_hubspot::crm::ObjectType;
/// use turris_hubspot::HubSpotClient;
///
/// # async fn run() -> turris_hubspot::Result<()> {
/// let http = reqwest::Client::new(); // one per process
/// let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new("pat-na1-..."))))
///     .http_client(http)
///     .portal("12345")
///     .build()?;
/// let contact = client.get_object(&ObjectType::Contacts, "51", &["email"]).await?;
/// println!("{:?}", contact.property("email"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HubSpotClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_base: String,
    tokens: Arc<dyn AccessTokenSource>,
    limiter: RateLimiter,
    portal: String,
    observer: Arc<dyn Observer>,
    retry: RetryConfig,
    version: ApiVersion,
}

impl std::fmt::Debug for HubSpotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotClient")
            .field("api_base", &self.inner.api_base)
            .field("portal", &self.inner.portal)
            .field("version", &self.inner.version)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HubSpotClient`].
pub struct HubSpotClientBuilder {
    tokens: Arc<dyn AccessTokenSource>,
    http: Option<reqwest::Client>,
    api_base: String,
    limiter: Option<RateLimiter>,
    portal: String,
    observer: Arc<dyn Observer>,
    retry: RetryConfig,
    version: ApiVersion,
}

impl HubSpotClientBuilder {
    /// The process-wide reqwest client (recommended; a new one is made otherwise).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The API base URL (default [`DEFAULT_API_BASE`]); point it at `turris-hubspot-sandbox` or
    /// a mock.
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self
    }

    /// The portal id, used as the rate-limit key (default `"default"`).
    pub fn portal(mut self, portal: impl ToString) -> Self {
        self.portal = portal.to_string();
        self
    }

    /// The process-wide rate limiter (default: a private one with public-app budgets).
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Who hears about every call (default [`NoopObserver`]).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The API version to call (default [`ApiVersion::default`], the date-based `2026-03`;
    /// [`ApiVersion::Legacy`] for the numbered v3/v4 paths).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// Retry policy (default [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the client; fails on an unusable base URL.
    pub fn build(self) -> Result<HubSpotClient> {
        let base = Url::parse(&self.api_base)
            .map_err(|e| Error::Config(format!("api base {:?}: {e}", self.api_base)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "api base {:?} is not http(s)",
                self.api_base
            )));
        }
        Ok(HubSpotClient {
            inner: Arc::new(Inner {
                http: self.http.unwrap_or_default(),
                api_base: self.api_base.trim_end_matches('/').to_owned(),
                tokens: self.tokens,
                limiter: self.limiter.unwrap_or_default(),
                portal: self.portal,
                observer: self.observer,
                retry: RetryConfig {
                    max_attempts: self.retry.max_attempts.max(1),
                    ..self.retry
                },
                version: self.version,
            }),
        })
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub(crate) enum RequestAuth {
    /// `Authorization: Bearer` from the token source.
    Bearer,
    /// The developer API key as `hapikey` query parameter (webhook subscriptions).
    HapiKey(Secret),
}

/// One request, before retries.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<serde_json::Value>,
    pub(crate) budget: BudgetKind,
    pub(crate) object_id: Option<String>,
    pub(crate) auth: RequestAuth,
    /// Whether sending it twice has the effect of sending it once. Only such requests are
    /// sent again after a timeout, when HubSpot may already have acted on the first one.
    pub(crate) idempotent: bool,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        ApiRequest {
            path: path.into(),
            query: Vec::new(),
            body: None,
            budget: BudgetKind::General,
            object_id: None,
            auth: RequestAuth::Bearer,
            idempotent: method_is_idempotent(&method),
            method,
        }
    }

    /// Marks a `POST` that reads, or writes the same state however often it is sent
    /// (search, batch read, update, upsert, archive, associate).
    pub(crate) fn idempotent(self) -> Self {
        self.idempotent_if(true)
    }

    /// [`ApiRequest::idempotent`] when `safe`.
    pub(crate) fn idempotent_if(mut self, safe: bool) -> Self {
        self.idempotent |= safe;
        self
    }

    pub(crate) fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn json<T: serde::Serialize>(mut self, body: &T) -> Result<Self> {
        self.body =
            Some(serde_json::to_value(body).map_err(|e| Error::Decode(format!("request: {e}")))?);
        Ok(self)
    }

    pub(crate) fn budget(mut self, budget: BudgetKind) -> Self {
        self.budget = budget;
        self
    }

    pub(crate) fn object_id(mut self, id: impl Into<String>) -> Self {
        self.object_id = Some(id.into());
        self
    }

    pub(crate) fn auth(mut self, auth: RequestAuth) -> Self {
        self.auth = auth;
        self
    }
}

fn method_is_idempotent(method: &Method) -> bool {
    method != Method::POST
}

/// Characters escaped in a path segment (everything but unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (an id coming from outside).
pub(crate) fn seg(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

enum Outcome {
    Done(u16, Vec<u8>),
    Retry(Duration),
    RefreshAndRetry(Secret),
    Fail(Error),
}

impl HubSpotClient {
    /// Starts building a client that authenticates with `tokens`.
    pub fn builder(tokens: Arc<dyn AccessTokenSource>) -> HubSpotClientBuilder {
        HubSpotClientBuilder {
            tokens,
            http: None,
            api_base: DEFAULT_API_BASE.to_owned(),
            limiter: None,
            portal: "default".to_owned(),
            observer: Arc::new(NoopObserver),
            retry: RetryConfig::default(),
            version: ApiVersion::default(),
        }
    }

    /// The portal id this client was built for (the rate-limit key).
    pub fn portal(&self) -> &str {
        &self.inner.portal
    }

    /// The API version this client calls.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.version
    }

    /// The path of `rest` in `api` at this client's version.
    pub(crate) fn path(&self, api: Api, rest: impl AsRef<str>) -> String {
        self.inner.version.path(api, rest.as_ref())
    }

    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T> {
        let path = req.path.clone();
        let (_, body) = self.send(req).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode(format!("{path}: {e}")))
    }

    /// Downloads a file HubSpot handed out by URL (a journal entry's data): a plain GET with no
    /// bearer token, since the URL carries its own authorization. Neither the URL nor its query
    /// reach errors or the observer.
    pub(crate) async fn fetch_file(&self, url: &str) -> Result<Vec<u8>> {
        let parsed = Url::parse(url).map_err(|_| Error::Decode("file url is not a URL".into()))?;
        let started = Instant::now();
        let result = self.inner.http.get(parsed.clone()).send().await;
        let mut call = ApiCall {
            method: Method::GET,
            path: parsed.path().to_owned(),
            status: None,
            category: None,
            correlation_id: None,
            error: None,
            duration: Duration::ZERO,
            attempt: 1,
            object_id: None,
        };
        let outcome = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                call.status = Some(status);
                match resp.bytes().await {
                    Ok(body) if (200..300).contains(&status) => Ok(body.to_vec()),
                    Ok(body) => Err(Error::Api(Box::new(HubSpotError::from_response(
                        status, &body,
                    )))),
                    Err(e) => Err(Error::transport(e)),
                }
            }
            Err(e) => Err(Error::transport(e)),
        };
        call.duration = started.elapsed();
        if let Err(e) = &outcome {
            call.error = Some(e.to_string());
        }
        self.inner.observer.on_call(&call);
        outcome
    }

    /// Sends a request and ignores the answer's body.
    pub(crate) async fn send_empty(&self, req: ApiRequest) -> Result<()> {
        self.send(req).await.map(|_| ())
    }

    /// Sends a request with throttling, retries and the one-refresh-on-401 rule.
    pub(crate) async fn send(&self, req: ApiRequest) -> Result<(u16, Vec<u8>)> {
        let inner = &*self.inner;
        let mut url = Url::parse(&format!("{}{}", inner.api_base, req.path))
            .map_err(|e| Error::Config(format!("url for {}: {e}", req.path)))?;
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
            if let RequestAuth::HapiKey(key) = &req.auth {
                pairs.append_pair("hapikey", key.expose());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }

        let mut attempt = 1u32;
        let mut refreshed = false;
        let mut token: Option<Secret> = None;
        loop {
            // A portal whose daily cap is spent is not called until it resets. The webhooks API
            // (developer API key) is the app's, not the portal's, so it goes on.
            if matches!(req.auth, RequestAuth::Bearer)
                && req.budget != BudgetKind::Unmetered
                && let Some(until) = inner
                    .limiter
                    .blocked_until(&inner.portal, chrono::Utc::now())
            {
                return Err(Error::DailyLimitBlocked { until });
            }
            inner.limiter.acquire(&inner.portal, req.budget).await;
            if matches!(req.auth, RequestAuth::Bearer) && token.is_none() {
                token = Some(inner.tokens.access_token().await?);
            }
            let mut builder = inner.http.request(req.method.clone(), url.clone());
            if let Some(token) = &token {
                builder = builder.bearer_auth(token.expose());
            }
            if let Some(body) = &req.body {
                builder = builder.json(body);
            }
            let started = Instant::now();
            let result = match builder.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = retry_after(resp.headers());
                    resp.bytes()
                        .await
                        .map(|b| (status, retry_after, b.to_vec()))
                }
                Err(e) => Err(e),
            };
            let mut call = ApiCall {
                method: req.method.clone(),
                path: req.path.clone(),
                status: None,
                category: None,
                correlation_id: None,
                error: None,
                duration: started.elapsed(),
                attempt,
                object_id: req.object_id.clone(),
            };
            let outcome = match result {
                Err(e) => {
                    // The URL may carry the developer API key (`hapikey`): never in error text.
                    let e = crate::error::redacted(e);
                    call.error = Some(e.to_string());
                    // A failed connect never reached HubSpot; after a timeout it may have acted,
                    // so only requests that are safe to repeat are sent again.
                    let retryable = e.is_connect() || (e.is_timeout() && req.idempotent);
                    if attempt < inner.retry.max_attempts && retryable {
                        Outcome::Retry(inner.retry.backoff(attempt))
                    } else {
                        Outcome::Fail(Error::transport(e))
                    }
                }
                Ok((status, _, body)) if (200..300).contains(&status) => {
                    call.status = Some(status);
                    Outcome::Done(status, body)
                }
                Ok((status, retry_after, body)) => {
                    call.status = Some(status);
                    let err = HubSpotError::from_response(status, &body);
                    call.category = err.category.clone();
                    call.correlation_id = err.correlation_id.clone();
                    call.error = Some(if err.message.is_empty() {
                        format!("http {status}")
                    } else {
                        err.message.clone()
                    });
                    let can_retry = attempt < inner.retry.max_attempts;
                    match status {
                        401 if err.is_expired_authentication() && !refreshed => match &token {
                            Some(rejected) => Outcome::RefreshAndRetry(rejected.clone()),
                            None => Outcome::Fail(Error::Api(Box::new(err))),
                        },
                        429 if err.policy_name.as_deref() == Some("DAILY") => {
                            let now = chrono::Utc::now();
                            let until = retry_after
                                .and_then(|after| chrono::Duration::from_std(after).ok())
                                .and_then(|after| now.checked_add_signed(after))
                                .unwrap_or_else(|| {
                                    inner.limiter.next_daily_reset(&inner.portal, now)
                                });
                            inner.limiter.block_until(&inner.portal, until);
                            Outcome::Fail(Error::DailyLimit {
                                error: Box::new(err),
                                until,
                            })
                        }
                        429 if can_retry => {
                            let wait = match (retry_after, err.policy_name.as_deref()) {
                                (Some(after), _) => after.min(inner.retry.max_retry_after),
                                (None, Some("SECONDLY")) => inner.retry.secondly_wait,
                                (None, _) => inner.retry.ten_secondly_wait,
                            };
                            Outcome::Retry(wait)
                        }
                        s if RETRYABLE_STATUSES.contains(&s) && can_retry => {
                            let wait = retry_after
                                .map(|a| a.min(inner.retry.max_retry_after))
                                .unwrap_or_else(|| inner.retry.backoff(attempt));
                            Outcome::Retry(wait)
                        }
                        _ => Outcome::Fail(Error::Api(Box::new(err))),
                    }
                }
            };
            inner.observer.on_call(&call);
            tracing::debug!(
                method = %call.method,
                path = %call.path,
                status = ?call.status,
                attempt,
                "hubspot call"
            );
            match outcome {
                Outcome::Done(status, body) => return Ok((status, body)),
                Outcome::Fail(err) => return Err(err),
                Outcome::Retry(wait) if call.status == Some(429) => {
                    // Hold back every caller of this portal's budget, this one included.
                    inner.limiter.pause(&inner.portal, req.budget, wait).await;
                }
                Outcome::Retry(wait) => {
                    tokio::time::sleep(wait).await;
                }
                Outcome::RefreshAndRetry(rejected) => {
                    refreshed = true;
                    match inner.tokens.refresh_after_rejection(&rejected).await? {
                        Some(fresh) => token = Some(fresh),
                        None => {
                            let err = HubSpotError {
                                status: 401,
                                category: Some("EXPIRED_AUTHENTICATION".to_owned()),
                                sub_category: None,
                                message: "access token expired and cannot be refreshed".to_owned(),
                                correlation_id: call.correlation_id,
                                policy_name: None,
                                errors: Vec::new(),
                                raw_body: None,
                            };
                            return Err(Error::Api(Box::new(err)));
                        }
                    }
                }
            }
            attempt += 1;
        }
    }
}

/// The longest `Retry-After` the client reads: a day, the longest HubSpot can mean (the daily
/// cap resets at the portal's midnight). Larger values are read as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` in seconds (HubSpot sends seconds; HTTP dates are ignored), at most
/// [`MAX_RETRY_AFTER`]. Negative, `NaN`, infinite and non-numeric values are ignored.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
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

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(seg("123"), "123");
    }
}
