//! `/_sandbox/...`: the control API over HTTP (JSON), for the demo and manual exploration.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::crm::objects;
use crate::error::{ApiError, ApiResult, parse_json};
use crate::faults::{Fault, Stats};
use crate::rate_limit::RateLimits;
use crate::state::{ObjectKind, Record, Shared, iso, lock};

use super::{Control, ControlError};

fn record_json(r: &Record) -> Value {
    json!({
        "id": r.id,
        "properties": r.properties,
        "createdAt": iso(r.created_at),
        "updatedAt": iso(r.updated_at),
        "archived": r.archived,
    })
}

/// The control of the portal a request's `portalId` names (the default portal without one).
impl FromRequestParts<Arc<Shared>> for Control {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> ApiResult<Self> {
        let portal = match objects::query_pairs(parts.uri.query())
            .into_iter()
            .find(|(k, _)| k == "portalId")
        {
            None => shared.identity.default_portal,
            Some((_, v)) => v
                .parse()
                .map_err(|_| ApiError::validation("portalId must be a number"))?,
        };
        shared.world().portal(portal)?;
        Ok(Control {
            shared: Arc::clone(shared),
            portal,
        })
    }
}

fn kind(raw: &str) -> ApiResult<ObjectKind> {
    ObjectKind::parse(raw).ok_or_else(|| ApiError::validation(format!("unknown object type {raw}")))
}

fn into_api(e: ControlError) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        &e.category,
        e.message,
    )
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    let world = shared.world();
    let id = &shared.identity;
    let portals: Vec<Value> = world
        .portals
        .values()
        .map(|p| {
            json!({
                "portalId": p.id,
                "appInstalled": p.app_installed,
                "privateAppToken": world.oauth.private_token(p.id),
            })
        })
        .collect();
    axum::Json(json!({
        "baseUrl": id.base_url,
        "appId": id.app_id,
        "clientId": id.client_id,
        "clientSecret": id.client_secret,
        "developerApiKey": id.developer_api_key,
        "portalId": id.default_portal,
        "portals": portals,
        "webhookTargetUrl": world.webhooks.target_url,
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
struct PropsBody {
    #[serde(default)]
    properties: Map<String, Value>,
}

async fn list_records(c: Control, Path(object): Path<String>) -> ApiResult<Response> {
    let results: Vec<Value> = c.records(kind(&object)?).iter().map(record_json).collect();
    Ok(axum::Json(json!({ "results": results })).into_response())
}

async fn create_record(c: Control, Path(object): Path<String>, body: Bytes) -> ApiResult<Response> {
    let body: PropsBody = parse_json(&body)?;
    let r = c.create_json(kind(&object)?, &body.properties)?;
    Ok((StatusCode::CREATED, axum::Json(record_json(&r))).into_response())
}

async fn get_record(c: Control, Path((object, id)): Path<(String, String)>) -> ApiResult<Response> {
    let k = kind(&object)?;
    let r = c.record(k, &id).ok_or_else(|| objects::not_found(k, &id))?;
    Ok(axum::Json(record_json(&r)).into_response())
}

async fn update_record(
    c: Control,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: PropsBody = parse_json(&body)?;
    let r = c.update_json(kind(&object)?, &id, &body.properties)?;
    Ok(axum::Json(record_json(&r)).into_response())
}

async fn delete_record(
    c: Control,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    c.delete_record(kind(&object)?, &id).map_err(into_api)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MergeBody {
    object_id_to_merge: String,
}

async fn merge_record(
    c: Control,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: MergeBody = parse_json(&body)?;
    let r = c
        .merge_records(kind(&object)?, &id, &body.object_id_to_merge)
        .map_err(into_api)?;
    Ok(axum::Json(record_json(&r)).into_response())
}

async fn get_associations(
    c: Control,
    Path((object, id, to)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let ids = c.associated_ids(kind(&object)?, &id, kind(&to)?);
    Ok(axum::Json(json!({ "ids": ids })).into_response())
}

async fn put_association(
    c: Control,
    Path((object, id, to, to_id)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    c.associate(kind(&object)?, &id, kind(&to)?, &to_id)
        .map_err(into_api)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_lists(c: Control) -> Response {
    let lists: Vec<Value> = c
        .lists()
        .into_iter()
        .map(|l| {
            json!({
                "listId": l.id,
                "name": l.name,
                "objectTypeId": l.object_type_id,
                "processingType": l.processing_type,
                "members": l.members,
            })
        })
        .collect();
    axum::Json(json!({ "results": lists })).into_response()
}

fn stats_json(s: &Stats) -> Value {
    let statuses: BTreeMap<String, u64> = s
        .statuses
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    json!({
        "calls": s.calls,
        "totalCalls": s.total_calls(),
        "statuses": statuses,
        "rateLimited": s.rate_limited,
        "rateLimitedByPolicy": s.rate_limited_by_policy,
        "faultsInjected": s.faults_injected,
    })
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(stats_json(&lock(&shared.traffic).stats)).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.traffic).stats = Stats::default();
    lock(&shared.limiter).reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn uninstall(c: Control) -> StatusCode {
    c.uninstall_app();
    StatusCode::NO_CONTENT
}

async fn expire_tokens(c: Control) -> StatusCode {
    c.expire_access_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultBody {
    path: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    delay_millis: Option<u64>,
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let f: FaultBody = parse_json(&body)?;
    let mut fault = Fault::new(f.path)
        .status(f.status.unwrap_or(500))
        .times(f.times.unwrap_or(1));
    if let Some(m) = f.method {
        fault = fault.method(m);
    }
    if let Some(b) = f.body {
        fault = fault.body(b);
    }
    for (k, v) in f.headers {
        fault = fault.header(k, v);
    }
    if let Some(ms) = f.delay_millis {
        fault = fault.delay(Duration::from_millis(ms));
    }
    lock(&shared.traffic).faults.push((fault, 0));
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.traffic).faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct LatencyBody {
    millis: u64,
}

async fn set_latency(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let l: LatencyBody = parse_json(&body)?;
    lock(&shared.traffic).latency = Duration::from_millis(l.millis);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LimitsBody {
    enabled: bool,
    #[serde(default)]
    per_window: Option<u32>,
    #[serde(default)]
    window_millis: Option<u64>,
    #[serde(default)]
    search_per_second: Option<u32>,
    #[serde(default)]
    per_day: Option<u32>,
}

async fn set_limits(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: LimitsBody = parse_json(&body)?;
    let d = RateLimits::default();
    let limits = RateLimits {
        enabled: b.enabled,
        per_window: b.per_window.unwrap_or(d.per_window),
        window: b.window_millis.map_or(d.window, Duration::from_millis),
        search_per_second: b.search_per_second.unwrap_or(d.search_per_second),
        per_day: b.per_day,
    };
    let mut limiter = lock(&shared.limiter);
    limiter.limits = limits;
    limiter.reset();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeBody {
    event_type: String,
    #[serde(default)]
    property_name: Option<String>,
}

async fn subscribe(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: SubscribeBody = parse_json(&body)?;
    let id = shared
        .world()
        .webhooks
        .subscribe(&b.event_type, b.property_name.as_deref(), true)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "id": id.to_string() })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetBody {
    target_url: Option<String>,
}

async fn set_target(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: TargetBody = parse_json(&body)?;
    shared.world().webhooks.set_target(b.target_url);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn flush(State(shared): State<Arc<Shared>>) -> Response {
    shared.webhooks.flush().await;
    StatusCode::NO_CONTENT.into_response()
}

async fn attempts(State(shared): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = shared
        .webhooks
        .attempts()
        .iter()
        .map(|a| {
            json!({
                "url": a.url,
                "attemptNumber": a.attempt_number,
                "eventIds": a.event_ids,
                "status": a.status,
                "error": a.error,
                "at": iso(a.at),
            })
        })
        .collect();
    axum::Json(json!({ "results": list })).into_response()
}

async fn tokens(c: Control) -> ApiResult<Response> {
    let t = c.issue_tokens(&["oauth"]);
    Ok(axum::Json(json!({
        "token_type": "bearer",
        "access_token": t.access_token,
        "refresh_token": t.refresh_token,
        "expires_in": t.expires_in,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct LagBody {
    lagging: bool,
}

async fn set_search_lag(c: Control, body: Bytes) -> ApiResult<StatusCode> {
    let b: LagBody = parse_json(&body)?;
    c.set_search_lag(b.lagging);
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh_search_index(c: Control) -> StatusCode {
    c.refresh_search_index();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ChaosBody {
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    reverse: bool,
    #[serde(default)]
    delay_ms: u64,
}

async fn set_chaos(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: ChaosBody = parse_json(&body)?;
    shared.webhooks.set_chaos(crate::WebhookChaos {
        duplicate: b.duplicate,
        reverse: b.reverse,
        delay: std::time::Duration::from_millis(b.delay_ms),
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/_sandbox/...`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox", get(info))
        .route(
            "/_sandbox/objects/{object}",
            get(list_records).post(create_record),
        )
        .route(
            "/_sandbox/objects/{object}/{id}",
            get(get_record).patch(update_record).delete(delete_record),
        )
        .route("/_sandbox/objects/{object}/{id}/merge", post(merge_record))
        .route(
            "/_sandbox/objects/{object}/{id}/associations/{to}",
            get(get_associations),
        )
        .route(
            "/_sandbox/objects/{object}/{id}/associations/{to}/{to_id}",
            put(put_association),
        )
        .route("/_sandbox/lists", get(get_lists))
        .route("/_sandbox/stats", get(get_stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route("/_sandbox/uninstall", post(uninstall))
        .route("/_sandbox/expire-tokens", post(expire_tokens))
        .route("/_sandbox/tokens", post(tokens))
        .route("/_sandbox/faults", post(add_fault).delete(clear_faults))
        .route("/_sandbox/latency", put(set_latency))
        .route("/_sandbox/search-lag", put(set_search_lag))
        .route("/_sandbox/search-index/refresh", post(refresh_search_index))
        .route("/_sandbox/rate-limits", put(set_limits))
        .route("/_sandbox/webhooks/subscriptions", post(subscribe))
        .route("/_sandbox/webhooks/target", put(set_target))
        .route("/_sandbox/webhooks/flush", post(flush))
        .route("/_sandbox/webhooks/chaos", put(set_chaos))
        .route("/_sandbox/webhooks/attempts", get(attempts))
}
