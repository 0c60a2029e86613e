//! Associations v4 between contacts, companies and notes: the store (both directions, with
//! HubSpot's type ids), inline associations of create bodies, and the `/crm/v4` routes.
mod batch;
mod http;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::crm::objects::{self, json_id, not_found, parse_id};
use crate::error::{ApiError, ApiResult};
use crate::state::{ObjectKind, Portal};
use crate::webhooks::Change;

pub(crate) use http::router;

type End = (ObjectKind, u64);

/// HubSpot-defined association types: (from, to, type id, inverse type id, label).
const TYPES: &[(ObjectKind, ObjectKind, u32, u32, Option<&str>)] = &[
    (ObjectKind::Contacts, ObjectKind::Companies, 279, 280, None),
    (
        ObjectKind::Contacts,
        ObjectKind::Companies,
        1,
        2,
        Some("Primary"),
    ),
    (ObjectKind::Companies, ObjectKind::Contacts, 280, 279, None),
    (
        ObjectKind::Companies,
        ObjectKind::Contacts,
        2,
        1,
        Some("Primary"),
    ),
    (ObjectKind::Notes, ObjectKind::Contacts, 202, 201, None),
    (ObjectKind::Contacts, ObjectKind::Notes, 201, 202, None),
    (ObjectKind::Notes, ObjectKind::Companies, 190, 189, None),
    (ObjectKind::Companies, ObjectKind::Notes, 189, 190, None),
];

/// The unlabeled (default) association type from one kind to another.
pub(crate) fn default_type(from: ObjectKind, to: ObjectKind) -> Option<u32> {
    TYPES
        .iter()
        .find(|(f, t, _, _, label)| *f == from && *t == to && label.is_none())
        .map(|(_, _, id, _, _)| *id)
}

/// [`default_type`], or the 400 HubSpot answers for kinds that cannot be associated.
fn required_default_type(from: ObjectKind, to: ObjectKind) -> ApiResult<u32> {
    default_type(from, to).ok_or_else(|| {
        ApiError::validation(format!(
            "{} cannot be associated with {}",
            from.plural(),
            to.plural()
        ))
    })
}

fn lookup(from: ObjectKind, type_id: u32) -> Option<(ObjectKind, u32, Option<&'static str>)> {
    TYPES
        .iter()
        .find(|(f, _, id, _, _)| *f == from && *id == type_id)
        .map(|(_, to, _, inverse, label)| (*to, *inverse, *label))
}

fn label(from: ObjectKind, type_id: u32) -> Option<&'static str> {
    lookup(from, type_id).and_then(|(_, _, l)| l)
}

/// Every association of a portal, stored in both directions.
#[derive(Default, Debug)]
pub(crate) struct Associations {
    edges: HashMap<End, BTreeMap<End, BTreeSet<u32>>>,
}

impl Associations {
    /// Adds an association of type `type_id` (and its inverse); true when it is new.
    pub(crate) fn add(&mut self, from: End, to: End, type_id: u32) -> bool {
        let inverse = lookup(from.0, type_id).map_or(type_id, |(_, inv, _)| inv);
        let added = self
            .edges
            .entry(from)
            .or_default()
            .entry(to)
            .or_default()
            .insert(type_id);
        self.edges
            .entry(to)
            .or_default()
            .entry(from)
            .or_default()
            .insert(inverse);
        added
    }

    /// Removes one association type (and its inverse) between two records.
    pub(crate) fn remove_type(&mut self, from: End, to: End, type_id: u32) {
        let inverse = lookup(from.0, type_id).map_or(type_id, |(_, inv, _)| inv);
        for (a, b, t) in [(from, to, type_id), (to, from, inverse)] {
            if let Some(targets) = self.edges.get_mut(&a) {
                if let Some(types) = targets.get_mut(&b) {
                    types.remove(&t);
                    if types.is_empty() {
                        targets.remove(&b);
                    }
                }
            }
        }
    }

    /// Removes every association between two records; true when there was one.
    pub(crate) fn remove_pair(&mut self, a: End, b: End) -> bool {
        let had = self.edges.get_mut(&a).and_then(|m| m.remove(&b)).is_some();
        if let Some(m) = self.edges.get_mut(&b) {
            m.remove(&a);
        }
        had
    }

    /// Removes every association of a record.
    pub(crate) fn remove_all(&mut self, kind: ObjectKind, id: u64) {
        if let Some(targets) = self.edges.remove(&(kind, id)) {
            for other in targets.keys() {
                if let Some(m) = self.edges.get_mut(other) {
                    m.remove(&(kind, id));
                }
            }
        }
    }

    /// The records of kind `to` associated with `from`, with the type ids.
    pub(crate) fn targets(&self, from: End, to: ObjectKind) -> Vec<(u64, Vec<u32>)> {
        self.edges
            .get(&from)
            .map(|m| {
                m.iter()
                    .filter(|((k, _), _)| *k == to)
                    .map(|((_, id), types)| (*id, types.iter().copied().collect()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Records an association change for webhooks (contact ↔ company only, like HubSpot).
fn note_change(changes: &mut Vec<Change>, from: End, to: End, type_id: u32, removed: bool) {
    if matches!(from.0, ObjectKind::Notes) || matches!(to.0, ObjectKind::Notes) {
        return;
    }
    changes.push(Change::Association {
        from,
        to,
        primary: label(from.0, type_id) == Some("Primary"),
        removed,
    });
}

/// Creates an association after checking both records exist.
pub(crate) fn associate(
    portal: &mut Portal,
    from: End,
    to: End,
    type_id: u32,
    changes: &mut Vec<Change>,
) -> ApiResult<()> {
    check_type(from.0, to.0, type_id)?;
    if portal.record(from.0, from.1).is_none() {
        return Err(not_found(from.0, from.1));
    }
    if portal.record(to.0, to.1).is_none() {
        return Err(not_found(to.0, to.1));
    }
    link(portal, from, to, type_id, changes);
    Ok(())
}

/// The contact's primary company, if it has one.
pub(crate) fn primary_company(portal: &Portal, contact: u64) -> Option<u64> {
    portal
        .associations
        .targets((ObjectKind::Contacts, contact), ObjectKind::Companies)
        .into_iter()
        .find(|(_, types)| types.contains(&PRIMARY_CONTACT_TO_COMPANY))
        .map(|(id, _)| id)
}

/// HubSpot's primary contact → company type (its inverse is 2).
pub(crate) const PRIMARY_CONTACT_TO_COMPANY: u32 = 1;

/// The (contact, company) of a primary association type, if it is one.
fn primary_pair(from: End, to: End, type_id: u32) -> Option<(u64, u64)> {
    match (from.0, to.0, type_id) {
        (ObjectKind::Contacts, ObjectKind::Companies, 1) => Some((from.1, to.1)),
        (ObjectKind::Companies, ObjectKind::Contacts, 2) => Some((to.1, from.1)),
        _ => None,
    }
}

/// Records `associatedcompanyid` on the contact, as HubSpot does for the primary company.
fn set_associated_company(
    portal: &mut Portal,
    contact: u64,
    company: Option<u64>,
    changes: &mut Vec<Change>,
) {
    let value = company.map(|c| c.to_string());
    let _ = objects::apply(
        portal,
        ObjectKind::Contacts,
        contact,
        vec![("associatedcompanyid".to_string(), value)],
        changes,
    );
}

/// Adds an association between existing records; a primary company replaces the previous one
/// and is recorded in the contact's `associatedcompanyid`.
pub(crate) fn link(
    portal: &mut Portal,
    from: End,
    to: End,
    type_id: u32,
    changes: &mut Vec<Change>,
) {
    let primary = primary_pair(from, to, type_id);
    if let Some((contact, company)) = primary
        && let Some(old) = primary_company(portal, contact).filter(|o| *o != company)
    {
        portal.associations.remove_type(
            (ObjectKind::Contacts, contact),
            (ObjectKind::Companies, old),
            PRIMARY_CONTACT_TO_COMPANY,
        );
    }
    if portal.associations.add(from, to, type_id) {
        note_change(changes, from, to, type_id, false);
    }
    if let Some((contact, company)) = primary {
        set_associated_company(portal, contact, Some(company), changes);
    }
}

/// Removes every association between two records.
pub(crate) fn dissociate(portal: &mut Portal, from: End, to: End, changes: &mut Vec<Change>) {
    let contact_company = match (from.0, to.0) {
        (ObjectKind::Contacts, ObjectKind::Companies) => Some((from.1, to.1)),
        (ObjectKind::Companies, ObjectKind::Contacts) => Some((to.1, from.1)),
        _ => None,
    };
    if let Some((contact, company)) = contact_company
        && primary_company(portal, contact) == Some(company)
    {
        portal.associations.remove_pair(from, to);
        set_associated_company(portal, contact, None, changes);
        note_change(
            changes,
            from,
            to,
            default_type(from.0, to.0).unwrap_or_default(),
            true,
        );
        return;
    }
    if portal.associations.remove_pair(from, to) {
        let t = default_type(from.0, to.0).unwrap_or_default();
        note_change(changes, from, to, t, true);
    }
}

fn check_type(from: ObjectKind, to: ObjectKind, type_id: u32) -> ApiResult<()> {
    match lookup(from, type_id) {
        Some((target, _, _)) if target == to => Ok(()),
        _ => Err(ApiError::validation(format!(
            "association type id {type_id} is not valid from {} to {}",
            from.plural(),
            to.plural()
        ))),
    }
}

/// `{to:{id}, types:[{associationCategory, associationTypeId}]}` in a create body.
#[derive(Debug, Deserialize)]
pub(crate) struct InlineAssociation {
    to: Map<String, Value>,
    #[serde(default)]
    types: Vec<AssociationSpec>,
}

/// `{associationCategory, associationTypeId}` (the category is not checked).
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AssociationSpec {
    association_type_id: u32,
}

/// Checks inline associations; answers the links to create.
pub(crate) fn check_inline(
    portal: &Portal,
    from: ObjectKind,
    inline: &[InlineAssociation],
) -> ApiResult<Vec<(End, u32)>> {
    let mut links = Vec::new();
    for a in inline {
        let id =
            a.to.get("id")
                .and_then(json_id)
                .and_then(|s| parse_id(&s))
                .ok_or_else(|| ApiError::validation("associations[].to.id must be a record id"))?;
        if a.types.is_empty() {
            return Err(ApiError::validation(
                "associations[].types must not be empty",
            ));
        }
        for t in &a.types {
            let (target, _, _) = lookup(from, t.association_type_id).ok_or_else(|| {
                ApiError::validation(format!(
                    "association type id {} is not valid from {}",
                    t.association_type_id,
                    from.plural()
                ))
            })?;
            if portal.record(target, id).is_none() {
                return Err(ApiError::validation(format!(
                    "One or more associations are invalid: {} {id} does not exist",
                    target.singular()
                )));
            }
            links.push(((target, id), t.association_type_id));
        }
    }
    Ok(links)
}

/// Creates checked inline associations of a new record.
pub(crate) fn apply_inline(
    portal: &mut Portal,
    from: ObjectKind,
    id: u64,
    links: Vec<(End, u32)>,
    changes: &mut Vec<Change>,
) {
    for (to, type_id) in links {
        link(portal, (from, id), to, type_id, changes);
    }
}

/// HubSpot's v3 name of an association type (`contact_to_company`, `..._unlabeled`).
fn v3_type_name(from: ObjectKind, to: ObjectKind, type_id: u32) -> String {
    let base = format!("{}_to_{}", from.singular(), to.singular());
    match (from, to, label(from, type_id)) {
        (_, _, Some(_)) => base,
        (ObjectKind::Contacts, ObjectKind::Companies, None)
        | (ObjectKind::Companies, ObjectKind::Contacts, None) => format!("{base}_unlabeled"),
        _ => base,
    }
}

/// The `associations` member HubSpot adds to an object read with `associations=...`.
pub(crate) fn v3_associations(portal: &Portal, from: End, kinds: &[ObjectKind]) -> Option<Value> {
    if kinds.is_empty() {
        return None;
    }
    let mut out = Map::new();
    for to in kinds {
        let results: Vec<Value> = portal
            .associations
            .targets(from, *to)
            .into_iter()
            .flat_map(|(id, types)| {
                types.into_iter().map(
                    move |t| json!({ "id": id.to_string(), "type": v3_type_name(from.0, *to, t) }),
                )
            })
            .collect();
        if !results.is_empty() {
            out.insert(to.plural().to_string(), json!({ "results": results }));
        }
    }
    Some(Value::Object(out))
}
