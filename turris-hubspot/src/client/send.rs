//! Sending a request: throttling, the daily-limit gate, retries and the one refresh on 401.

use std::time::{Duration, Instant};

use http::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::retry::{RETRYABLE_STATUSES, retry_after};
use super::{ApiCall, ApiRequest, HubSpotClient, RequestAuth};
use crate::auth::Secret;
use crate::rate_limit::BudgetKind;
use crate::{Error, HubSpotError, Result};

/// What one attempt means for the call.
enum Outcome {
    Done(u16, Vec<u8>),
    Retry(Duration),
    RefreshAndRetry(Secret),
    Fail(Error),
}

/// What came back from one attempt: the status, its `Retry-After`, its correlation id and the
/// body.
type Answer = std::result::Result<(u16, Option<Duration>, Option<String>, Vec<u8>), reqwest::Error>;

/// The header HubSpot names every answer by.
const CORRELATION_HEADER: &str = "x-hubspot-correlation-id";

/// A successful answer with HubSpot's name for it.
pub(crate) struct Traced {
    /// The 2xx status.
    pub(crate) status: u16,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// `X-HubSpot-Correlation-Id`, when HubSpot sent it.
    pub(crate) correlation_id: Option<String>,
}

impl HubSpotClient {
    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T> {
        self.send_json_traced(req).await.map(|(value, _)| value)
    }

    /// [`Self::send_json`], with the answer's correlation id.
    pub(crate) async fn send_json_traced<T: DeserializeOwned>(
        &self,
        req: ApiRequest,
    ) -> Result<(T, Option<String>)> {
        let path = req.path.clone();
        let answer = self.send_traced(req).await?;
        let value = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::Decode(format!("{path}: {e}")))?;
        Ok((value, answer.correlation_id))
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
        self.send_traced(req).await.map(|a| (a.status, a.body))
    }

    /// [`Self::send`], with the answer's correlation id.
    pub(crate) async fn send_traced(&self, req: ApiRequest) -> Result<Traced> {
        let inner = &*self.inner;
        let url = self.url(&req)?;
        let mut attempt = 1u32;
        let mut refreshed = false;
        let mut token: Option<Secret> = None;
        loop {
            self.wait_for_budget(&req).await?;
            if matches!(req.auth, RequestAuth::Bearer) && token.is_none() {
                token = Some(inner.tokens.access_token().await?);
            }
            let started = Instant::now();
            let answer = self.attempt(&req, &url, token.as_ref()).await;
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
            let outcome = match answer {
                Err(e) => self.transport_outcome(e, &req, attempt, &mut call),
                Ok((status, _, correlation, body)) if (200..300).contains(&status) => {
                    call.status = Some(status);
                    call.correlation_id = correlation;
                    Outcome::Done(status, body)
                }
                Ok((status, retry_after, correlation, body)) => {
                    let mut err = HubSpotError::from_response(status, &body);
                    err.correlation_id = err.correlation_id.or(correlation);
                    let rejected = token.as_ref().filter(|_| !refreshed);
                    self.status_outcome(err, retry_after, rejected, attempt, &mut call)
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
                Outcome::Done(status, body) => {
                    return Ok(Traced {
                        status,
                        body,
                        correlation_id: call.correlation_id,
                    });
                }
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
                    token = Some(self.refresh(&rejected, call.correlation_id).await?);
                }
            }
            attempt += 1;
        }
    }

    /// The request's URL: the API base, its path and query, and the developer API key when it
    /// authenticates with one.
    fn url(&self, req: &ApiRequest) -> Result<Url> {
        let mut url = Url::parse(&format!("{}{}", self.inner.api_base, req.path))
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
        Ok(url)
    }

    /// Waits for the request's rate-limit budget; a portal whose daily cap is spent is not
    /// called until it resets. The webhooks API (developer API key) is the app's, not the
    /// portal's, so it goes on.
    async fn wait_for_budget(&self, req: &ApiRequest) -> Result<()> {
        let inner = &*self.inner;
        if matches!(req.auth, RequestAuth::Bearer)
            && req.budget != BudgetKind::Unmetered
            && let Some(until) = inner
                .limiter
                .blocked_until(&inner.portal, chrono::Utc::now())
        {
            return Err(Error::DailyLimitBlocked { until });
        }
        inner.limiter.acquire(&inner.portal, req.budget).await;
        Ok(())
    }

    /// Sends the request once and reads the whole answer.
    async fn attempt(&self, req: &ApiRequest, url: &Url, token: Option<&Secret>) -> Answer {
        let mut builder = self.inner.http.request(req.method.clone(), url.clone());
        if let Some(token) = token {
            builder = builder.bearer_auth(token.expose());
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let resp = builder.send().await?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let correlation = resp
            .headers()
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        resp.bytes()
            .await
            .map(|b| (status, retry_after, correlation, b.to_vec()))
    }

    /// A request that never got an answer: sent again only when HubSpot cannot have acted on
    /// it, or when it is safe to repeat.
    fn transport_outcome(
        &self,
        e: reqwest::Error,
        req: &ApiRequest,
        attempt: u32,
        call: &mut ApiCall,
    ) -> Outcome {
        let retry = &self.inner.retry;
        // The URL may carry the developer API key (`hapikey`): never in error text.
        let e = crate::error::redacted(e);
        call.error = Some(e.to_string());
        // A failed connect never reached HubSpot; after a timeout it may have acted,
        // so only requests that are safe to repeat are sent again.
        let retryable = e.is_connect() || (e.is_timeout() && req.idempotent);
        if attempt < retry.max_attempts && retryable {
            Outcome::Retry(retry.backoff(attempt))
        } else {
            Outcome::Fail(Error::transport(e))
        }
    }

    /// An error status: refresh a rejected token once, stop at a spent daily limit, wait out
    /// a rate limit or transient trouble while attempts remain, else fail.
    fn status_outcome(
        &self,
        err: HubSpotError,
        retry_after: Option<Duration>,
        rejected: Option<&Secret>,
        attempt: u32,
        call: &mut ApiCall,
    ) -> Outcome {
        let inner = &*self.inner;
        let status = err.status;
        call.status = Some(status);
        call.category = err.category.clone();
        call.correlation_id = err.correlation_id.clone();
        call.error = Some(if err.message.is_empty() {
            format!("http {status}")
        } else {
            err.message.clone()
        });
        let can_retry = attempt < inner.retry.max_attempts;
        match status {
            401 if err.is_expired_authentication() => match rejected {
                Some(rejected) => Outcome::RefreshAndRetry(rejected.clone()),
                None => Outcome::Fail(Error::Api(Box::new(err))),
            },
            429 if err.policy_name.as_deref() == Some("DAILY") => {
                let now = chrono::Utc::now();
                let until = retry_after
                    .and_then(|after| chrono::Duration::from_std(after).ok())
                    .and_then(|after| now.checked_add_signed(after))
                    .unwrap_or_else(|| inner.limiter.next_daily_reset(&inner.portal, now));
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

    /// A fresh token after HubSpot rejected `rejected`; a 401 when there is none to have.
    async fn refresh(&self, rejected: &Secret, correlation_id: Option<String>) -> Result<Secret> {
        match self.inner.tokens.refresh_after_rejection(rejected).await? {
            Some(fresh) => Ok(fresh),
            None => Err(Error::Api(Box::new(HubSpotError {
                status: 401,
                category: Some("EXPIRED_AUTHENTICATION".to_owned()),
                sub_category: None,
                message: "access token expired and cannot be refreshed".to_owned(),
                correlation_id,
                policy_name: None,
                errors: Vec::new(),
                raw_body: None,
            }))),
        }
    }
}
