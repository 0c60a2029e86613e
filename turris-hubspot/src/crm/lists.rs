//! Lists v3: static (`MANUAL`) lists and their memberships.

use serde::{Deserialize, Serialize};

/// Body of `POST /crm/v3/lists/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCreateRequest {
    /// List name, unique in the portal.
    pub name: String,
    /// Object type id of the members (`0-1` contacts, `0-2` companies).
    pub object_type_id: String,
    /// `MANUAL` (static), `SNAPSHOT` or `DYNAMIC`.
    pub processing_type: String,
}

/// Answer of a list create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListCreateResponse {
    /// The new list.
    pub list: PublicObjectList,
}

/// A list definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicObjectList {
    /// List id.
    pub list_id: String,
    /// Name.
    pub name: String,
    /// Object type id of the members.
    #[serde(default)]
    pub object_type_id: String,
    /// Processing type.
    #[serde(default)]
    pub processing_type: String,
    /// Number of members, when HubSpot includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Answer of `PUT /crm/v3/lists/{id}/memberships/add` and `/remove`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipsUpdateResponse {
    /// Records added.
    #[serde(default)]
    pub record_ids_added: Vec<String>,
    /// Records removed.
    #[serde(default)]
    pub record_ids_removed: Vec<String>,
    /// Records that do not exist.
    #[serde(default)]
    pub record_ids_missing: Vec<String>,
}
