//! `POST /crm/v3/objects/{object}/search`: filter groups (ORed) of filters (ANDed), sorts,
//! 200 results per page and the 10,000-result window.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Principal;
use super::crm::properties::{PropertyDef, numeric_value};
use super::error::{ApiError, ApiResult, parse_json};
use super::state::{ObjectKind, Portal, Shared, StoredRecord};

/// The most results one search page holds.
pub(crate) const PAGE_LIMIT: usize = 200;
/// The most results one query can reach.
pub(crate) const RESULT_WINDOW: usize = 10_000;
const MAX_GROUPS: usize = 5;
const MAX_FILTERS_PER_GROUP: usize = 6;
const MAX_FILTERS: usize = 18;

/// A search request body.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchRequest {
    #[serde(default)]
    pub(crate) filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    pub(crate) sorts: Vec<Value>,
    #[serde(default)]
    pub(crate) properties: Vec<String>,
    #[serde(default)]
    pub(crate) limit: Option<i64>,
    #[serde(default)]
    pub(crate) after: Option<Value>,
    #[serde(default)]
    pub(crate) query: Option<String>,
}

/// Filters ANDed together.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct FilterGroup {
    #[serde(default)]
    pub(crate) filters: Vec<Filter>,
}

/// One filter.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Filter {
    pub(crate) property_name: String,
    pub(crate) operator: String,
    #[serde(default)]
    pub(crate) value: Option<Value>,
    #[serde(default)]
    pub(crate) high_value: Option<Value>,
    #[serde(default)]
    pub(crate) values: Option<Vec<Value>>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A filter checked against the catalog, ready to evaluate.
struct Compiled<'a> {
    prop: String,
    op: Op,
    def: Option<&'a PropertyDef>,
    value: Option<String>,
    high: Option<String>,
    values: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

fn op(name: &str) -> Option<Op> {
    Some(match name {
        "EQ" => Op::Eq,
        "NEQ" => Op::Neq,
        "LT" => Op::Lt,
        "LTE" => Op::Lte,
        "GT" => Op::Gt,
        "GTE" => Op::Gte,
        "BETWEEN" => Op::Between,
        "IN" => Op::In,
        "NOT_IN" => Op::NotIn,
        "HAS_PROPERTY" => Op::HasProperty,
        "NOT_HAS_PROPERTY" => Op::NotHasProperty,
        "CONTAINS_TOKEN" => Op::ContainsToken,
        "NOT_CONTAINS_TOKEN" => Op::NotContainsToken,
        _ => return None,
    })
}

fn compile<'a>(portal: &'a Portal, kind: ObjectKind, f: &Filter) -> ApiResult<Compiled<'a>> {
    let operator = op(&f.operator).ok_or_else(|| {
        ApiError::validation(format!(
            "Invalid input JSON: operator {} is not one of EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN",
            f.operator
        ))
    })?;
    let def = portal.props(kind).get(&f.property_name);
    if def.is_none() {
        return Err(ApiError::validation(format!(
            "There was a problem with the request: property {} does not exist on {}",
            f.property_name,
            kind.plural()
        )));
    }
    let value = f.value.as_ref().and_then(text);
    let high = f.high_value.as_ref().and_then(text);
    let values: Vec<String> = f.values.iter().flatten().filter_map(text).collect();
    let needs_value = matches!(
        operator,
        Op::Eq
            | Op::Neq
            | Op::Lt
            | Op::Lte
            | Op::Gt
            | Op::Gte
            | Op::ContainsToken
            | Op::NotContainsToken
    );
    if needs_value && value.is_none() {
        return Err(ApiError::validation(format!(
            "Filter on {} with operator {} needs a value",
            f.property_name, f.operator
        )));
    }
    if operator == Op::Between && (value.is_none() || high.is_none()) {
        return Err(ApiError::validation(format!(
            "Filter on {} with operator BETWEEN needs value and highValue",
            f.property_name
        )));
    }
    if matches!(operator, Op::In | Op::NotIn) && values.is_empty() {
        return Err(ApiError::validation(format!(
            "Filter on {} with operator {} needs values",
            f.property_name, f.operator
        )));
    }
    Ok(Compiled {
        prop: f.property_name.clone(),
        op: operator,
        def,
        value,
        high,
        values,
    })
}

fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| c.is_whitespace() || ",;:/()<>\"'".contains(c))
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return part.is_empty() || rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

fn contains_token(value: &str, token: &str) -> bool {
    let token = token.to_lowercase();
    let whole = value.to_lowercase();
    if token.contains('*') {
        return glob(&token, &whole) || tokens(value).any(|t| glob(&token, &t));
    }
    whole == token || tokens(value).any(|t| t == token)
}

impl Compiled<'_> {
    fn numeric(&self) -> bool {
        self.prop == "hs_object_id" || self.def.is_some_and(PropertyDef::is_numeric)
    }

    fn number(&self, raw: &str) -> Option<f64> {
        let kind = self.def.map_or("number", |d| d.kind.as_str());
        numeric_value(kind, raw)
    }

    fn compare(&self, actual: &str, wanted: &str) -> Option<Ordering> {
        if self.numeric() {
            self.number(actual)?.partial_cmp(&self.number(wanted)?)
        } else {
            Some(actual.to_lowercase().cmp(&wanted.to_lowercase()))
        }
    }

    fn equals(&self, actual: &str, wanted: &str) -> bool {
        self.compare(actual, wanted) == Some(Ordering::Equal)
    }

    fn matches(&self, record: &StoredRecord) -> bool {
        let actual = record
            .props
            .get(&self.prop)
            .map(String::as_str)
            .filter(|v| !v.is_empty());
        let wanted = self.value.as_deref().unwrap_or_default();
        match (self.op, actual) {
            (Op::HasProperty, a) => a.is_some(),
            (Op::NotHasProperty, a) => a.is_none(),
            (Op::Neq, None) => true,
            (Op::NotIn, None) => true,
            (Op::NotContainsToken, None) => true,
            (_, None) => false,
            (Op::Eq, Some(a)) => self.equals(a, wanted),
            (Op::Neq, Some(a)) => !self.equals(a, wanted),
            (Op::Lt, Some(a)) => self.compare(a, wanted) == Some(Ordering::Less),
            (Op::Lte, Some(a)) => matches!(
                self.compare(a, wanted),
                Some(Ordering::Less | Ordering::Equal)
            ),
            (Op::Gt, Some(a)) => self.compare(a, wanted) == Some(Ordering::Greater),
            (Op::Gte, Some(a)) => {
                matches!(
                    self.compare(a, wanted),
                    Some(Ordering::Greater | Ordering::Equal)
                )
            }
            (Op::Between, Some(a)) => {
                let high = self.high.as_deref().unwrap_or_default();
                matches!(
                    self.compare(a, wanted),
                    Some(Ordering::Greater | Ordering::Equal)
                ) && matches!(
                    self.compare(a, high),
                    Some(Ordering::Less | Ordering::Equal)
                )
            }
            (Op::In, Some(a)) => self.in_values(a),
            (Op::NotIn, Some(a)) => !self.in_values(a),
            (Op::ContainsToken, Some(a)) => contains_token(a, wanted),
            (Op::NotContainsToken, Some(a)) => !contains_token(a, wanted),
        }
    }

    fn in_values(&self, actual: &str) -> bool {
        let multi = self.def.is_some_and(|d| d.field_type == "checkbox");
        if multi {
            actual
                .split(';')
                .any(|part| self.values.iter().any(|v| self.equals(part, v)))
        } else {
            self.values.iter().any(|v| self.equals(actual, v))
        }
    }
}

struct Sort {
    prop: String,
    descending: bool,
    numeric: Option<String>,
}

fn parse_sort(portal: &Portal, kind: ObjectKind, v: &Value) -> ApiResult<Sort> {
    let (prop, descending) = match v {
        Value::String(s) => match s.strip_prefix('-') {
            Some(p) => (p.to_string(), true),
            None => (s.clone(), false),
        },
        Value::Object(o) => {
            let prop = o
                .get("propertyName")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::validation("Each sort needs a propertyName"))?;
            let dir = o
                .get("direction")
                .and_then(Value::as_str)
                .unwrap_or("ASCENDING");
            match dir {
                "ASCENDING" => (prop.to_string(), false),
                "DESCENDING" => (prop.to_string(), true),
                other => {
                    return Err(ApiError::validation(format!(
                        "Sort direction {other} is not ASCENDING or DESCENDING"
                    )));
                }
            }
        }
        _ => return Err(ApiError::validation("A sort is a string or an object")),
    };
    let numeric = if prop == "hs_object_id" {
        Some("number".to_string())
    } else {
        portal
            .props(kind)
            .get(&prop)
            .filter(|d| d.is_numeric())
            .map(|d| d.kind.clone())
    };
    Ok(Sort {
        prop,
        descending,
        numeric,
    })
}

fn sort_key_cmp(sort: &Sort, a: &StoredRecord, b: &StoredRecord) -> Ordering {
    let va = a.props.get(&sort.prop);
    let vb = b.props.get(&sort.prop);
    let ord = match (va, vb) {
        (None, None) => Ordering::Equal,
        // Records without a value come last in either direction.
        (None, Some(_)) => return Ordering::Greater,
        (Some(_), None) => return Ordering::Less,
        (Some(x), Some(y)) => match &sort.numeric {
            Some(kind) => {
                let nx = numeric_value(kind, x).unwrap_or(f64::MIN);
                let ny = numeric_value(kind, y).unwrap_or(f64::MIN);
                nx.partial_cmp(&ny).unwrap_or(Ordering::Equal)
            }
            None => x.to_lowercase().cmp(&y.to_lowercase()),
        },
    };
    if sort.descending { ord.reverse() } else { ord }
}

fn matches_query(kind: ObjectKind, record: &StoredRecord, query: &str) -> bool {
    let fields: &[&str] = match kind {
        ObjectKind::Companies => &["name", "domain", "website", "phone"],
        ObjectKind::Contacts => &["firstname", "lastname", "email", "phone", "company"],
        ObjectKind::Notes => &["hs_note_body"],
    };
    let q = query.to_lowercase();
    fields.iter().any(|f| {
        record.props.get(*f).is_some_and(|v| {
            tokens(v).any(|t| t.starts_with(&q)) || v.to_lowercase().starts_with(&q)
        })
    })
}

/// Runs a search against a portal.
pub(crate) fn run(portal: &Portal, kind: ObjectKind, req: &SearchRequest) -> ApiResult<Value> {
    let limit = req.limit.unwrap_or(10);
    if !(1..=PAGE_LIMIT as i64).contains(&limit) {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {PAGE_LIMIT}, got {limit}"
        )));
    }
    let limit = limit as usize;
    let after = match &req.after {
        None | Some(Value::Null) => 0,
        Some(v) => text(v)
            .filter(|s| !s.is_empty())
            .map_or(Some(0), |s| s.parse::<usize>().ok())
            .ok_or_else(|| ApiError::validation("after must be a number"))?,
    };
    if after >= RESULT_WINDOW {
        return Err(ApiError::validation(format!(
            "Search results are limited to {RESULT_WINDOW}: paging after {after} is not allowed. Narrow the query instead, for example sort by hs_object_id and filter hs_object_id GT the last id seen."
        ))
        .context(json!({ "after": [after.to_string()] })));
    }
    if req.filter_groups.len() > MAX_GROUPS {
        return Err(ApiError::validation(format!(
            "At most {MAX_GROUPS} filterGroups are allowed, got {}",
            req.filter_groups.len()
        )));
    }
    let total_filters: usize = req.filter_groups.iter().map(|g| g.filters.len()).sum();
    if req
        .filter_groups
        .iter()
        .any(|g| g.filters.len() > MAX_FILTERS_PER_GROUP)
        || total_filters > MAX_FILTERS
    {
        return Err(ApiError::validation(format!(
            "At most {MAX_FILTERS_PER_GROUP} filters per group and {MAX_FILTERS} in total are allowed"
        )));
    }
    let groups: Vec<Vec<Compiled<'_>>> = req
        .filter_groups
        .iter()
        .map(|g| g.filters.iter().map(|f| compile(portal, kind, f)).collect())
        .collect::<ApiResult<_>>()?;
    let sort = req
        .sorts
        .first()
        .map(|s| parse_sort(portal, kind, s))
        .transpose()?;
    let query = req
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty());
    let mut hits: Vec<&StoredRecord> = portal
        .searchable(kind)
        .values()
        .filter(|r| groups.is_empty() || groups.iter().any(|g| g.iter().all(|f| f.matches(r))))
        .filter(|r| query.is_none_or(|q| matches_query(kind, r, q)))
        .collect();
    if let Some(sort) = &sort {
        // Stable: ties keep id order.
        hits.sort_by(|a, b| sort_key_cmp(sort, a, b));
    }
    let total = hits.len();
    let end = (after + limit).min(total).min(RESULT_WINDOW);
    let page: Vec<Value> = hits
        .get(after.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|r| r.to_json(kind, Some(&req.properties)))
        .collect();
    let mut out = json!({ "total": total, "results": page });
    if end < total {
        out["paging"] = json!({ "next": { "after": end.to_string() } });
    }
    Ok(out)
}

/// The search handler.
pub(crate) async fn search(
    kind: ObjectKind,
    shared: Arc<Shared>,
    principal: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    let req: SearchRequest = parse_json(&body)?;
    let world = shared.world();
    let portal = world.portal(principal.portal_id)?;
    let out = run(portal, kind, &req)?;
    Ok(axum::Json(out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_hubspot_tokens() {
        for (pattern, text, expected) in [
            ("*@hubspot.com", "ann@hubspot.com", true),
            ("*@hubspot.com", "ann@hubspot.co", false),
            ("ann*", "anna", true),
            ("a*n*a", "anna", true),
            ("a*z", "anna", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn contains_token_looks_at_whole_words_case_insensitively() {
        for (value, token, expected) in [
            ("Alpha Insurance Group", "insurance", true),
            ("Alpha Insurance Group", "insur", false),
            ("Alpha Insurance Group", "insur*", true),
            ("ann@x.test", "*@x.test", true),
            ("ann@x.test", "ANN@X.TEST", true),
        ] {
            assert_eq!(contains_token(value, token), expected, "{value} / {token}");
        }
    }
}
