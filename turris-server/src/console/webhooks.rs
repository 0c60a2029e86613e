//! Settings › Webhook: the list, Add webhook (the secret shown once), rotate a secret (the new
//! one shown once), delete, the delivery history of a webhook, an event's attempt logs, and
//! Resend. Every action is the JSON API's
//! handler (`crate::http::webhooks`), called with the session's caller.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;
use turris_core::permissions::{Area, Capability};
use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{EventId, WebhookId};

use super::errors::render;
use super::{ConsoleError, ConsoleResult, FieldErrors, Layout, Posted, Signed, is_validation};
use crate::app::AppState;
use crate::auth::{WebhooksCreate, WebhooksDelete, WebhooksRead, WebhooksUpdate};
use crate::http::extract::{Json, Path};
use crate::http::pagination::PageParams;
use crate::http::webhooks::{self as api, CreateWebhook, HistoryRow, RotateSecret, RowStatus};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/webhooks", get(list).post(create))
        .route("/console/webhooks/{id}", get(history))
        .route("/console/webhooks/{id}/delete", post(delete))
        .route("/console/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/console/webhooks/{id}/enable", post(enable))
        .route("/console/webhooks/{id}/events/{event_id}/logs", get(logs))
        .route(
            "/console/webhooks/{id}/events/{event_id}/resend",
            post(resend),
        )
}

/// A type as the form offers it: the seed's name and what it sends.
pub struct TypeOption {
    value: &'static str,
    label: &'static str,
    description: &'static str,
}

fn type_label(t: WebhookType) -> &'static str {
    match t {
        WebhookType::AgencyComplianceStatusChanges => "Agency Compliance Status Changes",
        WebhookType::AgentComplianceStatusChanges => "Agent Compliance Status Changes",
        WebhookType::EntityComplianceDataSynchronized => "Entity Compliance Data Synchronized",
        WebhookType::ProducerAgreementExecuted => "Producer Agreement Executed",
        other => other.as_str(),
    }
}

fn type_description(t: WebhookType) -> &'static str {
    match t {
        WebhookType::AgencyComplianceStatusChanges => {
            "An agency's compliance status changes for a product-and-state combination. Debounced: one consolidated payload after a quiet period, only with what really changed."
        }
        WebhookType::AgentComplianceStatusChanges => {
            "An individual agent's compliance status changes for a product-and-state combination. Same debounced, consolidated, diff-based behavior as the agency type."
        }
        WebhookType::EntityComplianceDataSynchronized => {
            "A NIPR data fetch or full refresh reaches a terminal state (success or error) for an agency or agent. Sent immediately."
        }
        WebhookType::ProducerAgreementExecuted => {
            "An invited agency finishes signing its producer agreement. Sent immediately, once per signed agreement."
        }
        _ => "",
    }
}

fn types() -> Vec<TypeOption> {
    WebhookType::ALL
        .iter()
        .map(|&t| TypeOption {
            value: t.as_str(),
            label: type_label(t),
            description: type_description(t),
        })
        .collect()
}

/// A row of the list.
pub struct Row {
    id: String,
    type_label: &'static str,
    url: String,
    client_secret: String,
    /// During a rotation's overlap: the replaced secret, masked, and until when it signs.
    previous_secret: Option<(String, String)>,
    /// Disabled: why and since when, in a sentence.
    disabled: Option<String>,
    created: String,
}

/// The secret of a webhook just created, or just rotated: shown in this answer only.
pub struct Created {
    secret: String,
    url: String,
    type_label: &'static str,
    /// A rotation: until when the replaced secret still signs.
    rotated_until: Option<String>,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    l: Layout,
    premium_gate: bool,
    rows: Vec<Row>,
    types: Vec<TypeOption>,
    can_create: bool,
    can_update: bool,
    /// How long a rotation's overlap lasts, for the confirmation text.
    overlap: String,
    can_delete: bool,
    form_type: String,
    form_url: String,
    errors: FieldErrors,
    created: Option<Created>,
}

async fn list_page(
    state: &AppState,
    session: &Signed,
    form: (String, String),
    errors: FieldErrors,
    created: Option<Created>,
) -> ConsoleResult<WebhooksPage> {
    let l = session.layout(state, "Webhooks", "webhooks").await;
    let mut page = WebhooksPage {
        l,
        premium_gate: false,
        rows: Vec::new(),
        types: types(),
        can_create: session.can(Area::Webhooks, Capability::Create),
        can_update: session.can(Area::Webhooks, Capability::Update),
        overlap: overlap_text(state.config().delivery.secret_overlap),
        can_delete: session.can(Area::Webhooks, Capability::Delete),
        form_type: form.0,
        form_url: form.1,
        errors,
        created,
    };
    let auth = match session.authorize::<WebhooksRead>() {
        Ok(auth) => auth,
        Err(e) if e.status_code() == StatusCode::PAYMENT_REQUIRED => {
            page.premium_gate = true;
            return Ok(page);
        }
        Err(e) => return Err(e.into()),
    };
    let Json(list) = api::list(State(state.clone()), auth).await?;
    page.rows = list
        .webhooks
        .into_iter()
        .map(|w| Row {
            id: w.id.to_string(),
            type_label: type_label(w.webhook_type),
            url: w.url,
            client_secret: w.client_secret,
            previous_secret: w
                .previous_client_secret
                .zip(w.previous_secret_expires_at.as_ref().map(super::when)),
            disabled: w.disabled_at.as_ref().map(|at| {
                let why = match w.disabled_reason {
                    Some(turris_webhooks::delivery::DisableReason::Gone) => {
                        "the endpoint answered 410 Gone"
                    }
                    _ => "every attempt failed for too long",
                };
                format!("Disabled since {}: {why}. Events wait.", super::when(at))
            }),
            created: super::when(&w.created_at),
        })
        .collect();
    Ok(page)
}

async fn list(State(state): State<AppState>, session: Signed) -> ConsoleResult {
    let page = list_page(
        &state,
        &session,
        (String::new(), String::new()),
        FieldErrors::none(),
        None,
    )
    .await?;
    Ok(render(&page))
}

async fn create(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<WebhooksCreate>()?;
    let body = CreateWebhook {
        webhook_type: posted
            .form
            .get("webhook_type")
            .unwrap_or_default()
            .to_owned(),
        url: posted.form.get("url").unwrap_or_default().to_owned(),
    };
    let form = (body.webhook_type.clone(), body.url.clone());
    match api::create(State(state.clone()), auth, Json(body)).await {
        Ok((_, Json(created))) => {
            let created = Created {
                secret: created.secret,
                url: created.webhook.url,
                type_label: type_label(created.webhook.webhook_type),
                rotated_until: None,
            };
            let page = list_page(
                &state,
                &session,
                (String::new(), String::new()),
                FieldErrors::none(),
                Some(created),
            )
            .await?;
            Ok(render(&page))
        }
        Err(e) if is_validation(&e) => {
            let page = list_page(&state, &session, form, FieldErrors::from_api(&e), None).await?;
            let mut response = render(&page);
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

fn webhook_id(text: &str) -> Result<WebhookId, ConsoleError> {
    text.parse::<WebhookId>()
        .map_err(|_| ConsoleError::Api(crate::error::ApiError::not_found("webhook")))
}

fn event_id(text: &str) -> Result<EventId, ConsoleError> {
    text.parse::<EventId>()
        .map_err(|_| ConsoleError::Api(crate::error::ApiError::not_found("event")))
}

async fn delete(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<WebhooksDelete>()?;
    api::delete(State(state.clone()), auth, Path(webhook_id(&id)?)).await?;
    session
        .flash(&state, "success", "Webhook deleted successfully")
        .await;
    Ok(Redirect::to("/console/webhooks").into_response())
}

async fn enable(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<WebhooksUpdate>()?;
    api::enable(State(state.clone()), auth, Path(webhook_id(&id)?)).await?;
    session
        .flash(
            &state,
            "success",
            "Webhook enabled: waiting events are delivered",
        )
        .await;
    Ok(Redirect::to("/console/webhooks").into_response())
}

fn overlap_text(overlap: std::time::Duration) -> String {
    match overlap.as_secs() {
        0 => "no time: it stops at once".to_owned(),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

async fn rotate_secret(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<WebhooksUpdate>()?;
    let body = RotateSecret::default();
    let Json(rotated) = api::rotate_secret(
        State(state.clone()),
        auth,
        Path(webhook_id(&id)?),
        Json(body),
    )
    .await?;
    let created = Created {
        secret: rotated.secret,
        url: rotated.webhook.url,
        type_label: type_label(rotated.webhook.webhook_type),
        rotated_until: Some(
            rotated
                .webhook
                .previous_secret_expires_at
                .as_ref()
                .map_or_else(|| "now".to_owned(), super::when),
        ),
    };
    let none = (String::new(), String::new());
    let page = list_page(&state, &session, none, FieldErrors::none(), Some(created)).await?;
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "console/webhook_history.html")]
struct HistoryPage {
    l: Layout,
    id: String,
    url: String,
    rows: Vec<HistoryRow>,
    next_cursor: Option<String>,
    can_resend: bool,
}

impl HistoryPage {
    fn status(&self, row: &HistoryRow) -> &'static str {
        match row.status {
            RowStatus::Success => "success",
            RowStatus::Failed => "failed",
            RowStatus::Pending => "pending",
        }
    }
    fn attempt(&self, row: &HistoryRow) -> String {
        row.attempt
            .map_or_else(|| "–".to_owned(), |a| a.to_string())
    }
    fn kind(&self, row: &HistoryRow) -> String {
        row.kind.clone().unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<CursorQuery>,
    session: Signed,
) -> ConsoleResult {
    let auth = session.authorize::<WebhooksRead>()?;
    let page = PageParams {
        cursor: q.cursor,
        limit: Some(25),
    };
    let Json(history) = api::history(
        State(state.clone()),
        auth,
        Path(webhook_id(&id)?),
        crate::http::extract::Query(page),
    )
    .await?;
    let l = session
        .layout(&state, "Webhook delivery history", "webhooks")
        .await;
    Ok(render(&HistoryPage {
        l,
        id,
        url: history.url,
        rows: history.rows,
        next_cursor: history.next_cursor,
        can_resend: session.can(Area::Webhooks, Capability::Update),
    }))
}

/// One attempt's log block.
pub struct LogBlock {
    attempt: u32,
    date: String,
    time: String,
    status_code: String,
    error_message: String,
    url: String,
    success: bool,
    duration_ms: i64,
    excerpt: Option<String>,
}

#[derive(Template)]
#[template(path = "console/webhook_logs.html")]
struct LogsPage {
    l: Layout,
    id: String,
    event_id: String,
    blocks: Vec<LogBlock>,
}

async fn logs(
    State(state): State<AppState>,
    axum::extract::Path((id, event)): axum::extract::Path<(String, String)>,
    session: Signed,
) -> ConsoleResult {
    let auth = session.authorize::<WebhooksRead>()?;
    let event = event_id(&event)?;
    // The API's handler checks that the event belongs to this organization's webhook.
    let first = crate::http::extract::Query(crate::http::pagination::PageParams::default());
    let Json(logs) = api::logs(
        State(state.clone()),
        auth,
        Path((webhook_id(&id)?, event)),
        first,
    )
    .await?;
    // Duration and the response excerpt come from the same stored attempts (the same page).
    let attempts = state
        .db()
        .attempt_page(event, None, crate::http::pagination::DEFAULT_LIMIT)
        .await?;
    let blocks = logs
        .logs
        .into_iter()
        .map(|log| {
            let stored = attempts.iter().find(|a| a.number == log.attempt);
            LogBlock {
                attempt: log.attempt,
                date: log.date,
                time: log.time,
                status_code: log
                    .status_code
                    .map_or_else(|| "no answer".to_owned(), |c| c.to_string()),
                error_message: log.error_message.unwrap_or_else(|| "–".to_owned()),
                url: log.url,
                success: log.success,
                duration_ms: stored
                    .map(|a| (a.finished_at - a.started_at).num_milliseconds())
                    .unwrap_or_default(),
                excerpt: stored
                    .and_then(|a| a.response_body.as_deref())
                    .filter(|b| !b.is_empty())
                    .map(|b| b.chars().take(300).collect()),
            }
        })
        .collect();
    let l = session.layout(&state, "Webhook logs", "webhooks").await;
    Ok(render(&LogsPage {
        l,
        id,
        event_id: event.to_string(),
        blocks,
    }))
}

async fn resend(
    State(state): State<AppState>,
    axum::extract::Path((id, event)): axum::extract::Path<(String, String)>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<WebhooksUpdate>()?;
    let back = format!("/console/webhooks/{id}");
    match api::resend(
        State(state.clone()),
        auth,
        Path((webhook_id(&id)?, event_id(&event)?)),
    )
    .await
    {
        Ok((_, Json(queued))) => {
            session.flash(&state, "success", queued.message).await;
            Ok(Redirect::to(&back).into_response())
        }
        Err(e) => super::integrations::refused_to(&state, &session, e, &back).await,
    }
}
