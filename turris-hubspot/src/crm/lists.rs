//! Lists v3: static (`MANUAL`) lists and their memberships.

use crate::version::Api;
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

use crate::client::{ApiRequest, seg};
use http::Method;

impl crate::HubSpotClient {
    /// `POST /crm/v3/lists/`: creates a static (`MANUAL`) list of `object` records.
    pub async fn create_static_list(
        &self,
        name: &str,
        object: &super::ObjectType,
    ) -> crate::Result<PublicObjectList> {
        let body = ListCreateRequest {
            name: name.to_owned(),
            object_type_id: object.type_id().to_owned(),
            processing_type: "MANUAL".to_owned(),
        };
        let req = ApiRequest::new(Method::POST, self.path(Api::Lists, "/")).json(&body)?;
        let created: ListCreateResponse = self.send_json(req).await?;
        Ok(created.list)
    }

    /// `GET /crm/v3/lists/object-type-id/{type}/name/{name}`: the list of `object` records
    /// named `name`; `None` when there is none.
    pub async fn list_by_name(
        &self,
        name: &str,
        object: &super::ObjectType,
    ) -> crate::Result<Option<PublicObjectList>> {
        let path = format!(
            "/object-type-id/{}/name/{}",
            seg(object.type_id()),
            seg(name)
        );
        let req = ApiRequest::new(Method::GET, self.path(Api::Lists, path));
        match self.send_json::<ListCreateResponse>(req).await {
            Ok(found) => Ok(Some(found.list)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /crm/v3/lists/{id}/memberships/add`.
    pub async fn add_list_members(
        &self,
        list_id: &str,
        record_ids: &[String],
    ) -> crate::Result<MembershipsUpdateResponse> {
        self.change_list_members(list_id, "add", record_ids).await
    }

    /// `PUT /crm/v3/lists/{id}/memberships/remove`.
    pub async fn remove_list_members(
        &self,
        list_id: &str,
        record_ids: &[String],
    ) -> crate::Result<MembershipsUpdateResponse> {
        self.change_list_members(list_id, "remove", record_ids)
            .await
    }

    async fn change_list_members(
        &self,
        list_id: &str,
        action: &str,
        record_ids: &[String],
    ) -> crate::Result<MembershipsUpdateResponse> {
        let req = ApiRequest::new(
            Method::PUT,
            self.path(
                Api::Lists,
                format!("/{}/memberships/{action}", seg(list_id)),
            ),
        )
        .object_id(list_id)
        .json(&record_ids)?;
        self.send_json(req).await
    }
}
