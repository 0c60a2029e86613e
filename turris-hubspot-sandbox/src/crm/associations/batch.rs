//! `/crm/v4/associations/{from}/{to}/batch/...`: read, create, associate by default, archive.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::crm::objects::{batch_envelope, batch_inputs, json_id, mutate, not_found, parse_id};
use crate::error::{ApiError, ApiResult};
use crate::state::Shared;

use super::http::{kind, labelled_result, source, types_json};
use super::{
    AssociationSpec, associate, check_type, default_type, dissociate, required_default_type,
};

#[derive(Deserialize)]
struct IdRef {
    id: Value,
}

fn ref_id(r: &IdRef) -> ApiResult<u64> {
    json_id(&r.id)
        .and_then(|s| parse_id(&s))
        .ok_or_else(|| ApiError::validation("each input needs a numeric id"))
}

pub(super) async fn batch_read(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let (from, to) = (kind(&from)?, kind(&to)?);
    let inputs: Vec<IdRef> = batch_inputs(&body)?;
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &inputs {
        let from_id = ref_id(input)?;
        let targets = portal.associations.targets((from, from_id), to);
        if targets.is_empty() {
            errors.push(json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": format!("No {} is associated with {} {from_id}.", to.singular(), from.singular()),
                "context": { "fromObjectId": [from_id.to_string()] },
            }));
            continue;
        }
        let to_json: Vec<Value> = targets
            .iter()
            .map(|(id, types)| json!({ "toObjectId": id, "associationTypes": types_json(from, types) }))
            .collect();
        results.push(json!({ "from": { "id": from_id.to_string() }, "to": to_json }));
    }
    let (status, out) = batch_envelope(results, errors, started);
    Ok((status, axum::Json(out)).into_response())
}

#[derive(Deserialize)]
struct CreateInput {
    from: IdRef,
    to: IdRef,
    #[serde(default)]
    types: Vec<AssociationSpec>,
}

pub(super) async fn batch_create(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let (from, to) = (kind(&from)?, kind(&to)?);
    let inputs: Vec<CreateInput> = batch_inputs(&body)?;
    let mut links = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let types: Vec<u32> = if input.types.is_empty() {
            default_type(from, to).into_iter().collect()
        } else {
            input.types.iter().map(|t| t.association_type_id).collect()
        };
        links.push((
            (from, ref_id(&input.from)?),
            (to, ref_id(&input.to)?),
            types,
        ));
    }
    let results = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            for (a, b, types) in &links {
                for t in types {
                    check_type(a.0, b.0, *t)?;
                }
                if portal.record(a.0, a.1).is_none() {
                    return Err(not_found(a.0, a.1));
                }
                if portal.record(b.0, b.1).is_none() {
                    return Err(not_found(b.0, b.1));
                }
            }
            let mut results = Vec::new();
            for (a, b, types) in &links {
                for t in types {
                    associate(portal, *a, *b, *t, changes)?;
                }
                results.push(labelled_result(*a, *b, types));
            }
            Ok(results)
        },
    )?;
    let (_, out) = batch_envelope(results, vec![], started);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

pub(super) async fn batch_default(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let (from, to) = (kind(&from)?, kind(&to)?);
    let type_id = required_default_type(from, to)?;
    let inputs: Vec<CreateInput> = batch_inputs(&body)?;
    let pairs = inputs
        .iter()
        .map(|i| Ok((ref_id(&i.from)?, ref_id(&i.to)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            for (a, b) in &pairs {
                associate(portal, (from, *a), (to, *b), type_id, changes)?;
            }
            Ok(())
        },
    )?;
    let results: Vec<Value> = pairs
        .iter()
        .map(|(a, b)| {
            json!({
                "from": { "id": a.to_string() },
                "to": { "id": b.to_string() },
                "associationSpec": { "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id },
            })
        })
        .collect();
    let (_, out) = batch_envelope(results, vec![], started);
    Ok(axum::Json(out).into_response())
}

#[derive(Deserialize)]
struct ArchiveInput {
    from: IdRef,
    to: Vec<IdRef>,
}

/// v4 answers 204; the date-based versions answer 200 with a batch result (no results).
pub(super) async fn batch_archive(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((from, to)): Path<(String, String)>,
    dated: Option<axum::Extension<crate::versions::DatedVersion>>,
    body: Bytes,
) -> ApiResult<Response> {
    let (from, to) = (kind(&from)?, kind(&to)?);
    let inputs: Vec<ArchiveInput> = batch_inputs(&body)?;
    let mut pairs = Vec::new();
    for input in &inputs {
        let a = ref_id(&input.from)?;
        for t in &input.to {
            pairs.push((a, ref_id(t)?));
        }
    }
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            for (a, b) in &pairs {
                dissociate(portal, (from, *a), (to, *b), changes);
            }
            Ok(())
        },
    )?;
    if dated.is_some() {
        let now = chrono::Utc::now();
        let body = serde_json::json!({
            "status": "COMPLETE",
            "results": [],
            "startedAt": now,
            "completedAt": now,
        });
        return Ok((StatusCode::OK, axum::Json(body)).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
