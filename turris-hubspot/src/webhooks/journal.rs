//! The webhooks journal (2026-03): poll HubSpot for changes instead of receiving webhooks.
//!
//! For servers HubSpot cannot reach, and to catch up after downtime. The app's own
//! client-credentials token ([`crate::auth::AppTokenSource`] with
//! [`crate::auth::oauth::JOURNAL_SCOPES`]) reads the journal and manages per-portal
//! subscriptions, which decide what the journal records. Reading goes entry by entry: an entry
//! is an offset, an expiry and the URL of a file holding its events; the next entry is asked
//! for with the last offset read. HubSpot keeps three days: an offset older than that answers
//! 404, which [`JournalClient::next_after`] reports as [`JournalNext::Expired`] so the caller
//! can say so and reconcile. Journal calls are exempt from HubSpot's rate limits and spend no
//! budget here.
//!
//! The file's shape is not in HubSpot's reference; it is read as
//! `{offset, publishedAt, journalEvents: [{portalId, occurredAt, objectTypeId, objectId,
//! action, propertyChanges: [{propertyName, newValue}], ...}]}`, and
//! [`JournalEvent::to_webhook_events`] turns each event into the [`WebhookEvent`]s a webhook
//! would have carried, so one inbound pipeline serves both.

use chrono::{DateTime, Utc};
use http::Method;
use serde::{Deserialize, Serialize};

use super::events::{SubscriptionType, WebhookEvent};
use crate::client::{ApiRequest, seg};
use crate::rate_limit::BudgetKind;
use crate::version::Api;
use crate::{Error, HubSpotClient, Result};

/// One journal entry: where it is and where its events are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalPage {
    /// The entry's offset: ask for the next entry with it.
    pub current_offset: String,
    /// When HubSpot drops the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The file with the entry's events (fetched without the bearer token).
    pub url: String,
}

/// What follows an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalNext {
    /// The next entry.
    Page(JournalPage),
    /// Nothing new yet: ask again later with the same offset.
    UpToDate,
    /// The offset is older than HubSpot keeps (three days) or unknown: entries after it may be
    /// lost. Start again from [`JournalClient::earliest`] and reconcile what was missed.
    Expired,
}

/// The file of one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalFile {
    /// The entry's offset.
    #[serde(default)]
    pub offset: String,
    /// When the entry was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// Its events, oldest first.
    #[serde(default)]
    pub journal_events: Vec<JournalEvent>,
}

/// One property's new value in a journal event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyChange {
    /// The property.
    pub property_name: String,
    /// Its value after the change (empty when cleared).
    #[serde(default)]
    pub new_value: Option<String>,
}

/// One change recorded in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEvent {
    /// The portal.
    pub portal_id: u64,
    /// When it happened, milliseconds since the epoch.
    pub occurred_at: i64,
    /// `0-1` contacts, `0-2` companies, ...
    pub object_type_id: String,
    /// The record.
    pub object_id: u64,
    /// `CREATE`, `UPDATE`, `DELETE`, `MERGE`, `RESTORE`, `ASSOCIATION_ADDED`,
    /// `ASSOCIATION_REMOVED`, ...
    pub action: String,
    /// Properties written (creates and updates).
    #[serde(default)]
    pub property_changes: Vec<PropertyChange>,
    /// `INTEGRATION`, `CRM_UI`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_source: Option<String>,
    /// Who made the change (for `INTEGRATION`, the app id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// The other record of an association change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_object_id: Option<u64>,
    /// The association type of an association change (`CONTACT_TO_COMPANY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_type: Option<String>,
    /// The records merged into `objectId` (merges).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_object_ids: Vec<u64>,
}

impl JournalEvent {
    /// The webhook events this change stands for (`contact.creation` and one
    /// `contact.propertyChange` per property for a create, ...), numbered from `event_id`.
    /// Object types other than contacts and companies, and unknown actions, give none.
    pub fn to_webhook_events(&self, event_id: u64) -> Vec<WebhookEvent> {
        let object = match self.object_type_id.as_str() {
            "0-1" => "contact",
            "0-2" => "company",
            _ => return Vec::new(),
        };
        let event = |action: &str| WebhookEvent {
            event_id,
            subscription_id: 0,
            portal_id: self.portal_id,
            app_id: 0,
            occurred_at: self.occurred_at,
            subscription_type: SubscriptionType::parse(&format!("{object}.{action}")),
            attempt_number: 0,
            object_id: Some(self.object_id),
            property_name: None,
            property_value: None,
            change_source: self.change_source.clone(),
            source_id: self.source_id.clone(),
            change_flag: None,
            association_type: None,
            from_object_id: None,
            to_object_id: None,
            association_removed: None,
            is_primary_association: None,
            primary_object_id: None,
            merged_object_ids: Vec::new(),
            new_object_id: None,
            number_of_properties_moved: None,
            object_type_id: Some(self.object_type_id.clone()),
        };
        let changes = || {
            self.property_changes.iter().map(move |c| WebhookEvent {
                property_name: Some(c.property_name.clone()),
                property_value: Some(c.new_value.clone().unwrap_or_default()),
                ..event("propertyChange")
            })
        };
        match self.action.as_str() {
            "CREATE" => std::iter::once(WebhookEvent {
                change_flag: Some("CREATED".to_owned()),
                ..event("creation")
            })
            .chain(changes())
            .collect(),
            "UPDATE" => changes().collect(),
            "DELETE" => vec![WebhookEvent {
                change_flag: Some("DELETED".to_owned()),
                ..event("deletion")
            }],
            "RESTORE" => vec![event("restore")],
            "MERGE" => vec![WebhookEvent {
                primary_object_id: Some(self.object_id),
                merged_object_ids: self.merged_object_ids.clone(),
                new_object_id: Some(self.object_id),
                ..event("merge")
            }],
            action @ ("ASSOCIATION_ADDED" | "ASSOCIATION_REMOVED") => vec![WebhookEvent {
                object_id: None,
                association_type: self.association_type.clone(),
                from_object_id: Some(self.object_id),
                to_object_id: self.to_object_id,
                association_removed: Some(action == "ASSOCIATION_REMOVED"),
                ..event("associationChange")
            }],
            _ => Vec::new(),
        }
    }
}

/// A journal subscription: which changes of one object type in one portal are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalSubscription {
    /// HubSpot's id (absent when creating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `OBJECT`.
    pub subscription_type: String,
    /// The portal.
    pub portal_id: u64,
    /// `0-1` contacts, `0-2` companies.
    pub object_type_id: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `MERGE`, `RESTORE`, `ASSOCIATION_ADDED`, ...
    pub actions: Vec<String>,
    /// For `UPDATE`: the properties whose changes are recorded (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
}

impl JournalSubscription {
    /// Every action on `object_type_id` in `portal_id`, updates of `properties` only.
    pub fn object(portal_id: u64, object_type_id: &str, properties: Vec<String>) -> Self {
        JournalSubscription {
            id: None,
            subscription_type: "OBJECT".to_owned(),
            portal_id,
            object_type_id: object_type_id.to_owned(),
            actions: [
                "CREATE",
                "UPDATE",
                "DELETE",
                "MERGE",
                "RESTORE",
                "ASSOCIATION_ADDED",
                "ASSOCIATION_REMOVED",
            ]
            .map(str::to_owned)
            .to_vec(),
            properties,
        }
    }
}

#[derive(Deserialize)]
struct SubscriptionList {
    #[serde(default)]
    results: Vec<JournalSubscription>,
}

/// Reads the webhooks journal and manages its subscriptions.
///
/// Built on a [`HubSpotClient`] whose token source is the app's client-credentials token
/// ([`crate::auth::AppTokenSource`]); the client's retries, observer and error reading apply.
#[derive(Debug, Clone)]
pub struct JournalClient {
    client: HubSpotClient,
    /// Read one portal's journal (`journal-local`) instead of every installation's.
    portal: Option<u64>,
}

impl JournalClient {
    /// The global journal: every portal the app is installed in.
    pub fn new(client: HubSpotClient) -> Self {
        JournalClient {
            client,
            portal: None,
        }
    }

    /// The local journal of one portal (`journal-local`, `installPortalId`).
    pub fn local(client: HubSpotClient, portal_id: u64) -> Self {
        JournalClient {
            client,
            portal: Some(portal_id),
        }
    }

    fn journal_request(&self, rest: &str) -> ApiRequest {
        let path = self.client.path(Api::WebhooksJournal, rest);
        let path = match self.portal {
            Some(_) => path.replacen("/journal/", "/journal-local/", 1),
            None => path,
        };
        let req = ApiRequest::new(Method::GET, path).budget(BudgetKind::Unmetered);
        match self.portal {
            Some(portal) => req.query("installPortalId", portal.to_string()),
            None => req,
        }
    }

    async fn page(&self, rest: &str) -> Result<Option<JournalPage>> {
        let (status, body) = self.client.send(self.journal_request(rest)).await?;
        if status == 204 || body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| Error::Decode(format!("journal entry: {e}")))
    }

    /// The oldest entry HubSpot still keeps, or `None` when the journal is empty.
    pub async fn earliest(&self) -> Result<Option<JournalPage>> {
        self.page("/earliest").await
    }

    /// The newest entry, or `None` when the journal is empty. Start here to skip history.
    pub async fn latest(&self) -> Result<Option<JournalPage>> {
        self.page("/latest").await
    }

    /// The entry after `offset`.
    pub async fn next_after(&self, offset: &str) -> Result<JournalNext> {
        match self.page(&format!("/offset/{}/next", seg(offset))).await {
            Ok(Some(page)) => Ok(JournalNext::Page(page)),
            Ok(None) => Ok(JournalNext::UpToDate),
            Err(e) if e.status() == Some(404) => Ok(JournalNext::Expired),
            Err(e) => Err(e),
        }
    }

    /// Downloads an entry's file (its URL carries its own authorization; no token is sent).
    pub async fn fetch(&self, page: &JournalPage) -> Result<JournalFile> {
        let body = self.client.fetch_file(&page.url).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode(format!("journal file: {e}")))
    }

    /// Creates the subscription, or updates the one for the same portal and object type.
    pub async fn upsert_subscription(
        &self,
        subscription: &JournalSubscription,
    ) -> Result<JournalSubscription> {
        let path = self.client.path(Api::WebhooksJournalSubscriptions, "");
        let req = ApiRequest::new(Method::POST, path)
            .budget(BudgetKind::Unmetered)
            .idempotent()
            .json(subscription)?;
        self.client.send_json(req).await
    }

    /// Every subscription of the app.
    pub async fn subscriptions(&self) -> Result<Vec<JournalSubscription>> {
        let path = self.client.path(Api::WebhooksJournalSubscriptions, "");
        let req = ApiRequest::new(Method::GET, path).budget(BudgetKind::Unmetered);
        let list: SubscriptionList = self.client.send_json(req).await?;
        Ok(list.results)
    }

    /// Deletes one subscription; an unknown id counts as deleted.
    pub async fn delete_subscription(&self, id: &str) -> Result<()> {
        let rest = format!("/{}", seg(id));
        let path = self.client.path(Api::WebhooksJournalSubscriptions, rest);
        let req = ApiRequest::new(Method::DELETE, path).budget(BudgetKind::Unmetered);
        match self.client.send_empty(req).await {
            Err(e) if e.status() == Some(404) => Ok(()),
            other => other,
        }
    }
}
