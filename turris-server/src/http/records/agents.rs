//! Agents: list, create, read, update; each write queues its HubSpot push in the same transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use turris_core::ids::{AgencyId, AgentId, OrganizationId};
use turris_core::record::{Agent, AgentDraft};
use utoipa::ToSchema;

use super::{RecordPage, detail, new_id, non_empty, parse_npn};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead, RecordsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageParams;

/// An agent's data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// First name (required).
    pub first_name: String,
    /// Last name (required).
    pub last_name: String,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// National Producer Number: 1 to 10 digits.
    pub npn: Option<String>,
    /// The agency the agent works for: an agency of the same organization. When that agency
    /// is linked to a HubSpot company, outbound sync associates the agent's contact with it.
    pub agency_id: Option<String>,
}

impl AgentInput {
    async fn validate(self, state: &AppState, org: &OrganizationId) -> ApiResult<AgentDraft> {
        let mut errors = Vec::new();
        if self.first_name.trim().is_empty() {
            errors.push(detail("first_name", "first name is required"));
        }
        if self.last_name.trim().is_empty() {
            errors.push(detail("last_name", "last name is required"));
        }
        let email = non_empty(self.email);
        if email.as_deref().is_some_and(
            |e| !matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty()),
        ) {
            errors.push(detail(
                "email",
                "email must be an address like ada@example.com",
            ));
        }
        let npn = parse_npn(self.npn.as_deref(), &mut errors);
        let agency_id = match self.agency_id.as_deref().filter(|v| !v.is_empty()) {
            None => None,
            Some(text) => {
                let found = match AgencyId::parse(text) {
                    Ok(id) => state.db().get_agency(org, &id).await?.map(|a| a.id),
                    Err(_) => None,
                };
                if found.is_none() {
                    errors.push(detail(
                        "agency_id",
                        "no agency of this organization has this id",
                    ));
                }
                found
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(AgentDraft {
            first_name: self.first_name,
            last_name: self.last_name,
            middle_name: non_empty(self.middle_name),
            email,
            npn,
            agency_id,
        })
    }
}

pub(super) fn agent_id(text: &str) -> ApiResult<AgentId> {
    AgentId::parse(text).map_err(|_| ApiError::not_found("agent"))
}

pub(super) async fn existing_agent(
    state: &AppState,
    org: &OrganizationId,
    id: &str,
) -> ApiResult<Agent> {
    state
        .db()
        .get_agent(org, &agent_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// Agents, by ascending id.
#[utoipa::path(get, path = "/api/v1/agents", tag = "records", params(PageParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<turris_core::record::Agent>), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_agents(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<RecordPage<Agent>>> {
    let after = page.cursor.as_deref().map(agent_id).transpose()?;
    let limit = page.limit();
    let items = state
        .db()
        .list_agents(&caller.org, after.as_ref(), limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |a| a.id.to_string())))
}

/// Creates an agent.
#[utoipa::path(post, path = "/api/v1/agents", tag = "records", request_body = AgentInput,
    responses((status = 201, description = "The agent", body = turris_core::record::Agent), (status = 401), (status = 402), (status = 403),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_agent(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
    Json(body): Json<AgentInput>,
) -> ApiResult<impl IntoResponse> {
    let agent = Agent {
        id: AgentId::parse(&new_id()).expect("uuids are valid ids"),
        data: body.validate(&state, &caller.org).await?,
    };
    state
        .db()
        .insert_agent_with_push(&caller.org, &agent)
        .await?;
    crate::sync::outbound::wake(&state);
    Ok((StatusCode::CREATED, Json(agent)))
}

/// One agent.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The agent", body = turris_core::record::Agent), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_agent(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(existing_agent(&state, &caller.org, &id).await?))
}

/// Replaces an agent's data.
#[utoipa::path(put, path = "/api/v1/agents/{id}", tag = "records", params(("id" = String, Path)),
    request_body = AgentInput,
    responses((status = 200, description = "The agent", body = turris_core::record::Agent), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_agent(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsUpdate>,
    Path(id): Path<String>,
    Json(body): Json<AgentInput>,
) -> ApiResult<Json<Agent>> {
    let existing = existing_agent(&state, &caller.org, &id).await?;
    let agent = Agent {
        id: existing.id,
        data: body.validate(&state, &caller.org).await?,
    };
    state
        .db()
        .update_agent_with_push(&caller.org, &agent)
        .await?;
    crate::sync::outbound::wake(&state);
    Ok(Json(agent))
}
