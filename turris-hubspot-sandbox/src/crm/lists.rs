//! Lists v3: static (`MANUAL`/`SNAPSHOT`) lists of contacts or companies and their memberships.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::crm::objects::{json_id, parse_id, query_pairs};
use crate::error::{ApiError, ApiResult, parse_json};
use crate::state::{ObjectKind, Portal, Shared, iso};

/// A list.
#[derive(Debug, Clone)]
pub(crate) struct List {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) object_type_id: String,
    pub(crate) processing_type: String,
    pub(crate) version: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    /// Member record ids with the time they were added.
    pub(crate) members: BTreeMap<u64, DateTime<Utc>>,
}

impl List {
    fn to_json(&self) -> Value {
        json!({
            "listId": self.id.to_string(),
            "listVersion": self.version,
            "name": self.name,
            "objectTypeId": self.object_type_id,
            "processingType": self.processing_type,
            "processingStatus": "COMPLETE",
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "filtersUpdatedAt": iso(self.created_at),
            "size": self.members.len(),
            "additionalProperties": { "hs_list_size": self.members.len().to_string() },
        })
    }

    fn kind(&self) -> Option<ObjectKind> {
        ObjectKind::parse(&self.object_type_id)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewList {
    name: String,
    object_type_id: String,
    processing_type: String,
}

/// Creates a list (shared with the control API).
pub(crate) fn create_list(
    portal: &mut Portal,
    name: &str,
    object_type_id: &str,
    processing_type: &str,
) -> ApiResult<u64> {
    let kind = ObjectKind::parse(object_type_id).filter(|k| *k != ObjectKind::Notes);
    let Some(kind) = kind else {
        return Err(ApiError::validation(format!(
            "objectTypeId {object_type_id} is not supported: use 0-1 (contacts) or 0-2 (companies)"
        )));
    };
    if !matches!(processing_type, "MANUAL" | "SNAPSHOT" | "DYNAMIC") {
        return Err(ApiError::validation(format!(
            "processingType {processing_type} is not one of MANUAL, SNAPSHOT, DYNAMIC"
        )));
    }
    if name.trim().is_empty() {
        return Err(ApiError::validation("name must not be empty"));
    }
    if portal.lists.values().any(|l| l.name == name) {
        return Err(
            ApiError::validation(format!("A list named {name} already exists."))
                .sub_category("ILS.DUPLICATE_LIST_NAMES"),
        );
    }
    let id = portal.next_list_id;
    portal.next_list_id += 1;
    let now = Utc::now();
    portal.lists.insert(
        id,
        List {
            id,
            name: name.to_string(),
            object_type_id: kind.type_id().to_string(),
            processing_type: processing_type.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
            members: BTreeMap::new(),
        },
    );
    Ok(id)
}

fn list_id(raw: &str) -> ApiResult<u64> {
    parse_id(raw).ok_or_else(|| ApiError::validation(format!("{raw} is not a valid list id")))
}

fn list_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("List {id} does not exist."))
}

async fn create(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let input: NewList = parse_json(&body)?;
    let mut world = shared.world();
    let portal = world.portal_mut(principal.portal_id)?;
    let id = create_list(
        portal,
        &input.name,
        &input.object_type_id,
        &input.processing_type,
    )?;
    let list = portal.lists.get(&id).map(List::to_json);
    Ok(axum::Json(json!({ "list": list })).into_response())
}

async fn read(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let list = portal.lists.get(&id).ok_or_else(|| list_not_found(id))?;
    Ok(axum::Json(json!({ "list": list.to_json() })).into_response())
}

async fn by_name(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((object_type_id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let kind = ObjectKind::parse(&object_type_id);
    let list = portal
        .lists
        .values()
        .find(|l| l.name == name && l.kind() == kind)
        .ok_or_else(|| ApiError::not_found(format!("List {name} does not exist.")))?;
    Ok(axum::Json(json!({ "list": list.to_json() })).into_response())
}

async fn delete(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let mut world = shared.world();
    let portal = world.portal_mut(principal.portal_id)?;
    portal.lists.remove(&id).ok_or_else(|| list_not_found(id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn ids(values: &[Value]) -> ApiResult<Vec<String>> {
    values
        .iter()
        .map(|v| {
            json_id(v).ok_or_else(|| ApiError::validation("record ids must be strings or numbers"))
        })
        .collect()
}

/// Adds and removes members; answers (added, removed, missing).
pub(crate) fn change_members(
    portal: &mut Portal,
    id: u64,
    add: &[String],
    remove: &[String],
) -> ApiResult<(Vec<String>, Vec<String>, Vec<String>)> {
    let list = portal.lists.get(&id).ok_or_else(|| list_not_found(id))?;
    if list.processing_type == "DYNAMIC" {
        return Err(ApiError::validation(format!(
            "List {id} is DYNAMIC: memberships of active lists cannot be changed by hand."
        )));
    }
    let kind = list.kind();
    let exists = |raw: &str| -> Option<u64> {
        let n = parse_id(raw)?;
        kind.and_then(|k| portal.record(k, n)).map(|_| n)
    };
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut missing = Vec::new();
    let mut to_add = Vec::new();
    let mut to_remove = Vec::new();
    for raw in add {
        match exists(raw) {
            Some(n) => to_add.push(n),
            None => missing.push(raw.clone()),
        }
    }
    for raw in remove {
        match exists(raw) {
            Some(n) => to_remove.push(n),
            None => missing.push(raw.clone()),
        }
    }
    let now = Utc::now();
    let list = portal
        .lists
        .get_mut(&id)
        .ok_or_else(|| list_not_found(id))?;
    for n in to_add {
        if list.members.insert(n, now).is_none() {
            added.push(n.to_string());
        }
    }
    for n in to_remove {
        if list.members.remove(&n).is_some() {
            removed.push(n.to_string());
        }
    }
    if !added.is_empty() || !removed.is_empty() {
        list.version += 1;
        list.updated_at = now;
    }
    Ok((added, removed, missing))
}

fn membership_json(added: Vec<String>, removed: Vec<String>, missing: Vec<String>) -> Value {
    // HubSpot's v3 schema spells the first field `recordsIdsAdded`; both spellings are sent.
    json!({
        "recordIdsAdded": added,
        "recordsIdsAdded": added,
        "recordIdsRemoved": removed,
        "recordIdsMissing": missing,
    })
}

/// Changes the members of the caller's list `id` and answers what changed.
fn members_changed(
    shared: &Shared,
    principal: &Principal,
    id: u64,
    add: &[String],
    remove: &[String],
) -> ApiResult<Response> {
    let mut world = shared.world();
    let portal = world.portal_mut(principal.portal_id)?;
    let (a, r, m) = change_members(portal, id, add, remove)?;
    Ok(axum::Json(membership_json(a, r, m)).into_response())
}

async fn add(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let records = ids(&parse_json::<Vec<Value>>(&body)?)?;
    members_changed(&shared, &principal, id, &records, &[])
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let records = ids(&parse_json::<Vec<Value>>(&body)?)?;
    members_changed(&shared, &principal, id, &[], &records)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddAndRemove {
    #[serde(default)]
    record_ids_to_add: Vec<Value>,
    #[serde(default)]
    record_ids_to_remove: Vec<Value>,
}

async fn add_and_remove(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let input: AddAndRemove = parse_json(&body)?;
    let (add, remove) = (
        ids(&input.record_ids_to_add)?,
        ids(&input.record_ids_to_remove)?,
    );
    members_changed(&shared, &principal, id, &add, &remove)
}

async fn memberships(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let pairs = query_pairs(q.as_deref());
    let limit = match pairs.iter().find(|(k, _)| k == "limit") {
        None => 100,
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=250).contains(l))
            .ok_or_else(|| ApiError::validation("limit must be between 1 and 250"))?,
    };
    let after = pairs
        .iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.parse::<u64>())
        .transpose()
        .map_err(|_| ApiError::validation("after is not a valid cursor"))?
        .unwrap_or(0);
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let list = portal.lists.get(&id).ok_or_else(|| list_not_found(id))?;
    let mut rest = list.members.range(after..);
    let results: Vec<Value> = rest
        .by_ref()
        .take(limit)
        .map(|(r, at)| json!({ "recordId": r.to_string(), "membershipTimestamp": iso(*at) }))
        .collect();
    let mut out = json!({ "results": results, "total": list.members.len() });
    if let Some((next, _)) = rest.next() {
        out["paging"] = json!({ "next": { "after": next.to_string() } });
    }
    Ok(axum::Json(out).into_response())
}

async fn clear(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = list_id(&id)?;
    let mut world = shared.world();
    let portal = world.portal_mut(principal.portal_id)?;
    let list = portal
        .lists
        .get_mut(&id)
        .ok_or_else(|| list_not_found(id))?;
    list.members.clear();
    list.version += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/crm/v3/lists`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/crm/v3/lists", post(create))
        .route("/crm/v3/lists/", post(create))
        .route("/crm/v3/lists/{list_id}", get(read).delete(delete))
        .route(
            "/crm/v3/lists/object-type-id/{object_type_id}/name/{name}",
            get(by_name),
        )
        .route("/crm/v3/lists/{list_id}/memberships/add", put(add))
        .route("/crm/v3/lists/{list_id}/memberships/remove", put(remove))
        .route(
            "/crm/v3/lists/{list_id}/memberships/add-and-remove",
            put(add_and_remove),
        )
        .route(
            "/crm/v3/lists/{list_id}/memberships",
            get(memberships).delete(clear),
        )
}
