//! The portal's own property rules, enforced on writes made with API version 2026-09 or later.
//!
//! From 2026-09 HubSpot applies the validation an admin configured (required properties, ...)
//! to every CRM write through the API and refuses a violation with 400 `VALIDATION_ERROR`,
//! one `errors[]` entry per broken property with `code` and `context.propertyName`. Older
//! versions (2026-03, v3) skip it. The sandbox models required properties: set them with
//! [`crate::Control::require_property`]; creates (single, batch and upsert) must give every
//! required property a value, updates must not clear one.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::{ObjectKind, Shared};
use crate::versions::DatedVersion;

/// How a write treats required properties.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Every required property needs a value.
    Create,
    /// A required property given must not be empty.
    Update,
}

/// What the request writes, from its (numbered) path: the kind, the rule, and whether the body
/// holds `inputs[]` rather than one record.
fn write_of(method: &Method, path: &str) -> Option<(ObjectKind, Write, bool)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (kind, rest) = match segments.as_slice() {
        ["crm", "v3", "objects", kind, rest @ ..] => (ObjectKind::parse(kind)?, rest),
        _ => return None,
    };
    match (method.as_str(), rest) {
        ("POST", []) => Some((kind, Write::Create, false)),
        ("PATCH", [_id]) => Some((kind, Write::Update, false)),
        ("POST", ["batch", "create" | "upsert"]) => Some((kind, Write::Create, true)),
        ("POST", ["batch", "update"]) => Some((kind, Write::Update, true)),
        _ => None,
    }
}

/// The broken rules of one input: `(property, code)`.
fn violations(required: &[String], properties: Option<&Value>, write: Write) -> Vec<String> {
    let value = |name: &str| {
        properties
            .and_then(|p| p.get(name))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    required
        .iter()
        .filter(|name| match (write, value(name)) {
            (_, Some(v)) if v.trim().is_empty() || v == "null" => true,
            (Write::Create, None) => true,
            _ => false,
        })
        .cloned()
        .collect()
}

/// Middleware on the CRM routes: refuses a 2026-09+ write that breaks a required property.
pub(crate) async fn enforce(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let dated = req.extensions().get::<DatedVersion>().copied();
    let Some((kind, write, batch)) = write_of(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    if !dated.is_some_and(DatedVersion::enforces_validation) {
        return next.run(req).await;
    }
    let Some(principal) = req.extensions().get::<crate::auth::Principal>().cloned() else {
        return next.run(req).await;
    };
    let required = shared
        .world()
        .portal(principal.portal_id)
        .map(|p| p.required_properties(kind))
        .unwrap_or_default();
    if required.is_empty() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return ApiError::validation("request body too large").into_response(),
    };
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let inputs: Vec<&Value> = if batch {
        parsed
            .get("inputs")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    } else {
        vec![&parsed]
    };
    let mut errors = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        for property in violations(&required, input.get("properties"), write) {
            errors.push(json!({
                "message": format!("Property \"{property}\" is required (input {index})"),
                "code": "MISSING_REQUIRED_PROPERTY",
                "context": { "propertyName": [property], "inputIndex": [index.to_string()] },
            }));
        }
    }
    if errors.is_empty() {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let mut error = ApiError::validation(format!(
        "Property values were not valid: {} required propert{} missing",
        errors.len(),
        if errors.len() == 1 { "y is" } else { "ies are" }
    ));
    error.body.insert("errors".into(), Value::Array(errors));
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_found_by_method_and_path() {
        let w = |m: Method, p: &str| write_of(&m, p).map(|(k, w, b)| (k, w == Write::Create, b));
        assert_eq!(
            w(Method::POST, "/crm/v3/objects/companies"),
            Some((ObjectKind::Companies, true, false))
        );
        assert_eq!(
            w(Method::PATCH, "/crm/v3/objects/contacts/7"),
            Some((ObjectKind::Contacts, false, false))
        );
        assert_eq!(
            w(Method::POST, "/crm/v3/objects/contacts/batch/upsert"),
            Some((ObjectKind::Contacts, true, true))
        );
        assert_eq!(
            w(Method::POST, "/crm/v3/objects/contacts/batch/update"),
            Some((ObjectKind::Contacts, false, true))
        );
        assert_eq!(w(Method::POST, "/crm/v3/objects/contacts/search"), None);
        assert_eq!(w(Method::POST, "/crm/v3/objects/contacts/batch/read"), None);
        assert_eq!(w(Method::GET, "/crm/v3/objects/contacts/7"), None);
    }

    #[test]
    fn creates_need_every_required_property_and_updates_must_not_clear_one() {
        let required = vec!["npn".to_owned(), "state".to_owned()];
        let props = json!({"npn": "123", "state": ""});
        assert_eq!(
            violations(&required, Some(&props), Write::Create),
            ["state"]
        );
        assert_eq!(
            violations(&required, Some(&json!({})), Write::Create),
            ["npn", "state"]
        );
        assert!(violations(&required, Some(&json!({"name": "x"})), Write::Update).is_empty());
        assert_eq!(
            violations(&required, Some(&json!({"npn": " "})), Write::Update),
            ["npn"]
        );
    }
}
