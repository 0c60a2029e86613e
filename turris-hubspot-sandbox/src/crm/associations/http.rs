//! The `/crm/v4/objects/.../associations` routes of one record, and the router of all
//! association routes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::crm::objects::{mutate, parse_id, query_pairs};
use crate::error::{ApiError, ApiResult, parse_json};
use crate::state::{ObjectKind, Shared, iso};
use crate::webhooks::ChangeSource;

use super::batch::{batch_archive, batch_create, batch_default, batch_read};
use super::{AssociationSpec, End, associate, dissociate, label, required_default_type};

pub(super) fn kind(raw: &str) -> ApiResult<ObjectKind> {
    ObjectKind::parse(raw)
        .ok_or_else(|| ApiError::validation(format!("Unable to infer object type from: {raw}")))
}

pub(super) fn id(raw: &str) -> ApiResult<u64> {
    parse_id(raw).ok_or_else(|| ApiError::validation(format!("{raw} is not a valid object id")))
}

pub(super) fn types_json(from: ObjectKind, types: &[u32]) -> Vec<Value> {
    types
        .iter()
        .map(|t| {
            json!({
                "category": "HUBSPOT_DEFINED",
                "typeId": t,
                "label": label(from, *t),
            })
        })
        .collect()
}

pub(super) fn source(p: &Principal) -> ChangeSource {
    ChangeSource::Integration { app_id: p.app_id }
}

async fn read(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, from_id, to)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let (from, from_id, to) = (kind(&from)?, id(&from_id)?, kind(&to)?);
    let pairs = query_pairs(q.as_deref());
    let limit = pairs
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(500)
        .clamp(1, 500);
    let after = pairs
        .iter()
        .find(|(k, _)| k == "after")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(0);
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let all = portal.associations.targets((from, from_id), to);
    let mut rest = all.iter().filter(|(id, _)| *id >= after);
    let results: Vec<Value> = rest
        .by_ref()
        .take(limit)
        .map(|(id, types)| json!({ "toObjectId": id, "associationTypes": types_json(from, types) }))
        .collect();
    let mut out = json!({ "results": results });
    if let Some((next, _)) = rest.next() {
        out["paging"] = json!({ "next": { "after": next.to_string() } });
    }
    Ok(axum::Json(out).into_response())
}

async fn create_default(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let started = Utc::now();
    let (from, from_id, to, to_id) = (kind(&from)?, id(&from_id)?, kind(&to)?, id(&to_id)?);
    let type_id = required_default_type(from, to)?;
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| associate(portal, (from, from_id), (to, to_id), type_id, changes),
    )?;
    Ok(axum::Json(json!({
        "status": "COMPLETE",
        "results": [{
            "from": { "id": from_id.to_string() },
            "to": { "id": to_id.to_string() },
            "associationSpec": { "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id },
        }],
        "startedAt": iso(started),
        "completedAt": iso(Utc::now()),
    }))
    .into_response())
}

pub(super) fn labelled_result(from: End, to: End, types: &[u32]) -> Value {
    let labels: Vec<&str> = types.iter().filter_map(|t| label(from.0, *t)).collect();
    json!({
        "fromObjectTypeId": from.0.type_id(),
        "fromObjectId": from.1,
        "toObjectTypeId": to.0.type_id(),
        "toObjectId": to.1,
        "labels": labels,
    })
}

async fn create_labelled(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (from, from_id, to, to_id) = (kind(&from)?, id(&from_id)?, kind(&to)?, id(&to_id)?);
    let specs: Vec<AssociationSpec> = parse_json(&body)?;
    if specs.is_empty() {
        return Err(ApiError::validation(
            "at least one association type is required",
        ));
    }
    let types: Vec<u32> = specs.iter().map(|s| s.association_type_id).collect();
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            for t in &types {
                associate(portal, (from, from_id), (to, to_id), *t, changes)?;
            }
            Ok(())
        },
    )?;
    Ok((
        StatusCode::CREATED,
        axum::Json(labelled_result((from, from_id), (to, to_id), &types)),
    )
        .into_response())
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let (from, from_id, to, to_id) = (kind(&from)?, id(&from_id)?, kind(&to)?, id(&to_id)?);
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            dissociate(portal, (from, from_id), (to, to_id), changes);
            Ok(())
        },
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/crm/v4/objects/...` and `/crm/v4/associations/.../batch/...`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/{to}",
            get(read),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/default/{to}/{to_id}",
            put(create_default),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/{to}/{to_id}",
            put(create_labelled).delete(remove),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/read",
            post(batch_read),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/create",
            post(batch_create),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/associate/default",
            post(batch_default),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/archive",
            post(batch_archive),
        )
}
