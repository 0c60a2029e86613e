//! Single-record calls on CRM objects (companies, contacts, notes): get, create, update,
//! archive, list.

use crate::version::Api;
use http::Method;

use super::{
    CollectionResponse, ObjectType, SimplePublicObject, SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
};
use crate::client::{ApiRequest, seg};
use crate::{HubSpotClient, Result};

/// HubSpot's largest list page.
pub const MAX_LIST_PAGE: u32 = 100;

impl HubSpotClient {
    /// `GET /crm/v3/objects/{type}/{id}?properties=...`.
    pub async fn get_object(
        &self,
        object: &ObjectType,
        id: &str,
        properties: &[&str],
    ) -> Result<SimplePublicObject> {
        let mut req = ApiRequest::new(
            Method::GET,
            self.path(Api::Objects, format!("/{}/{}", object, seg(id))),
        )
        .object_id(id);
        if !properties.is_empty() {
            req = req.query("properties", properties.join(","));
        }
        self.send_json(req).await
    }

    /// `POST /crm/v3/objects/{type}`: creates a record (with associations, if given).
    pub async fn create_object(
        &self,
        object: &ObjectType,
        input: &SimplePublicObjectInputForCreate,
    ) -> Result<SimplePublicObject> {
        let req = ApiRequest::new(Method::POST, self.path(Api::Objects, format!("/{object}")))
            .json(input)?;
        self.send_json(req).await
    }

    /// `PATCH /crm/v3/objects/{type}/{id}`: sets the given properties.
    pub async fn update_object(
        &self,
        object: &ObjectType,
        id: &str,
        input: &SimplePublicObjectInput,
    ) -> Result<SimplePublicObject> {
        let req = ApiRequest::new(
            Method::PATCH,
            self.path(Api::Objects, format!("/{}/{}", object, seg(id))),
        )
        .object_id(id)
        .json(input)?;
        self.send_json(req).await
    }

    /// `DELETE /crm/v3/objects/{type}/{id}`: archives the record.
    pub async fn archive_object(&self, object: &ObjectType, id: &str) -> Result<()> {
        let req = ApiRequest::new(
            Method::DELETE,
            self.path(Api::Objects, format!("/{}/{}", object, seg(id))),
        )
        .object_id(id);
        self.send_empty(req).await
    }

    /// One page of `GET /crm/v3/objects/{type}` (`limit` clamped to 1..=100).
    pub async fn list_objects_page(
        &self,
        object: &ObjectType,
        properties: &[&str],
        limit: u32,
        after: Option<&str>,
    ) -> Result<CollectionResponse<SimplePublicObject>> {
        let mut req = ApiRequest::new(Method::GET, self.path(Api::Objects, format!("/{object}")))
            .query("limit", limit.clamp(1, MAX_LIST_PAGE).to_string());
        if !properties.is_empty() {
            req = req.query("properties", properties.join(","));
        }
        if let Some(after) = after {
            req = req.query("after", after);
        }
        self.send_json(req).await
    }

    /// Every record of `object`, following `paging.next.after` with pages of 100.
    pub async fn list_objects(
        &self,
        object: &ObjectType,
        properties: &[&str],
    ) -> Result<Vec<SimplePublicObject>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .list_objects_page(object, properties, MAX_LIST_PAGE, after.as_deref())
                .await?;
            let next = page.next_after().map(str::to_owned);
            all.extend(page.results);
            match next {
                Some(n) if after.as_deref() != Some(n.as_str()) => after = Some(n),
                _ => return Ok(all),
            }
        }
    }
}
