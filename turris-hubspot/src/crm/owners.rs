//! Owners: the users records can be assigned to (`GET /crm/owners/2026-03`).

use chrono::{DateTime, Utc};
use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::ApiRequest;
use crate::version::Api;

/// A HubSpot user who can own records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The owner id (what `hubspot_owner_id` holds).
    pub id: String,
    /// The user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// The HubSpot user id.
    #[serde(default)]
    pub user_id: Option<u64>,
    /// When the owner was created.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Whether the owner is archived.
    #[serde(default)]
    pub archived: bool,
}

impl crate::HubSpotClient {
    /// Every owner of the portal, following the `after` cursor in pages of 100.
    pub async fn list_owners(&self) -> crate::Result<Vec<Owner>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut req =
                ApiRequest::new(Method::GET, self.path(Api::Owners, "")).query("limit", "100");
            if let Some(a) = &after {
                req = req.query("after", a.clone());
            }
            let page: super::CollectionResponse<Owner> = self.send_json(req).await?;
            let next = page.next_after().map(str::to_owned);
            all.extend(page.results);
            match next {
                Some(n) if after.as_deref() != Some(n.as_str()) => after = Some(n),
                _ => return Ok(all),
            }
        }
    }
}
