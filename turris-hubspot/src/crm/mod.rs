//! CRM v3/v4 calls and their wire types.
//!
//! The request and response structs mirror HubSpot's JSON (camelCase), and serialize back to the
//! same JSON, so a fake HubSpot or a mock can answer with them.

pub mod account;
pub mod associations;
pub mod batch;
pub mod lists;
pub mod notes;
pub mod objects;
pub mod owners;
pub mod properties;
pub mod search;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use associations::{AssociationCategory, AssociationSpec, PublicAssociationsForObject};

/// A CRM object type the client knows by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectType {
    /// `companies` (type id `0-2`).
    Companies,
    /// `contacts` (type id `0-1`).
    Contacts,
    /// `notes` (type id `0-46`).
    Notes,
    /// Any other object, by its API name or type id.
    Other(String),
}

impl ObjectType {
    /// The plural name used in v3 paths (`companies`, `contacts`, `notes`).
    pub fn as_str(&self) -> &str {
        match self {
            ObjectType::Companies => "companies",
            ObjectType::Contacts => "contacts",
            ObjectType::Notes => "notes",
            ObjectType::Other(name) => name,
        }
    }

    /// The object type id used by lists (`0-1` contacts, `0-2` companies, `0-46` notes).
    pub fn type_id(&self) -> &str {
        match self {
            ObjectType::Companies => "0-2",
            ObjectType::Contacts => "0-1",
            ObjectType::Notes => "0-46",
            ObjectType::Other(name) => name,
        }
    }
}

impl std::fmt::Display for ObjectType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CRM record as HubSpot returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimplePublicObject {
    /// The record id (`hs_object_id`).
    pub id: String,
    /// Requested properties; a requested property that is not set is `null`.
    #[serde(default)]
    pub properties: HashMap<String, Option<String>>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record was last modified.
    pub updated_at: DateTime<Utc>,
    /// Whether the record is archived.
    #[serde(default)]
    pub archived: bool,
    /// When the record was archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<DateTime<Utc>>,
    /// Associations, when requested with `associations=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associations: Option<HashMap<String, AssociationsPage>>,
    /// The caller's key of the batch input this record answers (batch create and upsert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_write_trace_id: Option<String>,
}

impl SimplePublicObject {
    /// The value of a property, `None` when it is missing or `null`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(|v| v.as_deref())
    }
}

/// Associations embedded in an object read (`associations` query parameter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationsPage {
    /// The associated ids.
    pub results: Vec<AssociatedId>,
    /// Cursor for more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

/// One embedded association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociatedId {
    /// The associated record id.
    pub id: String,
    /// The association type name, e.g. `contact_to_company`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Body of a create: properties, and optionally associations to create with the record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimplePublicObjectInputForCreate {
    /// Property values to set.
    pub properties: HashMap<String, String>,
    /// Associations to create with the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<PublicAssociationsForObject>,
}

/// Body of an update (`PATCH`): property values to set (`""` clears one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimplePublicObjectInput {
    /// Property values to set.
    pub properties: HashMap<String, String>,
}

/// Cursor block of a paged answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Paging {
    /// The next page, absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextPage>,
}

/// The cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextPage {
    /// Pass as `after` to get the next page.
    pub after: String,
    /// A ready-made link to the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A page of results with a cursor (`GET /crm/v3/objects/{type}`, properties, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionResponse<T> {
    /// The page's results.
    pub results: Vec<T>,
    /// Where the next page is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

impl<T> CollectionResponse<T> {
    /// The `after` cursor of the next page, if any.
    pub fn next_after(&self) -> Option<&str> {
        self.paging
            .as_ref()?
            .next
            .as_ref()
            .map(|n| n.after.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_parses_null_properties_and_timestamps() {
        let json = r#"{"id":"512","properties":{"name":"Acme","domain":null},
            "createdAt":"2024-01-02T03:04:05.678Z","updatedAt":"2024-01-03T03:04:05Z",
            "archived":false,"unknownField":1}"#;
        let object: SimplePublicObject = serde_json::from_str(json).unwrap();
        assert_eq!(object.id, "512");
        assert_eq!(object.property("name"), Some("Acme"));
        assert_eq!(object.property("domain"), None);
        assert!(object.properties.contains_key("domain"));
        assert!(!object.archived);
    }
}
