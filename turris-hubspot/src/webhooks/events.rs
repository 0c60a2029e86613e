//! HubSpot webhook events: a JSON array of at most 100, unordered, possibly duplicated.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `subscriptionType` of an event. Unknown types are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscriptionType {
    /// `company.creation`
    CompanyCreation,
    /// `company.deletion`
    CompanyDeletion,
    /// `company.propertyChange`
    CompanyPropertyChange,
    /// `company.associationChange`
    CompanyAssociationChange,
    /// `company.merge`
    CompanyMerge,
    /// `company.restore`
    CompanyRestore,
    /// `contact.creation`
    ContactCreation,
    /// `contact.deletion`
    ContactDeletion,
    /// `contact.propertyChange`
    ContactPropertyChange,
    /// `contact.associationChange`
    ContactAssociationChange,
    /// `contact.merge`
    ContactMerge,
    /// `contact.restore`
    ContactRestore,
    /// `contact.privacyDeletion` (GDPR delete)
    ContactPrivacyDeletion,
    /// `deal.creation`
    DealCreation,
    /// `deal.deletion`
    DealDeletion,
    /// `deal.propertyChange`
    DealPropertyChange,
    /// `deal.associationChange`
    DealAssociationChange,
    /// `deal.merge`
    DealMerge,
    /// `deal.restore`
    DealRestore,
    /// Anything else, verbatim.
    Unknown(String),
}

const KNOWN: &[(&str, SubscriptionType)] = &[
    ("company.creation", SubscriptionType::CompanyCreation),
    ("company.deletion", SubscriptionType::CompanyDeletion),
    (
        "company.propertyChange",
        SubscriptionType::CompanyPropertyChange,
    ),
    (
        "company.associationChange",
        SubscriptionType::CompanyAssociationChange,
    ),
    ("company.merge", SubscriptionType::CompanyMerge),
    ("company.restore", SubscriptionType::CompanyRestore),
    ("contact.creation", SubscriptionType::ContactCreation),
    ("contact.deletion", SubscriptionType::ContactDeletion),
    (
        "contact.propertyChange",
        SubscriptionType::ContactPropertyChange,
    ),
    (
        "contact.associationChange",
        SubscriptionType::ContactAssociationChange,
    ),
    ("contact.merge", SubscriptionType::ContactMerge),
    ("contact.restore", SubscriptionType::ContactRestore),
    (
        "contact.privacyDeletion",
        SubscriptionType::ContactPrivacyDeletion,
    ),
    ("deal.creation", SubscriptionType::DealCreation),
    ("deal.deletion", SubscriptionType::DealDeletion),
    ("deal.propertyChange", SubscriptionType::DealPropertyChange),
    (
        "deal.associationChange",
        SubscriptionType::DealAssociationChange,
    ),
    ("deal.merge", SubscriptionType::DealMerge),
    ("deal.restore", SubscriptionType::DealRestore),
];

impl SubscriptionType {
    /// Parses a `subscriptionType`; never fails.
    pub fn parse(s: &str) -> Self {
        KNOWN
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| SubscriptionType::Unknown(s.to_owned()))
    }

    /// The wire name (`contact.propertyChange`).
    pub fn as_str(&self) -> &str {
        match self {
            SubscriptionType::Unknown(s) => s,
            known => KNOWN
                .iter()
                .find(|(_, t)| t == known)
                .map(|(name, _)| *name)
                .unwrap_or(""),
        }
    }

    /// The object part (`contact`, `company`, `deal`, or whatever precedes the dot).
    pub fn object(&self) -> &str {
        self.as_str().split_once('.').map(|(o, _)| o).unwrap_or("")
    }

    /// The action part (`creation`, `propertyChange`, ...).
    pub fn action(&self) -> &str {
        self.as_str()
            .split_once('.')
            .map(|(_, a)| a)
            .unwrap_or(self.as_str())
    }
}

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventObject {
    /// `company.*`
    Company,
    /// `contact.*`
    Contact,
    /// `deal.*`
    Deal,
    /// Any other object.
    Other,
}

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventAction {
    /// `*.creation`
    Creation,
    /// `*.deletion`
    Deletion,
    /// `*.propertyChange`
    PropertyChange,
    /// `*.associationChange`
    AssociationChange,
    /// `*.merge`
    Merge,
    /// `*.restore`
    Restore,
    /// `contact.privacyDeletion`
    PrivacyDeletion,
    /// Any other action.
    Other,
}

impl SubscriptionType {
    /// The object the event is about.
    pub fn object_kind(&self) -> EventObject {
        match self.object() {
            "company" => EventObject::Company,
            "contact" => EventObject::Contact,
            "deal" => EventObject::Deal,
            _ => EventObject::Other,
        }
    }

    /// What happened.
    pub fn action_kind(&self) -> EventAction {
        match self.action() {
            "creation" => EventAction::Creation,
            "deletion" => EventAction::Deletion,
            "propertyChange" => EventAction::PropertyChange,
            "associationChange" => EventAction::AssociationChange,
            "merge" => EventAction::Merge,
            "restore" => EventAction::Restore,
            "privacyDeletion" => EventAction::PrivacyDeletion,
            _ => EventAction::Other,
        }
    }
}

impl std::fmt::Display for SubscriptionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SubscriptionType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SubscriptionType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(SubscriptionType::parse(&s))
    }
}

/// One webhook event. Unknown fields are ignored; everything past the identity of the event
/// is optional because it depends on the subscription type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// Event id (not unique across subscriptions: dedupe on the whole event).
    pub event_id: u64,
    /// The subscription that fired.
    #[serde(default)]
    pub subscription_id: u64,
    /// The portal (hub) the event is about.
    pub portal_id: u64,
    /// The app the subscription belongs to.
    #[serde(default)]
    pub app_id: u64,
    /// When it happened, in milliseconds since the epoch.
    pub occurred_at: i64,
    /// What happened.
    pub subscription_type: SubscriptionType,
    /// Delivery attempt, starting at 0.
    #[serde(default)]
    pub attempt_number: u32,
    /// The record the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<u64>,
    /// Changed property (`propertyChange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    /// New value (`propertyChange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_value: Option<String>,
    /// Where the change came from (`CRM_UI`, `INTEGRATION`, `API`, `IMPORT`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_source: Option<String>,
    /// Who made the change (for `INTEGRATION`, the app id; may be prefixed, e.g. `userId:1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `NEW`, `MERGED`, `RESTORED`, ... on creation and deletion events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_flag: Option<String>,
    /// Association type name (`CONTACT_TO_COMPANY`), on `associationChange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_type: Option<String>,
    /// From record of an `associationChange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_object_id: Option<u64>,
    /// To record of an `associationChange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_object_id: Option<u64>,
    /// Whether the association was removed (`associationChange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_removed: Option<bool>,
    /// Whether it is the primary association (`associationChange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_primary_association: Option<bool>,
    /// The surviving record of a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_object_id: Option<u64>,
    /// Records merged into the primary one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_object_ids: Vec<u64>,
    /// New id created by a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_object_id: Option<u64>,
    /// Number of properties moved by a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_properties_moved: Option<u64>,
    /// The object type (`0-1` contacts, `0-2` companies) of a project app's generic
    /// `object.*` event; [`parse_events`] reads such events as `contact.*` / `company.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type_id: Option<String>,
}

impl WebhookEvent {
    /// The id of the app that made the change, when an integration made it (`changeSource`
    /// `INTEGRATION`, with the app id in `sourceId`).
    pub fn integration_app(&self) -> Option<&str> {
        (self.change_source.as_deref() == Some("INTEGRATION"))
            .then_some(self.source_id.as_deref())
            .flatten()
    }

    /// Whether a person made the change (`sourceId` `userId:…`, whatever the `changeSource`:
    /// the CRM's pages, an import, a mobile app), so it cannot be an app's write.
    pub fn made_by_user(&self) -> bool {
        self.source_id
            .as_deref()
            .is_some_and(|s| s.starts_with("userId:"))
    }

    /// A key that is equal for redeliveries of the same event (HubSpot may send an event more
    /// than once, and `eventId` alone is not guaranteed unique): portal, subscription, event
    /// id, object and time; the attempt number is left out.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}",
            self.portal_id,
            self.subscription_id,
            self.event_id,
            self.subscription_type,
            self.object_id.or(self.from_object_id).unwrap_or_default(),
            self.occurred_at
        )
    }

    /// Whether the change was made by the integration with this app id (an echo of our own
    /// write): `changeSource` is `INTEGRATION` and `sourceId` names the app (`"123"`, or with
    /// a prefix such as `"integration:123"`).
    pub fn is_echo_of_app(&self, app_id: u64) -> bool {
        if self.change_source.as_deref() != Some("INTEGRATION") {
            return false;
        }
        let app = app_id.to_string();
        self.source_id
            .as_deref()
            .map(|s| s.rsplit(':').next().unwrap_or(s).trim() == app)
            .unwrap_or(false)
    }
}

/// Why a webhook body could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The body is not a JSON array of objects.
    #[error("webhook body is not a json array: {0}")]
    NotAnArray(String),
    /// An element lacks what identifies an event (`eventId`, `portalId`, ...).
    #[error("webhook event {index} is malformed: {message}")]
    Malformed {
        /// Position in the array.
        index: usize,
        /// The parse error.
        message: String,
    },
}

/// Parses a webhook body (a JSON array). Unknown subscription types and unknown fields are
/// kept or ignored; only an element missing the fields that identify an event is an error.
///
/// Project-based apps subscribe to generic `object.*` events that name their object by
/// `objectTypeId`; those of contacts (`0-1`) and companies (`0-2`) are read as the
/// `contact.*` / `company.*` events legacy apps receive, so one pipeline handles both.
pub fn parse_events(body: &[u8]) -> Result<Vec<WebhookEvent>, EventsError> {
    let raw: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| EventsError::NotAnArray(e.to_string()))?;
    raw.into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_json::from_value(value)
                .map(WebhookEvent::with_legacy_type)
                .map_err(|e| EventsError::Malformed {
                    index,
                    message: e.to_string(),
                })
        })
        .collect()
}

impl WebhookEvent {
    /// A generic `object.X` event of a contact or company as `contact.X` / `company.X`.
    fn with_legacy_type(mut self) -> Self {
        if self.subscription_type.object() != "object" {
            return self;
        }
        let object = match self.object_type_id.as_deref() {
            Some("0-1") => "contact",
            Some("0-2") => "company",
            _ => return self,
        };
        let action = self.subscription_type.action().to_owned();
        self.subscription_type = SubscriptionType::parse(&format!("{object}.{action}"));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> WebhookEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn redeliveries_share_a_dedupe_key_and_other_events_do_not() {
        let first = event(
            r#"{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":4,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":5}"#,
        );
        let retry = WebhookEvent {
            attempt_number: 3,
            ..first.clone()
        };
        let other = WebhookEvent {
            object_id: Some(6),
            ..first.clone()
        };
        assert_eq!(first.dedupe_key(), retry.dedupe_key());
        assert_ne!(first.dedupe_key(), other.dedupe_key());
    }

    #[test]
    fn a_project_apps_object_events_read_as_contact_and_company_events() {
        let body = br#"[
            {"eventId":1,"portalId":3,"occurredAt":4,"subscriptionType":"object.propertyChange","objectTypeId":"0-2","objectId":9,"propertyName":"name","propertyValue":"Acme"},
            {"eventId":2,"portalId":3,"occurredAt":4,"subscriptionType":"object.creation","objectTypeId":"0-1","objectId":8},
            {"eventId":3,"portalId":3,"occurredAt":4,"subscriptionType":"object.creation","objectTypeId":"0-3","objectId":7},
            {"eventId":4,"portalId":3,"occurredAt":4,"subscriptionType":"contact.deletion","objectId":6}
        ]"#;
        let events = parse_events(body).unwrap();
        let types: Vec<&str> = events
            .iter()
            .map(|e| e.subscription_type.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "company.propertyChange",
                "contact.creation",
                "object.creation",
                "contact.deletion"
            ]
        );
        assert_eq!(
            events[0].subscription_type.object_kind(),
            EventObject::Company
        );
        assert_eq!(events[0].object_type_id.as_deref(), Some("0-2"));
    }

    #[test]
    fn echoes_of_our_own_writes_are_recognised() {
        let check = |source: &str, id: Option<&str>, app: u64, expected: bool| {
            let mut e = event(
                r#"{"eventId":1,"portalId":3,"occurredAt":4,"subscriptionType":"contact.propertyChange"}"#,
            );
            e.change_source = Some(source.to_owned());
            e.source_id = id.map(str::to_owned);
            assert_eq!(e.is_echo_of_app(app), expected, "{source} {id:?} {app}");
        };
        check("INTEGRATION", Some("123"), 123, true);
        check("INTEGRATION", Some("integration:123"), 123, true);
        check("INTEGRATION", Some("456"), 123, false);
        check("INTEGRATION", None, 123, false);
        check("CRM_UI", Some("123"), 123, false);
        check("CRM_UI", Some("userId:123"), 123, false);
    }

    #[test]
    fn a_change_a_person_made_is_told_by_its_user_source() {
        let by = |source: &str, id: Option<&str>| {
            let mut e = event(
                r#"{"eventId":1,"portalId":3,"occurredAt":4,"subscriptionType":"company.propertyChange"}"#,
            );
            e.change_source = Some(source.to_owned());
            e.source_id = id.map(str::to_owned);
            e.made_by_user()
        };
        assert!(by("CRM_UI", Some("userId:77")));
        assert!(by("IMPORT", Some("userId:77")));
        assert!(!by("INTEGRATION", Some("123")));
        assert!(!by("CRM_UI", None), "no source id: unknown, not a person");
        assert!(!by("API", Some("77")));
    }
}
