//! The Turris records API: agencies, agents, agency contacts, contract templates, invitations
//! (read), compliance status updates, NIPR sync results and producer agreement execution.
//!
//! Any valid token of the organization may use it (records are not a settings area). The
//! changes that produce outbound webhooks write their outbox rows in the same transaction, and
//! so do agencies, agents and agency contacts with their HubSpot push
//! ([`crate::sync::outbound`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::{AgencyContactId, AgencyId, AgentId, ContractTemplateId, OrganizationId};
use turris_core::record::{Agency, AgencyContact, AgencyDraft, Agent, AgentDraft, Npn, StateCode};
use turris_webhooks::{
    AgreementSigner, ComplianceStatus, DataSynchronized, Envelope, Payload,
    ProducerAgreementExecuted, SyncKind, SyncOutcome,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Routes;
use super::extract::{Json, Path, Query};
use super::pagination::PageParams;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::store::{
    AgreementId, ComplianceEntity, ComplianceRecord, ComplianceUpdate, ContractTemplate,
    Invitation, InvitationId, NiprSyncId, NiprSyncResult, OutboxEvent, ProducerAgreement,
};

/// The records routes.
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/agencies", list_agencies)
        .post("/api/v1/agencies", create_agency)
        .get("/api/v1/agencies/{id}", get_agency)
        .put("/api/v1/agencies/{id}", update_agency)
        .get("/api/v1/agencies/{id}/contacts", list_contacts)
        .post("/api/v1/agencies/{id}/contacts", create_contact)
        .get("/api/v1/agency-contacts/{id}", get_contact)
        .put("/api/v1/agency-contacts/{id}", update_contact)
        .get("/api/v1/agents", list_agents)
        .post("/api/v1/agents", create_agent)
        .get("/api/v1/agents/{id}", get_agent)
        .put("/api/v1/agents/{id}", update_agent)
        .get("/api/v1/contract-templates", list_templates)
        .post("/api/v1/contract-templates", create_template)
        .get("/api/v1/contract-templates/{id}", get_template)
        .get("/api/v1/invitations", list_invitations)
        .get("/api/v1/invitations/{id}", get_invitation)
        .post("/api/v1/compliance-statuses", set_compliance)
        .get("/api/v1/compliance-statuses", get_compliance)
        .post("/api/v1/nipr-syncs", create_nipr_sync)
        .get("/api/v1/nipr-syncs", list_nipr_syncs)
        .post("/api/v1/producer-agreements", create_agreement)
        .get("/api/v1/producer-agreements", list_agreements)
        .get("/api/v1/producer-agreements/{id}", get_agreement)
}

fn detail(path: impl Into<String>, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        path: path.into(),
        message: message.into(),
    }
}

fn new_id() -> String {
    Uuid::now_v7().to_string()
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn parse_npn(value: Option<&str>, errors: &mut Vec<ErrorDetail>) -> Option<Npn> {
    let value = value.filter(|v| !v.is_empty())?;
    Npn::parse(value)
        .map_err(|e| errors.push(detail("npn", e.to_string())))
        .ok()
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage<T> {
    /// The records, by ascending id.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Agencies

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

fn agency_id(text: &str) -> ApiResult<AgencyId> {
    AgencyId::parse(text).map_err(|_| ApiError::not_found("agency"))
}

async fn existing_agency(state: &AppState, org: &OrganizationId, id: &str) -> ApiResult<Agency> {
    state
        .db()
        .get_agency(org, &agency_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("agency"))
}

/// Agencies, by ascending id.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "records", params(PageParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = doc::AgencyPage), (status = 401)),
    security(("bearer" = [])))]
pub async fn list_agencies(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<RecordPage<Agency>>> {
    let after = page.cursor.as_deref().map(agency_id).transpose()?;
    let limit = page.limit();
    let items = state
        .db()
        .list_agencies(&caller.org, after.as_ref(), limit)
        .await?;
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(RecordPage { items, next_cursor }))
}

/// Creates an agency.
#[utoipa::path(post, path = "/api/v1/agencies", tag = "records", request_body = AgencyInput,
    responses((status = 201, description = "The agency", body = doc::Agency), (status = 401),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_agency(
    State(state): State<AppState>,
    caller: Caller,
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
    responses((status = 200, description = "The agency", body = doc::Agency), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_agency(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Agency>> {
    Ok(Json(existing_agency(&state, &caller.org, &id).await?))
}

/// Replaces an agency's data.
#[utoipa::path(put, path = "/api/v1/agencies/{id}", tag = "records", params(("id" = String, Path)),
    request_body = AgencyInput,
    responses((status = 200, description = "The agency", body = doc::Agency), (status = 401), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_agency(
    State(state): State<AppState>,
    caller: Caller,
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

// ---------------------------------------------------------------------------------------------
// Agency contacts

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
            let ok = matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'))
                && !email.chars().any(char::is_whitespace);
            if !ok {
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

/// An agency's contacts.
#[utoipa::path(get, path = "/api/v1/agencies/{id}/contacts", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The contacts", body = [doc::AgencyContact]), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AgencyContact>>> {
    let agency = existing_agency(&state, &caller.org, &id).await?;
    Ok(Json(
        state
            .db()
            .list_agency_contacts(&caller.org, &agency.id)
            .await?,
    ))
}

/// Adds a contact to an agency.
#[utoipa::path(post, path = "/api/v1/agencies/{id}/contacts", tag = "records", params(("id" = String, Path)),
    request_body = ContactInput,
    responses((status = 201, description = "The contact", body = doc::AgencyContact), (status = 401), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_contact(
    State(state): State<AppState>,
    caller: Caller,
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

async fn existing_contact(
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
    responses((status = 200, description = "The contact", body = doc::AgencyContact), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgencyContact>> {
    Ok(Json(existing_contact(&state, &caller.org, &id).await?))
}

/// Replaces an agency contact's data.
#[utoipa::path(put, path = "/api/v1/agency-contacts/{id}", tag = "records", params(("id" = String, Path)),
    request_body = ContactInput,
    responses((status = 200, description = "The contact", body = doc::AgencyContact), (status = 401), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_contact(
    State(state): State<AppState>,
    caller: Caller,
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

// ---------------------------------------------------------------------------------------------
// Agents

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

fn agent_id(text: &str) -> ApiResult<AgentId> {
    AgentId::parse(text).map_err(|_| ApiError::not_found("agent"))
}

async fn existing_agent(state: &AppState, org: &OrganizationId, id: &str) -> ApiResult<Agent> {
    state
        .db()
        .get_agent(org, &agent_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// Agents, by ascending id.
#[utoipa::path(get, path = "/api/v1/agents", tag = "records", params(PageParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = doc::AgentPage), (status = 401)),
    security(("bearer" = [])))]
pub async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<RecordPage<Agent>>> {
    let after = page.cursor.as_deref().map(agent_id).transpose()?;
    let limit = page.limit();
    let items = state
        .db()
        .list_agents(&caller.org, after.as_ref(), limit)
        .await?;
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(RecordPage { items, next_cursor }))
}

/// Creates an agent.
#[utoipa::path(post, path = "/api/v1/agents", tag = "records", request_body = AgentInput,
    responses((status = 201, description = "The agent", body = doc::Agent), (status = 401),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_agent(
    State(state): State<AppState>,
    caller: Caller,
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
    responses((status = 200, description = "The agent", body = doc::Agent), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(existing_agent(&state, &caller.org, &id).await?))
}

/// Replaces an agent's data.
#[utoipa::path(put, path = "/api/v1/agents/{id}", tag = "records", params(("id" = String, Path)),
    request_body = AgentInput,
    responses((status = 200, description = "The agent", body = doc::Agent), (status = 401), (status = 404),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_agent(
    State(state): State<AppState>,
    caller: Caller,
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

// ---------------------------------------------------------------------------------------------
// Contract templates and invitations

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
    responses((status = 200, description = "The templates", body = [doc::ContractTemplate]), (status = 401)),
    security(("bearer" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ContractTemplate>>> {
    Ok(Json(state.db().list_contract_templates(&caller.org).await?))
}

/// Creates a contract template.
#[utoipa::path(post, path = "/api/v1/contract-templates", tag = "records", request_body = CreateTemplate,
    responses((status = 201, description = "The template", body = doc::ContractTemplate), (status = 401),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    caller: Caller,
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
    responses((status = 200, description = "The template", body = doc::ContractTemplate), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_template(
    State(state): State<AppState>,
    caller: Caller,
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

/// `?agency_id=` narrows a list to one agency.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgencyFilter {
    /// Only this agency's.
    pub agency_id: Option<String>,
}

/// Invitations (created by inbound sync), newest first.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "records", params(AgencyFilter),
    responses((status = 200, description = "The invitations", body = [doc::Invitation]), (status = 401)),
    security(("bearer" = [])))]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AgencyFilter>,
) -> ApiResult<Json<Vec<Invitation>>> {
    let agency = filter.agency_id.as_deref().map(agency_id).transpose()?;
    Ok(Json(
        state
            .db()
            .list_invitations(&caller.org, agency.as_ref())
            .await?,
    ))
}

/// One invitation.
#[utoipa::path(get, path = "/api/v1/invitations/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The invitation", body = doc::Invitation), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvitationId>,
) -> ApiResult<Json<Invitation>> {
    state
        .db()
        .invitation(&caller.org, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("invitation"))
}

// ---------------------------------------------------------------------------------------------
// Compliance, NIPR, producer agreements

/// An agency or an agent.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// An agency.
    Agency,
    /// An agent.
    Agent,
}

fn entity(kind: EntityKind, id: &str, path: &str) -> ApiResult<ComplianceEntity> {
    let bad = || ApiError::invalid_field(path, "not a valid id");
    Ok(match kind {
        EntityKind::Agency => ComplianceEntity::Agency(AgencyId::parse(id).map_err(|_| bad())?),
        EntityKind::Agent => ComplianceEntity::Agent(AgentId::parse(id).map_err(|_| bad())?),
    })
}

/// The entity's NPN and name, or 422 when it does not exist.
async fn entity_facts(
    state: &AppState,
    org: &OrganizationId,
    entity: &ComplianceEntity,
    path: &str,
) -> ApiResult<(Option<String>, String)> {
    let missing = || ApiError::invalid_field(path, "no such agency or agent in this organization");
    match entity {
        ComplianceEntity::Agency(id) => {
            let a = state.db().get_agency(org, id).await?.ok_or_else(missing)?;
            Ok((a.data.npn.map(|n| n.as_str().to_owned()), a.data.name))
        }
        ComplianceEntity::Agent(id) => {
            let a = state.db().get_agent(org, id).await?.ok_or_else(missing)?;
            Ok((
                a.data.npn.map(|n| n.as_str().to_owned()),
                format!("{} {}", a.data.first_name, a.data.last_name),
            ))
        }
    }
}

/// One status to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceInput {
    /// `agency` or `agent`.
    pub entity_type: EntityKind,
    /// The agency or agent id.
    pub entity_id: String,
    /// The product.
    pub product: String,
    /// 2-letter US state code.
    pub state: String,
    /// `compliant`, `non_compliant`, `pending` or `not_required`.
    #[schema(value_type = String)]
    pub status: ComplianceStatus,
}

/// Compliance statuses to set, in one transaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceUpdates {
    /// The statuses.
    pub updates: Vec<ComplianceInput>,
}

/// What one update did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceResult {
    /// The stored status.
    #[schema(value_type = doc::ComplianceRecord)]
    pub record: ComplianceRecord,
    /// The status before (`null` for a first status).
    #[schema(value_type = Option<String>)]
    pub previous_status: Option<ComplianceStatus>,
    /// Whether it really changed.
    pub changed: bool,
}

/// Sets compliance statuses per product and state; real changes feed the debounced webhooks.
#[utoipa::path(post, path = "/api/v1/compliance-statuses", tag = "records", request_body = ComplianceUpdates,
    responses((status = 200, body = [ComplianceResult]), (status = 401),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_compliance(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ComplianceUpdates>,
) -> ApiResult<Json<Vec<ComplianceResult>>> {
    if body.updates.is_empty() {
        return Err(ApiError::invalid_field(
            "updates",
            "at least one update is required",
        ));
    }
    let mut errors = Vec::new();
    let mut updates = Vec::new();
    for (i, u) in body.updates.iter().enumerate() {
        let prefix = format!("updates[{i}]");
        let entity = match entity(u.entity_type, &u.entity_id, &format!("{prefix}.entity_id")) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.extend(e.body().details);
                None
            }
        };
        if let Some(entity) = &entity
            && let Err(e) =
                entity_facts(&state, &caller.org, entity, &format!("{prefix}.entity_id")).await
        {
            if e.status_code() != StatusCode::UNPROCESSABLE_ENTITY {
                return Err(e);
            }
            errors.extend(e.body().details);
        }
        if u.product.trim().is_empty() {
            errors.push(detail(format!("{prefix}.product"), "product is required"));
        }
        let code = StateCode::parse(&u.state)
            .map_err(|e| errors.push(detail(format!("{prefix}.state"), e.to_string())))
            .ok();
        if let (Some(entity), Some(code)) = (entity, code) {
            updates.push(ComplianceUpdate {
                entity,
                product: u.product.trim().to_owned(),
                state: code,
                status: u.status,
            });
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let transitions = state
        .db()
        .set_compliance_statuses(&caller.org, &updates, Utc::now())
        .await?;
    Ok(Json(
        transitions
            .into_iter()
            .map(|t| ComplianceResult {
                record: t.record,
                previous_status: t.previous,
                changed: t.changed,
            })
            .collect(),
    ))
}

/// `?entity_type=agency&entity_id=...`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntityParams {
    /// `agency` or `agent`.
    #[param(value_type = String)]
    pub entity_type: EntityKind,
    /// The id.
    pub entity_id: String,
}

async fn params_entity(
    state: &AppState,
    org: &OrganizationId,
    params: &EntityParams,
) -> ApiResult<ComplianceEntity> {
    let e = entity(params.entity_type, &params.entity_id, "entity_id")
        .map_err(|_| ApiError::not_found("entity"))?;
    entity_facts(state, org, &e, "entity_id")
        .await
        .map_err(|err| {
            if err.status_code() == StatusCode::UNPROCESSABLE_ENTITY {
                ApiError::not_found("entity")
            } else {
                err
            }
        })?;
    Ok(e)
}

/// An entity's compliance statuses.
#[utoipa::path(get, path = "/api/v1/compliance-statuses", tag = "records", params(EntityParams),
    responses((status = 200, description = "The statuses", body = [doc::ComplianceRecord]), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_compliance(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<EntityParams>,
) -> ApiResult<Json<Vec<ComplianceRecord>>> {
    let entity = params_entity(&state, &caller.org, &params).await?;
    Ok(Json(
        state.db().compliance_statuses(&caller.org, &entity).await?,
    ))
}

/// A NIPR fetch or full refresh that finished.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiprSyncInput {
    /// `agency` or `agent`.
    pub entity_type: EntityKind,
    /// The agency or agent id.
    pub entity_id: String,
    /// `fetch` or `full_refresh`.
    #[schema(value_type = String)]
    pub kind: SyncKind,
    /// `success` or `error`.
    #[schema(value_type = String)]
    pub outcome: SyncOutcome,
    /// The error, for `outcome: error`.
    pub error: Option<String>,
    /// When it finished (default: now).
    pub finished_at: Option<DateTime<Utc>>,
}

fn outbox(org: &OrganizationId, payload: Payload, at: DateTime<Utc>) -> ApiResult<OutboxEvent> {
    let envelope = Envelope::for_payload(org.as_str(), payload);
    let body = envelope
        .to_bytes()
        .map_err(|e| ApiError::internal("serializing a webhook", &e))?;
    Ok(OutboxEvent {
        webhook_type: envelope.webhook_type,
        body: body.to_vec(),
        created_at: at,
    })
}

/// Records a NIPR sync result; it is sent at once to `entity_compliance_data_synchronized`
/// webhooks.
#[utoipa::path(post, path = "/api/v1/nipr-syncs", tag = "records", request_body = NiprSyncInput,
    responses((status = 201, description = "The result", body = doc::NiprSync), (status = 401),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_nipr_sync(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NiprSyncInput>,
) -> ApiResult<impl IntoResponse> {
    let entity = entity(body.entity_type, &body.entity_id, "entity_id")?;
    let (npn, _) = entity_facts(&state, &caller.org, &entity, "entity_id").await?;
    let error = non_empty(body.error);
    match (body.outcome, &error) {
        (SyncOutcome::Error, None) => {
            return Err(ApiError::invalid_field(
                "error",
                "an error outcome needs the error",
            ));
        }
        (SyncOutcome::Success, Some(_)) => {
            return Err(ApiError::invalid_field(
                "error",
                "a successful sync has no error",
            ));
        }
        _ => {}
    }
    let now = Utc::now();
    let result = NiprSyncResult {
        id: NiprSyncId::new(),
        entity: entity.clone(),
        kind: body.kind,
        outcome: body.outcome,
        error: error.clone(),
        finished_at: body.finished_at.unwrap_or(now),
    };
    let payload = Payload::EntityComplianceDataSynchronized(DataSynchronized {
        entity_type: entity.entity_type(),
        entity_id: entity.id().to_owned(),
        npn,
        kind: body.kind,
        outcome: body.outcome,
        error,
        finished_at: result.finished_at,
    });
    let events = [outbox(&caller.org, payload, now)?];
    state
        .db()
        .record_nipr_sync(&caller.org, &result, &events)
        .await?;
    Ok((StatusCode::CREATED, Json(result)))
}

/// An entity's NIPR sync results, newest first.
#[utoipa::path(get, path = "/api/v1/nipr-syncs", tag = "records", params(EntityParams),
    responses((status = 200, description = "The results", body = [doc::NiprSync]), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_nipr_syncs(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<EntityParams>,
) -> ApiResult<Json<Vec<NiprSyncResult>>> {
    let entity = params_entity(&state, &caller.org, &params).await?;
    Ok(Json(
        state.db().list_nipr_syncs(&caller.org, &entity).await?,
    ))
}

/// A signer of an agreement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignerInput {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// An executed producer agreement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementInput {
    /// The agency that signed.
    pub agency_id: String,
    /// The contract template signed.
    pub contract_template_id: String,
    /// When it was executed (default: now).
    pub executed_at: Option<DateTime<Utc>>,
    /// Who signed (at least one).
    pub signers: Vec<SignerInput>,
}

/// Records an executed producer agreement; it is sent at once to `producer_agreement_executed`
/// webhooks.
#[utoipa::path(post, path = "/api/v1/producer-agreements", tag = "records", request_body = AgreementInput,
    responses((status = 201, description = "The agreement", body = doc::ProducerAgreement), (status = 401),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_agreement(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AgreementInput>,
) -> ApiResult<impl IntoResponse> {
    let mut errors = Vec::new();
    let agency = match AgencyId::parse(&body.agency_id) {
        Ok(id) => state.db().get_agency(&caller.org, &id).await?,
        Err(_) => None,
    };
    if agency.is_none() {
        errors.push(detail("agency_id", "no such agency in this organization"));
    }
    let template = match ContractTemplateId::parse(&body.contract_template_id) {
        Ok(id) => state.db().contract_template(&caller.org, &id).await?,
        Err(_) => None,
    };
    if template.is_none() {
        errors.push(detail(
            "contract_template_id",
            "no such contract template in this organization",
        ));
    }
    if body.signers.is_empty() {
        errors.push(detail("signers", "at least one signer is required"));
    }
    for (i, s) in body.signers.iter().enumerate() {
        if s.name.trim().is_empty() {
            errors.push(detail(format!("signers[{i}].name"), "name is required"));
        }
        if !s.email.contains('@') {
            errors.push(detail(
                format!("signers[{i}].email"),
                "email must be an address",
            ));
        }
    }
    let (Some(agency), Some(template), true) = (agency, template, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let now = Utc::now();
    let agreement = ProducerAgreement {
        id: AgreementId::new(),
        agency_id: agency.id,
        contract_template_id: template.id,
        executed_at: body.executed_at.unwrap_or(now),
        signers: body
            .signers
            .into_iter()
            .map(|s| AgreementSigner {
                name: s.name.trim().to_owned(),
                email: s.email.trim().to_owned(),
            })
            .collect(),
    };
    let payload = Payload::ProducerAgreementExecuted(ProducerAgreementExecuted {
        agency_id: agreement.agency_id.to_string(),
        agreement_id: agreement.id.to_string(),
        contract_template_id: agreement.contract_template_id.to_string(),
        executed_at: agreement.executed_at,
        signers: agreement.signers.clone(),
    });
    let events = [outbox(&caller.org, payload, now)?];
    state
        .db()
        .record_producer_agreement(&caller.org, &agreement, &events)
        .await?;
    Ok((StatusCode::CREATED, Json(agreement)))
}

/// Executed agreements, newest first.
#[utoipa::path(get, path = "/api/v1/producer-agreements", tag = "records", params(AgencyFilter),
    responses((status = 200, description = "The agreements", body = [doc::ProducerAgreement]), (status = 401)),
    security(("bearer" = [])))]
pub async fn list_agreements(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AgencyFilter>,
) -> ApiResult<Json<Vec<ProducerAgreement>>> {
    let agency = filter.agency_id.as_deref().map(agency_id).transpose()?;
    Ok(Json(
        state
            .db()
            .list_producer_agreements(&caller.org, agency.as_ref())
            .await?,
    ))
}

/// One agreement.
#[utoipa::path(get, path = "/api/v1/producer-agreements/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The agreement", body = doc::ProducerAgreement), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_agreement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AgreementId>,
) -> ApiResult<Json<ProducerAgreement>> {
    state
        .db()
        .producer_agreement(&caller.org, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("producer agreement"))
}

/// OpenAPI schemas of the records as answered (core and store types carry no utoipa).
#[allow(dead_code)]
pub mod doc {
    use chrono::{DateTime, Utc};
    use utoipa::ToSchema;

    /// An agency.
    #[derive(ToSchema)]
    #[schema(as = Agency)]
    pub struct Agency {
        /// Its id.
        id: String,
        /// Name.
        name: String,
        /// Branch name.
        branch_name: Option<String>,
        /// NPN.
        npn: Option<String>,
        /// Producer code.
        producer_code: Option<String>,
        /// Website.
        website: Option<String>,
        /// Phone.
        phone: Option<String>,
        /// Street address.
        street_address: Option<String>,
        /// City.
        city: Option<String>,
        /// 2-letter US state code.
        state_code: Option<String>,
        /// ZIP.
        zip: Option<String>,
        /// Country.
        country: Option<String>,
    }

    /// A page of agencies.
    #[derive(ToSchema)]
    #[schema(as = AgencyPage)]
    pub struct AgencyPage {
        /// By ascending id.
        items: Vec<Agency>,
        /// The next page's cursor; `null` at the end.
        next_cursor: Option<String>,
    }

    /// An agent.
    #[derive(ToSchema)]
    #[schema(as = Agent)]
    pub struct Agent {
        /// Its id.
        id: String,
        /// First name.
        first_name: String,
        /// Last name.
        last_name: String,
        /// Middle name.
        middle_name: Option<String>,
        /// Email.
        email: Option<String>,
        /// NPN.
        npn: Option<String>,
        /// The agency the agent works for.
        agency_id: Option<String>,
    }

    /// A page of agents.
    #[derive(ToSchema)]
    #[schema(as = AgentPage)]
    pub struct AgentPage {
        /// By ascending id.
        items: Vec<Agent>,
        /// The next page's cursor; `null` at the end.
        next_cursor: Option<String>,
    }

    /// A contact person of an agency.
    #[derive(ToSchema)]
    #[schema(as = AgencyContact)]
    pub struct AgencyContact {
        /// Its id.
        id: String,
        /// The agency.
        agency_id: String,
        /// First name.
        first_name: Option<String>,
        /// Last name.
        last_name: Option<String>,
        /// Email.
        email: Option<String>,
    }

    /// A contract template.
    #[derive(ToSchema)]
    #[schema(as = ContractTemplate)]
    pub struct ContractTemplate {
        /// Its id.
        id: String,
        /// Name.
        name: String,
        /// When it was created.
        created_at: DateTime<Utc>,
    }

    /// An agency invitation.
    #[derive(ToSchema)]
    #[schema(as = Invitation)]
    pub struct Invitation {
        /// Its id.
        id: String,
        /// The agency.
        agency_id: String,
        /// The contract, when chosen.
        contract_template_id: Option<String>,
        /// `sent`, `deferred` or `needs_attention`.
        status: String,
        /// Where it was sent.
        sent_to: Option<String>,
        /// Created.
        created_at: DateTime<Utc>,
        /// Last status change.
        updated_at: DateTime<Utc>,
    }

    /// A compliance status.
    #[derive(ToSchema)]
    #[schema(as = ComplianceRecord)]
    pub struct ComplianceRecord {
        /// `{"entityType": "agency"|"agent", "entityId": "..."}`.
        entity: Entity,
        /// Product.
        product: String,
        /// US state.
        state: String,
        /// `compliant`, `non_compliant`, `pending` or `not_required`.
        status: String,
        /// When it was set.
        updated_at: DateTime<Utc>,
    }

    /// An agency or agent.
    #[derive(ToSchema)]
    #[schema(as = Entity)]
    #[allow(non_snake_case)]
    pub struct Entity {
        /// `agency` or `agent`.
        entityType: String,
        /// Its id.
        entityId: String,
    }

    /// A NIPR sync result.
    #[derive(ToSchema)]
    #[schema(as = NiprSync)]
    pub struct NiprSync {
        /// Its id.
        id: String,
        /// The agency or agent.
        entity: Entity,
        /// `fetch` or `full_refresh`.
        kind: String,
        /// `success` or `error`.
        outcome: String,
        /// The error.
        error: Option<String>,
        /// When it finished.
        finished_at: DateTime<Utc>,
    }

    /// A signer.
    #[derive(ToSchema)]
    #[schema(as = Signer)]
    pub struct Signer {
        /// Name.
        name: String,
        /// Email.
        email: String,
    }

    /// An executed producer agreement.
    #[derive(ToSchema)]
    #[schema(as = ProducerAgreement)]
    pub struct ProducerAgreement {
        /// Its id.
        id: String,
        /// The agency.
        agency_id: String,
        /// The template signed.
        contract_template_id: String,
        /// When.
        executed_at: DateTime<Utc>,
        /// Who signed.
        signers: Vec<Signer>,
    }
}
