//! Contract templates (create, read) and invitations (read).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Deserialize;
use turris_core::ids::ContractTemplateId;
use utoipa::{IntoParams, ToSchema};

use super::{RecordPage, agency_id, detail};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{PageParams, time_cursor};
use crate::store::{
    ContractTemplate, Invitation, InvitationFilter, InvitationId, InvitationStatus,
};

/// A new contract template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplate {
    /// Its id (what invitation rules name): 1 to 128 of `A-Z a-z 0-9 - _ .`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Contract templates.
#[utoipa::path(get, path = "/api/v1/contract-templates", tag = "records",
    responses((status = 200, description = "The templates", body = [crate::store::ContractTemplate]), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
) -> ApiResult<Json<Vec<ContractTemplate>>> {
    Ok(Json(state.db().list_contract_templates(&caller.org).await?))
}

/// Creates a contract template.
#[utoipa::path(post, path = "/api/v1/contract-templates", tag = "records", request_body = CreateTemplate,
    responses((status = 201, description = "The template", body = crate::store::ContractTemplate), (status = 401), (status = 402), (status = 403),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
    Json(body): Json<CreateTemplate>,
) -> ApiResult<impl IntoResponse> {
    let mut errors = Vec::new();
    let id =
        ContractTemplateId::parse(&body.id).map_err(|e| errors.push(detail("id", e.to_string())));
    if body.name.trim().is_empty() {
        errors.push(detail("name", "name is required"));
    }
    let (Ok(id), true) = (id, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let template = state
        .db()
        .create_contract_template(&caller.org, &id, body.name.trim(), Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(template)))
}

/// One contract template.
#[utoipa::path(get, path = "/api/v1/contract-templates/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The template", body = crate::store::ContractTemplate), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_template(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractTemplate>> {
    let id =
        ContractTemplateId::parse(&id).map_err(|_| ApiError::not_found("contract template"))?;
    state
        .db()
        .contract_template(&caller.org, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("contract template"))
}

/// `?agency_id=&status=&cursor=&limit=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InvitationParams {
    /// Only this agency's.
    pub agency_id: Option<String>,
    /// Only those in this status (`sent`, `deferred` or `needs_attention`).
    pub status: Option<InvitationStatus>,
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// Invitations (created by inbound sync), newest first, in cursor pages; by agency and status
/// when asked (`?status=needs_attention` is the list a person works through).
#[utoipa::path(get, path = "/api/v1/invitations", tag = "records", params(InvitationParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<crate::store::Invitation>),
        (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_invitations(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(params): Query<InvitationParams>,
) -> ApiResult<Json<RecordPage<Invitation>>> {
    let filter = InvitationFilter {
        agency: params.agency_id.as_deref().map(agency_id).transpose()?,
        status: params.status,
    };
    let page = PageParams {
        cursor: params.cursor,
        limit: params.limit,
    };
    let limit = page.limit();
    let after = page.after()?.map(|(at, id)| (at, InvitationId(id)));
    let items = state
        .db()
        .invitation_page(&caller.org, &filter, after, limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |i| {
        time_cursor(i.created_at, i.id.0)
    })))
}

/// One invitation.
#[utoipa::path(get, path = "/api/v1/invitations/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The invitation", body = crate::store::Invitation), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_invitation(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<InvitationId>,
) -> ApiResult<Json<Invitation>> {
    state
        .db()
        .invitation(&caller.org, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("invitation"))
}
