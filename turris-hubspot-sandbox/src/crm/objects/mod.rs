//! Companies, contacts and notes: the record mutations shared by the API and the control API
//! (`records`), the single-record endpoints (`endpoints`) and the batch endpoints (`batch`),
//! routed under `/crm/v3/objects/{object}`.

mod batch;
mod endpoints;
mod records;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, parse_json};
use crate::search;
use crate::state::{ObjectKind, Portal, Shared};
use crate::webhooks::{Change, ChangeSource};

pub(crate) use batch::batch_envelope;
use batch::{batch_archive, batch_create, batch_read, batch_update, batch_upsert};
use endpoints::{create, list, merge_handler, read, remove, update};
pub(crate) use records::{BATCH_LIMIT, apply, archive, check_unique, insert, merge, prepare};

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

pub(super) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The `associations` query parameter (repeated or comma-separated object types).
pub(crate) fn requested_associations(pairs: &[(String, String)]) -> Vec<ObjectKind> {
    pairs
        .iter()
        .filter(|(k, _)| k == "associations")
        .flat_map(|(_, v)| v.split(','))
        .filter_map(|s| ObjectKind::parse(s.trim()))
        .collect()
}

/// A record's JSON with the requested properties and, when asked, its associations.
pub(crate) fn record_json(
    portal: &Portal,
    kind: ObjectKind,
    record: &crate::state::StoredRecord,
    props: &[String],
    assoc: &[ObjectKind],
) -> Value {
    let mut out = record.to_json(kind, Some(props));
    if let Some(a) = crate::crm::associations::v3_associations(portal, (kind, record.id), assoc)
        && let Some(o) = out.as_object_mut()
    {
        o.insert("associations".into(), a);
    }
    out
}

#[derive(serde::Deserialize)]
struct Inputs<T> {
    inputs: Vec<T>,
}

/// The inputs of a batch body (`{"inputs": [...]}`), at most [`BATCH_LIMIT`] of them.
pub(crate) fn batch_inputs<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<Vec<T>> {
    let Inputs { inputs } = parse_json(body)?;
    if inputs.len() > BATCH_LIMIT {
        return Err(too_many_inputs(inputs.len()));
    }
    Ok(inputs)
}

/// The error for more than [`BATCH_LIMIT`] inputs.
pub(crate) fn too_many_inputs(n: usize) -> ApiError {
    ApiError::validation(format!(
        "Batch input limit exceeded: at most {BATCH_LIMIT} inputs are allowed, {n} were sent."
    ))
    .context(json!({ "limit": [BATCH_LIMIT.to_string()], "size": [n.to_string()] }))
}

/// Finds a live record by id or by a unique property.
pub(super) fn locate(
    portal: &Portal,
    kind: ObjectKind,
    id: &str,
    id_property: Option<&str>,
) -> Option<u64> {
    match id_property {
        None | Some("hs_object_id") => parse_id(id).and_then(|i| portal.store(kind).resolve(i)),
        Some(prop) => portal.store(kind).find_unique(prop, id),
    }
}

pub(super) fn check_id_property(
    portal: &Portal,
    kind: ObjectKind,
    prop: Option<&str>,
) -> ApiResult<()> {
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
        // One time for both: a webhook and a journal entry of one change say the same moment.
        let occurred = chrono::Utc::now().timestamp_millis();
        let events = world.webhook_events(portal_id, &changes, source, occurred);
        world.journal.record(portal_id, &changes, source, occurred);
        (out, events)
    };
    shared.webhooks.enqueue(events);
    Ok(out)
}

pub(super) fn source(p: &Principal) -> ChangeSource {
    ChangeSource::Integration { app_id: p.app_id }
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
