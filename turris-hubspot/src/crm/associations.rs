//! Associations v4: contact ↔ company (and the note associations used on create).

use crate::version::Api;
use serde::{Deserialize, Serialize};

use super::Paging;

/// Unlabeled (default) contact → company association type.
pub const CONTACT_TO_COMPANY: u32 = 279;
/// Unlabeled (default) company → contact association type.
pub const COMPANY_TO_CONTACT: u32 = 280;
/// Primary contact → company association type.
pub const CONTACT_TO_COMPANY_PRIMARY: u32 = 1;
/// Note → contact association type.
pub const NOTE_TO_CONTACT: u32 = 202;
/// Note → company association type.
pub const NOTE_TO_COMPANY: u32 = 190;

/// Who defined an association type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum AssociationCategory {
    /// Built-in types (279, 202, ...).
    HubspotDefined,
    /// Custom labels of the portal.
    UserDefined,
    /// Labels defined by an integration.
    IntegratorDefined,
}

/// One association type: category and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationSpec {
    /// Who defined the type.
    pub association_category: AssociationCategory,
    /// The type id.
    pub association_type_id: u32,
}

impl AssociationSpec {
    /// A HubSpot-defined association type.
    pub fn hubspot_defined(type_id: u32) -> Self {
        AssociationSpec {
            association_category: AssociationCategory::HubspotDefined,
            association_type_id: type_id,
        }
    }
}

/// Just an id (`{"id": "..."}`), as used in batch and association bodies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicObjectId {
    /// The record id.
    pub id: String,
}

impl<S: Into<String>> From<S> for PublicObjectId {
    fn from(id: S) -> Self {
        PublicObjectId { id: id.into() }
    }
}

/// An association to create together with a record (create bodies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicAssociationsForObject {
    /// The record to associate to.
    pub to: PublicObjectId,
    /// The association types.
    pub types: Vec<AssociationSpec>,
}

/// One association type of a v4 association read, with its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationType {
    /// Who defined the type.
    pub category: AssociationCategory,
    /// The type id.
    pub type_id: u32,
    /// The label (`null` for unlabeled).
    #[serde(default)]
    pub label: Option<String>,
}

/// One associated record of a v4 read (`GET /crm/v4/objects/{from}/{id}/associations/{to}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiAssociatedObjectWithLabel {
    /// The associated record id (a number in v4).
    #[serde(with = "id_as_string")]
    pub to_object_id: String,
    /// The association types between the two records.
    pub association_types: Vec<AssociationType>,
}

/// A page of a v4 association read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationsResponse {
    /// The associated records.
    pub results: Vec<MultiAssociatedObjectWithLabel>,
    /// Where the next page is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

/// Answer of `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}` and of a labeled
/// create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelsBetweenObjectPair {
    /// From object type id (`0-1`).
    #[serde(default)]
    pub from_object_type_id: String,
    /// From record id.
    #[serde(with = "id_as_string")]
    pub from_object_id: String,
    /// To object type id (`0-2`).
    #[serde(default)]
    pub to_object_type_id: String,
    /// To record id.
    #[serde(with = "id_as_string")]
    pub to_object_id: String,
    /// Labels now between the pair.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// One pair of a v4 batch create (`/crm/v4/associations/{from}/{to}/batch/associate/default`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationPair {
    /// From record.
    pub from: PublicObjectId,
    /// To record.
    pub to: PublicObjectId,
}

/// Serde helper: v4 sends ids as numbers, we keep them as strings; accept both.
pub(crate) mod id_as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Num(u64),
        Str(String),
    }

    pub fn serialize<S: Serializer>(id: &str, s: S) -> Result<S::Ok, S::Error> {
        match id.parse::<u64>() {
            Ok(n) => s.serialize_u64(n),
            Err(_) => s.serialize_str(id),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Id::deserialize(d)? {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => s,
        })
    }
}

use crate::client::{ApiRequest, seg};
use http::Method;

impl crate::HubSpotClient {
    /// `GET /crm/v4/objects/{from}/{id}/associations/{to}`: every associated record, all pages.
    pub async fn associations(
        &self,
        from: &super::ObjectType,
        id: &str,
        to: &super::ObjectType,
    ) -> crate::Result<Vec<MultiAssociatedObjectWithLabel>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut req = ApiRequest::new(
                Method::GET,
                self.path(
                    Api::RecordAssociations,
                    format!("/{from}/{}/associations/{to}", seg(id)),
                ),
            )
            .object_id(id)
            .query("limit", "500");
            if let Some(after) = &after {
                req = req.query("after", after.clone());
            }
            let page: AssociationsResponse = self.send_json(req).await?;
            let next = page.paging.and_then(|p| p.next).map(|n| n.after);
            all.extend(page.results);
            match next {
                Some(n) if after.as_deref() != Some(n.as_str()) => after = Some(n),
                _ => return Ok(all),
            }
        }
    }

    /// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`: the default
    /// (unlabeled) association, e.g. contact → company type 279.
    pub async fn associate_default(
        &self,
        from: &super::ObjectType,
        id: &str,
        to: &super::ObjectType,
        to_id: &str,
    ) -> crate::Result<()> {
        let req = ApiRequest::new(
            Method::PUT,
            self.path(
                Api::RecordAssociations,
                format!(
                    "/{from}/{}/associations/default/{to}/{}",
                    seg(id),
                    seg(to_id)
                ),
            ),
        )
        .object_id(id);
        self.send_empty(req).await
    }

    /// `PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId}` with explicit types.
    pub async fn associate(
        &self,
        from: &super::ObjectType,
        id: &str,
        to: &super::ObjectType,
        to_id: &str,
        types: &[AssociationSpec],
    ) -> crate::Result<()> {
        let req = ApiRequest::new(
            Method::PUT,
            self.path(
                Api::RecordAssociations,
                format!("/{from}/{}/associations/{to}/{}", seg(id), seg(to_id)),
            ),
        )
        .object_id(id)
        .json(&types)?;
        self.send_empty(req).await
    }

    /// Contact → company, unlabeled (type 279).
    pub async fn associate_contact_to_company(
        &self,
        contact_id: &str,
        company_id: &str,
    ) -> crate::Result<()> {
        self.associate(
            &super::ObjectType::Contacts,
            contact_id,
            &super::ObjectType::Companies,
            company_id,
            &[AssociationSpec::hubspot_defined(CONTACT_TO_COMPANY)],
        )
        .await
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/associate/default`, chunked by 100.
    pub async fn batch_associate_default(
        &self,
        from: &super::ObjectType,
        to: &super::ObjectType,
        pairs: &[AssociationPair],
    ) -> crate::Result<()> {
        for chunk in pairs.chunks(super::batch::MAX_BATCH_INPUTS) {
            let req = ApiRequest::new(
                Method::POST,
                self.path(
                    Api::Associations,
                    format!("/{from}/{to}/batch/associate/default"),
                ),
            )
            .idempotent()
            .json(&super::batch::BatchInput {
                inputs: chunk.to_vec(),
            })?;
            self.send_empty(req).await?;
        }
        Ok(())
    }
}
