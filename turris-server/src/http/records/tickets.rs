//! Support tickets about an agent or an agency (seed 002's ticket notes): creating one and each
//! status change log a note in HubSpot when the organization logs ticket notes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::compliance::{EntityKind, entity, entity_facts};
use super::{RecordPage, detail, new_id};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead, RecordsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageParams;
use crate::store::{SupportTicket, TicketStatus};

/// A new support ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    /// The help desk's number, unique in the organization (at most 64 characters).
    pub number: String,
    /// What it is about (at most 200 characters).
    pub subject: String,
    /// Where it stands (default `open`).
    pub status: Option<TicketStatus>,
    /// Its page in the help desk (`https://…`).
    pub link: String,
    /// `agent` or `agency`.
    pub entity_type: EntityKind,
    /// The agent's or agency's id.
    pub entity_id: String,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketUpdate {
    /// The new status.
    pub status: TicketStatus,
}

/// Records a support ticket; a note on the agent's contact or the agency's company follows.
#[utoipa::path(post, path = "/api/v1/support-tickets", tag = "records", request_body = TicketInput,
    responses((status = 201, description = "The ticket", body = SupportTicket), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "The number is taken", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_ticket(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
    Json(body): Json<TicketInput>,
) -> ApiResult<impl IntoResponse> {
    let mut errors = Vec::new();
    let (number, subject, link) = (body.number.trim(), body.subject.trim(), body.link.trim());
    if number.is_empty() || number.chars().count() > 64 {
        errors.push(detail(
            "number",
            "the ticket number is required, at most 64 characters",
        ));
    }
    if subject.is_empty() || subject.chars().count() > 200 {
        errors.push(detail(
            "subject",
            "the subject is required, at most 200 characters",
        ));
    }
    let parsed = url::Url::parse(link).ok();
    if !parsed.is_some_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some()) {
        errors.push(detail(
            "link",
            "the link must be an http(s) address of the ticket",
        ));
    }
    let about = match entity(body.entity_type, &body.entity_id, "entity_id") {
        Ok(about) => match entity_facts(&state, &caller.org, &about, "entity_id").await {
            Ok(_) => Some(about),
            Err(e) if e.status_code() == StatusCode::UNPROCESSABLE_ENTITY => {
                errors.push(detail(
                    "entity_id",
                    "no such agency or agent in this organization",
                ));
                None
            }
            Err(e) => return Err(e),
        },
        Err(_) => {
            errors.push(detail("entity_id", "not a valid id"));
            None
        }
    };
    let (Some(about), true) = (about, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let now = Utc::now();
    let ticket = SupportTicket {
        id: new_id(),
        number: number.to_owned(),
        subject: subject.to_owned(),
        status: body.status.unwrap_or(TicketStatus::Open),
        link: link.to_owned(),
        about,
        created_at: now,
        updated_at: now,
    };
    state.db().create_ticket(&caller.org, &ticket).await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// Changes a ticket's status; a note follows when it really changed.
#[utoipa::path(put, path = "/api/v1/support-tickets/{id}", tag = "records", params(("id" = String, Path)),
    request_body = TicketUpdate,
    responses((status = 200, description = "The ticket", body = SupportTicket), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_ticket(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsUpdate>,
    Path(id): Path<String>,
    Json(body): Json<TicketUpdate>,
) -> ApiResult<Json<SupportTicket>> {
    state
        .db()
        .set_ticket_status(&caller.org, &id, body.status, Utc::now())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("support ticket"))
}

/// Support tickets by ascending id, in cursor pages.
#[utoipa::path(get, path = "/api/v1/support-tickets", tag = "records", params(PageParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<SupportTicket>),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_tickets(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<RecordPage<SupportTicket>>> {
    let limit = page.limit();
    let items = state
        .db()
        .list_tickets(&caller.org, page.cursor.as_deref(), limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |t| t.id.clone())))
}

/// One ticket.
#[utoipa::path(get, path = "/api/v1/support-tickets/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The ticket", body = SupportTicket), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_ticket(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<SupportTicket>> {
    state
        .db()
        .ticket(&caller.org, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("support ticket"))
}
