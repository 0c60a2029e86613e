//! `/api/v1/webhooks`: list (masked secrets), create (the secret once), delete, the delivery
//! history of a webhook, the logs of an event, and resend. No update: `PUT`/`PATCH` are 405.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use turris_webhooks::delivery::{
    Attempt, AttemptKind, DeliveryRequest, EventCursor, EventId, EventRecord, EventStatus,
    LeasedDelivery, NextStep, PageRequest, StoreError as DeliveryError, WebhookId,
};
use turris_webhooks::{WebhookSecret, WebhookType, WebhookUrl};
use utoipa::ToSchema;

use super::Routes;
use super::extract::{Json, Path, Query};
use super::pagination::PageParams;
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksCreate, WebhooksDelete, WebhooksRead, WebhooksUpdate};
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::store::{NewWebhookEndpoint, WebhookEndpoint};

/// How long a resend holds its lease.
const RESEND_LEASE: Duration = Duration::from_secs(60);

/// The webhook routes.
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/webhooks", list)
        .post("/api/v1/webhooks", create)
        .get("/api/v1/webhooks/{id}", get)
        .delete("/api/v1/webhooks/{id}", delete)
        .get("/api/v1/webhooks/{id}/events", history)
        .get("/api/v1/webhooks/{id}/events/{event_id}/logs", logs)
        .post("/api/v1/webhooks/{id}/events/{event_id}/resend", resend)
}

/// A webhook as listed: the secret masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The event type it receives.
    pub webhook_type: WebhookType,
    /// The HTTPS endpoint.
    pub url: String,
    /// The last four characters of the secret: `•••• abcd`.
    pub client_secret: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for Webhook {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            webhook_type: e.webhook_type,
            url: e.url,
            client_secret: e.masked_secret,
            created_at: e.created_at,
        }
    }
}

/// The webhooks of the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<Webhook>,
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// One of `agency_compliance_status_changes`, `agent_compliance_status_changes`,
    /// `entity_compliance_data_synchronized`, `producer_agreement_executed`.
    pub webhook_type: String,
    /// The HTTPS endpoint Turris posts to.
    pub url: String,
}

/// A created webhook, with its full secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret (64 hex characters). Store it now: it is never shown again.
    pub secret: String,
}

/// The organization's webhooks, secrets masked.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
) -> ApiResult<Json<WebhookList>> {
    let webhooks = state.db().list_webhooks(auth.org()).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(Webhook::from).collect(),
    }))
}

/// Adds a webhook: 201 with the secret, exactly once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 401), (status = 402), (status = 403),
        (status = 422, description = "Unknown type or refused URL", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized<WebhooksCreate>,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let mut errors = Vec::new();
    let webhook_type = body.webhook_type.parse::<WebhookType>().map_err(|_| {
        errors.push(ErrorDetail {
            path: "webhook_type".into(),
            message: format!(
                "webhook type must be one of {}",
                WebhookType::ALL.map(WebhookType::as_str).join(", ")
            ),
        })
    });
    let url = WebhookUrl::parse(body.url.trim(), state.url_policy()).map_err(|e| {
        errors.push(ErrorDetail {
            path: "url".into(),
            message: e.to_string(),
        })
    });
    let (Ok(webhook_type), Ok(url)) = (webhook_type, url) else {
        return Err(ApiError::validation(errors));
    };
    let secret = WebhookSecret::generate().map_err(|e| ApiError::internal("webhook secret", &e))?;
    let endpoint = state
        .db()
        .create_webhook(
            auth.org(),
            &NewWebhookEndpoint {
                id: WebhookId::new(),
                webhook_type,
                url: url.as_str().to_owned(),
                secret: secret.clone(),
            },
            Utc::now(),
        )
        .await?;
    tracing::info!(webhook_id = %endpoint.id, webhook_type = %webhook_type, "webhook created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: endpoint.into(),
            secret: secret.to_hex(),
        }),
    ))
}

async fn owned_webhook(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    id: WebhookId,
) -> ApiResult<WebhookEndpoint> {
    state
        .db()
        .webhook(org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// One webhook, secret masked.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    responses((status = 200, body = Webhook), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
    Path(id): Path<WebhookId>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(owned_webhook(&state, auth.org(), id).await?.into()))
}

/// Deletes a webhook: its secret is invalidated and its queued deliveries stop.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id")),
    responses((status = 204, description = "Webhook deleted successfully"), (status = 401), (status = 402),
        (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized<WebhooksDelete>,
    Path(id): Path<WebhookId>,
) -> ApiResult<StatusCode> {
    if state.db().delete_webhook(auth.org(), id).await? {
        tracing::info!(webhook_id = %id, "webhook deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

/// `success`, `failed` or `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// A 2xx within the timeout.
    Success,
    /// Anything else.
    Failed,
    /// No attempt yet.
    Pending,
}

/// One row of the delivery history: an attempt (or an event waiting for its first).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryRow {
    /// The event (`X-Turris-Event-Id`).
    pub event_id: EventId,
    /// The attempt number; `null` while no attempt was made.
    pub attempt: Option<u32>,
    /// `automatic` or `resend`.
    pub kind: Option<String>,
    /// The status badge.
    pub status: RowStatus,
    /// When the attempt started (or the event was created).
    pub at: DateTime<Utc>,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// `HH:MM:SS` (UTC).
    pub time: String,
    /// Whether the event can be resent (it has not succeeded).
    pub can_resend: bool,
}

/// A page of history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// The webhook's URL, for the chip at the top of the page.
    pub url: String,
    /// Attempt rows, newest first.
    pub rows: Vec<HistoryRow>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next_cursor: Option<String>,
}

fn encode_cursor(cursor: &EventCursor) -> String {
    format!(
        "{}.{}",
        cursor
            .created_at
            .to_rfc3339_opts(SecondsFormat::Nanos, true),
        cursor.event_id
    )
}

fn decode_cursor(text: &str) -> ApiResult<EventCursor> {
    let invalid = || crate::http::pagination::invalid_cursor();
    let (at, id) = text.rsplit_once('.').ok_or_else(invalid)?;
    let created_at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| invalid())?
        .with_timezone(&Utc);
    let event_id = id.parse::<EventId>().map_err(|_| invalid())?;
    Ok(EventCursor {
        created_at,
        event_id,
    })
}

fn rows_of(event: &EventRecord, attempts: &[Attempt]) -> Vec<HistoryRow> {
    let can_resend = event.status != EventStatus::Delivered;
    let row = |attempt: Option<&Attempt>| {
        let at = attempt.map_or(event.created_at, |a| a.started_at);
        HistoryRow {
            event_id: event.event_id,
            attempt: attempt.map(|a| a.number),
            kind: attempt.map(|a| {
                match a.kind {
                    AttemptKind::Automatic => "automatic",
                    AttemptKind::Resend => "resend",
                }
                .to_owned()
            }),
            status: match attempt {
                None => RowStatus::Pending,
                Some(a) if a.success => RowStatus::Success,
                Some(_) => RowStatus::Failed,
            },
            at,
            date: at.format("%Y-%m-%d").to_string(),
            time: at.format("%H:%M:%S").to_string(),
            can_resend,
        }
    };
    if attempts.is_empty() {
        return vec![row(None)];
    }
    let mut sorted: Vec<&Attempt> = attempts.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.number));
    sorted.into_iter().map(|a| row(Some(a))).collect()
}

fn delivery_error(context: &'static str, e: DeliveryError) -> ApiError {
    match e {
        DeliveryError::NotFound => ApiError::not_found("event"),
        DeliveryError::AlreadyDelivered => ApiError::conflict(
            "already_delivered",
            "this event was already delivered successfully; resend is only for failed events",
        ),
        DeliveryError::Busy => ApiError::conflict(
            "delivery_in_progress",
            "this event is being delivered right now; try again in a moment",
        ),
        other => ApiError::internal(context, &other),
    }
}

/// The delivery history of a webhook: attempt rows newest first, paged by event.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/events", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id"), PageParams),
    responses((status = 200, body = History), (status = 400, description = "Invalid cursor"),
        (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
    Path(id): Path<WebhookId>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<History>> {
    let webhook = owned_webhook(&state, auth.org(), id).await?;
    let before = page.cursor.as_deref().map(decode_cursor).transpose()?;
    let events = state
        .db()
        .org_events(
            auth.org(),
            id,
            PageRequest {
                limit: page.limit(),
                before,
            },
        )
        .await?;
    let mut rows = Vec::new();
    for event in &events.items {
        let attempts = state
            .db()
            .list_attempts(event.event_id)
            .await
            .map_err(|e| delivery_error("listing attempts", e))?;
        rows.extend(rows_of(event, &attempts));
    }
    Ok(Json(History {
        url: webhook.url,
        rows,
        next_cursor: events.next.as_ref().map(encode_cursor),
    }))
}

/// One attempt's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    /// The attempt number.
    pub attempt: u32,
    /// When it started.
    pub at: DateTime<Utc>,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// `HH:MM:SS` (UTC).
    pub time: String,
    /// The endpoint's status code, if it answered.
    pub status_code: Option<u16>,
    /// The error, when the attempt failed.
    pub error_message: Option<String>,
    /// The URL the request was sent to.
    pub url: String,
    /// Whether it succeeded.
    pub success: bool,
}

/// The logs of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Logs {
    /// The event.
    pub event_id: EventId,
    /// One entry per attempt, newest first.
    pub logs: Vec<LogEntry>,
    /// Pass as `cursor` for the older attempts; `null` at the first.
    pub next_cursor: Option<String>,
}

async fn owned_event(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    id: WebhookId,
    event_id: EventId,
) -> ApiResult<EventRecord> {
    owned_webhook(state, org, id).await?;
    state
        .db()
        .org_event(org, id, event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))
}

/// The logs of an event: status code, error message and URL of each attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/events/{event_id}/logs", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id"),
        ("event_id" = String, Path, description = "The event id"), PageParams),
    responses((status = 200, body = Logs), (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    auth: Authorized<WebhooksRead>,
    Path((id, event_id)): Path<(WebhookId, EventId)>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Logs>> {
    owned_event(&state, auth.org(), id, event_id).await?;
    let before = page
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<u32>()
                .map_err(|_| crate::http::pagination::invalid_cursor())
        })
        .transpose()?;
    let limit = page.limit();
    let attempts = state.db().attempt_page(event_id, before, limit).await?;
    let next_cursor = (attempts.len() == limit)
        .then(|| attempts.last().map(|a| a.number.to_string()))
        .flatten();
    Ok(Json(Logs {
        next_cursor,
        event_id,
        logs: attempts
            .into_iter()
            .map(|a| LogEntry {
                attempt: a.number,
                at: a.started_at,
                date: a.started_at.format("%Y-%m-%d").to_string(),
                time: a.started_at.format("%H:%M:%S").to_string(),
                status_code: a.status_code,
                error_message: a.error,
                url: a.url,
                success: a.success,
            })
            .collect(),
    }))
}

/// A resend was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResendQueued {
    /// The event.
    pub event_id: EventId,
    /// `queued`.
    pub status: &'static str,
    /// "Webhook resend is in progress".
    pub message: &'static str,
}

/// Resends an event: a new attempt with the next number. 409 once it was delivered.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/events/{event_id}/resend", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook id"),
        ("event_id" = String, Path, description = "The event id")),
    responses((status = 202, body = ResendQueued), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 409, description = "Already delivered, or being delivered", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn resend(
    State(state): State<AppState>,
    auth: Authorized<WebhooksUpdate>,
    Path((id, event_id)): Path<(WebhookId, EventId)>,
) -> ApiResult<(StatusCode, Json<ResendQueued>)> {
    let event = owned_event(&state, auth.org(), id, event_id).await?;
    if event.status == EventStatus::Delivered {
        return Err(delivery_error("resend", DeliveryError::AlreadyDelivered));
    }
    let leased = state
        .db()
        .lease_for_resend(event_id, Utc::now(), RESEND_LEASE)
        .await
        .map_err(|e| delivery_error("leasing a resend", e))?;
    let background = state.clone();
    state.spawn_background(async move { deliver_resend(&background, leased).await });
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendQueued {
            event_id,
            status: "queued",
            message: "Webhook resend is in progress",
        }),
    ))
}

/// Sends a leased resend and records the attempt.
async fn deliver_resend(state: &AppState, leased: LeasedDelivery) {
    let event = &leased.event;
    let target = match state.db().delivery_target(event.webhook_id).await {
        Ok(Some(target)) => target,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %crate::error::ErrorChain(&e), "resend: loading the endpoint");
            return;
        }
    };
    let report = match WebhookUrl::parse(&target.endpoint.url, state.url_policy()) {
        Ok(url) => {
            state
                .delivery()
                .send(DeliveryRequest {
                    event_id: event.event_id,
                    url: &url,
                    secret: &target.secret,
                    body: &event.body,
                })
                .await
        }
        Err(e) => {
            let now = Utc::now();
            turris_webhooks::delivery::AttemptReport {
                started_at: now,
                finished_at: now,
                status_code: None,
                error: Some(e.to_string()),
                url: target.endpoint.url.clone(),
                success: false,
                response_body: None,
                retry_after: None,
            }
        }
    };
    let next = if report.success {
        NextStep::Delivered
    } else {
        NextStep::Unchanged
    };
    match state
        .db()
        .record_attempt(event.event_id, &leased.lease, &report, next)
        .await
    {
        Ok(attempt) => tracing::info!(
            event_id = %event.event_id,
            attempt = attempt.number,
            success = attempt.success,
            status = ?attempt.status_code,
            "webhook resend attempt"
        ),
        Err(e) => {
            tracing::error!(event_id = %event.event_id, error = %e, "resend: recording the attempt")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_cursors_round_trip_and_reject_garbage() {
        let cursor = EventCursor {
            created_at: DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            event_id: EventId::new(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)).unwrap(), cursor);
        for bad in ["", "x.y", "2024-01-01T00:00:00Z.not-a-uuid", "nodot"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
