//! Webhooks: the subscriptions and settings API of the app, the events every change produces,
//! and the background dispatcher that batches (≤ 100), signs (v1 and v3) and retries them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, Semaphore, watch};

use super::crm::objects::{json_id, query_pairs};
use super::error::{ApiError, ApiResult, parse_json};
use super::state::{ObjectKind, Shared, World, iso, lock};

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeSource {
    /// An API call by an app (public or private).
    Integration {
        /// The app id.
        app_id: u64,
    },
    /// A person in HubSpot's UI (the control API).
    CrmUi {
        /// The HubSpot user id.
        user_id: u64,
    },
}

/// One change to a record.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Created {
        kind: ObjectKind,
        id: u64,
        properties: Vec<(String, String)>,
    },
    PropertyChanged {
        kind: ObjectKind,
        id: u64,
        name: String,
        value: String,
    },
    Deleted {
        kind: ObjectKind,
        id: u64,
    },
    Merged {
        kind: ObjectKind,
        primary: u64,
        merged: u64,
        moved: u64,
    },
    Association {
        from: (ObjectKind, u64),
        to: (ObjectKind, u64),
        primary: bool,
        removed: bool,
    },
}

/// A webhook subscription of the app.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    id: u64,
    event_type: String,
    property_name: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Subscription {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "eventType": self.event_type,
            "active": self.active,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        });
        if let Some(p) = &self.property_name {
            v["propertyName"] = json!(p);
        }
        v
    }
}

/// The app's webhook configuration.
#[derive(Debug)]
pub(crate) struct WebhookApp {
    subscriptions: BTreeMap<u64, Subscription>,
    next_subscription_id: u64,
    pub(crate) target_url: Option<String>,
    pub(crate) max_concurrent: u32,
    settings_at: Option<(DateTime<Utc>, DateTime<Utc>)>,
    next_event_id: u64,
}

impl WebhookApp {
    /// No subscriptions; an optional target URL.
    pub(crate) fn new(target_url: Option<String>) -> Self {
        let now = Utc::now();
        Self {
            subscriptions: BTreeMap::new(),
            next_subscription_id: 100_001,
            settings_at: target_url.as_ref().map(|_| (now, now)),
            target_url,
            max_concurrent: 10,
            next_event_id: 1,
        }
    }

    /// Adds a subscription; 409 when one with the same type and property exists.
    pub(crate) fn subscribe(
        &mut self,
        event_type: &str,
        property_name: Option<&str>,
        active: bool,
    ) -> ApiResult<u64> {
        const TYPES: &[&str] = &[
            "contact.creation",
            "contact.deletion",
            "contact.propertyChange",
            "contact.associationChange",
            "contact.merge",
            "contact.restore",
            "contact.privacyDeletion",
            "company.creation",
            "company.deletion",
            "company.propertyChange",
            "company.associationChange",
            "company.merge",
            "company.restore",
            "deal.creation",
            "deal.deletion",
            "deal.propertyChange",
            "deal.associationChange",
        ];
        if !TYPES.contains(&event_type) {
            return Err(ApiError::validation(format!(
                "eventType {event_type} is not a supported subscription type"
            )));
        }
        let is_property = event_type.ends_with(".propertyChange");
        if is_property && property_name.is_none_or(str::is_empty) {
            return Err(ApiError::validation(
                "propertyName is required for propertyChange subscriptions",
            ));
        }
        let property_name = if is_property { property_name } else { None };
        if self
            .subscriptions
            .values()
            .any(|s| s.event_type == event_type && s.property_name.as_deref() == property_name)
        {
            return Err(ApiError::conflict(format!(
                "A subscription for {event_type}{} already exists.",
                property_name
                    .map(|p| format!(" on {p}"))
                    .unwrap_or_default()
            )));
        }
        let id = self.next_subscription_id;
        self.next_subscription_id += 1;
        let now = Utc::now();
        self.subscriptions.insert(
            id,
            Subscription {
                id,
                event_type: event_type.to_string(),
                property_name: property_name.map(str::to_string),
                active,
                created_at: now,
                updated_at: now,
            },
        );
        Ok(id)
    }

    fn set_active(&mut self, id: u64, active: bool) -> ApiResult<&Subscription> {
        let sub = self
            .subscriptions
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(format!("subscription {id} does not exist")))?;
        if sub.active != active {
            sub.active = active;
            sub.updated_at = Utc::now();
        }
        Ok(sub)
    }

    /// Sets the target URL.
    pub(crate) fn set_target(&mut self, url: Option<String>) {
        let now = Utc::now();
        self.settings_at = url
            .as_ref()
            .map(|_| (self.settings_at.map_or(now, |(c, _)| c), now));
        self.target_url = url;
    }

    fn settings_json(&self) -> Value {
        let (created, updated) = self.settings_at.unwrap_or((Utc::now(), Utc::now()));
        json!({
            "targetUrl": self.target_url,
            "throttling": { "maxConcurrentRequests": self.max_concurrent, "period": "SECONDLY" },
            "createdAt": iso(created),
            "updatedAt": iso(updated),
        })
    }
}

/// An event waiting to be delivered to `url`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    url: String,
    event: Value,
}

fn association_type(from: ObjectKind, to: ObjectKind) -> String {
    format!(
        "{}_TO_{}",
        from.singular().to_uppercase(),
        to.singular().to_uppercase()
    )
}

impl World {
    /// The webhook events a batch of changes in a portal produces for the app.
    pub(crate) fn webhook_events(
        &mut self,
        portal_id: u64,
        changes: &[Change],
        source: ChangeSource,
    ) -> Vec<Pending> {
        let installed = self
            .portals
            .get(&portal_id)
            .is_some_and(|p| p.app_installed);
        let app = &mut self.webhooks;
        let Some(url) = app.target_url.clone() else {
            return Vec::new();
        };
        if !installed || changes.is_empty() || app.subscriptions.is_empty() {
            return Vec::new();
        }
        let (change_source, source_id) = match source {
            ChangeSource::Integration { app_id } => ("INTEGRATION", app_id.to_string()),
            ChangeSource::CrmUi { user_id } => ("CRM_UI", format!("userId:{user_id}")),
        };
        let occurred = Utc::now().timestamp_millis();
        let app_id = self.app_id;
        let mut out = Vec::new();
        let subs: Vec<Subscription> = app
            .subscriptions
            .values()
            .filter(|s| s.active)
            .cloned()
            .collect();
        let mut emit = |sub: &Subscription, fields: Value, app: &mut WebhookApp| {
            let mut event = json!({
                "eventId": app.next_event_id,
                "subscriptionId": sub.id,
                "portalId": portal_id,
                "appId": app_id,
                "occurredAt": occurred,
                "subscriptionType": sub.event_type,
                "attemptNumber": 0,
                "changeSource": change_source,
                "sourceId": source_id,
            });
            app.next_event_id += 1;
            if let (Some(e), Value::Object(extra)) = (event.as_object_mut(), fields) {
                e.extend(extra);
            }
            out.push(Pending {
                url: url.clone(),
                event,
            });
        };
        fn find<'a>(
            subs: &'a [Subscription],
            t: &str,
            prop: Option<&str>,
        ) -> Vec<&'a Subscription> {
            subs.iter()
                .filter(|s| s.event_type == t && s.property_name.as_deref() == prop)
                .collect()
        }
        for change in changes {
            match change {
                Change::Created {
                    kind,
                    id,
                    properties,
                } => {
                    for sub in find(&subs, &format!("{}.creation", kind.singular()), None) {
                        emit(sub, json!({ "objectId": id, "changeFlag": "CREATED" }), app);
                    }
                    let t = format!("{}.propertyChange", kind.singular());
                    for (name, value) in properties {
                        for sub in find(&subs, &t, Some(name)) {
                            emit(
                                sub,
                                json!({ "objectId": id, "propertyName": name, "propertyValue": value }),
                                app,
                            );
                        }
                    }
                }
                Change::PropertyChanged {
                    kind,
                    id,
                    name,
                    value,
                } => {
                    for sub in find(
                        &subs,
                        &format!("{}.propertyChange", kind.singular()),
                        Some(name),
                    ) {
                        emit(
                            sub,
                            json!({ "objectId": id, "propertyName": name, "propertyValue": value }),
                            app,
                        );
                    }
                }
                Change::Merged {
                    kind,
                    primary,
                    merged,
                    moved,
                } => {
                    for sub in find(&subs, &format!("{}.merge", kind.singular()), None) {
                        emit(
                            sub,
                            json!({
                                "objectId": primary,
                                "primaryObjectId": primary,
                                "mergedObjectIds": [primary, merged],
                                "newObjectId": primary,
                                "numberOfPropertiesMoved": moved,
                            }),
                            app,
                        );
                    }
                }
                Change::Deleted { kind, id } => {
                    for sub in find(&subs, &format!("{}.deletion", kind.singular()), None) {
                        emit(sub, json!({ "objectId": id, "changeFlag": "DELETED" }), app);
                    }
                }
                Change::Association {
                    from,
                    to,
                    primary,
                    removed,
                } => {
                    for (a, b) in [(from, to), (to, from)] {
                        for sub in find(
                            &subs,
                            &format!("{}.associationChange", a.0.singular()),
                            None,
                        ) {
                            emit(
                                sub,
                                json!({
                                    "associationType": association_type(a.0, b.0),
                                    "fromObjectId": a.1,
                                    "toObjectId": b.1,
                                    "associationRemoved": removed,
                                    "isPrimaryAssociation": primary,
                                }),
                                app,
                            );
                        }
                    }
                }
            }
        }
        out
    }
}

/// How webhook deliveries are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
pub struct WebhookChaos {
    /// Send every acknowledged batch a second time (same events, same ids).
    pub duplicate: bool,
    /// Reverse the order of the events in each batch.
    pub reverse: bool,
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

fn check_app(
    shared: &Shared,
    app_id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> ApiResult<()> {
    let key = &shared.identity.developer_api_key;
    let from_query = query_pairs(query)
        .into_iter()
        .any(|(k, v)| k == "hapikey" && v == *key);
    let from_header = headers
        .get("x-hubspot-developer-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == key);
    let from_bearer = super::auth::bearer(headers).is_some_and(|v| v == key);
    if !(from_query || from_header || from_bearer) {
        return Err(ApiError::invalid_auth(
            "The webhooks API needs the app's developer API key (hapikey query parameter).",
        ));
    }
    if app_id != shared.identity.app_id.to_string() {
        return Err(ApiError::not_found(format!("app {app_id} does not exist")));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewSubscription {
    event_type: String,
    #[serde(default)]
    property_name: Option<String>,
    #[serde(default)]
    active: bool,
}

async fn list_subscriptions(
    State(shared): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let world = shared.world();
    let results: Vec<Value> = world
        .webhooks
        .subscriptions
        .values()
        .map(Subscription::to_json)
        .collect();
    Ok(axum::Json(json!({ "results": results })).into_response())
}

async fn create_subscription(
    State(shared): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let input: NewSubscription = parse_json(&body)?;
    let mut world = shared.world();
    let id = world.webhooks.subscribe(
        &input.event_type,
        input.property_name.as_deref(),
        input.active,
    )?;
    let out = world
        .webhooks
        .subscriptions
        .get(&id)
        .map(Subscription::to_json);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

fn sub_id(raw: &str) -> ApiResult<u64> {
    raw.parse()
        .map_err(|_| ApiError::validation(format!("{raw} is not a valid subscription id")))
}

async fn get_subscription(
    State(shared): State<Arc<Shared>>,
    Path((app_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let id = sub_id(&id)?;
    let world = shared.world();
    let sub = world
        .webhooks
        .subscriptions
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("subscription {id} does not exist")))?;
    Ok(axum::Json(sub.to_json()).into_response())
}

#[derive(Deserialize)]
struct Patch {
    active: bool,
}

async fn update_subscription(
    State(shared): State<Arc<Shared>>,
    Path((app_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let id = sub_id(&id)?;
    let patch: Patch = parse_json(&body)?;
    let mut world = shared.world();
    let out = world.webhooks.set_active(id, patch.active)?.to_json();
    Ok(axum::Json(out).into_response())
}

async fn delete_subscription(
    State(shared): State<Arc<Shared>>,
    Path((app_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let id = sub_id(&id)?;
    let mut world = shared.world();
    world
        .webhooks
        .subscriptions
        .remove(&id)
        .ok_or_else(|| ApiError::not_found(format!("subscription {id} does not exist")))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct BatchInput {
    id: Value,
    active: bool,
}

#[derive(Deserialize)]
struct Batch {
    inputs: Vec<BatchInput>,
}

async fn batch_update(
    State(shared): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let batch: Batch = parse_json(&body)?;
    if batch.inputs.len() > 100 {
        return Err(super::crm::objects::too_many_inputs(batch.inputs.len()));
    }
    let mut world = shared.world();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &batch.inputs {
        let id = json_id(&input.id)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| ApiError::validation("each input needs a numeric id"))?;
        match world.webhooks.set_active(id, input.active) {
            Ok(sub) => results.push(sub.to_json()),
            Err(_) => missing.push(id.to_string()),
        }
    }
    let mut out = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(Utc::now()),
    });
    let status = if missing.is_empty() {
        StatusCode::OK
    } else {
        out["numErrors"] = json!(1);
        out["errors"] = json!([{
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Some subscriptions do not exist.",
            "context": { "ids": missing },
        }]);
        StatusCode::MULTI_STATUS
    };
    Ok((status, axum::Json(out)).into_response())
}

async fn get_settings(
    State(shared): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let world = shared.world();
    if world.webhooks.target_url.is_none() {
        return Err(ApiError::not_found("webhook settings are not configured"));
    }
    Ok(axum::Json(world.webhooks.settings_json()).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    target_url: String,
    #[serde(default)]
    throttling: Option<Throttling>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Throttling {
    max_concurrent_requests: u32,
}

async fn put_settings(
    State(shared): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    let settings: Settings = parse_json(&body)?;
    let parsed = url::Url::parse(&settings.target_url).map_err(|_| {
        ApiError::validation(format!(
            "targetUrl {} is not a valid URL",
            settings.target_url
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::validation("targetUrl must be an http(s) URL"));
    }
    let mut world = shared.world();
    world.webhooks.set_target(Some(settings.target_url));
    if let Some(t) = settings.throttling {
        if !(1..=100).contains(&t.max_concurrent_requests) {
            return Err(ApiError::validation(
                "throttling.maxConcurrentRequests must be between 1 and 100",
            ));
        }
        world.webhooks.max_concurrent = t.max_concurrent_requests;
    }
    Ok(axum::Json(world.webhooks.settings_json()).into_response())
}

async fn delete_settings(
    State(shared): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_app(&shared, &app_id, &headers, q.as_deref())?;
    shared.world().webhooks.set_target(None);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/webhooks/v3/{appId}/...`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/webhooks/v3/{app_id}/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/webhooks/v3/{app_id}/subscriptions/batch/update",
            post(batch_update),
        )
        .route(
            "/webhooks/v3/{app_id}/subscriptions/{id}",
            get(get_subscription)
                .patch(update_subscription)
                .delete(delete_subscription),
        )
        .route(
            "/webhooks/v3/{app_id}/settings",
            get(get_settings).put(put_settings).delete(delete_settings),
        )
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
            let theirs =
                crate::webhooks::signature::sign_v3("secret", "POST", uri, body, &ts.to_string());
            assert_eq!(ours, theirs, "{uri}");
            assert_eq!(
                sign_v1("secret", body),
                crate::webhooks::signature::sign_v1("secret", body)
            );
        }
    }
}
