//! `/batch/{read,create,update,upsert,archive}`: at most 100 inputs, validated before any write.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::crm::associations;
use crate::error::{ApiError, ApiResult, parse_json};
use crate::state::{ObjectKind, Shared, iso, unique_key};

use super::endpoints::CreateBody;
use super::records::{BATCH_LIMIT, apply, archive, check_unique, claim_unique, insert, prepare};
use super::{
    batch_inputs, check_id_property, json_id, locate, mutate, parse_id, source, too_many_inputs,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchRead {
    inputs: Vec<Map<String, Value>>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    id_property: Option<String>,
}

/// A batch answer with `results` (and `errors`, which make it a 207), started at `started`.
pub(crate) fn batch_envelope(
    results: Vec<Value>,
    errors: Vec<Value>,
    started: chrono::DateTime<Utc>,
) -> (StatusCode, Value) {
    let mut out = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(Utc::now()),
    });
    if errors.is_empty() {
        (StatusCode::OK, out)
    } else {
        out["numErrors"] = json!(errors.len());
        out["errors"] = Value::Array(errors);
        (StatusCode::MULTI_STATUS, out)
    }
}

pub(super) fn input_id(input: &Map<String, Value>) -> ApiResult<String> {
    input
        .get("id")
        .and_then(json_id)
        .ok_or_else(|| ApiError::validation("Each input needs an id."))
}

pub(super) fn missing_error(kind: ObjectKind, ids: Vec<String>) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            kind.singular().to_uppercase()
        ),
        "context": { "ids": ids },
    })
}

pub(super) async fn batch_read(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let body: BatchRead = parse_json(&body)?;
    if body.inputs.len() > BATCH_LIMIT {
        return Err(too_many_inputs(body.inputs.len()));
    }
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    check_id_property(portal, kind, body.id_property.as_deref())?;
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &body.inputs {
        let id = input_id(input)?;
        match locate(portal, kind, &id, body.id_property.as_deref())
            .and_then(|i| portal.record(kind, i))
        {
            Some(r) => results.push(r.to_json(kind, Some(&body.properties))),
            None => missing.push(id),
        }
    }
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![missing_error(kind, missing)]
    };
    let (status, out) = batch_envelope(results, errors, started);
    Ok((status, axum::Json(out)).into_response())
}

pub(super) async fn batch_create(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let inputs: Vec<CreateBody> = batch_inputs(&body)?;
    let results = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let mut prepared = Vec::with_capacity(inputs.len());
            let mut seen: HashSet<(String, String)> = HashSet::new();
            for input in &inputs {
                let values = prepare(portal, kind, &input.properties)?;
                check_unique(portal, kind, &values, None)?;
                claim_unique(portal, kind, &values, &mut seen)?;
                let links = associations::check_inline(portal, kind, &input.associations)?;
                prepared.push((values, links, input.object_write_trace_id.clone()));
            }
            let mut results = Vec::with_capacity(prepared.len());
            for (values, links, trace) in prepared {
                let id = insert(portal, kind, values, changes);
                associations::apply_inline(portal, kind, id, links, changes);
                if let Some(r) = portal.record(kind, id) {
                    let mut json = r.to_json_all();
                    if let Some(trace) = trace {
                        json["objectWriteTraceId"] = Value::String(trace);
                    }
                    results.push(json);
                }
            }
            Ok(results)
        },
    )?;
    let (_, out) = batch_envelope(results, vec![], started);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchUpdateInput {
    id: Value,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

pub(super) async fn batch_update(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let inputs: Vec<BatchUpdateInput> = batch_inputs(&body)?;
    let (results, missing) = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let mut prepared = Vec::new();
            let mut missing = Vec::new();
            let mut seen = HashSet::new();
            let mut claimed = HashSet::new();
            for input in &inputs {
                let id = json_id(&input.id)
                    .ok_or_else(|| ApiError::validation("Each input needs an id."))?;
                check_id_property(portal, kind, input.id_property.as_deref())?;
                let values = prepare(portal, kind, &input.properties)?;
                match locate(portal, kind, &id, input.id_property.as_deref()) {
                    Some(target) => {
                        if !seen.insert(target) {
                            return Err(ApiError::validation(format!(
                                "Duplicate IDs found in batch input: [{id}]. IDs must be unique"
                            )));
                        }
                        check_unique(portal, kind, &values, Some(target))?;
                        claim_unique(portal, kind, &values, &mut claimed)?;
                        prepared.push((target, values));
                    }
                    None => missing.push(id),
                }
            }
            let mut results = Vec::new();
            for (target, values) in prepared {
                apply(portal, kind, target, values, changes)?;
                if let Some(r) = portal.record(kind, target) {
                    results.push(r.to_json_all());
                }
            }
            Ok((results, missing))
        },
    )?;
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![missing_error(kind, missing)]
    };
    let (status, out) = batch_envelope(results, errors, started);
    Ok((status, axum::Json(out)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpsertInput {
    id: Value,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

pub(super) async fn batch_upsert(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let inputs: Vec<UpsertInput> = batch_inputs(&body)?;
    let results = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let mut prepared = Vec::new();
            let mut seen = HashSet::new();
            let mut claimed = HashSet::new();
            for input in &inputs {
                let id = json_id(&input.id)
                    .ok_or_else(|| ApiError::validation("Each input needs an id."))?;
                let prop = input.id_property.as_deref().ok_or_else(|| {
                    ApiError::validation("Each upsert input needs an idProperty.")
                })?;
                if prop == "hs_object_id" {
                    return Err(ApiError::validation(
                        "idProperty hs_object_id cannot be used to upsert: use a unique value property.",
                    ));
                }
                check_id_property(portal, kind, Some(prop))?;
                if !seen.insert((prop.to_string(), unique_key(prop, &id))) {
                    return Err(ApiError::validation(format!(
                        "Duplicate IDs found in batch input: [{id}]. IDs must be unique"
                    )));
                }
                let mut values = prepare(portal, kind, &input.properties)?;
                let key_value = if prop == "email" {
                    id.to_lowercase()
                } else {
                    id.clone()
                };
                values.retain(|(n, _)| n != prop);
                values.push((prop.to_string(), Some(key_value)));
                let target = portal.store(kind).find_unique(prop, &id);
                check_unique(portal, kind, &values, target)?;
                claim_unique(portal, kind, &values, &mut claimed)?;
                prepared.push((target, values, input.object_write_trace_id.clone()));
            }
            let mut results = Vec::new();
            for (target, values, trace) in prepared {
                let (id, new) = match target {
                    Some(t) => {
                        apply(portal, kind, t, values, changes)?;
                        (t, false)
                    }
                    None => (insert(portal, kind, values, changes), true),
                };
                if let Some(r) = portal.record(kind, id) {
                    let mut v = r.to_json_all();
                    v["new"] = json!(new);
                    if let Some(trace) = trace {
                        v["objectWriteTraceId"] = Value::String(trace);
                    }
                    results.push(v);
                }
            }
            Ok(results)
        },
    )?;
    let (_, out) = batch_envelope(results, vec![], started);
    Ok(axum::Json(out).into_response())
}

pub(super) async fn batch_archive(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let inputs: Vec<Map<String, Value>> = batch_inputs(&body)?;
    let ids = inputs.iter().map(input_id).collect::<ApiResult<Vec<_>>>()?;
    mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            for id in &ids {
                if let Some(i) = parse_id(id) {
                    archive(portal, kind, i, changes);
                }
            }
            Ok(())
        },
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
