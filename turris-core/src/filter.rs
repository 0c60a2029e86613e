//! The identifier filter: which HubSpot records count as agencies (or agents), and the
//! property [`Condition`] that contract rules and invitation filters reuse.
//!
//! Semantics (SPEC, "Identifier filter"):
//! - comparisons are case- and whitespace-sensitive: no trimming, no case folding;
//! - a property is populated when it is present with a non-empty string;
//! - `is_a_number` holds when the whole value is a finite decimal literal (`-12`, `3.50`,
//!   `1e3`), never for `NaN`, `inf`, `""` or a value with surrounding whitespace.
//!
//! The serde form is the API and the storage form:
//! `{"mode":"sync_all"}` or
//! `{"mode":"apply_filter","property":"type","operator":"equals","value":"Agency"}`
//! (`is_one_of` takes `"values": [...]`). Every part of `apply_filter` may be missing when
//! deserializing, so a half-configured filter from a form arrives intact and
//! [`IdentifierFilter::validate`] reports every missing piece with its path; unknown fields
//! and unknown operators are rejected by serde.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::property::{ObjectSchema, PropertyMap};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// The value equals `value` exactly.
    Equals,
    /// The property is present with a non-empty string.
    IsPopulated,
    /// The property is missing, `null` or `""`.
    IsNotPopulated,
    /// The value equals one of `values` exactly.
    IsOneOf,
    /// The value contains `value` as a substring.
    Contains,
    /// The whole value is a finite decimal number.
    IsANumber,
}

/// What an operator compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// Nothing: `is_populated`, `is_not_populated`, `is_a_number`.
    None,
    /// One `value`: `equals`, `contains`.
    Value,
    /// A non-empty list of `values`: `is_one_of`.
    Values,
}

impl Operator {
    /// Every operator, in the order the UI lists them.
    pub const ALL: [Operator; 6] = [
        Operator::Equals,
        Operator::IsPopulated,
        Operator::IsNotPopulated,
        Operator::IsOneOf,
        Operator::Contains,
        Operator::IsANumber,
    ];

    /// The serde name, e.g. `is_one_of`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::IsPopulated => "is_populated",
            Operator::IsNotPopulated => "is_not_populated",
            Operator::IsOneOf => "is_one_of",
            Operator::Contains => "contains",
            Operator::IsANumber => "is_a_number",
        }
    }

    /// What the operator compares against.
    pub fn operand(self) -> Operand {
        match self {
            Operator::Equals | Operator::Contains => Operand::Value,
            Operator::IsOneOf => Operand::Values,
            Operator::IsPopulated | Operator::IsNotPopulated | Operator::IsANumber => Operand::None,
        }
    }
}

/// A test of one property: `{property, operator, value | values}`.
///
/// Every part is optional so that a half-filled form deserializes and
/// [`Condition::validate`] can name what is missing. A condition with a missing part never
/// matches.
///
/// ```
/// use turris_core::{Condition, PropertyMap};
///
/// let agencies = Condition::equals("type", "Agency");
/// assert!(agencies.evaluate(&PropertyMap::from_pairs([("type", Some("Agency"))])));
/// assert!(!agencies.evaluate(&PropertyMap::from_pairs([("type", Some("agency"))])));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The HubSpot property to test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// How to test it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// The single value of `equals` and `contains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values of `is_one_of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl Condition {
    fn with(property: &str, operator: Operator) -> Self {
        Self {
            property: Some(property.to_owned()),
            operator: Some(operator),
            value: None,
            values: None,
        }
    }

    /// `property` equals `value`.
    pub fn equals(property: &str, value: &str) -> Self {
        Self {
            value: Some(value.to_owned()),
            ..Self::with(property, Operator::Equals)
        }
    }

    /// `property` is populated.
    pub fn is_populated(property: &str) -> Self {
        Self::with(property, Operator::IsPopulated)
    }

    /// `property` is not populated.
    pub fn is_not_populated(property: &str) -> Self {
        Self::with(property, Operator::IsNotPopulated)
    }

    /// `property` is one of `values`.
    pub fn is_one_of<'a>(property: &str, values: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            values: Some(values.into_iter().map(str::to_owned).collect()),
            ..Self::with(property, Operator::IsOneOf)
        }
    }

    /// `property` contains `value`.
    pub fn contains(property: &str, value: &str) -> Self {
        Self {
            value: Some(value.to_owned()),
            ..Self::with(property, Operator::Contains)
        }
    }

    /// `property` is a number.
    pub fn is_a_number(property: &str) -> Self {
        Self::with(property, Operator::IsANumber)
    }

    /// Whether the record's properties satisfy the condition. A condition with a missing
    /// property, operator or operand is `false`; evaluation never panics.
    #[inline]
    pub fn evaluate(&self, properties: &PropertyMap) -> bool {
        let (Some(property), Some(operator)) = (self.property.as_deref(), self.operator) else {
            return false;
        };
        let actual = properties.get(property);
        match operator {
            Operator::Equals => match (actual, self.value.as_deref()) {
                (Some(actual), Some(expected)) => actual == expected,
                _ => false,
            },
            Operator::IsPopulated => actual.is_some_and(|v| !v.is_empty()),
            Operator::IsNotPopulated => actual.is_none_or(str::is_empty),
            Operator::IsOneOf => match (actual, self.values.as_deref()) {
                (Some(actual), Some(values)) => values.iter().any(|v| v == actual),
                _ => false,
            },
            Operator::Contains => match (actual, self.value.as_deref()) {
                (Some(actual), Some(needle)) => actual.contains(needle),
                _ => false,
            },
            Operator::IsANumber => actual.is_some_and(is_decimal_number),
        }
    }

    /// Every problem that does not need the schema: missing property, operator or operand,
    /// operands the operator does not take, an empty `values` list. Paths are relative
    /// (`property`, `operator`, `value`, `values`, `values[1]`).
    pub fn structural_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.property.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::new("property", "property is required"));
        }
        let Some(operator) = self.operator else {
            errors.push(FieldError::new("operator", "operator is required"));
            return errors;
        };
        let name = operator.as_str();
        match operator.operand() {
            Operand::Value => {
                if self.value.as_deref().is_none_or(str::is_empty) {
                    errors.push(FieldError::new("value", "value is required"));
                }
                if self.values.is_some() {
                    errors.push(FieldError::new(
                        "values",
                        format!("{name} takes a single value, not values"),
                    ));
                }
            }
            Operand::Values => {
                match self.values.as_deref() {
                    None => errors.push(FieldError::new("values", "values are required")),
                    Some([]) => errors.push(FieldError::new("values", "values must not be empty")),
                    Some(values) => {
                        for (i, value) in values.iter().enumerate() {
                            if value.is_empty() {
                                errors.push(FieldError::new(
                                    format!("values[{i}]"),
                                    "value must not be empty",
                                ));
                            }
                        }
                    }
                }
                if self.value.is_some() {
                    errors.push(FieldError::new(
                        "value",
                        format!("{name} takes values, not a single value"),
                    ));
                }
            }
            Operand::None => {
                if self.value.is_some() {
                    errors.push(FieldError::new("value", format!("{name} takes no value")));
                }
                if self.values.is_some() {
                    errors.push(FieldError::new("values", format!("{name} takes no values")));
                }
            }
        }
        errors
    }

    /// Every problem, all at once: [`Condition::structural_errors`] plus an unknown property
    /// or a property of a type filters may not use (only text, enumeration and boolean).
    ///
    /// ```
    /// use turris_core::{Condition, filter::Operator};
    /// use turris_core::property::{ObjectSchema, ObjectType, PropertyDefinition, PropertyType};
    ///
    /// let schema = ObjectSchema::new(ObjectType::Company, vec![
    ///     PropertyDefinition::new("type", "Type", PropertyType::Enumeration, "select", true),
    /// ]);
    /// let half = Condition { property: Some("type".into()), operator: Some(Operator::Equals), ..Default::default() };
    /// let errors = half.validate(&schema);
    /// assert_eq!(errors.len(), 1);
    /// assert_eq!((errors[0].path.as_str(), errors[0].message.as_str()), ("value", "value is required"));
    /// ```
    pub fn validate(&self, schema: &ObjectSchema) -> Vec<FieldError> {
        let mut errors = self.structural_errors();
        if let Some(name) = self.property.as_deref().filter(|p| !p.is_empty()) {
            match schema.get(name) {
                None => errors.insert(
                    0,
                    FieldError::new(
                        "property",
                        format!("property {name} does not exist on {}", schema.object.plural()),
                    ),
                ),
                Some(definition) if !definition.property_type.is_filterable() => errors.insert(
                    0,
                    FieldError::new(
                        "property",
                        format!(
                            "property {name} is of type {}; filters accept text, enumeration and boolean properties",
                            definition.property_type.as_str()
                        ),
                    ),
                ),
                Some(_) => {}
            }
        }
        errors
    }

    /// Whether nothing structural is missing (see [`Condition::structural_errors`]).
    pub fn is_complete(&self) -> bool {
        self.structural_errors().is_empty()
    }
}

/// Which HubSpot records of an object are in scope: all of them, or those matching a
/// [`Condition`].
///
/// ```
/// use turris_core::{Condition, IdentifierFilter, PropertyMap};
///
/// let filter: IdentifierFilter = serde_json::from_str(
///     r#"{"mode":"apply_filter","property":"type","operator":"is_one_of","values":["Agency","MGA"]}"#,
/// ).unwrap();
/// assert_eq!(filter, IdentifierFilter::ApplyFilter(Condition::is_one_of("type", ["Agency", "MGA"])));
/// assert!(filter.evaluate(&PropertyMap::from_pairs([("type", Some("MGA"))])));
/// assert!(IdentifierFilter::SyncAll.evaluate(&PropertyMap::new()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "mode", rename_all = "snake_case", try_from = "RawFilter")]
pub enum IdentifierFilter {
    /// Every record of the object is in scope.
    SyncAll,
    /// Only records that satisfy the condition are in scope.
    ApplyFilter(Condition),
}

/// The wire form, read strictly: unknown fields are refused, and so is `sync_all` carrying a
/// property, operator or value (a leftover of a filter the user meant to drop, or not).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    mode: RawMode,
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    operator: Option<Operator>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMode {
    SyncAll,
    ApplyFilter,
}

impl TryFrom<RawFilter> for IdentifierFilter {
    type Error = &'static str;

    fn try_from(raw: RawFilter) -> Result<Self, Self::Error> {
        let RawFilter {
            mode,
            property,
            operator,
            value,
            values,
        } = raw;
        match mode {
            RawMode::SyncAll
                if property.is_some()
                    || operator.is_some()
                    || value.is_some()
                    || values.is_some() =>
            {
                Err("sync_all takes no property, operator, value or values")
            }
            RawMode::SyncAll => Ok(IdentifierFilter::SyncAll),
            RawMode::ApplyFilter => Ok(IdentifierFilter::ApplyFilter(Condition {
                property,
                operator,
                value,
                values,
            })),
        }
    }
}

impl IdentifierFilter {
    /// Whether the record is in scope.
    #[inline]
    pub fn evaluate(&self, properties: &PropertyMap) -> bool {
        match self {
            IdentifierFilter::SyncAll => true,
            IdentifierFilter::ApplyFilter(condition) => condition.evaluate(properties),
        }
    }

    /// Every problem, all at once, with paths relative to the filter (`property`, `value`,
    /// ...); nest them with [`crate::error::prefix_all`] (`agency.identifier`).
    pub fn validate(&self, schema: &ObjectSchema) -> Vec<FieldError> {
        match self {
            IdentifierFilter::SyncAll => Vec::new(),
            IdentifierFilter::ApplyFilter(condition) => condition.validate(schema),
        }
    }

    /// Whether nothing structural is missing; the schema checks are [`Self::validate`]'s.
    pub fn is_complete(&self) -> bool {
        match self {
            IdentifierFilter::SyncAll => true,
            IdentifierFilter::ApplyFilter(condition) => condition.is_complete(),
        }
    }

    /// The property the filter reads, if any.
    pub fn property(&self) -> Option<&str> {
        match self {
            IdentifierFilter::SyncAll => None,
            IdentifierFilter::ApplyFilter(condition) => condition.property.as_deref(),
        }
    }
}

/// Whether the whole of `value` is a finite decimal literal: an optional sign, digits with an
/// optional fraction (at least one digit in all), and an optional exponent (`e`/`E`, optional
/// sign, digits). No whitespace, no `NaN`, no `inf`, no hexadecimal.
///
/// ```
/// use turris_core::filter::is_decimal_number;
///
/// assert!(is_decimal_number("-12") && is_decimal_number("3.50") && is_decimal_number("1e3"));
/// assert!(!is_decimal_number("NaN") && !is_decimal_number("inf") && !is_decimal_number(" 1"));
/// ```
pub fn is_decimal_number(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa_digits = digits(&mut i);
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        mantissa_digits += digits(&mut i);
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::property::{ObjectType, PropertyDefinition, PropertyType};

    fn company(value: Option<&str>) -> PropertyMap {
        PropertyMap::from_pairs([("type", value)])
    }

    fn check(condition: &Condition, value: Option<&str>, expected: bool) {
        let map = if value == Some("<missing>") {
            PropertyMap::new()
        } else {
            company(value)
        };
        assert_eq!(
            condition.evaluate(&map),
            expected,
            "{condition:?} on {value:?}"
        );
    }

    #[test]
    fn equals_compares_exactly() {
        let c = Condition::equals("type", "Agency");
        check(&c, Some("Agency"), true);
        check(&c, Some("agency"), false);
        check(&c, Some("Agency "), false);
        check(&c, Some(" Agency"), false);
        check(&c, Some("Insurance Agency"), false);
        check(&c, Some(""), false);
        check(&c, None, false);
        check(&c, Some("<missing>"), false);
    }

    #[test]
    fn is_populated_needs_a_non_empty_string() {
        let c = Condition::is_populated("type");
        check(&c, Some("Agency"), true);
        check(&c, Some(" "), true);
        check(&c, Some(""), false);
        check(&c, None, false);
        check(&c, Some("<missing>"), false);
    }

    #[test]
    fn is_not_populated_holds_for_missing_null_and_empty() {
        let c = Condition::is_not_populated("type");
        check(&c, Some("Agency"), false);
        check(&c, Some(" "), false);
        check(&c, Some(""), true);
        check(&c, None, true);
        check(&c, Some("<missing>"), true);
    }

    #[test]
    fn is_one_of_matches_any_listed_value_exactly() {
        let c = Condition::is_one_of("type", ["Agency", "MGA"]);
        check(&c, Some("Agency"), true);
        check(&c, Some("MGA"), true);
        check(&c, Some("mga"), false);
        check(&c, Some("Vendor"), false);
        check(&c, Some(""), false);
        check(&c, None, false);
    }

    #[test]
    fn contains_is_a_case_sensitive_substring_test() {
        let c = Condition::contains("type", "Agency");
        check(&c, Some("Insurance Agency"), true);
        check(&c, Some("Agency"), true);
        check(&c, Some("Insurance agency"), false);
        check(&c, Some(""), false);
        check(&c, None, false);
    }

    #[test]
    fn is_a_number_accepts_only_whole_finite_decimals() {
        let c = Condition::is_a_number("type");
        for yes in [
            "-12", "3.50", "1e3", "0", "+7", ".5", "5.", "1E-3", "1e400", "007",
        ] {
            check(&c, Some(yes), true);
        }
        for no in [
            "NaN", "nan", "inf", "-inf", "infinity", "", " 1", "1 ", "1,000", "0x10", "1e", "e3",
            ".", "-", "+", "1.2.3", "12abc", "--1",
        ] {
            check(&c, Some(no), false);
        }
        check(&c, None, false);
    }

    #[test]
    fn a_half_configured_condition_never_matches() {
        let map = company(Some("Agency"));
        let no_value = Condition {
            value: None,
            ..Condition::equals("type", "Agency")
        };
        let no_operator = Condition {
            operator: None,
            ..Condition::equals("type", "Agency")
        };
        let no_property = Condition {
            property: None,
            ..Condition::is_populated("type")
        };
        let no_values = Condition {
            values: None,
            ..Condition::is_one_of("type", ["Agency"])
        };
        for c in [no_value, no_operator, no_property, no_values] {
            assert!(!c.evaluate(&map), "{c:?}");
        }
    }

    fn schema() -> ObjectSchema {
        ObjectSchema::new(
            ObjectType::Company,
            vec![
                PropertyDefinition::new("type", "Type", PropertyType::Enumeration, "select", true),
                PropertyDefinition::new("name", "Name", PropertyType::String, "text", true),
                PropertyDefinition::new(
                    "is_agency",
                    "Is agency",
                    PropertyType::Bool,
                    "booleancheckbox",
                    false,
                ),
                PropertyDefinition::new(
                    "employees",
                    "Employees",
                    PropertyType::Number,
                    "number",
                    true,
                ),
                PropertyDefinition::new("founded", "Founded", PropertyType::Date, "date", false),
            ],
        )
    }

    fn errors(json: &str) -> Vec<(String, String)> {
        let filter: IdentifierFilter = serde_json::from_str(json).unwrap();
        filter
            .validate(&schema())
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    fn check_errors(json: &str, expected: &[(&str, &str)]) {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, m)| (p.to_string(), m.to_string()))
            .collect();
        assert_eq!(errors(json), expected, "{json}");
    }

    #[test]
    fn valid_filters_have_no_errors() {
        for json in [
            r#"{"mode":"sync_all"}"#,
            r#"{"mode":"apply_filter","property":"type","operator":"equals","value":"Agency"}"#,
            r#"{"mode":"apply_filter","property":"name","operator":"contains","value":"Agency"}"#,
            r#"{"mode":"apply_filter","property":"is_agency","operator":"is_populated"}"#,
            r#"{"mode":"apply_filter","property":"name","operator":"is_not_populated"}"#,
            r#"{"mode":"apply_filter","property":"name","operator":"is_a_number"}"#,
            r#"{"mode":"apply_filter","property":"type","operator":"is_one_of","values":["A","B"]}"#,
        ] {
            check_errors(json, &[]);
        }
    }

    #[test]
    fn validation_reports_every_missing_piece_of_a_half_configured_filter() {
        check_errors(
            r#"{"mode":"apply_filter"}"#,
            &[
                ("property", "property is required"),
                ("operator", "operator is required"),
            ],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"","operator":"equals"}"#,
            &[
                ("property", "property is required"),
                ("value", "value is required"),
            ],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"equals"}"#,
            &[("value", "value is required")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"contains","value":""}"#,
            &[("value", "value is required")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_one_of"}"#,
            &[("values", "values are required")],
        );
    }

    #[test]
    fn validation_rejects_unknown_and_unfilterable_properties() {
        check_errors(
            r#"{"mode":"apply_filter","property":"nope","operator":"is_populated"}"#,
            &[("property", "property nope does not exist on companies")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"employees","operator":"is_a_number"}"#,
            &[(
                "property",
                "property employees is of type number; filters accept text, enumeration and boolean properties",
            )],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"founded","operator":"equals"}"#,
            &[
                (
                    "property",
                    "property founded is of type date; filters accept text, enumeration and boolean properties",
                ),
                ("value", "value is required"),
            ],
        );
    }

    #[test]
    fn validation_rejects_operands_the_operator_does_not_take() {
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_populated","value":"x"}"#,
            &[("value", "is_populated takes no value")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_not_populated","values":["x"]}"#,
            &[("values", "is_not_populated takes no values")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_a_number","value":"1","values":[]}"#,
            &[
                ("value", "is_a_number takes no value"),
                ("values", "is_a_number takes no values"),
            ],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"equals","value":"A","values":["B"]}"#,
            &[("values", "equals takes a single value, not values")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_one_of","value":"A","values":["B"]}"#,
            &[("value", "is_one_of takes values, not a single value")],
        );
    }

    #[test]
    fn validation_rejects_an_empty_is_one_of_list_and_empty_items() {
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_one_of","values":[]}"#,
            &[("values", "values must not be empty")],
        );
        check_errors(
            r#"{"mode":"apply_filter","property":"type","operator":"is_one_of","values":["A","","B",""]}"#,
            &[
                ("values[1]", "value must not be empty"),
                ("values[3]", "value must not be empty"),
            ],
        );
    }

    #[test]
    fn serde_rejects_unknown_modes_operators_and_fields() {
        for json in [
            r#"{"mode":"filter"}"#,
            r#"{}"#,
            r#"{"mode":"apply_filter","property":"type","operator":"starts_with","value":"A"}"#,
            r#"{"mode":"apply_filter","property":"type","operator":"equals","valeu":"A"}"#,
            r#"{"mode":"sync_all","property":"type"}"#,
            r#"{"mode":"sync_all","value":null,"extra":1}"#,
        ] {
            assert!(
                serde_json::from_str::<IdentifierFilter>(json).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn the_serde_form_is_flat_and_snake_case() {
        fn check(filter: IdentifierFilter, json: &str) {
            assert_eq!(serde_json::to_string(&filter).unwrap(), json);
            assert_eq!(
                serde_json::from_str::<IdentifierFilter>(json).unwrap(),
                filter
            );
        }
        check(IdentifierFilter::SyncAll, r#"{"mode":"sync_all"}"#);
        check(
            IdentifierFilter::ApplyFilter(Condition::equals("type", "Agency")),
            r#"{"mode":"apply_filter","property":"type","operator":"equals","value":"Agency"}"#,
        );
        check(
            IdentifierFilter::ApplyFilter(Condition::is_one_of("type", ["A", "B"])),
            r#"{"mode":"apply_filter","property":"type","operator":"is_one_of","values":["A","B"]}"#,
        );
        check(
            IdentifierFilter::ApplyFilter(Condition::is_a_number("npn")),
            r#"{"mode":"apply_filter","property":"npn","operator":"is_a_number"}"#,
        );
    }

    #[test]
    fn completeness_follows_structural_errors() {
        assert!(IdentifierFilter::SyncAll.is_complete());
        assert!(IdentifierFilter::ApplyFilter(Condition::equals("type", "A")).is_complete());
        assert!(!IdentifierFilter::ApplyFilter(Condition::default()).is_complete());
    }
}
