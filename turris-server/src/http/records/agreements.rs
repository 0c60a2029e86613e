//! Producer agreement execution; each queues a `producer_agreement_executed` webhook.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use turris_core::ids::{AgencyId, ContractTemplateId};
use turris_webhooks::{AgreementSigner, Payload, ProducerAgreementExecuted};
use utoipa::{IntoParams, ToSchema};

use super::{RecordPage, agency_id, detail, outbox};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{PageParams, time_cursor};
use crate::store::{AgreementId, ProducerAgreement};

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
    responses((status = 201, description = "The agreement", body = crate::store::ProducerAgreement), (status = 401), (status = 402), (status = 403),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_agreement(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
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
        if !turris_core::record::Email::is_valid(s.email.trim()) {
            errors.push(detail(
                format!("signers[{i}].email"),
                "email must be an address like ada@example.com",
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

/// `?agency_id=&cursor=&limit=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgreementParams {
    /// Only this agency's.
    pub agency_id: Option<String>,
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// Executed agreements, newest first, in cursor pages.
#[utoipa::path(get, path = "/api/v1/producer-agreements", tag = "records", params(AgreementParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<crate::store::ProducerAgreement>),
        (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_agreements(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(params): Query<AgreementParams>,
) -> ApiResult<Json<RecordPage<ProducerAgreement>>> {
    let agency = params.agency_id.as_deref().map(agency_id).transpose()?;
    let page = PageParams {
        cursor: params.cursor,
        limit: params.limit,
    };
    let limit = page.limit();
    let items = state
        .db()
        .list_producer_agreements(&caller.org, agency.as_ref(), page.after()?, limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |a| {
        time_cursor(a.executed_at, a.id.0)
    })))
}

/// One agreement.
#[utoipa::path(get, path = "/api/v1/producer-agreements/{id}", tag = "records", params(("id" = String, Path)),
    responses((status = 200, description = "The agreement", body = crate::store::ProducerAgreement), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_agreement(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Path(id): Path<AgreementId>,
) -> ApiResult<Json<ProducerAgreement>> {
    state
        .db()
        .producer_agreement(&caller.org, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("producer agreement"))
}
