//! Property definitions: HubSpot's standard company, contact and note properties, custom
//! properties, value validation, and `/crm/v3/properties/{object}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, parse_json};
use crate::state::{ObjectKind, Shared, iso};

mod standard;

pub(crate) use standard::standard;

/// One enumeration option.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PropertyOption {
    pub(crate) label: String,
    pub(crate) value: String,
    pub(crate) display_order: i64,
    pub(crate) hidden: bool,
}

/// A property definition.
#[derive(Clone, Debug)]
pub(crate) struct PropertyDef {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) kind: String,
    pub(crate) field_type: String,
    pub(crate) group_name: String,
    pub(crate) description: String,
    pub(crate) options: Vec<PropertyOption>,
    pub(crate) hubspot_defined: bool,
    pub(crate) has_unique_value: bool,
    pub(crate) read_only_value: bool,
    pub(crate) external_options: bool,
    pub(crate) display_order: i64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl PropertyDef {
    /// HubSpot's JSON for this property.
    pub(crate) fn to_json(&self) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .map(|o| {
                json!({
                    "label": o.label,
                    "value": o.value,
                    "displayOrder": o.display_order,
                    "hidden": o.hidden,
                })
            })
            .collect();
        let mut v = json!({
            "name": self.name,
            "label": self.label,
            "type": self.kind,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": options,
            "displayOrder": self.display_order,
            "calculated": false,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": false,
            "formField": !self.read_only_value,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": false,
        });
        if self.hubspot_defined
            && let Some(o) = v.as_object_mut()
        {
            o.insert("hubspotDefined".into(), json!(true));
        }
        v
    }

    /// Checks and normalises a value written to this property; `None` clears it.
    pub(crate) fn normalise(&self, raw: &str) -> Result<Option<String>, (String, String)> {
        if raw.is_empty() {
            return Ok(None);
        }
        let bad = |code: &str, msg: String| Err((code.to_string(), msg));
        match self.kind.as_str() {
            "number" => match raw.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && raw.trim() == raw => Ok(Some(raw.to_string())),
                _ => bad("INVALID_FLOAT", format!("{raw} was not a valid number.")),
            },
            "bool" => match raw.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(Some(raw.to_ascii_lowercase())),
                _ => bad(
                    "INVALID_BOOLEAN",
                    format!("{raw} was not a valid boolean (expected true or false)."),
                ),
            },
            "date" => match parse_date(raw) {
                Some(d) => Ok(Some(d.format("%Y-%m-%d").to_string())),
                None => bad(
                    "INVALID_DATE",
                    format!(
                        "{raw} is not a valid date: use YYYY-MM-DD or epoch milliseconds at midnight UTC."
                    ),
                ),
            },
            "datetime" => match parse_datetime(raw) {
                Some(t) => Ok(Some(iso(t))),
                None => bad(
                    "INVALID_DATETIME",
                    format!("{raw} is not a valid datetime: use ISO 8601 or epoch milliseconds."),
                ),
            },
            "enumeration" if !self.external_options => {
                let allowed = |v: &str| self.options.iter().any(|o| o.value == v);
                let values: Vec<&str> = if self.field_type == "checkbox" {
                    raw.split(';').filter(|v| !v.is_empty()).collect()
                } else {
                    vec![raw]
                };
                if let Some(v) = values.iter().find(|v| !allowed(v)) {
                    let all: Vec<&str> = self.options.iter().map(|o| o.value.as_str()).collect();
                    return bad(
                        "INVALID_OPTION",
                        format!(
                            "{v} was not one of the allowed options: [{}]",
                            all.join(", ")
                        ),
                    );
                }
                Ok(Some(raw.to_string()))
            }
            _ => Ok(Some(raw.to_string())),
        }
    }

    /// Whether values compare as numbers (numbers, dates, ids).
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self.kind.as_str(), "number" | "date" | "datetime")
    }
}

/// Parses `YYYY-MM-DD` or epoch milliseconds.
pub(crate) fn parse_date(raw: &str) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(d);
    }
    let ms: i64 = raw.parse().ok()?;
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// Parses ISO 8601 or epoch milliseconds.
pub(crate) fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(ms) = raw.parse::<i64>() {
        return DateTime::<Utc>::from_timestamp_millis(ms);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A value as a number for comparisons (numbers, dates and datetimes as epoch ms).
pub(crate) fn numeric_value(kind: &str, raw: &str) -> Option<f64> {
    match kind {
        "date" => parse_date(raw)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis() as f64),
        "datetime" => parse_datetime(raw).map(|t| t.timestamp_millis() as f64),
        _ => raw.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
    }
}

/// A request to create a custom property.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewProperty {
    pub(crate) name: String,
    pub(crate) label: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) field_type: String,
    #[serde(default)]
    pub(crate) group_name: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) options: Vec<NewOption>,
    #[serde(default)]
    pub(crate) has_unique_value: bool,
    #[serde(default)]
    pub(crate) display_order: Option<i64>,
}

/// An option of a property being created.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewOption {
    pub(crate) label: String,
    pub(crate) value: String,
    #[serde(default)]
    pub(crate) display_order: Option<i64>,
    #[serde(default)]
    pub(crate) hidden: bool,
}

const TYPES: &[(&str, &[&str])] = &[
    (
        "string",
        &["text", "textarea", "phonenumber", "html", "file"],
    ),
    ("number", &["number", "calculation_equation"]),
    ("bool", &["booleancheckbox", "checkbox", "radio", "select"]),
    (
        "enumeration",
        &["select", "radio", "checkbox", "booleancheckbox"],
    ),
    ("date", &["date"]),
    ("datetime", &["date"]),
];

/// Validates and builds a custom property.
pub(crate) fn build_custom(
    input: NewProperty,
    existing: &BTreeMap<String, PropertyDef>,
) -> ApiResult<PropertyDef> {
    let valid_name = input
        .name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && input
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(ApiError::validation(format!(
            "Property name '{}' is invalid: use lower-case letters, digits and underscores, starting with a letter.",
            input.name
        )));
    }
    if existing.contains_key(&input.name) {
        return Err(
            ApiError::conflict(format!("Property named '{}' already exists.", input.name))
                .sub_category("PROPERTY_ALREADY_EXISTS"),
        );
    }
    let Some((_, fields)) = TYPES.iter().find(|(t, _)| *t == input.kind) else {
        return Err(ApiError::validation(format!(
            "Property type '{}' is not one of string, number, bool, enumeration, date, datetime.",
            input.kind
        )));
    };
    if !fields.contains(&input.field_type.as_str()) {
        return Err(ApiError::validation(format!(
            "fieldType '{}' is not valid for type '{}'.",
            input.field_type, input.kind
        )));
    }
    if input.kind == "enumeration" && input.options.is_empty() {
        return Err(ApiError::validation(
            "Enumeration properties need at least one option.",
        ));
    }
    let now = Utc::now();
    Ok(PropertyDef {
        name: input.name,
        label: input.label,
        kind: input.kind,
        field_type: input.field_type,
        group_name: input.group_name.unwrap_or_else(|| "custom".into()),
        description: input.description.unwrap_or_default(),
        options: input
            .options
            .into_iter()
            .enumerate()
            .map(|(i, o)| PropertyOption {
                label: o.label,
                value: o.value,
                display_order: o.display_order.unwrap_or(i as i64),
                hidden: o.hidden,
            })
            .collect(),
        hubspot_defined: false,
        has_unique_value: input.has_unique_value,
        read_only_value: false,
        external_options: false,
        display_order: input.display_order.unwrap_or(-1),
        created_at: now,
        updated_at: now,
    })
}

fn object_kind(object: &str) -> ApiResult<ObjectKind> {
    ObjectKind::parse(object)
        .ok_or_else(|| ApiError::validation(format!("Unable to infer object type from: {object}")))
}

async fn list(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(object): Path<String>,
) -> ApiResult<Response> {
    let kind = object_kind(&object)?;
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let results: Vec<Value> = portal
        .props(kind)
        .values()
        .map(PropertyDef::to_json)
        .collect();
    Ok(axum::Json(json!({ "results": results })).into_response())
}

async fn get_one(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((object, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let kind = object_kind(&object)?;
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let def = portal.props(kind).get(&name).ok_or_else(|| {
        ApiError::not_found(format!(
            "Unable to find property {name} for object {object}"
        ))
    })?;
    Ok(axum::Json(def.to_json()).into_response())
}

async fn create(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path(object): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let kind = object_kind(&object)?;
    let input: NewProperty = parse_json(&body)?;
    let mut world = shared.world();
    let portal = world.portal_mut(principal.portal_id)?;
    let def = build_custom(input, portal.props(kind))?;
    let out = def.to_json();
    portal.props_mut(kind).insert(def.name.clone(), def);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

async fn archive(
    State(shared): State<Arc<Shared>>,
    principal: Principal,
    Path((object, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let kind = object_kind(&object)?;
    let mut world = shared.world();
    let portal = world.portal_mut(principal.portal_id)?;
    let catalog = portal.props_mut(kind);
    match catalog.get(&name) {
        None => Err(ApiError::not_found(format!(
            "Unable to find property {name} for object {object}"
        ))),
        Some(def) if def.hubspot_defined => Err(ApiError::validation(format!(
            "Property {name} is HubSpot-defined and cannot be archived."
        ))),
        Some(_) => {
            catalog.remove(&name);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

/// `/crm/v3/properties/{object}`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/crm/v3/properties/{object}", get(list).post(create))
        .route(
            "/crm/v3/properties/{object}/{name}",
            get(get_one).delete(archive),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: &str, field_type: &str) -> PropertyDef {
        let mut d = standard(ObjectKind::Companies)
            .remove("type")
            .unwrap_or_else(|| unreachable!("type is a standard company property"));
        d.kind = kind.into();
        d.field_type = field_type.into();
        d
    }

    #[test]
    fn values_are_checked_and_normalised_by_type() {
        let ok = |d: &PropertyDef, raw: &str| d.normalise(raw).map_err(|(code, _)| code);
        let number = def("number", "number");
        assert_eq!(ok(&number, "12.5"), Ok(Some("12.5".into())));
        assert_eq!(ok(&number, " 12"), Err("INVALID_FLOAT".into()));
        assert_eq!(ok(&number, ""), Ok(None));
        let boolean = def("bool", "booleancheckbox");
        assert_eq!(ok(&boolean, "TRUE"), Ok(Some("true".into())));
        assert_eq!(ok(&boolean, "yes"), Err("INVALID_BOOLEAN".into()));
        let date = def("date", "date");
        assert_eq!(ok(&date, "2026-01-02"), Ok(Some("2026-01-02".into())));
        assert_eq!(ok(&date, "1767312000000"), Ok(Some("2026-01-02".into())));
        assert_eq!(ok(&date, "02/01/2026"), Err("INVALID_DATE".into()));
        let datetime = def("datetime", "date");
        assert_eq!(
            ok(&datetime, "1767323045000"),
            Ok(Some("2026-01-02T03:04:05.000Z".into()))
        );
        let select = def("enumeration", "select");
        assert_eq!(ok(&select, "PARTNER"), Ok(Some("PARTNER".into())));
        assert_eq!(ok(&select, "partner"), Err("INVALID_OPTION".into()));
        let checkbox = def("enumeration", "checkbox");
        assert_eq!(
            ok(&checkbox, "PARTNER;VENDOR"),
            Ok(Some("PARTNER;VENDOR".into()))
        );
        assert_eq!(ok(&checkbox, "PARTNER;X"), Err("INVALID_OPTION".into()));
    }
}
