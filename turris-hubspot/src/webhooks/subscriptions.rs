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
