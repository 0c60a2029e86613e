//! HubSpot-style properties: a record's values ([`PropertyMap`]) and an object's property
//! definitions ([`ObjectSchema`]), as discovered from HubSpot and cached per organization.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The HubSpot object a property belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    /// HubSpot Companies (Turris agencies).
    Company,
    /// HubSpot Contacts (Turris agents and agency contacts).
    Contact,
}

impl ObjectType {
    /// The singular noun, as HubSpot's event types and Turris's stored rows name it:
    /// `company`, `contact`.
    pub fn singular(self) -> &'static str {
        match self {
            ObjectType::Company => "company",
            ObjectType::Contact => "contact",
        }
    }

    /// The plural noun used in messages: `companies`, `contacts`.
    pub fn plural(self) -> &'static str {
        match self {
            ObjectType::Company => "companies",
            ObjectType::Contact => "contacts",
        }
    }
}

/// A record's property values: name → value, where a value may be absent (`null`).
///
/// Lookups borrow: [`PropertyMap::get`] takes `&str` and allocates nothing. It serializes as
/// a JSON object with its keys sorted, so stored and served forms are deterministic.
///
/// ```
/// use turris_core::PropertyMap;
///
/// let map = PropertyMap::from_pairs([("name", Some("Acme Agency")), ("npn", None)]);
/// assert_eq!(map.get("name"), Some("Acme Agency"));
/// assert_eq!(map.get("npn"), None);
/// assert!(map.contains("npn"));
/// assert!(!map.is_populated("npn"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PropertyMap(HashMap<String, Option<String>>);

impl Serialize for PropertyMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sorted: BTreeMap<&str, Option<&str>> = self.iter().collect();
        sorted.serialize(serializer)
    }
}

impl PropertyMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// A map from `(name, value)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
                .collect(),
        )
    }

    /// The value of `name`, or `None` when it is missing or `null`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Some(value)) => Some(value.as_str()),
            _ => None,
        }
    }

    /// Whether `name` is present, even as `null`.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Whether `name` holds a non-empty string (HubSpot's "is known").
    #[inline]
    pub fn is_populated(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }

    /// Sets `name` to `value` (`None` for `null`), returning the previous value.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: Option<String>,
    ) -> Option<Option<String>> {
        self.0.insert(name.into(), value)
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<Option<String>> {
        self.0.remove(name)
    }

    /// The number of properties, `null` ones included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map has no properties.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `(name, value)` pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }
}

impl FromIterator<(String, Option<String>)> for PropertyMap {
    fn from_iter<T: IntoIterator<Item = (String, Option<String>)>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl From<HashMap<String, Option<String>>> for PropertyMap {
    fn from(map: HashMap<String, Option<String>>) -> Self {
        Self(map)
    }
}

/// A HubSpot property's data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    /// Text (HubSpot `string`).
    String,
    /// A number.
    Number,
    /// A date.
    Date,
    /// A date and time (HubSpot `datetime`).
    DateTime,
    /// A choice among options (dropdown, radio, checkboxes).
    Enumeration,
    /// True/false (HubSpot `bool`).
    Bool,
    /// A phone number.
    PhoneNumber,
    /// Any other type HubSpot reports.
    #[serde(other)]
    Other,
}

impl PropertyType {
    /// Whether an identifier filter or contract-rule condition may test a property of this type:
    /// text, enumeration and boolean properties only.
    pub fn is_filterable(self) -> bool {
        matches!(
            self,
            PropertyType::String | PropertyType::Enumeration | PropertyType::Bool
        )
    }

    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Number => "number",
            PropertyType::Date => "date",
            PropertyType::DateTime => "date_time",
            PropertyType::Enumeration => "enumeration",
            PropertyType::Bool => "bool",
            PropertyType::PhoneNumber => "phone_number",
            PropertyType::Other => "other",
        }
    }
}

/// One option of an enumeration or boolean property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertyOption {
    /// What the UI shows.
    pub label: String,
    /// What the property stores and filters compare.
    pub value: String,
}

/// The definition of one HubSpot property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertyDefinition {
    /// The internal name, e.g. `name`, `agency_npn`.
    pub name: String,
    /// The label shown in HubSpot, e.g. `Company name`.
    pub label: String,
    /// The data type.
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    /// HubSpot's field type (`text`, `select`, `booleancheckbox`, ...), kept as reported.
    pub field_type: String,
    /// Whether HubSpot defines the property (standard) rather than the customer (custom).
    /// HubSpot omits it for custom properties, so it defaults to `false`.
    #[serde(default)]
    pub hubspot_defined: bool,
    /// The options of an enumeration or boolean property; empty otherwise.
    #[serde(default)]
    pub options: Vec<PropertyOption>,
}

impl PropertyDefinition {
    /// A property with no options.
    pub fn new(
        name: &str,
        label: &str,
        property_type: PropertyType,
        field_type: &str,
        hubspot_defined: bool,
    ) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            property_type,
            field_type: field_type.to_owned(),
            hubspot_defined,
            options: Vec::new(),
        }
    }

    /// The same property with these options.
    pub fn with_options<'a>(
        mut self,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        self.options = options
            .into_iter()
            .map(|(label, value)| PropertyOption {
                label: label.to_owned(),
                value: value.to_owned(),
            })
            .collect();
        self
    }
}

/// The properties of one HubSpot object type.
///
/// ```
/// use turris_core::property::{ObjectSchema, ObjectType, PropertyDefinition, PropertyType};
///
/// let schema = ObjectSchema::new(
///     ObjectType::Company,
///     vec![PropertyDefinition::new("name", "Company name", PropertyType::String, "text", true)],
/// );
/// assert!(schema.get("name").unwrap().hubspot_defined);
/// assert!(schema.get("missing").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObjectSchema {
    /// Which object these properties belong to.
    pub object: ObjectType,
    /// The properties, in HubSpot's order.
    pub properties: Vec<PropertyDefinition>,
}

impl ObjectSchema {
    /// A schema of `object` with these properties.
    pub fn new(object: ObjectType, properties: Vec<PropertyDefinition>) -> Self {
        Self { object, properties }
    }

    /// The property called `name`.
    pub fn get(&self, name: &str) -> Option<&PropertyDefinition> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether `name` is a standard (HubSpot-defined) property; `None` when it does not exist.
    pub fn is_standard(&self, name: &str) -> Option<bool> {
        self.get(name).map(|p| p.hubspot_defined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populated_means_present_and_non_empty() {
        let map = PropertyMap::from_pairs([
            ("a", Some("x")),
            ("b", Some("")),
            ("c", None),
            ("d", Some(" ")),
        ]);
        fn check(map: &PropertyMap, name: &str, expected: bool) {
            assert_eq!(map.is_populated(name), expected, "{name}");
        }
        check(&map, "a", true);
        check(&map, "b", false);
        check(&map, "c", false);
        check(&map, "missing", false);
        check(&map, "d", true);
    }

    #[test]
    fn property_maps_serialize_as_json_objects_with_nulls() {
        let map = PropertyMap::from_pairs([("npn", None)]);
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"npn":null}"#);
        let map =
            PropertyMap::from_pairs([("zeta", Some("z")), ("alpha", None), ("mid", Some(""))]);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"alpha":null,"mid":"","zeta":"z"}"#
        );
        let back: PropertyMap = serde_json::from_str(r#"{"name":"Acme","npn":null}"#).unwrap();
        assert_eq!(back.get("name"), Some("Acme"));
        assert!(back.contains("npn"));
    }

    #[test]
    fn only_text_enumeration_and_boolean_properties_are_filterable() {
        fn check(t: PropertyType, expected: bool) {
            assert_eq!(t.is_filterable(), expected, "{t:?}");
        }
        check(PropertyType::String, true);
        check(PropertyType::Enumeration, true);
        check(PropertyType::Bool, true);
        check(PropertyType::Number, false);
        check(PropertyType::Date, false);
        check(PropertyType::DateTime, false);
        check(PropertyType::PhoneNumber, false);
        check(PropertyType::Other, false);
    }

    #[test]
    fn stored_definitions_round_trip_and_a_missing_hubspot_defined_is_custom() {
        let custom: PropertyDefinition = serde_json::from_str(
            r#"{"name":"agency_npn","label":"Agency NPN","type":"string","field_type":"text"}"#,
        )
        .unwrap();
        assert!(!custom.hubspot_defined);
        assert_eq!(custom.field_type, "text");
        let standard: PropertyDefinition = serde_json::from_str(
            r#"{"name":"closedate","label":"Close date","type":"date_time","field_type":"date","hubspot_defined":true,
                "options":[]}"#,
        )
        .unwrap();
        assert!(standard.hubspot_defined);
        assert_eq!(standard.property_type, PropertyType::DateTime);
        let stored = serde_json::to_value(&standard).unwrap();
        assert_eq!(stored["field_type"], "date");
        assert_eq!(stored["type"], "date_time");
    }

    #[test]
    fn unknown_property_types_deserialize_as_other() {
        let t: PropertyType = serde_json::from_str("\"object_coordinates\"").unwrap();
        assert_eq!(t, PropertyType::Other);
        let t: PropertyType = serde_json::from_str("\"date_time\"").unwrap();
        assert_eq!(t, PropertyType::DateTime);
    }
}
