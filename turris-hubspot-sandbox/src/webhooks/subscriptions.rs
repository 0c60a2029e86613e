//! The app's subscriptions and settings, and `/webhooks/v3/{appId}/...` (developer API key).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crm::objects::{json_id, query_pairs};
use crate::error::{ApiError, ApiResult, parse_json};
use crate::state::{Shared, iso};

/// A webhook subscription of the app.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub(super) id: u64,
    pub(super) event_type: String,
    pub(super) property_name: Option<String>,
    pub(super) active: bool,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
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
    pub(super) subscriptions: BTreeMap<u64, Subscription>,
    pub(super) next_subscription_id: u64,
    pub(crate) target_url: Option<String>,
    pub(crate) max_concurrent: u32,
    pub(super) settings_at: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub(super) next_event_id: u64,
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

/// A call made with the app's developer API key (the `hapikey` query parameter, the
/// `X-HubSpot-Developer-API-Key` header or a bearer token) on the path's `{app_id}`.
struct DeveloperApp;

impl FromRequestParts<Arc<Shared>> for DeveloperApp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> ApiResult<Self> {
        let key = &shared.identity.developer_api_key;
        let from_query = query_pairs(parts.uri.query())
            .into_iter()
            .any(|(k, v)| k == "hapikey" && v == *key);
        let headers: &HeaderMap = &parts.headers;
        let from_header = headers
            .get("x-hubspot-developer-api-key")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == key);
        let from_bearer = crate::auth::bearer(headers).is_some_and(|v| v == key);
        if !(from_query || from_header || from_bearer) {
            return Err(ApiError::invalid_auth(
                "The webhooks API needs the app's developer API key (hapikey query parameter).",
            ));
        }
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, shared)
            .await
            .map_err(|e| ApiError::validation(e.body_text()))?;
        let app_id = params.get("app_id").map_or("", String::as_str);
        if app_id != shared.identity.app_id.to_string() {
            return Err(ApiError::not_found(format!("app {app_id} does not exist")));
        }
        Ok(Self)
    }
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
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
) -> ApiResult<Response> {
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
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<Response> {
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
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
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
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let id = sub_id(&id)?;
    let patch: Patch = parse_json(&body)?;
    let mut world = shared.world();
    let out = world.webhooks.set_active(id, patch.active)?.to_json();
    Ok(axum::Json(out).into_response())
}

async fn delete_subscription(
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
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
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let batch: Batch = parse_json(&body)?;
    if batch.inputs.len() > 100 {
        return Err(crate::crm::objects::too_many_inputs(batch.inputs.len()));
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
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![json!({
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Some subscriptions do not exist.",
            "context": { "ids": missing },
        })]
    };
    let (status, out) = crate::crm::objects::batch_envelope(results, errors, started);
    Ok((status, axum::Json(out)).into_response())
}

async fn get_settings(_: DeveloperApp, State(shared): State<Arc<Shared>>) -> ApiResult<Response> {
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
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<Response> {
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
        shared
            .webhooks
            .set_max_concurrent(t.max_concurrent_requests as usize);
    }
    Ok(axum::Json(world.webhooks.settings_json()).into_response())
}

async fn delete_settings(
    _: DeveloperApp,
    State(shared): State<Arc<Shared>>,
) -> ApiResult<Response> {
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
