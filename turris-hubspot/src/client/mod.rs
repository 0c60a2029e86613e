//! The transport: base URL, auth header, rate limiting, retries, and the call observer.
mod retry;
mod send;

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

pub use retry::{MAX_RETRY_AFTER, RetryConfig};

use crate::auth::{AccessTokenSource, Secret};
use crate::rate_limit::{BudgetKind, RateLimiter};
use crate::version::{Api, ApiVersion};
use crate::{Error, Result};

/// HubSpot's API base.
pub const DEFAULT_API_BASE: &str = "https://api.hubapi.com";
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
    /// HubSpot's correlation id of the answer (`X-HubSpot-Correlation-Id`, or an error
    /// body's `correlationId`).
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(seg("123"), "123");
    }
}
