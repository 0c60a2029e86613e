//! The delivery history of a webhook and the attempt logs of an event.

use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use turris_webhooks::delivery::{
    Attempt, AttemptKind, EventCursor, EventId, EventRecord, EventStatus, PageRequest,
    StoreError as DeliveryError, WebhookId,
};
use utoipa::ToSchema;

use super::owned_webhook;
use crate::app::AppState;
use crate::auth::{Authorized, WebhooksRead};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageParams;

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

pub(super) fn delivery_error(context: &'static str, e: DeliveryError) -> ApiError {
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

pub(super) async fn owned_event(
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
