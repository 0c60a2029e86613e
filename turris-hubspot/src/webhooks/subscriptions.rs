//! Webhook subscriptions of a public app (`/webhooks/v3/{appId}/subscriptions`).
//!
//! These endpoints are authenticated with the app's *developer API key* as the `hapikey`
//! query parameter, not with a portal's OAuth token: subscriptions belong to the app, not to a
//! portal. Private apps cannot manage subscriptions through the API (HubSpot's UI only).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Body of `POST /webhooks/v3/{appId}/subscriptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCreateRequest {
    /// `contact.propertyChange`, `company.creation`, ...
    pub event_type: String,
    /// Required for `*.propertyChange`: the property to watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    /// Whether it starts active.
    pub active: bool,
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResponse {
    /// Subscription id.
    #[serde(with = "crate::crm::associations::id_as_string")]
    pub id: String,
    /// Event type.
    pub event_type: String,
    /// Watched property, for `*.propertyChange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    /// Whether HubSpot sends it.
    pub active: bool,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Answer of the list call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionListResponse {
    /// All subscriptions of the app.
    pub results: Vec<SubscriptionResponse>,
}

/// One input of `POST /webhooks/v3/{appId}/subscriptions/batch/update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionBatchUpdateRequest {
    /// Subscription id (a number on the wire).
    pub id: u64,
    /// New state.
    pub active: bool,
}

use crate::auth::Secret;
use crate::client::{ApiRequest, RequestAuth, seg};
use crate::crm::batch::{BatchInput, BatchResponse};
use crate::{HubSpotClient, Result};
use http::Method;

/// Manages one public app's webhook subscriptions with its developer API key.
///
/// Built from any [`HubSpotClient`] (for its transport, limiter and observer); the portal
/// token of that client is not used.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    client: HubSpotClient,
    app_id: u64,
    developer_api_key: Secret,
}

impl Subscriptions {
    /// Subscriptions of `app_id`, authenticated with the developer account's API key.
    pub fn new(client: HubSpotClient, app_id: u64, developer_api_key: Secret) -> Self {
        Subscriptions {
            client,
            app_id,
            developer_api_key,
        }
    }

    fn request(&self, method: Method, suffix: &str) -> ApiRequest {
        ApiRequest::new(
            method,
            format!("/webhooks/v3/{}/subscriptions{suffix}", self.app_id),
        )
        .auth(RequestAuth::HapiKey(self.developer_api_key.clone()))
    }

    /// `GET /webhooks/v3/{appId}/subscriptions`.
    pub async fn list(&self) -> Result<Vec<SubscriptionResponse>> {
        let list: SubscriptionListResponse =
            self.client.send_json(self.request(Method::GET, "")).await?;
        Ok(list.results)
    }

    /// `POST /webhooks/v3/{appId}/subscriptions`: one subscription (one per watched property
    /// for `*.propertyChange`).
    pub async fn create(
        &self,
        request: &SubscriptionCreateRequest,
    ) -> Result<SubscriptionResponse> {
        let req = self.request(Method::POST, "").json(request)?;
        self.client.send_json(req).await
    }

    /// `DELETE /webhooks/v3/{appId}/subscriptions/{subscriptionId}`.
    pub async fn delete(&self, subscription_id: &str) -> Result<()> {
        let req = self
            .request(Method::DELETE, &format!("/{}", seg(subscription_id)))
            .object_id(subscription_id);
        self.client.send_empty(req).await
    }

    /// `POST /webhooks/v3/{appId}/subscriptions/batch/update`: (de)activates subscriptions.
    pub async fn batch_update(
        &self,
        updates: &[SubscriptionBatchUpdateRequest],
    ) -> Result<BatchResponse<SubscriptionResponse>> {
        let req = self
            .request(Method::POST, "/batch/update")
            .json(&BatchInput {
                inputs: updates.to_vec(),
            })?;
        self.client.send_json(req).await
    }
}
