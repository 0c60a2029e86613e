use serde::{Deserialize, Serialize};

use super::{AgentField, FieldSkipReason, MappedField, MappingSettings, RecordMapping};
use crate::filter::IdentifierFilter;
use crate::matrix::SyncObject;
use crate::property::ObjectType;
use crate::record::{AgencyContactDraft, Email};

/// A Turris agency-contact field synced with a HubSpot contact property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyContactField {
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// Email (an invitation needs one).
    Email,
}

impl MappedField for AgencyContactField {
    type Draft = AgencyContactDraft;

    const ALL: &'static [Self] = &[
        AgencyContactField::FirstName,
        AgencyContactField::LastName,
        AgencyContactField::Email,
    ];

    fn key(self) -> &'static str {
        match self {
            AgencyContactField::FirstName => "first_name",
            AgencyContactField::LastName => "last_name",
            AgencyContactField::Email => "email",
        }
    }

    fn label(self) -> &'static str {
        match self {
            AgencyContactField::FirstName => "First name",
            AgencyContactField::LastName => "Last name",
            AgencyContactField::Email => "Email",
        }
    }

    /// Nothing is required: an agency contact may be known by its email alone.
    fn is_required(self) -> bool {
        false
    }

    fn get(self, d: &AgencyContactDraft) -> Option<String> {
        match self {
            AgencyContactField::FirstName => d.first_name.clone(),
            AgencyContactField::LastName => d.last_name.clone(),
            AgencyContactField::Email => d.email.clone(),
        }
    }

    fn set(self, d: &mut AgencyContactDraft, value: Option<&str>) -> Result<(), FieldSkipReason> {
        let value = value.filter(|v| !v.is_empty()).map(str::to_owned);
        match self {
            AgencyContactField::FirstName => d.first_name = value,
            AgencyContactField::LastName => d.last_name = value,
            AgencyContactField::Email => {
                if value.as_deref().is_some_and(|v| !Email::is_valid(v)) {
                    return Err(FieldSkipReason::InvalidEmail);
                }
                d.email = value;
            }
        }
        Ok(())
    }
}

/// How HubSpot Contacts map onto Turris agency contacts. It is not configured on its own: the
/// names and email are read from (and written to) the properties the agent mapping uses for
/// them, else HubSpot's built-in `firstname`, `lastname` and `email`
/// ([`AgencyContactMapping::from_settings`]). Every contact of a synced agency that is not an
/// agent is an agency contact, so the identifier is always "sync all" (which contacts are
/// agency contacts is [`crate::planner::contact_role`]'s decision).
///
/// ```
/// use turris_core::mapping::{AgencyContactMapping, AgentMapping, MappingSettings, RecordMapping};
/// use turris_core::PropertyMap;
///
/// let mut settings = MappingSettings::default();
/// settings.agent = Some(AgentMapping { email: Some("work_email".into()), ..AgentMapping::default() });
/// let mapping = AgencyContactMapping::from_settings(&settings);
/// let contact = PropertyMap::from_pairs([("firstname", Some("Ada")), ("work_email", Some("ada@example.com"))]);
/// let draft = mapping.to_turris(&contact).unwrap().draft;
/// assert_eq!(draft.first_name.as_deref(), Some("Ada"));
/// assert_eq!(draft.email.as_deref(), Some("ada@example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyContactMapping {
    identifier: IdentifierFilter,
    first_name: String,
    last_name: String,
    email: String,
}

impl Default for AgencyContactMapping {
    fn default() -> Self {
        Self::from_settings(&MappingSettings::default())
    }
}

impl AgencyContactMapping {
    /// The agent mapping's name and email properties where they are mapped, else HubSpot's
    /// built-in `firstname`, `lastname` and `email`.
    pub fn from_settings(settings: &MappingSettings) -> Self {
        let agent = settings.agent.as_ref();
        let property = |field: AgentField, default: &str| {
            agent
                .and_then(|a| a.property(field))
                .filter(|p| !p.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        Self {
            identifier: IdentifierFilter::SyncAll,
            first_name: property(AgentField::FirstName, "firstname"),
            last_name: property(AgentField::LastName, "lastname"),
            email: property(AgentField::Email, "email"),
        }
    }
}

impl RecordMapping for AgencyContactMapping {
    type Field = AgencyContactField;
    type Draft = AgencyContactDraft;
    const OBJECT: ObjectType = ObjectType::Contact;
    const SYNC_OBJECT: SyncObject = SyncObject::AgencyContacts;
    const NOUN: &'static str = "agency contact";

    fn identifier(&self) -> Option<&IdentifierFilter> {
        Some(&self.identifier)
    }

    fn property(&self, field: AgencyContactField) -> Option<&str> {
        Some(match field {
            AgencyContactField::FirstName => &self.first_name,
            AgencyContactField::LastName => &self.last_name,
            AgencyContactField::Email => &self.email,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::AgentMapping;
    use crate::property::PropertyMap;

    #[test]
    fn agency_contacts_read_the_agent_mappings_properties_or_hubspots_built_in_ones() {
        let built_in = AgencyContactMapping::from_settings(&MappingSettings::default());
        assert_eq!(
            built_in.mapped(),
            [
                (AgencyContactField::FirstName, "firstname"),
                (AgencyContactField::LastName, "lastname"),
                (AgencyContactField::Email, "email"),
            ]
        );
        let settings = MappingSettings {
            agent: Some(AgentMapping {
                first_name: Some("given_name".into()),
                email: None,
                ..AgentMapping::default()
            }),
            ..MappingSettings::default()
        };
        let mapping = AgencyContactMapping::from_settings(&settings);
        assert_eq!(
            mapping.mapped(),
            [
                (AgencyContactField::FirstName, "given_name"),
                (AgencyContactField::LastName, "lastname"),
                (AgencyContactField::Email, "email"),
            ],
            "an unmapped agent email falls back to HubSpot's email"
        );
        assert_eq!(mapping.identifier(), Some(&IdentifierFilter::SyncAll));
    }

    #[test]
    fn a_contact_with_only_an_email_is_an_agency_contact_and_a_bad_email_is_skipped() {
        let mapping = AgencyContactMapping::default();
        let only_email = PropertyMap::from_pairs([("email", Some("ops@agency.example.com"))]);
        let mapped = mapping.to_turris(&only_email).unwrap();
        assert_eq!(
            mapped.draft,
            AgencyContactDraft {
                email: Some("ops@agency.example.com".into()),
                ..AgencyContactDraft::default()
            }
        );
        let bad =
            PropertyMap::from_pairs([("firstname", Some("Ada")), ("email", Some("not mail"))]);
        let mapped = mapping.to_turris(&bad).unwrap();
        assert_eq!(mapped.draft.email, None);
        assert_eq!(mapped.draft.first_name.as_deref(), Some("Ada"));
        assert_eq!(mapped.skipped[0].reason, FieldSkipReason::InvalidEmail);
    }
}
