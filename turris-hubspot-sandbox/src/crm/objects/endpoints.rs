//! Single-record endpoints: create, read, update, archive, list pages and merge.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::crm::associations;
use crate::error::{ApiError, ApiResult, parse_json};
use crate::state::{ObjectKind, Shared, StoredRecord};

use super::records::{LIST_LIMIT, apply, archive, check_unique, insert, merge, prepare};
use super::{
    json_id, locate, mutate, not_found, parse_id, query_pairs, query_value, record_json,
    requested_associations, requested_properties, source,
};

#[derive(Deserialize)]
pub(super) struct CreateBody {
    #[serde(default)]
    pub(super) properties: Map<String, Value>,
    #[serde(default)]
    pub(super) associations: Vec<associations::InlineAssociation>,
    /// Batch create: the caller's key, repeated on the record it creates.
    #[serde(default, rename = "objectWriteTraceId")]
    pub(super) object_write_trace_id: Option<String>,
}

pub(super) async fn create(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let body: CreateBody = parse_json(&body)?;
    let out = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let values = prepare(portal, kind, &body.properties)?;
            check_unique(portal, kind, &values, None)?;
            let links = associations::check_inline(portal, kind, &body.associations)?;
            let id = insert(portal, kind, values, changes);
            associations::apply_inline(portal, kind, id, links, changes);
            Ok(portal.record(kind, id).map(StoredRecord::to_json_all))
        },
    )?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

pub(super) async fn read(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    id: String,
    query: Option<String>,
) -> ApiResult<Response> {
    let pairs = query_pairs(query.as_deref());
    let props = requested_properties(&pairs);
    let id_property = query_value(&pairs, "idProperty");
    let archived = query_value(&pairs, "archived") == Some("true");
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let record = if archived {
        parse_id(&id).and_then(|i| portal.store(kind).archived.get(&i))
    } else {
        locate(portal, kind, &id, id_property).and_then(|i| portal.record(kind, i))
    };
    let record = record.ok_or_else(|| not_found(kind, &id))?;
    let assoc = requested_associations(&pairs);
    Ok(axum::Json(record_json(portal, kind, record, &props, &assoc)).into_response())
}

#[derive(Deserialize)]
pub(super) struct UpdateBody {
    #[serde(default)]
    properties: Map<String, Value>,
}

pub(super) async fn update(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    id: String,
    query: Option<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: UpdateBody = parse_json(&body)?;
    let pairs = query_pairs(query.as_deref());
    let id_property = query_value(&pairs, "idProperty").map(str::to_string);
    let out = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let target = locate(portal, kind, &id, id_property.as_deref())
                .ok_or_else(|| not_found(kind, &id))?;
            let values = prepare(portal, kind, &body.properties)?;
            check_unique(portal, kind, &values, Some(target))?;
            apply(portal, kind, target, values, changes)?;
            Ok(portal.record(kind, target).map(StoredRecord::to_json_all))
        },
    )?;
    Ok(axum::Json(out).into_response())
}

pub(super) async fn remove(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    id: String,
) -> ApiResult<Response> {
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            // HubSpot answers 204 for an id that does not exist.
            if let Some(i) = parse_id(&id) {
                archive(portal, kind, i, changes);
            }
            Ok(())
        },
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    query: Option<String>,
) -> ApiResult<Response> {
    let pairs = query_pairs(query.as_deref());
    let props = requested_properties(&pairs);
    let limit = match query_value(&pairs, "limit") {
        None => 10,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::validation(format!("limit must be a number, got {l}")))?,
    };
    if limit == 0 || limit > LIST_LIMIT {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {LIST_LIMIT}, got {limit}"
        )));
    }
    let after = match query_value(&pairs, "after") {
        None | Some("") => 0,
        Some(a) => parse_id(a)
            .ok_or_else(|| ApiError::validation(format!("after is not a valid cursor: {a}")))?,
    };
    let assoc = requested_associations(&pairs);
    let archived = query_value(&pairs, "archived") == Some("true");
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let store = portal.store(kind);
    let map = if archived {
        &store.archived
    } else {
        &store.live
    };
    let mut page = map.range(after..);
    let results: Vec<Value> = page
        .by_ref()
        .take(limit)
        .map(|(_, r)| record_json(portal, kind, r, &props, &assoc))
        .collect();
    let mut out = json!({ "results": results });
    if let Some((next, _)) = page.next() {
        out["paging"] = json!({
            "next": {
                "after": next.to_string(),
                "link": format!(
                    "{}/crm/v3/objects/{}?after={next}&limit={limit}",
                    shared.identity.base_url,
                    kind.plural()
                ),
            }
        });
    }
    Ok(axum::Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MergeBody {
    primary_object_id: Value,
    object_id_to_merge: Value,
}

pub(super) async fn merge_handler(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let body: MergeBody = parse_json(&body)?;
    let id = |v: &Value| {
        json_id(v).and_then(|s| parse_id(&s)).ok_or_else(|| {
            ApiError::validation("primaryObjectId and objectIdToMerge must be record ids")
        })
    };
    let (primary, merged) = (id(&body.primary_object_id)?, id(&body.object_id_to_merge)?);
    let out = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            merge(portal, kind, primary, merged, changes)?;
            Ok(portal.record(kind, primary).map(StoredRecord::to_json_all))
        },
    )?;
    Ok(axum::Json(out).into_response())
}
