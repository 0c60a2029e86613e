//! Record mutations shared by the API and the control API: checking property writes against
//! the catalog, unique values, create, update, archive and merge.

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::crm::associations;
use crate::error::{ApiError, ApiResult};
use crate::state::{ObjectKind, Portal, StoredRecord, iso, unique_key};
use crate::webhooks::Change;

use super::not_found;

/// The most inputs a batch call accepts.
pub(crate) const BATCH_LIMIT: usize = 100;

/// The most records a list page holds.
pub(crate) const LIST_LIMIT: usize = 100;

/// Turns a JSON property value into HubSpot's string form (`""` clears).
pub(super) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// One invalid property value, as HubSpot reports it.
pub(super) fn invalid(name: &str, code: &str, message: String) -> Value {
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

pub(super) fn validation_failure(problems: Vec<Value>) -> ApiError {
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
pub(super) fn unique_writes<'a>(
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
pub(super) fn claim_unique(
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
    let unique = portal.unique_properties(kind);
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
    let unique = portal.unique_properties(kind);
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
    let moved = move_properties(portal, kind, primary, merged)?;
    move_associations(portal, kind, primary, merged, changes)?;
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

/// Retires `merged` (its id resolves to `primary` from now on) and moves over the properties
/// `primary` lacks; answers how many moved.
fn move_properties(
    portal: &mut Portal,
    kind: ObjectKind,
    primary: u64,
    merged: u64,
) -> ApiResult<u64> {
    let unique = portal.unique_properties(kind);
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
    Ok(moved)
}

/// Moves `merged`'s associations to `primary` (a contact keeps its own primary company), and
/// points `associatedcompanyid` of the contacts concerned at the company they now belong to.
fn move_associations(
    portal: &mut Portal,
    kind: ObjectKind,
    primary: u64,
    merged: u64,
    changes: &mut Vec<Change>,
) -> ApiResult<()> {
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
    Ok(())
}
