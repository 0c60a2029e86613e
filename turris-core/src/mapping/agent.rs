use serde::{Deserialize, Serialize};

use super::{FieldSkipReason, MappedField, RecordMapping};
use crate::filter::IdentifierFilter;
use crate::matrix::SyncObject;
use crate::property::ObjectType;
use crate::record::{AgentDraft, Email, Npn};

/// A Turris agent field that can be mapped to a HubSpot contact property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentField {
    /// First name (required).
    FirstName,
    /// Last name (required).
    LastName,
    /// Email.
    Email,
    /// NPN.
    Npn,
    /// Middle name.
    MiddleName,
}

impl MappedField for AgentField {
    type Draft = AgentDraft;

    const ALL: &'static [Self] = &[
        AgentField::FirstName,
        AgentField::LastName,
        AgentField::Email,
        AgentField::Npn,
        AgentField::MiddleName,
    ];

    fn key(self) -> &'static str {
        match self {
            AgentField::FirstName => "first_name",
            AgentField::LastName => "last_name",
            AgentField::Email => "email",
            AgentField::Npn => "npn",
            AgentField::MiddleName => "middle_name",
        }
    }

    fn label(self) -> &'static str {
        match self {
            AgentField::FirstName => "First name",
            AgentField::LastName => "Last name",
            AgentField::Email => "Email",
            AgentField::Npn => "NPN",
            AgentField::MiddleName => "Middle name",
        }
    }

    fn is_required(self) -> bool {
        matches!(self, AgentField::FirstName | AgentField::LastName)
    }

    fn get(self, d: &AgentDraft) -> Option<String> {
        let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
        match self {
            AgentField::FirstName => non_empty(&d.first_name),
            AgentField::LastName => non_empty(&d.last_name),
            AgentField::Email => d.email.clone(),
            AgentField::Npn => d.npn.as_ref().map(|n| n.as_str().to_owned()),
            AgentField::MiddleName => d.middle_name.clone(),
        }
    }

    fn set(self, d: &mut AgentDraft, value: Option<&str>) -> Result<(), FieldSkipReason> {
        let value = value.filter(|v| !v.is_empty());
        match self {
            AgentField::FirstName => d.first_name = value.unwrap_or_default().to_owned(),
            AgentField::LastName => d.last_name = value.unwrap_or_default().to_owned(),
            AgentField::Email => {
                if value.is_some_and(|v| !Email::is_valid(v)) {
                    return Err(FieldSkipReason::InvalidEmail);
                }
                d.email = value.map(str::to_owned);
            }
            AgentField::Npn => {
                d.npn = value
                    .map(Npn::parse)
                    .transpose()
                    .map_err(|_| FieldSkipReason::InvalidNpn)?
            }
            AgentField::MiddleName => d.middle_name = value.map(str::to_owned),
        }
        Ok(())
    }
}

/// How HubSpot Contacts map onto Turris agents.
///
/// [`AgentMapping::default`] maps first name, last name and email to HubSpot's built-in
/// `firstname`, `lastname` and `email`.
///
/// ```
/// use turris_core::mapping::{AgentMapping, RecordMapping};
/// use turris_core::{IdentifierFilter, PropertyMap};
///
/// let mapping = AgentMapping { identifier: Some(IdentifierFilter::SyncAll), ..AgentMapping::default() };
/// let contact = PropertyMap::from_pairs([("firstname", Some("Ada")), ("lastname", Some("Lovelace"))]);
/// let draft = mapping.to_turris(&contact).unwrap().draft;
/// assert_eq!((draft.first_name.as_str(), draft.last_name.as_str()), ("Ada", "Lovelace"));
/// assert_eq!(mapping.to_hubspot(&draft).get("firstname"), Some("Ada"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentMapping {
    /// Which contacts are agents (required; `None` until configured).
    #[serde(default)]
    pub identifier: Option<IdentifierFilter>,
    /// First name (required).
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name (required).
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// NPN.
    #[serde(default)]
    pub npn: Option<String>,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
}

impl Default for AgentMapping {
    fn default() -> Self {
        Self {
            identifier: None,
            first_name: Some("firstname".to_owned()),
            last_name: Some("lastname".to_owned()),
            email: Some("email".to_owned()),
            npn: None,
            middle_name: None,
        }
    }
}

impl AgentMapping {
    /// Maps `field` to `property` (`None` to unmap it).
    pub fn set(&mut self, field: AgentField, property: Option<&str>) {
        let slot = match field {
            AgentField::FirstName => &mut self.first_name,
            AgentField::LastName => &mut self.last_name,
            AgentField::Email => &mut self.email,
            AgentField::Npn => &mut self.npn,
            AgentField::MiddleName => &mut self.middle_name,
        };
        *slot = property.map(str::to_owned);
    }
}

impl RecordMapping for AgentMapping {
    type Field = AgentField;
    type Draft = AgentDraft;
    const OBJECT: ObjectType = ObjectType::Contact;
    const SYNC_OBJECT: SyncObject = SyncObject::Agents;
    const NOUN: &'static str = "agent";

    fn identifier(&self) -> Option<&IdentifierFilter> {
        self.identifier.as_ref()
    }

    fn property(&self, field: AgentField) -> Option<&str> {
        let slot = match field {
            AgentField::FirstName => &self.first_name,
            AgentField::LastName => &self.last_name,
            AgentField::Email => &self.email,
            AgentField::Npn => &self.npn,
            AgentField::MiddleName => &self.middle_name,
        };
        slot.as_deref()
    }
}
