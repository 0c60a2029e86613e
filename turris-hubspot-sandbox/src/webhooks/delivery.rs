//! The background sender: batches of at most 100 events, signed (v3 and v1), retried with
//! doubling backoff, logged, and waited for deterministically.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, Semaphore, watch};

use super::events::Pending;
use crate::state::lock;

/// How webhook deliveries are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookRetry {
    /// Attempts in all, the first included (HubSpot: 10).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles after each.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How long a receiver may take to answer (HubSpot: 5 s).
    pub timeout: Duration,
}

impl Default for WebhookRetry {
    /// HubSpot's ten attempts, on a shortened schedule (200 ms doubling, at most 5 s).
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Disorder HubSpot allows itself ("unordered and possibly duplicated"), on demand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookChaos {
    /// Send every acknowledged batch a second time (same events, same ids).
    pub duplicate: bool,
    /// Reverse the order of the events in each batch.
    pub reverse: bool,
    /// Hold each batch a random time up to this long before its first attempt, so batches
    /// overtake each other (a flush cuts the wait short).
    pub delay: Duration,
}

/// One POST of a batch of events to the target URL.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryAttempt {
    /// The target URL.
    pub url: String,
    /// 0 for the first attempt, then 1, 2, ...
    pub attempt_number: u32,
    /// The event ids in the batch.
    pub event_ids: Vec<u64>,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The transport error, if it did not.
    pub error: Option<String>,
    /// When the attempt was made.
    pub at: DateTime<Utc>,
}

impl DeliveryAttempt {
    /// Whether the receiver acknowledged with a 2xx.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

const LOG_CAP: usize = 10_000;

#[derive(Debug)]
struct DispatchInner {
    queue: Mutex<VecDeque<Pending>>,
    wake: Notify,
    outstanding: watch::Sender<usize>,
    hurry: watch::Sender<u64>,
    attempts: Mutex<VecDeque<DeliveryAttempt>>,
    delivered: Mutex<VecDeque<Value>>,
    retry: Mutex<WebhookRetry>,
    chaos: Mutex<WebhookChaos>,
    batch_window: Duration,
    secret: String,
    semaphore: Arc<Semaphore>,
    concurrency: Mutex<usize>,
    http: reqwest::Client,
}

/// The background sender of webhook batches.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    inner: Arc<DispatchInner>,
}

/// Decodes the percent-escapes HubSpot decodes before signing a URI.
pub(crate) fn decode_uri_for_signature(uri: &str) -> String {
    const ESCAPES: &[(&str, &str)] = &[
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let candidate = rest.get(pos..pos + 3).unwrap_or("");
        match ESCAPES
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(candidate))
        {
            Some((_, c)) => {
                out.push_str(c);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp.
pub(crate) fn sign_v3(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: i64,
) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(method.as_bytes());
    mac.update(decode_uri_for_signature(uri).as_bytes());
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The v1 signature: hex SHA-256 of secret + body.
pub(crate) fn sign_v1(secret: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

impl Dispatcher {
    /// A dispatcher signing with the app's client secret.
    pub(crate) fn new(secret: String, retry: WebhookRetry, batch_window: Duration) -> Self {
        let http = reqwest::Client::builder()
            .user_agent("HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon-executor (sandbox)")
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(DispatchInner {
                queue: Mutex::new(VecDeque::new()),
                wake: Notify::new(),
                outstanding: watch::Sender::new(0),
                hurry: watch::Sender::new(0),
                attempts: Mutex::new(VecDeque::new()),
                delivered: Mutex::new(VecDeque::new()),
                retry: Mutex::new(retry),
                chaos: Mutex::new(WebhookChaos::default()),
                batch_window,
                secret,
                semaphore: Arc::new(Semaphore::new(10)),
                concurrency: Mutex::new(10),
                http,
            }),
        }
    }

    /// Queues events for delivery.
    pub(crate) fn enqueue(&self, events: Vec<Pending>) {
        if events.is_empty() {
            return;
        }
        let n = events.len();
        self.inner.outstanding.send_modify(|o| *o += n);
        lock(&self.inner.queue).extend(events);
        self.inner.wake.notify_one();
    }

    /// Changes the retry policy.
    pub(crate) fn set_retry(&self, retry: WebhookRetry) {
        *lock(&self.inner.retry) = retry;
    }

    /// How many batches may be in flight at once (the app's `maxConcurrentRequests`).
    pub(crate) fn set_max_concurrent(&self, max: usize) {
        let mut current = lock(&self.inner.concurrency);
        let max = max.max(1);
        if max > *current {
            self.inner.semaphore.add_permits(max - *current);
            *current = max;
        } else {
            // Only idle permits can be withdrawn now; busy ones come back later.
            *current -= self.inner.semaphore.forget_permits(*current - max);
        }
    }

    /// Changes the deliberate disorder of deliveries.
    pub(crate) fn set_chaos(&self, chaos: WebhookChaos) {
        *lock(&self.inner.chaos) = chaos;
    }

    /// Events not yet acknowledged or given up.
    pub(crate) fn outstanding(&self) -> usize {
        *self.inner.outstanding.borrow()
    }

    /// Skips the batching window and any backoff now in progress.
    pub(crate) fn hurry(&self) {
        self.inner.hurry.send_modify(|g| *g += 1);
        self.inner.wake.notify_one();
    }

    /// Waits until every queued event was acknowledged or given up.
    pub(crate) async fn wait_idle(&self) {
        let mut rx = self.inner.outstanding.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Sends now and waits until nothing is outstanding (retries skip their backoff).
    pub(crate) async fn flush(&self) {
        let mut rx = self.inner.outstanding.subscribe();
        loop {
            self.hurry();
            if *rx.borrow_and_update() == 0 {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Every attempt made so far (the most recent 10,000).
    pub(crate) fn attempts(&self) -> Vec<DeliveryAttempt> {
        lock(&self.inner.attempts).iter().cloned().collect()
    }

    /// Every event acknowledged so far (the most recent 10,000), as sent on its last attempt.
    pub(crate) fn delivered(&self) -> Vec<Value> {
        lock(&self.inner.delivered).iter().cloned().collect()
    }

    /// Runs the sender until `shutdown` flips.
    pub(crate) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let mut hurry = self.inner.hurry.subscribe();
            tokio::select! {
                () = self.inner.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if !self.inner.batch_window.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(self.inner.batch_window) => {}
                    _ = hurry.changed() => {}
                }
            }
            loop {
                let batch = self.take_batch();
                if batch.is_empty() {
                    break;
                }
                let permit = tokio::select! {
                    p = Arc::clone(&self.inner.semaphore).acquire_owned() => p,
                    _ = shutdown.changed() => return,
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.deliver(batch).await;
                    drop(permit);
                });
            }
        }
    }

    fn take_batch(&self) -> Vec<Pending> {
        let mut queue = lock(&self.inner.queue);
        let Some(url) = queue.front().map(|p| p.url.clone()) else {
            return Vec::new();
        };
        let mut batch = Vec::new();
        while batch.len() < 100 && queue.front().is_some_and(|p| p.url == url) {
            if let Some(p) = queue.pop_front() {
                batch.push(p);
            }
        }
        batch
    }

    /// POSTs one signed batch and logs the attempt.
    async fn post(&self, url: &str, events: &mut [Value], attempt: u32, ids: &[u64]) -> bool {
        let retry = *lock(&self.inner.retry);
        for e in events.iter_mut() {
            e["attemptNumber"] = json!(attempt);
        }
        let body = serde_json::to_vec(&events).unwrap_or_default();
        let ts = Utc::now().timestamp_millis();
        let result = self
            .inner
            .http
            .post(url)
            .timeout(retry.timeout)
            .header("content-type", "application/json")
            .header("x-hubspot-signature", sign_v1(&self.inner.secret, &body))
            .header("x-hubspot-signature-version", "v1")
            .header(
                "x-hubspot-signature-v3",
                sign_v3(&self.inner.secret, "POST", url, &body, ts),
            )
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(body)
            .send()
            .await;
        let (status, error) = match &result {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let record = DeliveryAttempt {
            url: url.to_string(),
            attempt_number: attempt,
            event_ids: ids.to_vec(),
            status,
            error,
            at: Utc::now(),
        };
        let ok = record.succeeded();
        let mut log = lock(&self.inner.attempts);
        if log.len() >= LOG_CAP {
            log.pop_front();
        }
        log.push_back(record);
        ok
    }

    async fn deliver(&self, batch: Vec<Pending>) {
        let n = batch.len();
        let url = batch.first().map(|p| p.url.clone()).unwrap_or_default();
        let mut events: Vec<Value> = batch.into_iter().map(|p| p.event).collect();
        let chaos = *lock(&self.inner.chaos);
        if chaos.reverse {
            events.reverse();
        }
        let ids: Vec<u64> = events
            .iter()
            .filter_map(|e| e["eventId"].as_u64())
            .collect();
        if !chaos.delay.is_zero() {
            let mut hurry = self.inner.hurry.subscribe();
            let held = rand::random_range(0..=chaos.delay.as_millis() as u64);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(held)) => {}
                _ = hurry.changed() => {}
            }
        }
        let mut attempt: u32 = 0;
        loop {
            // Subscribed before the POST, so a flush during it cuts the next backoff short.
            let mut hurry = self.inner.hurry.subscribe();
            if self.post(&url, &mut events, attempt, &ids).await {
                {
                    let mut delivered = lock(&self.inner.delivered);
                    for e in &events {
                        if delivered.len() >= LOG_CAP {
                            delivered.pop_front();
                        }
                        delivered.push_back(e.clone());
                    }
                }
                if chaos.duplicate {
                    self.post(&url, &mut events, attempt, &ids).await;
                }
                break;
            }
            let retry = *lock(&self.inner.retry);
            attempt += 1;
            if attempt >= retry.max_attempts {
                tracing::warn!(url = %url, events = n, "sandbox webhook batch given up");
                break;
            }
            let backoff = retry
                .initial_backoff
                .saturating_mul(1u32 << (attempt - 1).min(20))
                .min(retry.max_backoff);
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = hurry.changed() => {}
            }
        }
        self.inner
            .outstanding
            .send_modify(|o| *o = o.saturating_sub(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uri_decoding_keeps_escapes_hubspot_does_not_list() {
        for (uri, expected) in [
            ("https://h/p?a=b", "https://h/p?a=b"),
            ("https://h/p%3Fq%3A1", "https://h/p?q:1"),
            ("https://h/a%2fb%2Cc", "https://h/a/b,c"),
            ("https://h/x%20y%26z", "https://h/x%20y%26z"),
            ("https://h/100%", "https://h/100%"),
            ("https://h/%4", "https://h/%4"),
        ] {
            assert_eq!(decode_uri_for_signature(uri), expected, "{uri}");
        }
    }

    #[test]
    fn the_sandbox_signs_exactly_as_the_client_verifies() {
        let body = br#"[{"eventId":1}]"#;
        for uri in [
            "http://127.0.0.1:9/hooks",
            "https://example.com/hubspot/webhooks?tenant=a%3Ab&x=%2Fy",
            "https://example.com/h%20ook?q=%28a%29%2A",
        ] {
            let ts = 1_767_323_045_000_i64;
            let ours = sign_v3("secret", "POST", uri, body, ts);
            let theirs = turris_hubspot::webhooks::signature::sign_v3(
                "secret",
                "POST",
                uri,
                body,
                &ts.to_string(),
            );
            assert_eq!(ours, theirs, "{uri}");
            assert_eq!(
                sign_v1("secret", body),
                turris_hubspot::webhooks::signature::sign_v1("secret", body)
            );
        }
    }
}
