//! Compliance statuses of agencies and agents; changes queue a debounced webhook.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use turris_core::ids::{AgencyId, AgentId, OrganizationId};
use turris_core::record::StateCode;
use turris_webhooks::ComplianceStatus;
use utoipa::{IntoParams, ToSchema};

use super::detail;
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::store::{ComplianceEntity, ComplianceRecord, ComplianceUpdate};

/// An agency or an agent.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// An agency.
    Agency,
    /// An agent.
    Agent,
}

pub(super) fn entity(kind: EntityKind, id: &str, path: &str) -> ApiResult<ComplianceEntity> {
    let bad = || ApiError::invalid_field(path, "not a valid id");
    Ok(match kind {
        EntityKind::Agency => ComplianceEntity::Agency(AgencyId::parse(id).map_err(|_| bad())?),
        EntityKind::Agent => ComplianceEntity::Agent(AgentId::parse(id).map_err(|_| bad())?),
    })
}

/// The 422 message for an agency or agent that is not in the caller's organization.
pub(super) const MISSING_ENTITY: &str = "no such agency or agent in this organization";

/// The entity's NPN and name, or 422 when it does not exist.
pub(super) async fn entity_facts(
    state: &AppState,
    org: &OrganizationId,
    entity: &ComplianceEntity,
    path: &str,
) -> ApiResult<(Option<String>, String)> {
    let missing = || ApiError::invalid_field(path, MISSING_ENTITY);
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
    /// The status.
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
    pub record: ComplianceRecord,
    /// The status before (`null` for a first status).
    pub previous_status: Option<ComplianceStatus>,
    /// Whether it really changed.
    pub changed: bool,
}

/// Sets compliance statuses per product and state; real changes feed the debounced webhooks.
#[utoipa::path(post, path = "/api/v1/compliance-statuses", tag = "records", request_body = ComplianceUpdates,
    responses((status = 200, body = [ComplianceResult]), (status = 401), (status = 402), (status = 403),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_compliance(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
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

pub(super) async fn params_entity(
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
    responses((status = 200, description = "The statuses", body = [crate::store::ComplianceRecord]), (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_compliance(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(params): Query<EntityParams>,
) -> ApiResult<Json<Vec<ComplianceRecord>>> {
    let entity = params_entity(&state, &caller.org, &params).await?;
    Ok(Json(
        state.db().compliance_statuses(&caller.org, &entity).await?,
    ))
}
