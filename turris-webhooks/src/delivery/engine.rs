//! Sends one signed event to one endpoint.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{AttemptReport, EventId};
use crate::clock::{Clock, SystemClock};
use crate::secret::WebhookSecret;
use crate::signature::SignedHeaders;
use crate::url::{GuardedResolver, UrlPolicy, WebhookUrl};

/// How the engine sends.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The whole attempt (connect, send, response, bounded body) must finish within this.
    /// Default 20 s.
    pub timeout: Duration,
    /// How much of the response body is kept for the log. Default 4 KiB.
    pub max_response_body: usize,
    /// Which addresses may be connected to. Checked at every connection.
    pub url_policy: UrlPolicy,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_response_body: 4096,
            url_policy: UrlPolicy::strict(),
            user_agent: concat!("Turris-Webhooks/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("http client: {0}")]
pub struct EngineError(#[from] reqwest::Error);

/// One event to send.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryRequest<'a> {
    /// Sent as `X-Turris-Event-Id` and `webhook-id`.
    pub event_id: EventId,
    /// Where to.
    pub url: &'a WebhookUrl,
    /// Signs the request.
    pub secret: &'a WebhookSecret,
    /// Also signs it during a secret rotation's overlap (a second `X-Turris-Signature`).
    pub previous_secret: Option<&'a WebhookSecret>,
    /// The serialized envelope, sent unchanged.
    pub body: &'a Bytes,
}

/// Sends signed events over HTTP: no redirects, a timeout, a bounded response body, and the
/// SSRF policy enforced at connection time.
#[derive(Debug, Clone)]
pub struct DeliveryEngine {
    client: reqwest::Client,
    config: Arc<DeliveryConfig>,
    clock: Arc<dyn Clock>,
}

impl DeliveryEngine {
    /// An engine on the system clock.
    pub fn new(config: DeliveryConfig) -> Result<Self, EngineError> {
        let resolver = GuardedResolver {
            policy: Arc::new(config.url_policy.clone()),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .no_proxy()
            .user_agent(config.user_agent.clone())
            .dns_resolver(Arc::new(resolver))
            .build()?;
        Ok(Self {
            client,
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses `clock` for signature timestamps and attempt times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// Makes one attempt. Never fails: every problem is a failed [`AttemptReport`].
    pub async fn send(&self, request: DeliveryRequest<'_>) -> AttemptReport {
        let started_at = self.clock.now();
        let url = request.url.to_string();
        let mut report = AttemptReport {
            started_at,
            finished_at: started_at,
            status_code: None,
            error: None,
            url,
            success: false,
            response_body: None,
            retry_after: None,
        };
        if let Some(ip) = request.url.ip_host() {
            if let Err(e) = self.config.url_policy.check_ip(ip) {
                report.error = Some(e.to_string());
                return report;
            }
        }
        let attempt = self.attempt(request, started_at, &mut report);
        match tokio::time::timeout(self.config.timeout, attempt).await {
            Ok(Ok(())) => {}
            // The endpoint URL may carry a secret in its query or user info: error text never
            // holds it (reqwest's errors print the URL).
            Ok(Err(e)) => report.error = Some(describe(&e.without_url(), self.config.timeout)),
            Err(_) => report.error = Some(timed_out(self.config.timeout)),
        }
        report.finished_at = self.clock.now();
        report.success =
            report.error.is_none() && report.status_code.is_some_and(|s| (200..300).contains(&s));
        report
    }

    async fn attempt(
        &self,
        request: DeliveryRequest<'_>,
        started_at: DateTime<Utc>,
        report: &mut AttemptReport,
    ) -> Result<(), reqwest::Error> {
        let event_id = request.event_id.to_string();
        let signed = SignedHeaders::rotating(
            request.secret,
            request.previous_secret,
            &event_id,
            started_at.timestamp(),
            request.body,
        );
        let mut builder = self
            .client
            .post(request.url.as_url().clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(request.body.clone());
        for (name, value) in signed.pairs() {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await?;
        let status = response.status();
        report.status_code = Some(status.as_u16());
        report.retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.clock.now()));
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(location_for_log);
        let mut body = Vec::new();
        while body.len() < self.config.max_response_body {
            match response.chunk().await? {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
        }
        body.truncate(self.config.max_response_body);
        if !body.is_empty() {
            report.response_body = Some(String::from_utf8_lossy(&body).into_owned());
        }
        if status.is_redirection() {
            report.error = Some(match location {
                Some(to) => format!("redirect to {to} not followed"),
                None => "redirect not followed".to_owned(),
            });
        } else if !status.is_success() {
            report.error = Some(format!("endpoint answered {status}"));
        }
        Ok(())
    }
}

/// A `Location` as the error text may show it: scheme, host, port and path, without user info,
/// query or fragment (where a receiver may put a token), and at most 200 characters.
fn location_for_log(location: &str) -> String {
    let shown = match url::Url::parse(location) {
        Ok(url) if url.has_host() => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.path()
            )
        }
        // A relative reference (`/ok?sig=...`), or something that is not a URL at all.
        _ => location
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    shown.chars().take(200).collect()
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} ms", timeout.as_millis())
}

fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return timed_out(timeout);
    }
    let mut deepest: &dyn std::error::Error = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    let kind = if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    format!("{kind}: {deepest}")
}

/// Parses `Retry-After` (delay in seconds or an HTTP date) into a delay from `now`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use std::time::Duration;
/// use turris_webhooks::delivery::parse_retry_after;
///
/// let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}
