//! Agency contacts: list, add, read, update; a contact with an email releases the agency's deferred invitation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use turris_core::ids::{AgencyContactId, AgencyId, OrganizationId};
use turris_core::record::AgencyContact;
use utoipa::ToSchema;

use super::{RecordPage, existing_agency, new_id, non_empty};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead, RecordsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageParams;

/// An agency contact's data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email (an invitation needs one).
    pub email: Option<String>,
}

impl ContactInput {
    fn validate(self, id: AgencyContactId, agency_id: AgencyId) -> ApiResult<AgencyContact> {
        let email = non_empty(self.email);
        if let Some(email) = &email {
            if !turris_core::record::Email::is_valid(email) {
                return Err(ApiError::invalid_field(
                    "email",
                    "email must be an address like ada@example.com",
                ));
            }
        }
        Ok(AgencyContact {
            id,
            agency_id,
            first_name: non_empty(self.first_name),
            last_name: non_empty(self.last_name),
            email,
        })
    }
}

/// An agency's contacts, by ascending id, in cursor pages.
#[utoipa::path(get, path = "/api/v1/agencies/{id}/contacts", tag = "records", params(("id" = String, Path), PageParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<turris_core::record::AgencyContact>),
        (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_contacts(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<RecordPage<AgencyContact>>> {
    let agency = existing_agency(&state, &caller.org, &id).await?;
    let after = page
        .cursor
        .as_deref()
        .map(|c| AgencyContactId::parse(c).map_err(|_| crate::http::pagination::invalid_cursor()))
        .transpose()?;
    let limit = page.limit();
    let items = state
        .db()
        .list_agency_contacts_page(&caller.org, &agency.id, after.as_ref(), limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |c| c.id.to_string())))
}

/// Adds a contact to an agency.
#[utoipa::path(post, path = "/api/v1/agencies/{id}/contacts", tag = "records", params(("id" = String, Path)),
    request_body = ContactInput,
    responses((status = 201, description = "The contact", body = turris_core::record::AgencyContact), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_contact(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
    Path(id): Path<String>,
    Json(body): Json<ContactInput>,
) -> ApiResult<impl IntoResponse> {
    let agency = existing_agency(&state, &caller.org, &id).await?;
    let contact_id = AgencyContactId::parse(&new_id()).expect("uuids are valid ids");
    let contact = body.validate(contact_id, agency.id)?;
    state
        .db()
        .insert_agency_contact_with_push(&caller.org, &contact)
        .await?;
    crate::sync::outbound::wake(&state);
    crate::sync::invites::contact_added(&state, &caller.org, &contact.agency_id).await;
    Ok((StatusCode::CREATED, Json(contact)))
}

pub(super) async fn existing_contact(
    state: &AppState,
    org: &OrganizationId,
    id: &str,
) -> ApiResult<AgencyContact> {
    let id = AgencyContactId::parse(id).map_err(|_| ApiError::not_found("agency contact"))?;
    state
        .db()
        .get_agency_contact(org, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("agency contact"))
}

/// One agency contact.
#[utoipa::path(get, path = "/api/v1/agency-contacts/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The contact", body = turris_core::record::AgencyContact), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_contact(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<AgencyContact>> {
    Ok(Json(existing_contact(&state, &caller.org, &id).await?))
}

/// Replaces an agency contact's data.
#[utoipa::path(put, path = "/api/v1/agency-contacts/{id}", tag = "records", params(("id" = String, Path)),
    request_body = ContactInput,
    responses((status = 200, description = "The contact", body = turris_core::record::AgencyContact), (status = 401), (status = 402), (status = 403), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_contact(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsUpdate>,
    Path(id): Path<String>,
    Json(body): Json<ContactInput>,
) -> ApiResult<Json<AgencyContact>> {
    let existing = existing_contact(&state, &caller.org, &id).await?;
    let contact = body.validate(existing.id, existing.agency_id)?;
    state
        .db()
        .update_agency_contact_with_push(&caller.org, &contact)
        .await?;
    crate::sync::outbound::wake(&state);
    Ok(Json(contact))
}
