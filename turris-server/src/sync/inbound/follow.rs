//! Contacts that HubSpot announced before their company was synced.
//!
//! HubSpot's webhooks arrive unordered: a contact created and associated with a new partner
//! company can be processed before the company's own events, find no synced agency and be
//! skipped. When a company becomes a synced agency (created or linked), its contacts are read
//! from HubSpot's associations and each gets an `associatedcompanyid` change event, persisted
//! like a webhook's, so the next step syncs them as agency contacts or agents. The events' ids
//! are derived from the company and the contact, so a step that runs again stores nothing twice.

use chrono::Utc;
use turris_core::ids::HubSpotId;
use turris_core::integration::IntegrationSettings;
use turris_core::matrix::{Direction, SyncObject};
use turris_hubspot::crm::ObjectType;
use turris_hubspot::webhooks::WebhookEvent;

use super::SyncError;
use super::organization::OrgSync;
use crate::hubspot::ConnectionError;

impl OrgSync<'_> {
    /// Queues a change event for every contact of `companies` (agencies new in this step),
    /// when contacts sync inbound.
    pub(super) async fn follow_contacts(
        &self,
        settings: &IntegrationSettings,
        companies: &[HubSpotId],
    ) -> Result<(), SyncError> {
        let matrix = &settings.matrix;
        let contacts_on = matrix.is_enabled(SyncObject::AgencyContacts, Direction::Inbound)
            || (settings.mapping.agent.is_some()
                && matrix.is_enabled(SyncObject::Agents, Direction::Inbound));
        if !contacts_on || companies.is_empty() {
            return Ok(());
        }
        let portal = self.client.portal().parse::<u64>().unwrap_or_default();
        let now = Utc::now().timestamp_millis();
        let mut events = Vec::new();
        for company in companies {
            let contacts = self
                .client
                .associations(
                    &ObjectType::Companies,
                    company.as_str(),
                    &ObjectType::Contacts,
                )
                .await
                .map_err(ConnectionError::from)?;
            for contact in contacts {
                let Ok(id) = contact.to_object_id.parse::<u64>() else {
                    continue;
                };
                let event = serde_json::from_value::<WebhookEvent>(serde_json::json!({
                    "eventId": crate::sync::stable_event_id(&format!("company-synced:{company}:{id}")),
                    "portalId": portal,
                    "occurredAt": now,
                    "subscriptionType": "contact.propertyChange",
                    "objectId": id,
                    "propertyName": "associatedcompanyid",
                    "propertyValue": company.as_str(),
                    "changeSource": "ASSOCIATIONS",
                }));
                if let Ok(event) = event {
                    events.push(event);
                }
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        self.state
            .db()
            .persist_inbound_events(self.org, &events, Utc::now())
            .await?;
        super::wake(self.state);
        Ok(())
    }
}
