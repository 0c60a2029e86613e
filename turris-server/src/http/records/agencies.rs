//! Agencies: list, create, read, update; each write queues its HubSpot push in the same transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use turris_core::ids::{AgencyId, OrganizationId};
use turris_core::record::{Agency, AgencyDraft, StateCode};
use utoipa::ToSchema;

use super::{RecordPage, detail, new_id, non_empty, parse_npn};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead, RecordsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageParams;

/// An agency's data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyInput {
    /// Name (required).
    pub name: String,
    /// Branch name.
    pub branch_name: Option<String>,
    /// National Producer Number: 1 to 10 digits.
    pub npn: Option<String>,
    /// Producer code.
    pub producer_code: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Street address.
    pub street_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// 2-letter US state code.
    pub state_code: Option<String>,
    /// ZIP.
    pub zip: Option<String>,
    /// Country.
    pub country: Option<String>,
}

impl AgencyInput {
    fn validate(self) -> ApiResult<AgencyDraft> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(detail("name", "name is required"));
        }
        let npn = parse_npn(self.npn.as_deref(), &mut errors);
        let state_code = self
            .state_code
            .as_deref()
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                StateCode::parse(v)
                    .map_err(|e| errors.push(detail("state_code", e.to_string())))
                    .ok()
            });
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(AgencyDraft {
            name: self.name,
            branch_name: non_empty(self.branch_name),
            npn,
            producer_code: non_empty(self.producer_code),
            website: non_empty(self.website),
            phone: non_empty(self.phone),
            street_address: non_empty(self.street_address),
            city: non_empty(self.city),
            state_code,
            zip: non_empty(self.zip),
            country: non_empty(self.country),
        })
    }
}

pub(super) fn agency_id(text: &str) -> ApiResult<AgencyId> {
    AgencyId::parse(text).map_err(|_| ApiError::not_found("agency"))
}

pub(super) async fn existing_agency(
    state: &AppState,
    org: &OrganizationId,
    id: &str,
) -> ApiResult<Agency> {
    state
        .db()
        .get_agency(org, &agency_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("agency"))
}

/// Agencies, by ascending id.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "records", params(PageParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<turris_core::record::Agency>), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_agencies(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<RecordPage<Agency>>> {
    let after = page.cursor.as_deref().map(agency_id).transpose()?;
    let limit = page.limit();
    let items = state
        .db()
        .list_agencies(&caller.org, after.as_ref(), limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |a| a.id.to_string())))
}

/// Creates an agency.
#[utoipa::path(post, path = "/api/v1/agencies", tag = "records", request_body = AgencyInput,
    responses((status = 201, description = "The agency", body = turris_core::record::Agency), (status = 401), (status = 402), (status = 403),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_agency(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
    Json(body): Json<AgencyInput>,
) -> ApiResult<impl IntoResponse> {
    let agency = Agency {
        id: AgencyId::parse(&new_id()).expect("uuids are valid ids"),
        data: body.validate()?,
    };
    state
        .db()
        .insert_agency_with_push(&caller.org, &agency)
        .await?;
    crate::sync::outbound::wake(&state);
    Ok((StatusCode::CREATED, Json(agency)))
}

/// One agency.
#[utoipa::path(get, path = "/api/v1/agencies/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The agency", body = turris_core::record::Agency), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_agency(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Agency>> {
    Ok(Json(existing_agency(&state, &caller.org, &id).await?))
}

/// Replaces an agency's data.
#[utoipa::path(put, path = "/api/v1/agencies/{id}", tag = "records", params(("id" = String, Path)),
    request_body = AgencyInput,
    responses((status = 200, description = "The agency", body = turris_core::record::Agency), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_agency(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsUpdate>,
    Path(id): Path<String>,
    Json(body): Json<AgencyInput>,
) -> ApiResult<Json<Agency>> {
    let existing = existing_agency(&state, &caller.org, &id).await?;
    let agency = Agency {
        id: existing.id,
        data: body.validate()?,
    };
    state
        .db()
        .update_agency_with_push(&caller.org, &agency)
        .await?;
    crate::sync::outbound::wake(&state);
    Ok(Json(agency))
}
