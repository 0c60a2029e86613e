//! NIPR sync results; each queues an immediate `data_synchronized` webhook.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use turris_core::ids::OrganizationId;
use turris_webhooks::{Payload, SyncKind, SyncOutcome};
use utoipa::{IntoParams, ToSchema};

use super::compliance::MISSING_ENTITY;
use super::{EntityKind, EntityParams, RecordPage, entity, non_empty, params_entity};
use crate::app::AppState;
use crate::auth::{Authorized, RecordsCreate, RecordsRead};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{PageParams, time_cursor};
use crate::store::{DbError, NiprSyncId, NiprSyncResult, OutboxEvent};

/// A NIPR fetch or full refresh that finished.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiprSyncInput {
    /// `agency` or `agent`.
    pub entity_type: EntityKind,
    /// The agency or agent id.
    pub entity_id: String,
    /// `fetch` or `full_refresh`.
    pub kind: SyncKind,
    /// `success` or `error`.
    pub outcome: SyncOutcome,
    /// The error, for `outcome: error`.
    pub error: Option<String>,
    /// When it finished (default: now).
    pub finished_at: Option<DateTime<Utc>>,
}

pub(super) fn outbox(
    org: &OrganizationId,
    payload: Payload,
    at: DateTime<Utc>,
) -> ApiResult<OutboxEvent> {
    OutboxEvent::of(org, payload, at).map_err(|e| ApiError::internal("serializing a webhook", &e))
}

/// Records a NIPR sync result; it is sent at once to `entity_compliance_data_synchronized`
/// webhooks.
#[utoipa::path(post, path = "/api/v1/nipr-syncs", tag = "records", request_body = NiprSyncInput,
    responses((status = 201, description = "The result", body = crate::store::NiprSyncResult), (status = 401), (status = 402), (status = 403),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_nipr_sync(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsCreate>,
    Json(body): Json<NiprSyncInput>,
) -> ApiResult<impl IntoResponse> {
    let entity = entity(body.entity_type, &body.entity_id, "entity_id")?;
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
        entity,
        kind: body.kind,
        outcome: body.outcome,
        error,
        finished_at: body.finished_at.unwrap_or(now),
    };
    // The event carries the entity's NPN, read by the same statement that stores the result.
    match state
        .db()
        .record_nipr_result(&caller.org, &result, now)
        .await
    {
        Err(DbError::NotFound) => Err(ApiError::invalid_field("entity_id", MISSING_ENTITY)),
        other => other.map_err(ApiError::from),
    }?;
    Ok((StatusCode::CREATED, Json(result)))
}

/// `?entity_type=&entity_id=&cursor=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NiprParams {
    /// `agency` or `agent`.
    #[param(value_type = String)]
    pub entity_type: EntityKind,
    /// The id.
    pub entity_id: String,
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// An entity's NIPR sync results, newest first, in cursor pages.
#[utoipa::path(get, path = "/api/v1/nipr-syncs", tag = "records", params(NiprParams),
    responses((status = 200, description = "`{items, next_cursor}`", body = RecordPage<crate::store::NiprSyncResult>),
        (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_nipr_syncs(
    State(state): State<AppState>,
    Authorized { caller, .. }: Authorized<RecordsRead>,
    Query(params): Query<NiprParams>,
) -> ApiResult<Json<RecordPage<NiprSyncResult>>> {
    let which = EntityParams {
        entity_type: params.entity_type,
        entity_id: params.entity_id,
    };
    let entity = params_entity(&state, &caller.org, &which).await?;
    let page = PageParams {
        cursor: params.cursor,
        limit: params.limit,
    };
    let limit = page.limit();
    let items = state
        .db()
        .list_nipr_syncs(&caller.org, &entity, page.after()?, limit)
        .await?;
    Ok(Json(RecordPage::of(items, limit, |r| {
        time_cursor(r.finished_at, r.id.0)
    })))
}
