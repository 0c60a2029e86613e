//! Property definitions (`GET|POST /crm/properties/2026-03/{object}`).

use crate::version::Api;
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

/// A custom property to create (`POST /crm/properties/2026-03/{object}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewProperty {
    /// Internal name (`turris_id`).
    pub name: String,
    /// Display label.
    pub label: String,
    /// Data type (`string`, `enumeration`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// UI field type (`text`, `checkbox`, ...).
    pub field_type: String,
    /// Property group (`companyinformation`, `contactinformation`).
    pub group_name: String,
    /// Description shown in HubSpot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Values unique across records: such a property can identify records in batch upserts.
    #[serde(default)]
    pub has_unique_value: bool,
    /// Hidden from forms.
    #[serde(default)]
    pub form_field: bool,
    /// Options of an enumeration property.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PropertyOption>,
}

impl NewProperty {
    /// A single-line text property whose values are unique across records: the key of batch
    /// upserts (`idProperty`), e.g. Turris's own record id.
    pub fn unique_text(name: &str, label: &str, group_name: &str) -> Self {
        NewProperty {
            name: name.to_owned(),
            label: label.to_owned(),
            kind: "string".to_owned(),
            field_type: "text".to_owned(),
            group_name: group_name.to_owned(),
            description: None,
            has_unique_value: true,
            form_field: false,
            options: Vec::new(),
        }
    }

    /// A multi-select property (type `enumeration`, field type `checkbox`; values are joined
    /// by `;`) with these `(value, label)` options, in order.
    pub fn multi_select<'a>(
        name: &str,
        label: &str,
        group_name: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        NewProperty {
            name: name.to_owned(),
            label: label.to_owned(),
            kind: "enumeration".to_owned(),
            field_type: "checkbox".to_owned(),
            group_name: group_name.to_owned(),
            description: None,
            has_unique_value: false,
            form_field: false,
            options: options
                .into_iter()
                .zip(0..)
                .map(|((value, label), order)| PropertyOption {
                    label: label.to_owned(),
                    value: value.to_owned(),
                    display_order: Some(order),
                    hidden: false,
                })
                .collect(),
        }
    }
}

impl crate::HubSpotClient {
    /// Creates a custom property. A property of that name that exists already is HubSpot's
    /// 409 `CONFLICT` ([`crate::Error::status`] is 409); [`Self::ensure_property`] accepts it.
    pub async fn create_property(
        &self,
        object: &super::ObjectType,
        property: &NewProperty,
    ) -> crate::Result<PropertyDefinition> {
        let req = crate::client::ApiRequest::new(
            http::Method::POST,
            self.path(Api::Properties, format!("/{object}")),
        )
        .json(property)?;
        self.send_json(req).await
    }

    /// Creates the property unless the portal has one of that name already; `true` when it
    /// was created. Safe to call on every start (a 409 counts as "there").
    pub async fn ensure_property(
        &self,
        object: &super::ObjectType,
        property: &NewProperty,
    ) -> crate::Result<bool> {
        match self.create_property(object, property).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /crm/properties/2026-03/{type}`: every property of the object.
    pub async fn list_properties(
        &self,
        object: &super::ObjectType,
    ) -> crate::Result<Vec<PropertyDefinition>> {
        let req = crate::client::ApiRequest::new(
            http::Method::GET,
            self.path(Api::Properties, format!("/{object}")),
        );
        let page: super::CollectionResponse<PropertyDefinition> = self.send_json(req).await?;
        Ok(page.results)
    }
}
