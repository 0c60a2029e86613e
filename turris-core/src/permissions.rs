//! Permissions: settings areas × capabilities, roles as sets of grants, and the premium gate.
//!
//! Integrations: read views, create connects, update edits mapping, sync, invitations and
//! reconnects, delete deletes. Webhooks: read lists and history, create adds, update resends,
//! delete deletes. Records (agencies, agents, agency contacts, contract templates, invitations,
//! compliance statuses, NIPR syncs, producer agreements): read lists and views, create adds
//! (a compliance status, a NIPR sync and an agreement are added), update replaces, delete
//! removes.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A settings area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Integrations settings (HubSpot).
    Integrations,
    /// Webhook settings.
    Webhooks,
    /// The Turris records (agencies, agents, agency contacts, templates, invitations,
    /// compliance statuses, NIPR syncs, producer agreements).
    Records,
}

/// What a grant allows in an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// View.
    Read,
    /// Add (connect, add a webhook).
    Create,
    /// Change (mapping, sync, invitations, reconnect; resend a webhook).
    Update,
    /// Remove.
    Delete,
}

impl Area {
    /// Every area.
    pub const ALL: [Area; 3] = [Area::Integrations, Area::Webhooks, Area::Records];

    fn as_str(self) -> &'static str {
        match self {
            Area::Integrations => "integrations",
            Area::Webhooks => "webhooks",
            Area::Records => "records",
        }
    }
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 4] = [
        Capability::Read,
        Capability::Create,
        Capability::Update,
        Capability::Delete,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Capability::Read => "read",
            Capability::Create => "create",
            Capability::Update => "update",
            Capability::Delete => "delete",
        }
    }
}

/// One capability in one area; written `area:capability` (`webhooks:read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Grant {
    /// The area.
    pub area: Area,
    /// The capability.
    pub capability: Capability,
}

impl Grant {
    /// A grant.
    pub fn new(area: Area, capability: Capability) -> Self {
        Self { area, capability }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.area.as_str(), self.capability.as_str())
    }
}

impl FromStr for Grant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (area, capability) = s.split_once(':').ok_or(Error::InvalidGrant)?;
        let area = Area::ALL
            .into_iter()
            .find(|a| a.as_str() == area)
            .ok_or(Error::InvalidGrant)?;
        let capability = Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == capability)
            .ok_or(Error::InvalidGrant)?;
        Ok(Self { area, capability })
    }
}

impl TryFrom<String> for Grant {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        value.parse()
    }
}

impl From<Grant> for String {
    fn from(grant: Grant) -> String {
        grant.to_string()
    }
}

/// A role: a named set of grants. Serializes as `{"name":"admin","grants":["integrations:read",...]}`.
///
/// ```
/// use turris_core::permissions::{Area, Capability, Grant, Role};
///
/// let viewer = Role::new("viewer", [Grant::new(Area::Webhooks, Capability::Read)]);
/// assert!(viewer.allows(Area::Webhooks, Capability::Read));
/// assert!(!viewer.allows(Area::Webhooks, Capability::Delete));
/// assert!(Role::admin().allows(Area::Integrations, Capability::Delete));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role's name.
    pub name: String,
    /// What it grants.
    pub grants: BTreeSet<Grant>,
}

impl Role {
    /// A role with these grants.
    pub fn new(name: &str, grants: impl IntoIterator<Item = Grant>) -> Self {
        Self {
            name: name.to_owned(),
            grants: grants.into_iter().collect(),
        }
    }

    /// The organization's admin role: every capability in every area.
    pub fn admin() -> Self {
        Self::new(
            "admin",
            Area::ALL
                .into_iter()
                .flat_map(|a| Capability::ALL.into_iter().map(move |c| Grant::new(a, c))),
        )
    }

    /// Whether the role allows `capability` in `area`.
    pub fn allows(&self, area: Area, capability: Capability) -> bool {
        self.grants.contains(&Grant::new(area, capability))
    }
}

/// Something a user does in the settings, and the grant it needs (SPEC, "Permissions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// View the integrations page, mapping, sync settings and activity.
    ViewIntegrations,
    /// Connect HubSpot.
    ConnectIntegration,
    /// Edit the field mapping.
    EditMapping,
    /// Turn sync toggles on or off.
    EditSync,
    /// Edit auto-invite settings.
    EditInvitations,
    /// Reconnect HubSpot (replace the tokens).
    ReconnectIntegration,
    /// Delete the integration.
    DeleteIntegration,
    /// List webhooks and their delivery history.
    ViewWebhooks,
    /// Add a webhook.
    AddWebhook,
    /// Resend a webhook event.
    ResendWebhook,
    /// Delete a webhook.
    DeleteWebhook,
    /// List and view Turris records.
    ViewRecords,
    /// Add a record (an agency, agent, agency contact, contract template; a compliance
    /// status, NIPR sync or producer agreement).
    CreateRecords,
    /// Replace a record's data.
    UpdateRecords,
    /// Remove a record.
    DeleteRecords,
}

impl Action {
    /// The grant the action needs.
    ///
    /// ```
    /// use turris_core::permissions::{Action, Area, Capability, Grant};
    ///
    /// assert_eq!(Action::ResendWebhook.required_grant(), Grant::new(Area::Webhooks, Capability::Update));
    /// ```
    pub fn required_grant(self) -> Grant {
        use Capability::*;
        let (area, capability) = match self {
            Action::ViewIntegrations => (Area::Integrations, Read),
            Action::ConnectIntegration => (Area::Integrations, Create),
            Action::EditMapping
            | Action::EditSync
            | Action::EditInvitations
            | Action::ReconnectIntegration => (Area::Integrations, Update),
            Action::DeleteIntegration => (Area::Integrations, Delete),
            Action::ViewWebhooks => (Area::Webhooks, Read),
            Action::AddWebhook => (Area::Webhooks, Create),
            Action::ResendWebhook => (Area::Webhooks, Update),
            Action::DeleteWebhook => (Area::Webhooks, Delete),
            Action::ViewRecords => (Area::Records, Read),
            Action::CreateRecords => (Area::Records, Create),
            Action::UpdateRecords => (Area::Records, Update),
            Action::DeleteRecords => (Area::Records, Delete),
        };
        Grant::new(area, capability)
    }
}

/// Whether a user with several roles may do something: any role allowing it suffices.
///
/// ```
/// use turris_core::permissions::{Action, Role, allowed};
///
/// let grant = Action::EditMapping.required_grant();
/// assert!(allowed(&[Role::admin()], grant.area, grant.capability));
/// assert!(!allowed(&[], grant.area, grant.capability));
/// ```
pub fn allowed(roles: &[Role], area: Area, capability: Capability) -> bool {
    roles.iter().any(|r| r.allows(area, capability))
}

/// An organization's subscription, which gates the premium areas (all of [`Area::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// A paying customer.
    Active,
    /// Not (or no longer) a customer.
    Inactive,
}

/// The organization has no active subscription: HTTP 402, code `subscription_required`,
/// "Become a Customer".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an active subscription is required")]
pub struct SubscriptionRequired;

impl SubscriptionRequired {
    /// The stable API error code.
    pub const CODE: &'static str = "subscription_required";
}

impl SubscriptionState {
    /// Passes only for an active subscription.
    ///
    /// ```
    /// use turris_core::permissions::{SubscriptionRequired, SubscriptionState};
    ///
    /// assert_eq!(SubscriptionState::Active.require_premium(), Ok(()));
    /// assert_eq!(SubscriptionState::Inactive.require_premium(), Err(SubscriptionRequired));
    /// ```
    pub fn require_premium(self) -> Result<(), SubscriptionRequired> {
        match self {
            SubscriptionState::Active => Ok(()),
            SubscriptionState::Inactive => Err(SubscriptionRequired),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_from_area_colon_capability() {
        fn check(input: &str, expected: Option<Grant>) {
            assert_eq!(input.parse::<Grant>().ok(), expected, "{input:?}");
        }
        check(
            "integrations:read",
            Some(Grant::new(Area::Integrations, Capability::Read)),
        );
        check(
            "webhooks:delete",
            Some(Grant::new(Area::Webhooks, Capability::Delete)),
        );
        check(
            "records:update",
            Some(Grant::new(Area::Records, Capability::Update)),
        );
        check("webhooks", None);
        check("webhooks:admin", None);
        check("billing:read", None);
        check("Webhooks:read", None);
        check("", None);
    }

    #[test]
    fn admin_grants_all_twelve_capabilities() {
        let admin = Role::admin();
        assert_eq!(admin.grants.len(), 12);
        for area in Area::ALL {
            for capability in Capability::ALL {
                assert!(admin.allows(area, capability), "{area:?} {capability:?}");
            }
        }
    }

    #[test]
    fn roles_serialize_grants_as_strings() {
        let role = Role::new(
            "ops",
            [
                Grant::new(Area::Webhooks, Capability::Update),
                Grant::new(Area::Integrations, Capability::Read),
            ],
        );
        let json = serde_json::to_string(&role).unwrap();
        assert_eq!(
            json,
            r#"{"name":"ops","grants":["integrations:read","webhooks:update"]}"#
        );
        assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        assert!(serde_json::from_str::<Role>(r#"{"name":"x","grants":["nope:read"]}"#).is_err());
    }

    #[test]
    fn each_settings_action_needs_the_grant_the_spec_names() {
        fn check(action: Action, grant: &str) {
            assert_eq!(action.required_grant().to_string(), grant, "{action:?}");
        }
        check(Action::ViewIntegrations, "integrations:read");
        check(Action::ConnectIntegration, "integrations:create");
        check(Action::EditMapping, "integrations:update");
        check(Action::EditSync, "integrations:update");
        check(Action::EditInvitations, "integrations:update");
        check(Action::ReconnectIntegration, "integrations:update");
        check(Action::DeleteIntegration, "integrations:delete");
        check(Action::ViewWebhooks, "webhooks:read");
        check(Action::AddWebhook, "webhooks:create");
        check(Action::ResendWebhook, "webhooks:update");
        check(Action::DeleteWebhook, "webhooks:delete");
        check(Action::ViewRecords, "records:read");
        check(Action::CreateRecords, "records:create");
        check(Action::UpdateRecords, "records:update");
        check(Action::DeleteRecords, "records:delete");
    }

    #[test]
    fn any_role_of_a_user_can_allow_an_action() {
        let roles = [
            Role::new("a", [Grant::new(Area::Webhooks, Capability::Read)]),
            Role::new("b", [Grant::new(Area::Integrations, Capability::Update)]),
        ];
        assert!(allowed(&roles, Area::Integrations, Capability::Update));
        assert!(allowed(&roles, Area::Webhooks, Capability::Read));
        assert!(!allowed(&roles, Area::Integrations, Capability::Delete));
        assert!(!allowed(&[], Area::Webhooks, Capability::Read));
    }
}
