//! Property definitions (`GET /crm/v3/properties/{object}`).

use serde::{Deserialize, Serialize};

/// A property of a CRM object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDefinition {
    /// Internal name (`firstname`).
    pub name: String,
    /// Display label.
    #[serde(default)]
    pub label: String,
    /// Data type: `string`, `enumeration`, `bool`, `number`, `date`, `datetime`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// UI field type: `text`, `textarea`, `select`, `radio`, `checkbox`, `booleancheckbox`, ...
    #[serde(default)]
    pub field_type: String,
    /// Property group.
    #[serde(default)]
    pub group_name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether HubSpot defines it (standard) rather than the portal (custom).
    #[serde(default)]
    pub hubspot_defined: bool,
    /// Options of enumeration properties.
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    /// Whether values are unique across records (usable as `idProperty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_unique_value: Option<bool>,
    /// Computed by HubSpot, not writable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculated: Option<bool>,
    /// Whether the property is archived.
    #[serde(default)]
    pub archived: bool,
    /// Display and write restrictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification_metadata: Option<ModificationMetadata>,
}

/// One option of an enumeration property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyOption {
    /// Display label.
    pub label: String,
    /// Stored value.
    pub value: String,
    /// Display order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_order: Option<i32>,
    /// Hidden in forms.
    #[serde(default)]
    pub hidden: bool,
}

/// Whether a property can be written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationMetadata {
    /// The value is computed and cannot be written.
    #[serde(default)]
    pub read_only_value: bool,
    /// The definition cannot be changed.
    #[serde(default)]
    pub read_only_definition: bool,
    /// The property can be archived.
    #[serde(default)]
    pub archivable: bool,
}

impl crate::HubSpotClient {
    /// `GET /crm/v3/properties/{type}`: every property of the object.
    pub async fn list_properties(
        &self,
        object: &super::ObjectType,
    ) -> crate::Result<Vec<PropertyDefinition>> {
        let req = crate::client::ApiRequest::new(
            http::Method::GET,
            format!("/crm/v3/properties/{object}"),
        );
        let page: super::CollectionResponse<PropertyDefinition> = self.send_json(req).await?;
        Ok(page.results)
    }
}
