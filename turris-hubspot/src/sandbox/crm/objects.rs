//! Companies, contacts and notes: validation of property writes, the record mutations shared by
//! the API and the control API, and `/crm/v3/objects/{object}` with its batch endpoints.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::sandbox::auth::Principal;
use crate::sandbox::crm::associations;
use crate::sandbox::error::{ApiError, ApiResult, parse_json};
use crate::sandbox::search;
use crate::sandbox::state::{ObjectKind, Portal, Shared, StoredRecord, iso, unique_key};
use crate::sandbox::webhooks::{Change, ChangeSource};

/// The most inputs a batch call accepts.
pub(crate) const BATCH_LIMIT: usize = 100;

/// The most records a list page holds.
pub(crate) const LIST_LIMIT: usize = 100;

/// Turns a JSON property value into HubSpot's string form (`""` clears).
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// One invalid property value, as HubSpot reports it.
fn invalid(name: &str, code: &str, message: String) -> Value {
    json!({
        "isValid": false,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    })
}

/// Checks property writes against the catalog; answers every problem at once.
pub(crate) fn prepare(
    portal: &Portal,
    kind: ObjectKind,
    input: &Map<String, Value>,
) -> ApiResult<Vec<(String, Option<String>)>> {
    let catalog = portal.props(kind);
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(input.len());
    for (name, raw) in input {
        let Some(def) = catalog.get(name) else {
            problems.push(invalid(
                name,
                "PROPERTY_DOESNT_EXIST",
                format!("Property \"{name}\" does not exist"),
            ));
            continue;
        };
        if def.read_only_value {
            problems.push(invalid(
                name,
                "READ_ONLY_VALUE",
                format!("\"{name}\" is a read only property; its value cannot be set."),
            ));
            continue;
        }
        let Some(text) = value_text(raw) else {
            problems.push(invalid(
                name,
                "INVALID_PROPERTY_VALUE",
                format!("The value of \"{name}\" must be a string, a number or a boolean."),
            ));
            continue;
        };
        let text = if name == "email" {
            text.trim().to_lowercase()
        } else {
            text
        };
        match def.normalise(&text) {
            Ok(v) => out.push((name.clone(), v)),
            Err((code, message)) => problems.push(invalid(name, &code, message)),
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    Err(validation_failure(problems))
}

fn validation_failure(problems: Vec<Value>) -> ApiError {
    let details: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "message": p["message"],
                "code": p["error"],
                "subCategory": p["error"],
                "in": "properties",
                "context": { "propertyName": [p["name"]] },
            })
        })
        .collect();
    let listed = serde_json::to_string(&problems).unwrap_or_default();
    ApiError::validation(format!("Property values were not valid: {listed}")).errors(details)
}

/// The unique properties of `kind` that are set in `values`.
fn unique_writes<'a>(
    portal: &Portal,
    kind: ObjectKind,
    values: &'a [(String, Option<String>)],
) -> Vec<(&'a str, &'a str)> {
    let catalog = portal.props(kind);
    values
        .iter()
        .filter_map(|(name, v)| Some((name.as_str(), v.as_deref()?)))
        .filter(|(name, _)| catalog.get(*name).is_some_and(|d| d.has_unique_value))
        .collect()
}

/// The 409 for a unique value held by another record.
pub(crate) fn duplicate(kind: ObjectKind, prop: &str, value: &str, existing: u64) -> ApiError {
    if kind == ObjectKind::Contacts && prop == "email" {
        ApiError::conflict(format!("Contact already exists. Existing ID: {existing}")).errors(vec![
            json!({
                "message": format!("A contact with email {value} already exists. Existing ID: {existing}"),
                "in": "email",
            }),
        ])
    } else {
        ApiError::conflict(format!(
            "A {} with {prop} {value} already exists. Existing ID: {existing}",
            kind.singular()
        ))
    }
}

/// Checks that no other record holds the unique values being written.
pub(crate) fn check_unique(
    portal: &Portal,
    kind: ObjectKind,
    values: &[(String, Option<String>)],
    this: Option<u64>,
) -> ApiResult<()> {
    let store = portal.store(kind);
    for (prop, value) in unique_writes(portal, kind, values) {
        if let Some(existing) = store.find_unique(prop, value).filter(|e| Some(*e) != this) {
            return Err(duplicate(kind, prop, value, existing));
        }
    }
    Ok(())
}

/// Claims the unique values of one batch input; two inputs may not write the same one.
fn claim_unique(
    portal: &Portal,
    kind: ObjectKind,
    values: &[(String, Option<String>)],
    claimed: &mut HashSet<(String, String)>,
) -> ApiResult<()> {
    for (prop, v) in unique_writes(portal, kind, values) {
        if !claimed.insert((prop.to_string(), unique_key(prop, v))) {
            return Err(ApiError::validation(format!(
                "Duplicate value in batch input: {prop} {v} appears more than once."
            )));
        }
    }
    Ok(())
}

/// Creates a record from checked values; records the change.
pub(crate) fn insert(
    portal: &mut Portal,
    kind: ObjectKind,
    values: Vec<(String, Option<String>)>,
    changes: &mut Vec<Change>,
) -> u64 {
    let id = portal.next_object_id;
    portal.next_object_id += 1;
    let now = Utc::now();
    let unique: Vec<String> = portal
        .props(kind)
        .values()
        .filter(|d| d.has_unique_value)
        .map(|d| d.name.clone())
        .collect();
    let mut props = BTreeMap::new();
    let mut set = Vec::new();
    for (name, v) in values {
        if let Some(v) = v {
            set.push((name.clone(), v.clone()));
            props.insert(name, v);
        }
    }
    props.insert("hs_object_id".into(), id.to_string());
    props.insert(kind.created_property().into(), iso(now));
    props.insert(kind.modified_property().into(), iso(now));
    let store = portal.store_mut(kind);
    for name in &unique {
        if let Some(v) = props.get(name) {
            store
                .unique
                .entry(name.clone())
                .or_default()
                .insert(unique_key(name, v), id);
        }
    }
    store.live.insert(
        id,
        StoredRecord {
            id,
            props,
            created_at: now,
            updated_at: now,
            archived_at: None,
        },
    );
    changes.push(Change::Created {
        kind,
        id,
        properties: set,
    });
    id
}

/// Applies checked values to a live record; records each property that really changed.
pub(crate) fn apply(
    portal: &mut Portal,
    kind: ObjectKind,
    id: u64,
    values: Vec<(String, Option<String>)>,
    changes: &mut Vec<Change>,
) -> ApiResult<()> {
    let unique: HashSet<String> = portal
        .props(kind)
        .values()
        .filter(|d| d.has_unique_value)
        .map(|d| d.name.clone())
        .collect();
    let store = portal.store_mut(kind);
    let record = store.live.get_mut(&id).ok_or_else(|| not_found(kind, id))?;
    let now = Utc::now();
    let mut index_updates = Vec::new();
    for (name, value) in values {
        let old = record.props.get(&name).cloned();
        if old == value {
            continue;
        }
        match &value {
            Some(v) => record.props.insert(name.clone(), v.clone()),
            None => record.props.remove(&name),
        };
        if unique.contains(&name) {
            index_updates.push((name.clone(), old, value.clone()));
        }
        changes.push(Change::PropertyChanged {
            kind,
            id,
            name,
            value: value.unwrap_or_default(),
        });
    }
    record.updated_at = now;
    record
        .props
        .insert(kind.modified_property().into(), iso(now));
    for (name, old, new) in index_updates {
        let index = store.unique.entry(name.clone()).or_default();
        if let Some(old) = old {
            index.remove(&unique_key(&name, &old));
        }
        if let Some(new) = new {
            index.insert(unique_key(&name, &new), id);
        }
    }
    Ok(())
}

/// Archives a live record (and drops its associations and list memberships).
pub(crate) fn archive(
    portal: &mut Portal,
    kind: ObjectKind,
    id: u64,
    changes: &mut Vec<Change>,
) -> bool {
    let store = portal.store_mut(kind);
    let Some(mut record) = store.live.remove(&id) else {
        return false;
    };
    for (name, index) in store.unique.iter_mut() {
        if let Some(v) = record.props.get(name) {
            index.remove(&unique_key(name, v));
        }
    }
    record.archived_at = Some(Utc::now());
    store.archived.insert(id, record);
    portal.associations.remove_all(kind, id);
    for list in portal.lists.values_mut() {
        if list.object_type_id == kind.type_id() {
            list.members.remove(&id);
        }
    }
    changes.push(Change::Deleted { kind, id });
    true
}

/// Merges `merged` into `primary`, as HubSpot does: properties the primary lacks move over,
/// associations and list memberships follow, and the merged id resolves to the primary.
pub(crate) fn merge(
    portal: &mut Portal,
    kind: ObjectKind,
    primary: u64,
    merged: u64,
    changes: &mut Vec<Change>,
) -> ApiResult<()> {
    if kind == ObjectKind::Notes {
        return Err(ApiError::validation("notes cannot be merged"));
    }
    if primary == merged {
        return Err(ApiError::validation(
            "primaryObjectId and objectIdToMerge must be different records",
        ));
    }
    if portal.record(kind, primary).is_none() {
        return Err(not_found(kind, primary));
    }
    let unique: HashSet<String> = portal
        .props(kind)
        .values()
        .filter(|d| d.has_unique_value)
        .map(|d| d.name.clone())
        .collect();
    let store = portal.store_mut(kind);
    let Some(gone) = store.live.remove(&merged) else {
        return Err(not_found(kind, merged));
    };
    for (name, index) in store.unique.iter_mut() {
        if let Some(v) = gone.props.get(name) {
            index.remove(&unique_key(name, v));
        }
    }
    store.merged_into.insert(merged, primary);
    let mut moved = 0u64;
    let now = Utc::now();
    if let Some(survivor) = store.live.get_mut(&primary) {
        for (name, value) in &gone.props {
            // Ids, dates and the primary company are the survivor's own (derived) values.
            let system = name == "hs_object_id"
                || name == "associatedcompanyid"
                || name == kind.created_property()
                || name == kind.modified_property();
            if !system && !survivor.props.contains_key(name) {
                survivor.props.insert(name.clone(), value.clone());
                moved += 1;
                if unique.contains(name) {
                    store
                        .unique
                        .entry(name.clone())
                        .or_default()
                        .insert(unique_key(name, value), primary);
                }
            }
        }
        survivor.updated_at = now;
        survivor
            .props
            .insert(kind.modified_property().into(), iso(now));
    }
    let survivor_has_primary =
        kind == ObjectKind::Contacts && associations::primary_company(portal, primary).is_some();
    let mut repointed_contacts = Vec::new();
    for other in ObjectKind::ALL {
        for (target, types) in portal.associations.targets((kind, merged), other) {
            for t in types {
                let primary_type =
                    other == ObjectKind::Companies && t == associations::PRIMARY_CONTACT_TO_COMPANY;
                if primary_type && survivor_has_primary {
                    // The survivor keeps its own primary company.
                    continue;
                }
                if kind == ObjectKind::Companies && other == ObjectKind::Contacts && t == 2 {
                    repointed_contacts.push(target);
                }
                portal.associations.add((kind, primary), (other, target), t);
            }
        }
    }
    portal.associations.remove_all(kind, merged);
    for contact in repointed_contacts {
        apply(
            portal,
            ObjectKind::Contacts,
            contact,
            vec![("associatedcompanyid".into(), Some(primary.to_string()))],
            changes,
        )?;
    }
    if kind == ObjectKind::Contacts {
        let company = associations::primary_company(portal, primary);
        apply(
            portal,
            ObjectKind::Contacts,
            primary,
            vec![("associatedcompanyid".into(), company.map(|c| c.to_string()))],
            changes,
        )?;
    }
    for list in portal.lists.values_mut() {
        if list.object_type_id == kind.type_id()
            && let Some(at) = list.members.remove(&merged)
        {
            list.members.entry(primary).or_insert(at);
        }
    }
    changes.push(Change::Merged {
        kind,
        primary,
        merged,
        moved,
    });
    Ok(())
}

/// 404 for a missing record.
pub(crate) fn not_found(kind: ObjectKind, id: impl std::fmt::Display) -> ApiError {
    ApiError::not_found(format!(
        "Object not found. objectId are usually numeric. {} {id} does not exist",
        kind.singular()
    ))
}

/// Parses a record id.
pub(crate) fn parse_id(raw: &str) -> Option<u64> {
    raw.trim().parse().ok()
}

/// An id given as a JSON string or number.
pub(crate) fn json_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Query parameters as pairs.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The `properties` query parameter (repeated or comma-separated).
pub(crate) fn requested_properties(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "properties")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The error for more than [`BATCH_LIMIT`] inputs.
pub(crate) fn too_many_inputs(n: usize) -> ApiError {
    ApiError::validation(format!(
        "Batch input limit exceeded: at most {BATCH_LIMIT} inputs are allowed, {n} were sent."
    ))
    .context(json!({ "limit": [BATCH_LIMIT.to_string()], "size": [n.to_string()] }))
}

/// Finds a live record by id or by a unique property.
fn locate(portal: &Portal, kind: ObjectKind, id: &str, id_property: Option<&str>) -> Option<u64> {
    match id_property {
        None | Some("hs_object_id") => parse_id(id).and_then(|i| portal.store(kind).resolve(i)),
        Some(prop) => portal.store(kind).find_unique(prop, id),
    }
}

fn check_id_property(portal: &Portal, kind: ObjectKind, prop: Option<&str>) -> ApiResult<()> {
    match prop {
        None | Some("hs_object_id") => Ok(()),
        Some(p)
            if portal
                .props(kind)
                .get(p)
                .is_some_and(|d| d.has_unique_value) =>
        {
            Ok(())
        }
        Some(p) => Err(ApiError::validation(format!(
            "Property \"{p}\" is not a unique identifier property of {}; idProperty must name a property with unique values.",
            kind.plural()
        ))),
    }
}

/// Runs a mutation under the world lock, then hands its changes to the webhook dispatcher.
pub(crate) fn mutate<T>(
    shared: &Shared,
    portal_id: u64,
    source: ChangeSource,
    f: impl FnOnce(&mut Portal, &mut Vec<Change>) -> ApiResult<T>,
) -> ApiResult<T> {
    let mut changes = Vec::new();
    let (out, events) = {
        let mut world = shared.world();
        let portal = world.portal_mut(portal_id)?;
        let out = f(portal, &mut changes)?;
        let events = world.webhook_events(portal_id, &changes, source);
        (out, events)
    };
    shared.webhooks.enqueue(events);
    Ok(out)
}

fn source(p: &Principal) -> ChangeSource {
    ChangeSource::Integration { app_id: p.app_id }
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    associations: Vec<associations::InlineAssociation>,
}

async fn create(
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

async fn read(
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
    Ok(axum::Json(record.to_json(kind, Some(&props))).into_response())
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default)]
    properties: Map<String, Value>,
}

async fn update(
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

async fn remove(
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

async fn list(
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
        .map(|(_, r)| r.to_json(kind, Some(&props)))
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
struct BatchRead {
    inputs: Vec<Map<String, Value>>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    id_property: Option<String>,
}

fn batch_envelope(
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

fn input_id(input: &Map<String, Value>) -> ApiResult<String> {
    input
        .get("id")
        .and_then(json_id)
        .ok_or_else(|| ApiError::validation("Each input needs an id."))
}

fn missing_error(kind: ObjectKind, ids: Vec<String>) -> Value {
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

async fn batch_read(
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

#[derive(Deserialize)]
struct BatchCreate {
    inputs: Vec<CreateBody>,
}

async fn batch_create(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let body: BatchCreate = parse_json(&body)?;
    if body.inputs.len() > BATCH_LIMIT {
        return Err(too_many_inputs(body.inputs.len()));
    }
    let results = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let mut prepared = Vec::with_capacity(body.inputs.len());
            let mut seen: HashSet<(String, String)> = HashSet::new();
            for input in &body.inputs {
                let values = prepare(portal, kind, &input.properties)?;
                check_unique(portal, kind, &values, None)?;
                claim_unique(portal, kind, &values, &mut seen)?;
                let links = associations::check_inline(portal, kind, &input.associations)?;
                prepared.push((values, links));
            }
            let mut results = Vec::with_capacity(prepared.len());
            for (values, links) in prepared {
                let id = insert(portal, kind, values, changes);
                associations::apply_inline(portal, kind, id, links, changes);
                if let Some(r) = portal.record(kind, id) {
                    results.push(r.to_json_all());
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
struct BatchUpdateInput {
    id: Value,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

#[derive(Deserialize)]
struct BatchUpdate {
    inputs: Vec<BatchUpdateInput>,
}

async fn batch_update(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let body: BatchUpdate = parse_json(&body)?;
    if body.inputs.len() > BATCH_LIMIT {
        return Err(too_many_inputs(body.inputs.len()));
    }
    let (results, missing) = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let mut prepared = Vec::new();
            let mut missing = Vec::new();
            let mut seen = HashSet::new();
            let mut claimed = HashSet::new();
            for input in &body.inputs {
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
struct UpsertInput {
    id: Value,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

#[derive(Deserialize)]
struct BatchUpsert {
    inputs: Vec<UpsertInput>,
}

async fn batch_upsert(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Utc::now();
    let body: BatchUpsert = parse_json(&body)?;
    if body.inputs.len() > BATCH_LIMIT {
        return Err(too_many_inputs(body.inputs.len()));
    }
    let results = mutate(
        &shared,
        principal.portal_id,
        source(&principal),
        |portal, changes| {
            let mut prepared = Vec::new();
            let mut seen = HashSet::new();
            let mut claimed = HashSet::new();
            for input in &body.inputs {
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
                prepared.push((target, values));
            }
            let mut results = Vec::new();
            for (target, values) in prepared {
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
                    results.push(v);
                }
            }
            Ok(results)
        },
    )?;
    let (_, out) = batch_envelope(results, vec![], started);
    Ok(axum::Json(out).into_response())
}

#[derive(Deserialize)]
struct BatchArchive {
    inputs: Vec<Map<String, Value>>,
}

async fn batch_archive(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let body: BatchArchive = parse_json(&body)?;
    if body.inputs.len() > BATCH_LIMIT {
        return Err(too_many_inputs(body.inputs.len()));
    }
    let ids = body
        .inputs
        .iter()
        .map(input_id)
        .collect::<ApiResult<Vec<_>>>()?;
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MergeBody {
    primary_object_id: Value,
    object_id_to_merge: Value,
}

async fn merge_handler(
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

type S = State<Arc<Shared>>;

/// `/crm/v3/objects/{companies|contacts|notes}` (also by type id), with batch and search.
pub(crate) fn router() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    for kind in ObjectKind::ALL {
        for name in [kind.plural(), kind.type_id()] {
            let base = format!("/crm/v3/objects/{name}");
            router = router
                .route(
                    &base,
                    get(move |State(s): S, p: Principal, RawQuery(q): RawQuery| {
                        list(kind, s, p, q)
                    })
                    .post(move |State(s): S, p: Principal, b: Bytes| create(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/{{id}}"),
                    get(
                        move |State(s): S,
                              p: Principal,
                              Path(id): Path<String>,
                              RawQuery(q): RawQuery| {
                            read(kind, s, p, id, q)
                        },
                    )
                    .patch(
                        move |State(s): S,
                              p: Principal,
                              Path(id): Path<String>,
                              RawQuery(q): RawQuery,
                              b: Bytes| update(kind, s, p, id, q, b),
                    )
                    .delete(
                        move |State(s): S, p: Principal, Path(id): Path<String>| {
                            remove(kind, s, p, id)
                        },
                    ),
                )
                .route(
                    &format!("{base}/batch/read"),
                    post(move |State(s): S, p: Principal, b: Bytes| batch_read(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/batch/create"),
                    post(move |State(s): S, p: Principal, b: Bytes| batch_create(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/batch/update"),
                    post(move |State(s): S, p: Principal, b: Bytes| batch_update(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/batch/upsert"),
                    post(move |State(s): S, p: Principal, b: Bytes| batch_upsert(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/batch/archive"),
                    post(move |State(s): S, p: Principal, b: Bytes| batch_archive(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/merge"),
                    post(move |State(s): S, p: Principal, b: Bytes| merge_handler(kind, s, p, b)),
                )
                .route(
                    &format!("{base}/search"),
                    post(move |State(s): S, p: Principal, b: Bytes| search::search(kind, s, p, b)),
                );
        }
    }
    router
}
