//! An organization's HubSpot integration settings, as stored: connection status, mapping,
//! sync matrix, invitation settings, the cached property schemas and the per-property webhook
//! subscription status. Tokens are not here: the server keeps them encrypted on its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::invitation::InvitationSettings;
use crate::mapping::{AgencyContactMapping, MappingSettings, RecordMapping};
use crate::matrix::{Direction, SyncMatrix, SyncObject};
use crate::property::{ObjectSchema, ObjectType};

/// The integration card's status pill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// No HubSpot account connected.
    #[default]
    NotConnected,
    /// Connected with valid tokens.
    Connected,
    /// The last token refresh failed or the app was revoked; sync is paused.
    Error,
}

/// The connection to one HubSpot portal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// The status.
    pub status: ConnectionStatus,
    /// The HubSpot portal (hub) id, once connected.
    #[serde(default)]
    pub portal_id: Option<u64>,
    /// When the connection was (re)established.
    #[serde(default)]
    pub connected_at: Option<DateTime<Utc>>,
    /// Who (re)established it: the user's name and email, as the management view shows it.
    #[serde(default)]
    pub connected_by: Option<String>,
    /// Why the status is `error`.
    #[serde(default)]
    pub error: Option<String>,
}

impl Connection {
    /// Whether sync may run: connected, not in error.
    pub fn is_active(&self) -> bool {
        self.status == ConnectionStatus::Connected
    }
}

/// A property's inbound webhook subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// Being created, or waiting for a retry.
    Pending,
    /// Active: changes flow in.
    Live,
    /// Only a person can declare the subscription, in HubSpot: a private app's Webhooks tab,
    /// or a project-based app's `webhooks-hsmeta.json`. Turris cannot create it; it turns
    /// `live` once an event for the property arrives.
    ManagedInHubspot,
}

/// How changes made in HubSpot reach Turris.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InboundMode {
    /// HubSpot posts webhooks to the server (it needs a public URL).
    #[default]
    Webhooks,
    /// The server polls HubSpot's webhooks journal (no public URL needed; catches up after
    /// downtime of up to three days).
    Journal,
    /// Both: webhooks for speed, the journal to catch what a webhook missed; a change seen both
    /// ways is processed once.
    Both,
    /// The server searches HubSpot for records modified since its last look (Service Keys,
    /// which get neither webhooks nor the journal).
    Polling,
}

impl InboundMode {
    /// Whether the journal is read for the organization.
    pub fn reads_journal(self) -> bool {
        matches!(self, InboundMode::Journal | InboundMode::Both)
    }
}

/// Who can create an app's webhook subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscriptionManagement {
    /// A legacy public app with a developer API key: Turris creates them through HubSpot's
    /// webhooks API.
    Api,
    /// A private app (legacy, or a project app with static auth): only a person, in HubSpot.
    HubSpotUi,
    /// A project-based app with OAuth: declared in the project's `webhooks-hsmeta.json` and
    /// uploaded with the HubSpot CLI; HubSpot has no API to change them.
    Project,
}

/// The subscription status of one property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertySubscription {
    /// The object.
    pub object: ObjectType,
    /// The property.
    pub property: String,
    /// The status.
    pub status: WebhookStatus,
}

/// Everything an organization configured for HubSpot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSettings {
    /// The connection.
    #[serde(default)]
    pub connection: Connection,
    /// The field mapping.
    #[serde(default)]
    pub mapping: MappingSettings,
    /// The ongoing-sync matrix.
    #[serde(default)]
    pub matrix: SyncMatrix,
    /// Auto-invite settings.
    #[serde(default)]
    pub invitations: InvitationSettings,
    /// The cached company properties.
    #[serde(default)]
    pub company_schema: Option<ObjectSchema>,
    /// The cached contact properties.
    #[serde(default)]
    pub contact_schema: Option<ObjectSchema>,
    /// Per-property webhook subscription status.
    #[serde(default)]
    pub subscriptions: Vec<PropertySubscription>,
    /// How changes made in HubSpot arrive.
    #[serde(default)]
    pub inbound_mode: InboundMode,
    /// What Turris writes to HubSpot beyond the synced fields (seed 002).
    #[serde(default)]
    pub crm: CrmFeatures,
}

/// What Turris writes to HubSpot beyond the synced fields: the tag catalog
/// ([`crate::tags`]) on every linked contact and company, and activity notes
/// ([`crate::notes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CrmFeatures {
    /// Whether each linked record's tags are written to its `turris_tags` property.
    #[serde(default)]
    pub tags: bool,
    /// Which events are logged as notes on the record in HubSpot.
    #[serde(default)]
    pub notes: crate::notes::NoteToggles,
    /// Tags mirrored to static HubSpot lists (one of companies and one of contacts per tag,
    /// named by [`crate::tags::list_name`]), while tags are on.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub tag_lists: std::collections::BTreeSet<crate::tags::Tag>,
}

impl IntegrationSettings {
    /// The cached schema of `object`, if discovered.
    pub fn property_schema(&self, object: ObjectType) -> Option<&ObjectSchema> {
        match object {
            ObjectType::Company => self.company_schema.as_ref(),
            ObjectType::Contact => self.contact_schema.as_ref(),
        }
    }

    /// Replaces the cached schema of `schema.object`.
    pub fn set_property_schema(&mut self, schema: ObjectSchema) {
        match schema.object {
            ObjectType::Company => self.company_schema = Some(schema),
            ObjectType::Contact => self.contact_schema = Some(schema),
        }
    }

    /// The subscription status of a property, if one was recorded.
    pub fn subscription_status(&self, object: ObjectType, property: &str) -> Option<WebhookStatus> {
        self.subscriptions
            .iter()
            .find(|s| s.object == object && s.property == property)
            .map(|s| s.status)
    }

    /// The status to show for a property's webhook: `live` once confirmed; otherwise
    /// `pending` while Turris creates it, or `managed_in_hubspot` when only a person can
    /// (private apps).
    ///
    /// ```
    /// use turris_core::integration::{IntegrationSettings, SubscriptionManagement, WebhookStatus};
    /// use turris_core::property::ObjectType;
    ///
    /// let settings = IntegrationSettings::default();
    /// assert_eq!(
    ///     settings.webhook_status(ObjectType::Company, "name", SubscriptionManagement::HubSpotUi),
    ///     WebhookStatus::ManagedInHubspot
    /// );
    /// ```
    pub fn webhook_status(
        &self,
        object: ObjectType,
        property: &str,
        management: SubscriptionManagement,
    ) -> WebhookStatus {
        match (self.subscription_status(object, property), management) {
            (Some(WebhookStatus::Live), _) => WebhookStatus::Live,
            (_, SubscriptionManagement::HubSpotUi | SubscriptionManagement::Project) => {
                WebhookStatus::ManagedInHubspot
            }
            (_, SubscriptionManagement::Api) => WebhookStatus::Pending,
        }
    }

    /// Of the properties events were just seen for, those the mapping needs whose
    /// subscription is not `live` yet: an event proves the subscription works, whoever made it
    /// (Turris, a person in a private app's Webhooks tab, a project's webhooks file).
    pub fn newly_seen(&self, seen: &[(ObjectType, String)]) -> Vec<(ObjectType, String)> {
        let required = self.required_subscriptions();
        let mut out: Vec<(ObjectType, String)> = Vec::new();
        for (object, property) in seen {
            let needed = required.iter().any(|(o, p)| o == object && p == property);
            let live = self.subscription_status(*object, property) == Some(WebhookStatus::Live);
            if needed && !live && !out.iter().any(|(o, p)| o == object && p == property) {
                out.push((*object, property.clone()));
            }
        }
        out
    }

    /// Records a property's subscription status.
    pub fn set_subscription_status(
        &mut self,
        object: ObjectType,
        property: &str,
        status: WebhookStatus,
    ) {
        match self
            .subscriptions
            .iter_mut()
            .find(|s| s.object == object && s.property == property)
        {
            Some(existing) => existing.status = status,
            None => self.subscriptions.push(PropertySubscription {
                object,
                property: property.to_owned(),
                status,
            }),
        }
    }

    /// The `(object, property)` pairs that need a `propertyChange` subscription: every mapped
    /// property (and identifier property) of each inbound-enabled object, without duplicates.
    /// Agency contacts need the contact properties their names and email are read from
    /// ([`AgencyContactMapping::from_settings`]).
    ///
    /// ```
    /// use turris_core::integration::IntegrationSettings;
    /// use turris_core::matrix::{Direction, SyncObject};
    /// use turris_core::property::ObjectType;
    /// use turris_core::{Condition, IdentifierFilter};
    ///
    /// let mut settings = IntegrationSettings::default();
    /// assert!(settings.required_subscriptions().is_empty());
    /// settings.mapping.agency.identifier = Some(IdentifierFilter::ApplyFilter(Condition::equals("type", "Agency")));
    /// settings.matrix.enable(SyncObject::Agency, Direction::Inbound, &settings.mapping.clone()).unwrap();
    /// assert_eq!(
    ///     settings.required_subscriptions(),
    ///     [(ObjectType::Company, "type".to_string()), (ObjectType::Company, "name".to_string())]
    /// );
    /// ```
    pub fn required_subscriptions(&self) -> Vec<(ObjectType, String)> {
        let mut wanted: Vec<(ObjectType, String)> = Vec::new();
        let mut add = |object: ObjectType, property: &str| {
            if !wanted.iter().any(|(o, p)| *o == object && p == property) {
                wanted.push((object, property.to_owned()));
            }
        };
        if self
            .matrix
            .is_enabled(SyncObject::Agency, Direction::Inbound)
        {
            let mapping = &self.mapping.agency;
            if let Some(p) = mapping.identifier.as_ref().and_then(|f| f.property()) {
                add(ObjectType::Company, p);
            }
            for (_, p) in mapping.mapped() {
                add(ObjectType::Company, p);
            }
        }
        if let Some(mapping) = self.mapping.agent.as_ref().filter(|_| {
            self.matrix
                .is_enabled(SyncObject::Agents, Direction::Inbound)
        }) {
            if let Some(p) = mapping.identifier.as_ref().and_then(|f| f.property()) {
                add(ObjectType::Contact, p);
            }
            for (_, p) in mapping.mapped() {
                add(ObjectType::Contact, p);
            }
        }
        if self
            .matrix
            .is_enabled(SyncObject::AgencyContacts, Direction::Inbound)
        {
            for (_, p) in AgencyContactMapping::from_settings(&self.mapping).mapped() {
                add(ObjectType::Contact, p);
            }
        }
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_status_is_recorded_per_object_and_property() {
        let mut s = IntegrationSettings::default();
        assert_eq!(s.subscription_status(ObjectType::Company, "name"), None);
        s.set_subscription_status(ObjectType::Company, "name", WebhookStatus::Pending);
        s.set_subscription_status(ObjectType::Contact, "name", WebhookStatus::Live);
        s.set_subscription_status(ObjectType::Company, "name", WebhookStatus::Live);
        assert_eq!(
            s.subscription_status(ObjectType::Company, "name"),
            Some(WebhookStatus::Live)
        );
        assert_eq!(s.subscriptions.len(), 2);
    }

    #[test]
    fn a_webhook_is_live_once_confirmed_else_pending_or_managed_in_hubspot_for_private_apps() {
        use SubscriptionManagement::{Api, HubSpotUi};
        let mut s = IntegrationSettings::default();
        s.set_subscription_status(ObjectType::Company, "name", WebhookStatus::Live);
        s.set_subscription_status(ObjectType::Company, "city", WebhookStatus::Pending);
        let check = |property: &str, management, expected| {
            assert_eq!(
                s.webhook_status(ObjectType::Company, property, management),
                expected,
                "{property} {management:?}"
            );
        };
        check("name", Api, WebhookStatus::Live);
        check("name", HubSpotUi, WebhookStatus::Live);
        check("city", Api, WebhookStatus::Pending);
        check("city", HubSpotUi, WebhookStatus::ManagedInHubspot);
        check("zip", Api, WebhookStatus::Pending);
        check("zip", HubSpotUi, WebhookStatus::ManagedInHubspot);
        check(
            "zip",
            SubscriptionManagement::Project,
            WebhookStatus::ManagedInHubspot,
        );
        check("name", SubscriptionManagement::Project, WebhookStatus::Live);
        assert_eq!(
            serde_json::to_value(WebhookStatus::ManagedInHubspot).unwrap(),
            "managed_in_hubspot"
        );
    }

    #[test]
    fn agency_contact_inbound_subscribes_to_the_contact_name_and_email_properties() {
        use crate::filter::{Condition, IdentifierFilter};
        use crate::mapping::AgentMapping;

        let mut s = IntegrationSettings::default();
        s.mapping.agency.identifier = Some(IdentifierFilter::ApplyFilter(Condition::equals(
            "type", "PARTNER",
        )));
        s.mapping.agent = Some(AgentMapping {
            email: Some("work_email".into()),
            ..AgentMapping::default()
        });
        let mapping = s.mapping.clone();
        s.matrix
            .enable(SyncObject::Agency, Direction::Inbound, &mapping)
            .unwrap();
        let contacts = |s: &IntegrationSettings| -> Vec<String> {
            s.required_subscriptions()
                .into_iter()
                .filter(|(o, _)| *o == ObjectType::Contact)
                .map(|(_, p)| p)
                .collect()
        };
        assert!(contacts(&s).is_empty());
        s.matrix
            .enable(SyncObject::AgencyContacts, Direction::Inbound, &mapping)
            .unwrap();
        assert_eq!(contacts(&s), ["firstname", "lastname", "work_email"]);
    }

    #[test]
    fn an_event_makes_a_needed_property_live_once() {
        use crate::filter::{Condition, IdentifierFilter};
        let mut s = IntegrationSettings::default();
        s.mapping.agency.identifier = Some(IdentifierFilter::ApplyFilter(Condition::equals(
            "type", "PARTNER",
        )));
        let mapping = s.mapping.clone();
        s.matrix
            .enable(SyncObject::Agency, Direction::Inbound, &mapping)
            .unwrap();
        let seen = |names: &[&str]| -> Vec<(ObjectType, String)> {
            names
                .iter()
                .map(|n| (ObjectType::Company, (*n).to_owned()))
                .collect()
        };
        // `type` is needed (the filter reads it); `hs_lastmodifieddate` is not.
        assert_eq!(
            s.newly_seen(&seen(&["type", "hs_lastmodifieddate", "type"])),
            seen(&["type"])
        );
        s.set_subscription_status(ObjectType::Company, "type", WebhookStatus::Live);
        assert!(s.newly_seen(&seen(&["type"])).is_empty(), "already live");
        assert!(
            s.newly_seen(&[(ObjectType::Contact, "type".into())])
                .is_empty(),
            "contacts are not synced"
        );
    }

    #[test]
    fn default_settings_are_disconnected_and_serialize_round_trip() {
        let s = IntegrationSettings::default();
        assert_eq!(s.connection.status, ConnectionStatus::NotConnected);
        assert!(!s.connection.is_active());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            serde_json::from_str::<IntegrationSettings>(&json).unwrap(),
            s
        );
        assert_eq!(
            serde_json::from_str::<IntegrationSettings>("{}").unwrap(),
            s
        );
    }
}
